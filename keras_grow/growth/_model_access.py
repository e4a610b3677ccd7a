"""What growth strategies read from a DynamicModel: units' weight vectors, masks,
the measured layer of a group and the post-activation chain.

`keras_grow.structure` exposes widths, dependency groups, activation taps and
the `NewUnits` request. Triggers and initialisers also need each unit's fan-in
and fan-out vectors and which fan-in entries read inactive input slots; this
module gathers those few reads of `DynamicModel` internals in one place.
"""

import keras
import numpy as np

from keras_grow.structure import activation_taps, unit_edits, unit_views

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def group_of(model, layer_name):
    """The `UnitGroup` of `layer_name` (raises ValueError for unknown names)."""
    return model._group_of(layer_name)


def ordered_producers(model, layer_name):
    """Producer layers of `layer_name`'s group, in the model's topological order."""
    order = {layer.name: index for index, layer in enumerate(model.layers)}
    return sorted(model.dependency_group(layer_name), key=lambda name: order.get(name, 0))


def measured_layer(model, layer_name):
    """The layer whose activations decide for its group.

    The group's first producer in topological order (thesis 6.2.3: residual
    groups follow their first layer), skipping 1×1 projection shortcuts when
    the group has another producer: a pointwise projection of `C` channels
    can never show more than `C` independent directions, so it would
    understate the group's orthogonality.
    """
    producers = ordered_producers(model, layer_name)
    for name in producers:
        layer = model.get_layer(name)
        pointwise = isinstance(layer, _CONVOLUTIONS) and all(k == 1 for k in layer.kernel_size)
        if not pointwise:
            return name
    return producers[0]


def is_convolution(model, layer_name):
    return isinstance(model.get_layer(layer_name), _CONVOLUTIONS)


def producer_uses(model, layer_name):
    """`(kernel_use, bias_use or None)`: the fan-in axis uses of `layer_name` itself."""
    return unit_views.producer_uses(group_of(model, layer_name), model.get_layer(layer_name))


def consumer_uses(model, layer_name):
    """The fan-out axis uses of `layer_name`'s group (consumer kernel rows)."""
    return [use for use in group_of(model, layer_name).axis_uses if use.role == "consumer"]


def unit_rows(model, use, values=None):
    """One row per active unit of `use`'s group (see `structure.unit_views.unit_rows`)."""
    return unit_views.unit_rows(use, values)


def unit_slice(request, use, rows):
    """Inverse of `unit_rows` for new units: `(count, F)` rows → `request.slice_shape(use)`."""
    shape = request.slice_shape(use)
    moved_shape = (shape[use.axis],) + tuple(np.delete(shape, use.axis))
    rows = np.asarray(rows, dtype=np.float32).reshape(request.count, use.layout.positions, -1)
    moved = np.transpose(rows, (1, 0, 2)).reshape(moved_shape)
    return np.moveaxis(moved, 0, use.axis)


def fan_in_mask(model, kernel_use):
    """Flat 0/1 mask over one unit's fan-in entries: 0 where the entry reads an
    inactive input slot (DynamicModel keeps those entries at zero)."""
    variable = kernel_use.variable
    mask = unit_edits.other_axes_mask(model._state.graph, variable, kernel_use)
    mask = np.broadcast_to(mask, tuple(variable.shape))
    return np.moveaxis(mask, kernel_use.axis, 0)[0].reshape(-1).astype(np.float32)


def fan_in_matrix(model, layer_name, include_bias=True):
    """`(M, F[+1])` fan-in matrix of `layer_name`'s active units (kernel, then bias)."""
    return model.unit_weights(layer_name, include_bias=include_bias)


def mean_unit_norm(model, use):
    """Mean L2 norm of the active units' vectors along `use` (0 if no units)."""
    rows = unit_rows(model, use)
    return float(np.linalg.norm(rows, axis=1).mean()) if len(rows) else 0.0


def _consumers_by_tensor(model):
    consumers = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.arguments.keras_tensors:
                consumers.setdefault(id(tensor), []).append(node)
    return consumers


def post_activation_layers(model, layer_name):
    """The layers between `layer_name`'s output and its tapped post-activation
    (the batch norms and activations `DynamicModel.watch` follows)."""
    layer = model.get_layer(layer_name)
    target = activation_taps.post_activation_tensor(model, layer)
    consumers = _consumers_by_tensor(model)
    chain, tensor = [], layer.output
    while tensor is not target:
        (node,) = consumers[id(tensor)]
        chain.append(node.operation)
        tensor = node.outputs[0]
    return chain


class PostActivation:
    """Maps new units' pre-activations `(rows, k)` to their post-activations.

    Applies the producer's own activation and the batch norms / activation
    layers after it. A new unit's batch norm starts with scale 1 and offset
    0, and in training it normalises by batch statistics, so a batch norm
    here standardises each column over the given rows.
    """

    def __init__(self, model, layer_name):
        self.layer = model.get_layer(layer_name)
        self.chain = post_activation_layers(model, layer_name)

    def __call__(self, pre_activations):
        values = np.asarray(pre_activations, dtype=np.float32)
        activation = getattr(self.layer, "activation", None)
        if activation is not None:
            values = _apply(activation, values)
        for layer in self.chain:
            if isinstance(layer, keras.layers.BatchNormalization):
                mean = values.mean(axis=0, keepdims=True)
                variance = values.var(axis=0, keepdims=True)
                values = (values - mean) / np.sqrt(variance + layer.epsilon)
            elif isinstance(layer, keras.layers.PReLU):
                values = np.maximum(values, 0.0)  # a new unit's slope starts at zero
            else:
                values = _apply(layer, values)
        return values.astype(np.float32, copy=False)


def _apply(function, values):
    name = getattr(function, "__name__", None)
    if (
        isinstance(function, keras.layers.ReLU)
        and function.max_value is None
        and not (function.negative_slope or function.threshold)
    ):
        name = "relu"
    if name == "linear":
        return values
    if name in ("relu", "modified_relu"):
        return np.maximum(values, 0.0)
    return np.asarray(keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(values))))
