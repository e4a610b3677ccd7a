"""DynamicModel: a functional Keras model whose layers can gain and lose units.

How a resize stays cheap. Every dependency group (see `graph.py`) has a
physical *capacity* of unit slots and a mask of *active* slots; its width is
the number of active slots. Inactive slots have zero fan-in and zero fan-out,
their gradients are masked in `train_step`, so they are exactly inert.

- Adding units within capacity writes the new units' slices and flips mask
  entries: a few `assign`s, no retrace, no recompilation (also under XLA).
- Adding beyond capacity reallocates the group's variables (and optimizer
  slots) at `growth_factor` times the needed size, in place, and rebuilds the
  compiled functions once. Over a run the number of reallocations grows with
  the logarithm of the final width.
- Removing units zeroes their slices and clears their mask entries.
  `compact()` reallocates every group to exactly its width.
"""

import json
import math
import numbers

import keras
import numpy as np
import tensorflow as tf
import threadpoolctl

from keras_grow.structure import activation_taps, optimizer_state, storage, unit_edits, unit_views
from keras_grow.structure import graph as graph_lib
from keras_grow.structure import initializers as unit_initializers
from keras_grow.structure import optimizer_state as _slot_rules  # add_units shadows the name
from keras_grow.structure.events import StructureEvent

_STRUCTURE_KEY = "keras_grow_structure"


class _State:
    """Mutable structure bookkeeping, kept out of Keras/TF attribute tracking."""

    def __init__(self, dependency_graph):
        self.graph = dependency_graph
        self.history = []
        self.axis_masks = {}  # AxisUse -> tf.Variable over the axis
        self.gradient_masks = {}  # id(variable) -> [(tf.Variable, axis)]
        self.width_variables = {}  # group name -> scalar tf.Variable
        self.taps = None  # ActivationTaps, see DynamicModel.watch
        self.relaxations = {}  # layer name -> group name, see DynamicModel.relax


