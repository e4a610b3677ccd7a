import math

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow import growth
from keras_grow.callbacks import Neurogenesis


def _mlp(widths=(3, 3), seed=0, **options):
    model = keras_grow.applications.GrowingMLP(
        input_shape=(8,), hidden=widths, classes=2, classifier_activation=None
    )
    model = keras_grow.DynamicModel(model, seed=seed, **options)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _data(n=128, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def _fit(model, callback, epochs=2, batch_size=16, extra=()):
    x, y = _data()
    return model.fit(
        x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[callback, *extra]
    )


def test_north_select_grows_records_reasons_and_never_retraces():
    model = _mlp()
    functions = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            functions.append(self.model.train_function)

    callback = Neurogenesis(
        growth.ActivationTrigger(gamma=0.6),
        growth.NorthSelect(candidates=20),
        max_units=12,
        buffer_size=32,
        rows_per_step=16,
        reserve=True,
    )
    _fit(model, callback, extra=[Watch()])
    widths = model.widths()
    assert 3 < widths["hidden1"] <= 12 and 3 <= widths["hidden2"] <= 12
    assert model.capacities()["hidden1"] == 12  # reserved up front: no reallocation
    assert len(set(map(id, functions))) == 1  # ... and no retrace
    grown = [e for e in model.structure_history if e.operation == "add_units"]
    assert grown and all("ActivationTrigger: effective_dimension=" in e.reason for e in grown)
    assert all(e.step % 2 == 0 for e in grown if e.layer == "hidden1")  # new 32 rows: 2 steps
    assert model._state.taps is None  # unwatched when training ends


def _watch_capacity(model):
    """Fit the 3-3 MLP growing linearly to 40 units; (capacity, width) per step."""
    seen, functions = [], []  # the functions themselves: ids of freed ones get reused

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((self.model.capacities()["hidden1"], self.model.widths()["hidden1"]))
            if not any(f is self.model.train_function for f in functions):
                functions.append(self.model.train_function)

    callback = Neurogenesis(
        growth.FixedSchedule("linear", final_units=40, growth_fraction=0.5),
        growth.NorthSelect(candidates=20),
        max_units=40,
        buffer_size=64,
        rows_per_step=16,
    )
    assert callback.reserve == "auto"
    _fit(model, callback, epochs=2, extra=[Watch()])  # 16 steps, growth over the first 8
    capacities = [c for c, _ in seen]
    assert capacities == sorted(capacities)
    assert all(width <= capacity for capacity, width in seen)
    return sorted(set(capacities)), len(functions), seen


def test_auto_reserve_grows_capacity_geometrically_up_to_max_units():
    """Static storage: 4x the starting width up front, then x growth_factor, capped."""
    model = _mlp((3, 3), reassignable_storage=False)
    capacities, functions, _ = _watch_capacity(model)
    assert capacities == [12, 24, 40]  # 4 x 3, then 2 x 12, then the cap
    assert functions == 3  # each reallocation retraced
    assert model.widths()["hidden1"] == 40 and model.capacities()["hidden1"] == 40
    reserves = [e for e in model.structure_history if e.operation == "reserve"]
    assert [e.count for e in reserves if e.layer == "hidden1"] == [12, 24, 40]


def test_auto_reserve_without_headroom_when_groups_reallocate_in_place():
    """Default storage: Dense groups reallocate in place, so no up-front headroom:
    the capacity follows the width by x1.25 (not the model's x2) and the step
    is never retraced."""
    model = _mlp((3, 3))
    assert model.growth_factor == 2.0
    capacities, functions, seen = _watch_capacity(model)
    assert capacities[0] < 12 and capacities[-1] == 40
    for (before, _), (after, width) in zip(seen, seen[1:]):
        if after != before:  # a reallocation: the width needed, or 1.25x, capped
            assert after == min(40, max(width, math.ceil(1.25 * before)))
    assert len(capacities) > 4  # more, smaller steps than doubling (3, 6, 12, 24, 40)
    assert functions == 1
    assert model.widths()["hidden1"] == 40 and model.capacities()["hidden1"] == 40


@pytest.mark.parametrize("factor", [0.5, "2", None, True])
def test_bad_in_place_growth_factor_is_rejected_before_anything_changes(factor):
    model = _mlp((3, 3))
    callback = Neurogenesis(
        growth.FixedSchedule("linear", final_units=6), growth.NorthRandom(), max_units=8
    )
    callback.in_place_growth_factor = factor
    before = [w.numpy().copy() for w in model.weights]
    with pytest.raises(ValueError, match="in_place_growth_factor"):
        _fit(model, callback, epochs=1)
    assert model.widths()["hidden1"] == 3 and model.capacities()["hidden1"] == 3
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))


