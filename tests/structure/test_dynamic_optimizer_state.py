"""Optimizer state follows structural edits."""

import warnings

import keras
import numpy as np
import pytest
from topologies import build, sample_inputs

import keras_grow
from keras_grow.structure import optimizer_state

OPTIMIZERS = {
    "sgd_momentum": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    "adam": lambda: keras.optimizers.Adam(1e-3),
    "adamw": lambda: keras.optimizers.AdamW(1e-3, weight_decay=1e-2),
    "rmsprop": lambda: keras.optimizers.RMSprop(1e-3, momentum=0.5, centered=True),
}


def _trained(optimizer, steps=60, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras_grow.DynamicModel(build("mlp"), seed=seed)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = sample_inputs("mlp", 8 * steps, seed=1)
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model, x, y


def _slots(model, layer, attribute):
    variable = getattr(model.get_layer(layer), attribute)
    table = optimizer_state.slots_by_variable(model.optimizer)
    return {kind: keras.ops.convert_to_numpy(slot).copy() for slot, kind in table[id(variable)]}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_surviving_units_keep_their_slots_exactly(name):
    model, _, _ = _trained(OPTIMIZERS[name]())
    kernel_h1 = _slots(model, "h1", "kernel")
    kernel_h2 = _slots(model, "h2", "kernel")
    assert kernel_h1, "optimizer should have slots"
    model.add_units("h1", 4)  # reallocates h1 (6 -> 12 slots) and h2's rows
    model.remove_units("h2", [1, 3])
    after_h1 = _slots(model, "h1", "kernel")
    after_h2 = _slots(model, "h2", "kernel")
    for kind, before in kernel_h1.items():
        np.testing.assert_array_equal(after_h1[kind][:, :6], before)
    for kind, before in kernel_h2.items():
        kept_columns = [0, 2, 4]
        np.testing.assert_array_equal(after_h2[kind][:6, kept_columns], before[:, kept_columns])
        np.testing.assert_array_equal(after_h2[kind][:, [1, 3]], 0.0)


def _first_step_after_growth(name):
    """|Δw| of the new units' fan-out and of the existing units' in the first step."""
    model, x, y = _trained(OPTIMIZERS[name](), steps=150)
    model.optimizer.iterations.assign(10_000)  # as after a long run: bias corrections ~1
    learning_rate = float(model.optimizer.learning_rate)
    model.add_units("h1", 3)
    slots = model.active_units("h1")
    new_slots, old_slots = slots[-3:], slots[:-3]
    h2 = model.get_layer("h2")
    before = keras.ops.convert_to_numpy(h2.kernel).copy()
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    step = np.abs(keras.ops.convert_to_numpy(h2.kernel) - before)
    if name == "adamw":  # remove the decoupled weight decay's share
        step = np.maximum(step - 1e-2 * learning_rate * np.abs(before) - 1e-9, 0)
    return step[new_slots], step[old_slots], learning_rate


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_first_adam_step_of_a_new_unit_is_bounded_by_the_learning_rate(name):
    """Zero second moments at a large step would give ~3.2x the learning rate."""
    new, _, learning_rate = _first_step_after_growth(name)
    assert new.max() > 0, "the new units' fan-out should receive a gradient"
    assert new.max() <= 1.5 * learning_rate


def test_first_rmsprop_step_of_a_new_unit_is_like_existing_units():
    """RMSprop has no bias correction and a short memory: existing units also
    step beyond the learning rate; new units must not step further than they do."""
    new, old, _ = _first_step_after_growth("rmsprop")
    assert 0 < new.max() <= 1.5 * old.max()


def test_fresh_optimizer_state_starts_second_moments_at_zero():
    """`optimizer_state="fresh"`: new units' velocities start at 0 (a fresh parameter's
    state, first step ~(1 - beta_1) / sqrt(1 - beta_2) x lr); surviving units keep theirs."""
    model, x, y = _trained(OPTIMIZERS["adam"](), steps=150)
    model.optimizer.iterations.assign(10_000)
    learning_rate = float(model.optimizer.learning_rate)
    before = _slots(model, "h2", "kernel")
    model.add_units("h1", 3, optimizer_state="fresh")
    new_slots = model.active_units("h1")[-3:]
    after = _slots(model, "h2", "kernel")
    np.testing.assert_array_equal(after["velocity"][new_slots], 0.0)
    np.testing.assert_array_equal(after["momentum"][new_slots], 0.0)
    np.testing.assert_array_equal(after["velocity"][:6], before["velocity"])
    h2 = model.get_layer("h2")
    weights = keras.ops.convert_to_numpy(h2.kernel)[new_slots].copy()
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    step = np.abs(keras.ops.convert_to_numpy(h2.kernel)[new_slots] - weights)
    assert step.max() > 2.5 * learning_rate


def test_mean_optimizer_state_is_the_default_and_explicit_mean_matches():
    runs = []
    for options in ({}, {"optimizer_state": "mean"}):
        model, _, _ = _trained(OPTIMIZERS["adam"](), steps=20)
        model.add_units("h1", 2, **options)
        runs.append(_slots(model, "h2", "kernel")["velocity"])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0][model.active_units("h1")[-2:]].min() > 0


