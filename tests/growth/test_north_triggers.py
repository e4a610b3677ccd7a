import numpy as np
import pytest

from keras_grow.growth import (
    ActivationTrigger,
    FixedSchedule,
    GradientTrigger,
    Observation,
    WeightTrigger,
)


def _activations(rank, width, n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, rank)) @ rng.normal(size=(rank, width))


def test_activation_trigger_counts_rank_above_gamma_times_baseline():
    trigger = ActivationTrigger(gamma=0.97)
    first = Observation(layer="h", width=8, activations=_activations(8, 8))
    assert trigger(first) == 0  # baseline phi_0 = 1; floor(8 * 0.03) = 0
    assert trigger.baselines["h"] == 1.0
    assert trigger(Observation(layer="h", width=40, activations=_activations(40, 40))) == 1
    assert (
        trigger(Observation(layer="h", width=200, activations=_activations(200, 200, n=900))) == 6
    )
    # 30 independent directions in 40 units: phi = 0.75 < 0.97: max(0, ...) gives 0, not negative.
    assert trigger(Observation(layer="h", width=40, activations=_activations(30, 40))) == 0
    decision = trigger.last["h"]
    assert decision.value == pytest.approx(0.75) and decision.count == 0
    assert "effective_dimension=0.75" in trigger.reason("h")
    loose = ActivationTrigger(gamma=0.5)
    loose(Observation(layer="h", width=10, activations=_activations(10, 10)))
    assert loose(Observation(layer="h", width=40, activations=_activations(30, 40))) == 10


def test_baselines_are_per_layer_and_reset():
    trigger = ActivationTrigger(gamma=0.9)
    trigger(Observation(layer="a", width=10, activations=_activations(5, 10)))
    trigger(Observation(layer="b", width=10, activations=_activations(10, 10)))
    assert trigger.baselines == {"a": 0.5, "b": 1.0}
    # layer "a" doubled its rank relative to its own baseline: 10 - 0.9 * 0.5 * 10 = 5.5
    assert trigger(Observation(layer="a", width=10, activations=_activations(10, 10))) == 5
    trigger.reset()
    assert trigger.baselines == {} and trigger.last == {}


def test_convolutions_use_the_running_maximum_eq_35():
    trigger = ActivationTrigger(gamma=0.9)
    conv = dict(layer="c", width=20, convolutional=True)
    assert trigger(Observation(**conv, activations=_activations(10, 20))) == 1  # 20*(0.5-0.45)
    assert trigger(Observation(**conv, activations=_activations(16, 20))) == 1  # max 0.8: 16-14.4
    assert trigger.baselines["c"] == pytest.approx(0.8)
    assert trigger(Observation(**conv, activations=_activations(12, 20))) == 0  # 12 < 14.4
    assert trigger.baselines["c"] == pytest.approx(0.8)  # the maximum is kept
    dense = ActivationTrigger(gamma=0.9, baseline="initial")
    dense(Observation(**conv, activations=_activations(10, 20)))
    assert dense(Observation(**conv, activations=_activations(16, 20))) == 7  # 16 - 0.9*0.5*20


def test_too_few_rows_is_no_decision_not_an_error():
    trigger = ActivationTrigger()
    assert trigger(Observation(layer="h", width=8, activations=np.ones((8, 8)))) == 0
    assert np.isnan(trigger.last["h"].value)
    assert "h" not in trigger.baselines


def test_orthogonality_gap_metric_variant():
    trigger = ActivationTrigger(metric="orthogonality_gap", gamma=0.5)
    orthogonal = np.eye(6, 10)
    assert trigger(Observation(layer="h", width=10, activations=orthogonal)) == 5  # 10*(1-0.5)