def test_max_units_caps_growth_and_evaluation_needs_a_full_fresh_buffer():
    model = _mlp()
    callback = Neurogenesis(
        growth.ActivationTrigger(gamma=0.5),
        growth.NorthRandom(),
        max_units={"hidden1": 5},
        buffer_size=32,
        rows_per_step=16,
        reserve=False,
    )
    _fit(model, callback, epochs=1)
    assert model.widths()["hidden1"] == 5
    first = min(e.step for e in model.structure_history if e.operation == "add_units")
    assert first == 2  # the first full buffer of 32 rows arrives after two steps


def test_fixed_batched_schedule_reaches_final_width_in_eight_events():
    model = _mlp((2, 2))
    callback = Neurogenesis(
        growth.FixedSchedule("batched", final_units=18),
        growth.NorthSelect(10),
        max_units=20,
        buffer_size=32,
        rows_per_step=16,
    )
    _fit(model, callback, epochs=4)  # 32 steps, growth during the first 24
    events = [
        e for e in model.structure_history if e.operation == "add_units" and e.layer == "hidden1"
    ]
    assert [e.count for e in events] == [2] * 8 and events[-1].step == 24
    assert model.widths()["hidden1"] == 18 and model.widths()["hidden2"] == 18


def test_gradient_strategy_with_probe_data():
    model = _mlp()
    x, y = _data()
    trigger, initializer = growth.strategy("gradmax", reduction="mean")
    callback = Neurogenesis(
        trigger, initializer, max_units=8, data=(x, y), probe_size=32, every=2, verbose=1
    )
    _fit(model, callback)
    assert model.widths()["hidden1"] > 3
    assert all(
        "GradientTrigger" in e.reason for e in model.structure_history if e.operation == "add_units"
    )


def test_residual_groups_grow_together_measured_on_their_first_layer():
    inputs = keras.Input((8, 8, 3))
    stem = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(stem)
    x = keras.layers.ReLU()(x)
    inner = keras.layers.Conv2D(4, 3, padding="same", name="inner")(x)
    x = keras.layers.Add()([stem, inner])
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(2)(x), seed=0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = Neurogenesis(
        growth.ActivationTrigger(gamma=0.5),
        growth.NorthSelect(10),
        max_units=10,
        buffer_size=64,
        rows_per_step=64,
    )
    rng = np.random.default_rng(0)
    model.fit(
        rng.normal(size=(32, 8, 8, 3)).astype("float32"),
        rng.integers(0, 2, 32),
        batch_size=8,
        epochs=1,
        verbose=0,
        callbacks=[callback],
    )
    assert callback.groups == ["stem"]
    assert model.widths()["stem"] == model.widths()["inner"] > 4


def test_requires_a_dynamic_model():
    inputs = keras.Input((8,))
    plain = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(3)(inputs)))
    plain.compile("sgd", "mse")
    callback = Neurogenesis(growth.ActivationTrigger(), growth.NorthRandom())
    with pytest.raises(TypeError, match="must be a keras_grow.DynamicModel"):
        plain.fit(np.zeros((4, 8)), np.zeros((4, 2)), callbacks=[callback], verbose=0)


