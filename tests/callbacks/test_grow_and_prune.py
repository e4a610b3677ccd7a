import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.callbacks import GrowAndPrune, SurgicalFineTuning
from keras_grow.growth import north_initializers


def _mlp(hidden=8, seed=0):
    keras.utils.set_random_seed(seed)  # the same weights whatever ran before
    inputs = keras.Input((6,))
    x = keras.layers.Dense(hidden, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, name="out")(x)
    model = keras_grow.DynamicModel(keras.Model(inputs, outputs), seed=seed)
    model.compile(
        keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    return x, rng.integers(0, 3, n)


def _attach(model, callback, steps=8):
    """Install the callback's taps and fill them without changing weights (lr = 0)."""
    callback.set_model(model)
    callback.on_train_begin()
    x, y = _data()
    model.fit(x, y, batch_size=len(x) // steps, epochs=1, verbose=0, shuffle=False)


def _duplicate_pairs(model, pairs=4):
    """Make hidden units `i` and `i + pairs` identical (φ_ED = 1/2)."""
    layer = model.get_layer("hidden")
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in layer.weights)
    kernel[:, pairs:] = kernel[:, :pairs]
    bias[:] = 0.1
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"delta": 0.0}, "delta=0.0"),
        ({"delta": -0.1}, "delta=-0.1"),
        ({"epsilon": 0}, "epsilon=0"),
        ({"every": 0}, "every=0"),
        ({"candidates_per_unit": 0}, "candidates_per_unit=0"),
        ({"min_units": 0}, "min_units=0"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GrowAndPrune(**kwargs)


def test_needs_a_dynamic_model():
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="DynamicModel"):
        model.fit(np.zeros((4, 6)), np.zeros((4, 2)), verbose=0, callbacks=[GrowAndPrune()])


def test_trigger_counts_follow_eqs_38_39():
    callback = GrowAndPrune(delta=0.03)
    assert callback.prune_count(10, 0.5, 0.8) == 2  # ⌊10 (0.776 − 0.5)⌋
    assert callback.grow_count(10, 0.5, 0.8) == 0
    assert callback.grow_count(10, 1.0, 0.8) == 1  # ⌊10 (1 − 0.824)⌋
    assert callback.prune_count(10, 1.0, 0.8) == 0
    assert callback.prune_count(10, 0.78, 0.8) == 0  # inside the ±δ band: nothing


def test_first_evaluation_sets_the_baseline_and_changes_nothing():
    model = _mlp()
    callback = GrowAndPrune(min_buffer=64)
    _attach(model, callback)
    assert callback.buffer_size > 8
    assert callback.evaluate() == {}
    assert callback.baselines["hidden"] == pytest.approx(1.0)
    assert model.widths()["hidden"] == 8


def test_prune_removes_one_of_each_duplicate_pair_and_resets_the_baseline():
    model = _mlp()
    _duplicate_pairs(model)
    callback = GrowAndPrune(min_buffer=64)
    _attach(model, callback)
    x = _data()[0][:32]
    callback.baselines["hidden"] = 1.0
    changes = callback.evaluate()
    # φ = 4/8; P = ⌊8 (0.97 − 0.5)⌋ = 3
    assert changes == {"hidden": -3}
    assert model.widths()["hidden"] == 5
    kept = model.active_units("hidden")
    survivors = {slot % 4 for slot in kept}
    assert survivors == {0, 1, 2, 3}  # each pair keeps at least one unit
    assert callback.baselines["hidden"] == pytest.approx(4 / 5)  # φ_ED of the survivors
    event = model.structure_history[-1]
    assert event.operation == "remove_units" and "phi_ED=0.5" in event.reason
    assert callback.events[-1]["new_baseline"] == pytest.approx(0.8)
    # removing exact duplicates of surviving units changes the function only through
    # their fan-out: the prediction differs, but stays finite
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_growth_uses_north_select_with_100_candidates_per_unit_and_preserves_function(
    monkeypatch,
):
    seen = []
    original = north_initializers.NorthSelect.__init__

    def spy(self, candidates=1000, epsilon=0.01):
        seen.append(candidates)
        original(self, candidates, epsilon)

    monkeypatch.setattr(north_initializers.NorthSelect, "__init__", spy)
    model = _mlp(hidden=4)
    callback = GrowAndPrune(min_buffer=64, candidates_per_unit=100)
    _attach(model, callback)
    x = _data()[0][:32]
    before = model.predict(x, verbose=0)
    callback.baselines["hidden"] = 0.5
    changes = callback.evaluate()
    count = changes["hidden"]
    assert count == 1  # ⌊4 (1 − 0.515)⌋
    assert seen == [100 * count]
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-6)
    assert model.widths()["hidden"] == 4 + count
    assert 0 < callback.baselines["hidden"] <= 1.0
    assert model.structure_history[-1].operation == "add_units"
    assert callback.events[-1]["operation"] == "add_units"


