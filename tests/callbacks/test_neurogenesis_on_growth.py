"""`Neurogenesis(record_inputs="on_growth")`: input rows recorded only for a pending growth."""

import math

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow import growth
from keras_grow.callbacks import Neurogenesis


class OnceTrigger(growth.Trigger):
    """Asks `layer` for `count` units at its first evaluation from `after` on; logs calls."""

    requires = frozenset({"activations"})

    def __init__(self, layer, count, after=0):
        super().__init__()
        self.layer, self.count, self.after = layer, count, after
        self.calls, self.fired = [], None

    def decide(self, observation):
        self.calls.append((observation.step, observation.layer))
        count = 0
        fire = observation.layer == self.layer and observation.step >= self.after
        if fire and self.fired is None:
            self.fired, count = observation.step, self.count
        return growth.Decision(float(count), 0.0, count)


class Outputs(keras.callbacks.Callback):
    """Model outputs on fixed rows after each step (before and after the growth callback)."""

    def __init__(self, x, log):
        super().__init__()
        self.x, self.log = x, log

    def on_train_batch_end(self, batch, logs=None):
        widths = self.model.widths()
        self.log.append((widths, keras.ops.convert_to_numpy(self.model(self.x))))


class RingState(keras.callbacks.Callback):
    """Per step: whether any input ring row was written, and the gates."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_train_batch_end(self, batch, logs=None):
        taps = self.model.activation_taps
        written = any((taps.ring_ids[n].numpy() >= 0).any() for n in taps.ring_ids)
        gates = {n: bool(g.numpy()) for n, g in taps.input_gates.items()}
        self.log.append((written, gates))


class SeenSelect(growth.NorthSelect):
    """NorthSelect noting the shapes of the rows it was given."""

    def __call__(self, request):
        context = request.context
        self.seen = (context["inputs"].shape, context["activations"].shape)
        return super().__call__(request)


def _mlp(storage="auto", jit_compile=False):
    keras.utils.set_random_seed(0)
    base = keras_grow.applications.GrowingMLP(
        input_shape=(8,), hidden=(3, 3), classes=2, classifier_activation=None
    )
    model = keras_grow.DynamicModel(base, seed=0, reassignable_storage=storage)
    model.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def _data(n=256, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 8)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


@pytest.mark.parametrize(
    "storage, jit_compile",
    [("auto", False), (False, False), (True, False), ("auto", True)],
    ids=["auto", "static", "reassignable", "xla"],
)
def test_growth_happens_w_steps_after_the_trigger_with_its_count(storage, jit_compile):
    model = _mlp(storage, jit_compile)
    trigger = OnceTrigger("hidden1", count=4, after=5)
    initializer = SeenSelect(candidates=20, scoring_rows=40)
    rows = initializer.input_rows_needed(64, 10)  # R = 40 of the 64 buffered rows
    callback = Neurogenesis(
        trigger,
        initializer,
        layers=["hidden1"],
        max_units=10,
        buffer_size=64,
        rows_per_step=16,
        reserve=False,  # 3 -> 7 units reallocates the group
        record_inputs="on_growth",
    )
    x, y = _data()
    outputs, ring = [], []
    probe = x[:32]
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[Outputs(probe, outputs), RingState(ring), callback, Outputs(probe, outputs)],
    )
    wait = math.ceil(rows / 16)  # W = 3 steps of 16 rows
    fired = trigger.fired
    # Evaluations every 64 rows (steps 4, 8, ...): the first at or after step 5.
    assert rows == 40 and fired == 8
    grown = [e for e in model.structure_history if e.operation == "add_units"]
    assert [(e.step, e.layer, e.count) for e in grown] == [(fired + wait, "hidden1", 4)]
    assert model.widths()["hidden1"] == 7
    assert initializer.seen == ((40, 8), (40, 3))  # R input rows and their activations
    # Not evaluated again while pending (steps fired+1 .. fired+W).
    steps = [step for step, layer in trigger.calls if layer == "hidden1"]
    assert not [s for s in steps if fired < s <= fired + wait]
    # No input row written before the trigger fired (ring[i]: seen after step i + 1,
    # before the growth callback); the gate open during the W pending steps only.
    assert not any(written for written, _ in ring[:fired]) and ring[fired][0]
    assert [gates["hidden1"] for _, gates in ring] == [
        fired < step <= fired + wait for step in range(1, len(ring) + 1)
    ]
    # Function-preserving: outputs at the growth step, before and after the callback.
    (width_before, before), (width_after, after) = outputs[2 * (fired + wait - 1) :][:2]
    assert (width_before["hidden1"], width_after["hidden1"]) == (3, 7)
    np.testing.assert_allclose(before, after, atol=1e-5)


class WidthRows(SeenSelect):
    """Reads 4 input rows per unit of the layer's width (at most the buffer)."""

    def input_rows_needed(self, buffered_rows, max_width):
        return min(buffered_rows, 4 * max_width)


