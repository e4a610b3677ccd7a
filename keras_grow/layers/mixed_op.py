"""`MixedOp`: the continuous relaxation of one DARTS edge."""

import keras
from keras import ops

from keras_grow.layers import darts_ops

ACTIVATIONS = ("softmax", "crb")


def activate_alphas(alphas, activation, keep=None):
    """Turn architecture parameters into the weights that mix the operations.

    Args:
        alphas: tensor `(..., num_primitives)`.
        activation: `"softmax"` (DARTS: over the last axis) or `"crb"` (the
            unit-clipped ReLU of Maile's thesis section 5.2.5, element-wise).
        keep: optional 0/1 mask of the same shape; zeros (pruned operations)
            give weight exactly 0 and no gradient.

    Returns:
        The activated weights, same shape as `alphas`.
    """
    if activation == "softmax":
        weights = ops.softmax(alphas, axis=-1)
    elif activation == "crb":
        weights = ops.clip(alphas, 0.0, 1.0)
    else:
        raise ValueError(f"`activation` must be one of {ACTIVATIONS}; received {activation!r}.")
    if keep is not None:
        weights = weights * ops.cast(keep, weights.dtype)
    return weights


def check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {ACTIVATIONS}; received {activation!r}.")
    return activation


@keras.saving.register_keras_serializable(package="keras_grow")
class MixedOp(keras.layers.Layer):
    """Weighted sum of every candidate operation on one edge of a DARTS cell.

    `out = sum_p w_p * op_p(x)` over the primitives (eq. 2 of Liu et al.,
    2019). The weights `w` are the *activated* architecture parameters: either
    given at call time (`arch_weights`, how `SearchCell` shares one set of
    architecture parameters between all cells of a type), or, with
    `learn_alphas=True`, computed from the layer's own `alphas` weight with
    `activation` (`"softmax"` as in DARTS, or `"crb"`, the unit-clipped ReLU of
    DARTS-PRIME + CRB).

    The `none` operation contributes zeros, so it is never computed (its
    weight still enters the softmax). Operations in `pruned` are not computed
    either: `prune()` takes operations out of the forward pass, which is how
    CRB's progressive pruning saves compute. Their weights stay in the layer,
    unused, so checkpoints keep one layout.

    Reference: Liu, Simonyan & Yang, "DARTS: Differentiable Architecture
    Search", ICLR 2019; Maile, thesis ch. 5 (CRB activation, section 5.2.5).

    Args:
        channels: input and output channels.
        strides: 1, or 2 on the edges of a reduction cell that read the cell inputs.
        primitives: names from `DARTS_PRIMITIVES` (default all eight).
        affine: whether batch normalisations learn scale and offset (DARTS
            searches with `False`).
        pool_batch_norm: follow pooling with a non-affine batch normalisation
            (as in the DARTS search network).
        learn_alphas: give the layer its own architecture parameters `alphas`.
        activation: `"softmax"` or `"crb"`, used with `learn_alphas`.
        alpha_initializer: initializer of the own `alphas`.
        pruned: names of primitives taken out of the computation.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)` tensor.
        arch_weights: activated weights `(len(primitives),)`; required unless
            `learn_alphas=True`.

    Input shape:
        4-D tensor with `channels` channels.

    Output shape:
        `(batch, ceil(height / strides), ceil(width / strides), channels)`.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import MixedOp
    >>> op = MixedOp(4, primitives=("skip_connect", "sep_conv_3x3"), learn_alphas=True)
    >>> op(np.ones((2, 8, 8, 4), "float32")).shape
    TensorShape([2, 8, 8, 4])
    >>> op.prune(["sep_conv_3x3"]); op.active_primitives
    ('skip_connect',)
    """

    def __init__(
        self,
        channels,
        strides=1,
        primitives=darts_ops.DARTS_PRIMITIVES,
        affine=False,
        pool_batch_norm=True,
        learn_alphas=False,
        activation="softmax",
        alpha_initializer=None,
        pruned=(),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = darts_ops._check_channels(channels, "MixedOp")
        self.strides = darts_ops._check_strides(strides, "MixedOp")
        self.primitives = darts_ops.check_primitives(primitives)
        self.affine = bool(affine)
        self.pool_batch_norm = bool(pool_batch_norm)
        self.learn_alphas = bool(learn_alphas)
        self.activation = check_activation(activation)
        if alpha_initializer is None:
            alpha_initializer = (
                keras.initializers.RandomNormal(stddev=1e-3)
                if activation == "softmax"
                else keras.initializers.RandomNormal(mean=0.5, stddev=1e-3)
            )
        self.alpha_initializer = keras.initializers.get(alpha_initializer)
        self.pruned = ()
        self.operations = [
            darts_ops.make_operation(
                name,
                self.channels,
                self.strides,
                affine=self.affine,
                search=self.pool_batch_norm,
                name=name,
            )
            for name in self.primitives
        ]
        self.prune(pruned)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    @property
    def active_primitives(self):
        """Primitives computed in the forward pass (not `none`, not pruned)."""
        return tuple(p for p in self.primitives if p != "none" and p not in self.pruned)

    def operation(self, primitive):
        """The layer of one primitive."""
        if primitive not in self.primitives:
            raise ValueError(
                f"`primitive`={primitive!r} is not on this edge; its primitives are "
                f"{self.primitives}."
            )
        return self.operations[self.primitives.index(primitive)]

    def prune(self, primitives):
        """Stop computing `primitives` (names from `self.primitives`); idempotent.

        The change of structure takes effect in functions traced afterwards
        (`DartsSearchModel.prune_inactive_ops` rebuilds its train function).
        """
        primitives = tuple(primitives)
        for name in primitives:
            if name not in self.primitives:
                raise ValueError(
                    f"Cannot prune {name!r}: not one of this edge's primitives {self.primitives}."
                )
        self.pruned = tuple(p for p in self.primitives if p in self.pruned or p in primitives)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels != self.channels:
            raise ValueError(
                f"MixedOp(channels={self.channels}) expects {self.channels} input channels; "
                f"received input shape {tuple(input_shape)}."
            )
        for op in self.operations:
            op.build(input_shape)
        if self.learn_alphas:
            self.alphas = self.add_weight(
                shape=(len(self.primitives),), initializer=self.alpha_initializer, name="alphas"
            )

    def activated_alphas(self):
        """The layer's own mixing weights `activation(alphas)` (pruned entries are 0)."""
        if not self.learn_alphas:
            raise ValueError(
                "This MixedOp has no own architecture parameters (learn_alphas=False); "
                "pass `arch_weights` when calling it."
            )
        keep = [0.0 if p in self.pruned else 1.0 for p in self.primitives]
        return activate_alphas(self.alphas, self.activation, keep if self.pruned else None)

    def call(self, inputs, arch_weights=None):
        if arch_weights is None:
            arch_weights = self.activated_alphas()
        total = None
        for index, (name, op) in enumerate(zip(self.primitives, self.operations)):
            if name == "none" or name in self.pruned:
                continue
            term = arch_weights[index] * op(inputs)
            total = term if total is None else total + term
        if total is None:
            strided = inputs[:, :: self.strides, :: self.strides, :]
            return ops.zeros_like(strided)
        return total

    def compute_output_shape(self, input_shape):
        return darts_ops._strided_shape(input_shape, self.strides)

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "strides": self.strides,
            "primitives": list(self.primitives),
            "affine": self.affine,
            "pool_batch_norm": self.pool_batch_norm,
            "learn_alphas": self.learn_alphas,
            "activation": self.activation,
            "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
            "pruned": list(self.pruned),
        }
