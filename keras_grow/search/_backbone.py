"""The thesis' 8-convolution backbone with a pluggable convolution (private).

`keras_grow.applications.EquivariantCNN` builds it from plain group
convolutions, the search methods with other convolutions (mixed layers for
EquiNAS_D, residual pathways for RPP). It lives here because `applications`
may import `search`, not the reverse.
"""

import keras

from keras_grow import groups
from keras_grow.layers.group_batch_norm import GroupBatchNormalization
from keras_grow.layers.group_pooling import GroupPooling


def build_backbone(
    conv_factory,
    layout_group,
    input_shape,
    classes,
    width,
    dense_units,
    pool_after,
    classifier_activation,
    name,
    include_top=True,
    pooling=None,
    batch_norm_momentum=0.9,
    normalization_group=None,
):
    """Lifting + 7 convolutions, group batch norm, symmetric pooling, invariant head.

    Args:
        conv_factory: `conv_factory(index, channels, lifting, name)` returns a
            layer writing `channels` channels in `layout_group`'s layout.
        layout_group: group whose channel layout every feature map follows.
        normalization_group: group whose orbits (blocks of channels of the
            layout) the batch norms pool their statistics over and the head
            averages over before the dense layers; default `layout_group`.
            The only other choice, `"C1"`, gives per-channel batch norms
            and a head that reads every channel, which suits convolutions
            that are not equivariant to `layout_group` (mixed layers, RPP).
        batch_norm_momentum: momentum of every batch norm. 0.9 is PyTorch's
            default (its `momentum=0.1`), as in the thesis. Moving statistics
            lag behind quickly changing weights at any momentum; see
            `keras_grow.callbacks.PreciseBatchNorm`.
        Others: as in `keras_grow.applications.EquivariantCNN`.
    """
    layout = groups.get(layout_group)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels); received {input_shape!r}."
        )
    if isinstance(width, bool) or not isinstance(width, int) or width % layout.order or width < 1:
        raise ValueError(
            f"`width` must be a positive multiple of |{layout.name}|={layout.order}; "
            f"received {width!r}."
        )
    norm = layout if normalization_group is None else groups.get(normalization_group)
    if norm.name not in (layout.name, "C1"):
        raise ValueError(
            f"`normalization_group` must be {layout.name!r} (the layout group) or 'C1' "
            f"(per channel); received {norm.name!r}."
        )
    bad = [i for i in pool_after if not 1 <= i <= 8]
    if bad:
        raise ValueError(f"`pool_after` entries must be in 1..8; received {tuple(pool_after)!r}.")
    inputs = keras.Input(shape=input_shape)
    x, size = inputs, input_shape[0]
    for index in range(1, 9):
        channels = width if index <= 4 else 2 * width
        conv_name = "lift_conv1" if index == 1 else f"gconv{index}"
        x = conv_factory(index, channels, index == 1, conv_name)(x)
        x = GroupBatchNormalization(norm.name, momentum=batch_norm_momentum, name=f"gbn{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
        if index in pool_after:
            if size is not None and size < 2:
                raise ValueError(
                    f"`input_shape`={input_shape!r} is too small for `pool_after`="
                    f"{tuple(pool_after)!r}: the map is {size}x{size} before pooling {index}."
                )
            window = 3 if size is not None and size % 2 else 2
            x = keras.layers.AveragePooling2D(window, strides=2, name=f"pool{index}")(x)
            size = None if size is None else (size - window) // 2 + 1
    if include_top or pooling is not None:
        reduction = "max" if pooling == "max" and not include_top else "mean"
        x = GroupPooling(norm.name, reduction=reduction, name="group_pool")(x)
        spatial = (
            keras.layers.GlobalMaxPooling2D
            if reduction == "max"
            else keras.layers.GlobalAveragePooling2D
        )
        x = spatial(name="spatial_pool")(x)
    if include_top:
        x = keras.layers.Dense(dense_units, use_bias=False, name="fc1")(x)
        x = keras.layers.BatchNormalization(momentum=batch_norm_momentum, name="fc1_bn")(x)
        x = keras.layers.ReLU(name="fc1_relu")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, x, name=name)
