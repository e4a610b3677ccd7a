"""Gated taps: a flag read inside the compiled step switches the writes, without retracing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_grow
from keras_grow.growth import taps as taps_lib
from keras_grow.structure import activation_taps


def _conv_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(5, 3, padding="valid", activation="relu", name="c2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu", name="d1")(x)
    model = keras_grow.DynamicModel(keras.Model(inputs, keras.layers.Dense(3)(x)), seed=0)
    model.compile(
        keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def _batches(count, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.random((8, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 8)) for _ in range(count)
    ]


def _state(taps):
    names = taps.layer_names
    return (
        {n: taps.buffers[n].numpy().copy() for n in names},
        {n: taps.input_buffers[n].numpy().copy() for n in names},
        {n: int(taps.positions[n].numpy()) for n in names},
        {n: taps.rows_written(n) for n in names},
    )


def _assert_same(first, second):
    for a, b in zip(first, second):
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def _counting(taps):
    """Count the Python calls of `_record`: they happen only when the step is traced."""
    traces = []
    original = taps._record

    def counted(tapped):
        traces.append(1)
        return original(tapped)

    taps._record = counted
    return traces


def test_toggling_recording_skips_the_writes_and_does_not_retrace():
    model = _conv_model()
    names = ["c1", "c2", "d1"]
    taps = taps_lib.install(model, names, 48, 16, names, gated=True)
    traces = _counting(taps)
    batches = _batches(4)
    model.train_on_batch(*batches[0])
    assert len(traces) == 1  # the recording branch, traced once
    before = _state(taps)
    per_step = {"c1": 16, "c2": 16, "d1": 8}  # d1 has one row per image
    assert before[3] == per_step
    taps.set_recording(False)
    model.train_on_batch(*batches[1])
    _assert_same(before, _state(taps))  # nothing written, no counter moved
    taps.set_recording(True)
    model.train_on_batch(*batches[2])
    assert len(traces) == 1  # toggling the flag twice retraced nothing
    after = _state(taps)
    assert after[3] == {name: 2 * count for name, count in per_step.items()}
    assert after[2] == {name: 2 * count for name, count in per_step.items()}


def test_gated_buffers_while_on_equal_the_always_on_buffers_for_the_same_batches():
    batches = _batches(5, seed=1)
    names = ["c1", "c2", "d1"]
    states = []
    for gated in (False, True):
        model = _conv_model()
        taps = taps_lib.install(model, names, 40, 16, names, gated=gated)
        for x, y in batches:
            model.train_on_batch(x, y)
        states.append(_state(taps))
        assert model.activations("c2").shape == (40, 5)
    _assert_same(*states)


def test_set_recording_needs_gated_taps():
    model = _conv_model()
    taps = activation_taps.ActivationTaps(model, ["c1"], 16, 8)
    with pytest.raises(ValueError, match="gated=True"):
        taps.set_recording(False)
    assert bool(taps.recording.numpy())


def test_the_flag_works_under_xla():
    model = _conv_model()
    model.compile(
        keras.optimizers.SGD(0.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    taps = taps_lib.install(model, ["c2"], 32, 8, ["c2"], gated=True)
    x, y = _batches(1)[0]
    taps.set_recording(False)
    model.train_on_batch(x, y)
    assert taps.rows_written("c2") == 0
    taps.set_recording(True)
    model.train_on_batch(x, y)
    assert taps.rows_written("c2") == 8
    assert isinstance(taps.recording, tf.Variable)
