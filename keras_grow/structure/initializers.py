"""How new units get their first weights.

An initializer is any callable that takes a `NewUnits` request and returns a
dict mapping some of the request's `fan_in` / `fan_out` axis uses to arrays of
`request.slice_shape(use)`; axis uses it leaves out start at zero. Carrier
variables (batch-norm statistics) are reset by DynamicModel itself.

Function preservation: if every new unit has zero fan-out, or zero fan-in and
zero bias with an activation that maps 0 to 0 (ReLU, tanh, GELU, ...) and a
batch norm in between, the model's outputs do not change when units are added.

Example:

```python
model.add_units("dense", 8, initializer=keras_grow.structure.ZeroFanOut())
model.add_units("dense", 8, initializer="zero_fan_in")
```
"""

import dataclasses

import keras
import numpy as np

from keras_grow.structure import storage


@dataclasses.dataclass
class NewUnits:
    """A request for the weights of `count` new units of `group`.

    Attributes:
        group: the `UnitGroup` that grows.
        count: number of new units.
        slots: the physical slots they will occupy.
        rng: a `numpy.random.Generator` to draw from.
        context: free-form information from the caller (for example the
            activations a neurogenesis callback collected).
    """

    group: object
    count: int
    slots: np.ndarray
    rng: np.random.Generator
    context: dict = dataclasses.field(default_factory=dict)

    @property
    def fan_in(self):
        """Axis uses indexed by the new units' inputs side (producer kernels, biases)."""
        return [u for u in self.group.axis_uses if u.role == "producer"]

    @property
    def fan_out(self):
        """Axis uses indexed by the new units' output side (consumer kernel rows)."""
        return [u for u in self.group.axis_uses if u.role == "consumer"]

    def slice_shape(self, use):
        """Shape of the new entries of `use`: the variable's shape with the unit
        axis replaced by `positions * count` (position-major)."""
        shape = list(use.variable.shape)
        shape[use.axis] = use.layout.positions * self.count
        return tuple(shape)

    def existing(self, use):
        """The current entries of the existing active units along `use`."""
        indices = storage.axis_slot_indices(use.layout, self.group, self.group.active_slots)
        return storage.take_axis(use.variable.numpy(), use.axis, indices)

    def unit_norms(self, use, values):
        """Per-unit L2 norms of `values` laid out like `use` (position-major).

        Summed in place over positions and the other axes: no per-unit copy
        (for a Dense or convolution kernel, whose unit axis is last, none at all).
        """
        moved = np.moveaxis(values, use.axis, -1)
        units = moved.shape[-1] // use.layout.positions
        grouped = moved.reshape(-1, use.layout.positions, units)
        return np.sqrt(np.einsum("ipu,ipu->u", grouped, grouped, dtype=np.float64))

    def unit_vectors(self, use, values):
        """`values` reshaped to one row per unit (all positions of a unit together)."""
        moved = np.moveaxis(values, use.axis, 0)
        n = moved.shape[0] // use.layout.positions
        moved = moved.reshape(use.layout.positions, n, -1)
        return np.transpose(moved, (1, 0, 2)).reshape(n, -1)

    def sample_like_layer(self, use):
        """Draw new entries from the owning layer's own kernel initializer."""
        initializer = getattr(use.layer, "kernel_initializer", None)
        if initializer is None or use.variable.ndim < 2:
            return np.zeros(self.slice_shape(use), np.float32)
        return draw_entries(initializer, use, use.layout.positions * self.count, self.rng)

    def rescale_to_existing(self, use, values):
        """Scale each new unit's vector to the mean norm of the existing units'."""
        if values.ndim < 2 or self.group.width == 0:
            return values
        target = self.unit_norms(use, self.existing(use)).mean()
        norms = self.unit_norms(use, values)
        if target == 0:
            return values
        scale = np.where(norms > 0, target / np.maximum(norms, 1e-12), 1.0)
        moved = np.moveaxis(values, use.axis, 0)
        shape = moved.shape
        moved = moved.reshape(use.layout.positions, self.count, -1) * scale[None, :, None]
        return np.moveaxis(moved.reshape(shape), 0, use.axis)


def draw_entries(initializer, use, count, rng):
    """`count` entries along `use.axis`, distributed as `initializer` would draw
    them for the whole variable (same fan-in/fan-out scaling), seeded from `rng`.

    Variance-scaling (Glorot, He, LeCun) and plain normal/uniform initializers
    are sampled directly in NumPy; others draw the whole variable once.
    """
    initializer = keras.initializers.get(initializer)
    shape = list(use.variable.shape)
    shape[use.axis] = count
    sampled = _sample_numpy(initializer, tuple(use.variable.shape), tuple(shape), rng)
    if sampled is not None:
        return sampled
    if hasattr(initializer, "seed") and hasattr(initializer, "get_config"):
        config = {**initializer.get_config(), "seed": int(rng.integers(2**31 - 1))}
        initializer = type(initializer).from_config(config)
    full = keras.ops.convert_to_numpy(initializer(use.variable.shape, dtype="float32"))
    return storage.take_axis(full, use.axis, np.arange(count) % full.shape[use.axis])


def _fans(shape):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng, shape, stddev):
    values = rng.standard_normal(shape, dtype=np.float32)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()), dtype=np.float32)
        outside = np.abs(values) > 2
    values *= np.float32(stddev)
    return values


