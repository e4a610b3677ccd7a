"""Gradient-based initialisations of new units: GradMax, Firefly, NeST (Maile 6.2.2).

They read a `ProbeResult` (see `keras_grow.growth.probe`) from the request
context under `"probe"`: the measured layer's input rows, the gradients of
the loss with respect to its consumers' pre-activations, and its units'
weight gradients, all over one probe batch. The `Neurogenesis` callback
computes it when the trigger or the initialiser needs gradients (its `data`
argument). Single-producer Dense and Conv2D groups are supported.

- `GradMax` (Evci et al., 2022): zero fan-in, fan-out along the top singular
  vectors of the auxiliary gradient: the new units' fan-in gradients are as
  large as possible. Function-preserving. Needs an activation with
  σ'(0) ≠ 0 (e.g. `GrowingMLP`'s default ReLU with gradient 1 at 0): with
  the standard ReLU (gradient 0 at 0) a zero-fan-in unit never moves.
- `Firefly` (Wu et al., 2020): candidates that split existing units with
  small noise or are new with small fan-out; keep those with the largest
  gradient norm. Changes the function by O(`epsilon`).
- `NeST` (Dai et al., 2019): dense: fan-in and fan-out from the root sums of
  squares of the largest auxiliary-gradient entries, random signs; conv:
  random candidates, keep those whose first-order loss change is most
  negative. Changes the function.
"""

import numbers

import numpy as np

from keras_grow.growth import _model_access
from keras_grow.growth import north_initializers as north
from keras_grow.structure import storage


def _probe(request):
    probe = request.context.get("probe")
    if probe is None:
        raise ValueError(
            "This initializer needs request.context['probe'], a ProbeResult from "
            "keras_grow.growth.GradientProbe. Use it through keras_grow.callbacks.Neurogenesis "
            "with data=(x, y)."
        )
    return probe


def _fan_out_values(request, probe, vectors, targets=None):
    """`{use: slice}` for `(count, F_out)` fan-out vectors, each consumer's part
    rescaled to `targets[id(use)]` (default: the existing units' mean norm)."""
    values = {}
    for use in probe.fan_out_uses:
        rows = np.stack([probe.split(vector)[id(use)] for vector in vectors])
        target = north.existing_norm(request, use) if targets is None else targets[id(use)]
        values[use] = _model_access.unit_slice(request, use, north.rescale_rows(rows, target))
    return values


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected a number in (0, 1].")
    return float(value)


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected a number > 0.")
    return float(value)


class GradMax(north.UnitInitializer):
    """GradMax: zero fan-in, fan-out maximising the new units' gradient norm.

    For the auxiliary gradient `A` (a new unit with zero fan-in and fan-out
    `v` gets the fan-in gradient `A v`), the `k` new units take the top `k`
    right singular vectors of `A` as fan-out, rescaled to the existing units'
    mean fan-out norm. There are at most `fan_out` such directions (the width
    of the next layer, times its kernel size for convolutions); units beyond
    that get random orthogonal fan-outs. Function-preserving.

    Reference:
    - Evci et al., "GradMax: Growing Neural Networks using Gradient
      Information", ICLR 2022; Maile, PhD thesis, 2023, section 6.2.2.

    Example:

    ```python
    keras_grow.callbacks.Neurogenesis(
        trigger=keras_grow.growth.GradientTrigger(),
        initializer=keras_grow.growth.GradMax(), data=(x_train, y_train))
    ```
    """

    requires = frozenset({"gradients"})

    def __call__(self, request):
        probe = _probe(request)
        matrix = probe.auxiliary_gradient().astype(np.float64)
        _, _, vt = np.linalg.svd(matrix, full_matrices=False)
        vectors = vt[: request.count]
        missing = request.count - len(vectors)
        if missing > 0:
            extra = request.rng.standard_normal((missing, matrix.shape[1]))
            if len(vectors):
                extra -= (extra @ vectors.T) @ vectors
            vectors = np.concatenate([vectors, extra])
        return _fan_out_values(request, probe, vectors)


