"""The candidate operations of the DARTS cell search space.

Eight primitives (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture
Search", ICLR 2019, section 3.1): `none` (zero), 3x3 max and average pooling,
identity (`skip_connect`), separable convolutions 3x3 / 5x5 and dilated
separable convolutions 3x3 / 5x5. Every operation maps `channels` channels to
`channels` channels; with `strides=2` the spatial size becomes `ceil(size / 2)`.

Padding is symmetric, as in the reference PyTorch code: for stride 1 Keras'
`"same"` padding already is, for stride 2 the layers pad explicitly and run a
`"valid"` window, so every stride-2 operation samples the input on the same
grid (window centres at even positions). Pooling with stride 2 is computed as
the stride-1 pooling sampled at even positions, which is the same thing and
keeps `avg_pool_3x3` from counting padded zeros.
"""

import keras
from keras import ops

DARTS_PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The eight operations of the DARTS CNN search space, in the published order."""

BN_MOMENTUM = 0.9  # PyTorch's momentum=0.1
BN_EPSILON = 1e-5


def _check_channels(channels, cls_name):
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"{cls_name}: `channels` must be a positive int; received {channels!r}.")
    return channels


def _check_strides(strides, cls_name):
    if strides not in (1, 2) or isinstance(strides, bool):
        raise ValueError(f"{cls_name}: `strides` must be 1 or 2; received {strides!r}.")
    return int(strides)


def _check_kernel(kernel_size, cls_name):
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, int)
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise ValueError(
            f"{cls_name}: `kernel_size` must be a positive odd int; received {kernel_size!r}."
        )
    return kernel_size


def _pad(x, amount):
    if amount == 0:
        return x
    return ops.pad(x, [[0, 0], [amount, amount], [amount, amount], [0, 0]])


@keras.saving.register_keras_serializable(package="keras_grow")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`BatchNormalization` that runs TensorFlow's fused kernel on 4-D NHWC inputs.

    Same weights, configuration and results as the Keras layer (the moving
    variance is updated with the unbiased batch variance, as in PyTorch and
    tf.keras 2). A DARTS supernet holds hundreds of batch normalisations; the
    fused kernel is one graph node forward and one backward instead of about
    thirty, which cuts tracing and CPU step time severalfold. Other backends,
    masks, renormalisation, other axes or ranks fall back to the Keras layer.

    Example:

    >>> import numpy as np
    >>> bn = FusedBatchNormalization(center=False, scale=False)
    >>> bn(np.ones((2, 4, 4, 3), "float32"), training=True).shape
    TensorShape([2, 4, 4, 3])
    """

    def _fused(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and inputs.dtype == "float32"
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        scale = self.gamma.value if self.scale else tf.ones((channels,), inputs.dtype)
        offset = self.beta.value if self.center else tf.zeros((channels,), inputs.dtype)
        if training and self.trainable:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                scale,
                offset,
                mean=self.moving_mean.value,
                variance=self.moving_variance.value,
                epsilon=self.epsilon,
                is_training=True,
                exponential_avg_factor=1.0 - self.momentum,
            )[:3]
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
            return outputs
        return tf.compat.v1.nn.fused_batch_norm(
            inputs,
            scale,
            offset,
            mean=self.moving_mean.value,
            variance=self.moving_variance.value,
            epsilon=self.epsilon,
            is_training=False,
        )[0]


def _batch_norm(affine, name):
    return FusedBatchNormalization(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, center=affine, scale=affine, name=name
    )


def _padded_shape(input_shape, amount):
    b, h, w, c = input_shape
    return (b, None if h is None else h + 2 * amount, None if w is None else w + 2 * amount, c)


def _strided_shape(input_shape, strides, channels=None):
    def reduce(size):
        return None if size is None else -(-size // strides)

    b, h, w, c = input_shape
    return (b, reduce(h), reduce(w), c if channels is None else channels)


class _DartsOp(keras.layers.Layer):
    """Shared plumbing: sub-layers are built in `build`, config round-trips."""

    def compute_output_shape(self, input_shape):
        return _strided_shape(input_shape, self.strides, getattr(self, "channels", None))


class _ConvOp(_DartsOp):
    """A convolution primitive: `channels`, `kernel_size`, `strides`, `affine` round-trip."""

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "affine": self.affine,
        }


