import keras
import numpy as np
import pytest

from keras_grow.applications import URN_CONFIGS, URNClassifier
from keras_grow.layers import URNGeometry, URNLayer


def test_spheres_configuration_is_the_papers():
    model = URNClassifier("spheres", size=100)
    urn = model.get_layer("urn")
    assert isinstance(urn, URNLayer)
    assert (urn.size, urn.iterations, urn.output_dim, urn.residual) == (100, 4, 2, None)
    assert (urn.weight_l1, urn.activity_l1) == (5e-7, 2e-5)
    assert model.input_shape == (None, 10) and model.output_shape == (None, 2)
    assert URN_CONFIGS["spheres"]["size"] == 5000
    assert URN_CONFIGS["spheres"]["learning_rate"] == 7e-4


def test_residual_and_spatial_configurations():
    assert URNClassifier("spheres_residual", size=50).get_layer("urn").residual == "output"
    model = URNClassifier(
        "cifar_spatial", input_shape=(8, 8, 1), geometry=URNGeometry((10, 10), depth=6)
    )
    urn = model.get_layer("urn")
    assert urn.size == 600 and urn.output_dim == 10 and urn.synaptic_l1 > 0
    assert urn.interpolation.shape == (64, 100)
    assert URN_CONFIGS["cifar_spatial"]["geometry"]["grid_shape"] == (60, 60)
    urn = URNClassifier("mnist1d_spatial").get_layer("urn")
    assert urn.size == 360 and urn.interpolation.shape == (40, 60)
    assert urn.geometry.input_size == 60 and urn.synaptic_power == 2.0


def test_overrides_softmax_and_training():
    model = URNClassifier(
        "spheres",
        input_shape=(3,),
        classes=3,
        size=20,
        iterations=2,
        classifier_activation="softmax",
        name="tiny",
    )
    assert model.name == "tiny"
    out = model(np.ones((4, 3), "float32")).numpy()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(np.ones((8, 3)), np.zeros(8), epochs=1, verbose=0)
    assert URN_CONFIGS["spheres"]["size"] == 5000  # the defaults are not mutated


def test_save_and_load(tmp_path):
    model = URNClassifier("spheres_residual", size=30)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(2, 10)).astype("float32")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


@pytest.mark.parametrize(
    "kwargs, match",
    [({"config": "cifar"}, "config"), ({"classes": 0}, "classes"), ({"size": 5}, "size")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        URNClassifier(**kwargs)
