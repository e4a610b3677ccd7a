"""MultiplierSimpleRNNCell: the recurrence, L1 penalty, floor, config, growth and removal."""

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.callbacks import NewNeuronAtThreshold
from keras_grow.layers import MultiplierSimpleRNNCell


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


def _reference(x, kernel, recurrent, bias, multiplier):
    state = np.zeros((x.shape[0], kernel.shape[1]), np.float32)
    outputs = []
    for t in range(x.shape[1]):
        state = multiplier * np.tanh(x[:, t] @ kernel + state @ recurrent + bias)
        outputs.append(state)
    return np.stack(outputs, axis=1)


def _sequences(n=8, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype="float32")[rng.integers(0, 4, size=(n, steps))]
    return x, rng.integers(0, 4, size=(n, steps))


@pytest.fixture(scope="module")
def trained():
    """A DynamicModel around RNN(MultiplierSimpleRNNCell(3)) after a few steps."""
    keras.utils.set_random_seed(0)
    rnn = keras.layers.RNN(MultiplierSimpleRNNCell(3), return_sequences=True, name="rnn")
    model = keras_grow.DynamicModel(
        keras.Sequential([keras.Input((6, 4)), rnn, keras.layers.Dense(4, name="out")]), seed=0
    )
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = _sequences()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return model


def _clone(model):
    clone = keras_grow.DynamicModel.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    clone.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return clone


def test_recurrence_multiplies_outputs_and_state():
    cell = MultiplierSimpleRNNCell(3)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x, _ = _sequences()
    rnn(x)
    cell.multiplier.assign([0.5, 2.0, 0.025])
    expected = _reference(
        x, *(_numpy(v) for v in (cell.kernel, cell.recurrent_kernel, cell.bias, cell.multiplier))
    )
    np.testing.assert_allclose(_numpy(rnn(x)), expected, atol=1e-5)


def test_l1_penalty_and_floor():
    cell = MultiplierSimpleRNNCell(2, multiplier_l1=0.01, min_multiplier=0.025)
    model = keras.Sequential([keras.Input((6, 4)), keras.layers.RNN(cell, return_sequences=True)])
    cell.multiplier.assign([1.0, 3.0])
    np.testing.assert_allclose(float(sum(_numpy(v) for v in model.losses)), 0.04, rtol=1e-6)
    model.compile(keras.optimizers.SGD(100.0), loss=lambda y, p: keras.ops.mean(p * p, axis=-1))
    x, _ = _sequences()
    model.fit(x, np.zeros((8, 6, 2), "float32"), epochs=1, batch_size=8, verbose=0)
    assert _numpy(cell.multiplier).min() >= 0.025


def test_config_round_trip():
    cell = MultiplierSimpleRNNCell(5, multiplier_l1=1e-4, min_multiplier=0.01, activation="relu")
    config = cell.get_config()
    assert config["multiplier_l1"] == 1e-4 and config["min_multiplier"] == 0.01
    assert MultiplierSimpleRNNCell.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="units"):
        MultiplierSimpleRNNCell(0)
    with pytest.raises(ValueError, match="min_multiplier"):
        MultiplierSimpleRNNCell(2, min_multiplier=-1.0)


def test_growable_and_zero_fan_out_preserves_function(trained):
    model = _clone(trained)
    assert "rnn" in model.growable_layers()
    x, _ = _sequences(seed=3)
    before = _numpy(model(x))
    model.add_units("rnn", 3)  # ZeroFanOut: zero recurrent rows and zero output rows
    assert model.widths()["rnn"] == 6
    np.testing.assert_allclose(_numpy(model(x)), before, atol=1e-6)


def test_new_neuron_at_threshold_is_wired_randomly(trained):
    model = _clone(trained)
    cell = model.get_layer("rnn").cell
    old = model.active_units("rnn")
    model.add_units(
        "rnn", 1, initializer=NewNeuronAtThreshold(0.05, stddev=0.01), context={"seed": 0}
    )
    (slot,) = sorted(set(model.active_units("rnn")) - set(old))
    recurrent = _numpy(cell.recurrent_kernel)
    assert _numpy(cell.multiplier)[slot] == np.float32(0.05)
    assert np.all(_numpy(cell.kernel)[:, slot] != 0)
    assert np.all(recurrent[old, slot] != 0) and np.all(recurrent[slot, old] != 0)
    assert np.abs(recurrent[slot]).max() < 0.05  # N(0, 0.01^2) draws
    assert np.all(_numpy(model.get_layer("out").kernel)[slot] != 0)
    model.fit(*_sequences(), epochs=1, batch_size=4, verbose=0)  # trains at the new width


def test_removal_equals_smaller_network(trained):
    model = _clone(trained)
    cell, out = model.get_layer("rnn").cell, model.get_layer("out")
    keep = [0, 2]
    kernel, recurrent, bias, multiplier = (
        _numpy(cell.kernel)[:, keep],
        _numpy(cell.recurrent_kernel)[np.ix_(keep, keep)],
        _numpy(cell.bias)[keep],
        _numpy(cell.multiplier)[keep],
    )
    x, _ = _sequences(seed=5)
    states = _reference(x, kernel, recurrent, bias, multiplier)
    expected = states @ _numpy(out.kernel)[keep] + _numpy(out.bias)
    model.remove_units("rnn", [1])
    np.testing.assert_allclose(_numpy(model(x)), expected, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_grown_model_saves_and_loads(trained, tmp_path):
    model = _clone(trained)
    model.add_units("rnn", 2, initializer=NewNeuronAtThreshold(0.05))
    model.remove_units("rnn", [0])
    path = tmp_path / "rnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x, _ = _sequences(seed=7)
    assert loaded.widths()["rnn"] == 4
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), atol=1e-6)
