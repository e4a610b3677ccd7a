"""The forward pass shared by every layer that is one convolution with an expanded kernel."""

import keras
from keras import ops

from keras_grow.layers import _group_kernels as gk


class ExpandedKernelConv:
    """Mixin: `call` is one `ops.conv` with `expanded_kernel()` and `expanded_bias()`.

    The host layer defines `expanded_kernel()`, `expanded_bias()`,
    `output_channels`, `input_channels`, `kernel_size`, `strides`, `padding`,
    `use_bias` and `activation`. `export()` gives the equivalent `Conv2D`.
    """

    def call(self, inputs):
        outputs = ops.conv(
            inputs,
            self.expanded_kernel(),
            strides=self.strides,
            padding=self.padding,
            data_format="channels_last",
        )
        if self.use_bias:
            outputs = outputs + self.expanded_bias()
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        h = gk.conv_output_length(
            input_shape[1], self.kernel_size[0], self.strides[0], self.padding
        )
        w = gk.conv_output_length(
            input_shape[2], self.kernel_size[1], self.strides[1], self.padding
        )
        return (input_shape[0], h, w, self.output_channels)

    def _require_built(self, method):
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} must be built before `{method}()`; call it on an input "
                "or call `build(input_shape)` first."
            )

    def export(self, name=None):
        """An equivalent plain `keras.layers.Conv2D`, built, with the expanded weights.

        Its output equals this layer's output (same input, same output channel
        order); useful for deployment without keras_grow. For
        `MixedEquivariantConv` the kernel is the summed, weighted one (eq. 12).
        """
        self._require_built("export")
        conv = keras.layers.Conv2D(
            filters=self.output_channels,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            activation=self.activation,
            use_bias=self.use_bias,
            name=name or f"{self.name}_exported",
        )
        conv.build((None, None, None, self.input_channels))
        weights = [ops.convert_to_numpy(self.expanded_kernel())]
        if self.use_bias:
            weights.append(ops.convert_to_numpy(self.expanded_bias()))
        conv.set_weights(weights)
        return conv
