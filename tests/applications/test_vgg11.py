import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.applications import VGG11


def _expected_parameters(multiplier, classes=10, dense=512):
    channels = [round(c * multiplier) for c in (64, 128, 256, 256, 512, 512, 512, 512)]
    inputs = [3] + channels[:-1]
    convolutions = sum(9 * i * o for i, o in zip(inputs, channels))  # no bias before BN
    batch_norm = 4 * sum(channels)
    units = round(dense * multiplier)
    head = (channels[-1] * units + units) + (units * units + units) + (units * classes + classes)
    return convolutions + batch_norm + head


@pytest.mark.parametrize("multiplier", [1.0, 0.25])
def test_parameter_count_matches_the_architecture(multiplier):
    model = VGG11(width_multiplier=multiplier)
    assert model.count_params() == _expected_parameters(multiplier)


def test_standard_vgg11_size_and_layer_names():
    model = VGG11()
    assert model.count_params() == 9_759_178  # 9.2 M in convolutions, CIFAR head 512-512-10
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [
        f"conv{i}" for i in range(1, 9)
    ]


def test_quarter_width_trains_and_grows_inside_dynamic_model():
    model = keras_grow.DynamicModel(VGG11(width_multiplier=0.25, classifier_activation=None))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    model.train_on_batch(x, np.arange(4))
    before = model.predict(x, verbose=0)
    assert set(model.growable_layers()) == {f"conv{i}" for i in range(1, 9)} | {"fc1", "fc2"}
    model.add_units("conv8", 16)  # its channels reach fc1 through Flatten
    model.add_units("fc1", 8)
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-5)


def test_without_top_and_bad_arguments():
    features = VGG11(include_top=False, pooling="avg", width_multiplier=0.25)
    assert features.output.shape == (None, 128)
    with pytest.raises(ValueError, match="weights='imagenet'"):
        VGG11(weights="imagenet")
    with pytest.raises(ValueError, match="width_multiplier=0"):
        VGG11(width_multiplier=0)
    with pytest.raises(ValueError, match="pooling='sum'"):
        VGG11(include_top=False, pooling="sum")
