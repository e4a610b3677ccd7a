"""What growth strategies read from a DynamicModel: units' weight vectors, masks,
the measured layer of a group and the post-activation chain.

`keras_grow.structure` exposes widths, dependency groups, activation taps and
the `NewUnits` request. Triggers and initialisers also need each unit's fan-in
and fan-out vectors and which fan-in entries read inactive input slots; this
module gathers those few reads of `DynamicModel` internals in one place.
"""

import keras
import numpy as np

from keras_grow.structure import activation_taps, storage, unit_edits

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
    layer = model.get_layer(layer_name)
    kernel = bias = None
    for use in group_of(model, layer_name).axis_uses:
        if use.role != "producer" or use.layer is not layer:
            continue
        if use.variable is getattr(layer, "kernel", None):
            kernel = use
        elif use.variable is getattr(layer, "bias", None):
            bias = use
        elif kernel is None and use.variable.ndim >= 2:
            kernel = use
    if kernel is None:
        raise ValueError(f"layer '{layer_name}' has no kernel that growth strategies can read.")
    return kernel, bias


def consumer_uses(model, layer_name):
    """The fan-out axis uses of `layer_name`'s group (consumer kernel rows)."""
    return [use for use in group_of(model, layer_name).axis_uses if use.role == "consumer"]


def unit_rows(model, use, values=None):
    """One row per active unit of `use`'s group: the unit's entries of `values`.

    `values` defaults to the variable itself (pass a gradient of the same
    shape to get per-unit gradients). All positions of a unit (after a
    `Flatten`) are laid out together, as `NewUnits.unit_vectors` does.
    """
    group = use.layout.groups()[0] if len(use.layout.groups()) == 1 else None
    if group is None:
        raise ValueError(f"{use.variable.path} mixes several unit groups on one axis.")
    if values is None:
        values = keras.ops.convert_to_numpy(use.variable)
    values = np.asarray(values)
    indices = storage.axis_slot_indices(use.layout, group, group.active_slots)
    taken = storage.take_axis(values, use.axis, indices)
    moved = np.moveaxis(taken, use.axis, 0)
    count = moved.shape[0] // use.layout.positions
    moved = moved.reshape(use.layout.positions, count, -1)
    return np.transpose(moved, (1, 0, 2)).reshape(count, -1)


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
    kernel, bias = producer_uses(model, layer_name)
    matrix = unit_rows(model, kernel)
    if include_bias and bias is not None:
        matrix = np.concatenate([matrix, unit_rows(model, bias)], axis=1)
    return matrix


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


def restart_optimizer_state(model, layer_name, new_indices):
    """Give the units `new_indices` of `layer_name`'s group a fresh optimizer state.

    `DynamicModel` starts a new unit's second-moment slots (Adam's `velocity`,
    RMSprop's accumulator, ...) at the mean of the existing units', which
    late in training reflects the large early gradients: the new unit's
    steps are then a fraction of the learning rate. This sets those entries
    to zero, the state of a freshly initialised parameter (first moments
    are already zero), so the unit takes Adam's usual first steps.
    """
    from keras_grow.structure import optimizer_state

    optimizer = getattr(model, "optimizer", None)
    if not optimizer_state.is_built(optimizer):
        return
    group = group_of(model, layer_name)
    slots = group.active_slots[np.asarray(new_indices, dtype=int)]
    table = optimizer_state.slots_by_variable(optimizer)
    for use in group.axis_uses:
        indices = storage.axis_slot_indices(use.layout, group, slots)
        for slot, kind in table.get(id(use.variable), ()):
            if kind in optimizer_state.SECOND_MOMENT_SLOTS:
                value = keras.ops.convert_to_numpy(slot).copy()
                storage.set_axis(value, use.axis, indices, 0.0)
                slot.assign(value)