def test_a_layer_is_never_pruned_below_min_units_and_the_log_says_so():
    model = _mlp(hidden=3)
    layer = model.get_layer("hidden")
    layer.bias.assign(-100.0 * np.ones(3, "float32"))  # every unit dormant: φ = 0
    callback = GrowAndPrune(min_buffer=64)
    _attach(model, callback)
    callback.baselines["hidden"] = 1.0
    assert callback.evaluate() == {"hidden": -2}  # P = 2, all 3 dormant, one kept
    assert model.widths()["hidden"] == 1
    reason = model.structure_history[-1].reason
    assert "3 dormant" in reason and "cut to 2 to keep at least 1 unit" in reason

    model = _mlp(hidden=2)
    model.get_layer("hidden").bias.assign(-100.0 * np.ones(2, "float32"))
    callback = GrowAndPrune(min_buffer=64, min_units=2)
    _attach(model, callback)
    callback.baselines["hidden"] = 1.0
    assert callback.evaluate() == {}
    assert model.widths()["hidden"] == 2
    event = model.structure_history[-1]
    assert event.operation == "prune_skipped" and "keep at least 2" in event.reason


def test_nan_activations_skip_the_evaluation_with_a_warning():
    model = _mlp()
    callback = GrowAndPrune(min_buffer=64)
    _attach(model, callback)
    callback.baselines["hidden"] = 1.0
    buffer = model._state.taps.buffers["hidden"]
    values = buffer.numpy()
    values[3, 2] = np.nan
    buffer.assign(values)
    weights = [w.numpy().copy() for w in model.weights]
    with pytest.warns(RuntimeWarning, match="NaN"):
        assert callback.evaluate() == {}
    for before, after in zip(weights, model.weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert callback.baselines["hidden"] == 1.0


def _small_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 1))
    x = inputs
    for index, filters in enumerate((6, 8), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(12, activation="relu", name="fc1")(x)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras_grow.DynamicModel(keras.Model(inputs, outputs), seed=seed)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_with_sft_changes_structure_and_logs_flops(jit_compile):
    model = _small_cnn()
    model.compile(
        keras.optimizers.Adam(3e-3, weight_decay=1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    rng = np.random.default_rng(0)
    x = rng.random((256, 12, 12, 1)).astype("float32")
    y = (x[:, :6].mean(axis=(1, 2, 3)) > x[:, 6:].mean(axis=(1, 2, 3))).astype("int64")
    callback = GrowAndPrune(every=4, delta=0.01, min_buffer=64)
    history = model.fit(
        x, y, batch_size=32, epochs=3, verbose=0, callbacks=[callback, SurgicalFineTuning()]
    )
    assert "flops" in history.history
    assert len(callback.flops_history) == 1 + (3 * 8) // 4
    assert callback.flops_history[-1][1] == keras_grow.analysis.flops(model)
    changed = [e for e in model.structure_history if e.operation in ("add_units", "remove_units")]
    assert changed, "a delta of 1 % on a fresh CNN should trigger some change in 24 steps"
    assert all(e.reason.startswith("GrowAndPrune step") for e in changed)
    assert model._state.taps is None
    assert "apply" not in model.optimizer.__dict__  # SFT unwrapped the optimizer
    assert np.isfinite(model.predict(x[:8], verbose=0)).all()


def test_gated_recording_writes_only_in_the_steps_that_refill_the_buffer():
    model = _mlp()
    callback = GrowAndPrune(every=10, min_buffer=64, rows_per_step=32)
    x, y = _data(n=640)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[callback])
    assert callback.fill_steps == 2  # 64 rows, 32 per step
    on = [step for step in range(1, 21) if callback.records(step)]
    assert on == [1, 2, 9, 10, 19, 20]
    assert callback._taps.rows_written("hidden") == 32 * len(on)
    # φ* from the first two steps (start of fine-tuning), then two evaluations
    assert [step for step, _, _ in callback.measurements] == [2, 10, 20]
    assert model.widths()["hidden"] == 8  # lr = 0: φ stays at φ*


def test_ungated_recording_writes_every_step():
    model = _mlp()
    callback = GrowAndPrune(every=10, min_buffer=64, rows_per_step=32, gate_recording=False)
    x, y = _data(n=640)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[callback])
    assert all(callback.records(step) for step in range(1, 21))
    assert callback._taps.rows_written("hidden") == 32 * 20
    assert [step for step, _, _ in callback.measurements] == [2, 10, 20]


def test_a_change_before_the_first_evaluation_triggers_it():
    # φ* comes from the first steps (the start of fine-tuning), so a collapse
    # between them and the first evaluation prunes there already.
    model = _mlp()

    class Collapse(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 4:  # after φ* (step 2), before the recording window (steps 9-10)
                _duplicate_pairs(self.model)

    callback = GrowAndPrune(every=10, min_buffer=64, rows_per_step=32)
    x, y = _data(n=320)
    model.fit(x, y, batch_size=32, verbose=0, shuffle=False, callbacks=[Collapse(), callback])
    assert callback.baselines["hidden"] == pytest.approx(4 / 5)  # reset after the prune
    assert [(e["step"], e["operation"], e["count"]) for e in callback.events] == [
        (10, "remove_units", 3)  # φ = 4/8 against φ* = 1: ⌊8 (0.97 − 0.5)⌋
    ]
    assert model.widths()["hidden"] == 5
