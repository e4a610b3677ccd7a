"""DARTS cells: the search cell of mixed edges and the evaluation cell of a genotype.

A cell is a directed acyclic graph on `nodes + 2` states. States 0 and 1 are
the outputs of the two previous cells, brought to `channels` channels (and,
after a reduction cell, to the same resolution) by a preprocessing layer;
state `2 + i` is the sum of edges from every earlier state; the cell's output
concatenates the last `multiplier` states along channels. In a reduction cell
the edges that read states 0 and 1 have stride 2.

Edges are numbered node by node, sources in increasing order: node 0 has
edges 0-1 (from states 0, 1), node 1 edges 2-4 (states 0, 1, 2), and so on;
`nodes=4` gives 14 edges. `edge_sources(nodes)` lists `(node, source)` pairs.
"""

import keras
from keras import ops

from keras_grow.layers import darts_ops
from keras_grow.layers.mixed_op import MixedOp


def check_nodes(nodes, argument="nodes"):
    """Validate the number of intermediate nodes of a cell (at least 2)."""
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 2:
        raise ValueError(
            f"`{argument}` must be an int >= 2 (each node takes two inputs from distinct "
            f"earlier states); received {nodes!r}."
        )
    return nodes


def num_edges(nodes):
    """Number of edges of a search cell with `nodes` intermediate nodes: `nodes (nodes + 3) / 2`."""
    return nodes * (nodes + 3) // 2


def edge_sources(nodes):
    """`[(node, source_state), ...]` in edge order."""
    return [(node, source) for node in range(nodes) for source in range(node + 2)]


def _check_multiplier(multiplier, nodes):
    if multiplier is None:
        return nodes
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, int)
        or not (1 <= multiplier <= nodes)
    ):
        raise ValueError(
            f"`multiplier` must be an int in [1, nodes={nodes}] (how many of the last states "
            f"are concatenated); received {multiplier!r}."
        )
    return multiplier


def _preprocess(channels, reduction_prev, affine, name):
    if reduction_prev:
        return darts_ops.FactorizedReduce(channels, affine=affine, name=name)
    return darts_ops.ReLUConvBN(channels, 1, 1, affine=affine, name=name)


def _check_two_inputs(input_shape, cls_name):
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
        raise ValueError(
            f"{cls_name} takes a list of two inputs [s0, s1] (the outputs of the two previous "
            f"cells); received input shape {input_shape!r}."
        )