@keras.saving.register_keras_serializable(package="keras_grow")
class Zero(_DartsOp):
    """The `none` operation: zeros of the (strided) input shape.

    Args:
        strides: 1 or 2.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> Zero(strides=2)(np.ones((1, 5, 5, 3), "float32")).shape
    TensorShape([1, 3, 3, 3])
    """

    def __init__(self, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.strides = _check_strides(strides, "Zero")

    def call(self, inputs):
        if self.strides == 2:
            inputs = inputs[:, ::2, ::2, :]
        return ops.zeros_like(inputs)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides}


@keras.saving.register_keras_serializable(package="keras_grow")
class FactorizedReduce(_DartsOp):
    """ReLU, then two 1x1 stride-2 convolutions on offset grids, concatenated, then BN.

    Halves the spatial size without discarding every other pixel: one
    convolution reads the even positions, the other the odd ones. Used as the
    stride-2 `skip_connect` and to bring a cell's older input down to the
    resolution of a reduction cell's output.

    Args:
        channels: output channels (the two halves get `channels // 2` and the rest).
        affine: whether the batch normalisation learns scale and offset.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> FactorizedReduce(6)(np.ones((2, 7, 7, 4), "float32")).shape
    TensorShape([2, 4, 4, 6])
    """

    def __init__(self, channels, affine=True, **kwargs):
        super().__init__(**kwargs)
        self.channels = _check_channels(channels, "FactorizedReduce")
        if self.channels < 2:
            raise ValueError(
                f"FactorizedReduce: `channels` must be at least 2 (two halves); received "
                f"{channels!r}."
            )
        self.affine = bool(affine)
        self.strides = 2
        half = self.channels // 2
        self.conv_even = keras.layers.Conv2D(half, 1, strides=2, use_bias=False, name="even")
        self.conv_odd = keras.layers.Conv2D(
            self.channels - half, 1, strides=2, use_bias=False, name="odd"
        )
        self.bn = _batch_norm(self.affine, "bn")

    def build(self, input_shape):
        self.conv_even.build(input_shape)
        self.conv_odd.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs):
        x = ops.relu(inputs)
        # odd positions, padded at the far end so odd sizes give ceil(size / 2) too
        shifted = ops.pad(x[:, 1:, 1:, :], [[0, 0], [0, 1], [0, 1], [0, 0]])
        return self.bn(ops.concatenate([self.conv_even(x), self.conv_odd(shifted)], axis=-1))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "affine": self.affine}


@keras.saving.register_keras_serializable(package="keras_grow")
class ReLUConvBN(_ConvOp):
    """ReLU, convolution (no bias), batch normalisation: the cells' input preprocessing.

    Args:
        channels: output channels.
        kernel_size: odd kernel size.
        strides: 1 or 2.
        affine: whether the batch normalisation learns scale and offset.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> ReLUConvBN(8)(np.ones((2, 6, 6, 3), "float32")).shape
    TensorShape([2, 6, 6, 8])
    """

    def __init__(self, channels, kernel_size=1, strides=1, affine=True, **kwargs):
        super().__init__(**kwargs)
        self.channels = _check_channels(channels, "ReLUConvBN")
        self.kernel_size = _check_kernel(kernel_size, "ReLUConvBN")
        self.strides = _check_strides(strides, "ReLUConvBN")
        self.affine = bool(affine)
        self.pad = (self.kernel_size - 1) // 2 if self.strides == 2 else 0
        self.conv = keras.layers.Conv2D(
            self.channels,
            self.kernel_size,
            strides=self.strides,
            padding="valid" if self.strides == 2 else "same",
            use_bias=False,
            name="conv",
        )
        self.bn = _batch_norm(self.affine, "bn")

    def build(self, input_shape):
        self.conv.build(_padded_shape(input_shape, self.pad))
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs):
        return self.bn(self.conv(_pad(ops.relu(inputs), self.pad)))


