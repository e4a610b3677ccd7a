"""DYNO: grow and prune units during training from activations alone (Maile ch. 7)."""

import math
import numbers
import time
import warnings

import keras
import numpy as np

from keras_grow.callbacks.structural import (
    StructuralCallback,
    check_layer_names,
    measured_groups,
)
from keras_grow.growth import _model_access, north_initializers, pruning
from keras_grow.growth import context as context_lib
from keras_grow.growth import metrics as metrics_lib
from keras_grow.growth import taps as taps_lib


class GrowAndPrune(StructuralCallback):
    """DYNO grow-and-prune (Maile's Algorithm 5) for a `DynamicModel` in `fit`.

    Every `every` training steps, for each hidden layer `l` (each growable
    dependency group, measured on its first producer) with width `M` and
    buffered post-activations `H` (more rows than units), the effective
    dimension φ = φ_ED(H, ε) (eq. 37) is compared with the layer's moving
    baseline φ*:

    - prune (eq. 38): `P = max(0, ⌊M((1 − δ)φ* − φ)⌋)` units are removed,
      chosen by `keras_grow.growth.pruning.select_prune` (every dormant unit of
      a ReLU layer first, then greedily the unit with the largest norm of
      cosine similarities to the remaining units);
    - grow (eq. 39): `G = max(0, ⌊M(φ − (1 + δ)φ*)⌋)` units are added with
      NORTH-Select (`candidates_per_unit · G` random candidates, the most
      orthogonal kept; zero fan-out, so the function is preserved).

    The thesis prints `min(0, …)` in eqs. 38-39, which is never positive; the
    text ("slims the layer when its activations are expressible in fewer
    dimensions, and expands it when …") requires `max(0, …)`, used here.

    φ* is set, per layer, at the start of fine-tuning (a structural change:
    the new head), from the rows recorded in the first steps, once the
    buffer is full (`fill_steps` steps; if that is not before the first
    evaluation, the first evaluation sets it). It is reset at every
    structural change of that layer to φ_ED of the changed layer on the same
    buffered rows: the surviving columns after pruning, or the buffer plus
    the new units' post-activations (computed from the recorded inputs)
    after growth.

    Activations are recorded by `DynamicModel` taps inside the train step
    (no extra forward pass) into a FIFO of `buffer_size` rows per layer; the
    buffer is sized to hold more rows than units (`max(min_buffer,
    buffer_factor · width)`) and re-sized when a layer outgrows it. After a
    layer grows its buffer is emptied; a layer is evaluated only when its
    buffer holds more rows than units. With `gate_recording` (default) the
    taps write only in the `fill_steps = ⌈buffer_size / rows_per_step⌉`
    steps before each evaluation (and the first `fill_steps` steps), which
    refill the whole FIFO; the other steps skip the writes (a flag read
    inside the compiled step: no retrace). The evaluation then sees a full
    FIFO of the most recent rows, drawn from the last `fill_steps` steps.

    Bad data: a buffer with NaN or infinite values skips that layer's
    evaluation with a warning (weights untouched). A prune that would leave
    fewer than `min_units` units is cut to `M − min_units`, and the event's
    reason says so (a layer at `min_units` records a `prune_skipped` event).

    Logs: the model's `structure_history` holds every event (reason: φ, φ*,
    threshold, count); `events` holds the same as dicts (with the number of
    dormant units found when pruning), `flops_history` the
    inference FLOPs (`keras_grow.analysis.flops`) after each evaluation, and
    the epoch logs get `flops` and the widths, `measurements` every
    `(step, layer, φ)` evaluated. `evaluation_seconds` holds the
    wall time of each evaluation (trigger, selection and edits).

    Reference:
    - Maile, "Dynamic Architectural Optimization of Artificial Neural
      Networks", PhD thesis, 2023, ch. 7, Algorithm 5 and eqs. 37-39.

    Args:
        every: int >= 1, evaluate the triggers every `every` steps (thesis: 50).
        epsilon: float > 0, singular-value threshold of φ_ED (thesis: 1e-2).
        delta: float > 0, relative trigger threshold δ (thesis: 3e-2).
        candidates_per_unit: int >= 1, NORTH-Select candidates per new unit
            (thesis: 100).
        layers: names of the layers to grow and prune (default: all growable).
        min_units: int >= 1 units every layer keeps.
        min_buffer: int >= 1, smallest FIFO size in rows.
        buffer_factor: float > 1, FIFO rows per unit of the widest layer.
        rows_per_step: rows recorded per layer and step (default: with
            `gate_recording`, enough to refill the buffer in 4 steps, at
            least 64; without, enough to refill it in half of `every`, at
            least 32).
        gate_recording: record only in the steps that refill the buffer
            before an evaluation (see above); False records every step.
        prune_dormant: prune dormant units first in ReLU layers.
        fresh_optimizer_state: start new units' second-moment optimizer
            slots at zero (see `Neurogenesis`).
        verbose: 1 prints every event.

    Example:

    ```python
    model = keras_grow.DynamicModel(pretrained_backbone_with_new_head)
    model.compile(keras.optimizers.Adam(3e-4, weight_decay=1e-3),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds, epochs=5, callbacks=[keras_grow.callbacks.GrowAndPrune(every=50)])
    model.structure_history  # the prune and grow events, if any
    ```
    """

    def __init__(
        self,
        every=50,
        epsilon=1e-2,
        delta=3e-2,
        candidates_per_unit=100,
        layers=None,
        min_units=1,
        min_buffer=256,
        buffer_factor=2.0,
        rows_per_step=None,
        gate_recording=True,
        prune_dormant=True,
        fresh_optimizer_state=True,
        verbose=0,
    ):
        super().__init__()
        self.every = _int_at_least(every, "every", 1)
        self.epsilon = _positive_real(epsilon, "epsilon")
        self.delta = _positive_real(delta, "delta")
        self.candidates_per_unit = _int_at_least(candidates_per_unit, "candidates_per_unit", 1)
        self.layers = check_layer_names(layers)
        self.min_units = _int_at_least(min_units, "min_units", 1)
        self.min_buffer = _int_at_least(min_buffer, "min_buffer", 1)
        self.buffer_factor = _positive_real(buffer_factor, "buffer_factor")
        if self.buffer_factor <= 1:
            raise ValueError(
                f"buffer_factor={buffer_factor!r} is not allowed; expected a number > 1 "
                "(the buffer must hold more rows than units)."
            )
        self.rows_per_step = (
            None if rows_per_step is None else _int_at_least(rows_per_step, "rows_per_step", 1)
        )
        self.gate_recording = bool(gate_recording)
        self.prune_dormant = bool(prune_dormant)
        self.fresh_optimizer_state = bool(fresh_optimizer_state)
        self.verbose = int(verbose)
        self.groups = []
        self.baselines = {}
        self.events = []
        self.flops_history = []
        self.evaluation_seconds = []
        self.measurements = []
        self.buffer_size = None
        self.fill_steps = None

    # ------------------------------------------------------------- training

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        from keras_grow.analysis import flops

        model = self.model
        self.groups = self._resolve_groups()
        self._relu = {layer: _is_relu(model, layer) for layer in self.groups}
        self.buffer_size = None
        self._step = 0
        self._install_taps()
        self.baselines = {}
        self.flops_history.append((self._iteration(), flops(model)))

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self.model._state.taps is not None:
            self.model.unwatch()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self.evaluate()
        elif self._step == self.fill_steps:
            self._set_baselines()
        self._gate()

    def records(self, step):
        """Whether the taps write in training step `step` (1-based, of this `fit`)."""
        if not self.gate_recording:
            return True
        phase = step % self.every
        return step <= self.fill_steps or phase == 0 or phase > self.every - self.fill_steps

    def _gate(self):
        """Switch the taps' recording for the next step (a variable, no retrace)."""
        if self.gate_recording:
            on = self.records(self._step + 1)
            if on != self._recording:
                self._taps.set_recording(on)
                self._recording = on

    def _set_baselines(self):
        """φ* of every layer from the rows of the first steps (start of fine-tuning)."""
        for layer in self.groups:
            activations = self.model.activations(layer)
            rows, width = activations.shape
            if rows > width and layer not in self.baselines and np.all(np.isfinite(activations)):
                phi = metrics_lib.effective_dimension(activations, self.epsilon)
                self.baselines[layer] = phi
                self.measurements.append((self._iteration(), layer, float(phi)))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.flops_history:
            logs["flops"] = float(self.flops_history[-1][1])

    def evaluate(self):
        """Run both triggers on every layer once and apply the changes.

        Called every `every` steps by the callback. Returns
        `{layer: units added (> 0) or removed (< 0)}` for the layers that changed.
        """
        from keras_grow.analysis import flops

        start = time.perf_counter()
        model = self.model
        changes = {}
        for layer in self.groups:
            change = self._evaluate_layer(model, layer)
            if change:
                changes[layer] = change
        if changes:
            self._install_taps()  # re-size the FIFO if a layer outgrew it
        self.flops_history.append((self._iteration(), flops(model)))
        self.evaluation_seconds.append(time.perf_counter() - start)
        return changes

    # ------------------------------------------------------------ triggers

    def prune_count(self, width, phi, baseline):
        """Eq. 38: `max(0, ⌊M((1 − δ)φ* − φ)⌋)`."""
        return _floor_count(width * ((1.0 - self.delta) * baseline - phi))

    def grow_count(self, width, phi, baseline):
        """Eq. 39: `max(0, ⌊M(φ − (1 + δ)φ*)⌋)`."""
        return _floor_count(width * (phi - (1.0 + self.delta) * baseline))

    def _evaluate_layer(self, model, layer):
        activations = model.activations(layer)
        rows, width = activations.shape
        if rows <= width:
            return 0
        inputs = self._taps.inputs(layer)
        if not np.all(np.isfinite(activations)) or (
            inputs is not None and not np.all(np.isfinite(inputs))
        ):
            warnings.warn(
                f"GrowAndPrune: the activation buffer of layer '{layer}' contains NaN or "
                f"infinite values at step {self._iteration()}; skipping its evaluation "
                "(weights unchanged).",
                RuntimeWarning,
                stacklevel=2,
            )
            return 0
        phi = metrics_lib.effective_dimension(activations, self.epsilon)
        self.measurements.append((self._iteration(), layer, float(phi)))
        baseline = self.baselines.get(layer)
        if baseline is None:
            self.baselines[layer] = phi
            return 0
        prune = self.prune_count(width, phi, baseline)
        grow = self.grow_count(width, phi, baseline)
        if prune > 0:
            return -self._prune(model, layer, activations, phi, baseline, prune)
        if grow > 0:
            return self._grow(model, layer, activations, inputs, phi, baseline, grow)
        return 0

    def _prune(self, model, layer, activations, phi, baseline, count):
        width = activations.shape[1]
        threshold = (1.0 - self.delta) * baseline
        reason = (
            f"GrowAndPrune step {self._iteration()}: phi_ED={phi:.4g} < (1-delta)phi*="
            f"{threshold:.4g} -> prune {count}"
        )
        indices = pruning.select_prune(
            activations,
            count,
            prune_dormant=self.prune_dormant and self._relu[layer],
            min_units=self.min_units,
        )
        dormant = 0
        if self.prune_dormant and self._relu[layer]:
            dormant = len(pruning.dormant_units(activations))
        wanted = max(count, dormant)
        if dormant:
            reason += f"; {dormant} dormant"
        if wanted > count:
            reason += f"; {wanted} selected (every dormant unit goes)"
        if len(indices) < wanted:
            reason += f"; cut to {len(indices)} to keep at least {self.min_units} unit(s)"
        if len(indices) == 0:
            model.record_event(layer, "prune_skipped", 0, reason)
            self._log(layer, "prune_skipped", 0, phi, baseline, reason, dormant)
            return 0
        model.remove_units(layer, indices, reason=reason)
        kept = np.setdiff1d(np.arange(width), indices)
        self.baselines[layer] = metrics_lib.effective_dimension(activations[:, kept], self.epsilon)
        self._log(layer, "remove_units", len(indices), phi, baseline, reason, dormant)
        return len(indices)

    def _grow(self, model, layer, activations, inputs, phi, baseline, count):
        threshold = (1.0 + self.delta) * baseline
        if inputs is None:
            warnings.warn(
                f"GrowAndPrune: the input rows of layer '{layer}' are not available at step "
                f"{self._iteration()}; skipping its growth.",
                RuntimeWarning,
                stacklevel=3,
            )
            return 0
        reason = (
            f"GrowAndPrune step {self._iteration()}: phi_ED={phi:.4g} > (1+delta)phi*="
            f"{threshold:.4g} -> grow {count}"
        )
        initializer = north_initializers.NorthSelect(
            candidates=self.candidates_per_unit * count, epsilon=self.epsilon
        )
        context = context_lib.growth_context(model, layer)
        new = model.add_units(
            layer,
            count,
            initializer=initializer,
            reason=reason,
            context=context,
            optimizer_state="fresh" if self.fresh_optimizer_state else "mean",
        )
        kernel, _ = _model_access.producer_uses(model, layer)
        fan_in = _model_access.unit_rows(model, kernel)[np.asarray(new)]
        mask = _model_access.fan_in_mask(model, kernel) > 0
        pre = np.asarray(context["inputs"])[:, mask] @ fan_in[:, mask].T
        post = _model_access.PostActivation(model, layer)(pre)
        self.baselines[layer] = metrics_lib.effective_dimension(
            np.concatenate([activations, post], axis=1), self.epsilon
        )
        model.reset_activations(layer)
        self._log(layer, "add_units", count, phi, baseline, reason)
        return count

    # ------------------------------------------------------------- helpers

    def _log(self, layer, operation, count, phi, baseline, reason, dormant=0):
        event = {
            "step": self._iteration(),
            "layer": layer,
            "operation": operation,
            "count": int(count),
            "phi": float(phi),
            "baseline": float(baseline),
            "new_baseline": float(self.baselines.get(layer, baseline)),
            "dormant": int(dormant),
            "reason": reason,
        }
        self.events.append(event)
        if self.verbose:
            print(f"{reason}; widths {self.model.widths()}", flush=True)

    def _iteration(self):
        optimizer = getattr(self.model, "optimizer", None)
        return int(optimizer.iterations.numpy()) if optimizer is not None else self._step

    def _wanted_buffer(self):
        widest = max(self.model.capacities()[layer] for layer in self.groups)
        return max(self.min_buffer, int(math.ceil(self.buffer_factor * widest)) + 1)

    def _install_taps(self):
        """(Re-)install the FIFOs when none exist or a layer outgrew them."""
        wanted = self._wanted_buffer()
        if self.buffer_size is not None and wanted <= self.buffer_size:
            return
        self.buffer_size = wanted
        if self.rows_per_step is not None:
            rows = self.rows_per_step
        elif self.gate_recording:
            rows = max(64, math.ceil(wanted / 4))
        else:
            rows = max(32, math.ceil(2 * wanted / self.every))
        self.fill_steps = math.ceil(wanted / rows)
        self._taps = taps_lib.install(
            self.model, self.groups, wanted, rows, self.groups, gated=self.gate_recording
        )
        self._recording = True
        self._gate()

    def _resolve_groups(self):
        groups = measured_groups(self.model, self.layers, "grow or be pruned")
        if not groups:
            raise ValueError(f"model '{self.model.name}' has no growable layers to grow or prune.")
        return groups

    def get_config(self):
        return {
            "every": self.every,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "candidates_per_unit": self.candidates_per_unit,
            "layers": self.layers,
            "min_units": self.min_units,
            "min_buffer": self.min_buffer,
            "buffer_factor": self.buffer_factor,
            "rows_per_step": self.rows_per_step,
            "gate_recording": self.gate_recording,
            "prune_dormant": self.prune_dormant,
            "fresh_optimizer_state": self.fresh_optimizer_state,
            "verbose": self.verbose,
        }


def _is_relu(model, layer_name):
    """Whether `layer_name`'s tapped post-activation is the output of a ReLU."""
    chain = _model_access.post_activation_layers(model, layer_name)
    last = chain[-1] if chain else model.get_layer(layer_name)
    if isinstance(last, keras.layers.ReLU):
        return not (last.negative_slope or last.threshold)
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", None) == "relu"


def _floor_count(value):
    return max(0, math.floor(value + 1e-9))


def _int_at_least(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; expected an int >= {minimum}.")
    return int(value)


def _positive_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected a number > 0.")
    return float(value)