class Firefly(north.UnitInitializer):
    """Firefly: split existing units or add new ones, keep the largest gradients.

    Candidates are (a) every existing unit, split into two copies with its
    fan-in `± e` and half its fan-out each, and (b) `candidates` new units
    with a random fan-in (rescaled to the existing norm) and a small random
    fan-out (norm `epsilon` times the existing fan-out norm). The `count`
    candidates with the largest gradient norm on the probe batch are kept: a
    split copy's gradient is its unit's fan-out gradient plus half its
    fan-in gradient; a new unit's is its fan-out gradient (its fan-in
    gradient is O(`epsilon`)). `e` is uniform noise of norm `epsilon` times
    the unit's fan-in norm, and a split copy keeps the unit's bias (not its
    batch-norm parameters). As in the thesis, candidates take no gradient
    steps before selection. The split modifies the existing unit too, so
    the model's function changes by O(`epsilon`).

    Reference:
    - Wu et al., "Firefly Neural Architecture Descent", ICML 2020; Maile,
      PhD thesis, 2023, section 6.2.2 (ε_Firefly = 1e-4).

    Args:
        candidates: number of new-unit candidates (int >= 1).
        epsilon: noise and fan-out scale relative to the existing norms.

    Example:

    ```python
    keras_grow.callbacks.Neurogenesis(
        trigger=keras_grow.growth.GradientTrigger(),
        initializer=keras_grow.growth.Firefly(candidates=1000), data=(x_train, y_train))
    ```
    """

    function_preserving = False
    requires = frozenset({"gradients"})

    def __init__(self, candidates=1000, epsilon=1e-4):
        self.candidates = north._check_candidates(candidates)
        self.epsilon = _check_positive(epsilon, "epsilon")

    def __call__(self, request):
        probe = _probe(request)
        kernel = north.measured_kernel_use(request)
        post = request.context.get("post_activation") or (lambda z: z)
        fan_in = north.draw_fan_in(request, kernel, self.candidates)
        batch, positions, width = probe.inputs.shape
        pre = probe.inputs.reshape(-1, width) @ fan_in.T
        activations = post(pre).reshape(batch, positions, -1)
        new_scores = np.linalg.norm(probe.fan_out_gradients(activations), axis=1)
        split_scores = np.sqrt(
            probe.fan_out_gradient_norms**2 + (probe.fan_in_gradient_norms / 2) ** 2
        )
        scores = np.concatenate([split_scores, new_scores])
        chosen = np.argsort(-scores, kind="stable")[: request.count]
        splits = [int(i) for i in chosen if i < len(split_scores)]
        news = [int(i) - len(split_scores) for i in chosen if i >= len(split_scores)]

        values = {}
        kernel_rows = np.zeros((request.count, fan_in.shape[1]), np.float32)
        bias_values = np.zeros(request.count, np.float32)
        fan_out_rows = {id(use): [] for use in probe.fan_out_uses}
        existing_in = request.unit_vectors(kernel, request.existing(kernel))
        bias = _bias_use(request, kernel)
        existing_bias = request.existing(bias) if bias is not None else None
        noise = request.rng.uniform(-1.0, 1.0, (len(splits), fan_in.shape[1])).astype(np.float32)
        noise *= north.fan_in_mask(request, kernel)
        noise = north.rescale_rows(noise, 1.0) * (
            self.epsilon * np.linalg.norm(existing_in[splits], axis=1, keepdims=True)
        )
        existing_out = {
            id(use): request.unit_vectors(use, request.existing(use)) for use in probe.fan_out_uses
        }
        for row, (unit, offset) in enumerate(zip(splits, noise)):
            kernel_rows[row] = existing_in[unit] - offset
            if existing_bias is not None:
                bias_values[row] = existing_bias[unit]
            for use in probe.fan_out_uses:
                fan_out_rows[id(use)].append(existing_out[id(use)][unit] / 2)
        for row, candidate in enumerate(news, start=len(splits)):
            kernel_rows[row] = fan_in[candidate]
            for use in probe.fan_out_uses:
                direction = north.rescale_rows(
                    request.rng.standard_normal((1, existing_out[id(use)].shape[1])), 1.0
                )[0]
                scale = self.epsilon * north.existing_norm(request, use)
                fan_out_rows[id(use)].append(direction * scale)
        values[kernel] = _model_access.unit_slice(request, kernel, kernel_rows)
        if bias is not None and splits:
            values[bias] = bias_values
        for use in probe.fan_out_uses:
            values[use] = _model_access.unit_slice(request, use, np.stack(fan_out_rows[id(use)]))
        if splits:
            self._split_existing(request, kernel, splits, noise, probe)
        values.update(north.random_fan_ins(request, skip=[kernel]))
        return values

    def _split_existing(self, request, kernel, splits, noise, probe):
        """The split units keep `w + e` and half their fan-out."""
        slots = request.group.active_slots[splits]
        value = np.array(kernel.variable.numpy())
        indices = storage.axis_slot_indices(kernel.layout, request.group, slots)
        current = storage.take_axis(value, kernel.axis, indices)
        update = np.moveaxis(current, kernel.axis, 0).reshape(len(splits), -1) + noise
        shaped = np.moveaxis(
            update.reshape((len(splits),) + np.moveaxis(current, kernel.axis, 0).shape[1:]),
            0,
            kernel.axis,
        )
        storage.set_axis(value, kernel.axis, indices, shaped)
        kernel.variable.assign(value)
        for use in probe.fan_out_uses:
            value = np.array(use.variable.numpy())
            indices = storage.axis_slot_indices(use.layout, request.group, slots)
            storage.set_axis(
                value, use.axis, indices, storage.take_axis(value, use.axis, indices) / 2
            )
            use.variable.assign(value)

    def get_config(self):
        return {"candidates": self.candidates, "epsilon": self.epsilon}