@keras.saving.register_keras_serializable(package="keras_grow")
class DynamicModel(keras.Model):
    """A functional Keras model that can add and remove units while it trains.

    Wraps a built functional or Sequential model made of ordinary Keras layers
    (`Dense`, `Conv1D/2D/3D`, `BatchNormalization`, activations, pooling,
    `Flatten`, `Dropout`, `Add`, `Concatenate`, ...) or keras_grow layers that
    define a `unit_spec()`. The layers are shared, not copied.

    From the graph it finds which variables change together when a layer
    gains or loses units (a *dependency group*: the producer's kernel columns
    and bias, batch norms in between, `Flatten` fan-out, the consumers' kernel
    rows, and every member of a residual `Add`). Structural edits keep
    surviving values and optimizer state exactly, give new units optimizer
    state that does not make their first steps explode, continue the
    optimizer's step count, and work from inside a callback during `fit`
    (also with `jit_compile=True`). Every edit is recorded in
    `structure_history`, and the widths of growable layers are added to the
    training logs as `width_<layer>` (progress bar, `History`, `CSVLogger`,
    `TensorBoard`).

    Saving with `model.save(...)` and `keras.saving.load_model(...)` restores
    the grown model exactly; `load_weights` (and so
    `keras.callbacks.BackupAndRestore`) first resizes the model to the saved
    structure.

    Args:
        *args: either one built Keras model, or `inputs, outputs` as for
            `keras.Model`.
        growth_factor: float >= 1. When a group runs out of capacity, its new
            capacity is `max(needed, ceil(growth_factor * capacity))`.
            1.0 reallocates to exactly the needed size at every growth.
        log_widths: add `width_<layer>` entries to the training logs.
        seed: seed of the random draws of unit initializers. Each structural
            event draws from a generator seeded by `(seed, event number)`, so a
            run resumed from a checkpoint draws the same numbers. If `None`,
            drawn from NumPy's global generator (`keras.utils.set_random_seed`
            makes it reproducible).
        reassignable_storage: `"auto"` (default): growable groups whose
            layers do not bake their width into `call` (Dense,
            BatchNormalization) get storage of unknown dimensions, so that a
            reallocation assigns in place: no retrace, and the old buffers
            are freed at once (Dense steps run as fast as with static
            storage). Groups with convolutions keep static storage, where
            unknown shapes make steps about 2x slower on CPU: a reallocation
            makes new variables and retraces once (see BENCHMARKS.md,
            "DynamicModel"). `True`: unknown dimensions for every growable
            group; `False`: static storage everywhere.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    ```python
    base = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(64, activation="relu", name="hidden"),
        keras.layers.Dense(10, name="logits"),
    ])
    model = keras_grow.DynamicModel(base)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.add_units("hidden", 8)          # function-preserving by default
    model.remove_units("hidden", [0, 3])
    model.widths()                        # {'hidden': 70, 'logits': 10}
    ```
    """

    def __init__(
        self,
        *args,
        growth_factor=2.0,
        log_widths=True,
        seed=None,
        reassignable_storage="auto",
        **kwargs,
    ):
        if len(args) == 1 and isinstance(args[0], keras.Model) and "inputs" not in kwargs:
            base = args[0]
            inputs, outputs = _graph_endpoints(base)
            kwargs.setdefault("name", base.name)
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        else:
            super().__init__(*args, **kwargs)
        if not isinstance(growth_factor, numbers.Real) or growth_factor < 1:
            raise ValueError(
                f"growth_factor={growth_factor!r} is not allowed; expected a number >= 1."
            )
        self.growth_factor = float(growth_factor)
        self.log_widths = bool(log_widths)
        self.reassignable_storage = _check_storage_mode(reassignable_storage)
        # NumPy's global generator, so that keras.utils.set_random_seed applies.
        self.seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)  # noqa: NPY002
        self._state = _State(graph_lib.analyze(self))
        self._state.initial_widths = self.widths()
        self._build_masks()
        self._update_masks()

    # ------------------------------------------------------------------ queries

    def widths(self):
        """Return `{layer_name: number of units}` for every producer layer."""
        return {
            layer.name: group.width
            for group in self._state.graph.groups
            for layer in group.producers
        }

    def capacities(self):
        """Return `{layer_name: allocated unit slots}` for every producer layer."""
        return {
            layer.name: group.capacity
            for group in self._state.graph.groups
            for layer in group.producers
        }

    def growable_layers(self):
        """Names of the producer layers whose width can change."""
        return [
            layer.name
            for group in self._state.graph.groups
            if group.growable
            for layer in group.producers
        ]

    def dependency_group(self, layer_name):
        """The names of the producer layers that change width with `layer_name`."""
        return [layer.name for layer in self._group_of(layer_name).producers]

    def explain(self, layer_name):
        """Say whether `layer_name` can change width, and if not, why.

        Example:

        ```python
        print(model.explain("hidden"))  # 'hidden' is growable (dependency group: hidden).
        ```
        """
        group = self._group_of(layer_name)
        members = ", ".join(layer.name for layer in group.producers)
        if group.growable:
            return f"'{layer_name}' is growable (dependency group: {members})."
        reasons = "; ".join(group.frozen_reasons)
        return f"'{layer_name}' is not growable: {reasons}."

    @property
    def initial_widths(self):
        """Widths when the model was first wrapped (before any recorded event)."""
        return dict(self._state.initial_widths)

    @property
    def structure_history(self):
        """The list of `StructureEvent`s, oldest first."""
        return list(self._state.history)

    def active_units(self, layer_name):
        """Physical slot of each unit of `layer_name`, in unit order."""
        return self._group_of(layer_name).active_slots

    def unit_weights(self, layer_name, include_bias=True):
        """Fan-in weights of `layer_name`'s units: array `(units, fan_in [+ 1])`.

        Row `i` is unit `i`'s slice of the layer's kernel along its unit axis,
        flattened (a convolution: `kernel[..., i].ravel()`), followed by its
        bias if `include_bias`. Entries reading inactive input units are zero.

        Example:

        ```python
        model.unit_weights("hidden").shape  # (64, 785) for Dense(64) on 784 inputs
        ```
        """
        group = self._group_of(layer_name)
        kernel, bias = unit_views.producer_uses(group, self.get_layer(layer_name))
        matrix = unit_views.unit_rows(kernel)
        if include_bias and bias is not None:
            matrix = np.concatenate([matrix, unit_views.unit_rows(bias)], axis=1)
        return matrix

    # ------------------------------------------------------------------- edits

    def add_units(
        self, layer_name, n, initializer=None, reason="manual", context=None, optimizer_state="mean"
    ):
        """Add `n` units to `layer_name` (and to its whole dependency group).

        Args:
            layer_name: name of a growable producer layer.
            n: positive int, number of units to add.
            initializer: a unit initializer (see `keras_grow.structure.initializers`),
                its name (`"zero_fan_out"`, `"zero_fan_in"`), or `None` for
                `ZeroFanOut()`, which preserves the model's function.
            reason: recorded in `structure_history`.
            context: dict passed to the initializer (e.g. buffered activations).
            optimizer_state: how the new units' second-moment optimizer slots
                (Adam's `velocity`, RMSprop's accumulator, ...) start.
                `"mean"`: at the existing units' mean along the unit axis, so
                a new unit's first Adam steps stay near the learning rate even
                at a large step count. `"fresh"`: at zero, like a new
                parameter (first steps up to ~3x the learning rate late in a
                run; useful when the existing units' second moments still
                reflect large early gradients). First moments always start
                at zero.

        Returns:
            The indices of the new units among the layer's units.

        Example:

        ```python
        model.add_units("hidden", 4, initializer="zero_fan_in", optimizer_state="fresh")
        ```
        """
        group = self._growable_group(layer_name, "add units to")
        n = _check_count(n, "n")
        slot_rule = _slot_rules.check_slot_rule(optimizer_state)
        initializer = unit_initializers.get(initializer)
        old_capacity = group.capacity
        free = np.flatnonzero(~group.active)
        if free.size < n:
            self._relayout(group, self._grown_capacity(group, group.width + n))
            free = np.flatnonzero(~group.active)
        slots = free[:n]
        request = unit_initializers.NewUnits(group, n, slots, self._event_rng(), context or {})
        try:
            values = initializer(request) or {}
            _check_initializer_values(request, values)
        except Exception:
            if group.capacity != old_capacity:
                self._relayout(group, old_capacity)
            raise
        self._activate(group, slots, values, slot_rule)
        self._record(layer_name, "add_units", n, reason)
        return np.searchsorted(group.active_slots, slots)

    def remove_units(self, layer_name, indices, reason="manual"):
        """Remove the units at `indices` (positions among the layer's units).

        The rest of the network keeps its weights; the result computes what a
        model built without those units computes.

        Example:

        ```python
        model.remove_units("hidden", [0, 3], reason="pruned by hand")
        model.structure_history[-1].count  # 2
        ```
        """
        group = self._growable_group(layer_name, "remove units from")
        indices = _check_indices(indices, group.width)
        slots = group.active_slots[indices]
        self._deactivate(group, slots)
        self._record(layer_name, "remove_units", len(slots), reason)

    def reserve(self, layer_name, capacity, reason="manual"):
        """Allocate at least `capacity` unit slots for `layer_name`'s group now.

        Later growth up to `capacity` then costs no reallocation or retrace.

        Example:

        ```python
        model.reserve("hidden", 64)  # room for 64 units; the width is unchanged
        model.capacities()["hidden"]  # 64
        ```
        """
        group = self._growable_group(layer_name, "reserve capacity for")
        capacity = _check_count(capacity, "capacity")
        if capacity > group.capacity:
            self._relayout(group, capacity)
            self._record(layer_name, "reserve", capacity, reason)

    def compact(self, reason="manual"):
        """Reallocate every group to exactly its active units (drops free slots).

        Example:

        ```python
        model.remove_units("hidden", [0, 1])
        model.compact()
        model.capacities()["hidden"] == model.widths()["hidden"]  # True
        ```
        """
        for group in self._state.graph.groups:
            if group.growable and group.capacity != group.width:
                slot_map = group.active_slots
                self._relayout(group, len(slot_map), slot_map=slot_map)
                self._record(group.name, "compact", group.capacity, reason)

    def relax(self, layer_name, subgroup, reason="manual"):
        """Relax a group convolution's equivariance to `subgroup`, keeping its function.

        The equivariance relaxation morphism (Maile's thesis, eqs. 4-10) applied
        in place: `layer_name` (a `LiftingConv2D` or `GroupConv2D`) becomes
        equivariant only to `subgroup` G' <= G, with `|G:G'|` times as many
        fields and untied weights; its output, and so the model's, is
        unchanged, and downstream layers need no change. Each optimizer slot
        entry of a new parameter starts from the parameter it copies.

        Args:
            layer_name: a group-convolution layer of the model.
            subgroup: name of a subgroup of the layer's group, e.g. `"C4"`.
            reason: recorded in `structure_history`.
        """
        layer = self._layer(layer_name)
        if not callable(getattr(layer, "relax_in_place", None)):
            raise ValueError(
                f"layer_name={layer_name!r} is a {type(layer).__name__}, which has no "
                "relaxation morphism; expected a LiftingConv2D or GroupConv2D layer."
            )
        slot_table = self._optimizer_slots()
        old_keys = (
            optimizer_state.variable_keys(self.optimizer, self.trainable_variables)
            if slot_table
            else {}
        )
        updates = layer.relax_in_place(subgroup)  # validates `subgroup` before changing anything
        for attribute, (value, source) in updates.items():
            variable = getattr(layer, attribute)
            for slot, _ in slot_table.get(id(variable), ()):
                copied = slot.numpy().reshape(-1)[source].reshape(value.shape)
                storage.replace_storage(slot, copied, self.distribute_strategy)
            storage.replace_storage(variable, value, self.distribute_strategy)
        if slot_table:
            optimizer_state.refresh_variable_index(self.optimizer, old_keys)
        self._state.relaxations[layer_name] = layer.group.name
        self._reset_compiled_functions()
        self._record(layer_name, "relax", layer.filters, reason)

    def record_event(self, layer_name, operation, count, reason="manual"):
        """Append a `StructureEvent` to `structure_history` and return it.

        The model's own edits record themselves; callbacks that change the
        structure in other ways (e.g. a layer that switches blocks on and off
        itself) call this so that their edits appear in the same history, with
        the current optimizer step and the widths right after the change.

        Args:
            layer_name: the layer the edit concerns (str).
            operation: what happened, e.g. `"add_blocks"` (non-empty str).
            count: how many units/blocks changed (int >= 0).
            reason: who asked and why.

        Returns:
            The recorded `StructureEvent`.

        Example:

        ```python
        model.record_event("stack", "add_blocks", 1, reason="MultiplierResize")
        model.structure_history[-1].operation  # 'add_blocks'
        ```
        """
        if not isinstance(layer_name, str):
            raise TypeError(
                f"layer_name={layer_name!r} (type {type(layer_name).__name__}) must be a str."
            )
        if not isinstance(operation, str) or not operation:
            raise ValueError(
                f"operation={operation!r} is not allowed; expected a non-empty str "
                "such as 'add_units'."
            )
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
            raise ValueError(f"count={count!r} is not allowed; expected an int >= 0.")
        optimizer = getattr(self, "optimizer", None)
        step = int(optimizer.iterations.numpy()) if optimizer is not None else 0
        event = StructureEvent(step, layer_name, operation, int(count), str(reason), self.widths())
        self._state.history.append(event)
        return event

    # ------------------------------------------------------------- activations

    def watch(self, layer_names, buffer_size=1024, rows_per_step=128):
        """Record post-activations of `layer_names` during training.

        The train step keeps, for each layer, a ring buffer of the last
        `buffer_size` rows of its post-activations (after batch norm and
        activation layers; for convolutions each spatial position is a row).
        This costs one scatter per layer and step, no extra forward pass.
        Calling `watch` again replaces the previous set of layers.

        Args:
            layer_names: producer layers to record.
            buffer_size: rows kept per layer (should exceed the layer width).
            rows_per_step: rows written per layer and step (evenly spaced
                among the batch's rows).

        Example:

        ```python
        model.watch(["hidden"], buffer_size=256, rows_per_step=32)
        model.fit(x, y, batch_size=32, epochs=1)
        model.activations("hidden").shape  # (256, width of "hidden")
        ```
        """
        layer_names, buffer_size, rows_per_step = self._check_watch(
            layer_names, buffer_size, rows_per_step
        )
        self._state.taps = activation_taps.ActivationTaps(
            self, layer_names, buffer_size, rows_per_step
        )
        self._reset_compiled_functions()

    def _check_watch(self, layer_names, buffer_size, rows_per_step):
        """`watch`'s arguments checked (a ValueError naming the bad one) and normalised."""
        layer_names = list(layer_names)
        known = set(self.widths())
        for name in layer_names:
            if name not in known:
                raise ValueError(
                    f"layer_names contains {name!r}, which is not a producer layer; "
                    f"expected names among {sorted(known)}."
                )
        buffer_size = _check_count(buffer_size, "buffer_size")
        rows_per_step = _check_count(rows_per_step, "rows_per_step")
        return layer_names, buffer_size, rows_per_step

    @property
    def activation_taps(self):
        """The installed `ActivationTaps` (see `watch`), or `None`."""
        return self._state.taps

    def install_taps(self, taps):
        """Record activations with `taps`, an `ActivationTaps` built for this model.

        For taps that record more than `watch` installs (a subclass, e.g. one
        that also keeps each layer's inputs); replaces the current taps and
        rebuilds the compiled functions. `activations`, `reset_activations`
        and `unwatch` keep working.
        """
        if not isinstance(taps, activation_taps.ActivationTaps):
            raise TypeError(
                f"taps={taps!r} (type {type(taps).__name__}) is not allowed; expected an "
                "keras_grow.structure.activation_taps.ActivationTaps."
            )
        self._state.taps = taps
        self._reset_compiled_functions()

    def unwatch(self):
        """Stop recording activations."""
        if self._state.taps is not None:
            self._state.taps = None
            self._reset_compiled_functions()

    def activations(self, layer_name):
        """Recorded post-activations of `layer_name`: array (rows, width), active units only.

        Rows are those written since the last `reset_activations(layer_name)`
        (at most the buffer size), in buffer order.
        """
        taps = self._watched(layer_name)
        return taps.rows(layer_name, self._group_of(layer_name).active_slots)

    def reset_activations(self, layer_name):
        """Forget the rows recorded so far for `layer_name` (e.g. after it grew)."""
        self._watched(layer_name).reset(layer_name)

    def _watched(self, layer_name):
        taps = self._state.taps
        if taps is None or layer_name not in taps.layer_names:
            watched = [] if taps is None else taps.layer_names
            raise ValueError(
                f"layer_name={layer_name!r} is not watched; call model.watch([...]) first "
                f"(watched: {watched})."
            )
        return taps

    # ------------------------------------------------------------ training step

    def train_step(self, data):
        """The TensorFlow trainer's step, with gradients of inactive slots masked.

        Trainable variables that get no gradient (not reached by the loss) are
        left out of the update, with their optimizer state; a step in which no
        variable gets a gradient changes nothing but the step count (Keras
        would raise).
        """
        from keras.src.losses import loss as loss_module

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        taps = self._state.taps
        with tf.GradientTape() as tape:
            if taps is None:
                y_pred = self(x, training=True)
            else:
                y_pred, tapped = taps.forward(x, training=True)
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            batch = tf.shape(next(t for t in tf.nest.flatten(x) if t is not None))[0]
            self._loss_tracker.update_state(
                loss_module.unscale_loss_for_distribution(loss), sample_weight=batch
            )
            if self.optimizer is not None:
                loss = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        gradients = self._mask_gradients(weights, tape.gradient(loss, weights))
        # Variables the loss does not reach (an output without a loss, a
        # branch left out of the step) have no gradient: the optimizer skips
        # them (Keras warns once per trace). A step where no variable has a
        # gradient updates nothing but still counts.
        if any(gradient is not None for gradient in gradients):
            self.optimizer.apply_gradients(zip(gradients, weights))
        elif weights:
            self.optimizer.iterations.assign_add(1)
        if taps is not None:
            taps.record(tapped)
        logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if self.log_widths:
            for name, variable in self._state.width_variables.items():
                logs[f"width_{name}"] = tf.identity(variable)
        return logs

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, with NumPy's BLAS limited to the fewest threads
        any callback asks for (`blas_threads`, e.g. structural callbacks: 1)."""
        callbacks = kwargs.get("callbacks", args[5] if len(args) > 5 else None)
        threads = _blas_threads(callbacks)
        if threads is None:
            return super().fit(*args, **kwargs)
        with threadpoolctl.threadpool_limits(limits=threads, user_api="blas"):
            return super().fit(*args, **kwargs)

    def make_train_function(self, force=False):
        if self._ensure_reassignable_storage():
            force = True
        return super().make_train_function(force=force)

    def make_test_function(self, force=False):
        if self._ensure_reassignable_storage():
            force = True
        return super().make_test_function(force=force)

    def make_predict_function(self, force=False):
        if self._ensure_reassignable_storage():
            force = True
        return super().make_predict_function(force=force)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Build the optimizer and the compiled loss and metrics before the
        first step is traced.

        Without a distribution strategy Keras' TensorFlow trainer leaves this
        to the trace of the first step, and the variables created there make
        `tf.function` trace the step a second time: every first `fit` paid two
        traces. Here they are built from the data's element spec (no batch is
        read, so the data order and the results are unchanged): one trace.
        """
        if self._distribute_strategy is not None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if data_batch is None:
            dataset = getattr(iterator, "_distributed_dataset", None)
            data_batch = getattr(dataset, "element_spec", None)
        build = getattr(self, "_symbolic_build", None)  # Keras internals: absent, no harm
        if data_batch is None or build is None:
            return None  # Keras' default: built while the first step is traced
        with self.distribute_strategy.scope():
            build(data_batch=data_batch)
        return None

    def _ensure_reassignable_storage(self):
        """With `reassignable_storage`, convert growable variables and their slots.

        Done before compiled functions are made, so that they capture the
        final resources: the model then computes the same way whatever its
        history, and reallocations need no new resources.

        Returns:
            True if any storage was replaced (existing functions are stale).
        """
        if not self.reassignable_storage:
            return False
        variables = {
            id(use.variable): use.variable
            for group in self._state.graph.groups
            if group.growable and self._reassignable(group)
            for use in group.axis_uses
        }
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            # Keras builds optimizers lazily inside the first step; build it
            # now so its slots get re-assignable storage too.
            optimizer.build(self.trainable_variables)
        # Copied as they are: no slot rule involved, so no unsupported-optimizer warning.
        slot_table = (
            optimizer_state.slots_by_variable(optimizer)
            if optimizer_state.is_built(optimizer)
            else {}
        )
        targets = list(variables.values()) + [
            slot for v in variables.values() for slot, _ in slot_table.get(id(v), ())
        ]
        static = [v for v in targets if v.value.shape.is_fully_defined()]
        if not static:
            return False
        old_keys = (
            optimizer_state.variable_keys(optimizer, self.trainable_variables) if slot_table else {}
        )
        for variable in static:
            storage.replace_storage(
                variable,
                variable.numpy(),
                self.distribute_strategy,
                reassignable=True,
            )
        if slot_table:
            optimizer_state.refresh_variable_index(optimizer, old_keys)
        self.train_function = self.test_function = self.predict_function = None
        return True

    def _mask_gradients(self, weights, gradients):
        masked = []
        for weight, gradient in zip(weights, gradients):
            for mask, axis in self._state.gradient_masks.get(id(weight), ()):
                if gradient is None:
                    break
                shape = [1] * len(weight.shape)
                shape[axis] = -1
                gradient = gradient * tf.reshape(tf.cast(mask, gradient.dtype), shape)
            masked.append(gradient)
        return masked

    # ------------------------------------------------------------ serialisation

    def get_config(self):
        config = super().get_config()
        for layer_config in config.get("layers", []):
            # Layers are rebuilt from the graph, at their current widths.
            layer_config.pop("build_config", None)
        config.update(
            growth_factor=self.growth_factor,
            log_widths=self.log_widths,
            seed=self.seed,
            reassignable_storage=self.reassignable_storage,
            structure=self._structure_config(),
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        options = {
            key: config.pop(key)
            for key in ("growth_factor", "log_widths", "seed", "reassignable_storage")
            if key in config
        }
        structure = config.pop("structure", None)
        model = super().from_config(config, custom_objects=custom_objects)
        model.growth_factor = float(options.get("growth_factor", model.growth_factor))
        model.log_widths = bool(options.get("log_widths", model.log_widths))
        model.seed = options.get("seed", model.seed)
        model.reassignable_storage = _check_storage_mode(options.get("reassignable_storage", False))
        model._build_masks()  # masks follow the storage mode
        if structure is not None:
            model._apply_structure_config(structure)
        return model

    def save_own_variables(self, store):
        super().save_own_variables(store)
        encoded = json.dumps(self._structure_config()).encode("utf-8")
        store[_STRUCTURE_KEY] = np.frombuffer(encoded, dtype=np.uint8)

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _STRUCTURE_KEY in keys:
            encoded = np.asarray(store[_STRUCTURE_KEY], dtype=np.uint8).tobytes()
            self._apply_structure_config(json.loads(encoded.decode("utf-8")))
            store = {key: store[key] for key in keys if key != _STRUCTURE_KEY}
        super().load_own_variables(store)

    def _structure_config(self):
        return {
            "groups": {
                group.name: {
                    "capacity": int(group.capacity),
                    "active": [int(s) for s in group.active_slots],
                }
                for group in self._state.graph.groups
            },
            "history": [event.to_dict() for event in self._state.history],
            "seed": self.seed,
            "initial_widths": self._state.initial_widths,
            "relaxations": dict(self._state.relaxations),
        }

    def _apply_structure_config(self, structure):
        for name, group in structure.get("relaxations", {}).items():
            if self._layer(name).group.name != group:
                self.relax(name, group)
            self._state.relaxations[name] = group
        for name, saved in structure["groups"].items():
            group = self._group_of(name)
            if saved["capacity"] != group.capacity:
                self._relayout(group, saved["capacity"])
            active = np.zeros(group.capacity, dtype=bool)
            active[saved["active"]] = True
            group.active = active
        self._update_masks()
        self._state.history = [StructureEvent.from_dict(e) for e in structure["history"]]
        self.seed = int(structure.get("seed", self.seed))
        self._state.initial_widths = dict(structure.get("initial_widths", self.widths()))

    # ---------------------------------------------------------------- internals

    def _group_of(self, layer_name):
        if not isinstance(layer_name, str):
            raise TypeError(
                f"layer_name={layer_name!r} (type {type(layer_name).__name__}) must be a str."
            )
        groups = self._state.graph.group_of_layer
        if layer_name not in groups:
            known = [layer.name for layer in self.layers]
            if layer_name in known:
                raise ValueError(
                    f"layer_name={layer_name!r} does not produce units (it is a "
                    f"{type(self.get_layer(layer_name)).__name__}); expected one of the "
                    f"producer layers {sorted(groups)}."
                )
            raise ValueError(
                f"layer_name={layer_name!r} is not a layer of model '{self.name}'; "
                f"expected one of the producer layers {sorted(groups)}."
            )
        return groups[layer_name]

    def _layer(self, layer_name):
        if not isinstance(layer_name, str) or layer_name not in [l.name for l in self.layers]:
            raise ValueError(
                f"layer_name={layer_name!r} is not a layer of model '{self.name}'; expected "
                f"one of {[layer.name for layer in self.layers]}."
            )
        return self.get_layer(layer_name)

    def _growable_group(self, layer_name, action):
        group = self._group_of(layer_name)
        if not group.growable:
            raise ValueError(
                f"Cannot {action} layer_name={layer_name!r}: "
                f"{'; '.join(group.frozen_reasons)}. Growable layers: {self.growable_layers()}."
            )
        return group

    def _grown_capacity(self, group, needed):
        return max(needed, math.ceil(group.capacity * self.growth_factor))

    def _optimizer_slots(self):
        if not optimizer_state.is_built(getattr(self, "optimizer", None)):
            return {}
        optimizer_state.check_supported(self.optimizer)
        return optimizer_state.slots_by_variable(self.optimizer)

    def _event_rng(self):
        return np.random.default_rng([self.seed, len(self._state.history)])

    def _activate(self, group, slots, values, slot_rule="mean"):
        unit_edits.activate(
            self._state.graph,
            group,
            slots,
            values,
            self._optimizer_slots(),
            self._event_rng(),
            slot_rule,
        )
        self._update_masks(group)

    def _deactivate(self, group, slots):
        unit_edits.deactivate(group, slots, self._optimizer_slots())
        self._update_masks(group)

    def _relayout(self, group, capacity, slot_map=None):
        """Reallocate `group` to `capacity` slots (see `unit_edits.reallocate`)."""
        slot_map = unit_edits.default_slot_map(group, capacity) if slot_map is None else slot_map
        slot_map = np.asarray(slot_map, dtype=int)
        slot_table = self._optimizer_slots()
        optimizer = getattr(self, "optimizer", None)
        old_keys = (
            optimizer_state.variable_keys(optimizer, self.trainable_variables) if slot_table else {}
        )
        strategy = self.distribute_strategy
        reassignable = self._reassignable(group)
        retrace = unit_edits.reallocate(group, slot_map, slot_table, strategy, reassignable)
        if self._state.taps is not None:
            self._state.taps.relayout_group(group, slot_map)
        self._refresh_symbolic_shapes()
        if slot_table:
            optimizer_state.refresh_variable_index(optimizer, old_keys)
        if retrace and not reassignable:
            self._build_masks()  # static masks of the new shapes
        self._update_masks()
        if retrace:
            self._reset_compiled_functions()

    def _refresh_symbolic_shapes(self):
        """Make the graph's symbolic shapes and layers' input specs match widths."""
        for tensor, layout in self._state.graph.tensor_layouts:
            size = layout.size()
            if tensor.shape[-1] != size:
                tensor._shape = tuple(tensor.shape[:-1]) + (size,)
        for layer in self.layers:
            for node in layer._inbound_nodes:
                inputs = list(node.arguments.keras_tensors)
                specs = layer.input_spec
                if specs is None or not inputs:
                    continue
                specs = specs if isinstance(specs, (list, tuple)) else [specs]
                for spec, tensor in zip(specs, inputs):
                    axes = getattr(spec, "axes", None) or {}
                    rank = len(tensor.shape)
                    for axis in list(axes):
                        if axis in (-1, rank - 1):
                            axes[axis] = tensor.shape[-1]

    def reallocates_in_place(self, layer_name):
        """Whether a reallocation of `layer_name`'s group keeps the compiled step.

        True when the group has re-assignable storage (`reassignable_storage`
        is True, or `"auto"` and no layer of the group bakes its width into
        `call`) and none of its layers does: a capacity change then costs a
        copy of the group's variables, not a retrace.
        """
        group = self._group_of(layer_name)
        return self._reassignable(group) and not unit_edits.bakes_width(group)

    def _reassignable(self, group):
        """Whether `group`'s variables get storage of unknown dimensions."""
        if self.reassignable_storage == "auto":
            return not unit_edits.bakes_width(group)
        return bool(self.reassignable_storage)

    def _build_masks(self):
        """Create the per-axis gradient masks and width variables (traced state).

        Masks of axes that involve a group with re-assignable storage have
        unknown dimensions and a reallocation re-assigns them; the others are
        rebuilt with it.
        """
        state = self._state
        trainable = {id(v) for v in self.trainable_variables}
        state.axis_masks, state.gradient_masks = {}, {}
        with self.distribute_strategy.scope():
            for use in state.graph.axis_uses:
                if use.role == "carrier" or id(use.variable) not in trainable:
                    continue
                if not any(g.growable for g in use.layout.groups()):
                    continue
                dynamic = any(self._reassignable(g) for g in use.layout.groups() if g.growable)
                make = storage.dynamic_variable if dynamic else tf.Variable
                mask = make(storage.axis_mask(use.layout), trainable=False)
                state.axis_masks[use] = mask
                state.gradient_masks.setdefault(id(use.variable), []).append((mask, use.axis))
            if not state.width_variables:
                state.width_variables = {
                    group.name: tf.Variable(float(group.width), trainable=False)
                    for group in state.graph.groups
                    if group.growable
                }

    def _update_masks(self, group=None):
        """Refresh gradient masks and width logs (of `group` only, if given)."""
        for use, mask in self._state.axis_masks.items():
            if group is None or group in use.layout.groups():
                mask.assign(storage.axis_mask(use.layout), read_value=False)
        for each in self._state.graph.groups if group is None else [group]:
            if each.name in self._state.width_variables:
                self._state.width_variables[each.name].assign(float(each.width), read_value=False)

    def _reset_compiled_functions(self):
        if getattr(self, "optimizer", None) is not None:
            self.make_train_function(force=True)
        self.test_function = None
        self.predict_function = None

    def _record(self, layer_name, operation, count, reason):
        return self.record_event(layer_name, operation, count, reason)


def _graph_endpoints(base):
    try:
        ready = base.built and bool(base.inputs) and bool(base.outputs)
    except (AttributeError, ValueError):
        ready = False
    if not ready:
        raise ValueError(
            f"model={base.name!r} ({type(base).__name__}) is not a built functional graph; "
            "start a Sequential with keras.Input(shape) or build a functional model."
        )
    inputs = base.inputs[0] if len(base.inputs) == 1 else base.inputs
    outputs = base.outputs[0] if len(base.outputs) == 1 else base.outputs
    return inputs, outputs


def _blas_threads(callbacks):
    """The fewest BLAS threads requested by `callbacks` (`None`: no request)."""
    if callbacks is None or isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks = getattr(callbacks, "callbacks", None) or []
    requests = [getattr(c, "blas_threads", None) for c in callbacks]
    requests = [int(r) for r in requests if r is not None]
    return min(requests) if requests else None


def _check_storage_mode(value):
    if isinstance(value, (bool, np.bool_)) or value == "auto":
        return value if value == "auto" else bool(value)
    raise ValueError(
        f"reassignable_storage={value!r} is not allowed; expected True, False or 'auto'."
    )


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} (type {type(value).__name__}) must be an int.")
    if value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected an int >= 1.")
    return int(value)


