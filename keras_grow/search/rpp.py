"""Residual pathway prior (RPP) baseline of Maile's thesis, ch. 4.5 (after Finzi et al. 2021)."""

import keras
from keras import ops

from keras_grow import groups as group_lib
from keras_grow.layers.group_conv import GroupConv2D
from keras_grow.layers.lifting_conv import LiftingConv2D
from keras_grow.search._backbone import build_backbone


@keras.saving.register_keras_serializable(package="keras_grow")
class ResidualPathwayConv(keras.layers.Layer):
    """A G-equivariant convolution plus an L2-regularised plain convolution, summed.

    The residual pathway prior (Finzi, Benton & Wilson, NeurIPS 2021) as
    re-implemented in Maile's thesis: an unconstrained (C1) convolution with
    an L2 penalty `l2` in parallel with a `group`-equivariant convolution
    without one. The penalty is the prior that prefers the equivariant path;
    the sum is exactly `group`-equivariant while the C1 kernel is zero. Input
    and output follow `group`'s channel layout (`c * |G| + g`). Both paths
    sum into ONE convolution at test time: `export()` returns it.

    Args:
        filters: output fields of `group`; the layer writes `filters * |G|`
            channels.
        kernel_size: odd int.
        group: the equivariant path's group (default `"D4"`).
        lifting: whether the input is a plain image (the equivariant path is a
            `LiftingConv2D`) instead of a `group` feature map.
        l2: L2 factor on the C1 path's kernel (thesis: 1e-6).
        use_bias: whether both paths have biases.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> from keras_grow.search import ResidualPathwayConv
    >>> layer = ResidualPathwayConv(2, 3, group="C4", lifting=True)
    >>> layer(np.zeros((1, 9, 9, 1), "float32")).shape
    TensorShape([1, 9, 9, 8])
    >>> tuple(layer.export().kernel.shape)
    (3, 3, 1, 8)
    """

    def __init__(
        self, filters, kernel_size, group="D4", lifting=False, l2=1e-6, use_bias=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.group = group_lib.get(group)
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
            raise ValueError(f"`l2` must be a non-negative number; received {l2!r}.")
        self.filters, self.kernel_size, self.lifting = filters, kernel_size, bool(lifting)
        self.l2, self.use_bias = float(l2), bool(use_bias)
        cls = LiftingConv2D if self.lifting else GroupConv2D
        self.equivariant = cls(
            filters, kernel_size, self.group.name, use_bias=use_bias, name="equivariant"
        )
        self.unconstrained = keras.layers.Conv2D(
            self.equivariant.output_channels,
            kernel_size,
            padding="same",
            use_bias=use_bias,
            kernel_regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
            name="unconstrained",
        )

    @property
    def output_channels(self):
        return self.equivariant.output_channels

    def build(self, input_shape):
        self.equivariant.build(input_shape)
        self.unconstrained.build(input_shape)

    def call(self, inputs):
        return self.equivariant(inputs) + self.unconstrained(inputs)

    def compute_output_shape(self, input_shape):
        return self.equivariant.compute_output_shape(input_shape)

    def export(self, name=None):
        """The equivalent single `keras.layers.Conv2D` (sum of the two expanded kernels)."""
        conv = self.equivariant.export(name=name or f"{self.name}_exported")
        weights = conv.get_weights()
        weights[0] = weights[0] + ops.convert_to_numpy(self.unconstrained.kernel)
        if self.use_bias:
            weights[1] = weights[1] + ops.convert_to_numpy(self.unconstrained.bias)
        conv.set_weights(weights)
        return conv

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            group=self.group.name,
            lifting=self.lifting,
            l2=self.l2,
            use_bias=self.use_bias,
        )
        return config


def RPPCNN(
    group="D4",
    l2=1e-6,
    input_shape=(28, 28, 1),
    classes=10,
    width=128,
    kernel_size=3,
    dense_units=64,
    pool_after=(2, 4, 6, 8),
    classifier_activation="softmax",
    normalization="channel",
    name="rpp_cnn",
):
    """The thesis backbone with every convolution a `ResidualPathwayConv` (the RPP baseline).

    Same skeleton and expanded channel counts as
    `keras_grow.applications.EquivariantCNN(group)`, with a C1 path with L2
    factor `l2` beside each `group` convolution (so about `|G| + 1` times its
    trained parameters; one convolution per layer after `export()`).

    Args:
        group: group of the equivariant paths (thesis: `"D4"`).
        l2: L2 factor of the C1 paths (thesis: 1e-6).
        normalization: `"channel"` (default): per-channel batch norms and a
            head that reads every channel; `"orbit"`: batch-norm statistics
            pooled over `group`'s orbits and a group-axis average before the
            head, as in `EquivariantCNN`, which keeps the network exactly
            invariant while the C1 paths are zero, but mis-normalises while
            they are not (the |G| channels of an orbit then carry unrelated
            features that share one statistic): on rotated MNIST the network
            trains about half as fast. See `MixedEquivariantCNN`.
        Others: as in `EquivariantCNN`.

    Example:

    >>> from keras_grow.search import RPPCNN
    >>> RPPCNN("C4", input_shape=(9, 9, 1), width=8, pool_after=(2, 4)).output_shape
    (None, 10)
    """
    group = group_lib.get(group)

    def factory(index, channels, lifting, conv_name):
        return ResidualPathwayConv(
            channels // group.order, kernel_size, group.name, lifting, l2, False, name=conv_name
        )

    if normalization not in ("channel", "orbit"):
        raise ValueError(
            f"`normalization` must be 'channel' or 'orbit'; received {normalization!r}."
        )
    return build_backbone(
        factory,
        group.name,
        input_shape,
        classes,
        width,
        dense_units,
        pool_after,
        classifier_activation,
        name,
        normalization_group="C1" if normalization == "channel" else group.name,
    )
