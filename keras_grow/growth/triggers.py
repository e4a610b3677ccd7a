"""Neurogenesis triggers: when, where and how many units to add (Maile ch. 6.2.1).

A trigger looks at one layer (one dependency group) at one training step,
described by an `Observation`, and returns how many units to add (an int >= 0).
It keeps per-layer state (its baseline) and remembers its last decision per
layer in `trigger.last`, which the `Neurogenesis` callback writes into the
model's `structure_history` as the reason of each growth event.

- `ActivationTrigger` (eq. 28, conv: eq. 35): grow when the orthogonality of
  the layer's post-activations exceeds `gamma` times its baseline.
- `WeightTrigger` (eq. 31): the same on the fan-in weight matrix.
- `GradientTrigger` (eq. 32): grow by the number of singular values of the
  auxiliary gradient that exceed the summed gradient norms of the existing
  units.

A note on eq. 28/31/35: the thesis prints `min(0, ⌊M(φ − γφ₀)⌋)`, which is
never positive and so would never add a unit. The text ("the number of
neurons triggered is the difference of the current metric value and the
threshold, scaled by the current number of neurons") means
`max(0, ⌊M(φ − γφ₀)⌋)`, which is what these triggers compute.
"""

import dataclasses
import math
import numbers

import numpy as np

from keras_grow.growth import metrics as metrics_lib


@dataclasses.dataclass
class Observation:
    """What a trigger sees of one layer at one evaluation.

    Attributes:
        layer: name of the measured layer (the first producer of its group).
        width: its current number of units `M`.
        step: training step (optimizer iterations) of the evaluation.
        total_steps: planned training steps (for schedules), if known.
        initial_width: width when training started (for schedules).
        activations: `(rows, M)` buffered post-activations (activation triggers).
        weights: `(M, fan_in)` fan-in matrix, bias last (weight triggers).
        auxiliary_gradient: `(fan_in, fan_out)` auxiliary gradient matrix:
            the gradient of the loss with respect to the weights of new units
            (gradient triggers).
        unit_gradient_norms: `(M,)` per existing unit, the norm of its fan-in
            gradient plus the norm of its fan-out gradient (gradient triggers).
        convolutional: whether the layer is a convolution (eq. 35).
        samples: the `n` used to scale weights in eq. 30 (the buffer size).
    """

    layer: str
    width: int
    step: int = 0
    total_steps: int | None = None
    initial_width: int | None = None
    activations: np.ndarray | None = None
    weights: np.ndarray | None = None
    auxiliary_gradient: np.ndarray | None = None
    unit_gradient_norms: np.ndarray | None = None
    convolutional: bool = False
    samples: int | None = None


@dataclasses.dataclass(frozen=True)
class Decision:
    """A trigger's last evaluation of a layer: its metric value, threshold and count."""

    value: float
    threshold: float
    count: int

    def describe(self, trigger_name, metric):
        return (
            f"{trigger_name}: {metric}={self.value:.4g} vs threshold "
            f"{self.threshold:.4g} -> +{self.count}"
        )


class Trigger:
    """Base class: subclasses implement `decide(observation) -> Decision`.

    Attributes:
        requires: which parts of an `Observation` the trigger reads
            (`"activations"`, `"weights"`, `"gradients"`, `"schedule"`).
        last: `{layer: Decision}` of the most recent evaluation per layer.
    """

    requires = frozenset()
    metric_name = "value"

    def __init__(self):
        self.last = {}

    def __call__(self, observation):
        """Number of units to add to `observation.layer` now (an int >= 0)."""
        decision = self.decide(observation)
        self.last[observation.layer] = decision
        return decision.count

    def decide(self, observation):
        raise NotImplementedError

    def reset(self):
        """Forget baselines and decisions (called when training starts)."""
        self.last = {}

    def reason(self, layer):
        """A one-line account of the last decision for `layer`."""
        decision = self.last.get(layer)
        if decision is None:
            return type(self).__name__
        return decision.describe(type(self).__name__, self.metric_name)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _floor_count(value):
    """`max(0, floor(value))`, tolerant to float round-off just below an integer."""
    return max(0, math.floor(value + 1e-9))


def _check_gamma(gamma):
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma > 0:
        raise ValueError(f"gamma={gamma!r} is not allowed; expected a number > 0 (e.g. 0.97).")
    return float(gamma)


_BASELINES = ("auto", "initial", "running_max")


def _check_baseline(baseline):
    if baseline not in _BASELINES:
        raise ValueError(f"baseline={baseline!r} is not allowed; expected one of {_BASELINES}.")
    return baseline


