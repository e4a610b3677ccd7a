"""Reading and rewriting variable storage along unit axes.

Two operations change the physical shape of a variable without replacing the
Keras variable object (so that layers, optimizers and trackers keep their
references): `replace_storage` swaps the backing `tf.Variable` for one of a new
shape. Everything else in this module is index arithmetic on `Layout`s:
which physical entries of an axis belong to which unit slot.
"""

import contextlib

import numpy as np


def axis_source_map(layout, group, slot_map):
    """Where each entry of an axis comes from when `group` is re-laid out.

    Args:
        layout: the `Layout` of the axis.
        group: the `UnitGroup` whose slots change.
        slot_map: int array, one entry per new slot of `group`: the old slot it
            copies, or -1 for a fresh slot.

    Returns:
        int array over the new axis: the old axis index to copy, or -1.
    """
    new_capacities = {group: len(slot_map)}
    old_channels = layout.channels()
    pieces = []
    for index, segment in enumerate(layout.segments):
        offset = layout.segment_offset(index)
        if segment.group is group:
            pieces.append(np.where(slot_map >= 0, offset + slot_map, -1))
        else:
            pieces.append(offset + np.arange(segment.length()))
    channel_source = np.concatenate(pieces) if pieces else np.zeros(0, int)
    assert channel_source.size == layout.channels(new_capacities)
    positions = np.arange(layout.positions)[:, None] * old_channels
    source = np.where(channel_source[None, :] >= 0, positions + channel_source[None, :], -1)
    return source.reshape(-1)


def axis_slot_indices(layout, group, slots):
    """Axis indices of `slots` of `group`, ordered position-major.

    For a layout with `P` positions and `n` slots the result has `P * n`
    entries: entry `p * n + j` is the index of slot `slots[j]` at position `p`.
    """
    slots = np.asarray(slots, dtype=int)
    channels = layout.channels()
    offsets = [layout.segment_offset(i) for i, s in enumerate(layout.segments) if s.group is group]
    per_position = np.concatenate([offset + slots for offset in offsets])
    positions = np.arange(layout.positions)[:, None] * channels
    return (positions + per_position[None, :]).reshape(-1)


def axis_mask(layout):
    """1.0 for axis entries of active slots and fixed segments, 0.0 elsewhere."""
    pieces = [
        segment.group.active.astype(np.float32)
        if segment.group is not None
        else np.ones(segment.size, np.float32)
        for segment in layout.segments
    ]
    return np.tile(np.concatenate(pieces), layout.positions)


def gather_axis(value, axis, source, fill=0.0):
    """`value` re-indexed along `axis` by `source`; entries with -1 get `fill`."""
    gathered = np.take(value, np.maximum(source, 0), axis=axis)
    fresh = source < 0
    if fresh.any():
        index = [slice(None)] * value.ndim
        index[axis] = fresh
        gathered[tuple(index)] = fill
    return gathered


def set_axis(value, axis, indices, update):
    """Write `update` into `value` at `indices` along `axis` (in place)."""
    index = [slice(None)] * value.ndim
    index[axis] = indices
    value[tuple(index)] = update


def take_axis(value, axis, indices):
    index = [slice(None)] * value.ndim
    index[axis] = indices
    return value[tuple(index)]


def replace_storage(variable, value, strategy=None, reassignable=False):
    """Give the Keras `variable` a value of a (possibly) new shape, in place.

    The Keras variable object is kept: layers, optimizers and trackers that
    hold it see the new value. If its backing `tf.Variable` already has
    unknown dimensions (see `dynamic_variable`), the value is assigned to that
    same resource: compiled functions stay valid (unless they baked the old
    shape in) and the old buffer is freed at once. Otherwise a new backing
    variable is created (with unknown dimensions if `reassignable`), and
    compiled functions that captured the old one must be rebuilt.

    Returns:
        True if a new resource was created.
    """
    import tensorflow as tf

    value = np.asarray(value, dtype=variable.dtype)
    target = variable._value
    created = target.shape.is_fully_defined()
    if created:
        make = dynamic_variable if reassignable else tf.Variable
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            variable._value = make(
                value,
                trainable=variable.trainable,
                name=variable.name,
                aggregation=variable._map_aggregation(variable.aggregation),
                synchronization=variable._map_synchronization(variable.synchronization),
            )
    else:
        target.assign(value, read_value=False)
    variable._shape = tuple(int(d) for d in value.shape)
    variable._ndim = len(variable._shape)
    return created


def dynamic_variable(value, **kwargs):
    """A `tf.Variable` of known rank and unknown dimensions (re-assignable to any shape)."""
    import tensorflow as tf

    value = np.asarray(value)
    return tf.Variable(value, shape=tf.TensorShape([None] * value.ndim), **kwargs)


def assign_any_shape(target, value):
    """Assign `value` to a `tf.Variable` made by `dynamic_variable`."""
    target.assign(np.asarray(value, dtype=target.dtype.as_numpy_dtype), read_value=False)


_MAX_RUNS = 8  # beyond this many separate runs of slots, one full write is cheaper


def contiguous_runs(indices):
    """`[(start, stop, offset)]`: runs of consecutive `indices`, `offset` into `indices`."""
    indices = np.asarray(indices, dtype=int)
    if indices.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [indices.size]])
    return [(int(indices[a]), int(indices[b - 1]) + 1, int(a)) for a, b in zip(starts, stops)]


def write_entries(variable, axis, indices, update):
    """Write `update` at `indices` along `axis` of a Keras variable, in place.

    Only the written entries are touched (a strided-slice assignment per run
    of consecutive indices), so the cost does not grow with the variable's
    size. Distributed variables, and indices scattered over many runs, take
    one full read-modify-write instead.
    """
    import tensorflow as tf

    target = variable.value
    shape = list(variable.shape)
    slice_shape = list(shape)
    slice_shape[axis] = len(indices)
    update = np.broadcast_to(np.asarray(update, dtype=variable.dtype), slice_shape)
    runs = contiguous_runs(indices)
    if isinstance(target, tf.distribute.DistributedValues) or len(runs) > _MAX_RUNS:
        value = np.array(target.numpy())
        set_axis(value, axis, indices, update)
        target.assign(value, read_value=False)
        return
    for start, stop, offset in runs:
        begin, end = np.zeros(len(shape), np.int64), np.array(shape, np.int64)
        begin[axis], end[axis] = start, stop
        part = take_axis(update, axis, slice(offset, offset + stop - start))
        tf.raw_ops.ResourceStridedSliceAssign(
            ref=target.handle,
            begin=begin,
            end=end,
            strides=np.ones(len(shape), np.int64),
            value=part,
        )


def mean_entries(variable, axis, indices):
    """Mean of a Keras variable's entries at `indices` along `axis` (kept as size 1)."""
    import tensorflow as tf

    taken = tf.gather(variable.value, np.asarray(indices, dtype=np.int64), axis=axis)
    return tf.reduce_mean(taken, axis=axis, keepdims=True).numpy()
