"""`watch_layers(..., input_rows=R)`: input rows recorded on demand, behind per-layer gates."""

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow import growth


def _dense_model(jit_compile=False, storage="auto"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    x = keras.layers.Dense(4, activation="relu", name="h1")(inputs)
    x = keras.layers.Dense(5, activation="relu", name="h2")(x)
    base = keras.Model(inputs, keras.layers.Dense(2)(x))
    model = keras_grow.DynamicModel(base, seed=0, reassignable_storage=storage)
    # Learning rate 0: the weights stay put, so recorded rows stay exact.
    model.compile(keras.optimizers.SGD(0.0), "mse", jit_compile=jit_compile)
    return model


def _conv_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((9, 8, 2))
    x = keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="relu", name="c")(inputs)
    flat = keras.layers.Flatten()(x)
    model = keras_grow.DynamicModel(keras.Model(inputs, keras.layers.Dense(2)(flat)), seed=0)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    return model


def _step(model, seed, rows=16):
    x = np.random.default_rng(seed).normal(size=(rows, *model.inputs[0].shape[1:]))
    model.train_on_batch(x.astype("float32"), np.zeros((rows, 2), "float32"))


def _weights(model, name):
    layer = model.get_layer(name)
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    return kernel, keras.ops.convert_to_numpy(layer.bias)


def _dense_post(model, taps, name, source="h1"):
    """relu(inputs @ W + b) over active units, and the aligned activations."""
    kernel, bias = _weights(model, name)
    inputs = taps.inputs(name)
    if name == "h2":  # h2's inputs span h1's capacity: keep its active units
        inputs = inputs[:, model.active_units(source)]
        kernel = kernel[model.active_units(source)]
    active = model.active_units(name)
    computed = np.maximum(inputs @ kernel[:, active] + bias[active], 0.0)
    return computed, taps.aligned_activations(model.activations(name), name)


def test_closed_gates_leave_the_ring_untouched():
    model = _dense_model()
    taps = growth.watch_layers(model, ["h1", "h2"], buffer_size=32, rows_per_step=16, input_rows=8)
    for seed in range(3):
        _step(model, seed)
    assert taps.rows_written("h1") == taps.rows_written("h2") == 48  # activations recorded
    for name in ("h1", "h2"):
        assert not taps.input_buffers[name].numpy().any()
        np.testing.assert_array_equal(taps.ring_ids[name].numpy(), -1)
        np.testing.assert_array_equal(taps.ring_slots[name].numpy(), -1)
        assert int(taps.ring_positions[name].numpy()) == 0
        assert taps.inputs(name).shape[0] == 0
    # Opening one layer's gate does not write the other's.
    taps.set_input_recording("h2", True)
    _step(model, 3)
    assert not taps.input_buffers["h1"].numpy().any()
    np.testing.assert_array_equal(taps.ring_ids["h2"].numpy(), np.arange(56, 64))


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_dense_inputs_reproduce_their_aligned_activations(jit_compile):
    model = _dense_model(jit_compile)
    taps = growth.watch_layers(model, ["h1", "h2"], buffer_size=40, rows_per_step=16, input_rows=24)
    _step(model, 0)
    first = taps.set_input_recording("h1", True)
    assert first == 16
    for seed in range(1, 4):  # 48 rows into a ring of 24: it wraps
        _step(model, seed)
    assert taps.input_rows_since("h1", first) == 24
    # The last 24 rows: ids 40..63, activation slots id % 40.
    ids = taps.ring_ids["h1"].numpy()
    assert sorted(ids) == list(range(40, 64))
    np.testing.assert_array_equal(taps.ring_slots["h1"].numpy(), ids % 40)
    computed, aligned = _dense_post(model, taps, "h1")
    assert computed.shape == aligned.shape == (24, 4)
    np.testing.assert_allclose(computed, aligned, atol=1e-5)
    taps.set_input_recording("h1", False)
    _step(model, 4)
    assert sorted(taps.ring_ids["h1"].numpy()) == list(range(40, 64))  # closed: kept


def test_conv_patches_reproduce_their_aligned_activations():
    model = _conv_model()
    taps = growth.watch_layers(model, ["c"], buffer_size=50, rows_per_step=30, input_rows=40)
    taps.set_input_recording("c", True)
    for seed in range(3):  # 5 x 4 positions x 4 images = 80 per step, 30 kept
        _step(model, seed, rows=4)
    patches = taps.inputs("c")
    assert patches.shape == (40, 9 * 2)
    kernel, bias = _weights(model, "c")
    computed = np.maximum(patches @ kernel.reshape(-1, 3) + bias, 0.0)
    aligned = taps.aligned_activations(model.activations("c"), "c")
    np.testing.assert_allclose(computed, aligned, atol=1e-5)
    assert len(np.unique(patches.round(6), axis=0)) == 40  # 40 distinct positions


