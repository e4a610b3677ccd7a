"""`GroupBatchNormalization`: batch norm with statistics pooled over each group orbit."""

import keras
from keras import ops

from keras_grow import groups


@keras.saving.register_keras_serializable(package="keras_grow")
class GroupBatchNormalization(keras.layers.Layer):
    """Batch normalization of a group feature map, one statistic per field.

    A plain `BatchNormalization` keeps one mean/variance per channel, and so
    treats the |G| channels of a field differently - which breaks
    equivariance. This layer pools the statistics over each orbit, i.e. over
    batch, space and the |G| channels of a field, and learns one `gamma` and
    one `beta` per field, so it commutes with every group element.

    In training mode (`training=True`) it normalises with the batch statistics
    and updates the moving statistics,
    `moving = moving * momentum + batch * (1 - momentum)`; in inference mode it
    uses the moving statistics. The variance is the biased (population)
    variance, as in `keras.layers.BatchNormalization`.

    For tensors that follow the layout of a larger group A (relaxed layers
    with `output_layout=A`), pass `group=A`: A-orbits are unions of orbits of
    every subgroup, so the layer stays equivariant to them.

    Args:
        group: `"C1"`, `"C2"`, `"C4"`, `"D1"`, `"D2"` or `"D4"`: the group
            whose channel layout the input follows.
        momentum: momentum of the moving statistics.
        epsilon: small float added to the variance.
        center: whether to learn the offset `beta`.
        scale: whether to learn the scale `gamma`.
        beta_initializer: initializer of `beta`.
        gamma_initializer: initializer of `gamma`.
        moving_mean_initializer: initializer of the moving mean.
        moving_variance_initializer: initializer of the moving variance.
        beta_regularizer: regularizer of `beta`.
        gamma_regularizer: regularizer of `gamma`.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: tensor `(batch, ..., C * |G|)`, channel `c * |G| + g`.
        training: whether to use batch statistics (and update the moving ones).

    Input shape:
        Any rank >= 2, channels last, a multiple of |G| channels.

    Output shape:
        Same as the input.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import GroupBatchNormalization
    >>> bn = GroupBatchNormalization("C4")
    >>> bn(np.ones((2, 5, 5, 8), "float32"), training=True).shape
    TensorShape([2, 5, 5, 8])
    >>> tuple(bn.gamma.shape)
    (2,)
    """

    def __init__(
        self,
        group,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.group = groups.get(group)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"`momentum` must be in [0, 1]; received {momentum!r}.")
        if float(epsilon) <= 0.0:
            raise ValueError(f"`epsilon` must be positive; received {epsilon!r}.")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.moving_mean_initializer = keras.initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = keras.initializers.get(moving_variance_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.group.order:
            raise ValueError(
                f"GroupBatchNormalization({self.group.name!r}) expects input channels to be a "
                f"multiple of |G|={self.group.order}; received {channels} input channels."
            )
        self.fields = channels // self.group.order
        shape = (self.fields,)
        self.gamma = (
            self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
            )
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
            )
            if self.center
            else None
        )
        self.moving_mean = self.add_weight(
            name="moving_mean",
            shape=shape,
            initializer=self.moving_mean_initializer,
            trainable=False,
            autocast=False,
        )
        self.moving_variance = self.add_weight(
            name="moving_variance",
            shape=shape,
            initializer=self.moving_variance_initializer,
            trainable=False,
            autocast=False,
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: channels})

    def _per_channel(self, values):
        return ops.repeat(values, self.group.order, axis=0)

    def call(self, inputs, training=None):
        compute_dtype = inputs.dtype
        x = ops.cast(inputs, "float32")
        if training and self.trainable:
            orbits = ops.reshape(x, (-1, self.fields, self.group.order))
            mean, variance = ops.moments(orbits, axes=(0, 2))
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
            )
        else:
            mean, variance = self.moving_mean, self.moving_variance
        inv = ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * ops.cast(self.gamma, "float32")
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + ops.cast(self.beta, "float32")
        outputs = x * self._per_channel(inv) + self._per_channel(shift)
        return ops.cast(outputs, compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            group=self.group.name,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=keras.initializers.serialize(self.beta_initializer),
            gamma_initializer=keras.initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=keras.initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=keras.initializers.serialize(
                self.moving_variance_initializer
            ),
            beta_regularizer=keras.regularizers.serialize(self.beta_regularizer),
            gamma_regularizer=keras.regularizers.serialize(self.gamma_regularizer),
        )
        return config
