"""Structural edits from callbacks inside `model.fit`."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from topologies import build, sample_inputs

import keras_grow


class EditMidEpoch(keras.callbacks.Callback):
    """Grows c1, grows d1 and prunes d1 at given training batches."""

    def __init__(self, batches):
        super().__init__()
        self.batches = set(batches)
        self.new_slots = []

    def on_train_batch_end(self, batch, logs=None):
        if batch in self.batches:
            self.model.add_units("c1", 3, reason="test-grow")
            self.new_slots.append(self.model.add_units("d1", 2))
            self.model.remove_units("d1", [0], reason="test-prune")


def _data(n=64):
    x = sample_inputs("conv_flatten_dense", n, seed=5)
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype("int64") + (x[..., 1].mean(axis=(1, 2)) > 0)
    return x, y


def _compiled(jit_compile, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras_grow.DynamicModel(build("conv_flatten_dense"), seed=seed)
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager-graph", "xla"])
@pytest.mark.parametrize("source", ["numpy", "tf.data"])
def test_resize_inside_fit_mid_epoch(jit_compile, source):
    model = _compiled(jit_compile)
    x, y = _data()
    callback = EditMidEpoch(batches=[1, 5])
    if source == "numpy":
        inputs = dict(x=x, y=y, batch_size=8)
    else:
        inputs = dict(x=tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    history = model.fit(
        **inputs, epochs=2, validation_data=(x[:16], y[:16]), callbacks=[callback], verbose=0
    )
    # Two edits per epoch, at batches 1 and 5: c1 +3 each, d1 +2 -1 each.
    assert model.widths()["c1"] == 5 + 4 * 3
    assert model.widths()["d1"] == 7 + 4 * 1
    assert history.history["width_c1"] == [11.0, 17.0]
    assert history.history["width_d1"] == [9.0, 11.0]
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.all(np.isfinite(history.history["val_loss"]))
    assert model.train_function is not None
    events = model.structure_history
    assert [e.operation for e in events[:3]] == ["add_units", "add_units", "remove_units"]
    assert events[0].step == 2 and events[0].reason == "test-grow"
    assert events[-1].step == 8 + 6


def test_new_units_train_after_growth():
    model = _compiled(False)
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    (new,) = [model.active_units("d1")[i] for i in model.add_units("d1", 1)]
    out_kernel = model.get_layer("out").kernel
    assert np.all(keras.ops.convert_to_numpy(out_kernel)[new] == 0)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.any(keras.ops.convert_to_numpy(out_kernel)[new] != 0), "fan-out should learn"


def test_growth_within_capacity_does_not_rebuild_the_train_function():
    model = _compiled(True)
    x, y = _data()
    model.reserve("d1", 32)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    function = model.train_function
    model.add_units("d1", 4)
    model.remove_units("d1", [1])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert model.train_function is function
    assert model.widths()["d1"] == 10


def test_predict_and_evaluate_follow_the_new_structure():
    model = _compiled(False)
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    before = model.predict(x, verbose=0)
    model.add_units("c1", 20)  # beyond capacity: reallocation
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-5)
    loss, _ = model.evaluate(x, y, verbose=0)
    assert np.isfinite(loss)


def test_reassignable_storage_reallocates_dense_groups_without_retracing():
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("mlp"), reassignable_storage=True, seed=0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = sample_inputs("mlp", 32)
    y = np.arange(32) % 3
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    function = model.train_function
    before = model.predict(x, verbose=0)
    model.add_units("h1", 20)  # beyond capacity 6: reallocation, in place
    assert model.capacities()["h1"] >= 26
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-5)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert model.train_function is function
    assert model.get_layer("h1").kernel.shape == (12, model.capacities()["h1"])


def test_reassignable_storage_still_retraces_layers_that_bake_their_width():
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("conv_flatten_dense"), reassignable_storage=True)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    function = model.train_function
    model.add_units("c1", 20)  # Conv2D reshapes its bias with `filters`
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert model.train_function is not function
    assert model.widths()["c1"] == 25


class KerasDefaultBuild(keras_grow.DynamicModel):
    """Keras' own `_maybe_symbolic_build`: optimizer and metrics built while
    the first step is traced."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        return keras.Model._maybe_symbolic_build(self, iterator=iterator, data_batch=data_batch)


def _count_traces(model):
    traces = []
    step = model.train_step

    def counted(data):
        traces.append(1)
        return step(data)

    model.train_step = counted
    return traces


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("source", ["numpy", "tf.data"])
def test_first_fit_traces_the_step_once_with_keras_results(source, jit_compile):
    x, y = _data()
    weights, traces = {}, {}
    for cls in (keras_grow.DynamicModel, KerasDefaultBuild):
        keras.utils.set_random_seed(0)
        data = {"x": x, "y": y, "batch_size": 8}
        if source == "tf.data":  # a new dataset: each iteration reshuffles
            dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64, seed=3).batch(8)
            data = {"x": dataset, "shuffle": False}
        model = cls(build("conv_flatten_dense"), seed=0)
        model.compile(
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=jit_compile,
        )
        traces[cls] = _count_traces(model)
        history = model.fit(**data, epochs=2, verbose=0)
        weights[cls] = [np.asarray(v) for v in model.weights] + [history.history["loss"]]
    assert len(traces[keras_grow.DynamicModel]) == 1
    assert len(traces[KerasDefaultBuild]) == 2  # what this saves
    for ours, theirs in zip(weights[keras_grow.DynamicModel], weights[KerasDefaultBuild]):
        np.testing.assert_array_equal(ours, theirs)
