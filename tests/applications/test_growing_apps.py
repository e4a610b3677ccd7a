import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.applications import GrowingMLP, WideResNet28


def test_growing_mlp_parameters_names_and_activation():
    model = GrowingMLP(input_shape=(784,), hidden=(64, 64), classes=10)
    assert model.count_params() == 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10
    assert [layer.name for layer in model.layers[1:]] == ["hidden1", "hidden2", "predictions"]
    relu = model.get_layer("hidden1").activation
    x = keras.ops.convert_to_tensor(np.array([-1.0, 0.0, 2.0], "float32"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(relu(x)), [0, 0, 2])
    features = GrowingMLP(include_top=False, input_shape=(20,), hidden=(5, 4, 3))
    assert features.output.shape == (None, 3)
    grown = keras_grow.DynamicModel(GrowingMLP(input_shape=(20,), hidden=(5, 4)))
    assert grown.growable_layers() == ["hidden1", "hidden2"]


def test_growing_mlp_round_trips_through_saving(tmp_path):
    model = keras_grow.DynamicModel(GrowingMLP(input_shape=(6,), hidden=(3,), classes=2))
    model.add_units("hidden1", 2)
    path = tmp_path / "mlp.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.widths()["hidden1"] == 5


def _wrn_parameters(k, classes=10, multiplier=1.0):
    widths = [max(1, int(np.floor(w * multiplier + 0.5))) for w in (16, 16 * k, 32 * k, 64 * k)]
    stem, stages = widths[0], widths[1:]
    total, previous = 27 * stem, stem
    for width in stages:
        for block in range(4):
            inputs = previous if block == 0 else width
            total += 4 * inputs + 9 * inputs * width + 4 * width + 9 * width * width
            if block == 0 and inputs != width or block == 0 and width != stages[0]:
                total += inputs * width  # 1x1 projection shortcut
        previous = width
    return total + 4 * previous + previous * classes + classes


@pytest.mark.parametrize("k", [1, 2])
def test_wide_resnet_parameter_count_matches_the_architecture(k):
    assert WideResNet28(k=k).count_params() == _wrn_parameters(k)


def test_wrn_28_1_is_the_standard_0_37m_network():
    model = WideResNet28(k=1)
    assert model.count_params() == 371_322  # WRN-28-1 on CIFAR-10: 0.37 M
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len([c for c in convolutions if c.kernel_size == (3, 3)]) == 25  # 1 + 3 * 4 * 2
    assert model.output.shape == (None, 10)


def test_wide_resnet_groups_inside_a_dynamic_model():
    model = keras_grow.DynamicModel(
        WideResNet28(k=1, width_multiplier=0.25, classifier_activation=None)
    )
    assert set(model.dependency_group("stem")) == {"stem"} | {
        f"stage1_block{b}_conv2" for b in range(1, 5)
    }
    stage2 = set(model.dependency_group("stage2_block3_conv2"))
    assert stage2 == {f"stage2_block{b}_conv2" for b in range(1, 5)} | {"stage2_block1_shortcut"}
    assert model.dependency_group("stage3_block2_conv1") == ["stage3_block2_conv1"]
    assert model.widths()["stage3_block1_conv2"] == 16
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    before = keras.ops.convert_to_numpy(model(x))
    model.add_units("stage2_block2_conv2", 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(x)), before, atol=1e-5)
    assert model.widths()["stage2_block1_shortcut"] == 11


def test_wide_resnet_without_top_and_bad_arguments():
    features = WideResNet28(k=1, include_top=False, pooling="avg", width_multiplier=0.5)
    assert features.output.shape == (None, 32)
    assert WideResNet28(k=2, dropout_rate=0.3).name == "wide_resnet28_2"
    for kwargs, message in [
        (dict(weights="imagenet"), "weights='imagenet'"),
        (dict(k=0), "k=0"),
        (dict(width_multiplier=-1), "width_multiplier=-1"),
        (dict(dropout_rate=1.0), "dropout_rate=1.0"),
        (dict(include_top=False, pooling="sum"), "pooling='sum'"),
    ]:
        with pytest.raises(ValueError, match=message):
            WideResNet28(**kwargs)
    for kwargs, message in [
        (dict(hidden=(4, 0)), "hidden=\\(4, 0\\)"),
        (dict(classes=0), "classes=0"),
        (dict(weights="mnist"), "weights='mnist'"),
    ]:
        with pytest.raises(ValueError, match=message):
            GrowingMLP(**kwargs)
