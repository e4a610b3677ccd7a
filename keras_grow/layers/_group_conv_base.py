"""Shared machinery of `LiftingConv2D` and `GroupConv2D` (private)."""

import keras
import numpy as np
from keras import ops

from keras_grow import groups
from keras_grow.layers import _group_kernels as gk
from keras_grow.layers._expanded_conv import ExpandedKernelConv


class GroupConvBase(ExpandedKernelConv, keras.layers.Layer):
    """Regular group convolution computed as one gather and one `ops.conv`.

    Subclasses set `_lifting` and document the public signature.
    """

    _lifting = False

    def __init__(
        self,
        filters,
        kernel_size,
        group,
        strides=1,
        padding="same",
        input_layout=None,
        output_layout=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.group = groups.get(group)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"`filters` must be a positive int; received {filters!r}.")
        self.filters = int(filters)
        self.kernel_size = gk.check_group_kernel_size(self.group, kernel_size)
        self.strides = gk.normalize_strides(strides)
        self.padding = gk.normalize_padding(padding)
        self.input_layout = (
            None if self._lifting else gk.check_layout(input_layout, self.group, "input_layout")
        )
        self.output_layout = gk.check_layout(output_layout, self.group, "output_layout")
        ratio = self.output_layout.order // self.group.order
        if self.filters % ratio:
            raise ValueError(
                f"`filters`={self.filters} must be a multiple of |{self.output_layout.name}|/"
                f"|{self.group.name}|={ratio} when `output_layout`={self.output_layout.name!r}."
            )
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    # ----------------------------------------------------------------- building
    @property
    def output_channels(self):
        """Channels of the output: `filters * |group|`."""
        return self.filters * self.group.order

    def _check_input_channels(self, channels):
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} needs a known number of input channels; "
                "received an input with channel dimension None."
            )
        if not self._lifting and channels % self.input_layout.order:
            raise ValueError(
                f"{type(self).__name__} expects input channels to be a multiple of "
                f"|{self.input_layout.name}|={self.input_layout.order} (the input layout "
                f"`input_layout`={self.input_layout.name!r}, channel c * |G| + g); received "
                f"{channels} input channels."
            )

    def build(self, input_shape):
        channels = input_shape[-1]
        self._check_input_channels(channels)
        self.input_channels = int(channels)
        kh, kw = self.kernel_size
        self._kernel_index, parameter_shape = gk.kernel_index(
            self.group,
            kh,
            self.input_channels,
            self.output_channels,
            self.input_layout,
            self.output_layout,
        )
        expanded_shape = (kh, kw, self.input_channels, self.output_channels)
        self.kernel = self.add_weight(
            name="kernel",
            shape=parameter_shape,
            initializer=gk.expanded_fan_initializer(self.kernel_initializer, expanded_shape),
            regularizer=self.kernel_regularizer,
        )
        if self.use_bias:
            self._bias_index = gk.bias_index(self.group, self.output_channels, self.output_layout)
            self.bias = self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
        else:
            self.bias = None
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: self.input_channels})

    # ------------------------------------------------------------------ forward
    def expanded_kernel(self):
        """The equivalent `Conv2D` kernel, shape `(kh, kw, input_channels, output_channels)`."""
        return ops.take(ops.reshape(self.kernel, (-1,)), self._kernel_index)

    def expanded_bias(self):
        """The equivalent `Conv2D` bias (each field's bias repeated), or `None`."""
        if self.bias is None:
            return None
        return ops.take(self.bias, self._bias_index)

    # ---------------------------------------------------------------- morphisms
    def relax(self, subgroup, keep_layout=True, name=None):
        """Equivariance relaxation morphism (Maile's thesis, eqs. 4-10).

        Returns a new, built layer of the same class equivariant only to
        `subgroup` G' <= G, with `filters * |G:G'|` fields and the same output
        channels, whose parameters are initialised from this layer so that it
        computes the same function. The input is read exactly as before (same
        `input_layout`), so the new layer consumes the same tensor.

        Args:
            subgroup: name (or `Group`) of a subgroup of `group`.
            keep_layout: if `True` (default), the new layer writes its output in
                this layer's `output_layout`, so its output is *identical* to
                this layer's and downstream layers need no change. If `False`,
                the output follows the plain layout of `subgroup` (channel
                `(d * |R| + t) * |G'| + g'` holds field `d`, coset representative
                `t`, element `g'`, eq. 4) and equals this layer's output
                permuted by `output_layout.subgroup_channel_order(subgroup,
                output_channels // |output_layout|)`.
            name: name of the new layer (default: this name + `_` + subgroup).

        Returns:
            The relaxed layer, built, with its weights set.

        Raises:
            ValueError: if `subgroup` is not a subgroup of `group`, or the layer
                is not built.
        """
        self._require_built("relax")
        sub = self.group._check_subgroup(subgroup, argument="subgroup")
        config = self.get_config()
        config.update(
            name=name or f"{self.name}_{sub.name.lower()}",
            group=sub.name,
            filters=self.filters * (self.group.order // sub.order),
            output_layout=self.output_layout.name if keep_layout else sub.name,
        )
        relaxed = type(self).from_config(config)
        relaxed.build((None, None, None, self.input_channels))
        order = np.arange(self.output_channels)
        if not keep_layout:
            a_fields = self.output_channels // self.output_layout.order
            order = self.output_layout.subgroup_channel_order(sub, a_fields)
        kernel = ops.convert_to_numpy(self.expanded_kernel())[..., order]
        relaxed.kernel.assign(
            gk.solve_parameters(
                relaxed._kernel_index, kernel, int(np.prod(relaxed.kernel.shape))
            ).reshape(relaxed.kernel.shape)
        )
        if self.use_bias:
            bias = ops.convert_to_numpy(self.expanded_bias())[order]
            relaxed.bias.assign(gk.solve_parameters(relaxed._bias_index, bias, relaxed.filters))
        return relaxed

    def relax_in_place(self, subgroup):
        """Apply the relaxation morphism to this layer itself (same output, same name).

        The layer becomes equivariant to `subgroup` only, with
        `filters * |G:G'|` fields; its output is unchanged. Its variables are
        *not* reassigned here: the caller gives them the returned values
        (`DynamicModel.relax` does, also migrating optimizer state).

        Returns:
            `{attribute: (new_value, source)}` for `kernel` (and `bias`):
            `source[j]` is the index, in the old flattened parameter, of the
            parameter that new parameter `j` copies.
        """
        relaxed = self.relax(subgroup, keep_layout=True, name=self.name)
        updates = {
            "kernel": (
                ops.convert_to_numpy(relaxed.kernel),
                _copied_from(self._kernel_index, relaxed._kernel_index, relaxed.kernel.shape),
            )
        }
        if self.use_bias:
            updates["bias"] = (
                ops.convert_to_numpy(relaxed.bias),
                _copied_from(self._bias_index, relaxed._bias_index, relaxed.bias.shape),
            )
            self._bias_index = relaxed._bias_index
        self.group, self.filters = relaxed.group, relaxed.filters
        self._kernel_index = relaxed._kernel_index
        return updates

    # ------------------------------------------------------------- serialising
    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            group=self.group.name,
            strides=self.strides,
            padding=self.padding,
            output_layout=self.output_layout.name,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
        )
        if not self._lifting:
            config["input_layout"] = self.input_layout.name
        return config


def _copied_from(old_index, new_index, new_shape):
    """For each new parameter, the old parameter it copies (both index the same expansion)."""
    source = np.empty(int(np.prod(new_shape)), dtype=np.int64)
    source[np.asarray(new_index).reshape(-1)] = np.asarray(old_index).reshape(-1)
    return source
