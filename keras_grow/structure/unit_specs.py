"""How each layer's variables are indexed by units (neurons or channels).

A *unit* of a layer is one output neuron of a `Dense` layer or one output
channel of a convolution. Changing the number of units of a layer touches three
kinds of variables:

- the **producer** variables of the layer itself (its kernel columns and bias),
- the **carrier** variables of channel-wise layers downstream
  (`BatchNormalization` gamma/beta/moving statistics, depthwise kernels),
- the **consumer** variables of the layers that read those units
  (the kernel rows of the next `Dense` or convolution).

`UnitSpec` records, for one layer, which variable axes play which role and
which attributes hold its width. Attributes may be dotted paths
(`"cell.kernel"`) for layers that keep their variables on a sub-object, like
recurrent layers and their cells. Built-in Keras layers are registered here; a
keras_grow layer (or any user layer) becomes growable by defining a
`unit_spec()` method that returns a `UnitSpec`.

Example:

```python
class MyDense(keras.layers.Layer):
    def unit_spec(self):
        return UnitSpec(
            produces=(("kernel", -1), ("bias", 0)),
            consumes=(("kernel", 0),),
            width_attribute="units",
        )
```
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class UnitSpec:
    """Which variable axes of a layer are indexed by units.

    Args:
        produces: `(attribute, axis)` pairs of the variables indexed by the
            layer's *output* units (kernel columns, bias). A layer that
            produces units creates a new dependency group.
        consumes: `(attribute, axis)` pairs indexed by the layer's *input*
            units (kernel rows).
        carries: `(attribute, axis, reset_value)` triples of channel-wise
            variables indexed by the units flowing *through* the layer
            (batch-norm statistics). `reset_value` is what a new or removed
            unit's entry is set to (1.0 for a scale or variance, 0.0 else).
        recurrent: `(attribute, axis)` pairs indexed by the layer's *own*
            units on its input side (the rows of a recurrent kernel). They are
            the new units' fan-out into the layer itself.
        width_attribute: the attribute (or tuple of attributes) holding the
            number of output units (`"units"`, `"filters"`), for producers.
        width_in_call: whether the layer's `call` builds shapes from its
            width attributes (e.g. reshapes its bias to `(1, 1, 1, filters)`),
            so that a compiled function must be retraced when the width's
            allocation changes. `True` unless known otherwise.
    """

    produces: tuple = ()
    consumes: tuple = ()
    carries: tuple = ()
    recurrent: tuple = ()
    width_attribute: str | tuple | None = None
    width_in_call: bool = True

    @property
    def is_producer(self):
        return bool(self.produces)

    @property
    def is_carrier(self):
        return not self.produces and not self.consumes


def _dense_spec(layer):
    return UnitSpec(
        produces=(("kernel", -1), ("bias", 0)),
        consumes=(("kernel", 0),),
        width_attribute="units",
        width_in_call=False,  # matmul and bias add only
    )


def _conv_spec(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    if getattr(layer, "groups", 1) != 1:
        return None
    return UnitSpec(
        produces=(("kernel", -1), ("bias", 0)),
        consumes=(("kernel", -2),),
        width_attribute="filters",
    )


def _simple_rnn_spec(layer):
    return UnitSpec(
        produces=(("cell.kernel", -1), ("cell.recurrent_kernel", -1), ("cell.bias", 0)),
        consumes=(("cell.kernel", 0),),
        recurrent=(("cell.recurrent_kernel", 0),),
        width_attribute=("cell.units", "cell.state_size", "cell.output_size", "state_size"),
    )


def _spec_of_cell(spec):
    """A cell's spec seen from the `keras.layers.RNN` that wraps it."""

    def prefixed(entries):
        return tuple(("cell." + entry[0], *entry[1:]) for entry in entries)

    widths = spec.width_attribute
    widths = (widths,) if isinstance(widths, str) else tuple(widths or ())
    return UnitSpec(
        produces=prefixed(spec.produces),
        consumes=prefixed(spec.consumes),
        carries=prefixed(spec.carries),
        recurrent=prefixed(spec.recurrent),
        width_attribute=tuple("cell." + w for w in widths) + ("state_size",),
        width_in_call=spec.width_in_call,
    )