def test_rows_stop_being_valid_when_the_fifo_overwrites_their_activations():
    model = _dense_model()
    taps = growth.watch_layers(model, ["h1"], buffer_size=32, rows_per_step=16, input_rows=24)
    _step(model, 0)
    first = taps.set_input_recording("h1", True)
    _step(model, 1)
    _step(model, 2)  # 32 rows: the ring keeps ids 24..47
    taps.set_input_recording("h1", False)
    assert taps.input_rows_since("h1", first) == 24
    _step(model, 3)  # 64 written: the FIFO holds ids 32..63
    assert taps.input_rows_since("h1", first) == 16
    computed, aligned = _dense_post(model, taps, "h1")
    assert aligned.shape == (16, 4)
    np.testing.assert_allclose(computed, aligned, atol=1e-5)
    _step(model, 4)  # the FIFO holds ids 48..79: none of the ring's
    assert taps.inputs("h1").shape == (0, 6)
    assert taps.aligned_activations(model.activations("h1"), "h1").shape == (0, 4)


def test_reset_invalidates_the_rows_recorded_before_it():
    model = _dense_model()
    taps = growth.watch_layers(model, ["h1"], buffer_size=64, rows_per_step=16, input_rows=24)
    first = taps.set_input_recording("h1", True)
    _step(model, 0)
    assert taps.input_rows_since("h1", first) == 16
    model.reset_activations("h1")
    assert taps.input_rows_since("h1", first) == 0
    assert taps.inputs("h1").shape == (0, 6)
    _step(model, 1)
    assert taps.input_rows_since("h1", first) == 16  # ids 16..31, slots 0..15
    np.testing.assert_array_equal(np.sort(taps.ring_ids["h1"].numpy())[-16:], np.arange(16, 32))
    computed, aligned = _dense_post(model, taps, "h1")
    assert aligned.shape == (16, 4)
    np.testing.assert_allclose(computed, aligned, atol=1e-5)


@pytest.mark.parametrize("storage", [False, True], ids=["static", "reassignable"])
def test_ring_follows_a_reallocation_of_the_producer(storage):
    model = _dense_model(storage=storage)
    taps = growth.watch_layers(model, ["h1", "h2"], buffer_size=64, rows_per_step=16, input_rows=32)
    first = taps.set_input_recording("h2", True)
    _step(model, 0)
    before = taps.inputs("h2")
    capacity = model.capacities()["h1"]
    model.add_units("h1", capacity)  # beyond capacity: h1's group is reallocated
    grown = model.capacities()["h1"]
    assert grown > capacity
    after = taps.inputs("h2")
    assert after.shape == (16, grown)
    np.testing.assert_array_equal(after[:, :capacity], before)
    np.testing.assert_array_equal(after[:, capacity:], 0.0)
    _step(model, 1)  # the step writes rows of the new width
    assert taps.input_rows_since("h2", first) == 32
    computed, aligned = _dense_post(model, taps, "h2")
    assert aligned.shape == (32, 5)
    np.testing.assert_allclose(computed, aligned, atol=1e-5)
    assert taps.input_buffers["h2"].numpy().shape == (32, grown)


@pytest.mark.parametrize(
    "options",
    [
        {"input_rows": 0},
        {"input_rows": 65},
        {"input_rows": 2.0},
        {"input_rows": True},
        {"input_rows": 16, "input_every": 2},
    ],
)
def test_bad_input_rows_raise_and_install_nothing(options):
    model = _dense_model()
    with pytest.raises(ValueError, match=r"input_rows=.* is not allowed"):
        growth.watch_layers(model, ["h1"], buffer_size=64, **options)
    assert model.activation_taps is None
    # Taps already installed stay in place, untouched.
    installed = growth.watch_layers(model, ["h2"], buffer_size=64)
    with pytest.raises(ValueError, match=r"input_rows=.* is not allowed"):
        growth.watch_layers(model, ["h1"], buffer_size=64, **options)
    assert model.activation_taps is installed


def test_gates_and_aligned_rows_need_an_on_demand_layer():
    model = _dense_model()
    taps = growth.watch_layers(model, ["h1", "h2"], buffer_size=32, input_rows=8, inputs=True)
    with pytest.raises(ValueError, match=r"name='out' is not allowed.*\['h1', 'h2'\]"):
        taps.set_input_recording("out", True)
    with pytest.raises(ValueError, match=r"name=None is not allowed"):
        taps.aligned_activations(model.activations("h1"))
    every = growth.watch_layers(model, ["h1"], buffer_size=32, input_every=2)
    with pytest.raises(ValueError, match=r"name='h1' is not allowed.*input_rows=None"):
        every.set_input_recording("h1", True)
