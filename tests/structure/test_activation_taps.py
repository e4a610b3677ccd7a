"""The train step records post-activations exactly, at no extra forward pass."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from topologies import build, sample_inputs

import keras_grow
from keras_grow.structure import activation_taps, storage
from keras_grow.structure.activation_taps import post_activation_tensor


def _model(name, **compile_kwargs):
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build(name))
    model.compile(
        keras.optimizers.SGD(0.0),  # weights stay put, so a probe sees the same network
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **compile_kwargs,
    )
    return model


@pytest.mark.parametrize("jit_compile", [False, True])
def test_dense_rows_equal_the_layer_post_activations(jit_compile):
    model = _model("mlp", jit_compile=jit_compile)
    model.watch(["h1", "h2"], buffer_size=40, rows_per_step=8)
    x = sample_inputs("mlp", 16)
    model.fit(x, np.arange(16) % 3, batch_size=8, epochs=1, shuffle=False, verbose=0)
    probe = keras.Model(model.inputs, [model.get_layer("h1").output, model.get_layer("h2").output])
    h1, h2 = (keras.ops.convert_to_numpy(t) for t in probe(x, training=True))
    np.testing.assert_allclose(model.activations("h1"), h1, atol=1e-6)
    np.testing.assert_allclose(model.activations("h2"), h2, atol=1e-6)


def test_convolution_rows_are_positions_after_batch_norm_and_relu():
    model = _model("conv_bn_pool")
    tapped = post_activation_tensor(model, model.get_layer("c1"))
    assert isinstance(tapped._keras_history[0], keras.layers.ReLU)
    model.watch(["c1"], buffer_size=1000, rows_per_step=64)
    x = sample_inputs("conv_bn_pool", 8)
    model.fit(x, np.arange(8) % 3, batch_size=8, epochs=1, shuffle=False, verbose=0)
    rows = model.activations("c1")
    assert rows.shape == (64, 6)  # 8 images x 64 positions, 64 kept
    expected = keras.ops.convert_to_numpy(keras.Model(model.inputs, tapped)(x, training=True))
    flat = expected.reshape(-1, 6)
    picked = activation_taps.sampled_rows(len(flat), 64, 0).numpy()  # one per 8 rows
    assert np.all(picked // 8 == np.arange(64))
    np.testing.assert_allclose(rows, flat[picked], atol=1e-5)


def _sampled_rows_reference(total, count, phase):
    """The documented sampling: one row per equal stretch, jittered by `phase`."""
    index = np.arange(count, dtype=np.int64)
    starts = index * total // max(count, 1)
    widths = np.maximum((index + 1) * total // max(count, 1) - starts, 1)
    return starts + (index * 7919 + phase * 104729 + 12345) % widths


@pytest.mark.parametrize(
    "total, count, phase", [(512, 512, 0), (416, 416, 7), (1000, 64, 3), (4096, 300, 1567)]
)
def test_sampled_rows_follow_the_documented_formula(total, count, phase):
    expected = _sampled_rows_reference(total, count, phase)
    picked = activation_taps.sampled_rows(total, count, phase).numpy()
    np.testing.assert_array_equal(picked, expected)
    index = tf.range(count, dtype=tf.int64)  # a caller's own range: the same rows
    np.testing.assert_array_equal(
        activation_taps.sampled_rows(total, count, phase, index).numpy(), expected
    )
    assert len(np.unique(picked)) == count and picked.min() >= 0 and picked.max() < total


def test_sampled_rows_of_an_empty_batch_is_empty():
    assert activation_taps.sampled_rows(0, 0, 5).numpy().shape == (0,)


def test_residual_branch_is_measured_before_the_add():
    model = _model("residual")
    assert (
        post_activation_tensor(model, model.get_layer("outer")) is model.get_layer("outer").output
    )


def test_buffer_is_a_ring_and_follows_growth():
    model = _model("mlp")
    model.watch(["h1"], buffer_size=20, rows_per_step=8)
    x = sample_inputs("mlp", 32)
    model.fit(x, np.arange(32) % 3, batch_size=8, epochs=1, verbose=0)
    assert model.activations("h1").shape == (20, 6)  # 32 rows written, 20 kept
    model.add_units("h1", 10)  # reallocates: recorded rows are kept, new units read 0
    rows = model.activations("h1")
    assert rows.shape == (20, 16)
    np.testing.assert_array_equal(rows[:, 6:], 0.0)
    model.reset_activations("h1")
    assert model.activations("h1").shape == (0, 16)
    model.fit(x[:8], np.arange(8) % 3, batch_size=8, epochs=1, verbose=0)
    assert model.activations("h1").shape == (8, 16)


def test_watch_errors_and_unwatch():
    model = _model("mlp")
    with pytest.raises(ValueError, match="layer_names contains 'nope'"):
        model.watch(["nope"])
    with pytest.raises(ValueError, match="buffer_size=0"):
        model.watch(["h1"], buffer_size=0)
    with pytest.raises(ValueError, match="is not watched"):
        model.activations("h1")
    model.watch(["h1"])
    model.unwatch()
    with pytest.raises(ValueError, match="is not watched"):
        model.activations("h1")


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_write_rows_puts_each_row_in_its_slot_of_a_dynamic_buffer(mode):
    start = np.arange(15, dtype=np.float32).reshape(5, 3)
    buffer = storage.dynamic_variable(start)
    slots = tf.constant([4, 0, 2], tf.int64)
    rows = tf.constant(-np.arange(9, dtype=np.float32).reshape(3, 3))
    write = lambda: activation_taps.write_rows(buffer, slots, rows)  # noqa: E731
    if mode != "eager":
        write = tf.function(write, jit_compile=mode == "xla")
    write()
    expected = start.copy()
    expected[[4, 0, 2]] = rows.numpy()
    np.testing.assert_array_equal(buffer.numpy(), expected)
