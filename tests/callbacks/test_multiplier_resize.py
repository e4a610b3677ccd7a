"""MultiplierResize: Miconi's add/delete rule, through DynamicModel, deterministic per seed."""

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.callbacks import MultiplierResize, plan_resize
from keras_grow.datasets import parenthesis_one_hot, parenthesis_sequences
from keras_grow.layers import MultiplierDense, MultiplierResidualStack, MultiplierSimpleRNNCell

RULE = dict(deletion_threshold=0.05, reserve=1, p_add=0.05, p_del=0.25)


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


def _plan(multipliers, seed=0, **overrides):
    rule = {**RULE, **overrides}
    return plan_resize(np.asarray(multipliers), rng=np.random.default_rng(seed), **rule)


# ------------------------------------------------------------------ the rule


def test_excess_sub_threshold_units_are_deleted_and_reserve_kept():
    multipliers = [1.0, 0.05, 0.01, 0.8, 0.03, 0.025]  # 4 at or below 0.05
    delete, add = _plan(multipliers, p_del=1.0)
    assert not add and len(delete) == 3
    assert set(delete) <= {1, 2, 4, 5}
    delete, add = _plan(multipliers, p_del=0.0)
    assert len(delete) == 0 and not add


def test_deletion_probability_applies_to_each_excess_unit():
    multipliers = np.r_[np.ones(3), np.full(11, 0.03)]  # 11 sub-threshold, reserve 1: 10 excess
    deleted = [len(_plan(multipliers, seed=s)[0]) for s in range(400)]
    assert np.mean(deleted) == pytest.approx(10 * 0.25, abs=0.2)
    assert max(deleted) <= 10


def test_a_unit_is_added_only_when_the_reserve_is_short():
    delete, add = _plan([1.0, 0.9], p_add=1.0)
    assert add and len(delete) == 0
    assert not _plan([1.0, 0.9], p_add=0.0)[1]
    assert not _plan([1.0, 0.9], p_add=1.0, can_add=False)[1]
    # Exactly `reserve` sub-threshold units (one exactly at the threshold): no change.
    delete, add = _plan([1.0, 0.05], p_add=1.0, p_del=1.0)
    assert len(delete) == 0 and not add
    adds = [_plan([1.0, 0.9], seed=s)[1] for s in range(1000)]
    assert np.mean(adds) == pytest.approx(0.05, abs=0.02)


def test_never_deletes_every_unit():
    delete, _ = _plan([0.01, 0.01, 0.01], reserve=0, p_del=1.0, min_units=1)
    assert len(delete) == 2


def test_decisions_are_deterministic_per_seed():
    multipliers = np.r_[np.ones(2), np.full(8, 0.03)]
    runs = [tuple(_plan(multipliers, seed=7)[0]) for _ in range(2)]
    assert runs[0] == runs[1]


# ------------------------------------------------------------ in training


def _rnn_model(units=1, seed=0):
    keras.utils.set_random_seed(seed)
    rnn = keras.layers.RNN(MultiplierSimpleRNNCell(units), return_sequences=True, name="rnn")
    model = keras_grow.DynamicModel(
        keras.Sequential([keras.Input((8, 4)), rnn, keras.layers.Dense(4, name="out")]), seed=seed
    )
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def _sequences(n=64):
    inputs, targets = parenthesis_sequences("hard", n_sequences=n, length=8, seed=0)
    return parenthesis_one_hot(inputs), targets


def test_rnn_grows_and_shrinks_with_history_and_logs():
    model = _rnn_model(units=1)
    x, y = _sequences()
    callback = MultiplierResize(p_add=1.0, p_del=1.0, min_multiplier=0.025, capacity=16, seed=0)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[callback])
    events = model.structure_history
    assert events and all(e.reason.startswith("MultiplierResize") for e in events)
    assert any(e.operation == "add_units" for e in events)
    assert history.history["width_rnn"][-1] == model.widths()["rnn"] > 1
    # Every evaluation leaves at most `reserve` neurons at or below the threshold
    # after a deletion (p_del=1), and new neurons arrive exactly at the threshold.
    cell = model.get_layer("rnn").cell
    assert cell.min_multiplier == 0.025
    multipliers = _numpy(cell.multiplier)[model.active_units("rnn")]
    assert multipliers.min() >= 0.025


def _dense_model(width=3, seed=0):
    keras.utils.set_random_seed(seed)
    base = keras.Sequential(
        [
            keras.Input((4,)),
            MultiplierDense(width, activation="tanh", name="hidden"),
            keras.layers.Dense(2),
        ]
    )
    model = keras_grow.DynamicModel(base, seed=seed)
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    return model


def test_same_seed_same_structure_history():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.zeros((64, 2), "float32")

    def run(seed):
        model = _dense_model()
        callback = MultiplierResize(p_add=0.5, p_del=0.5, capacity=16, seed=seed)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callback])
        kernel = _numpy(model.get_layer("hidden").kernel)
        return [
            (e.step, e.operation, e.count, e.widths["hidden"]) for e in model.structure_history
        ], kernel

    first, kernel = run(3)
    second, again = run(3)
    assert first and second == first
    np.testing.assert_array_equal(again, kernel)


