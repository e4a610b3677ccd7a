"""Activation taps that also record what each layer *reads*.

Candidate-based initialisers (NORTH-Select, NORTH-Pre) need, for the same
rows as a layer's buffered post-activations, the layer's inputs: a candidate
unit's activation is `post(inputs · w)`. `GrowthTaps` extends the
`DynamicModel.watch` ring buffers with a second buffer per layer holding its
input rows, written in the same scatter as the outputs (no extra forward
pass):

- Dense: the input vector of each recorded row.
- Conv1D/2D/3D (channels-last): the receptive-field patch of each recorded
  output position, flattened in kernel order `(k…, C_in)`, so that
  `patch · kernel[..., unit].ravel()` is the unit's pre-activation there.

It also counts the rows written per layer, so callers can tell how many rows
are new since they last read a buffer.

Input rows are the bulk of the recording (a 3×3 patch of 128 channels is 1 152
numbers per row, against 128 for the post-activations), and an initialiser
that scores candidates on a few hundred rows does not need them for every
buffered row: with `input_every=k` only the rows landing in buffer slots
`0, k, 2k, …` get their inputs recorded (a buffer of `buffer_size / k` rows),
so input row `j` always belongs to activation slot `j·k`, and both are
overwritten by the same step. `aligned_activations` picks those rows.

On-demand inputs (`input_rows=R`): an initialiser reads input rows only when
units are added, so the steps in between need not record them at all. Each
input layer then gets a ring of `R` input rows behind a per-layer gate (a
boolean `tf.Variable` read by a `tf.cond` inside the compiled step: opening
or closing it does not retrace). While the gate is open, every step writes
the inputs of all its sampled rows (the rows whose activations it records)
into the ring, with, per ring row, the activation-buffer slot it belongs to
and its global row id (the layer's `rows_written` before the step, plus the
row's index in the step). A ring row is *valid* while its activation row is
still in the FIFO: its id is at least `rows_written − buffer_size` and at
least the `rows_written` of the layer's last reset. `inputs` returns the
valid rows (oldest first) and `aligned_activations` the activation rows of
their slots. A caller opens the gate when it decides to grow
(`set_input_recording`), waits until `input_rows_since` counts `R` rows
written since, and reads them.

Example (by hand; `Neurogenesis(record_inputs="on_growth")` does this):

```python
taps = keras_grow.growth.watch_layers(model, ["hidden"], 2048, 256, input_rows=512)
first = taps.set_input_recording("hidden", True)  # the id the next row gets
model.fit(x, y, epochs=1)                           # at least 2 steps of 256 rows
assert taps.input_rows_since("hidden", first) == 512
context = keras_grow.growth.growth_context(model, "hidden")  # 512 aligned rows
taps.set_input_recording("hidden", False)
```
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_grow.growth import _model_access
from keras_grow.structure import activation_taps, storage


def install(
    model,
    layer_names,
    buffer_size,
    rows_per_step,
    input_layers=(),
    gated=False,
    input_every=1,
    input_rows=None,
):
    """Make `model` record post-activations of `layer_names` (and inputs of
    `input_layers`) in its train step; returns the `GrowthTaps`.

    Replaces whatever `model.watch` installed before. `model.activations`,
    `reset_activations` and `unwatch` keep working. `gated=True` puts the
    writes behind `GrowthTaps.set_recording` (see `ActivationTaps`).
    `input_rows=R` records inputs on demand only (see the module docstring).
    """
    layer_names, buffer_size, rows_per_step = model._check_watch(
        layer_names, buffer_size, rows_per_step
    )
    taps = GrowthTaps(
        model,
        layer_names,
        buffer_size,
        rows_per_step,
        input_layers,
        gated,
        input_every,
        input_rows,
    )
    model.install_taps(taps)
    return taps


class GrowthTaps(activation_taps.ActivationTaps):
    """`ActivationTaps` plus aligned input rows and a written-rows counter.

    Args:
        model: the `DynamicModel`.
        layer_names: producer layers whose post-activations are recorded.
        buffer_size: rows kept per layer.
        rows_per_step: rows written per layer and step.
        input_layers: subset of `layer_names` whose inputs are recorded too.
        gated: bool, record only while `recording` is on (`set_recording`).
        input_every: int >= 1 dividing `buffer_size`: record the inputs of
            the rows in every `input_every`-th buffer slot only (see the
            module docstring).
        input_rows: `None` (default: inputs recorded at every step, as
            `input_every` says) or an int `R` in `[1, buffer_size]`: record
            inputs on demand, into a ring of `R` rows per layer, only while
            the layer's gate is open (`set_input_recording`; closed at
            first). Needs `input_every=1`.
    """

    def __init__(
        self,
        model,
        layer_names,
        buffer_size,
        rows_per_step,
        input_layers=(),
        gated=False,
        input_every=1,
        input_rows=None,
    ):
        # Checked before any buffer is allocated.
        self.input_every = check_input_every(input_every, int(buffer_size))
        self.input_rows = check_input_rows(input_rows, int(buffer_size), self.input_every)
        super().__init__(model, layer_names, buffer_size, rows_per_step, gated)
        self.input_layers = [name for name in self.layer_names if name in set(input_layers)]
        self.layers = {name: model.get_layer(name) for name in self.input_layers}
        self.input_layouts = {}
        tensors = [
            activation_taps.post_activation_tensor(model, model.get_layer(n))
            for n in self.layer_names
        ]
        inputs = []
        for name in self.input_layers:
            layer = self.layers[name]
            _check_input_layer(layer)
            inputs.append(layer._inbound_nodes[0].arguments.keras_tensors[0])
            kernel_use, _ = _model_access.producer_uses(model, name)
            self.input_layouts[name] = _input_layout(model, name, kernel_use)
        outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
        self.forward = keras.Model(
            model.inputs, [outputs, tensors + inputs], name=f"{model.name}_growth_taps"
        )
        self.input_buffers, self.written, self.stale = {}, {}, set()
        # On-demand inputs: per layer a gate, the ring position, per ring row
        # its activation slot and global row id, and the id-mark of the last reset.
        self.input_gates, self.ring_positions, self.ring_slots, self.ring_ids = {}, {}, {}, {}
        self.reset_marks = {}
        # With re-assignable storage a reallocation keeps the compiled step, so
        # the input buffers must keep their resources too: unknown widths.
        self._reassignable = bool(getattr(model, "reassignable_storage", False))
        with model.distribute_strategy.scope():
            for name, tensor in zip(self.input_layers, inputs):
                columns = _patch_size(self.layers[name]) * int(tensor.shape[-1])
                # With input_every > 1, one spare last row takes the writes of
                # the rows a step does not keep (static shapes, for XLA).
                rows = self.buffer_size // self.input_every + (self.input_every > 1)
                if self.on_demand:
                    rows = self.input_rows
                    self.input_gates[name] = tf.Variable(False, trainable=False)
                    self.ring_positions[name] = tf.Variable(0, dtype=tf.int64, trainable=False)
                    self.ring_slots[name] = tf.Variable(
                        np.full(rows, -1, np.int64), trainable=False
                    )
                    self.ring_ids[name] = tf.Variable(np.full(rows, -1, np.int64), trainable=False)
                    self.reset_marks[name] = tf.Variable(0, dtype=tf.int64, trainable=False)
                self.input_buffers[name] = self._make_buffer(np.zeros((rows, columns), np.float32))
            # Any gate open (kept by set_input_recording): one cond skips them all.
            self.inputs_open = tf.Variable(False, trainable=False) if self.on_demand else None
            self._open_gates = set()
            for name in self.layer_names:
                self.written[name] = tf.Variable(0, dtype=tf.int64, trainable=False)

    # ----------------------------------------------------------- in the step

    def _record(self, tapped):
        count = len(self.layer_names)
        outputs, inputs = list(tapped[:count]), list(tapped[count:])
        every = self.input_every
        samples = {name: self.sample(name, out) for name, out in zip(self.layer_names, outputs)}
        if self.on_demand:
            self._record_on_demand(outputs, inputs, samples)
        for name, tensor in zip(self.input_layers if not self.on_demand else (), inputs):
            buffer = self.input_buffers[name]
            output = outputs[self.layer_names.index(name)]
            sample = samples[name]
            # The step's i-th row goes to slot (position + i) % buffer_size; keep
            # the rows whose slot is a multiple of `every` (buffer_size is one).
            index, picks = sample.index, sample.picks
            if every > 1:  # a static number of candidates, for XLA
                kept = (sample.count + every - 1) // every
                index = (-sample.position) % every + every * tf.range(kept)
                picks = tf.gather(picks, tf.minimum(index, sample.count - 1))
            rows = _input_rows(self.layers[name], tensor, output, picks)
            if buffer.shape[-1] is not None and rows.shape[-1] != buffer.shape[-1]:
                self.stale.add(name)  # trace time: the input was resized elsewhere
                continue
            slots = ((sample.position + index) % self.buffer_size) // every
            if every > 1:  # past the step's rows: the spare row
                slots = tf.where(index < sample.count, slots, self.buffer_size // every)
            activation_taps.write_rows(buffer, slots, rows)
        for name in self.layer_names:
            self.written[name].assign_add(samples[name].count)
        super()._record(outputs, samples)

    @property
    def on_demand(self):
        """Whether inputs are recorded on demand (`input_rows` given)."""
        return self.input_rows is not None

    def _record_on_demand(self, outputs, inputs, samples):
        """Behind the gates: the inputs of each open layer's sampled rows, into
        its ring (the last `input_rows` of them if the step has more).

        One `tf.cond` on "any gate open" wraps the per-layer ones: a step with
        every gate closed (most steps) pays for one skipped branch, not one
        per layer (each costs tens of microseconds on a CPU).
        """
        writers = []
        for name, tensor in zip(self.input_layers, inputs):
            layer, buffer = self.layers[name], self.input_buffers[name]
            known = buffer.shape[-1] is not None and tensor.shape[-1] is not None
            if known and _patch_size(layer) * int(tensor.shape[-1]) != buffer.shape[-1]:
                self.stale.add(name)  # trace time: the input was resized elsewhere
                continue
            output = outputs[self.layer_names.index(name)]
            writers.append(self._ring_writer(name, layer, tensor, output, samples[name]))

        def write_open():
            for name, write in writers:
                tf.cond(self.input_gates[name], write, lambda: tf.constant(False))
            return tf.constant(True)

        if writers:
            tf.cond(self.inputs_open, write_open, lambda: tf.constant(False))

    def _ring_writer(self, name, layer, tensor, output, sample):
        """`(name, write)`: the branch writing `name`'s rows (its `RowSample`)
        into its ring. It reads the counters before this step moves them (the
        conds come first in program order, and ops on the same variables keep
        that order; the buffer position was read by `sample`)."""
        count, picks, first_slot = sample.count, sample.picks, sample.position
        buffer, ring, size = self.input_buffers[name], self.ring_positions[name], self.input_rows

        def write():
            first_id = self.written[name].read_value()
            kept = tf.minimum(count, size)
            index = count - kept + tf.range(kept, dtype=tf.int64)
            rows = _input_rows(layer, tensor, output, tf.gather(picks, index))
            at = (ring + index) % size
            activation_taps.write_rows(buffer, at, rows)
            activation_taps.write_rows(self.ring_ids[name], at, first_id + index)
            activation_taps.write_rows(
                self.ring_slots[name], at, (first_slot + index) % self.buffer_size
            )
            ring.assign((ring + count) % size)
            return tf.constant(True)

        return name, write

    # --------------------------------------------------------------- readers

    def filled_rows(self, name):
        """Rows recorded for `name` since its last reset (at most the buffer size)."""
        return int(self.filled[name].numpy())

    def rows_written(self, name):
        """Rows ever written for `name` (a counter that never wraps)."""
        return int(self.written[name].numpy())

    def inputs(self, name):
        """Input rows of `name` aligned with `DynamicModel.activations(name)`.

        Returns `None` if `name`'s inputs are not recorded or went stale (the
        input width changed without this tap following it). With on-demand
        inputs: the valid ring rows (whose activation rows are still
        buffered), oldest first; align with `aligned_activations`.
        """
        if name not in self.input_buffers or name in self.stale:
            return None
        if self.on_demand:
            return self.input_buffers[name].numpy()[self._valid_ring_rows(name)]
        rows = -(-self.filled_rows(name) // self.input_every)
        return self.input_buffers[name].numpy()[:rows]

    def aligned_activations(self, activations, name=None):
        """The rows of `activations` (`DynamicModel.activations(name)`) whose
        inputs `inputs(name)` returns, in the same order: every
        `input_every`-th, or with on-demand inputs the slots of the valid ring
        rows (`name` is then required)."""
        if not self.on_demand:
            return activations if self.input_every == 1 else activations[:: self.input_every]
        if name not in self.ring_slots:
            raise ValueError(
                f"name={name!r} is not allowed; expected one of the layers whose inputs are "
                f"recorded on demand: {sorted(self.ring_slots)}."
            )
        return activations[self.ring_slots[name].numpy()[self._valid_ring_rows(name)]]

    def set_input_recording(self, name, on):
        """Open (`on=True`) or close `name`'s input gate from the next step on
        (no retrace). Returns `rows_written(name)`: the id of the next row a
        step records, for `input_rows_since`."""
        if name not in self.input_gates:
            raise ValueError(
                f"name={name!r} is not allowed; expected one of the layers whose inputs are "
                f"recorded on demand: {sorted(self.input_gates)} (input_rows={self.input_rows})."
            )
        self.input_gates[name].assign(bool(on))
        if on:
            self._open_gates.add(name)
        else:
            self._open_gates.discard(name)
        self.inputs_open.assign(bool(self._open_gates))
        return self.rows_written(name)

    def input_rows_since(self, name, first_id):
        """How many valid ring rows of `name` have ids `>= first_id` (rows
        recorded since `set_input_recording` returned `first_id`)."""
        if name not in self.ring_ids:
            return 0
        ids = self.ring_ids[name].numpy()[self._valid_ring_rows(name)]
        return int(np.count_nonzero(ids >= first_id))

    def _valid_ring_rows(self, name):
        """Ring indices of the valid rows of `name`, oldest first."""
        ids = self.ring_ids[name].numpy()
        floor = max(
            self.rows_written(name) - self.buffer_size, int(self.reset_marks[name].numpy()), 0
        )
        valid = np.flatnonzero(ids >= floor)
        return valid[np.argsort(ids[valid], kind="stable")]

    def reset(self, name):
        super().reset(name)
        if name in self.reset_marks:  # ring rows written so far are no longer valid
            self.reset_marks[name].assign(self.written[name])

    # ------------------------------------------------------------ relayouts

    def relayout_group(self, group, slot_map):
        """Follow a reallocation of `group`: the activation buffers of its
        watched producers, and the input rows of every recorded layer that
        reads it, watched producer or not (once per reallocation)."""
        super().relayout_group(group, slot_map)
        for reader, layout in self.input_layouts.items():
            if group not in layout.groups():
                continue
            patch = _patch_size(self.layers[reader])
            # The group already has its new capacity; the buffer still has the old one.
            old = self.input_buffers[reader].numpy()
            channels = old.shape[1] // patch
            source = _source_map(layout, group, np.asarray(slot_map), channels)
            columns = (np.arange(patch)[:, None] * channels + source[None, :]).reshape(-1)
            columns = np.where(np.tile(source, patch) >= 0, columns, -1)
            value = storage.gather_axis(old, 1, columns, 0.0)
            if self._reassignable:
                storage.assign_any_shape(self.input_buffers[reader], value)
            else:
                # A new static buffer: `record` checks its width at trace time,
                # and the reallocation retraces the step.
                self.input_buffers[reader] = self._make_buffer(value)
            self.input_layouts[reader] = layout

    def _make_buffer(self, value):
        if self._reassignable:
            return storage.dynamic_variable(value, trainable=False)
        return tf.Variable(value, trainable=False)


def _source_map(layout, group, slot_map, old_size):
    """`storage.axis_source_map` for a layout whose `group` was already re-laid out.

    `old_size` is the axis size before the change (positions × old channels).
    """
    old_channels = old_size // layout.positions
    old = {group: old_channels - (layout.channels() - group.capacity)}
    pieces = []
    for index, segment in enumerate(layout.segments):
        offset = layout.segment_offset(index, old)
        if segment.group is group:
            pieces.append(np.where(slot_map >= 0, offset + slot_map, -1))
        else:
            pieces.append(offset + np.arange(segment.length(old)))
    channel_source = np.concatenate(pieces) if pieces else np.zeros(0, int)
    positions = np.arange(layout.positions)[:, None] * old_channels
    source = np.where(channel_source[None, :] >= 0, positions + channel_source[None, :], -1)
    return source.reshape(-1)


def check_input_rows(input_rows, buffer_size, input_every=1):
    """`input_rows` as `None` or an int in `[1, buffer_size]`, or a ValueError."""
    if input_rows is None:
        return None
    if (
        isinstance(input_rows, bool)
        or not isinstance(input_rows, numbers.Integral)
        or not 1 <= input_rows <= buffer_size
    ):
        raise ValueError(
            f"input_rows={input_rows!r} is not allowed; expected None or an int in "
            f"[1, buffer_size={buffer_size}]."
        )
    if input_every != 1:
        raise ValueError(
            f"input_rows={input_rows!r} with input_every={input_every!r} is not allowed; "
            "on-demand inputs need input_every=1."
        )
    return int(input_rows)


def _check_input_layer(layer):
    if isinstance(layer, keras.layers.Dense):
        return
    if isinstance(layer, _model_access._CONVOLUTIONS):
        if layer.data_format != "channels_last" or getattr(layer, "groups", 1) != 1:
            raise ValueError(
                f"layer '{layer.name}': input rows are recorded for channels-last, "
                "ungrouped convolutions only."
            )
        return
    raise ValueError(
        f"layer '{layer.name}' ({type(layer).__name__}): input rows can be recorded for "
        "Dense and Conv1D/2D/3D layers only."
    )


def _input_layout(model, name, kernel_use):
    layer = model.get_layer(name)
    graph = model._state.graph
    for use in graph.uses_of_variable(kernel_use.variable):
        if use.role == "consumer" and use.layer is layer:
            return use.layout
    from keras_grow.structure.graph import Layout, Segment

    return Layout((Segment(None, int(kernel_use.variable.shape[-2])),))


def _patch_size(layer):
    if isinstance(layer, keras.layers.Dense):
        return 1
    return int(np.prod(layer.kernel_size))


def check_input_every(input_every, buffer_size):
    """`input_every` as an int >= 1 dividing `buffer_size`, or a ValueError."""
    if (
        isinstance(input_every, bool)
        or not isinstance(input_every, numbers.Integral)
        or input_every < 1
        or buffer_size % input_every
    ):
        raise ValueError(
            f"input_every={input_every!r} is not allowed; expected an int >= 1 that divides "
            f"buffer_size={buffer_size}."
        )
    return int(input_every)


def _input_rows(layer, inputs, outputs, picks):
    """The inputs that produced the output rows `picks` (flat indices over the
    batch and, for convolutions, the output positions) of `outputs`."""
    if isinstance(layer, keras.layers.Dense):
        return tf.gather(activation_taps.flat_rows(inputs), picks)
    return _patches(layer, tf.cast(inputs, tf.float32), outputs, picks)


def _patches(layer, inputs, outputs, flat):
    """The receptive-field patches of the output positions `flat`, `(count, k… · C)`.

    Gathered straight from `inputs` with clamped indices and zeroed where a
    patch reaches into the padding: padding the whole input first would copy
    every layer's input at every step for a few hundred patches.
    """
    spatial = len(layer.kernel_size)
    out_shape = tf.shape(outputs, out_type=tf.int64)
    in_shape = tf.shape(inputs, out_type=tf.int64)
    positions = out_shape[1:-1]
    count = tf.shape(flat, out_type=tf.int64)[0]
    # Unravel flat row indices into (batch, o_1, ..., o_d).
    coordinates, rest = [], flat
    for axis in reversed(range(spatial)):
        coordinates.insert(0, rest % positions[axis])
        rest = rest // positions[axis]
    batch = rest
    kernel_shape = list(layer.kernel_size)
    target = tf.concat([[count], tf.constant(kernel_shape, tf.int64)], axis=0)
    index_parts = [tf.broadcast_to(tf.reshape(batch, [-1] + [1] * spatial), target)]
    inside = tf.ones(target, tf.bool)
    for axis in range(spatial):
        kernel = layer.kernel_size[axis]
        stride = layer.strides[axis]
        dilation = layer.dilation_rate[axis]
        extent = (kernel - 1) * dilation + 1
        if layer.padding == "same":
            padding = (positions[axis] - 1) * stride + extent - in_shape[axis + 1]
            before = tf.maximum(padding, 0) // 2
        elif layer.padding == "valid":
            before = tf.constant(0, tf.int64)
        else:
            raise ValueError(
                f"layer '{layer.name}': padding={layer.padding!r} is not supported for input "
                "taps; expected 'same' or 'valid'."
            )
        offsets = tf.range(kernel, dtype=tf.int64) * dilation
        index = coordinates[axis][:, None] * stride + offsets[None, :] - before  # (count, k)
        shape = [-1] + [1] * spatial
        shape[axis + 1] = kernel_shape[axis]
        index = tf.broadcast_to(tf.reshape(index, shape), target)
        inside &= (index >= 0) & (index < in_shape[axis + 1])
        index_parts.append(tf.clip_by_value(index, 0, in_shape[axis + 1] - 1))
    patches = tf.gather_nd(inputs, tf.stack(index_parts, axis=-1))  # (count, k_1, ..., k_d, C)
    patches *= tf.cast(inside, patches.dtype)[..., None]
    return tf.reshape(patches, (count, int(np.prod(kernel_shape)) * int(inputs.shape[-1])))