@keras.saving.register_keras_serializable(package="keras_grow")
class DilConv(_ConvOp):
    """ReLU, depthwise dilated convolution, pointwise convolution, batch normalisation.

    With `strides=2` and `dilation_rate=2` (which TensorFlow's depthwise
    convolution cannot combine), the layer samples the input at even positions
    and runs the undilated depthwise kernel: with symmetric padding
    `dilation_rate * (kernel_size - 1) / 2` the two are the same operation, with
    the same weights, at a quarter of the cost.

    Args:
        channels: input and output channels.
        kernel_size: odd kernel size (3 or 5 in DARTS).
        strides: 1 or 2.
        dilation_rate: 1 or 2 (the search space uses 2; `SepConv` uses 1).
        affine: whether the batch normalisation learns scale and offset.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> DilConv(4, 3, strides=2)(np.ones((1, 8, 8, 4), "float32")).shape
    TensorShape([1, 4, 4, 4])
    """

    def __init__(self, channels, kernel_size=3, strides=1, dilation_rate=2, affine=True, **kwargs):
        super().__init__(**kwargs)
        self.channels = _check_channels(channels, type(self).__name__)
        self.kernel_size = _check_kernel(kernel_size, type(self).__name__)
        self.strides = _check_strides(strides, type(self).__name__)
        if dilation_rate not in (1, 2) or isinstance(dilation_rate, bool):
            raise ValueError(
                f"{type(self).__name__}: `dilation_rate` must be 1 or 2; received "
                f"{dilation_rate!r}."
            )
        self.dilation_rate = int(dilation_rate)
        self.affine = bool(affine)
        subsample = self.strides == 2 and self.dilation_rate == 2
        self._subsample = subsample
        self._pad = self.dilation_rate * (self.kernel_size - 1) // 2 if self.strides == 2 else 0
        self.depthwise = keras.layers.DepthwiseConv2D(
            self.kernel_size,
            strides=1 if subsample else self.strides,
            padding="same" if (self.strides == 1 or subsample) else "valid",
            dilation_rate=1 if subsample else self.dilation_rate,
            use_bias=False,
            name="depthwise",
        )
        self.pointwise = keras.layers.Conv2D(self.channels, 1, use_bias=False, name="pointwise")
        self.bn = _batch_norm(self.affine, "bn")

    def build(self, input_shape):
        b, h, w, c = input_shape
        if c is not None and c != self.channels:
            raise ValueError(
                f"{type(self).__name__}(channels={self.channels}) expects {self.channels} input "
                f"channels; received input shape {tuple(input_shape)}."
            )
        if self._subsample:
            self.depthwise.build(_strided_shape(input_shape, 2))
        else:
            self.depthwise.build(_padded_shape(input_shape, self._pad))
        out = self.compute_output_shape(input_shape)
        self.pointwise.build(out)
        self.bn.build(out)

    def _depthwise(self, x):
        if self._subsample:
            return self.depthwise(x[:, ::2, ::2, :])
        return self.depthwise(_pad(x, self._pad))

    def call(self, inputs):
        return self.bn(self.pointwise(self._depthwise(ops.relu(inputs))))

    def get_config(self):
        return {**super().get_config(), "dilation_rate": self.dilation_rate}


@keras.saving.register_keras_serializable(package="keras_grow")
class SepConv(_ConvOp):
    """Two stacked `DilConv` blocks without dilation: the separable convolution of DARTS.

    ReLU, depthwise (stride `strides`), pointwise, BN, ReLU, depthwise,
    pointwise, BN. Only the first block strides.

    Args:
        channels: input and output channels.
        kernel_size: odd kernel size (3 or 5 in DARTS).
        strides: 1 or 2.
        affine: whether the batch normalisations learn scale and offset.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> SepConv(4, 5)(np.ones((1, 8, 8, 4), "float32")).shape
    TensorShape([1, 8, 8, 4])
    """

    def __init__(self, channels, kernel_size=3, strides=1, affine=True, **kwargs):
        super().__init__(**kwargs)
        self.channels = _check_channels(channels, "SepConv")
        self.kernel_size = _check_kernel(kernel_size, "SepConv")
        self.strides = _check_strides(strides, "SepConv")
        self.affine = bool(affine)
        self.first = DilConv(
            channels, kernel_size, strides, dilation_rate=1, affine=affine, name="first"
        )
        self.second = DilConv(
            channels, kernel_size, 1, dilation_rate=1, affine=affine, name="second"
        )

    def build(self, input_shape):
        self.first.build(input_shape)
        self.second.build(self.first.compute_output_shape(input_shape))

    def call(self, inputs):
        return self.second(self.first(inputs))


