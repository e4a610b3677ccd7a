import numpy as np
import pytest

from keras_grow.search import ConstantSchedule, FisherSchedule, darts_schedules


def run(schedule, traces):
    schedule.build()
    return [bool(schedule.should_step(t)) for t in traces]


def test_constant_schedule_steps_every_n_weight_steps():
    assert run(ConstantSchedule(every=10), [None] * 30) == ([False] * 9 + [True]) * 3


def test_fimt_is_an_exponential_moving_average_started_at_the_first_trace():
    schedule = FisherSchedule(initial_threshold=1e9, decay=0.2)
    run(schedule, [10.0])
    assert float(schedule.fimt) == pytest.approx(10.0)
    run(schedule, [20.0])
    assert float(schedule.fimt) == pytest.approx(0.2 * 20 + 0.8 * 10)


def test_constant_trace_gives_one_arch_step_every_ratio_plus_one_steps():
    schedule = FisherSchedule(initial_threshold=1.0, increase=1.05, ratio=10, decay=0.2)
    fired = run(schedule, [5.0] * 2000)
    steps = np.flatnonzero(fired)
    assert len(steps) > 100
    np.testing.assert_array_equal(np.diff(steps[5:]), 11)
    assert schedule.decrease == pytest.approx(1.05**-10)


def test_arch_steps_wait_while_the_trace_falls_faster_than_the_threshold_rises():
    falling = [100.0 * 0.9**n for n in range(40)]  # falls 10 % per step, h rises 5 %
    schedule = FisherSchedule(initial_threshold=1.0)
    fired = run(schedule, falling + [falling[-1]] * 60)
    first = fired.index(True)
    # h = 1.05^n meets F ~ 100 * 0.9^n around n = 31; no α step before that
    assert 25 <= first <= 40
    assert sum(fired[first:]) >= 5


def test_schedule_lookup_and_bad_arguments():
    assert darts_schedules.get(10).every == 10
    assert isinstance(darts_schedules.get("fisher"), FisherSchedule)
    assert darts_schedules.get("frozen").needs_arch_data is False
    with pytest.raises(ValueError, match="`arch_schedule` must be .* received 'sometimes'"):
        darts_schedules.get("sometimes")
    with pytest.raises(ValueError, match="`every` must be a positive int; received 0"):
        ConstantSchedule(every=0)
    with pytest.raises(ValueError, match="`increase` must be a number >= 1.0; received 0.9"):
        FisherSchedule(increase=0.9)
    with pytest.raises(ValueError, match="`decay` must be a number > 0.0 and <= 1.0"):
        FisherSchedule(decay=1.5)
