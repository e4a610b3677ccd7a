"""`LiftingConv2D`: lift a plain image to a feature map over a rotation/mirror group."""

import keras

from keras_grow.layers._group_conv_base import GroupConvBase


@keras.saving.register_keras_serializable(package="keras_grow")
class LiftingConv2D(GroupConvBase):
    """2-D lifting convolution: plain channels in, regular group fields out.

    The first layer of a group-equivariant CNN (G-CNN). Each of the `filters`
    learned kernels `psi_d` is applied in every transformed copy `g . psi_d`
    (rotated and/or mirrored as a picture, `g` in `group`), giving one field of
    `|G|` channels per filter (eq. 3 of Maile's thesis, ch. 4):

        out[..., d * |G| + g] = sum_y sum_c x_c(y) psi_(d,c)(g^-1 (y - t)).

    Rotating or mirroring the input then rotates/mirrors the output spatially
    and permutes the `|G|` channels of every field (regular representation):
    `f(g . x) = g . f(x)`, see `keras_grow.groups`. The copies are gathered
    into one expanded kernel and computed with ONE standard convolution.

    Exact equivariance needs a sampling grid that the group maps onto itself:
    square inputs for 90-degree rotations, and for strides > 1 a size with
    `keras_grow.groups.grid_is_symmetric(...)` true (e.g. 9x9, kernel 3,
    stride 2, either padding; not 10x10).

    Reference: Cohen & Welling, "Group Equivariant Convolutional Networks"
    (ICML 2016); Maile, Wilson & Forre, "Equivariance-aware Architectural
    Optimization of Neural Networks" (ICLR 2023).

    Args:
        filters: number of output fields; the layer outputs `filters * |G|`
            channels.
        kernel_size: int or pair. Must be square and odd for every group but C1
            (the kernel is rotated/mirrored about its centre pixel).
        group: `"C1"`, `"C2"`, `"C4"`, `"D1"`, `"D2"` or `"D4"`.
        strides: int or pair.
        padding: `"same"` or `"valid"`.
        output_layout: group whose channel layout the output follows (a
            supergroup of `group`; default `group`). With `output_layout="D4"`
            a C4 layer writes its `filters` C4-fields as `filters / 2` D4-fields
            (eq. 4), so it can replace a D4 layer without re-wiring; used by
            `relax(..., keep_layout=True)`.
        activation: activation function (default none).
        use_bias: whether to add one bias per field (shared by its |G| channels).
        kernel_initializer: initializer of the base kernel, drawn with the fans
            of the equivalent expanded `Conv2D` kernel.
        bias_initializer: initializer of the field biases.
        kernel_regularizer: regularizer of the base kernel.
        bias_regularizer: regularizer of the field biases.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, height, width, channels)` tensor of plain channels.

    Input shape:
        4-D tensor `(batch, height, width, channels)`.

    Output shape:
        4-D tensor `(batch, new_height, new_width, filters * |G|)`; channel
        `d * |G| + g` is field `d` at group element `g`.

    Weights:
        `kernel` of shape `(kh, kw, channels, filters)`; `bias` of shape
        `(filters,)`.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import LiftingConv2D
    >>> layer = LiftingConv2D(4, 3, group="D4")
    >>> layer(np.zeros((2, 9, 9, 1), "float32")).shape
    TensorShape([2, 9, 9, 32])
    """

    _lifting = True

    def __init__(
        self,
        filters,
        kernel_size,
        group,
        strides=1,
        padding="same",
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
            output_layout=output_layout,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            **kwargs,
        )
