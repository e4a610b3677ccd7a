"""The public event log and a train step that skips variables without gradients."""

import warnings

import keras
import numpy as np
from topologies import build, sample_inputs

import keras_grow


def test_record_event_appends_a_structure_event_with_step_and_widths():
    model = keras_grow.DynamicModel(build("mlp"))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = sample_inputs("mlp", 16)
    model.fit(x, np.arange(16) % 3, batch_size=8, epochs=1, verbose=0)
    model.add_units("h1", 2)
    event = model.record_event("h2", "add_blocks", 3, reason="test")
    assert model.structure_history[-1] is event
    assert (event.step, event.layer, event.operation, event.count, event.reason) == (
        2,
        "h2",
        "add_blocks",
        3,
        "test",
    )
    assert event.widths == model.widths() and event.widths["h1"] == 8
    assert [e.operation for e in model.structure_history] == ["add_units", "add_blocks"]


def _two_headed(seed=0):
    """`out` is trained; `aux` (and its hidden layer) feed an output without a loss."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(6, activation="relu", name="h")(inputs)
    out = keras.layers.Dense(2, name="out")(hidden)
    aux_hidden = keras.layers.Dense(5, activation="relu", name="aux_h")(inputs)
    aux = keras.layers.Dense(1, name="aux")(aux_hidden)
    return keras_grow.DynamicModel(keras.Model(inputs, [out, aux]), seed=seed)


def test_variables_without_gradients_are_skipped_not_failing():
    model = _two_headed()
    model.compile(keras.optimizers.Adam(1e-2), loss=["mse", None])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")
    model.add_units("aux_h", 3)  # a growable group the loss does not reach
    unreached = [model.get_layer(n).kernel for n in ("aux_h", "aux")]
    before = [keras.ops.convert_to_numpy(v).copy() for v in unreached]
    trained_before = keras.ops.convert_to_numpy(model.get_layer("out").kernel).copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras: "Gradients do not exist for ..."
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert int(model.optimizer.iterations) == 8
    assert np.isfinite(history.history["loss"]).all()
    for variable, value in zip(unreached, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), value)
    assert np.abs(keras.ops.convert_to_numpy(model.get_layer("out").kernel) - trained_before).max()


def test_a_step_with_no_gradient_at_all_counts_and_changes_nothing():
    model = _two_headed()

    def constant_loss(y_true, y_pred):
        return keras.ops.mean(y_true) * 0.0 + 1.0

    model.compile("adam", loss=[constant_loss, None])
    x, y = np.ones((16, 4), "float32"), np.ones((16, 2), "float32")
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 2
    for variable, value in zip(model.trainable_variables, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), value)
