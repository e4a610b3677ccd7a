"""Neurogenesis during fit: a trigger decides when, where and how many units to
add, an initialiser decides their weights (Maile's Algorithm 4)."""

import math
import numbers

import numpy as np

from keras_grow.callbacks.structural import (
    StructuralCallback,
    check_layer_names,
    measured_groups,
)
from keras_grow.growth import _model_access
from keras_grow.growth import context as context_lib
from keras_grow.growth import probe as probe_lib
from keras_grow.growth import triggers as triggers_lib

AUTO_HEADROOM = 4  # reserve="auto": starting capacity / starting width
IN_PLACE_GROWTH_FACTOR = 1.25  # reserve="auto": see Neurogenesis.in_place_growth_factor


class Neurogenesis(StructuralCallback):
    """Grow a `DynamicModel` during training with a trigger and an initialiser.

    Every `every` training steps, for each growing layer, the `trigger`
    returns a number of units `T` (see `keras_grow.growth`): when `T > 0`
    the layer's dependency group gains `min(T, max_units − width)` units,
    initialised by `initializer`, and the event is recorded in the model's
    `structure_history` with the trigger's value and threshold as reason.

    Where: each dependency group is evaluated once, on its first producer in
    topological order (for a residual stage: its first layer, thesis 6.2.3);
    all producers of the group grow together.

    What the triggers see:
    - activations: the post-activations of the measured layer, recorded
      inside the compiled train step by `DynamicModel` activation taps into a
      FIFO of `buffer_size` rows (`rows_per_step` rows per step; for
      convolutions, spatial positions). No extra forward pass. For residual
      branches the taps stop before the `Add`, i.e. residual connections are
      off when measuring.
    - weights: the measured layer's fan-in matrix.
    - gradients: one extra forward/backward pass over `probe_size` random
      rows of `data`, per evaluation, keeping only the auxiliary gradients
      and the units' gradient norms; when units are added with an
      initialiser that reads gradients (GradMax, Firefly, NeST), the same
      rows are probed again in full (input rows and consumer gradients).

    Amortisation of activation triggers: a layer is evaluated only when its
    buffer is full and at least `min_new_rows` rows arrived since that layer
    was last evaluated (default `buffer_size`: every decision uses a wholly
    new window, e.g. every 4 steps for 1568 rows at 512 rows per step;
    `min_new_rows=1` evaluates at every step as in the thesis). After a
    layer grows, its buffer is emptied, so the next decision waits for rows
    measured with the new units.
    Input rows (for `NorthSelect`) are recorded only for as many buffered
    rows as the initialiser reads at `max_units` (its `input_rows_needed`:
    512 scoring rows for layers of at most 256 units; every row for
    `NorthPre` or without a limit): they are most of the recording's cost.

    Input rows only when growing (`record_inputs="on_growth"`, for
    initialisers that read inputs): the steps record no input rows at all
    until the trigger asks a layer for `T > 0` units. The layer then does not
    grow yet: its input gate opens (no retrace), and the next recorded rows
    get their inputs written into a ring of `R` rows per layer (`R =
    initializer.input_rows_needed(buffer_size, max_units)`, every buffered
    row without a limit or without that method); once the rows the
    initialiser reads at the new width are there (`input_rows_needed(
    buffer_size, width + T)`, at most `R`: for `NorthSelect`, 512 rows up
    to 256 units) the layer gains the units decided then
    (`min(T, max_units − width)`, capped again by `max_units` at that
    point), initialised from those input rows and their activations, and
    the gate closes. The trade: a growth event happens `W = ceil(rows
    needed / rows per step)` steps after the trigger fired (2 steps for 512
    rows at 256 rows per step, 1 at 512), measured on those `W` steps' rows
    rather than on the window the trigger saw, and the trigger is not
    evaluated on a pending layer meanwhile; in exchange no other step
    records inputs. A convolution's input rows are its receptive-field
    patches (`k·k·C_in` numbers each), the bulk of the recording: on VGG-11
    at 1/4 width, batch 128, the taps' own recording falls from about 3.4 %
    to 1.5 % of a step, and the trigger with its buffers from 6.2-6.5 % to
    4.2-4.5 %; on a small MNIST CNN (3 seeds) the layers grew to nearly the
    same widths with the same accuracy (`benchmarks/bench_neurogenesis.py`,
    `--only triggers` and `--only conv_inputs`). On the MNIST MLP, whose
    inputs are cheap to record, the waits leave fewer growth events (a
    smaller first layer) for no gain in time. Hence the default,
    `record_inputs="auto"`: `"on_growth"` when a growing layer is a
    convolution, else `"always"` (input rows at every step, as described
    above). The rows per step are estimated from the rows recorded so far
    (short last batches lower the estimate and can delay the growth by a
    step). A growth still pending when training ends is dropped.

    Capacity: a `DynamicModel` computes at its allocated capacity (inactive
    slots are masked). A reallocation retraces the train step (about as long
    as the first trace) unless the group reallocates in place
    (`DynamicModel.reallocates_in_place`: Dense groups of a model built with
    `reassignable_storage="auto"` or `True`). The default, `reserve="auto"`,
    grows each layer's capacity by the model's `growth_factor` when the
    layer outgrows it (at most `max_units`); for groups that would retrace it
    also allocates `AUTO_HEADROOM` (4) times the starting width when
    training starts: a handful of retraces over a run, and steps that cost
    about what the current width costs. Groups that reallocate in place get
    no headroom and grow their capacity by at most `in_place_growth_factor`
    (1.25; a reallocation then costs a few milliseconds): the network trains
    close to its own width, which is where a
    growing run saves time over a static one (BENCHMARKS.md, "NORTH*
    neurogenesis": on the issue's MNIST MLP, 64-64 growing to about 170-80,
    a NORTH-Select run costs 1.2-1.6x the Medium Static 256-256 run
    depending on the machine's load, against 1.5-1.8x with static storage
    and 4x headroom in the same processes).
    `reserve=True` allocates `max_units` up front: never a retrace, but
    every step computes (masked) at the maximal width (on an accelerator,
    where a wider matmul costs little and a retrace is an XLA
    recompilation, this can be the better choice). `reserve=False` leaves
    reallocation to the `DynamicModel` (`growth_factor`, not capped at
    `max_units`). An int reserves that many
    units per layer up front (at most `max_units`) and reallocates
    geometrically beyond.

    Reference:
    - Maile, "Dynamic Architectural Optimization of Artificial Neural
      Networks", PhD thesis, 2023, ch. 6 (NORTH*).

    Args:
        trigger: a `keras_grow.growth` trigger (`ActivationTrigger`,
            `WeightTrigger`, `GradientTrigger`, `FixedSchedule`, or a
            `Trigger` subclass).
        initializer: a unit initialiser (`NorthSelect`, `NorthRandom`,
            `NorthPre`, `NorthWeight`, `GradMax`, `Firefly`, `NeST`, or any
            callable taking a `NewUnits` request).
        layers: names of the layers to grow (default: every growable layer).
            Naming any member of a residual group grows the whole group.
        max_units: int or `{layer: int}`: the maximum width per layer
            (thesis: 784 for the MNIST MLP). `None`: no limit.
        buffer_size: rows of the activation FIFO per layer; must exceed the
            widths for the effective dimension (thesis: 1568, twice the
            maximum width).
        rows_per_step: rows recorded per layer and step (default: 512).
        every: evaluate the triggers every `every` training steps.
        min_new_rows: see above (default: `buffer_size`).
        data: `(x, y)` arrays from which gradient probes are drawn; required
            when the trigger or initialiser uses gradients.
        probe_size: rows per gradient probe.
        reserve: `"auto"` (default), `True` (allocate `max_units` up front),
            `False`, or an int capacity to allocate up front (see above).
        optimizer_state: how new units' second-moment optimizer slots
            (Adam's `velocity`) start, passed to `DynamicModel.add_units`:
            `"fresh"` (default here) at zero, like a freshly initialised
            parameter; `"mean"` (the `DynamicModel` default) at the existing
            units' mean. Late in training that mean reflects the large early
            gradients and slows the new units down several-fold; on the
            MNIST MLP a batched schedule 64→256 reached 92.6 % test accuracy
            with "mean" and 94.6 % with "fresh" (Medium Static: 93.6 %).
        fresh_optimizer_state: older spelling of the same choice: `True`
            means `"fresh"`, `False` means `"mean"` (`None`: use
            `optimizer_state`).
        seed: seed of the probe row draws.
        verbose: 1 prints every growth event.
        record_inputs: `"auto"` (default), `"always"` or `"on_growth"`: when
            input rows are recorded for initialisers that read them (see
            above); `record_inputs_mode` says what `"auto"` chose.

    Example:

    ```python
    model = keras_grow.DynamicModel(keras_grow.applications.GrowingMLP(
        input_shape=(784,), hidden=(64, 64), classes=10))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=512, callbacks=[
        keras_grow.callbacks.Neurogenesis(
            trigger=keras_grow.growth.ActivationTrigger(gamma=0.97, epsilon=0.01),
            initializer=keras_grow.growth.NorthSelect(candidates=1000),
            max_units=784, buffer_size=1568)])
    ```
    """

    # reserve="auto": capacity growth per reallocation of groups that
    # reallocate in place (at most the model's growth_factor); a class
    # attribute, settable per instance.
    in_place_growth_factor = IN_PLACE_GROWTH_FACTOR

    def __init__(
        self,
        trigger,
        initializer,
        layers=None,
        max_units=None,
        buffer_size=1024,
        rows_per_step=None,
        every=1,
        min_new_rows=None,
        data=None,
        probe_size=128,
        reserve="auto",
        fresh_optimizer_state=None,
        seed=0,
        verbose=0,
        optimizer_state="fresh",
        record_inputs="auto",
    ):
        super().__init__()
        if not callable(trigger) or not hasattr(trigger, "requires"):
            raise TypeError(
                f"trigger={trigger!r} is not a trigger; expected a keras_grow.growth trigger "
                "(ActivationTrigger, WeightTrigger, GradientTrigger, FixedSchedule, ...)."
            )
        if not callable(initializer):
            raise TypeError(
                f"initializer={initializer!r} is not callable; expected a unit initializer "
                "such as keras_grow.growth.NorthSelect()."
            )
        self.trigger = trigger
        self.initializer = initializer
        self.layers = check_layer_names(layers)
        self.max_units = _check_max_units(max_units)
        self.buffer_size = _positive_int(buffer_size, "buffer_size")
        self.rows_per_step = _positive_int(
            512 if rows_per_step is None else rows_per_step, "rows_per_step"
        )
        self.every = _positive_int(every, "every")
        self.min_new_rows = _positive_int(
            self.buffer_size if min_new_rows is None else min_new_rows, "min_new_rows"
        )
        self.probe_size = _positive_int(probe_size, "probe_size")
        self.data = _check_data(data, self.needs("gradients"))
        self.reserve = _check_reserve(reserve)
        self.optimizer_state = _check_optimizer_state(optimizer_state, fresh_optimizer_state)
        self.record_inputs = _check_record_inputs(record_inputs)
        self.seed = seed
        self.verbose = int(verbose)
        self.groups = []
        self._taps = None
        self._probe = None
        self._pending = {}
        self._input_rows = None

    @property
    def fresh_optimizer_state(self):
        """`True` when new units start with a fresh optimizer state (older spelling)."""
        return self.optimizer_state == "fresh"

    @property
    def record_inputs_mode(self):
        """`"always"` or `"on_growth"`: `record_inputs`, with `"auto"` resolved
        for the model being trained (`"on_growth"` if a growing layer is a
        convolution). `None` before training starts."""
        if self.record_inputs != "auto":
            return self.record_inputs
        if not self.groups:
            return None
        model = self.model
        convolution = any(_model_access.is_convolution(model, layer) for layer in self.groups)
        return "on_growth" if convolution else "always"

    # ----------------------------------------------------------------- needs

    def needs(self, what):
        """Whether the trigger or the initialiser reads `what`
        (`"activations"`, `"inputs"`, `"weights"`, `"gradients"`)."""
        trigger_needs = set(getattr(self.trigger, "requires", ()))
        initializer_needs = set(getattr(self.initializer, "requires", ()))
        if what == "activations":
            return "activations" in trigger_needs or "inputs" in initializer_needs
        if what == "inputs":
            return "inputs" in initializer_needs
        return what in trigger_needs | initializer_needs

    def limit(self, layer):
        """The maximum width of `layer`'s group (`None`: unlimited)."""
        if isinstance(self.max_units, dict):
            for name in [layer, *self.model.dependency_group(layer)]:
                if name in self.max_units:
                    return self.max_units[name]
            return None
        return self.max_units

    # ------------------------------------------------------------- training

    def on_train_begin(self, logs=None):
        factor = self.in_place_growth_factor
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not factor >= 1:
            raise ValueError(
                f"in_place_growth_factor={factor!r} is not allowed; expected a number >= 1."
            )
        super().on_train_begin(logs)
        model = self.model
        self.groups = self._resolve_groups()
        widths = model.widths()
        for layer in self.groups:
            limit = self.limit(layer)
            if limit is not None and limit < widths[layer]:
                raise ValueError(
                    f"max_units={limit!r} for layer '{layer}' is below its current width "
                    f"{widths[layer]}; expected at least the current width."
                )
            needs_rank = getattr(self.trigger, "metric", None) == "effective_dimension"
            if needs_rank and limit is not None and self.buffer_size <= limit:
                raise ValueError(
                    f"buffer_size={self.buffer_size} must exceed max_units={limit} of layer "
                    f"'{layer}': the effective dimension needs more rows than units."
                )
        if self.needs("gradients"):
            self._probe = probe_lib.GradientProbe(model, self.groups)
        for layer in self.groups:
            capacity = self._reserved_capacity(layer)
            if capacity is not None:
                model.reserve(layer, capacity, reason=type(self).__name__)
        self._pending = {}  # layer: (units, first row id, rows needed)
        self._input_rows = None
        if self.needs("activations"):
            on_growth = self.record_inputs_mode == "on_growth" and self.needs("inputs")
            self._input_rows = self._inputs_needed() if on_growth else None
            self._taps = context_lib.watch_layers(
                model,
                self.groups,
                buffer_size=self.buffer_size,
                rows_per_step=self.rows_per_step,
                inputs=self.needs("inputs"),
                input_every=1 if on_growth else self._input_every(),
                input_rows=self._input_rows,
            )
        if hasattr(self.trigger, "reset"):
            self.trigger.reset()
        self._step = 0
        self._evaluated_at = {}
        first = math.ceil(self.buffer_size / self.rows_per_step)
        self._next_check = {layer: first for layer in self.groups}
        self._initial_widths = {layer: widths[layer] for layer in self.groups}
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        self._total_steps = steps * epochs if steps and epochs else None
        self._rng = np.random.default_rng(self.seed)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        self._pending = {}  # growths still waiting for input rows are dropped
        if self._taps is not None:
            self.model.unwatch()
            self._taps = None

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every:
            return
        self.grow()

    def grow(self):
        """Evaluate the trigger on every growing layer and add the units it asks for.

        Called by the callback every `every` steps; returns `{layer: units added}`.
        """
        model = self.model
        widths = model.widths()
        probes = None
        added = {}
        for layer in self.groups:
            limit = self.limit(layer)
            width = widths[layer]
            if layer in self._pending:
                if not self._inputs_arrived(layer):
                    continue  # most pending steps end here, without reading the taps
                count = self._pending.pop(layer)[0]
                self._taps.set_input_recording(layer, False)
                if limit is not None:
                    count = min(count, limit - width)
                if count > 0:
                    probes = self._add(layer, count, probes)
                    added[layer] = count
                continue
            if limit is not None and width >= limit:
                continue
            needs_activations = "activations" in self.trigger.requires
            if needs_activations and not self._fresh(layer):
                continue  # checked first: most steps end here, at almost no cost
            observation = triggers_lib.Observation(
                layer=layer,
                width=width,
                step=self._step,
                total_steps=self._total_steps,
                initial_width=self._initial_widths[layer],
                convolutional=_model_access.is_convolution(model, layer),
                samples=self.buffer_size,
            )
            if needs_activations:
                observation.activations = model.activations(layer)
                self._evaluated_at[layer] = self._taps.rows_written(layer)
            if "weights" in self.trigger.requires:
                observation.weights = _model_access.fan_in_matrix(model, layer)
            if "gradients" in self.trigger.requires:
                probes = probes or self._run_probe(full=False)
                observation.auxiliary_gradient = probes[layer].auxiliary_gradient()
                observation.unit_gradient_norms = probes[layer].unit_gradient_norms
            count = int(self.trigger(observation))
            if limit is not None:
                count = min(count, limit - width)
            if count <= 0:
                continue
            if self._input_rows is not None:  # "on_growth": record the inputs first
                self._wait_for_inputs(layer, count, width + count)
                continue
            probes = self._add(layer, count, probes, observation.activations)
            added[layer] = count
        return added

    def _add(self, layer, count, probes, activations=None):
        """Add `count` units to `layer`'s group; returns the probes still valid."""
        model = self.model
        if "gradients" in getattr(self.initializer, "requires", ()):
            if probes is None or not probes[layer].full:  # the same rows, now in full
                probes = self._run_probe(full=True, same_rows=probes is not None)
        self._make_room(layer, model.widths()[layer] + count)
        context = context_lib.growth_context(
            model, layer, probe=probes[layer] if probes else None, activations=activations
        )
        step = int(model.optimizer.iterations.numpy()) if model.optimizer is not None else 0
        reason = f"{type(self).__name__} step {step}: {self.trigger.reason(layer)}"
        model.add_units(
            layer,
            count,
            initializer=self.initializer,
            reason=reason,
            context=context,
            optimizer_state=self.optimizer_state,
        )
        if "activations" in self.trigger.requires:
            model.reset_activations(layer)
            self._after_growth(layer)
        if self.verbose:
            print(f"{reason}; widths {model.widths()}", flush=True)
        return None  # the network changed: later layers need a new probe

    def _inputs_needed(self):
        """R: the input rows the initialiser reads at the widest `max_units`
        (every buffered row if it does not say, or without a limit)."""
        rows_needed = getattr(self.initializer, "input_rows_needed", None)
        limits = [self.limit(layer) for layer in self.groups]
        if rows_needed is None or None in limits or not limits:
            return self.buffer_size
        needed = max(rows_needed(self.buffer_size, limit) for limit in limits)
        return int(min(max(needed, 1), self.buffer_size))

    def _wait_for_inputs(self, layer, count, width):
        """`record_inputs="on_growth"`: open `layer`'s input gate and look again
        when the rows the initialiser reads at `width` units (at most `R`) can
        have arrived (at most `rows_per_step` per step)."""
        needed = self._input_rows
        rows_needed = getattr(self.initializer, "input_rows_needed", None)
        if rows_needed is not None:
            needed = int(min(max(rows_needed(self.buffer_size, width), 1), needed))
        first = self._taps.set_input_recording(layer, True)
        self._pending[layer] = (count, first, needed)
        rate = self._row_rate(layer)
        self._next_check[layer] = self._step + max(1, math.ceil(needed / rate))

    def _inputs_arrived(self, layer):
        """Whether the pending `layer`'s ring holds `R` valid rows recorded since
        its gate opened; reads the taps only from the step they can be there."""
        if self._step < self._next_check.get(layer, 0):
            return False
        _, first, needed = self._pending[layer]
        missing = needed - self._taps.input_rows_since(layer, first)
        if missing > 0:
            rate = self._row_rate(layer)
            self._next_check[layer] = self._step + max(1, math.ceil(missing / rate))
            return False
        return True

    def _row_rate(self, layer):
        """Rows recorded per step for `layer` so far (at most `rows_per_step`)."""
        if self._step == 0:
            return float(self.rows_per_step)
        return min(float(self.rows_per_step), max(1.0, self._taps.rows_written(layer) / self._step))

    def _input_every(self):
        """Record every k-th row's inputs: the largest k dividing `buffer_size`
        that leaves the initialiser the rows `_inputs_needed` says."""
        every = max(1, self.buffer_size // self._inputs_needed())
        while self.buffer_size % every:
            every -= 1
        return every

    def _reserved_capacity(self, layer):
        limit = self.limit(layer)
        if self.reserve == "auto":
            if self.model.reallocates_in_place(layer):
                return None  # reallocations cost a copy, not a retrace: no headroom
            wanted = math.ceil(AUTO_HEADROOM * self.model.widths()[layer])
            return wanted if limit is None else min(wanted, limit)
        if self.reserve is True:
            return limit
        if self.reserve is False:
            return None
        return self.reserve if limit is None else min(self.reserve, limit)

    def _make_room(self, layer, needed):
        """With `reserve="auto"`, grow the capacity geometrically, capped at the limit."""
        if self.reserve != "auto":
            return
        capacity = self.model.capacities()[layer]
        if needed <= capacity:
            return
        limit = self.limit(layer)
        factor = self.model.growth_factor
        if self.model.reallocates_in_place(layer):
            # No retrace, only a copy of the group's variables (a few ms): a
            # tighter capacity keeps the steps at the width actually used.
            factor = min(factor, self.in_place_growth_factor)
        wanted = max(needed, math.ceil(factor * capacity))
        self.model.reserve(
            layer, wanted if limit is None else min(wanted, limit), reason=type(self).__name__
        )

    def _fresh(self, layer):
        """Whether `layer`'s buffer is full and holds `min_new_rows` unseen rows.

        Reading the tap counters costs an eager TensorFlow call, which on a busy
        CPU costs as much as a millisecond; so the counters are only read from
        the step at which enough rows can have arrived (at most
        `rows_per_step` per step), and later checks are scheduled from the
        observed rate.
        """
        if self._step < self._next_check.get(layer, 0):
            return False
        taps = self._taps
        written, filled = taps.rows_written(layer), taps.filled_rows(layer)
        rate = max(1.0, written / max(self._step, 1))
        last = self._evaluated_at.get(layer)
        missing = max(
            self.buffer_size - filled,
            0 if last is None else self.min_new_rows - (written - last),
        )
        if missing > 0:
            self._next_check[layer] = self._step + max(1, math.ceil(missing / rate))
            return False
        self._next_check[layer] = self._step + max(1, math.ceil(self.min_new_rows / rate))
        return True

    def _after_growth(self, layer):
        """The buffer of `layer` was emptied: wait for a full one."""
        rate = max(1.0, self._taps.rows_written(layer) / max(self._step, 1))
        self._next_check[layer] = self._step + max(1, math.ceil(self.buffer_size / rate))

    def _run_probe(self, full, same_rows=False):
        """Probe on `probe_size` random rows of `data` (or the last probe's rows).

        `full=False` (trigger evaluations) returns only what `GradientTrigger`
        reads; an initialiser that reads gradients gets a `full=True` probe,
        run only when units are added.
        """
        x, y = self.data
        if not same_rows:
            rows = self._rng.choice(len(x), size=min(self.probe_size, len(x)), replace=False)
            self._probe_rows = np.sort(rows)
        return self._probe(x[self._probe_rows], y[self._probe_rows], full=full)

    def _resolve_groups(self):
        return measured_groups(self.model, self.layers, "grow")

    # --------------------------------------------------------------- config

    def get_config(self):
        return {
            "trigger": _describe(self.trigger),
            "initializer": _describe(self.initializer),
            "layers": self.layers,
            "max_units": self.max_units,
            "buffer_size": self.buffer_size,
            "rows_per_step": self.rows_per_step,
            "every": self.every,
            "min_new_rows": self.min_new_rows,
            "probe_size": self.probe_size,
            "reserve": self.reserve,
            "optimizer_state": self.optimizer_state,
            "record_inputs": self.record_inputs,
            "seed": self.seed,
            "verbose": self.verbose,
        }


def _describe(obj):
    config = obj.get_config() if hasattr(obj, "get_config") else {}
    return {"class_name": type(obj).__name__, "config": config}


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected an int >= 1.")
    return int(value)


def _check_reserve(reserve):
    if isinstance(reserve, bool) or reserve == "auto":
        return reserve
    if isinstance(reserve, numbers.Integral) and reserve >= 1:
        return int(reserve)
    raise ValueError(
        f"reserve={reserve!r} is not allowed; expected 'auto', True, False or an int capacity >= 1."
    )


def _check_optimizer_state(optimizer_state, fresh_optimizer_state):
    if optimizer_state not in ("mean", "fresh"):
        raise ValueError(
            f"optimizer_state={optimizer_state!r} is not allowed; expected 'fresh' or 'mean'."
        )
    if fresh_optimizer_state is None:
        return optimizer_state
    if not isinstance(fresh_optimizer_state, bool):
        raise TypeError(
            f"fresh_optimizer_state={fresh_optimizer_state!r} must be True, False or None."
        )
    implied = "fresh" if fresh_optimizer_state else "mean"
    if optimizer_state != "fresh" and implied != optimizer_state:
        raise ValueError(
            f"fresh_optimizer_state={fresh_optimizer_state!r} contradicts "
            f"optimizer_state={optimizer_state!r}; pass only optimizer_state."
        )
    return implied


RECORD_INPUTS = ("auto", "always", "on_growth")


def _check_record_inputs(record_inputs):
    if not isinstance(record_inputs, str) or record_inputs not in RECORD_INPUTS:
        raise ValueError(
            f"record_inputs={record_inputs!r} is not allowed; expected one of {RECORD_INPUTS}."
        )
    return record_inputs


def _check_max_units(max_units):
    if max_units is None:
        return None
    if isinstance(max_units, dict):
        return {
            name: _positive_int(value, f"max_units[{name!r}]") for name, value in max_units.items()
        }
    return _positive_int(max_units, "max_units")


def _check_data(data, required):
    if data is None:
        if required:
            raise ValueError(
                "data=None is not allowed with a gradient-based trigger or initializer; "
                "expected data=(x, y) arrays to draw gradient probes from."
            )
        return None
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"data must be a pair (x, y) of arrays; got {type(data).__name__}.")
    x, y = np.asarray(data[0]), np.asarray(data[1])
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"data has {len(x)} inputs and {len(y)} targets; expected the same non-zero number."
        )
    return x, y
