"""Recording post-activations during training, inside the compiled train step.

Growth triggers (effective dimension, orthogonality) need a recent sample of
each layer's post-activations. Running an extra forward pass to get them would
cost about a third of a training step; instead the train step already computes
them, so `ActivationTaps` adds the tapped tensors as extra outputs of a model
sharing the same layers and writes them into per-layer ring buffers
(`tf.Variable`s) with one scatter per layer and step.

For a convolution, each spatial position is a row (Maile thesis 6.2.3:
activations flattened to units × (positions · samples)); at most
`rows_per_step` rows of each batch are kept, at evenly spaced positions.

The buffers span the layer's whole capacity; readers take the active units
(`DynamicModel.activations`).

Gated recording (opt-in, `gated=True`): the writes sit in a `tf.cond` on a
non-trainable boolean `tf.Variable` read inside the compiled step, so a
caller that needs the buffers only before an evaluation switches recording
on for the few steps that refill them (`set_recording`) and the other steps
skip the gathers and scatters. Toggling the flag changes a variable, not the
graph: no retrace. While on, a gated tap writes exactly what an ungated one
writes for the same batches.
"""

import typing

import keras
import numpy as np
import tensorflow as tf

from keras_grow.structure import storage

# Layers applied after a producer that still belong to its "post-activation".
_POST_ACTIVATION_LAYERS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.BatchNormalization,
)


def post_activation_tensor(model, layer):
    """The tensor holding `layer`'s post-activations in `model`.

    Follows the producer's output through batch norms and activation layers
    that are its only consumer (not through pooling, dropout or merges: a
    residual branch is measured before its `Add`, as the thesis turns residual
    connections off for this).
    """
    consumers = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.arguments.keras_tensors:
                consumers.setdefault(id(tensor), []).append(node)
    tensor = layer.output
    while True:
        nodes = consumers.get(id(tensor), [])
        if len(nodes) != 1 or not isinstance(nodes[0].operation, _POST_ACTIVATION_LAYERS):
            return tensor
        tensor = nodes[0].outputs[0]


