"""An autoencoder unit that reads masked receptive fields of a 2-D feature map."""

import numbers

import keras
import numpy as np
from keras import ops


def _as_pair(value, name):
    """Validate a pair of non-negative ints (e.g. a shape or a top-left corner)."""
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"{name}={value!r} must be a pair of integers (row, column).")
    return int(value[0]), int(value[1])


def field_mask(feature_map_shape, fields, field_size):
    """Binary indicator matrix `delta` of the union of square fields.

    Args:
        feature_map_shape: `(h, w)` of the feature map.
        fields: sequence of `(row, col)` top-left corners.
        field_size: side `N` of each square field.

    Returns:
        `float32` array of shape `(h, w)`: 1 inside any field, 0 elsewhere.
    """
    h, w = feature_map_shape
    mask = np.zeros((h, w), dtype="float32")
    for row, col in fields:
        mask[row : row + field_size, col : col + field_size] = 1.0
    return mask


def validate_fields(fields, feature_map_shape, field_size, name="fields"):
    """Check that every `(row, col)` corner keeps its `N x N` field inside the map.

    Returns the fields as a tuple of int pairs; raises `TypeError`/`ValueError`
    naming `name`, the value received and the allowed ranges.
    """
    if isinstance(fields, (str, bytes)) or not isinstance(fields, (tuple, list)):
        raise TypeError(f"{name}={fields!r} must be a sequence of (row, col) corners.")
    if len(fields) < 1:
        raise ValueError(f"{name}={fields!r} must hold at least one (row, col) corner.")
    h, w = feature_map_shape
    out = []
    for i, corner in enumerate(fields):
        row, col = _as_pair(corner, f"{name}[{i}]")
        if not (0 <= row <= h - field_size and 0 <= col <= w - field_size):
            raise ValueError(
                f"{name}[{i}]={corner!r} puts a {field_size}x{field_size} field outside the "
                f"{h}x{w} feature map: allowed rows are 0..{h - field_size} and columns "
                f"0..{w - field_size}."
            )
        out.append((row, col))
    return tuple(out)


