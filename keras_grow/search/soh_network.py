"""The meta-network: autoencoder units sharing one feature map (Algorithm 1 passes)."""

import keras
import numpy as np
from keras import ops

from keras_grow.layers.autoencoder_unit import AutoencoderUnit
from keras_grow.search.soh_layouts import Layout


def _unit_seed(seed, k, offset):
    return None if seed is None else int(seed) * 1009 + 31 * k + offset


@keras.saving.register_keras_serializable(package="keras_grow")
class HierarchyNetwork(keras.Model):
    """K `AutoencoderUnit`s reading and writing one `h x w` feature map.

    The feature map starts as the image (at the layout's input location) and
    zeros; each unit reads its masked receptive fields and writes its code
    into its own block. `settle(images, passes)` runs `passes` rounds of all
    units in order (forward only, inference mode), each unit seeing the codes
    the units before it just wrote. Calling the model runs `K + 1` rounds
    (the `K x K` settling passes of Algorithm 1 plus the final pass) and
    returns the concatenated codes, the classifier's features.
    `local_losses` is the training pass: after `K` settling rounds, each unit
    in turn encodes (gradients flow only into its own weights), reconstructs
    its fields, and writes its code.

    Reference:
    - [Borgohain et al., 2020](https://arxiv.org/abs/2007.06893), Algorithm 1.

    Args:
        layout: a `Layout` (or its config dict).
        dropout: dropout rate of every unit's decoder input.
        l2: L2 factor on in-field weights.
        activation: encoder activation.
        decoder_activation: decoder activation.
        seed: int seed of the weight initialisation and dropout noise.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: images `(batch, rows, cols)`, `(batch, rows, cols, 1)` or
            `(batch, rows * cols)`.

    Output shape:
        `(batch, K * hidden)`.

    Example:

    >>> from keras_grow.search.soh_layouts import make_layout
    >>> layout = make_layout("pyramidal", units=3, feature_map=(4, 8), hidden=4, field=2)
    >>> net = HierarchyNetwork(layout, seed=0)
    >>> tuple(net(np.zeros((2, 4, 4), "float32")).shape)
    (2, 12)
    """

    def __init__(
        self,
        layout,
        dropout=0.2,
        l2=1e-4,
        activation="relu",
        decoder_activation="relu",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(layout, dict):
            layout = Layout.from_config(layout)
        if not isinstance(layout, Layout):
            raise TypeError(f"layout={layout!r} must be a Layout.")
        self.layout = layout
        self.dropout = dropout
        self.l2 = l2
        self.activation = activation
        self.decoder_activation = decoder_activation
        self.seed = seed
        self.autoencoders = [
            AutoencoderUnit(
                layout.hidden,
                feature_map_shape=layout.feature_map,
                fields=layout.fields[k],
                field_size=layout.field,
                dropout=dropout,
                l2=l2,
                activation=activation,
                decoder_activation=decoder_activation,
                kernel_initializer=keras.initializers.GlorotUniform(seed=_unit_seed(seed, k, 0)),
                seed=_unit_seed(seed, k, 1),
                name=f"unit_{k + 1}",
            )
            for k in range(layout.units)
        ]
        self._map_index = self._placement(layout)

    @staticmethod
    def _placement(layout):
        """For every map cell, its index in `[image, code_1, ..., code_K, 0]`."""
        h, w = layout.feature_map
        rows, cols = layout.input_shape
        size = rows * cols + layout.units * layout.hidden
        index = np.full((h, w), size, dtype="int32")
        r0, c0 = layout.input_location
        index[r0 : r0 + rows, c0 : c0 + cols] = np.arange(rows * cols).reshape(rows, cols)
        for k in range(layout.units):
            r, c, ch, cw = layout.code_region(k)
            start = rows * cols + k * layout.hidden
            index[r : r + ch, c : c + cw] = np.arange(start, start + layout.hidden).reshape(ch, cw)
        return index.reshape(-1)

    @property
    def units(self):
        return self.layout.units

    def build(self, input_shape=None):
        for unit in self.autoencoders:
            if not unit.built:
                unit.build((None, *self.layout.feature_map))
        self.built = True

    def get_build_config(self):
        return {"input_shape": [None, *self.layout.input_shape]}

    def build_from_config(self, config):
        self.build()

    def check_layout(self, layout):
        """Raise unless `layout` differs from the current one in its fields only."""
        if not isinstance(layout, Layout):
            raise TypeError(f"layout={layout!r} must be a Layout.")
        if (
            layout.feature_map != self.layout.feature_map
            or layout.code_locations != self.layout.code_locations
            or layout.code_shape != self.layout.code_shape
            or layout.input_region != self.layout.input_region
            or layout.field != self.layout.field
        ):
            raise ValueError(
                "layout differs from the network's in more than its fields: only fields can move."
            )

    def set_layout(self, layout):
        """Move fields to those of `layout` (same map, image and code placement)."""
        self.check_layout(layout)
        for unit, fields in zip(self.autoencoders, layout.fields, strict=True):
            if unit.fields != fields:
                unit.set_fields(fields)
        self.layout = layout

    def reinitialize(self, seed):
        """Fresh weights and dropout streams, as a new network with `seed` would have."""
        self.seed = seed
        for k, unit in enumerate(self.autoencoders):
            unit.kernel_initializer = keras.initializers.GlorotUniform(seed=_unit_seed(seed, k, 0))
            unit.seed = _unit_seed(seed, k, 1)
            unit.reset_weights()

    def flat_images(self, inputs):
        rows, cols = self.layout.input_shape
        return ops.reshape(ops.cast(inputs, "float32"), (-1, rows * cols))

    def feature_map(self, images, codes):
        """Feature maps `(batch, h, w)` from flat images and the current codes."""
        zeros = ops.zeros_like(images[:, :1])
        storage = ops.concatenate([images, *codes, zeros], axis=1)
        flat = ops.take(storage, self._map_index, axis=1)
        return ops.reshape(flat, (-1, *self.layout.feature_map))

    def settle(self, images, passes):
        """Codes after `passes` rounds of forward passes (inference mode)."""
        batch = ops.shape(images)[0]
        codes = [ops.zeros((batch, self.layout.hidden), dtype=images.dtype)] * self.units
        codes = list(codes)
        for _ in range(passes):
            for k, unit in enumerate(self.autoencoders):
                codes[k] = unit.encode(self.feature_map(images, codes))
        return codes

    def call(self, inputs, training=False):
        images = self.flat_images(inputs)
        return ops.concatenate(self.settle(images, self.units + 1), axis=1)

    def local_losses(self, images, codes):
        """Training pass after settling: per-unit losses and the codes written.

        Args:
            images: flat images `(batch, rows * cols)`.
            codes: list of settled codes (treated as constants).

        Returns:
            `(losses, codes)`: a list of K scalar losses (reconstruction MSE
            plus in-field L2) and the K codes written during the pass.
        """
        codes = [ops.stop_gradient(c) for c in codes]
        losses = []
        for k, unit in enumerate(self.autoencoders):
            fmap = self.feature_map(images, codes)
            code, reconstruction = unit(fmap, training=True)
            loss = unit.reconstruction_loss(fmap, reconstruction)
            losses.append(loss + unit.regularization_loss())
            codes[k] = ops.stop_gradient(code)
        return losses, codes

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units * self.layout.hidden)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layout": self.layout.get_config(),
                "dropout": self.dropout,
                "l2": self.l2,
                "activation": self.activation,
                "decoder_activation": self.decoder_activation,
                "seed": self.seed,
            }
        )
        return config