def _check_indices(indices, width):
    if isinstance(indices, numbers.Integral) and not isinstance(indices, bool):
        indices = [indices]
    try:
        array = np.asarray(indices)
    except Exception as error:  # pragma: no cover - numpy accepts nearly anything
        raise TypeError(f"indices={indices!r} must be a sequence of ints.") from error
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"indices={indices!r} must be a 1-D sequence of ints.")
    if array.size == 0:
        raise ValueError("indices=[] is empty; expected at least one unit index.")
    if array.min() < 0 or array.max() >= width:
        raise ValueError(
            f"indices={array.tolist()} has entries out of range; expected ints in [0, {width})."
        )
    if len(np.unique(array)) != array.size:
        raise ValueError(f"indices={array.tolist()} contains duplicates; expected distinct units.")
    if array.size >= width:
        raise ValueError(
            f"indices={array.tolist()} would remove all {width} units; at least one must remain."
        )
    return array.astype(int)


def _check_initializer_values(request, values):
    allowed = set(map(id, request.fan_in + request.fan_out))
    for use, value in values.items():
        if id(use) not in allowed:
            raise ValueError(
                f"The unit initializer returned a value for {use.variable.path}, which is not a "
                "fan-in or fan-out variable of this group."
            )
        if np.shape(value) not in ((), request.slice_shape(use)):
            raise ValueError(
                f"The unit initializer returned shape {np.shape(value)} for "
                f"{use.variable.path}; expected {request.slice_shape(use)}."
            )