@keras.saving.register_keras_serializable(package="keras_grow")
class AutoencoderUnit(keras.layers.Layer):
    """Single-hidden-layer autoencoder reading square receptive fields of a feature map.

    The unit of a self-organising hierarchy. Its input is the whole `h x w`
    feature map (the image and the hidden codes of all units), but a binary
    indicator matrix `delta` with ones on the union of its `N x N` receptive
    fields selects what it sees: the encoder computes
    `code = activation((x * delta) @ W_enc + b_enc)`, which equals using the
    masked weights `W_enc * delta`, and the reconstruction is masked the same
    way. Weights outside the fields are kept, get zero gradient and no L2
    penalty, and take effect again if a field moves back over them.

    Moving a field (`set_fields`) only assigns the mask variable, so a
    compiled training function keeps working without retracing.

    Reference:
    - [Borgohain et al., 2020](https://arxiv.org/abs/2007.06893),
      "Self-organising Neural Network Hierarchy", section 2.1 and 2.2.

    Args:
        units: number of hidden units (the code length), int >= 1.
        feature_map_shape: `(h, w)` of the feature map.
        fields: sequence of `(row, col)` top-left corners of the receptive
            fields (the paper uses two). Fields may overlap; the mask is
            their union.
        field_size: side `N` of each square field, int >= 1.
        dropout: dropout rate on the code fed to the decoder during training,
            in [0, 1). The code returned (and written to the feature map) has
            no dropout.
        l2: L2 factor on the in-field encoder and decoder weights, >= 0.
        activation: encoder activation.
        decoder_activation: decoder activation (`"relu"` as in the paper's
            code, since codes are non-negative).
        kernel_initializer: initializer of both kernels.
        bias_initializer: initializer of both biases.
        seed: int seed of the dropout noise, or `None`.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: feature maps of shape `(batch, h, w)`.
        training: whether to apply dropout.

    Input shape:
        `(batch, h, w)`.

    Output shape:
        A tuple `(code, reconstruction)` of shapes `(batch, units)` and
        `(batch, h, w)`; the reconstruction is zero outside the fields.

    Example:

    >>> unit = AutoencoderUnit(4, feature_map_shape=(6, 8), fields=[(0, 0), (2, 4)],
    ...                        field_size=2)
    >>> code, reconstruction = unit(np.ones((3, 6, 8), "float32"))
    >>> tuple(code.shape), tuple(reconstruction.shape)
    ((3, 4), (3, 6, 8))
    >>> int(unit.field_mask.sum())
    8
    """

    def __init__(
        self,
        units,
        feature_map_shape,
        fields,
        field_size,
        dropout=0.0,
        l2=0.0,
        activation="relu",
        decoder_activation="relu",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool):
            raise TypeError(f"units={units!r} must be an integer >= 1.")
        if units < 1:
            raise ValueError(f"units={units!r} must be an integer >= 1.")
        if not isinstance(field_size, numbers.Integral) or isinstance(field_size, bool):
            raise TypeError(f"field_size={field_size!r} must be an integer >= 1.")
        self.feature_map_shape = _as_pair(feature_map_shape, "feature_map_shape")
        if min(self.feature_map_shape) < 1:
            raise ValueError(f"feature_map_shape={feature_map_shape!r} must be positive.")
        if not 1 <= field_size <= min(self.feature_map_shape):
            raise ValueError(
                f"field_size={field_size!r} must be between 1 and "
                f"{min(self.feature_map_shape)} (the smaller feature-map side)."
            )
        if not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be a float in [0, 1).")
        if not isinstance(l2, numbers.Real) or l2 < 0:
            raise ValueError(f"l2={l2!r} must be a float >= 0.")
        self.units = int(units)
        self.field_size = int(field_size)
        self.fields = validate_fields(fields, self.feature_map_shape, self.field_size)
        self.dropout = float(dropout)
        self.l2 = float(l2)
        self.activation = keras.activations.get(activation)
        self.decoder_activation = keras.activations.get(decoder_activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.dropout > 0 else None

    @property
    def size(self):
        """Number of feature-map cells, `h * w`."""
        return self.feature_map_shape[0] * self.feature_map_shape[1]

    @property
    def field_mask(self):
        """The indicator matrix `delta` of the current fields, `(h, w)` float32."""
        return field_mask(self.feature_map_shape, self.fields, self.field_size)

    def build(self, input_shape=None):
        if input_shape is not None and tuple(input_shape[1:]) != self.feature_map_shape:
            raise ValueError(
                f"input_shape={tuple(input_shape)!r} does not match "
                f"feature_map_shape={self.feature_map_shape!r}: expected (batch, h, w)."
            )
        n = self.size
        self.encoder_kernel = self.add_weight(
            shape=(n, self.units), initializer=self.kernel_initializer, name="encoder_kernel"
        )
        self.encoder_bias = self.add_weight(
            shape=(self.units,), initializer=self.bias_initializer, name="encoder_bias"
        )
        self.decoder_kernel = self.add_weight(
            shape=(self.units, n), initializer=self.kernel_initializer, name="decoder_kernel"
        )
        self.decoder_bias = self.add_weight(
            shape=(n,), initializer=self.bias_initializer, name="decoder_bias"
        )
        self.delta = self.add_weight(
            shape=(n,),
            initializer=keras.initializers.Constant(self.field_mask.reshape(-1)),
            trainable=False,
            name="field_mask",
        )

    def set_fields(self, fields):
        """Move the receptive fields; weights are kept, only the mask changes."""
        self.fields = validate_fields(fields, self.feature_map_shape, self.field_size)
        if self.built:
            self.delta.assign(self.field_mask.reshape(-1))

    def reset_weights(self):
        """Redraw the weights from the initializers and restart the dropout noise.

        With seeded initializers and an int `seed` this gives back the layer
        exactly as it was built (the fields are kept).
        """
        self.encoder_kernel.assign(self.kernel_initializer(self.encoder_kernel.shape))
        self.decoder_kernel.assign(self.kernel_initializer(self.decoder_kernel.shape))
        self.encoder_bias.assign(self.bias_initializer(self.encoder_bias.shape))
        self.decoder_bias.assign(self.bias_initializer(self.decoder_bias.shape))
        if self.seed_generator is not None and self.seed is not None:
            self.seed_generator.state.assign(np.array([self.seed, 0]))

    def _flat(self, inputs):
        return ops.reshape(ops.cast(inputs, self.compute_dtype), (-1, self.size))

    def encode(self, inputs):
        """The code of `inputs` (no dropout), shape `(batch, units)`."""
        x = self._flat(inputs) * ops.cast(self.delta, self.compute_dtype)
        return self.activation(ops.matmul(x, self.encoder_kernel) + self.encoder_bias)

    def decode(self, code, training=False):
        """Masked reconstruction of flat feature maps, shape `(batch, h * w)`."""
        if training and self.dropout > 0:
            code = keras.random.dropout(code, self.dropout, seed=self.seed_generator)
        out = self.decoder_activation(ops.matmul(code, self.decoder_kernel) + self.decoder_bias)
        return out * ops.cast(self.delta, self.compute_dtype)

    def call(self, inputs, training=False):
        code = self.encode(inputs)
        reconstruction = self.decode(code, training=training)
        return code, ops.reshape(reconstruction, (-1, *self.feature_map_shape))

    def reconstruction_loss(self, inputs, reconstruction):
        """Mean squared error over the in-field cells (scalar)."""
        mask = ops.cast(self.delta, self.compute_dtype)
        diff = (self._flat(reconstruction) - self._flat(inputs) * mask) * mask
        cells = ops.cast(ops.shape(diff)[0], self.compute_dtype) * ops.sum(mask)
        return ops.sum(ops.square(diff)) / ops.maximum(cells, 1.0)

    def regularization_loss(self):
        """L2 penalty on the in-field weights only (scalar)."""
        if self.l2 == 0:
            return ops.zeros((), dtype=self.compute_dtype)
        mask = ops.cast(self.delta, self.compute_dtype)
        enc = ops.sum(ops.square(self.encoder_kernel) * mask[:, None])
        dec = ops.sum(ops.square(self.decoder_kernel) * mask[None, :])
        return self.l2 * (enc + dec)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        return (batch, self.units), (batch, *self.feature_map_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "feature_map_shape": list(self.feature_map_shape),
                "fields": [list(f) for f in self.fields],
                "field_size": self.field_size,
                "dropout": self.dropout,
                "l2": self.l2,
                "activation": keras.activations.serialize(self.activation),
                "decoder_activation": keras.activations.serialize(self.decoder_activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "seed": self.seed,
            }
        )
        return config