def test_pending_growth_waits_only_for_the_rows_read_at_the_new_width():
    # R = 4 * max_units = 40 rows are kept, but 3 + 2 units read 20: W = 2 steps of 16.
    model = _mlp()
    trigger = OnceTrigger("hidden1", count=2, after=5)
    initializer = WidthRows(candidates=20, scoring_rows=None)
    callback = Neurogenesis(
        trigger,
        initializer,
        layers=["hidden1"],
        max_units=10,
        buffer_size=64,
        rows_per_step=16,
        record_inputs="on_growth",
    )
    x, y = _data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[callback])
    assert callback._input_rows == 40
    grown = [e for e in model.structure_history if e.operation == "add_units"]
    assert [(e.step, e.count) for e in grown] == [(trigger.fired + 2, 2)]
    assert initializer.seen == ((32, 8), (32, 3))  # the 2 pending steps' rows


def test_pending_count_is_capped_by_max_units():
    model = _mlp()
    trigger = OnceTrigger("hidden1", count=50)
    callback = Neurogenesis(
        trigger,
        growth.NorthSelect(candidates=20),
        layers=["hidden1"],
        max_units=6,
        buffer_size=32,
        rows_per_step=16,
        record_inputs="on_growth",
    )
    x, y = _data(128)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    grown = [e for e in model.structure_history if e.operation == "add_units"]
    # R = 32 (all buffered rows): 2 steps after the trigger fired at step 2.
    assert [(e.step, e.count) for e in grown] == [(4, 3)]
    assert model.widths()["hidden1"] == 6


def test_always_records_inputs_at_every_step():
    model = _mlp()
    ring = []

    class Inspect(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            taps = self.model.activation_taps
            ring.append((taps.input_rows, taps.inputs("hidden1").shape[0]))

    callback = Neurogenesis(
        growth.ActivationTrigger(gamma=10.0),  # never grows
        growth.NorthSelect(candidates=20),
        max_units=6,
        buffer_size=32,
        rows_per_step=16,
    )
    x, y = _data(64)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback, Inspect()])
    # The default, "auto", records at every step for Dense layers.
    assert callback.get_config()["record_inputs"] == "auto"
    assert callback.record_inputs_mode == "always"
    assert ring == [(None, 16), (None, 32), (None, 32), (None, 32)]


@pytest.mark.parametrize("value", ["sometimes", None, 1, "ALWAYS"])
def test_bad_record_inputs_raises_and_changes_nothing(value):
    model = _mlp()
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"record_inputs=.* \('auto', 'always', 'on_growth'\)"):
        Neurogenesis(growth.ActivationTrigger(), growth.NorthSelect(), record_inputs=value)
    assert model.activation_taps is None
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_get_config_records_the_mode():
    callback = Neurogenesis(
        growth.ActivationTrigger(), growth.NorthSelect(), record_inputs="on_growth"
    )
    assert callback.get_config()["record_inputs"] == "on_growth"


def test_a_convolution_grows_from_its_pending_patches_function_preserving():
    # Conv channels, static storage (conv groups), the default record_inputs:
    # NorthSelect scores candidates on the 3x3 patches recorded during the 2
    # pending steps (64 rows, 32 per step).
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    base = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    model = keras_grow.DynamicModel(base, seed=0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trigger = OnceTrigger("c1", count=3, after=3)
    initializer = SeenSelect(candidates=20)
    callback = Neurogenesis(
        trigger,
        initializer,
        layers=["c1"],
        max_units=10,
        buffer_size=64,
        rows_per_step=32,
    )  # record_inputs="auto": "on_growth", the measured layer is a convolution
    images = np.random.default_rng(0).random((64, 8, 8, 3)).astype("float32")
    labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype("int64")
    probe, outputs = images[:4], []
    model.fit(
        images,
        labels,
        batch_size=8,
        epochs=1,
        verbose=0,
        shuffle=False,
        callbacks=[Outputs(probe, outputs), callback, Outputs(probe, outputs)],
    )
    assert callback.record_inputs_mode == "on_growth"
    grown = [e for e in model.structure_history if e.operation == "add_units"]
    assert [(e.step, e.layer, e.count) for e in grown] == [(trigger.fired + 2, "c1", 3)]
    assert initializer.seen == ((64, 9 * 3), (64, 4))  # patches of 3 channels, 4 units
    (width_before, before), (width_after, after) = outputs[2 * (trigger.fired + 1) :][:2]
    assert (width_before["c1"], width_after["c1"]) == (4, 7)
    np.testing.assert_allclose(before, after, atol=1e-5)
