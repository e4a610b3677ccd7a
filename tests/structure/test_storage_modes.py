"""`DynamicModel(reassignable_storage=...)`: which groups reallocate in place."""

import keras
import numpy as np
import pytest
from topologies import build, sample_inputs

import keras_grow


def _compiled(name, **options):
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build(name), seed=0, **options)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _fit(model, name):
    x = sample_inputs(name, 32)
    y = np.arange(32) % 3
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return x


def _static(variable):
    return variable._value.shape.is_fully_defined()


def test_default_is_auto_and_dense_groups_reallocate_without_retracing():
    model = _compiled("mlp")
    assert model.reassignable_storage == "auto"
    assert model.reallocates_in_place("h1")
    x = _fit(model, "mlp")
    function, before = model.train_function, model.predict(x, verbose=0)
    model.add_units("h1", 20)  # beyond the capacity of 6: reallocation, in place
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-5)
    _fit(model, "mlp")
    assert model.train_function is function
    assert model.get_layer("h1").kernel.shape == (12, model.capacities()["h1"])
    assert not _static(model.get_layer("h1").kernel)


def test_auto_keeps_static_storage_for_convolutions_and_retraces_them():
    model = _compiled("conv_flatten_dense")
    assert not model.reallocates_in_place("c1")
    assert model.reallocates_in_place("d1")
    _fit(model, "conv_flatten_dense")
    assert _static(model.get_layer("c1").kernel)
    assert not _static(model.get_layer("d1").kernel)  # its own group is Dense
    function = model.train_function
    model.add_units("d1", 20)  # Dense group: in place
    _fit(model, "conv_flatten_dense")
    assert model.train_function is function
    model.add_units("c1", 20)  # convolution group: new variables, a retrace
    x = _fit(model, "conv_flatten_dense")
    assert model.train_function is not function
    assert _static(model.get_layer("c1").kernel)
    assert model.widths()["c1"] == 25 and np.isfinite(model.predict(x, verbose=0)).all()


@pytest.mark.parametrize("mode", [False, True])
def test_explicit_modes_apply_to_every_group(mode):
    model = _compiled("conv_flatten_dense", reassignable_storage=mode)
    _fit(model, "conv_flatten_dense")
    for layer in ("c1", "d1"):
        assert _static(model.get_layer(layer).kernel) is (not mode)
    assert model.reallocates_in_place("d1") is mode
    assert not model.reallocates_in_place("c1")  # Conv2D bakes its width into call


@pytest.mark.parametrize("value", ["yes", 2, None])
def test_bad_storage_mode_raises_naming_the_value(value):
    with pytest.raises(ValueError, match=r"reassignable_storage=.*True, False or 'auto'"):
        keras_grow.DynamicModel(build("mlp"), reassignable_storage=value)


def test_auto_round_trips_through_save_and_load(tmp_path):
    model = _compiled("mlp")
    x = _fit(model, "mlp")
    model.add_units("h1", 9)
    path = tmp_path / "grown.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.reassignable_storage == "auto"
    assert loaded.widths() == model.widths()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