def test_every_spaces_the_evaluations():
    model = _dense_model()
    hidden = model.get_layer("hidden")

    class KeepAboveThreshold(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            hidden.multiplier.assign(np.ones(hidden.multiplier.shape, "float32"))

    callback = MultiplierResize(p_add=1.0, every=3, seed=0)
    callback.set_model(model)
    callback.on_train_begin()
    keeper = KeepAboveThreshold()
    for step in range(8):
        model.optimizer.iterations.assign_add(1)
        keeper.on_train_batch_end(step)
        callback.on_train_batch_end(step)
    steps = [e.step for e in model.structure_history if e.operation == "add_units"]
    assert steps == [3, 6]


def test_max_units_caps_growth():
    model = _dense_model(width=3)
    hidden = model.get_layer("hidden")
    callback = MultiplierResize(p_add=1.0, max_units=4, seed=0)
    callback.set_model(model)
    callback.on_train_begin()
    for step in range(3):
        hidden.multiplier.assign(np.ones(hidden.multiplier.shape, "float32"))
        model.optimizer.iterations.assign_add(1)
        callback.on_train_batch_end(step)
    assert model.widths()["hidden"] == 4


def test_deletes_sub_threshold_dense_units_and_keeps_optimizer_state():
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [
            keras.Input((4,)),
            MultiplierDense(6, activation="tanh", name="hidden"),
            keras.layers.Dense(2),
        ]
    )
    model = keras_grow.DynamicModel(base, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    hidden = model.get_layer("hidden")
    hidden.multiplier.assign([1.0, 0.03, 0.9, 0.03, 0.03, 0.8])
    kernel_slots = [s for s in model.optimizer.variables if s.shape == hidden.kernel.shape]
    before = [_numpy(s)[:, [0, 2, 5]].copy() for s in kernel_slots]
    callback = MultiplierResize(p_del=1.0, seed=0)
    callback.set_model(model)
    callback.on_train_begin()
    model.optimizer.iterations.assign_add(1)
    callback.on_train_batch_end(0)
    assert model.widths()["hidden"] == 4  # three sub-threshold, one kept in reserve
    kept = model.active_units("hidden")
    assert {0, 2, 5} <= set(kept.tolist())
    for slot, value in zip(kernel_slots, before, strict=True):
        np.testing.assert_array_equal(_numpy(slot)[:, [0, 2, 5]], value)
    assert model.structure_history[-1].operation == "remove_units"


def test_residual_blocks_follow_the_same_rule():
    keras.utils.set_random_seed(0)
    stack = MultiplierResidualStack(max_blocks=3, initial_blocks=1, name="stack")
    model = keras_grow.DynamicModel(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(5), stack, keras.layers.Dense(2)])
    )
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    x, y = np.ones((16, 4), "float32"), np.zeros((16, 2), "float32")
    callback = MultiplierResize(layers=["stack"], p_add=1.0, seed=0)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])
    assert stack.depth >= 2 and history.history["depth_stack"][-1] == stack.depth
    added = [e for e in model.structure_history if e.operation == "add_blocks"]
    assert added and added[0].layer == "stack"
    stack.multiplier.assign(np.where(_numpy(stack.active) > 0, 0.03, 0.0).astype("float32"))
    callback.p_del = 1.0
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])
    assert model.structure_history[-1].operation in ("remove_blocks", "add_blocks")
    assert any(e.operation == "remove_blocks" for e in model.structure_history)


def test_needs_a_dynamic_model():
    model = keras.Sequential([keras.Input((4,)), MultiplierDense(3), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    with pytest.raises(TypeError, match="DynamicModel"):
        model.fit(np.ones((4, 4)), np.ones((4, 2)), verbose=0, callbacks=[MultiplierResize()])


def test_layer_floor_must_be_below_threshold():
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [keras.Input((4,)), MultiplierDense(3, min_multiplier=0.1), keras.layers.Dense(2)]
    )
    model = keras_grow.DynamicModel(base)
    model.compile("adam", "mse")
    with pytest.raises(ValueError, match="min_multiplier=0.1"):
        model.fit(np.ones((4, 4)), np.ones((4, 2)), verbose=0, callbacks=[MultiplierResize()])
    with pytest.raises(ValueError, match="not a layer"):
        model.fit(
            np.ones((4, 4)),
            np.ones((4, 2)),
            verbose=0,
            callbacks=[MultiplierResize(layers=["nope"])],
        )


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"deletion_threshold": 0.0}, "deletion_threshold=0.0"),
        ({"deletion_threshold": -0.05}, "deletion_threshold=-0.05"),
        ({"min_multiplier": 0.0}, "min_multiplier=0.0"),
        ({"min_multiplier": 0.05}, "min_multiplier=0.05"),
        ({"min_multiplier": 0.2, "deletion_threshold": 0.1}, "min_multiplier=0.2"),
        ({"p_add": 1.5}, "p_add=1.5"),
        ({"p_add": -0.1}, "p_add=-0.1"),
        ({"p_del": 2}, "p_del=2"),
        ({"reserve": -1}, "reserve=-1"),
        ({"reserve": 1.5}, "reserve=1.5"),
        ({"every": 0}, "every=0"),
        ({"max_units": 0}, "max_units=0"),
        ({"layers": "rnn"}, "layers='rnn'"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument.replace(".", r"\.")) as error:
        MultiplierResize(**kwargs)
    assert "expected" in str(error.value) or "allowed" in str(error.value)
