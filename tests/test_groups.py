import itertools

import numpy as np
import pytest
from keras import ops

from keras_grow import groups

NAMES = groups.GROUP_NAMES
ORDERS = {"C1": 1, "C2": 2, "C4": 4, "D1": 2, "D2": 4, "D4": 8}
# SUBGROUP[a][b]: is a <= b ?
SUBGROUP_PAIRS = {
    ("C1", b) for b in NAMES
} | {
    ("C2", "C2"), ("C2", "C4"), ("C2", "D2"), ("C2", "D4"),
    ("C4", "C4"), ("C4", "D4"),
    ("D1", "D1"), ("D1", "D2"), ("D1", "D4"),
    ("D2", "D2"), ("D2", "D4"),
    ("D4", "D4"),
}  # fmt: skip
PAIRS = [(g, s) for g in NAMES for s in NAMES if (s, g) in SUBGROUP_PAIRS]


def random_array(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("name", NAMES)
def test_get_returns_group_with_expected_order_and_elements(name):
    group = groups.get(name)
    assert group.name == name
    assert group.order == ORDERS[name] == len(group.elements)
    assert groups.get(group) is group
    for index, (m, r) in enumerate(group.elements):
        assert index == m * group.rotations + r
        assert group.index((m, r)) == index
    assert group.has_mirror == name.startswith("D")
    assert all(m == 0 for m, _ in group.elements) != group.has_mirror


@pytest.mark.parametrize("bad", ["D8", "c4", "", 4, None])
def test_unknown_group_name_raises_naming_value_and_allowed(bad):
    with pytest.raises(ValueError, match="Unknown group name") as info:
        groups.get(bad)
    assert repr(bad) in str(info.value)
    assert "'C1'" in str(info.value) and "'D4'" in str(info.value)


def test_group_cannot_be_instantiated_directly():
    with pytest.raises(TypeError, match="groups.get"):
        groups.Group("C4")


def test_bad_element_raises():
    c4 = groups.get("C4")
    with pytest.raises(ValueError, match="out of range"):
        c4.index(4)
    with pytest.raises(ValueError, match=r"not in C4"):
        c4.index((1, 0))


@pytest.mark.parametrize("name", NAMES)
def test_group_axioms(name):
    group = groups.get(name)
    table, n = group.product_table, group.order
    # closure: the table is a Latin square over the element indices
    for row in table:
        assert sorted(row) == list(range(n))
    for column in table.T:
        assert sorted(column) == list(range(n))
    for a, b, c in itertools.product(range(n), repeat=3):
        assert table[table[a, b], c] == table[a, table[b, c]]
    e = group.identity
    assert all(table[e, a] == a == table[a, e] for a in range(n))
    assert all(table[a, group.inverse(a)] == e == table[group.inverse(a), a] for a in range(n))


def test_product_formula_and_geometry():
    d4 = groups.get("D4")
    image = random_array((5, 5))
    rot = d4.index((0, 1))
    mirror = d4.index((1, 0))
    np.testing.assert_array_equal(d4.act_on_grid(rot, image), np.rot90(image))
    np.testing.assert_array_equal(d4.act_on_grid(mirror, image), np.fliplr(image))
    # (m, r) = R^r F^m: mirror first, then rotate
    np.testing.assert_array_equal(d4.act_on_grid((1, 1), image), np.rot90(np.fliplr(image)))
    # F R F = R^-1
    assert d4.multiply(d4.multiply(mirror, rot), mirror) == d4.inverse(rot)
    assert d4.element(d4.multiply((1, 1), (0, 1))) == (1, 0)
    assert d4.element(d4.multiply((0, 1), (1, 1))) == (1, 2)
    c2 = groups.get("C2")
    np.testing.assert_array_equal(c2.act_on_grid(1, image), np.rot90(image, 2))


@pytest.mark.parametrize("name", NAMES)
def test_grid_action_is_a_homomorphism(name):
    group = groups.get(name)
    x = random_array((2, 7, 7, 3))
    for a, b in itertools.product(range(group.order), repeat=2):
        ab = group.multiply(a, b)
        expected = group.act_on_grid(ab, x, axes=(1, 2))
        np.testing.assert_array_equal(
            group.act_on_grid(a, group.act_on_grid(b, x, axes=(1, 2)), axes=(1, 2)), expected
        )
        np.testing.assert_array_equal(
            ops.convert_to_numpy(group.act_on_grid_ops(ab, x, axes=(1, 2))), expected
        )
    identity = group.act_on_grid(group.identity, x, axes=(1, 2))
    np.testing.assert_array_equal(identity, x)


@pytest.mark.parametrize("name", NAMES)
def test_regular_and_feature_map_actions_are_homomorphisms(name):
    group = groups.get(name)
    f = random_array((2, 5, 5, 3 * group.order))
    for a, b in itertools.product(range(group.order), repeat=2):
        ab = group.multiply(a, b)
        perm = group.regular_permutation(a)
        assert sorted(perm) == list(range(group.order))
        np.testing.assert_array_equal(
            group.act_on_channels(a, group.act_on_channels(b, f)), group.act_on_channels(ab, f)
        )
        expected = group.act_on_feature_map(ab, f)
        np.testing.assert_array_equal(
            group.act_on_feature_map(a, group.act_on_feature_map(b, f)), expected
        )
        np.testing.assert_array_equal(
            ops.convert_to_numpy(group.act_on_feature_map_ops(ab, f)), expected
        )


def test_regular_permutation_follows_left_translation():
    d4 = groups.get("D4")
    f = np.arange(8)
    for g in range(8):
        moved = d4.act_on_channels(g, f)
        # (g . f)(g h) = f(h)
        assert all(moved[d4.multiply(g, h)] == f[h] for h in range(8))


def test_act_on_channels_rejects_bad_channel_count():
    with pytest.raises(ValueError, match="multiple of"):
        groups.get("C4").act_on_channels(1, np.zeros((1, 6)))


@pytest.mark.parametrize("sub", NAMES)
@pytest.mark.parametrize("name", NAMES)
def test_subgroup_relation(name, sub):
    assert groups.get(sub).is_subgroup_of(name) == ((sub, name) in SUBGROUP_PAIRS)


def test_named_subgroup_relations():
    get = groups.get
    assert get("C2").is_subgroup_of("C4") and get("C4").is_subgroup_of("D4")
    assert get("D1").is_subgroup_of("D2") and get("D2").is_subgroup_of("D4")
    assert all(get("C1").is_subgroup_of(n) for n in NAMES)
    assert not get("C4").is_subgroup_of("D2")
    assert not get("D1").is_subgroup_of("C4")
    assert [g.name for g in get("D4").subgroups()] == list(NAMES)
    assert [g.name for g in get("C4").subgroups()] == ["C1", "C2", "C4"]
    assert [g.name for g in get("D2").subgroups()] == ["C1", "C2", "D1", "D2"]


@pytest.mark.parametrize("name,sub", PAIRS)
def test_coset_representatives_partition_the_group(name, sub):
    group, subgroup = groups.get(name), groups.get(sub)
    members = group.embedding(sub)
    # the embedding is a homomorphism
    for a, b in itertools.product(range(subgroup.order), repeat=2):
        assert members[subgroup.multiply(a, b)] == group.multiply(members[a], members[b])
    reps = group.coset_representatives(sub)
    assert reps[0] == group.identity
    assert len(reps) == group.order // subgroup.order
    cosets = [{group.multiply(h, t) for h in members} for t in reps]
    assert all(len(c) == subgroup.order for c in cosets)
    assert set().union(*cosets) == set(range(group.order))
    sub_index, rep_position = group.coset_decomposition(sub)
    for g in range(group.order):
        assert group.multiply(members[sub_index[g]], reps[rep_position[g]]) == g


@pytest.mark.parametrize("name,sub", PAIRS)
def test_subgroup_channel_order_commutes_with_the_subgroup_action(name, sub):
    group, subgroup = groups.get(name), groups.get(sub)
    order = group.subgroup_channel_order(sub, fields=2)
    assert sorted(order) == list(range(2 * group.order))
    x = random_array((1, 5, 5, 2 * group.order))
    for h, g in enumerate(group.embedding(sub)):
        np.testing.assert_array_equal(
            subgroup.act_on_feature_map(h, x[..., order]),
            group.act_on_feature_map(g, x)[..., order],
        )


def test_non_subgroup_is_rejected():
    with pytest.raises(ValueError, match="`subgroup`='C4' is not a subgroup of D2"):
        groups.get("D2").coset_representatives("C4")


def test_smallest_common_supergroup():
    assert groups.smallest_common_supergroup(["C2", "D1"]).name == "D2"
    assert groups.smallest_common_supergroup(["C4", "D1"]).name == "D4"
    assert groups.smallest_common_supergroup(["C1"]).name == "C1"
    with pytest.raises(ValueError, match="at least one"):
        groups.smallest_common_supergroup([])


@pytest.mark.parametrize(
    "size,kernel,strides,padding,expected",
    [
        (9, 3, 2, "valid", True),  # centres 1, 3, 5, 7
        (10, 3, 2, "valid", False),
        (11, 3, 2, "valid", True),
        (9, 3, 2, "same", True),  # centres 0, 2, 4, 6, 8
        (10, 3, 2, "same", False),  # centres 1, 3, 5, 7, 9
        (8, 3, 1, "same", True),
        (28, 2, 2, "valid", True),  # average pooling 28 -> 14
        (7, 2, 2, "valid", False),  # 7 -> 3 drops the last row
        (7, 3, 2, "valid", True),
    ],
)
def test_grid_is_symmetric(size, kernel, strides, padding, expected):
    assert groups.grid_is_symmetric(size, kernel, strides, padding) is expected
