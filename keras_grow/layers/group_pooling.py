"""`GroupPooling`: pool every regular field over its group axis (invariant features)."""

import keras
from keras import ops

from keras_grow import groups


@keras.saving.register_keras_serializable(package="keras_grow")
class GroupPooling(keras.layers.Layer):
    """Pools each field of a group feature map over its |G| channels.

    A group element permutes the |G| channels of every field (regular
    representation); a max or mean over them is unchanged by that permutation,
    so the result is invariant to the group's action on the channel axis. On
    a G-equivariant feature map the output transforms like a plain image
    (spatial rotation/mirror only); after global spatial pooling it is
    G-invariant.

    For a network whose tensors follow the layout of a larger group A (e.g. a
    relaxed layer with `output_layout="D4"`), pass `group=A`: pooling over the
    |A| channels of an A-field is invariant to every subgroup of A.

    Args:
        group: `"C1"`, `"C2"`, `"C4"`, `"D1"`, `"D2"` or `"D4"`: the group
            whose channel layout the input follows.
        reduction: `"max"` (default) or `"mean"`.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: tensor `(..., C * |G|)` with channel `c * |G| + g`.

    Input shape:
        Any rank >= 2, channels last, a multiple of |G| channels.

    Output shape:
        Same rank, `C` channels.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import GroupPooling
    >>> GroupPooling("D4")(np.ones((2, 5, 5, 16), "float32")).shape
    TensorShape([2, 5, 5, 2])
    """

    def __init__(self, group, reduction="max", **kwargs):
        super().__init__(**kwargs)
        self.group = groups.get(group)
        if reduction not in ("max", "mean"):
            raise ValueError(f"`reduction` must be 'max' or 'mean'; received {reduction!r}.")
        self.reduction = reduction

    def _fields(self, channels):
        if channels is None or channels % self.group.order:
            raise ValueError(
                f"GroupPooling({self.group.name!r}) expects input channels to be a multiple of "
                f"|G|={self.group.order}; received {channels} input channels."
            )
        return channels // self.group.order

    def build(self, input_shape):
        self._fields(input_shape[-1])

    def call(self, inputs):
        fields = self._fields(inputs.shape[-1])
        grouped = ops.reshape(inputs, (*ops.shape(inputs)[:-1], fields, self.group.order))
        if self.reduction == "max":
            return ops.max(grouped, axis=-1)
        return ops.mean(grouped, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self._fields(input_shape[-1]))

    def get_config(self):
        config = super().get_config()
        config.update(group=self.group.name, reduction=self.reduction)
        return config