@keras.saving.register_keras_serializable(package="keras_grow")
class DartsPooling(_DartsOp):
    """3x3 max or average pooling (padding excluded from averages), optionally + BN.

    In the search network DARTS follows each pooling with a batch
    normalisation without scale and offset (`batch_norm=True`), so the
    parameter-free operations' outputs are on the scale of the convolutions'.

    Args:
        mode: `"max"` or `"avg"`.
        pool_size: odd window size.
        strides: 1 or 2.
        batch_norm: append a non-affine batch normalisation.
        **kwargs: base `Layer` arguments.

    Example:

    >>> import numpy as np
    >>> DartsPooling("avg", strides=2)(np.ones((1, 5, 5, 2), "float32")).shape
    TensorShape([1, 3, 3, 2])
    """

    def __init__(self, mode="max", pool_size=3, strides=1, batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "avg"):
            raise ValueError(f"DartsPooling: `mode` must be 'max' or 'avg'; received {mode!r}.")
        self.mode = mode
        self.pool_size = _check_kernel(pool_size, "DartsPooling")
        self.strides = _check_strides(strides, "DartsPooling")
        self.batch_norm = bool(batch_norm)
        pool = keras.layers.MaxPooling2D if mode == "max" else keras.layers.AveragePooling2D
        self.pool = pool(self.pool_size, strides=1, padding="same", name="pool")
        self.bn = _batch_norm(False, "bn") if self.batch_norm else None

    def build(self, input_shape):
        if self.bn is not None:
            self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs):
        x = self.pool(inputs)
        if self.strides == 2:
            x = x[:, ::2, ::2, :]
        return x if self.bn is None else self.bn(x)

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "pool_size": self.pool_size,
            "strides": self.strides,
            "batch_norm": self.batch_norm,
        }


def check_primitives(primitives, argument="primitives", allow_none=True):
    """Validate a sequence of primitive names and return it as a tuple.

    Raises `TypeError` for a non-sequence and `ValueError` for an empty
    sequence, an unknown or repeated name, or `"none"` when `allow_none=False`.
    """
    if isinstance(primitives, str) or not hasattr(primitives, "__iter__"):
        raise TypeError(
            f"`{argument}` must be a sequence of primitive names; received {primitives!r}. "
            f"Allowed names: {DARTS_PRIMITIVES}."
        )
    primitives = tuple(primitives)
    if not primitives:
        raise ValueError(f"`{argument}` must not be empty. Allowed names: {DARTS_PRIMITIVES}.")
    for name in primitives:
        if name not in DARTS_PRIMITIVES:
            raise ValueError(
                f"Unknown primitive {name!r} in `{argument}`={primitives!r}; allowed names are "
                f"{DARTS_PRIMITIVES}."
            )
    if len(set(primitives)) != len(primitives):
        raise ValueError(f"`{argument}` must not repeat a primitive; received {primitives!r}.")
    if not allow_none and "none" in primitives:
        raise ValueError(
            f"`{argument}`={primitives!r} contains 'none', which is not allowed here (CRB "
            "activation has no 'none' operation: its weights do not compete)."
        )
    return primitives


def make_operation(primitive, channels, strides=1, affine=True, search=False, name=None):
    """Build the Keras layer of one DARTS primitive.

    Args:
        primitive: one of `DARTS_PRIMITIVES`.
        channels: input and output channels.
        strides: 1 or 2.
        affine: whether batch normalisations learn scale and offset (DARTS uses
            `False` in the search network and `True` in the evaluation network).
        search: whether the layer sits in a search `MixedOp`, which appends a
            non-affine batch normalisation to the pooling operations.
        name: layer name (default: the primitive's name).

    Returns:
        A `keras.layers.Layer` mapping `(b, h, w, channels)` to
        `(b, ceil(h / strides), ceil(w / strides), channels)`.
    """
    check_primitives((primitive,), "primitive")
    strides = _check_strides(strides, "make_operation")
    name = name or primitive
    if primitive == "none":
        return Zero(strides, name=name)
    if primitive in ("max_pool_3x3", "avg_pool_3x3"):
        return DartsPooling(primitive[:3], 3, strides, batch_norm=search, name=name)
    if primitive == "skip_connect":
        if strides == 1:
            return keras.layers.Identity(name=name)
        return FactorizedReduce(channels, affine=affine, name=name)
    kernel = int(primitive[-1])
    if primitive.startswith("sep_conv"):
        return SepConv(channels, kernel, strides, affine=affine, name=name)
    return DilConv(channels, kernel, strides, dilation_rate=2, affine=affine, name=name)
