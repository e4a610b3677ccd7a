"""`MixedEquivariantConv`: the [G]-mixed equivariant layer of Maile's thesis (eqs. 11-12)."""

import keras
import numpy as np
from keras import ops

from keras_grow import groups as group_lib
from keras_grow.layers import _group_kernels as gk
from keras_grow.layers._expanded_conv import ExpandedKernelConv
from keras_grow.layers.group_conv import GroupConv2D
from keras_grow.layers.lifting_conv import LiftingConv2D

DEFAULT_GROUPS = ("C1", "C2", "C4", "D1", "D2", "D4")


@keras.saving.register_keras_serializable(package="keras_grow")
class MixedEquivariantConv(ExpandedKernelConv, keras.layers.Layer):
    """Weighted sum of convolutions equivariant to different groups, as ONE convolution.

    The [G]-mixed equivariant layer (eqs. 11-12 of Maile's thesis, ch. 4):

        out = sum_G z_G [f * psi~^G] = f * (sum_G z_G psi~^G)

    One group convolution per group G in `groups`, each with its own kernel
    `psi^G`, expanded to a plain convolution kernel `psi~^G` (the relaxation of
    eq. 5 down to translations); the expanded kernels are summed with the
    architecture weights `z = softmax(architecture_logits)` and the layer runs a
    single convolution with the sum. `export()` returns that convolution as a
    plain `keras.layers.Conv2D`.

    Channel convention. Input and output are plain (translation-only, C1)
    feature maps - the thesis' common subgroup G' is C1 - whose channels are
    organised in blocks of `|A|`, A = `layout_group`, the smallest group
    containing all of `groups` (D4 for the default set): channel `c * |A| + a`.
    Every component reads and writes this layout through the canonical coset
    decomposition of eq. 4 (`keras_grow.groups.Group.subgroup_channel_order`),
    which is the "proper input and output channel reordering" that section
    4.3.2 asks for: with it each component G is equivariant to every subgroup
    H <= G under the *same* action on the tensor (A's regular representation
    restricted to H). Hence the mixed layer is exactly equivariant to the
    intersection of the groups whose weight `z_G` is non-zero, and mixed layers
    can be stacked. With `lifting=True` the input is instead a plain image
    (any number of channels) and the components are lifting convolutions.

    Each component kernel is weight-normalised per output field,
    `psi^G = s_G * v_G / ||v_G||`, with the scale `s_G` frozen at its initial
    value (the non-trainable `kernel_norm_<G>` weights), as in section 4.4.2,
    so the scale of a kernel does not compete with `z_G`.

    The architecture logits are the weight named `architecture_logits`
    (also `architecture_variables`), so a custom `train_step` can give them
    their own optimizer (EquiNAS_D uses two Adam optimizers).

    Reference: Maile, Wilson & Forre, "Equivariance-aware Architectural
    Optimization of Neural Networks" (ICLR 2023), section 3.2.

    Args:
        filters: number of output fields of `layout_group`; the layer outputs
            `filters * |layout_group|` channels (component G has
            `filters * |layout_group| / |G|` fields of G).
        kernel_size: int or pair; square and odd unless `groups == ("C1",)`.
        groups: names of the groups to mix (default all six).
        lifting: whether the input is a plain image (components are lifting
            convolutions) rather than a `layout_group` feature map.
        strides: int or pair.
        padding: `"same"` or `"valid"`.
        activation: activation function (default none).
        use_bias: whether each component has one bias per field (mixed by z).
        weight_normalization: whether to use the frozen-norm weight
            normalisation described above.
        kernel_initializer: initializer of the component kernels (fans of the
            expanded `Conv2D` kernel); every component is then scaled by
            `1 / sqrt(sum_G z_G^2)` at the initial z, so that the mixed kernel
            starts with the variance of one draw (as a plain `Conv2D`),
            whatever the number of groups.
        bias_initializer: initializer of the component biases.
        architecture_initializer: initializer of the architecture logits
            (default zeros: uniform weights).
        kernel_regularizer: regularizer of the component kernels.
        bias_regularizer: regularizer of the component biases.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `(batch, height, width, channels)` tensor.

    Input shape:
        4-D tensor; channels a multiple of `|layout_group|` unless `lifting`.

    Output shape:
        `(batch, new_height, new_width, filters * |layout_group|)`.

    Example:

    >>> import numpy as np
    >>> from keras_grow.layers import MixedEquivariantConv
    >>> layer = MixedEquivariantConv(2, 3, lifting=True)
    >>> layer(np.zeros((1, 9, 9, 1), "float32")).shape
    TensorShape([1, 9, 9, 16])
    >>> tuple(layer.export().kernel.shape)
    (3, 3, 1, 16)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        groups=DEFAULT_GROUPS,
        lifting=False,
        strides=1,
        padding="same",
        activation=None,
        use_bias=True,
        weight_normalization=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        architecture_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(groups, str) or not groups:
            raise ValueError(
                f"`groups` must be a non-empty sequence of group names; received {groups!r}."
            )
        self.groups = tuple(group_lib.get(g) for g in groups)
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"`groups` must not repeat a group; received {tuple(names)!r}.")
        self.layout_group = group_lib.smallest_common_supergroup(names)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"`filters` must be a positive int; received {filters!r}.")
        self.filters = int(filters)
        widest = max(self.groups, key=lambda g: g.order)
        self.kernel_size = gk.check_group_kernel_size(widest, kernel_size)
        self.lifting = bool(lifting)
        self.strides = gk.normalize_strides(strides)
        self.padding = gk.normalize_padding(padding)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.weight_normalization = bool(weight_normalization)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.architecture_initializer = keras.initializers.get(architecture_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    @property
    def output_channels(self):
        """Channels of the output: `filters * |layout_group|`."""
        return self.filters * self.layout_group.order

    def _component_fields(self, group):
        return self.output_channels // group.order

    # ----------------------------------------------------------------- building
    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or (not self.lifting and channels % self.layout_group.order):
            raise ValueError(
                f"MixedEquivariantConv expects input channels to be a multiple of "
                f"|{self.layout_group.name}|={self.layout_group.order} (the layout group of "
                f"`groups`={tuple(g.name for g in self.groups)}); received {channels} input "
                "channels. Use `lifting=True` for plain image input."
            )
        self.input_channels = int(channels)
        kh, kw = self.kernel_size
        expanded_shape = (kh, kw, self.input_channels, self.output_channels)
        input_layout = None if self.lifting else self.layout_group
        self.component_kernels, self.component_norms, self.component_biases = [], [], []
        kernel_indices, bias_indices = [], []
        kernel_offset = bias_offset = 0
        for group in self.groups:
            index, shape = gk.kernel_index(
                group,
                kh,
                self.input_channels,
                self.output_channels,
                input_layout,
                self.layout_group,
            )
            kernel = self.add_weight(
                name=f"kernel_{group.name}",
                shape=shape,
                initializer=gk.expanded_fan_initializer(self.kernel_initializer, expanded_shape),
                regularizer=self.kernel_regularizer,
            )
            self.component_kernels.append(kernel)
            kernel_indices.append(index + kernel_offset)
            kernel_offset += int(np.prod(shape))
            fields = self._component_fields(group)
            if self.weight_normalization:
                self.component_norms.append(
                    self.add_weight(
                        name=f"kernel_norm_{group.name}",
                        shape=(fields,),
                        initializer=_norm_of(kernel, fields),
                        trainable=False,
                    )
                )
            if self.use_bias:
                self.component_biases.append(
                    self.add_weight(
                        name=f"bias_{group.name}",
                        shape=(fields,),
                        initializer=self.bias_initializer,
                        regularizer=self.bias_regularizer,
                    )
                )
                bias_indices.append(
                    gk.bias_index(group, self.output_channels, self.layout_group) + bias_offset
                )
                bias_offset += fields
        self.architecture_logits = self.add_weight(
            name="architecture_logits",
            shape=(len(self.groups),),
            initializer=self.architecture_initializer,
        )
        self._scale_initial_kernels()
        self._kernel_index = np.stack(kernel_indices)
        self._bias_index = np.stack(bias_indices) if self.use_bias else None
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: self.input_channels})

    def _scale_initial_kernels(self):
        """Give the initial mixed kernel the variance of one `kernel_initializer` draw.

        The components are drawn independently, each with the variance the
        initializer gives the expanded kernel; their z-weighted sum has
        `sum_G z_G^2` times that variance (1/6 for six groups at uniform z),
        which makes every optimizer step 1/sqrt(sum z^2) times larger relative
        to the kernel than in a plain layer. Scaling every component (and its
        frozen norm) by 1/sqrt(sum_G z_G^2) removes the difference.
        """
        z = ops.convert_to_numpy(self.architecture_weights)
        gain = float(1.0 / np.sqrt(np.sum(np.square(z))))
        if gain == 1.0:
            return
        for kernel in self.component_kernels:
            kernel.assign(kernel * gain)
        for norm in self.component_norms:
            norm.assign(norm * gain)

    # ------------------------------------------------------------------ forward
    @property
    def architecture_weights(self):
        """The mixing weights `z = softmax(architecture_logits)` (on the simplex)."""
        if len(self.groups) == 1:  # a single component always has weight 1
            return ops.ones_like(self.architecture_logits)
        return ops.softmax(self.architecture_logits)

    @property
    def architecture_variables(self):
        """The trainable variables of the architecture (`[architecture_logits]`)."""
        return [self.architecture_logits]

    def component_kernel(self, position):
        """Kernel of component `position` after weight normalisation."""
        kernel = self.component_kernels[position]
        if not self.weight_normalization:
            return kernel
        fields = kernel.shape[-1]
        norm = ops.sqrt(ops.sum(ops.square(ops.reshape(kernel, (-1, fields))), axis=0))
        return kernel * (self.component_norms[position] / ops.maximum(norm, 1e-12))

    def expanded_kernel(self):
        """The single `Conv2D` kernel `sum_G z_G psi~^G` (eq. 12)."""
        z = self.architecture_weights
        flat = ops.concatenate(
            [ops.reshape(self.component_kernel(i), (-1,)) * z[i] for i in range(len(self.groups))]
        )
        return ops.sum(ops.take(flat, self._kernel_index), axis=0)

    def expanded_bias(self):
        """The single `Conv2D` bias `sum_G z_G b~^G`, or `None`."""
        if not self.use_bias:
            return None
        z = self.architecture_weights
        flat = ops.concatenate([b * z[i] for i, b in enumerate(self.component_biases)])
        return ops.sum(ops.take(flat, self._bias_index), axis=0)

    # ------------------------------------------------------------- conversions
    def component_layers(self):
        """The components as separate, built layers, without the weights z.

        Returns:
            dict `{group name: layer}`: a `LiftingConv2D` (if `lifting`) or a
            `GroupConv2D` with `input_layout = output_layout = layout_group`,
            holding the weight-normalised kernel and the bias of that component
            (no activation). The mixed layer (before its activation) equals
            `sum_G z_G * layer_G(x)` (eq. 11).
        """
        self._require_built("component_layers")
        layers = {}
        for i, group in enumerate(self.groups):
            common = dict(
                filters=self._component_fields(group),
                kernel_size=self.kernel_size,
                group=group.name,
                strides=self.strides,
                padding=self.padding,
                output_layout=self.layout_group.name,
                use_bias=self.use_bias,
                name=f"{self.name}_{group.name.lower()}",
            )
            if self.lifting:
                layer = LiftingConv2D(**common)
            else:
                layer = GroupConv2D(input_layout=self.layout_group.name, **common)
            layer.build((None, None, None, self.input_channels))
            weights = [ops.convert_to_numpy(self.component_kernel(i))]
            if self.use_bias:
                weights.append(ops.convert_to_numpy(self.component_biases[i]))
            layer.set_weights(weights)
            layers[group.name] = layer
        return layers

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            groups=tuple(g.name for g in self.groups),
            lifting=self.lifting,
            strides=self.strides,
            padding=self.padding,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            weight_normalization=self.weight_normalization,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            architecture_initializer=keras.initializers.serialize(self.architecture_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
        )
        return config


def _norm_of(kernel, fields):
    """Initializer: the per-output-field norm of `kernel` at creation time."""

    def initialize(shape, dtype=None):
        flat = ops.reshape(ops.convert_to_tensor(kernel), (-1, fields))
        return ops.cast(ops.sqrt(ops.sum(ops.square(flat), axis=0)), dtype or "float32")

    return initialize
