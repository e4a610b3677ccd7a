"""Genotypes: the discrete DARTS architecture, its derivation from α, and DARTS_V2.

A genotype lists, for each cell type, two `(primitive, input_state)` pairs per
intermediate node and the states concatenated into the cell output (the
format of the DARTS paper's code, so published genotypes can be pasted in).

Derivation (the projection Π_S of Maile's thesis eqs. 13-16): for every node,
rank its incoming edges by their strongest weight outside `exclude` (`none`
by default), keep the two strongest edges — so the two inputs come from
distinct states — and on each kept edge the strongest primitive outside
`exclude`. Ties are broken deterministically: between edges, the one from the
lower-numbered state wins; between primitives, the one earlier in
`primitives`. The same rule holds in the graph version (`projection_mask`)
used by the proximity and ADMM regularisers.
"""

import collections

import numpy as np
from keras import ops

from keras_grow.layers import darts_cells, darts_ops


class Genotype(
    collections.namedtuple("Genotype", ["normal", "normal_concat", "reduce", "reduce_concat"])
):
    """A discrete DARTS architecture: `(primitive, input_state)` pairs per cell type.

    Fields:
        normal: pairs of the normal cell, two per intermediate node.
        normal_concat: states concatenated into the normal cell's output.
        reduce: pairs of the reduction cell.
        reduce_concat: states concatenated into the reduction cell's output.

    Example:

    >>> from keras_grow.search import DARTS_V2
    >>> DARTS_V2.nodes, DARTS_V2.count("skip_connect", "normal")
    (4, 2)
    """

    __slots__ = ()

    @property
    def nodes(self):
        """Intermediate nodes per cell (checked equal for both cell types)."""
        return check_genotype(self).nodes_normal

    def count(self, primitive, cell="normal"):
        """How many times `primitive` appears in the `"normal"` or `"reduce"` cell."""
        if cell not in ("normal", "reduce"):
            raise ValueError(f"`cell` must be 'normal' or 'reduce'; received {cell!r}.")
        return sum(name == primitive for name, _ in getattr(self, cell))

    def to_dict(self):
        """A JSON-friendly dict (lists), the inverse of `Genotype.from_dict`."""
        return {
            "normal": [[name, int(index)] for name, index in self.normal],
            "normal_concat": [int(i) for i in self.normal_concat],
            "reduce": [[name, int(index)] for name, index in self.reduce],
            "reduce_concat": [int(i) for i in self.reduce_concat],
        }

    @classmethod
    def from_dict(cls, config):
        """Build a genotype from `to_dict()` output (or any mapping with the four fields)."""
        if isinstance(config, Genotype):
            return config
        try:
            return cls(
                normal=tuple((str(n), int(i)) for n, i in config["normal"]),
                normal_concat=tuple(int(i) for i in config["normal_concat"]),
                reduce=tuple((str(n), int(i)) for n, i in config["reduce"]),
                reduce_concat=tuple(int(i) for i in config["reduce_concat"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise TypeError(
                "`genotype` must be a Genotype or a mapping with 'normal', 'normal_concat', "
                f"'reduce' and 'reduce_concat'; received {config!r}."
            ) from error


_Checked = collections.namedtuple("_Checked", ["genotype", "nodes_normal", "nodes_reduce"])


def check_genotype(genotype, argument="genotype"):
    """Validate a genotype (both cells) and return it with each cell's node count.

    Raises `TypeError` for something that is not a genotype and `ValueError`
    (naming `argument`) for a cell that cannot be built: see
    `keras_grow.layers.darts_cells.check_cell_operations`.
    """
    if not isinstance(genotype, Genotype):
        if isinstance(genotype, (tuple, list)) and len(genotype) == 4:
            genotype = Genotype(*genotype)
        elif isinstance(genotype, dict):
            genotype = Genotype.from_dict(genotype)
        else:
            raise TypeError(
                f"`{argument}` must be a keras_grow.search.Genotype (normal, normal_concat, "
                f"reduce, reduce_concat); received {type(genotype).__name__}: {genotype!r}."
            )
    normal, normal_concat, nodes_normal = darts_cells.check_cell_operations(
        genotype.normal, genotype.normal_concat, f"{argument}.normal"
    )
    reduce, reduce_concat, nodes_reduce = darts_cells.check_cell_operations(
        genotype.reduce, genotype.reduce_concat, f"{argument}.reduce"
    )
    if min(reduce_concat) < 2:
        raise ValueError(
            f"`{argument}.reduce_concat`={list(reduce_concat)} may only list intermediate "
            "states (>= 2)."
        )
    genotype = Genotype(normal, normal_concat, reduce, reduce_concat)
    return _Checked(genotype, nodes_normal, nodes_reduce)


DARTS_V2 = Genotype(
    normal=(
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ),
    normal_concat=(2, 3, 4, 5),
    reduce=(
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ),
    reduce_concat=(2, 3, 4, 5),
)
"""The cells found by second-order DARTS on CIFAR-10 (Liu et al. 2019): 2.76 % error, 3.3 M."""


def nodes_from_edges(rows, argument="weights"):
    """The node count `n` with `n (n + 3) / 2 == rows`; `ValueError` if there is none."""
    nodes = 2
    while darts_cells.num_edges(nodes) < rows:
        nodes += 1
    if darts_cells.num_edges(nodes) != rows:
        raise ValueError(
            f"`{argument}` has {rows} rows, which is not the edge count of a DARTS cell "
            "(n (n + 3) / 2 for n >= 2 nodes: 5, 9, 14, 20, ...)."
        )
    return nodes


def _check_weights(weights, primitives, nodes, argument):
    weights = np.asarray(weights, dtype="float64")
    if weights.ndim != 2 or weights.shape[1] != len(primitives):
        raise ValueError(
            f"`{argument}` must have shape (num_edges, len(primitives)={len(primitives)}); "
            f"received shape {weights.shape}."
        )
    inferred = nodes_from_edges(weights.shape[0], argument)
    if nodes is not None and nodes != inferred:
        raise ValueError(
            f"`{argument}` has {weights.shape[0]} rows (a cell with {inferred} nodes) but "
            f"nodes={nodes} ({darts_cells.num_edges(darts_cells.check_nodes(nodes))} edges)."
        )
    return weights, inferred


def _candidates(primitives, exclude):
    exclude = tuple(exclude)
    candidates = [i for i, p in enumerate(primitives) if p not in exclude]
    if not candidates:
        raise ValueError(
            f"Every primitive of {primitives} is excluded by `exclude`={exclude}; nothing to "
            "derive."
        )
    return candidates


def derive_cell(weights, primitives=darts_ops.DARTS_PRIMITIVES, nodes=None, exclude=("none",)):
    """Discretise one cell's activated weights into `(primitive, input_state)` pairs.

    Args:
        weights: `(num_edges, len(primitives))` activated architecture weights.
        primitives: the primitive of each column.
        nodes: intermediate nodes (inferred from the row count when `None`).
        exclude: primitives never selected (`none` in DARTS).

    Returns:
        A tuple of `2 * nodes` pairs, the stronger edge of each node first.
    """
    primitives = darts_ops.check_primitives(primitives)
    weights, nodes = _check_weights(weights, primitives, nodes, "weights")
    candidates = _candidates(primitives, exclude)
    pairs = []
    start = 0
    for node in range(nodes):
        block = weights[start : start + node + 2][:, candidates]
        strength = block.max(axis=1)
        best_edges = np.argsort(-strength, kind="stable")[:2]
        for source in best_edges:
            column = candidates[int(np.argmax(block[source]))]
            pairs.append((primitives[column], int(source)))
        start += node + 2
    return tuple(pairs)


def projection(weights, primitives=darts_ops.DARTS_PRIMITIVES, nodes=None, exclude=("none",)):
    """Π_S of one cell as a 0/1 array of the weights' shape (1 = selected operation)."""
    primitives = darts_ops.check_primitives(primitives)
    weights, nodes = _check_weights(weights, primitives, nodes, "weights")
    mask = np.zeros(weights.shape, dtype="float32")
    edges = darts_cells.edge_sources(nodes)
    offsets = {pair: row for row, pair in enumerate(edges)}
    for position, (name, source) in enumerate(derive_cell(weights, primitives, nodes, exclude)):
        mask[offsets[(position // 2, source)], primitives.index(name)] = 1.0
    return mask


def derive_genotype(
    normal_weights,
    reduce_weights,
    primitives=darts_ops.DARTS_PRIMITIVES,
    nodes=None,
    multiplier=None,
    exclude=("none",),
):
    """Derive a `Genotype` from the activated weights of both cell types.

    Args:
        normal_weights: `(num_edges, len(primitives))` weights of the normal cell.
        reduce_weights: same for the reduction cell.
        primitives: the primitive of each column.
        nodes: intermediate nodes (inferred when `None`).
        multiplier: how many of the last states the cells concatenate (default all nodes).
        exclude: primitives never selected.

    Returns:
        A `Genotype`.

    Example:

    >>> import numpy as np
    >>> w = np.zeros((5, 8)); w[0, 4] = w[1, 3] = w[4, 6] = w[2, 1] = 1.0
    >>> derive_genotype(w, w, nodes=2).normal
    (('sep_conv_3x3', 0), ('skip_connect', 1), ('max_pool_3x3', 0), ('dil_conv_3x3', 2))
    """
    normal = derive_cell(normal_weights, primitives, nodes, exclude)
    reduce = derive_cell(reduce_weights, primitives, nodes, exclude)
    cell_nodes = len(normal) // 2
    if len(reduce) // 2 != cell_nodes:
        raise ValueError(
            f"`normal_weights` describe {cell_nodes} nodes but `reduce_weights` "
            f"{len(reduce) // 2}; both cell types must have the same nodes."
        )
    multiplier = darts_cells._check_multiplier(multiplier, cell_nodes)
    concat = tuple(range(cell_nodes + 2 - multiplier, cell_nodes + 2))
    return Genotype(normal, concat, reduce, concat)


def projection_mask(weights, primitives, nodes, exclude=("none",)):
    """Π_S in the graph: the 0/1 mask of the derived cell, as a tensor (no gradient).

    Same selection and tie rules as `projection`, written with `keras.ops` so
    the regularisers can use it inside a compiled train step.
    """
    primitives = darts_ops.check_primitives(primitives)
    candidates = _candidates(primitives, exclude)
    allowed = np.array([1.0 if i in candidates else 0.0 for i in range(len(primitives))])
    weights = ops.stop_gradient(ops.convert_to_tensor(weights))
    masked = ops.where(ops.convert_to_tensor(allowed > 0), weights, ops.full_like(weights, -1e30))
    strength = ops.max(masked, axis=1)
    # first maximal column (deterministic ties): smallest index among the maxima
    columns = ops.arange(len(primitives), dtype="int32")
    is_best = masked >= ops.expand_dims(strength, 1)
    best_column = ops.min(ops.where(is_best, columns, len(primitives)), axis=1)
    one_hot_ops = ops.one_hot(best_column, len(primitives), dtype=weights.dtype)
    blocks = []
    start = 0
    for node in range(nodes):
        count = node + 2
        _, top = ops.top_k(strength[start : start + count], k=2, sorted=True)
        chosen = ops.sum(ops.one_hot(top, count, dtype=weights.dtype), axis=0)
        blocks.append(ops.expand_dims(chosen, 1) * one_hot_ops[start : start + count])
        start += count
    return ops.concatenate(blocks, axis=0)