def test_zero_second_moments_would_overshoot():
    """The rule above matters: with zeroed velocities the same step overshoots."""
    model, x, y = _trained(OPTIMIZERS["adam"](), steps=150)
    model.optimizer.iterations.assign(10_000)
    learning_rate = float(model.optimizer.learning_rate)
    model.add_units("h1", 3)
    new_slots = model.active_units("h1")[-3:]
    h2 = model.get_layer("h2")
    for slot, _ in optimizer_state.slots_by_variable(model.optimizer)[id(h2.kernel)]:
        value = keras.ops.convert_to_numpy(slot).copy()
        value[new_slots] = 0.0
        slot.assign(value)
    before = keras.ops.convert_to_numpy(h2.kernel)[new_slots].copy()
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    step = np.abs(keras.ops.convert_to_numpy(h2.kernel)[new_slots] - before)
    assert step.max() > 2.5 * learning_rate


def test_iterations_and_learning_rate_schedule_continue():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=10, decay_rate=0.5)
    model, x, y = _trained(keras.optimizers.Adam(schedule), steps=30)
    iterations = int(model.optimizer.iterations)
    model.add_units("h1", 4)
    model.remove_units("h2", [0])
    assert int(model.optimizer.iterations) == iterations == 30
    model.fit(x[:16], y[:16], batch_size=8, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 32
    np.testing.assert_allclose(float(model.optimizer.learning_rate), float(schedule(32)), rtol=1e-6)


def test_inactive_slots_stay_exactly_zero_during_training():
    model, x, y = _trained(OPTIMIZERS["adamw"]())
    model.remove_units("h1", [2])
    slot = 2
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    h1, h2 = model.get_layer("h1"), model.get_layer("h2")
    assert np.all(keras.ops.convert_to_numpy(h1.kernel)[:, slot] == 0)
    assert keras.ops.convert_to_numpy(h1.bias)[slot] == 0
    assert np.all(keras.ops.convert_to_numpy(h2.kernel)[slot] == 0)


class UnusualSGD(keras.optimizers.SGD):
    """An optimizer with a slot kind keras_grow has no rule for."""

    def build(self, variables):
        super().build(variables)
        self._traces = self.add_optimizer_variables(variables, "trace")

    def update_step(self, gradient, variable, learning_rate):
        trace = self._traces[self._get_variable_index(variable)]
        self.assign(trace, 0.9 * trace + gradient)
        self.assign_sub(variable, learning_rate * trace)


def test_unknown_optimizer_falls_back_with_a_warning():
    model, _, _ = _trained(UnusualSGD(1e-2))
    before = _slots(model, "h1", "kernel")["trace"]
    with pytest.warns(UserWarning, match="no rule for"):
        model.add_units("h1", 2)
    after = _slots(model, "h1", "kernel")["trace"]
    np.testing.assert_array_equal(after[:, :6], before)
    np.testing.assert_array_equal(after[:, 6:], 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.add_units("h1", 1)  # warned once per optimizer


def test_loss_scale_optimizer_is_unwrapped():
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3))
    model, _, _ = _trained(optimizer)
    before = _slots(model, "h1", "kernel")
    model.add_units("h1", 2)
    after = _slots(model, "h1", "kernel")
    for kind in before:
        np.testing.assert_array_equal(after[kind][:, :6], before[kind])
