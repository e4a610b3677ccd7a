"""The thesis' 8-convolution backbone with a pluggable convolution (private).

`keras_grow.applications.EquivariantCNN` builds the same network from plain
group convolutions; the search methods need the same skeleton with other
convolutions (mixed layers for EquiNAS_D, residual pathways for RPP), and the
package layering forbids `search` from importing `applications`.
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
):
    """Lifting + 7 convolutions, group batch norm, symmetric pooling, invariant head.

    Args:
        conv_factory: `conv_factory(index, channels, lifting, name)` returns a
            layer writing `channels` channels in `layout_group`'s layout.
        layout_group: group whose channel layout every feature map follows.
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
    bad = [i for i in pool_after if not 1 <= i <= 8]
    if bad:
        raise ValueError(f"`pool_after` entries must be in 1..8; received {tuple(pool_after)!r}.")
    inputs = keras.Input(shape=input_shape)
    x, size = inputs, input_shape[0]
    for index in range(1, 9):
        channels = width if index <= 4 else 2 * width
        conv_name = "lift_conv1" if index == 1 else f"gconv{index}"
        x = conv_factory(index, channels, index == 1, conv_name)(x)
        x = GroupBatchNormalization(layout.name, name=f"gbn{index}")(x)
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
    x = GroupPooling(layout.name, reduction="mean", name="group_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="spatial_pool")(x)
    x = keras.layers.Dense(dense_units, use_bias=False, name="fc1")(x)
    x = keras.layers.BatchNormalization(name="fc1_bn")(x)
    x = keras.layers.ReLU(name="fc1_relu")(x)
    outputs = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)
