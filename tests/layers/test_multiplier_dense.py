"""MultiplierDense: multipliers, L1 penalty, floor, config, and growth through DynamicModel."""

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.callbacks import NewNeuronAtThreshold
from keras_grow.layers import MultiplierDense, MultiplierFloor


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


def _model(width=5, seed=0, **layer_kwargs):
    keras.utils.set_random_seed(seed)
    base = keras.Sequential(
        [
            keras.Input((6,)),
            MultiplierDense(width, activation="tanh", name="hidden", **layer_kwargs),
            keras.layers.Dense(3, name="out"),
        ]
    )
    model = keras_grow.DynamicModel(base, seed=seed)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def _data(n=32, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, size=n)


def test_output_is_activation_times_multiplier():
    layer = MultiplierDense(4, activation="relu")
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    layer.build(x.shape)
    layer.multiplier.assign([0.5, 1.0, 2.0, 0.025])
    kernel, bias = _numpy(layer.kernel), _numpy(layer.bias)
    expected = np.maximum(x @ kernel + bias, 0) * np.array([0.5, 1.0, 2.0, 0.025])
    np.testing.assert_allclose(_numpy(layer(x)), expected, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, 7, 3)) == (None, 7, 4)
    assert tuple(layer(np.zeros((2, 7, 3), "float32")).shape) == (2, 7, 4)


def test_l1_penalty_enters_the_loss():
    layer = MultiplierDense(3, multiplier_l1=0.1)
    layer.build((None, 2))
    layer.multiplier.assign([1.0, -2.0, 0.5])
    np.testing.assert_allclose(float(sum(_numpy(v) for v in layer.losses)), 0.1 * 3.5, rtol=1e-6)
    assert MultiplierDense(3, multiplier_l1=0.0).losses == []
    # The model's training loss includes it: with zero data loss, loss == penalty.
    model = keras.Sequential([keras.Input((2,)), layer])
    model.compile("sgd", loss=lambda y, p: keras.ops.sum(p * 0.0, axis=-1))
    value = model.evaluate(np.ones((4, 2), "float32"), np.zeros((4, 3), "float32"), verbose=0)
    np.testing.assert_allclose(value, 0.35, rtol=1e-5)


def test_floor_clips_multipliers_after_each_update():
    layer = MultiplierDense(3, activation="sigmoid", min_multiplier=0.025)
    model = keras.Sequential([keras.Input((2,)), layer])
    model.compile(keras.optimizers.SGD(10.0), loss=lambda y, p: keras.ops.mean(p, axis=-1))
    layer.multiplier.assign([0.03, 1.0, 0.2])
    model.fit(np.ones((8, 2), "float32"), np.zeros((8, 3), "float32"), epochs=1, verbose=0)
    values = _numpy(layer.multiplier)
    assert values.min() >= 0.025
    assert values[0] == pytest.approx(0.025)
    assert isinstance(layer.multiplier.constraint, MultiplierFloor)
    np.testing.assert_allclose(
        _numpy(MultiplierFloor(0.1)(np.array([0.5, 0.0, -1.0]))), [0.5, 0.1, 0.1]
    )


def test_config_round_trip_and_saving(tmp_path):
    layer = MultiplierDense(
        7, activation="relu", use_bias=False, multiplier_l1=1e-3, min_multiplier=None, name="m"
    )
    restored = MultiplierDense.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()
    assert restored.min_multiplier is None and restored.multiplier_l1 == 1e-3

    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.add_units("hidden", 3, initializer=NewNeuronAtThreshold(0.05))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.widths()["hidden"] == 8
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), atol=1e-6)


def test_zero_fan_out_growth_preserves_function():
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    before = _numpy(model(x))
    model.add_units("hidden", 4)  # DynamicModel's default ZeroFanOut, beyond capacity
    model.add_units("hidden", 2)  # within capacity
    assert model.widths()["hidden"] == 11
    np.testing.assert_allclose(_numpy(model(x)), before, atol=1e-6)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # new units get lifted to the floor
    layer = model.get_layer("hidden")
    assert _numpy(layer.multiplier)[model.active_units("hidden")].min() >= 0.025


