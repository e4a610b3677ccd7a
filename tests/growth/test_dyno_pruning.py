import numpy as np
import pytest

from keras_grow.growth import pruning


def _independent(rows=200, units=5, seed=0):
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(size=(rows, units)), 0.0)


def test_dormant_units_are_the_all_zero_columns():
    h = _independent()
    h[:, [1, 3]] = 0.0
    assert pruning.dormant_units(h).tolist() == [1, 3]
    h[0, 3] = 0.05
    assert pruning.dormant_units(h).tolist() == [1]
    assert pruning.dormant_units(h, tolerance=0.1).tolist() == [1, 3]


def test_greedy_removes_the_known_duplicates():
    base = _independent(units=4, seed=1)
    # units 4 and 5 duplicate units 0 and 2 (up to scale): each pair shares cosine 1
    h = np.concatenate([base, 3.0 * base[:, [0]], 0.5 * base[:, [2]]], axis=1)
    picked = pruning.greedy_redundant(h, 2)
    assert sorted(picked.tolist()) in ([0, 2], [0, 5], [2, 4], [4, 5])
    # after removing one of each pair, the pairs are broken: no two picks from one pair
    assert not ({0, 4} <= set(picked.tolist()) or {2, 5} <= set(picked.tolist()))


def test_greedy_picks_the_unit_similar_to_many_before_a_pair():
    rng = np.random.default_rng(2)
    a, b = np.abs(rng.normal(size=(300, 2))).T
    hub = a + b  # similar to both a and b
    other = np.maximum(rng.normal(size=300), 0.0)
    h = np.stack([a, b, hub, other], axis=1)
    sims = pruning.cosine_similarities(h)
    np.fill_diagonal(sims, 0.0)
    expected = int(np.argmax(np.linalg.norm(sims, axis=1)))
    assert expected == 2
    assert pruning.greedy_redundant(h, 1).tolist() == [2]


def test_select_prune_takes_dormant_first_then_greedy():
    base = _independent(units=4, seed=3)
    h = np.concatenate([base, base[:, [1]] * 2.0], axis=1)  # unit 4 duplicates unit 1
    h[:, 3] = 0.0  # dormant
    chosen = pruning.select_prune(h, 2)
    assert chosen[0] == 3
    assert chosen[1] in (1, 4)
    # all dormant units go, even beyond count
    h[:, 0] = 0.0
    assert sorted(pruning.select_prune(h, 1).tolist()) == [0, 3]
    # without the dormant rule the dormant units are never "similar"
    assert pruning.select_prune(h, 1, prune_dormant=False).tolist()[0] in (1, 4)


def test_select_prune_keeps_min_units():
    h = np.zeros((50, 3))
    assert len(pruning.select_prune(h, 5)) == 2
    assert len(pruning.select_prune(h, 5, min_units=3)) == 0
    assert len(pruning.select_prune(_independent(units=3), 10, min_units=2)) == 1


def test_select_prune_bad_input():
    with pytest.raises(ValueError, match="count=-1"):
        pruning.select_prune(_independent(), -1)
    with pytest.raises(ValueError, match="min_units=0"):
        pruning.select_prune(_independent(), 1, min_units=0)
    bad = _independent()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pruning.select_prune(bad, 1)
    with pytest.raises(ValueError, match="tolerance"):
        pruning.dormant_units(_independent(), tolerance=-1.0)