def _batch_norm_spec(layer):
    if layer.axis not in (-1, len(layer._build_shapes_dict["input_shape"]) - 1):
        return None
    return UnitSpec(
        carries=(
            ("gamma", 0, 1.0),
            ("beta", 0, 0.0),
            ("moving_mean", 0, 0.0),
            ("moving_variance", 0, 1.0),
        ),
        width_in_call=False,  # broadcasts from the input's (dynamic) shape
    )


def _depthwise_spec(layer):
    if layer.depth_multiplier != 1 or layer.data_format != "channels_last":
        return None
    return UnitSpec(carries=(("kernel", 2, "depthwise_initializer"), ("bias", 0, 0.0)))


_BUILTIN_SPECS = {
    keras.layers.Dense: _dense_spec,
    keras.layers.Conv1D: _conv_spec,
    keras.layers.Conv2D: _conv_spec,
    keras.layers.Conv3D: _conv_spec,
    keras.layers.BatchNormalization: _batch_norm_spec,
    keras.layers.DepthwiseConv2D: _depthwise_spec,
    keras.layers.SimpleRNN: _simple_rnn_spec,
}

# Layers that act on every channel independently and keep the channel count:
# units flow through them unchanged.
CHANNELWISE_LAYERS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
    keras.layers.ZeroPadding1D,
    keras.layers.ZeroPadding2D,
    keras.layers.ZeroPadding3D,
    keras.layers.Cropping1D,
    keras.layers.Cropping2D,
    keras.layers.Cropping3D,
    keras.layers.UpSampling1D,
    keras.layers.UpSampling2D,
    keras.layers.UpSampling3D,
    keras.layers.Identity,
)

# Layers that pool all spatial positions away and keep the channels.
GLOBAL_POOLING_LAYERS = (
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
)

# Element-wise merges: all inputs must keep the same width, so the units of
# their inputs form one dependency group.
ELEMENTWISE_MERGE_LAYERS = (
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
)


def unit_spec(layer):
    """Return the `UnitSpec` of `layer`, or `None` if its units are not tracked.

    Layers that define a `unit_spec()` method (keras_grow layers, user layers)
    describe themselves; built-in Keras layers are looked up in a registry.
    """
    if hasattr(layer, "unit_spec") and callable(layer.unit_spec):
        return layer.unit_spec()
    cell = getattr(layer, "cell", None)
    if isinstance(layer, keras.layers.RNN) and callable(getattr(cell, "unit_spec", None)):
        return _spec_of_cell(cell.unit_spec())
    for cls in type(layer).__mro__:
        if cls in _BUILTIN_SPECS:
            return _BUILTIN_SPECS[cls](layer)
    return None


def _resolve(obj, path):
    for name in path.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def set_width(layer, spec, width):
    """Write `width` into every width attribute of `spec` on `layer`.

    An attribute that holds a one-element list (a recurrent layer's
    `state_size`) keeps that form.
    """
    paths = spec.width_attribute
    for path in (paths,) if isinstance(paths, str) else paths:
        *parents, name = path.split(".")
        owner = _resolve(layer, ".".join(parents)) if parents else layer
        current = getattr(owner, name, None)
        setattr(owner, name, [width] if isinstance(current, (list, tuple)) else width)


def spec_variables(layer, entries):
    """Resolve `(attribute, axis, ...)` entries to `(variable, axis, ...)`.

    Entries naming an attribute that is `None` (e.g. a layer built with
    `use_bias=False`) are skipped.
    """
    resolved = []
    for entry in entries:
        variable = _resolve(layer, entry[0])
        if variable is None:
            continue
        axis = entry[1] % len(variable.shape)
        resolved.append((variable, axis, *entry[2:]))
    return resolved