def test_growing_the_layer_before_it_widens_its_kernel_rows():
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [
            keras.Input((6,)),
            MultiplierDense(4, activation="relu", name="first"),
            MultiplierDense(3, activation="tanh", name="second"),
            keras.layers.Dense(2),
        ]
    )
    model = keras_grow.DynamicModel(base)
    x, _ = _data()
    before = _numpy(model(x))
    model.add_units("first", 3)
    assert model.widths()["first"] == 7 and model.widths()["second"] == 3
    assert model.get_layer("second").kernel.shape[0] == model.capacities()["first"]
    np.testing.assert_allclose(_numpy(model(x)), before, atol=1e-6)
    with pytest.raises(ValueError, match="min_value"):
        MultiplierFloor(None)


def test_miconi_new_neuron_follows_the_rule():
    model = _model(width=4)
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    hidden, out = model.get_layer("hidden"), model.get_layer("out")
    old = {v.path: _numpy(v).copy() for v in hidden.weights + out.weights}
    old_slots = model.active_units("hidden")
    model.add_units("hidden", 1, initializer=NewNeuronAtThreshold(0.05), context={"seed": 3})
    new = sorted(set(model.active_units("hidden")) - set(old_slots))
    assert len(new) == 1
    slot = new[0]
    # Multiplier exactly at the threshold, random fan-in, zero bias, random fan-out.
    assert _numpy(hidden.multiplier)[slot] == np.float32(0.05)
    assert np.all(_numpy(hidden.kernel)[:, slot] != 0)
    assert _numpy(hidden.bias)[slot] == 0
    assert np.all(_numpy(out.kernel)[slot] != 0)
    # Existing units are untouched.
    np.testing.assert_array_equal(
        _numpy(hidden.kernel)[:, old_slots], old[hidden.kernel.path][:, old_slots]
    )
    np.testing.assert_array_equal(
        _numpy(hidden.multiplier)[old_slots], old[hidden.multiplier.path][old_slots]
    )
    np.testing.assert_array_equal(_numpy(out.kernel)[old_slots], old[out.kernel.path][old_slots])
    # The same seed draws the same neuron; fan-out can be left at zero.
    again = _model(width=4)
    again.fit(x, y, epochs=1, batch_size=16, verbose=0)
    again.add_units("hidden", 1, initializer=NewNeuronAtThreshold(0.05), context={"seed": 3})
    np.testing.assert_array_equal(
        _numpy(again.get_layer("hidden").kernel)[:, slot], _numpy(hidden.kernel)[:, slot]
    )
    again.add_units("hidden", 1, initializer=NewNeuronAtThreshold(0.05, random_fan_out=False))
    last = sorted(again.active_units("hidden"))[-1]
    assert np.all(_numpy(again.get_layer("out").kernel)[last] == 0)


def test_removing_units_equals_a_layer_without_them():
    model = _model(width=5)
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    hidden, out = model.get_layer("hidden"), model.get_layer("out")
    keep = [0, 2, 4]
    w, b, m = (_numpy(v)[..., keep] for v in (hidden.kernel, hidden.bias, hidden.multiplier))
    expected = (np.tanh(x @ w + b) * m) @ _numpy(out.kernel)[keep] + _numpy(out.bias)
    model.remove_units("hidden", [1, 3])
    np.testing.assert_allclose(_numpy(model(x)), expected, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"units": 0}, "units"),
        ({"units": 3, "multiplier_l1": -1e-5}, "multiplier_l1"),
        ({"units": 3, "min_multiplier": -0.1}, "min_multiplier"),
        ({"units": 3, "min_multiplier": "low"}, "min_multiplier"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        MultiplierDense(**kwargs)