def test_weight_trigger_counts_on_the_fan_in_matrix():
    rng = np.random.default_rng(3)
    trigger = WeightTrigger(gamma=0.5, samples=1)
    low_rank = rng.normal(size=(10, 3)) @ rng.normal(size=(3, 30))
    assert trigger(Observation(layer="w", width=10, weights=low_rank)) == 1  # 3 - 0.5*0.3*10
    assert trigger(Observation(layer="w", width=10, weights=rng.normal(size=(10, 30)))) == 8
    scaled = WeightTrigger(gamma=0.99)  # samples from the observation: sigma / sqrt(n)
    tiny = rng.normal(size=(4, 30)) * 0.01
    assert scaled.measure(tiny, samples=1) == 1.0
    scaled(Observation(layer="w", width=4, weights=tiny, samples=1568))
    assert scaled.last["w"].value == 0.0


def test_gradient_trigger_compares_singular_values_with_summed_unit_norms():
    trigger = GradientTrigger()
    observation = Observation(
        layer="g",
        width=2,
        auxiliary_gradient=np.diag([5.0, 1.2, 0.1]),
        unit_gradient_norms=np.array([0.5, 0.8]),
    )
    assert trigger(observation) == 1
    assert trigger.last["g"].threshold == pytest.approx(1.3)
    observation.unit_gradient_norms = np.array([0.01, 0.01])
    assert trigger(observation) == 3
    mean = GradientTrigger(reduction="mean")
    observation.unit_gradient_norms = np.array([1.0, 2.0])
    assert mean(observation) == 1 and mean.last["g"].threshold == pytest.approx(1.5)
    with pytest.raises(ValueError, match="auxiliary_gradient"):
        trigger(Observation(layer="g", width=2))


def test_fixed_schedules_linear_and_batched():
    linear = FixedSchedule("linear", final_units=256)
    assert linear.target("h", 0, 200, 64) == 64
    assert linear.target("h", 150, 200, 64) == 256  # 75 % of 200 steps
    assert linear.target("h", 190, 200, 64) == 256
    widths = [linear.target("h", step, 400, 64) for step in range(401)]
    assert max(np.diff(widths)) == 1 and widths[-1] == 256  # one unit per step
    batched = FixedSchedule("batched", final_units={"h": 256})
    widths = [batched.target("h", step, 160, 64) for step in range(161)]
    assert len(set(widths)) == 9 and widths[-1] == 256 and widths[120] == 256
    assert batched.target("other", 50, 160, 64) == 64  # no final width: no growth
    assert (
        batched(Observation(layer="h", width=64, step=15, total_steps=160, initial_width=64)) == 24
    )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ActivationTrigger(gamma=0), "gamma=0"),
        (lambda: ActivationTrigger(gamma=-0.5), "gamma=-0.5"),
        (lambda: ActivationTrigger(metric="rank"), "metric='rank'"),
        (lambda: ActivationTrigger(epsilon=0), "epsilon=0"),
        (lambda: ActivationTrigger(baseline="first"), "baseline='first'"),
        (lambda: WeightTrigger(gamma=0.0), "gamma=0.0"),
        (lambda: WeightTrigger(samples=0), "samples=0"),
        (lambda: GradientTrigger(scale=0), "scale=0"),
        (lambda: GradientTrigger(reduction="max"), "reduction='max'"),
        (lambda: FixedSchedule("cubic"), "kind='cubic'"),
        (lambda: FixedSchedule(final_units=0), "final_units=0"),
        (lambda: FixedSchedule(growth_fraction=1.5), "growth_fraction=1.5"),
        (lambda: FixedSchedule(intervals=0), "intervals=0"),
    ],
)
def test_bad_trigger_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_configs_round_trip():
    for trigger in (
        ActivationTrigger("orthogonality_gap", 0.9, 0.02, "initial"),
        WeightTrigger(0.95, samples=10),
        GradientTrigger(2.0, "mean"),
        FixedSchedule("batched", {"h": 100}, 0.5, 4),
    ):
        assert type(trigger).from_config(trigger.get_config()).get_config() == trigger.get_config()