def _uniform(rng, shape, low, high):
    """float32 uniform draws on `[low, high)`, mapped in place from `[0, 1)`."""
    values = rng.random(shape, dtype=np.float32)
    values *= np.float32(high - low)
    values += np.float32(low)
    return values


def _normal(rng, shape, mean, stddev):
    values = rng.standard_normal(shape, dtype=np.float32)
    values *= np.float32(stddev)
    if mean:
        values += np.float32(mean)
    return values


def _numpy_distribution(initializer, full_shape):
    """`(name, a, b)`: the float32 distribution `initializer` draws for a variable
    of `full_shape`, as `("uniform", low, high)`, `("normal", mean, stddev)`,
    `("truncated_normal", mean, stddev)` (cut at two standard deviations) or
    `("zeros", 0, 0)`; None if it is not one of these."""
    if isinstance(initializer, keras.initializers.VarianceScaling):
        fan_in, fan_out = _fans(full_shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out}.get(initializer.mode, (fan_in + fan_out) / 2)
        scale = initializer.scale / max(1.0, fan)
        if initializer.distribution == "uniform":
            limit = np.sqrt(3.0 * scale)
            return "uniform", -limit, limit
        if initializer.distribution == "untruncated_normal":
            return "normal", 0.0, np.sqrt(scale)
        return "truncated_normal", 0.0, np.sqrt(scale) / 0.87962566103423978
    if isinstance(initializer, keras.initializers.RandomNormal):
        return "normal", initializer.mean, initializer.stddev
    if isinstance(initializer, keras.initializers.RandomUniform):
        return "uniform", initializer.minval, initializer.maxval
    if isinstance(initializer, keras.initializers.TruncatedNormal):
        return "truncated_normal", initializer.mean, initializer.stddev
    if isinstance(initializer, keras.initializers.Zeros):
        return "zeros", 0.0, 0.0
    return None


def _sample_numpy(initializer, full_shape, shape, rng):
    """float32 samples like `initializer` for a variable of `full_shape`, or None if unknown."""
    distribution = _numpy_distribution(initializer, full_shape)
    if distribution is None:
        return None
    name, a, b = distribution
    if name == "uniform":
        return _uniform(rng, shape, a, b)
    if name == "normal":
        return _normal(rng, shape, a, b)
    if name == "zeros":
        return np.zeros(shape, np.float32)
    values = _truncated_normal(rng, shape, b)
    if a:
        values += np.float32(a)
    return values


def uniform_draw_count(initializer, use, count):
    """How many float32 uniforms `draw_entries(initializer, use, count, rng)`
    takes from `rng`, or None where that is not known before drawing (normal
    distributions, which reject some draws, and initializers sampled outside
    NumPy).

    Example: `uniform_draw_count("glorot_uniform", use, 10)` is
    `10 * fan_in` for a Dense kernel `use` (unit axis last).
    """
    initializer = keras.initializers.get(initializer)
    distribution = _numpy_distribution(initializer, tuple(use.variable.shape))
    if distribution is None or distribution[0] not in ("uniform", "zeros"):
        return None
    if distribution[0] == "zeros":
        return 0
    shape = list(use.variable.shape)
    shape[use.axis] = count
    return int(np.prod(shape))


class ZeroFanOut:
    """New units read their inputs but start with zero outgoing weights.

    The fan-in kernel is drawn from the layer's own `kernel_initializer` and
    rescaled so that each new unit's fan-in norm equals the mean norm of the
    existing units; biases start at zero. The model's function is unchanged.

    Example:

    ```python
    model.add_units("hidden", 8, initializer=keras_grow.structure.ZeroFanOut())
    ```
    """

    function_preserving = True

    def __call__(self, request):
        values = {}
        for use in request.fan_in:
            if use.variable.ndim >= 2:
                values[use] = request.rescale_to_existing(use, request.sample_like_layer(use))
        return values

    def get_config(self):
        return {}


class ZeroFanIn:
    """New units start with zero incoming weights and bias, random fan-out.

    The fan-out rows are drawn from the consumer's `kernel_initializer` and
    rescaled to the mean fan-out norm of the existing units. Function-preserving
    when the activation (and any batch norm) maps 0 to 0.

    Example:

    ```python
    model.add_units("hidden", 8, initializer=keras_grow.structure.ZeroFanIn())  # ReLU: 0 -> 0
    ```
    """

    function_preserving = True

    def __call__(self, request):
        values = {}
        for use in request.fan_out:
            values[use] = request.rescale_to_existing(use, request.sample_like_layer(use))
        return values

    def get_config(self):
        return {}


_BY_NAME = {"zero_fan_out": ZeroFanOut, "zero_fan_in": ZeroFanIn}


def get(initializer):
    """Resolve `None`, a name or a callable to a unit initializer."""
    if initializer is None:
        return ZeroFanOut()
    if isinstance(initializer, str):
        if initializer not in _BY_NAME:
            raise ValueError(
                f"initializer={initializer!r} is not a known unit initializer; expected one of "
                f"{sorted(_BY_NAME)} or a callable taking a NewUnits request."
            )
        return _BY_NAME[initializer]()
    if not callable(initializer):
        raise TypeError(
            f"initializer={initializer!r} (type {type(initializer).__name__}) is not callable; "
            f"expected one of {sorted(_BY_NAME)} or a callable taking a NewUnits request."
        )
    return initializer