class _OrthogonalityTrigger(Trigger):
    """`max(0, ⌊M (φ − γ φ_ref)⌋)` with a per-layer reference φ_ref."""

    def __init__(self, gamma, epsilon, baseline):
        super().__init__()
        self.gamma = _check_gamma(gamma)
        self.epsilon = metrics_lib.check_epsilon(epsilon)
        self.baseline = _check_baseline(baseline)
        self.baselines = {}

    def reset(self):
        super().reset()
        self.baselines = {}

    def _mode(self, observation):
        if self.baseline == "auto":
            return "running_max" if observation.convolutional else "initial"
        return self.baseline

    def _count(self, observation, value):
        layer = observation.layer
        if self._mode(observation) == "running_max":
            reference = max(self.baselines.get(layer, value), value)
        else:
            reference = self.baselines.get(layer, value)
        self.baselines[layer] = reference
        threshold = self.gamma * reference
        count = _floor_count(observation.width * (value - threshold))
        return Decision(float(value), float(threshold), count)


class ActivationTrigger(_OrthogonalityTrigger):
    """Grow a layer while its post-activations stay orthogonal (NORTH*, eq. 28).

    With φ the orthogonality metric of the layer's buffered post-activations,
    `M` its width and φ₀ its baseline, the trigger adds

    `T = max(0, ⌊M (φ − γ φ₀)⌋)`

    units. The thesis prints `min(0, …)`, which can never be positive; the
    surrounding text (and any growth at all) requires `max(0, …)`. With
    φ = φ_ED, `M φ` is the numerical rank, so `T` is the rank minus `γ M φ₀`:
    a layer whose units are all independent grows by about `(1 − γ) M`
    units; once new units stop adding rank, growth pauses until training
    differentiates them.

    So γ sets a growth *rate* as long as φ stays near 1, which it can for a
    long time: on MNIST-5k the first hidden layer's units stay independent
    up to the input dimension, and its final width depends on how long
    training lasts. Reaching a static network's accuracy with fewer
    parameters there took γ = 0.98 instead of 0.97, or `max_units` at the
    static width (`Neurogenesis`; BENCHMARKS.md, "NORTH* neurogenesis").
    A layer whose baseline φ₀ is below 1 grows faster, by `M (1 − γ φ₀)`
    per decision, once training makes its units independent.

    The baseline φ₀ is the layer's first measurement (taken from the first
    full activation buffer, i.e. right after initialisation) for dense layers,
    and the running maximum of all measurements so far for convolutions
    (eq. 35: deep convolutional layers start near 0 and become more
    orthogonal as they learn). `baseline="auto"` picks between the two.

    When there are not more rows than units (φ_ED is then undefined) the
    trigger returns 0 and leaves the baseline untouched.

    Reference:
    - Maile, "Dynamic Architectural Optimization of Artificial Neural
      Networks", PhD thesis, 2023, ch. 6, eqs. 27-29 and 35 (NORTH*).

    Args:
        metric: `"effective_dimension"` (φ_ED, eq. 27) or
            `"orthogonality_gap"` (φ_OG, eq. 29).
        gamma: threshold factor γ_a > 0, close to 1 (thesis: 0.97 for MLPs,
            0.9-0.99 for VGG-11).
        epsilon: singular-value threshold ε of φ_ED (ignored by φ_OG).
        baseline: `"auto"`, `"initial"` or `"running_max"`.

    Example:

    ```python
    trigger = keras_grow.growth.ActivationTrigger(gamma=0.97)
    obs = keras_grow.growth.Observation(layer="h1", width=4,
                                        activations=np.eye(8, 4) * 10)
    trigger(obs)   # 0 (first call sets the baseline φ₀ = 1 for this layer)
    ```
    """

    requires = frozenset({"activations"})

    def __init__(self, metric="effective_dimension", gamma=0.97, epsilon=0.01, baseline="auto"):
        super().__init__(gamma, epsilon, baseline)
        self.metric = metric
        self._metric = metrics_lib.get(metric)
        self.metric_name = getattr(self._metric, "__name__", "metric")

    def measure(self, activations):
        """The metric value φ of `(rows, M)` activations."""
        if self._metric is metrics_lib.effective_dimension:
            return metrics_lib.effective_dimension(activations, self.epsilon)
        return float(self._metric(activations))

    def decide(self, observation):
        activations = observation.activations
        if activations is None:
            raise ValueError(
                f"ActivationTrigger needs observation.activations for layer "
                f"'{observation.layer}'; got None."
            )
        rows, width = np.shape(activations)
        if self._metric is metrics_lib.effective_dimension and rows <= width:
            reference = self.baselines.get(observation.layer, float("nan"))
            return Decision(float("nan"), self.gamma * reference, 0)
        return self._count(observation, self.measure(activations))

    def get_config(self):
        if not isinstance(self.metric, str):
            raise TypeError("ActivationTrigger with a custom metric callable is not serializable.")
        return {
            "metric": self.metric,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "baseline": self.baseline,
        }