def sampled_rows(total, count, phase, index=None):
    """`count` distinct indices out of `total` rows: one per equal stretch of rows.

    Each index sits at a pseudo-random offset inside its stretch that changes
    with `phase` (e.g. the ring buffer position). Evenly spaced rows alone
    (`k * total // count`) would land on the same spatial position of every
    image whenever a stretch spans whole feature maps (32 rows of 64 maps of
    28 × 28: always the top-left corner), so a buffer would hold one position.

    `index` (optional): `tf.range(count, dtype=tf.int64)`, when the caller has
    it already. With `count = 0` the result is empty.
    """
    total = tf.cast(total, tf.int64)
    count = tf.cast(count, tf.int64)
    if index is None:
        index = tf.range(count, dtype=tf.int64)
    divisor = tf.maximum(count, 1)
    starts = index * total // divisor
    widths = tf.maximum((index + 1) * total // divisor - starts, 1)
    jitter = (index * 7919 + tf.cast(phase, tf.int64) * 104729 + 12345) % widths
    return starts + jitter


class RowSample(typing.NamedTuple):
    """What one training step records of one layer (tensors of the step).

    `count`: rows recorded (int64 scalar); `index`: `tf.range(count)`;
    `picks`: their flat row indices in the layer's output; `position`: the
    ring buffer position before the step (read once, so the step's graph
    holds one read of it).
    """

    count: typing.Any
    index: typing.Any
    picks: typing.Any
    position: typing.Any


def flat_rows(tensor):
    """`tensor` as float32 rows `(rows, channels)` (no op for a float32 matrix)."""
    if tensor.shape.rank != 2:
        tensor = tf.reshape(tensor, (-1, tf.shape(tensor)[-1]))
    return tf.cast(tensor, tf.float32)


def write_rows(buffer, slots, rows):
    """`buffer[slots] = rows`: row `i` of `rows` into row `slots[i]` of the
    `buffer` variable (a 1-D int `slots`; where a slot repeats, one of its
    rows is kept).

    One `ResourceScatterUpdate`, which copies whole rows: on a CPU it writes
    512 rows of 784 floats about 3x faster than `scatter_nd_update` with
    `slots[:, None]`, and it compiles with XLA.

    Example:

    ```python
    import tensorflow as tf
    from keras_grow.structure.activation_taps import write_rows

    buffer = tf.Variable(tf.zeros((4, 3)))
    write_rows(buffer, tf.constant([3, 0]), tf.ones((2, 3)))  # rows 3 and 0 become ones
    ```
    """
    buffer.scatter_update(tf.IndexedSlices(rows, slots))


class ActivationTaps:
    """Ring buffers of post-activations for some producer layers of a model.

    Args:
        model: the `DynamicModel`.
        layer_names: producer layers to record.
        buffer_size: rows kept per layer.
        rows_per_step: rows written per layer and training step.
        gated: bool, put the writes behind the `recording` flag (see
            `set_recording`); default False: every step records.

    Example:

    ```python
    taps = ActivationTaps(model, ["conv3"], 512, 64, gated=True)
    model.install_taps(taps)
    taps.set_recording(False)   # the next steps skip the writes (no retrace)
    ```
    """

    def __init__(self, model, layer_names, buffer_size, rows_per_step, gated=False):
        self.layer_names = list(layer_names)
        self.gated = bool(gated)
        self.buffer_size = int(buffer_size)
        self.rows_per_step = int(rows_per_step)
        tensors = [post_activation_tensor(model, model.get_layer(n)) for n in self.layer_names]
        outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
        self.forward = keras.Model(model.inputs, [outputs, tensors], name=f"{model.name}_taps")
        self.buffers, self.positions, self.filled = {}, {}, {}
        capacities = model.capacities()
        with model.distribute_strategy.scope():
            for name in self.layer_names:
                self.buffers[name] = storage.dynamic_variable(
                    np.zeros((self.buffer_size, capacities[name]), np.float32), trainable=False
                )
                self.positions[name] = tf.Variable(0, dtype=tf.int64, trainable=False)
                self.filled[name] = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.recording = tf.Variable(True, trainable=False, name="recording")

    def set_recording(self, on):
        """Switch the writes of a gated tap on or off from the next step on (no retrace)."""
        if not self.gated:
            raise ValueError(
                "set_recording needs taps built with gated=True; these taps record every step."
            )
        self.recording.assign(bool(on))

    def record(self, tapped):
        """Write this step's rows into the buffers (called inside the train step).

        With `gated=True` the writes only happen while `recording` is true.
        """
        if not self.gated:
            self._record(tapped)
            return

        def write():
            self._record(tapped)
            return tf.constant(True)

        tf.cond(self.recording, write, lambda: tf.constant(False))

    def _record(self, tapped, samples=None):
        """Write each layer's sampled rows; `samples` (`{name: RowSample}`, from
        `sample`) reuses a sampling already computed in this step.

        Each layer's position is read once and shared by the sampling, the
        slots and its update: every op here is traced and prepared again by
        each `fit`'s first step (`benchmarks/bench_tap_first_step.py`).
        """
        for name, tensor in zip(self.layer_names, tapped):
            sample = samples[name] if samples is not None else self.sample(name, tensor)
            rows = tf.gather(flat_rows(tensor), sample.picks)
            slots = (sample.position + sample.index) % self.buffer_size
            write_rows(self.buffers[name], slots, rows)
            self.positions[name].assign((sample.position + sample.count) % self.buffer_size)
            filled = tf.minimum(self.filled[name] + sample.count, self.buffer_size)
            self.filled[name].assign(filled)

    def sample(self, name, tensor):
        """The `RowSample` this step records of `name`'s `tensor`."""
        if tensor.shape.rank == 2:
            total = tf.shape(tensor, out_type=tf.int64)[0]
        else:
            total = tf.reduce_prod(tf.shape(tensor, out_type=tf.int64)[:-1])
        count = tf.minimum(total, self.rows_per_step)
        index = tf.range(count, dtype=tf.int64)
        position = self.positions[name].read_value()
        return RowSample(count, index, sampled_rows(total, count, position, index), position)

    def rows(self, name, active_slots):
        """Rows recorded since the last reset of `name`, active units only."""
        filled = int(self.filled[name].numpy())
        rows = self.buffers[name].numpy()[:filled]
        active_slots = np.asarray(active_slots)
        if len(active_slots) and np.array_equal(active_slots, np.arange(len(active_slots))):
            return rows[:, : len(active_slots)]  # the usual layout: a view, no gather
        return rows[:, active_slots]

    def reset(self, name):
        self.positions[name].assign(0)
        self.filled[name].assign(0)

    def relayout_group(self, group, slot_map):
        """Follow a reallocation of `group` (a `DynamicModel` dependency group):
        gather the unit columns of its watched producers' buffers."""
        for layer in group.producers:
            if layer.name in self.layer_names:
                self.relayout(layer.name, slot_map)

    def relayout(self, name, slot_map):
        """Follow a reallocation of `name`'s group: gather the unit columns."""
        value = storage.gather_axis(self.buffers[name].numpy(), 1, slot_map, 0.0)
        storage.assign_any_shape(self.buffers[name], value)
