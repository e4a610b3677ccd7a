import numpy as np
import pytest

from keras_grow.layers import DropPath, GenotypeCell, SearchCell, darts_cells

SMALL = ("none", "skip_connect", "avg_pool_3x3")


def images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_four_node_cell_has_fourteen_edges_in_node_order():
    assert darts_cells.num_edges(4) == 14
    assert darts_cells.edge_sources(2) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    cell = SearchCell(4, nodes=4, primitives=SMALL)
    assert len(cell.edges) == 14 and cell.edges[13].name == "edge_5_4"


@pytest.mark.parametrize("reduction,reduction_prev", [(False, False), (True, False), (False, True)])
def test_search_cell_shapes_and_strides(reduction, reduction_prev):
    cell = SearchCell(
        4, reduction=reduction, reduction_prev=reduction_prev, nodes=2, primitives=SMALL
    )
    s0 = images((2, 8, 8, 6)) if reduction_prev else images((2, 4, 4, 6))
    s1 = images((2, 4, 4, 5))
    out = cell([s0, s1], np.full((5, 3), 0.5, "float32"))
    expected = 2 if reduction else 4
    assert tuple(out.shape) == (2, expected, expected, 8)  # multiplier 2 x 4 channels
    strides = [edge.strides for edge in cell.edges]
    assert strides == ([2, 2, 2, 2, 1] if reduction else [1] * 5)


def test_output_concatenates_the_nodes_made_of_weighted_edges():
    cell = SearchCell(4, nodes=2, primitives=("skip_connect", "avg_pool_3x3"))
    s0, s1 = images((1, 5, 5, 4)), images((1, 5, 5, 4), seed=1)
    weights = np.zeros((5, 2), "float32")
    weights[1, 0] = 1.0  # node 2 = skip(state 1)
    weights[4, 0] = 2.0  # node 3 = 2 * skip(state 2)
    out = cell([s0, s1], weights, training=False).numpy()
    state1 = cell.preprocess1(s1, training=False).numpy()
    np.testing.assert_allclose(out[..., :4], state1, atol=1e-6)
    np.testing.assert_allclose(out[..., 4:], 2 * state1, atol=1e-6)


def test_crb_cells_normalise_every_node_and_prune_per_edge():
    cell = SearchCell(4, nodes=2, primitives=("skip_connect", "avg_pool_3x3"), node_batch_norm=True)
    out = cell(
        [images((8, 4, 4, 4)), images((8, 4, 4, 4), 1)], np.ones((5, 2), "float32"), training=True
    )
    assert len(cell.node_norms) == 2 and not cell.node_norms[0].scale
    node = out.numpy()[..., :4]
    np.testing.assert_allclose(node.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    cell.prune([["avg_pool_3x3"], [], [], [], ["skip_connect", "avg_pool_3x3"]])
    assert cell.pruned[0] == ("avg_pool_3x3",) and cell.edges[4].active_primitives == ()
    clone = SearchCell.from_config(cell.get_config())
    assert clone.pruned == cell.pruned and clone.node_batch_norm


def test_genotype_cell_shapes_and_drop_path():
    operations = [
        ("sep_conv_3x3", 0),
        ("skip_connect", 1),
        ("max_pool_3x3", 0),
        ("dil_conv_3x3", 2),
    ]
    cell = GenotypeCell(4, operations, concat=[2, 3], reduction=True, seed=1)
    x = images((16, 8, 8, 4))
    assert tuple(cell([x, x]).shape) == (16, 4, 4, 8)
    np.testing.assert_allclose(
        cell([x, x], training=False).numpy(),
        cell([x, x], drop_path_rate=0.5, training=False).numpy(),
    )
    dropper = DropPath(seed=3)
    dropped = dropper(np.ones((400, 2), "float32"), rate=0.25, training=True).numpy()
    kept = dropped[:, 0] > 0
    assert 0.6 < kept.mean() < 0.9
    np.testing.assert_allclose(dropped[kept], 1 / 0.75, rtol=1e-6)


@pytest.mark.parametrize(
    "operations,concat,message",
    [
        (
            [("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 3), ("skip_connect", 0)],
            [2, 3],
            "inputs must be states 0..2",
        ),
        (
            [("sep_conv_3x3", 0), ("skip_connect", 0), ("max_pool_3x3", 1), ("skip_connect", 0)],
            [2, 3],
            "both inputs from state 0",
        ),
        (
            [("none", 0), ("skip_connect", 1), ("max_pool_3x3", 1), ("skip_connect", 0)],
            [2, 3],
            "contains 'none'",
        ),
        (
            [("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 1)],
            [2],
            "two \\(primitive, input_index\\) pairs per node",
        ),
        (
            [("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 1), ("skip_connect", 0)],
            [2, 4],
            "concat must list states in 0..3",
        ),
        (
            [("sep_conv_9x9", 0), ("skip_connect", 1), ("max_pool_3x3", 1), ("skip_connect", 0)],
            [2, 3],
            "Unknown primitive 'sep_conv_9x9'",
        ),
    ],
)
def test_mismatched_genotype_and_cell_raise(operations, concat, message):
    with pytest.raises(ValueError, match=message):
        GenotypeCell(4, operations, concat)


def test_nodes_below_two_are_rejected():
    with pytest.raises(ValueError, match="`nodes` must be an int >= 2.*received 1"):
        SearchCell(4, nodes=1)
    with pytest.raises(ValueError, match="`multiplier` must be an int in \\[1, nodes=2\\]"):
        SearchCell(4, nodes=2, multiplier=3)
