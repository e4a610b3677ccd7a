"""The forward pass shared by every layer that is one convolution with an expanded kernel."""

from keras import ops

from keras_grow.layers import _group_kernels as gk


class ExpandedKernelConv:
    """Mixin: `call` is one `ops.conv` with `expanded_kernel()` and `expanded_bias()`.

    The host layer defines `expanded_kernel()`, `expanded_bias()`,
    `output_channels`, `kernel_size`, `strides`, `padding`, `use_bias` and
    `activation`.
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
