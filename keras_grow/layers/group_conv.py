"""`GroupConv2D`: convolution between regular feature maps of a rotation/mirror group."""

import keras

from keras_grow.layers._group_conv_base import GroupConvBase


@keras.saving.register_keras_serializable(package="keras_grow")
class GroupConv2D(GroupConvBase):
    """2-D regular group convolution (G-CNN layer), computed as one plain convolution.

    Input and output are feature maps over the group `G`: NHWC tensors whose
    channel `c * |G| + h` is field `c` at group element `h`. The layer
    implements eq. 2 of Maile's thesis, ch. 4, with translations:

        out[..., d * |G| + g](t) = sum_u sum_c sum_h f_(c,h)(t + u) psi_(d,c)(g^-1 u, g^-1 h)

    i.e. output element `g` uses the base kernel `psi` rotated/mirrored
    spatially by `g` and with its input group axis permuted by `g` (regular
    representation). All |G| transformed copies form one expanded kernel of
    shape `(k, k, C_in * |G|, filters * |G|)` - built by a single gather from
    the parameters - and the layer runs ONE standard convolution. It is
    equivariant: `f(g . x) = g . f(x)` for every `g` in `G`
    (`keras_grow.groups.Group.act_on_feature_map`), on square inputs and, with
    strides > 1, on sizes where `keras_grow.groups.grid_is_symmetric` holds.

    `relax(subgroup)` applies the equivariance relaxation morphism (eqs. 4-10)
    and `export()` returns the equivalent plain `keras.layers.Conv2D`.

    Reference: Cohen & Welling, "Group Equivariant Convolutional Networks"
    (ICML 2016); Maile, Wilson & Forre, "Equivariance-aware Architectural
    Optimization of Neural Networks" (ICLR 2023).

    Args:
        filters: number of output fields; the layer outputs `filters * |G|`
            channels.
        kernel_size: int or pair. Must be square and odd for every group but C1.
        group: `"C1"`, `"C2"`, `"C4"`, `"D1"`, `"D2"` or `"D4"`.
        strides: int or pair.
        padding: `"same"` or `"valid"`.
        input_layout: group whose channel layout the input follows (a supergroup
            of `group`; default `group`). The input needs a multiple of
            `|input_layout|` channels. A layer with `group="C4"`,
            `input_layout="D4"` reads every D4 field as two C4 fields (eq. 4 of
            the thesis, canonical coset representatives), so it can follow a D4
            layer directly; the re-indexing is folded into the kernel gather.
        output_layout: group whose channel layout the output follows (a
            supergroup of `group`; default `group`); `filters` must be a
            multiple of `|output_layout| / |group|`.
        activation: activation function (default none).
        use_bias: whether to add one bias per output field (shared by its
            |G| channels).
        kernel_initializer: initializer of the base kernel, drawn with the fans
            of the equivalent expanded `Conv2D` kernel.
        bias_initializer: initializer of the field biases.
        kernel_regularizer: regularizer of the base kernel.
        bias_regularizer: regularizer of the field biases.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, height, width, C_in * |G|)` group feature map.

    Input shape:
        4-D tensor `(batch, height, width, channels)`, `channels` a multiple of
        `|input_layout|`.

    Output shape:
        4-D tensor `(batch, new_height, new_width, filters * |G|)`.

    Weights:
        `kernel` of shape `(kh, kw, channels // |G|, |G|, filters)`; `bias` of
        shape `(filters,)`.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import GroupConv2D
    >>> layer = GroupConv2D(4, 3, group="C4")
    >>> layer(np.zeros((2, 9, 9, 8), "float32")).shape
    TensorShape([2, 9, 9, 16])
    >>> layer.relax("C2").filters
    8
    """

    def __init__(
        self,
        filters,
        kernel_size,
        group,
        strides=1,
        padding="same",
        input_layout=None,
        output_layout=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            group,
            strides=strides,
            padding=padding,
            input_layout=input_layout,
            output_layout=output_layout,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            **kwargs,
        )