@keras.saving.register_keras_serializable(package="keras_grow")
class SearchCell(keras.layers.Layer):
    """A DARTS search cell: every edge is a `MixedOp` over all primitives.

    The cell has no architecture parameters of its own: the search network
    passes the activated weights `(num_edges, len(primitives))` of its cell
    type (normal or reduction) at every call, so all cells of one type share
    one architecture. With `node_batch_norm=True` (CRB activation, Maile's
    thesis section 5.2.5) a non-affine batch normalisation follows the sum of
    each node's edges, so edge weights that no longer sum to one still leave
    the states normalised.

    Reference: Liu, Simonyan & Yang, "DARTS: Differentiable Architecture
    Search", ICLR 2019, section 2.1.

    Args:
        channels: channels of every state (the output has `multiplier * channels`).
        reduction: whether this is a reduction cell (stride-2 edges from the inputs).
        reduction_prev: whether the previous cell was a reduction cell (then
            input `s0` has twice the resolution of `s1` and is reduced).
        nodes: number of intermediate nodes (>= 2).
        primitives: names from `DARTS_PRIMITIVES`.
        multiplier: how many of the last states are concatenated (default `nodes`).
        node_batch_norm: append a non-affine batch normalisation to every node.
        pruned: `None` or, per edge, a list of pruned primitive names.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: list `[s0, s1]` of 4-D tensors.
        arch_weights: `(num_edges, len(primitives))` activated weights.

    Output shape:
        `(batch, h, w, multiplier * channels)`, with `h, w` halved (rounded up)
        in a reduction cell.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import SearchCell
    >>> cell = SearchCell(4, nodes=2, primitives=("skip_connect", "avg_pool_3x3"))
    >>> x = np.ones((1, 8, 8, 6), "float32")
    >>> cell([x, x], np.full((5, 2), 0.5, "float32")).shape
    TensorShape([1, 8, 8, 8])
    """

    def __init__(
        self,
        channels,
        reduction=False,
        reduction_prev=False,
        nodes=4,
        primitives=darts_ops.DARTS_PRIMITIVES,
        multiplier=None,
        node_batch_norm=False,
        pruned=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = darts_ops._check_channels(channels, "SearchCell")
        self.reduction = bool(reduction)
        self.reduction_prev = bool(reduction_prev)
        self.nodes = check_nodes(nodes)
        self.primitives = darts_ops.check_primitives(primitives)
        self.multiplier = _check_multiplier(multiplier, self.nodes)
        self.node_batch_norm = bool(node_batch_norm)
        self.preprocess0 = _preprocess(self.channels, self.reduction_prev, False, "preprocess0")
        self.preprocess1 = darts_ops.ReLUConvBN(
            self.channels, 1, 1, affine=False, name="preprocess1"
        )
        self.edges = [
            MixedOp(
                self.channels,
                strides=2 if self.reduction and source < 2 else 1,
                primitives=self.primitives,
                affine=False,
                name=f"edge_{node + 2}_{source}",
            )
            for node, source in edge_sources(self.nodes)
        ]
        self.node_norms = (
            [darts_ops._batch_norm(False, f"node_bn_{i + 2}") for i in range(self.nodes)]
            if self.node_batch_norm
            else []
        )
        if pruned is not None:
            self.prune(pruned)

    @property
    def num_edges(self):
        return num_edges(self.nodes)

    @property
    def pruned(self):
        """Per edge, the tuple of pruned primitive names."""
        return [edge.pruned for edge in self.edges]

    def prune(self, pruned):
        """Prune per edge: `pruned[e]` lists primitive names of edge `e` to stop computing."""
        if len(pruned) != self.num_edges:
            raise ValueError(
                f"`pruned` must have one entry per edge ({self.num_edges} for nodes="
                f"{self.nodes}); received {len(pruned)} entries."
            )
        for edge, names in zip(self.edges, pruned):
            edge.prune(names)

    def build(self, input_shape):
        _check_two_inputs(input_shape, "SearchCell")
        s0_shape, s1_shape = (tuple(s) for s in input_shape)
        self.preprocess0.build(s0_shape)
        self.preprocess1.build(s1_shape)
        state = self.preprocess1.compute_output_shape(s1_shape)
        for edge in self.edges:
            edge.build(state)
        out = self.compute_output_shape(input_shape)
        for norm in self.node_norms:
            norm.build(out[:3] + (self.channels,))

    def call(self, inputs, arch_weights):
        s0, s1 = inputs
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        edge = 0
        for node in range(self.nodes):
            total = None
            for source in range(node + 2):
                term = self.edges[edge](states[source], arch_weights[edge])
                total = term if total is None else total + term
                edge += 1
            if self.node_norms:
                total = self.node_norms[node](total)
            states.append(total)
        return ops.concatenate(states[-self.multiplier :], axis=-1)

    def compute_output_shape(self, input_shape):
        s1_shape = tuple(input_shape[1])
        stride = 2 if self.reduction else 1
        return darts_ops._strided_shape(s1_shape, stride, self.multiplier * self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "nodes": self.nodes,
            "primitives": list(self.primitives),
            "multiplier": self.multiplier,
            "node_batch_norm": self.node_batch_norm,
            "pruned": [list(p) for p in self.pruned],
        }


@keras.saving.register_keras_serializable(package="keras_grow")
class DropPath(keras.layers.Layer):
    """Drop a whole sample's path with probability `rate` during training (scaled by 1/keep).

    The rate is a call argument (a scalar tensor is fine), so a schedule can
    change it every epoch without retracing.

    Args:
        seed: seed of the layer's `SeedGenerator`.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: tensor `(batch, ...)`.
        rate: drop probability in [0, 1).
        training: whether to drop (inference returns `inputs`).

    Example:

    >>> import numpy as np
    >>> DropPath()(np.ones((2, 3), "float32"), rate=0.0, training=True).shape
    TensorShape([2, 3])
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, rate=0.0, training=None):
        if not training:
            return inputs
        keep = 1.0 - ops.cast(rate, inputs.dtype)
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype)
        mask = ops.floor(keep + noise)
        return inputs / keep * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def check_cell_operations(operations, concat, argument="genotype"):
    """Validate the `(primitive, input_index)` pairs and concat of one genotype cell.

    Returns `(operations, concat, nodes)` as tuples. Raises `ValueError` naming
    `argument` for an odd number of pairs, fewer than two nodes, an unknown or
    `none` primitive, an input index that is not an earlier state, two inputs of
    a node from the same state, or a concat index that is not a state.
    """
    try:
        operations = tuple((str(name), int(index)) for name, index in operations)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"`{argument}` operations must be (primitive, input_index) pairs; received "
            f"{operations!r}."
        ) from error
    if len(operations) % 2 or len(operations) < 4:
        raise ValueError(
            f"`{argument}` must list two (primitive, input_index) pairs per node and at least "
            f"two nodes; received {len(operations)} pairs."
        )
    nodes = len(operations) // 2
    for position, (name, index) in enumerate(operations):
        node = position // 2
        darts_ops.check_primitives((name,), f"{argument} operation {position}", allow_none=False)
        if not 0 <= index < node + 2:
            raise ValueError(
                f"`{argument}`: operation {position} ({name!r}, {index}) feeds node {node + 2}, "
                f"whose inputs must be states 0..{node + 1}; this genotype does not fit a cell "
                f"with {nodes} nodes."
            )
    for node in range(nodes):
        first, second = operations[2 * node][1], operations[2 * node + 1][1]
        if first == second:
            raise ValueError(
                f"`{argument}`: node {node + 2} takes both inputs from state {first}; DARTS "
                "genotypes take their two inputs from distinct states."
            )
    concat = tuple(int(c) for c in concat)
    if not concat or any(not 0 <= c < nodes + 2 for c in concat):
        raise ValueError(
            f"`{argument}` concat must list states in 0..{nodes + 1}; received {concat!r}."
        )
    return operations, concat, nodes


@keras.saving.register_keras_serializable(package="keras_grow")
class GenotypeCell(keras.layers.Layer):
    """An evaluation cell built from one half of a genotype (normal or reduce).

    Node `i` sums two operations, `operations[2 i]` and `operations[2 i + 1]`,
    each a `(primitive, input_state)` pair; the output concatenates the states
    in `concat`. Batch normalisations are affine. During training, the output
    of every operation other than the identity is dropped per sample with the
    probability `drop_path_rate` passed at call time (DARTS' drop-path).

    Args:
        channels: channels of every state.
        operations: `(primitive, input_index)` pairs, two per node.
        concat: indices of the states concatenated into the output.
        reduction: whether this is a reduction cell.
        reduction_prev: whether the previous cell was a reduction cell.
        seed: seed of the drop-path noise.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: list `[s0, s1]`.
        drop_path_rate: scalar in [0, 1) (default 0).
        training: whether drop-path is active.

    Output shape:
        `(batch, h, w, len(concat) * channels)`, `h, w` halved in a reduction cell.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import GenotypeCell
    >>> ops_ = [("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("dil_conv_3x3", 2)]
    >>> cell = GenotypeCell(4, ops_, concat=[2, 3])
    >>> x = np.ones((1, 8, 8, 4), "float32")
    >>> cell([x, x]).shape
    TensorShape([1, 8, 8, 8])
    """

    def __init__(
        self,
        channels,
        operations,
        concat,
        reduction=False,
        reduction_prev=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = darts_ops._check_channels(channels, "GenotypeCell")
        self.operations, self.concat, self.nodes = check_cell_operations(
            operations, concat, "operations"
        )
        self.reduction = bool(reduction)
        if self.reduction and min(self.concat) < 2:
            raise ValueError(
                f"`concat`={list(self.concat)} of a reduction cell may only list intermediate "
                "states (>= 2): states 0 and 1 have twice the output resolution."
            )
        self.reduction_prev = bool(reduction_prev)
        self.seed = seed
        self.preprocess0 = _preprocess(self.channels, self.reduction_prev, True, "preprocess0")
        self.preprocess1 = darts_ops.ReLUConvBN(
            self.channels, 1, 1, affine=True, name="preprocess1"
        )
        self.operation_layers = [
            darts_ops.make_operation(
                name,
                self.channels,
                strides=2 if self.reduction and index < 2 else 1,
                affine=True,
                name=f"op{position}_{name}",
            )
            for position, (name, index) in enumerate(self.operations)
        ]
        self.drop_path = DropPath(seed=seed, name="drop_path")

    def build(self, input_shape):
        _check_two_inputs(input_shape, "GenotypeCell")
        s0_shape, s1_shape = (tuple(s) for s in input_shape)
        self.preprocess0.build(s0_shape)
        self.preprocess1.build(s1_shape)
        state = self.preprocess1.compute_output_shape(s1_shape)
        for op, (_, index) in zip(self.operation_layers, self.operations):
            if index < 2:
                op.build(state)
            else:
                op.build(state if not self.reduction else darts_ops._strided_shape(state, 2))

    def call(self, inputs, drop_path_rate=0.0, training=None):
        s0, s1 = inputs
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(self.nodes):
            total = None
            for position in (2 * node, 2 * node + 1):
                _, index = self.operations[position]
                op = self.operation_layers[position]
                h = op(states[index])
                if not isinstance(op, keras.layers.Identity):
                    h = self.drop_path(h, rate=drop_path_rate, training=training)
                total = h if total is None else total + h
            states.append(total)
        return ops.concatenate([states[i] for i in self.concat], axis=-1)

    def compute_output_shape(self, input_shape):
        s1_shape = tuple(input_shape[1])
        stride = 2 if self.reduction else 1
        return darts_ops._strided_shape(s1_shape, stride, len(self.concat) * self.channels)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "operations": [list(op) for op in self.operations],
            "concat": list(self.concat),
            "reduction": self.reduction,
            "reduction_prev": self.reduction_prev,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_grow")
class AuxiliaryHead(keras.layers.Layer):
    """The auxiliary classifier of the DARTS evaluation network (after 2/3 of the cells).

    ReLU, 5x5 average pooling with stride 3 (no padding), 1x1 convolution to
    128 channels, BN, ReLU, a convolution to 768 channels over the whole
    pooled map, BN, ReLU and a dense classifier. On the 8x8 maps of CIFAR the
    pooled map is 2x2 and this is DARTS' head exactly; maps smaller than 5
    are pooled whole.

    Args:
        classes: number of classes.
        classifier_activation: activation of the classifier.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> AuxiliaryHead(10)(np.ones((2, 8, 8, 16), "float32")).shape
    TensorShape([2, 10])
    """

    def __init__(self, classes, classifier_activation="softmax", **kwargs):
        super().__init__(**kwargs)
        self.classes = darts_ops._check_channels(classes, "AuxiliaryHead")
        self.classifier_activation = classifier_activation
        self.bn1 = darts_ops._batch_norm(True, "bn1")
        self.bn2 = darts_ops._batch_norm(True, "bn2")
        self.conv1 = keras.layers.Conv2D(128, 1, use_bias=False, name="conv1")
        self.classifier = keras.layers.Dense(
            self.classes, activation=classifier_activation, name="classifier"
        )

    def build(self, input_shape):
        b, h, w, c = input_shape
        if h is None or w is None:
            raise ValueError(
                f"AuxiliaryHead needs a known spatial size; received input shape {input_shape}."
            )
        size = min(h, w)
        pool, stride = (5, 3) if size >= 5 else (size, 1)
        self.pool = keras.layers.AveragePooling2D(pool, strides=stride, name="pool")
        pooled = self.pool.compute_output_shape(tuple(input_shape))
        self.conv1.build(pooled)
        self.bn1.build(pooled[:3] + (128,))
        self.conv2 = keras.layers.Conv2D(768, pooled[1:3], use_bias=False, name="conv2")
        self.conv2.build(pooled[:3] + (128,))
        self.bn2.build((b, 1, 1, 768))
        self.classifier.build((b, 768))

    def call(self, inputs):
        x = self.pool(ops.relu(inputs))
        x = ops.relu(self.bn1(self.conv1(x)))
        x = ops.relu(self.bn2(self.conv2(x)))
        return self.classifier(ops.reshape(x, (-1, 768)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.classes)

    def get_config(self):
        return {
            **super().get_config(),
            "classes": self.classes,
            "classifier_activation": self.classifier_activation,
        }
