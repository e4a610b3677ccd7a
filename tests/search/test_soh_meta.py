"""Meta-learning rules and Algorithm 2's control flow on constructed entropies."""

import numpy as np
import pytest

from keras_grow.search import (
    Annealing,
    HillClimbing,
    RandomSearch,
    SelfOrganizingHierarchy,
    make_layout,
)
from keras_grow.search.soh_meta import get_rule, neighbours

TINY = {"feature_map": (4, 8), "units": 3, "hidden": 4, "field": 2}


def test_neighbours_are_unit_shifts_inside_the_map():
    layout = make_layout("flat", **TINY)  # unit 0: fields (0, 0) and (2, 0)
    moves = neighbours(layout, 0)
    assert len(moves) == len(set(moves))
    for index, (row, col) in moves:
        old_row, old_col = layout.fields[0][index]
        assert max(abs(row - old_row), abs(col - old_col)) == 1
        assert 0 <= row <= 2 and 0 <= col <= 6
    # Corner field (0, 0): 3 moves; field (2, 0) on the bottom edge: 3 moves.
    assert len(moves) == 6


def test_hill_climbing_is_strict():
    rule, rng = HillClimbing(), np.random.default_rng(0)
    assert rule.accept(1.0001, 1.0, 0, 10, rng)
    assert not rule.accept(1.0, 1.0, 0, 10, rng)
    assert not rule.accept(0.5, 1.0, 0, 10, rng)


def test_annealing_accepts_worse_moves_with_metropolis_probability():
    rule, rng = Annealing(1.0, 1.0), np.random.default_rng(0)
    assert all(rule.accept(1.1, 1.0, 0, 10, rng) for _ in range(50))
    rate = np.mean([rule.accept(0.0, 1.0, 0, 10, rng) for _ in range(4000)])
    assert abs(rate - np.exp(-1.0)) < 0.03
    cold = Annealing(1.0, 1e-6)
    assert cold.temperature(9, 10) == pytest.approx(1e-6)
    assert not any(cold.accept(0.99, 1.0, 9, 10, rng) for _ in range(100))


def test_random_search_jumps_inside_the_map():
    layout = make_layout("flat", **TINY)
    rng = np.random.default_rng(0)
    for _ in range(50):
        index, corner = RandomSearch().propose(layout, 1, rng)
        assert corner != layout.fields[1][index]
        assert 0 <= corner[0] <= 2 and 0 <= corner[1] <= 6


@pytest.mark.parametrize(
    "rule, error", [("tabu", ValueError), (3, TypeError), (HillClimbing, TypeError)]
)
def test_unknown_rule(rule, error):
    with pytest.raises(error, match="rule="):
        get_rule(rule)


def test_search_accepts_only_entropy_increases(monkeypatch):
    """Algorithm 2 with scripted entropies instead of training."""
    soh = SelfOrganizingHierarchy(layout="pyramidal", seed=0, **TINY)
    soh.history["entropy"].append([1.0, 1.0, 1.0])  # the reference after base learning
    script = iter(
        [
            [0.9, 2.0, 2.0],  # step 0, unit 0: lower -> reject
            [5.0, 1.0, 5.0],  # step 0, unit 1: equal -> reject (strict)
            [0.0, 0.0, 1.5],  # step 0, unit 2: higher -> accept; reference := this
            [0.5, 0.0, 0.0],  # step 1, unit 0: 0.5 > 0.0 -> accept
            [0.4, 9.0, 9.0],  # step 2, unit 0: lower -> reject
            [0.4, 0.0, 9.0],  # step 2, unit 1: equal -> reject
            [0.4, 9.0, 0.0],  # step 2, unit 2: equal -> reject
        ]
    )
    seen_layouts = []

    def scripted_fit(x, epochs=1, batch_size=None, **kwargs):
        seen_layouts.append(soh.layout)
        return {"loss": [[0.0] * 3], "entropy": [next(script)]}

    monkeypatch.setattr(soh, "fit", scripted_fit)
    start = soh.layout
    trials = soh.search(np.zeros((8, 4, 4), "float32"), meta_steps=3)
    assert [t["accepted"] for t in trials] == [False, False, True, True, False, False, False]
    assert [(t["step"], t["unit"]) for t in trials] == [
        (0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1), (2, 2)
    ]  # fmt: skip
    assert [t["reference"] for t in trials] == [1.0, 1.0, 1.0, 0.0, 0.5, 0.0, 0.0]
    # Each trial trains with exactly one field of one unit moved from the current layout.
    expected = start
    for trial, layout in zip(trials, seen_layouts, strict=True):
        assert layout == expected.replace_field(trial["unit"], trial["field"], trial["new"])
        if trial["accepted"]:
            expected = layout
    assert soh.layout == expected != start
    assert [u.fields for u in soh.units] == list(expected.fields)
    assert soh.search_history == trials


def test_search_without_base_learning_starts_from_zero(monkeypatch):
    soh = SelfOrganizingHierarchy(layout="flat", seed=1, **TINY)
    monkeypatch.setattr(
        soh, "fit", lambda *a, **k: {"loss": [[0.0] * 3], "entropy": [[1e-3, 0.0, 0.0]]}
    )
    trials = soh.search(np.zeros((8, 16), "float32"), meta_steps=1)
    assert len(trials) == 1 and trials[0]["accepted"] and trials[0]["reference"] == 0.0
