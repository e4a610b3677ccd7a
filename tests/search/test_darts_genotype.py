import numpy as np
import pytest

from keras_grow.layers import DARTS_PRIMITIVES
from keras_grow.search import DARTS_V2, Genotype, derive_genotype
from keras_grow.search import genotype as genotype_lib

P = DARTS_PRIMITIVES
NONE, MAX, AVG, SKIP, SEP3, SEP5, DIL3, DIL5 = range(8)


def hand_made():
    """Two-node cell (5 edges): edge 0/1 feed node 2, edges 2/3/4 feed node 3."""
    w = np.full((5, 8), 0.01)
    w[0, NONE] = 0.9  # 'none' dominates edge 0 but is never selected
    w[0, SEP3] = 0.05
    w[1, SKIP] = 0.3
    w[2, MAX] = 0.2
    w[3, DIL5] = 0.6
    w[3, SEP5] = 0.5
    w[4, AVG] = 0.4
    return w


def test_top_two_distinct_inputs_per_node_without_none():
    normal = genotype_lib.derive_cell(hand_made(), P)
    assert normal == (
        ("skip_connect", 1),
        ("sep_conv_3x3", 0),  # edge 0 is ranked by its best operation other than 'none'
        ("dil_conv_5x5", 1),
        ("avg_pool_3x3", 2),
    )
    for node in range(2):
        assert normal[2 * node][1] != normal[2 * node + 1][1]
    assert all(name != "none" for name, _ in normal)


def test_ties_prefer_the_earlier_state_then_the_earlier_primitive():
    w = np.zeros((5, 8))
    w[:, SEP3] = w[:, DIL3] = 0.5  # every edge ties, every primitive ties with another
    cell = genotype_lib.derive_cell(w, P)
    assert cell == (
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
    )


def test_projection_in_numpy_and_in_the_graph_agree_with_the_derivation():
    rng = np.random.default_rng(3)
    for _ in range(5):
        w = rng.random((14, 8)).astype("float32")
        w[rng.random((14, 8)) < 0.2] = 0.5  # plenty of ties
        mask = genotype_lib.projection(w, P)
        graph = np.asarray(genotype_lib.projection_mask(w, P, nodes=4))
        np.testing.assert_array_equal(mask, graph)
        assert mask.sum() == 8 and mask[:, NONE].sum() == 0


def test_derive_genotype_concatenates_the_last_states():
    g = derive_genotype(hand_made(), hand_made(), P)
    assert g.normal_concat == (2, 3) and g.reduce == g.normal
    assert derive_genotype(hand_made(), hand_made(), P, multiplier=1).normal_concat == (3,)


def test_darts_v2_ships_with_the_package():
    assert DARTS_V2.nodes == 4
    assert DARTS_V2.count("sep_conv_3x3") == 5 and DARTS_V2.count("skip_connect") == 2
    assert DARTS_V2.count("max_pool_3x3", "reduce") == 5 and DARTS_V2.reduce_concat == (2, 3, 4, 5)
    assert Genotype.from_dict(DARTS_V2.to_dict()) == DARTS_V2


@pytest.mark.parametrize(
    "weights,primitives,nodes,message",
    [
        (np.zeros((6, 8)), P, None, "6 rows, which is not the edge count"),
        (np.zeros((5, 7)), P, None, r"shape \(num_edges, len\(primitives\)=8\)"),
        (np.zeros((5, 8)), P, 4, "a cell with 2 nodes\\) but nodes=4"),
        (np.zeros((5, 1)), ("none",), None, "Every primitive"),
    ],
)
def test_bad_weights_are_rejected(weights, primitives, nodes, message):
    with pytest.raises(ValueError, match=message):
        genotype_lib.derive_cell(weights, primitives, nodes)


def test_bad_genotypes_are_rejected():
    with pytest.raises(TypeError, match="must be a keras_grow.search.Genotype"):
        genotype_lib.check_genotype("DARTS_V2")
    bad = DARTS_V2._replace(reduce_concat=(0, 2, 3))
    with pytest.raises(ValueError, match="may only list intermediate states"):
        genotype_lib.check_genotype(bad)
    with pytest.raises(ValueError, match="`cell` must be 'normal' or 'reduce'"):
        DARTS_V2.count("skip_connect", "both")
