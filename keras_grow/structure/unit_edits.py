"""The slice edits behind DynamicModel's operations.

Each function edits the variables of one dependency group (and their
optimizer slots, given as `slot_table`: `id(variable) -> [(slot, kind)]`) and
the group's bookkeeping (`capacity`, `active`). Masks, compiled functions and
the event log are the caller's business.

Invariant kept by these edits and by gradient masking: entries of inactive
slots are zero in every producer/consumer variable and in every optimizer
slot; carrier entries (batch-norm statistics) hold their reset values.
"""

import numbers

import numpy as np

from keras_grow.structure import initializers as unit_initializers
from keras_grow.structure import optimizer_state, storage, unit_specs


def uses_by_variable(group):
    """`[(variable, [axis uses of the group on it])]`, one entry per variable."""
    by_variable = {}
    for use in group.axis_uses:
        by_variable.setdefault(id(use.variable), (use.variable, []))[1].append(use)
    return list(by_variable.values())


def other_axes_mask(graph, variable, use):
    """Float mask of `variable`, broadcastable, over its unit axes other than `use`'s."""
    mask = np.ones([1] * len(variable.shape), dtype=np.float32)
    for other in graph.uses_of_variable(variable):
        if other.role == "carrier" or other.axis == use.axis:
            continue
        shape = [1] * len(variable.shape)
        shape[other.axis] = -1
        mask = mask * storage.axis_mask(other.layout).reshape(shape)
    return mask


def activate(graph, group, slots, values, slot_table, rng, slot_rule="mean"):
    """Write new units into the free `slots` of `group` and mark them active.

    `values` maps fan-in/fan-out axis uses to the new entries (see
    `initializers.NewUnits`); missing uses start at zero, carriers at their
    reset values. Only the new units' entries are written, and only optimizer
    slots with a non-zero starting rule: the rest are zero already (see the
    module invariant). `slot_rule` is the rule for second-moment slots (see
    `optimizer_state.new_slot_values`).
    """
    existing_slots = group.active_slots
    group.active[slots] = True
    for variable, uses in uses_by_variable(group):
        written = []
        for use in uses:
            indices = storage.axis_slot_indices(use.layout, group, slots)
            shape = list(variable.shape)
            shape[use.axis] = len(indices)
            if use.role == "carrier":
                update = np.broadcast_to(_carrier_reset(use, len(indices), rng), shape)
            else:  # entries reading inactive units elsewhere must stay zero
                update = np.broadcast_to(values.get(use, 0.0), shape)
                update = update * other_axes_mask(graph, variable, use)
            storage.write_entries(variable, use.axis, indices, update)
            written.append((use, indices, update))
        for slot, kind in slot_table.get(id(variable), ()):
            if optimizer_state.starts_nonzero(kind, slot_rule):
                for use, indices, update in written:
                    _start_slot(slot, kind, use, group, existing_slots, indices, update, slot_rule)


def _start_slot(slot, kind, use, group, existing_slots, indices, update, slot_rule):
    existing = storage.axis_slot_indices(use.layout, group, existing_slots)
    mean = storage.mean_entries(slot, use.axis, existing) if existing.size else None
    unit_first = np.moveaxis(update, use.axis, 0)
    new = optimizer_state.new_slot_values(
        kind, None if mean is None else np.moveaxis(mean, use.axis, 0), unit_first, slot_rule
    )
    new = np.broadcast_to(new, unit_first.shape)
    storage.write_entries(slot, use.axis, indices, np.moveaxis(new, 0, use.axis))


def deactivate(group, slots, slot_table):
    """Clear `slots` of `group` (weights, optimizer state) and mark them inactive."""
    for variable, uses in uses_by_variable(group):
        for use in uses:
            indices = storage.axis_slot_indices(use.layout, group, slots)
            storage.write_entries(variable, use.axis, indices, _fill(use))
            for slot, _ in slot_table.get(id(variable), ()):
                storage.write_entries(slot, use.axis, indices, 0.0)
    group.active[slots] = False


def default_slot_map(group, capacity):
    """Keep the old slots in place; new slots (-1) are appended, inactive."""
    kept = min(group.capacity, capacity)
    return np.concatenate([np.arange(kept), -np.ones(capacity - kept, dtype=int)])


def reallocate(group, slot_map, slot_table, strategy, reassignable=False):
    """Give `group`'s variables and slots `len(slot_map)` unit slots, in place.

    `slot_map[i]` is the old slot copied into new slot `i` (-1: a fresh,
    inactive slot). The Keras variable objects are kept; their storage is
    replaced (see `storage.replace_storage`).

    Returns:
        True if compiled functions must be rebuilt: a variable got a new
        resource, or a layer of the group bakes its width into its `call`.
    """
    created = False
    for variable, uses in uses_by_variable(group):
        value = variable.numpy()  # ~20x faster than keras.ops.convert_to_numpy here
        slots = [(s, s.numpy()) for s, _ in slot_table.get(id(variable), ())]
        for use in uses:
            source = storage.axis_source_map(use.layout, group, slot_map)
            value = storage.gather_axis(value, use.axis, source, _fill(use))
            slots = [(s, storage.gather_axis(v, use.axis, source, 0.0)) for s, v in slots]
        created |= storage.replace_storage(variable, value, strategy, reassignable)
        for slot, slot_value in slots:
            created |= storage.replace_storage(slot, slot_value, strategy, reassignable)
    group.active = np.where(slot_map >= 0, group.active[np.maximum(slot_map, 0)], False)
    group.capacity = len(slot_map)
    for layer in group.producers:
        unit_specs.set_width(layer, unit_specs.unit_spec(layer), group.capacity)
    return created or bakes_width(group)


def bakes_width(group):
    """Whether a layer using `group`'s axis builds shapes from its width in `call`
    (a convolution reshaping its bias): its compiled step must be retraced when
    the capacity changes."""
    layers = {id(use.layer): use.layer for use in group.axis_uses}.values()
    return any(unit_specs.unit_spec(layer).width_in_call for layer in layers)


def _fill(use):
    """Value of cleared entries: a carrier's numeric reset value, else zero."""
    if use.role == "carrier" and isinstance(use.reset, numbers.Real):
        return float(use.reset)
    return 0.0


def _carrier_reset(use, count, rng):
    if isinstance(use.reset, numbers.Real):
        return float(use.reset)
    return unit_initializers.draw_entries(getattr(use.layer, use.reset), use, count, rng)