class NeST(north.UnitInitializer):
    """NeST: connect the input/output pairs with the strongest auxiliary gradient.

    Dense layers: entries of the auxiliary gradient `A` (inputs × outputs)
    whose magnitude is in the top `quantile` fraction are kept; a new unit's
    fan-in from input `i` is the root sum of squares of row `i`'s kept
    entries, its fan-out to output `j` that of column `j`'s, each with a
    random sign drawn per unit and entry (the thesis' adaptation to several
    units), then both are rescaled to the existing units' norms.

    Convolutions (thesis: "generate random candidate neurons and add those
    that independently lower the loss the most"): `candidates` random units
    (random fan-in and fan-out at the existing norms) are scored by their
    first-order loss change on the probe batch, `⟨∂L/∂w_out, w_out⟩`, and
    the `count` most negative are kept.

    Both change the model's function.

    Reference:
    - Dai et al., "NeST: A Neural Network Synthesis Tool Based on a
      Grow-and-Prune Paradigm", IEEE Trans. Computers, 2019; Maile, PhD
      thesis, 2023, section 6.2.2 (top quantile 0.4).

    Args:
        quantile: fraction in (0, 1] of the largest entries of `A` kept.
        candidates: candidates for convolutions (int >= 1).

    Example:

    ```python
    keras_grow.callbacks.Neurogenesis(
        trigger=keras_grow.growth.GradientTrigger(),
        initializer=keras_grow.growth.NeST(quantile=0.4), data=(x_train, y_train))
    ```
    """

    function_preserving = False
    requires = frozenset({"gradients"})

    def __init__(self, quantile=0.4, candidates=100):
        self.quantile = _check_fraction(quantile, "quantile")
        self.candidates = north._check_candidates(candidates)

    def __call__(self, request):
        probe = _probe(request)
        kernel = north.measured_kernel_use(request)
        if (
            probe.spatial_shape
            or any(c.kind != "position" for c in probe.consumers)
            or any(not _is_dense(c.layer) for c in probe.consumers)
        ):
            return self._candidates(request, probe, kernel)
        matrix = probe.auxiliary_gradient().astype(np.float64)
        magnitude = np.abs(matrix)
        threshold = np.quantile(magnitude, 1.0 - self.quantile)
        kept = np.where(magnitude >= threshold, matrix**2, 0.0)
        fan_in = np.sqrt(kept.sum(axis=1))
        fan_out = np.sqrt(kept.sum(axis=0))
        signs_in = request.rng.choice([-1.0, 1.0], (request.count, fan_in.size))
        signs_out = request.rng.choice([-1.0, 1.0], (request.count, fan_out.size))
        rows_in = (signs_in * fan_in) * north.fan_in_mask(request, kernel)
        rows_in = north.rescale_rows(rows_in, north.existing_norm(request, kernel))
        values = north.random_fan_ins(request, skip=[kernel])
        values[kernel] = _model_access.unit_slice(request, kernel, rows_in)
        values.update(_fan_out_values(request, probe, signs_out * fan_out))
        return values

    def _candidates(self, request, probe, kernel):
        post = request.context.get("post_activation") or (lambda z: z)
        fan_in = north.draw_fan_in(request, kernel, self.candidates + request.count)
        batch, positions, width = probe.inputs.shape
        activations = post(probe.inputs.reshape(-1, width) @ fan_in.T).reshape(batch, positions, -1)
        gradients = probe.fan_out_gradients(activations)
        fan_out = request.rng.standard_normal(gradients.shape)
        scaled = np.zeros_like(fan_out)
        start = 0
        for use in probe.fan_out_uses:
            size = probe.fan_out_size(use)
            scaled[:, start : start + size] = north.rescale_rows(
                fan_out[:, start : start + size], north.existing_norm(request, use)
            )
            start += size
        change = np.sum(gradients * scaled, axis=1)
        chosen = np.argsort(change, kind="stable")[: request.count]
        values = north.random_fan_ins(request, skip=[kernel])
        values[kernel] = _model_access.unit_slice(request, kernel, fan_in[chosen])
        targets = {id(use): 0.0 for use in probe.fan_out_uses}  # already scaled
        values.update(_fan_out_values(request, probe, scaled[chosen], targets))
        return values

    def get_config(self):
        return {"quantile": self.quantile, "candidates": self.candidates}


def _is_dense(layer):
    import keras

    return isinstance(layer, keras.layers.Dense)


def _bias_use(request, kernel):
    for use in request.fan_in:
        if use.variable.ndim == 1 and use.layer is kernel.layer:
            return use
    return None