def test_rejections_at_train_begin_change_nothing():
    model = _mlp((6, 6))
    cases = [
        (dict(max_units=4), "max_units=4 for layer 'hidden1' is below its current width 6"),
        (dict(layers=["nope"]), "layers contains 'nope'"),
        (dict(layers=["predictions"]), "layers contains 'predictions'.*model output"),
        (dict(max_units=40, buffer_size=32), "buffer_size=32 must exceed max_units=40"),
    ]
    for kwargs, message in cases:
        callback = Neurogenesis(growth.ActivationTrigger(), growth.NorthSelect(5), **kwargs)
        with pytest.raises(ValueError, match=message):
            _fit(model, callback, epochs=1)
        assert model.widths()["hidden1"] == 6 and model.capacities()["hidden1"] == 6
        assert model.structure_history == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(trigger="rank"), TypeError, "trigger='rank' is not a trigger"),
        (dict(initializer=3), TypeError, "initializer=3 is not callable"),
        (dict(every=0), ValueError, "every=0"),
        (dict(buffer_size=0), ValueError, "buffer_size=0"),
        (dict(max_units=0), ValueError, "max_units=0"),
        (dict(max_units={"hidden1": -1}), ValueError, "max_units\\['hidden1'\\]=-1"),
        (dict(reserve="max"), ValueError, "reserve='max'"),
        (dict(trigger=growth.GradientTrigger()), ValueError, "data=None is not allowed"),
        (dict(layers=[3]), TypeError, "layers contains 3"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    arguments = dict(trigger=growth.ActivationTrigger(), initializer=growth.NorthRandom())
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        Neurogenesis(**arguments)


def test_get_config_names_the_strategy():
    trigger, initializer = growth.strategy("north_select")
    config = Neurogenesis(trigger, initializer, max_units=784, buffer_size=1568).get_config()
    assert config["trigger"] == {"class_name": "ActivationTrigger", "config": trigger.get_config()}
    assert config["initializer"]["config"] == {
        "candidates": 1000,
        "epsilon": 0.01,
        "scoring_rows": "auto",
    }
    assert config["max_units"] == 784 and config["buffer_size"] == 1568


def test_new_units_get_a_fresh_optimizer_state():
    model = _mlp((4, 4))
    callback = Neurogenesis(
        growth.FixedSchedule("batched", final_units=6, intervals=1),
        growth.NorthRandom(),
        max_units=8,
        buffer_size=32,
        rows_per_step=16,
    )
    _fit(model, callback, epochs=1)  # one event at 75 % of the 8 steps
    slots = {slot.path: slot for slot in model.optimizer.variables}
    kernel = model.get_layer("hidden1").kernel
    velocity = next(s for p, s in slots.items() if "hidden1" in p and "kernel_velocity" in p)
    new = model.active_units("hidden1")[4:]
    old = model.active_units("hidden1")[:4]
    # Two steps after the event the new units' second moments, restarted at zero, are small.
    assert velocity.numpy()[:, new].max() < 0.5 * velocity.numpy()[:, old].mean()
    assert kernel.shape[1] == 6  # reallocated in place to the width needed (> 1.25 x 4)


def test_optimizer_state_mean_keeps_the_dynamic_model_rule():
    def velocities(**options):
        model = _mlp((4, 4))
        callback = Neurogenesis(
            growth.FixedSchedule("batched", final_units=6, intervals=1),
            growth.NorthRandom(),
            max_units=8,
            buffer_size=32,
            rows_per_step=16,
            **options,
        )
        _fit(model, callback, epochs=1)
        slots = {slot.path: slot for slot in model.optimizer.variables}
        velocity = next(s for p, s in slots.items() if "hidden1" in p and "kernel_velocity" in p)
        velocity = velocity.numpy()
        units = model.active_units("hidden1")
        return velocity[:, units[4:]].mean(), velocity[:, units[:4]].mean()

    new_mean, old_mean = velocities(optimizer_state="mean")
    new_fresh, old_fresh = velocities(fresh_optimizer_state=True)
    assert new_mean > 0.5 * old_mean  # started at the existing units' mean
    assert new_fresh < 0.5 * old_fresh  # started at zero
    new_alias, old_alias = velocities(fresh_optimizer_state=False)
    assert new_alias > 0.5 * old_alias


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"optimizer_state": "zero"}, ValueError, "optimizer_state='zero'"),
        ({"fresh_optimizer_state": 1}, TypeError, "fresh_optimizer_state=1"),
        ({"optimizer_state": "mean", "fresh_optimizer_state": True}, ValueError, "contradicts"),
    ],
)
def test_bad_optimizer_state_is_rejected(options, error, message):
    trigger, initializer = growth.strategy("north_random")
    with pytest.raises(error, match=message):
        Neurogenesis(trigger, initializer, **options)


@pytest.mark.parametrize("storage", [False, "auto"])
def test_input_taps_follow_reallocations(storage):
    model = _mlp((3, 3), reassignable_storage=storage)
    taps = growth.watch_layers(model, ["hidden1", "hidden2"], buffer_size=32, rows_per_step=16)
    x, y = _data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    function = model.train_function
    model.add_units("hidden1", 5)  # beyond capacity: hidden2's inputs are reallocated
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert (model.train_function is function) is (storage == "auto")  # in place: no retrace
    inputs = taps.inputs("hidden2")
    assert inputs.shape == (32, model.capacities()["hidden1"]) and not taps.stale
    # hidden2 reads hidden1's post-activations: the same rows, recorded in the same steps
    active = model.active_units("hidden1")
    np.testing.assert_array_equal(inputs[:, active], model.activations("hidden1"))
    assert np.abs(inputs[:, active[3:]]).sum() > 0  # the new units' rows were recorded