class WeightTrigger(_OrthogonalityTrigger):
    """Grow a layer while its fan-in weights stay orthogonal (NORTH-Weight, eq. 31).

    The metric is the weight effective dimension (eq. 30): the ε-numerical
    rank of `W / sqrt(n)` over the width, with `W` the `(M, fan_in + 1)`
    fan-in matrix (kernel columns and bias; for a convolution the kernel
    flattened to `k·k·C_in` per channel). The count is
    `max(0, ⌊M (φ_w − γ φ_w,0)⌋)` as for `ActivationTrigger` (the thesis'
    `min` again must read `max`). Because the rank cannot exceed the fan-in,
    this trigger cannot grow a layer much beyond its input dimension.

    Args:
        gamma: threshold factor γ_w > 0 (thesis: 0.99).
        epsilon: singular-value threshold ε.
        samples: the `n` of eq. 30 (the thesis scales weights like
            activations, by `1/sqrt(n)` with `n` its buffer size). `None`
            takes `observation.samples`, which `Neurogenesis` sets to its
            `buffer_size`.
        baseline: `"initial"` (default) or `"running_max"`.

    Example:

    ```python
    trigger = keras_grow.growth.WeightTrigger(gamma=0.99, samples=1)
    trigger(keras_grow.growth.Observation(layer="h1", width=2, weights=np.eye(2, 5)))
    ```
    """

    requires = frozenset({"weights"})
    metric_name = "weight_effective_dimension"

    def __init__(self, gamma=0.99, epsilon=0.01, samples=None, baseline="initial"):
        super().__init__(gamma, epsilon, baseline)
        if samples is not None and (
            isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1
        ):
            raise ValueError(f"samples={samples!r} is not allowed; expected None or an int >= 1.")
        self.samples = samples

    def measure(self, weights, samples=1):
        return metrics_lib.weight_effective_dimension(weights, self.epsilon, samples)

    def decide(self, observation):
        if observation.weights is None:
            raise ValueError(
                f"WeightTrigger needs observation.weights for layer '{observation.layer}'."
            )
        samples = self.samples or observation.samples or 1
        return self._count(observation, self.measure(observation.weights, int(samples)))

    def get_config(self):
        return {
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "samples": self.samples,
            "baseline": self.baseline,
        }


class GradientTrigger(Trigger):
    """Grow by the auxiliary gradient's strong directions (eq. 32).

    GradMax (Evci et al., 2022) shows that `k` new units with zero fan-in can
    raise the gradient norm by at most the sum of the `k` largest singular
    values of the auxiliary gradient `∂L/∂Z_{l+1} H_{l-1}ᵀ`. This trigger adds
    as many units as there are singular values larger than
    `Σ_m ‖∂L/∂w_m^in‖ + ‖∂L/∂w_m^out‖`, the summed gradient norms of the
    layer's existing units over the same samples: new units are added only
    where they would receive a stronger gradient than the whole layer, a bar
    that rises as the layer grows.

    The `Neurogenesis` callback computes both quantities from one extra
    forward and backward pass over a probe batch (see its `data` argument).

    Read literally, the bar is high: on the MNIST MLP at width 64 the largest
    singular value is about 1/20 of the summed norms, so the layer never
    grows. `reduction="mean"` compares with the *mean* unit gradient norm
    instead (a new unit must beat an average existing unit).

    Args:
        scale: multiplies the threshold (1.0 is the thesis' rule).
        reduction: `"sum"` (eq. 32) or `"mean"` over the existing units.

    Example:

    ```python
    trigger = keras_grow.growth.GradientTrigger()
    obs = keras_grow.growth.Observation(
        layer="h1", width=2, auxiliary_gradient=np.diag([5.0, 1.0, 0.1]),
        unit_gradient_norms=np.array([0.5, 0.5]))
    trigger(obs)   # 1: only the singular value 5 exceeds 1.0
    ```
    """

    requires = frozenset({"gradients"})
    metric_name = "largest_auxiliary_singular_value"

    def __init__(self, scale=1.0, reduction="sum"):
        super().__init__()
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not scale > 0:
            raise ValueError(f"scale={scale!r} is not allowed; expected a number > 0.")
        if reduction not in ("sum", "mean"):
            raise ValueError(
                f"reduction={reduction!r} is not allowed; expected 'sum' (eq. 32) or 'mean'."
            )
        self.scale = float(scale)
        self.reduction = reduction

    def decide(self, observation):
        if observation.auxiliary_gradient is None or observation.unit_gradient_norms is None:
            raise ValueError(
                "GradientTrigger needs observation.auxiliary_gradient and "
                f"observation.unit_gradient_norms for layer '{observation.layer}'."
            )
        norms = np.asarray(observation.unit_gradient_norms, dtype=np.float64)
        total = float(np.sum(norms) if self.reduction == "sum" else np.mean(norms))
        threshold = self.scale * total
        values = metrics_lib.top_singular_values(observation.auxiliary_gradient, threshold)
        largest = float(values[0]) if values.size else 0.0
        above = values[values > threshold]
        return Decision(largest, threshold, int(above.size))

    def get_config(self):
        return {"scale": self.scale, "reduction": self.reduction}
