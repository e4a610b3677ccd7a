"""URNLayer: the unstructured recursive network of Golkar (eqs. 2-9)."""

import math
import numbers

import numpy as np
from keras import activations, initializers, layers, ops, saving

from keras_grow.layers.urn_geometry import URNGeometry, dense_length_matrix, tiled_length_penalty

RESIDUAL_MODES = (None, "output", "input")
ACTIVITY_REDUCTIONS = ("mean", "sum")
# Below this many kernel entries the d^gamma matrix is cached densely (64 MiB in float32).
DENSE_LENGTH_LIMIT = 2**24


def _check_coefficient(name, value, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number. Received: {name}={value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        allowed = "a positive finite number" if positive else "a finite number >= 0"
        raise ValueError(f"`{name}` must be {allowed}. Received: {name}={value!r}")
    return float(value)


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _scaled_l1(kernel, coefficient):
    """`coefficient * sum|kernel|` with a one-pass gradient `coefficient * sign(kernel)`.

    (Autodiff would first broadcast the upstream scalar to S x S, then multiply by the
    sign: one more pass over the matrix, which shows at large S.)
    """

    @ops.custom_gradient
    def l1(k):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.sign(k) * (upstream * coefficient)

        return coefficient * ops.sum(ops.abs(k)), grad

    return l1(kernel)


class URNKernelRegularizer:
    """c_W * sum|W| + c_syn * sum_ij |W_ij| d_ij^gamma on the URN kernel (eqs. 5 and 9).

    Built by `URNLayer.build`; the layer's config, not this object, is what is saved.
    `lengths` is either a dense `d^gamma` numpy matrix or `None`, in which case the
    synaptic term is computed tile by tile from `coords`.
    """

    def __init__(self, weight_l1, synaptic_l1=0.0, coords=None, power=1.0, tile_rows=None):
        self.weight_l1 = weight_l1
        self.synaptic_l1 = synaptic_l1
        self.coords = coords
        self.power = power
        self.tile_rows = tile_rows
        self.lengths = None
        if synaptic_l1 > 0 and tile_rows is None:
            self.lengths = dense_length_matrix(coords, power).astype(np.float32)

    def weight_term(self, kernel):
        return _scaled_l1(ops.cast(kernel, kernel.dtype), self.weight_l1)

    def synaptic_term(self, kernel):
        if self.lengths is not None:
            lengths = ops.convert_to_tensor(self.lengths, dtype=kernel.dtype)
            return self.synaptic_l1 * ops.sum(ops.abs(kernel) * lengths)
        coords = ops.convert_to_tensor(self.coords, dtype=kernel.dtype)
        return self.synaptic_l1 * tiled_length_penalty(kernel, coords, self.power, self.tile_rows)

    def __call__(self, kernel):
        kernel = ops.cast(kernel, kernel.dtype)  # read a variable into a tensor
        total = self.weight_term(kernel) if self.weight_l1 > 0 else None
        if self.synaptic_l1 > 0:
            syn = self.synaptic_term(kernel)
            total = syn if total is None else total + syn
        return total


@saving.register_keras_serializable(package="keras_grow")
class URNLayer(layers.Layer):
    """Unstructured recursive network: one S x S weight matrix applied `iterations` times.

    The layer holds a state vector of `size` neurons. The (flattened) input is written
    into the first neurons and every other neuron starts at zero (eq. 2); the update
    `N <- activation(N W + b)` with a dense He-normal `W` is applied `iterations` times
    (eq. 3) and the output is read from the last `output_dim` neurons (eq. 4). With
    `residual="output"` the output neurons accumulate, `N_out <- N_out + activation(...)`
    (eq. 6); with `residual="input"` the input is added to the input neurons after every
    update (eq. 7). L1 penalties on the weights (`weight_l1`, c_W) and on the neuron
    activities after every update (`activity_l1`, c_N) make a sparse layered network
    emerge (eq. 5); `keras_grow.analysis.extract_structure` reads it out.

    With a `geometry` (section 3), inputs with spatial axes (a 1-D sequence or a 2-D
    image, optionally with one trailing channel) are linearly interpolated onto the
    geometry's grid and embedded in its first plane; the neurons fill a grid x depth
    volume with metric ds^2 = ds_input^2 + beta dz^2 (eq. 8); the output nodes are the
    `output_dim` neurons closest to the centre of the last plane; and
    `synaptic_l1 * sum_ij |W_ij| d_ij^synaptic_power` (eq. 9) penalises long synapses.
    The S x S distance matrix is cached only when small (S^2 <= 2^24); otherwise the
    penalty is computed in row tiles from the neuron coordinates.

    The weight penalties are the kernel's regulariser and the activity penalty is added
    with `add_loss`, so all of them appear in `model.losses` and in the training loss.
    The first update only multiplies the input neurons (the rest of the state is zero),
    and when `activity_l1 == 0` the last update only computes the output neurons.

    Reference: S. Golkar, "Emergent Structures and Lifetime Structure Evolution in
    Artificial Neural Networks".

    Args:
        size: total number of neurons S; at least (embedded input width + `output_dim`).
            With a `geometry` it may be left `None` (it is then `geometry.size`).
        iterations: number of updates I (>= 1).
        output_dim: number of output neurons d_out (>= 1).
        residual: `None` (eq. 3), `"output"` (eq. 6) or `"input"` (eq. 7).
        activation: activation phi (default `"relu"`).
        weight_l1: c_W, L1 coefficient on the weight matrix (>= 0).
        activity_l1: c_N, L1 coefficient on the neuron activities after every update,
            summed over neurons and iterations (>= 0); see `activity_reduction`.
        activity_reduction: how the activity penalty is reduced over the batch:
            `"mean"` (default; per-sample average, as Keras' `activity_regularizer`
            does) or `"sum"` (summed over the batch, as eq. 5 is written: only the
            cross-entropy carries the 1/N, so c_N multiplies the batch total). With
            `"sum"` the penalty, relative to the cross-entropy, is `batch_size` times
            stronger than with `"mean"` at the same `activity_l1`.
        geometry: optional `URNGeometry` (or its config dict) for spatial inputs.
        synaptic_l1: c_syn, coefficient of the synaptic-length penalty (needs a geometry).
        synaptic_power: gamma, the distance power (> 0).
        synaptic_tile_rows: rows per tile for the synaptic penalty; `None` caches the
            dense d^gamma matrix when S^2 <= 2^24 and tiles otherwise.
        use_bias: whether the update has a bias b.
        kernel_initializer: initializer of W (default He normal, as in the paper).
        bias_initializer: initializer of b.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: without a geometry, `(batch, ...)` flattened to `(batch, d_in)`; with a
            geometry, `(batch, *spatial)` or `(batch, *spatial, 1)` where `spatial` has as
            many axes as `geometry.grid_shape`.

    Input shape:
        `(batch_size, ...)` as above.

    Output shape:
        `(batch_size, output_dim)`.

    Example:

    >>> import keras, numpy as np
    >>> urn = URNLayer(size=64, iterations=4, output_dim=2, residual="output",
    ...                weight_l1=5e-7, activity_l1=2e-5)
    >>> model = keras.Sequential([keras.Input((10,)), urn])
    >>> model(np.zeros((3, 10), "float32")).shape
    TensorShape([3, 2])
    >>> len(model.losses)  # weight L1 (kernel regulariser) + activity L1 (add_loss)
    2
    """

    def __init__(
        self,
        size=None,
        iterations=4,
        output_dim=1,
        residual=None,
        activation="relu",
        weight_l1=0.0,
        activity_l1=0.0,
        activity_reduction="mean",
        geometry=None,
        synaptic_l1=0.0,
        synaptic_power=1.0,
        synaptic_tile_rows=None,
        use_bias=True,
        kernel_initializer="he_normal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(geometry, dict):
            geometry = URNGeometry.from_config(geometry)
        if geometry is not None and not isinstance(geometry, URNGeometry):
            raise TypeError(
                "`geometry` must be None, a URNGeometry or its config dict. "
                f"Received: geometry={geometry!r}"
            )
        self.geometry = geometry
        self.iterations = _check_int("iterations", iterations, 1)
        self.output_dim = _check_int("output_dim", output_dim, 1)
        if geometry is not None:
            geometry.check_output_dim(self.output_dim)
            if size is not None and size != geometry.size:
                raise ValueError(
                    f"`size` must be None or equal to the geometry's size {geometry.size} "
                    f"(= prod{geometry.grid_shape} * {geometry.depth}). Received: size={size!r}"
                )
            size = geometry.size
        elif size is None:
            raise ValueError("`size` is required when no `geometry` is given. Received: None")
        self.size = _check_int("size", size, self.output_dim + 1)
        if residual not in RESIDUAL_MODES:
            raise ValueError(
                f"`residual` must be one of {RESIDUAL_MODES}. Received: residual={residual!r}"
            )
        self.residual = residual
        self.activation = activations.get(activation)
        self.weight_l1 = _check_coefficient("weight_l1", weight_l1)
        self.activity_l1 = _check_coefficient("activity_l1", activity_l1)
        if activity_reduction not in ACTIVITY_REDUCTIONS:
            raise ValueError(
                f"`activity_reduction` must be one of {ACTIVITY_REDUCTIONS}. "
                f"Received: activity_reduction={activity_reduction!r}"
            )
        self.activity_reduction = activity_reduction
        self.synaptic_l1 = _check_coefficient("synaptic_l1", synaptic_l1)
        self.synaptic_power = _check_coefficient("synaptic_power", synaptic_power, positive=True)
        if self.synaptic_l1 > 0 and geometry is None:
            raise ValueError(
                "`synaptic_l1` > 0 needs a `geometry` to define synapse lengths. "
                f"Received: synaptic_l1={synaptic_l1!r}, geometry=None"
            )
        if synaptic_tile_rows is not None:
            synaptic_tile_rows = _check_int("synaptic_tile_rows", synaptic_tile_rows, 1)
        self.synaptic_tile_rows = synaptic_tile_rows
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_dim = None  # flattened raw input width, set in build
        self.embed_dim = None  # d_in of eq. 2 (grid plane size with a geometry)
        self.interpolation = None  # (input_dim, embed_dim) numpy matrix or None

    # ----------------------------------------------------------------- build
    def _resolve_input(self, input_shape):
        spatial = tuple(input_shape[1:])
        if any(s is None for s in spatial) or not spatial:
            raise ValueError(
                "URNLayer needs a fully known input shape (batch, ...). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        input_dim = int(np.prod(spatial))
        if self.geometry is None:
            if self.size < input_dim + self.output_dim:
                raise ValueError(
                    f"`size` must be >= input dim + output_dim = {input_dim} + "
                    f"{self.output_dim} = {input_dim + self.output_dim}. "
                    f"Received: size={self.size}"
                )
            return input_dim, input_dim, None
        rank = len(self.geometry.grid_shape)
        if len(spatial) == rank + 1 and spatial[-1] == 1:
            spatial = spatial[:-1]
        if len(spatial) != rank:
            raise ValueError(
                f"The geometry grid {self.geometry.grid_shape} needs inputs of shape "
                f"(batch, *spatial) or (batch, *spatial, 1) with {rank} spatial axes. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        matrix = None
        if spatial != self.geometry.grid_shape:
            matrix = self.geometry.interpolation_matrix(spatial)
        return input_dim, self.geometry.input_size, matrix

    def build(self, input_shape):
        self.input_dim, self.embed_dim, self.interpolation = self._resolve_input(input_shape)
        coords = None
        if self.synaptic_l1 > 0:
            coords = self.geometry.coordinates(self.output_dim)
        tile_rows = self.synaptic_tile_rows
        if tile_rows is None and self.size**2 > DENSE_LENGTH_LIMIT:
            tile_rows = max(1, DENSE_LENGTH_LIMIT // self.size)
        regularizer = None
        if self.weight_l1 > 0 or self.synaptic_l1 > 0:
            regularizer = URNKernelRegularizer(
                self.weight_l1, self.synaptic_l1, coords, self.synaptic_power, tile_rows
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.size, self.size),
            initializer=self.kernel_initializer,
            regularizer=regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.size,), initializer=self.bias_initializer
            )

    # ------------------------------------------------------------------ call
    def embed(self, inputs):
        """Flatten (and interpolate onto the grid) the inputs: `(batch, embed_dim)`."""
        x = ops.reshape(inputs, (-1, self.input_dim))
        x = ops.cast(x, self.compute_dtype)
        if self.interpolation is not None:
            x = ops.matmul(x, ops.convert_to_tensor(self.interpolation, dtype=x.dtype))
        return x

    def _update(self, state, x, first, outputs_only):
        """One application of eq. 3/6/7. Returns (new_state, phi)."""
        kernel = self.kernel
        out = self.size - self.output_dim
        if first:  # only the embedded input neurons are non-zero (eq. 2)
            rows, source = kernel[: self.embed_dim], x
        else:
            rows, source = kernel, state
        if outputs_only:
            rows = rows[:, out:]
        pre = ops.matmul(source, rows)
        if self.use_bias:
            pre = pre + (self.bias[out:] if outputs_only else self.bias)
        phi = self.activation(pre)
        if outputs_only:
            if self.residual == "output" and not first:
                return phi + state[:, out:], phi
            return phi, phi
        new = phi
        if self.residual == "output" and not first:
            new = ops.concatenate([phi[:, :out], phi[:, out:] + state[:, out:]], axis=1)
        elif self.residual == "input":
            new = ops.concatenate([phi[:, : self.embed_dim] + x, phi[:, self.embed_dim :]], axis=1)
        return new, phi

    def call(self, inputs):
        x = self.embed(inputs)
        state, activity = None, None
        for step in range(self.iterations):
            last = step == self.iterations - 1
            outputs_only = last and self.activity_l1 == 0
            state, _ = self._update(state, x, first=step == 0, outputs_only=outputs_only)
            if self.activity_l1 > 0:
                term = ops.sum(ops.abs(state))
                activity = term if activity is None else activity + term
        if activity is not None:
            if self.activity_reduction == "mean":
                activity = activity / ops.cast(ops.shape(x)[0], activity.dtype)
            self.add_loss(self.activity_l1 * activity)
        if outputs_only:
            return state
        return state[:, self.size - self.output_dim :]

    def compute_states(self, inputs):
        """Run all updates on the full state.

        Returns `(states, phis)`: `states[l]` is N^(l) for l = 0..I, shape
        `(batch, size)` (N^(0) is the embedded input padded with zeros, eq. 2), and
        `phis[l - 1]` is activation(W N^(l-1) + b), the part of N^(l) produced by update
        l (it differs from N^(l) only on residual neurons).
        """
        x = self.embed(ops.convert_to_tensor(inputs))
        pad = ops.zeros((ops.shape(x)[0], self.size - self.embed_dim), dtype=x.dtype)
        states, phis = [ops.concatenate([x, pad], axis=1)], []
        for step in range(self.iterations):
            state, phi = self._update(states[-1], x, first=step == 0, outputs_only=False)
            states.append(state)
            phis.append(phi)
        return states, phis

    def regularization_terms(self, inputs=None):
        """Current values of the penalties as floats: weight L1, synaptic length, activity.

        The activity term needs `inputs` (it is reduced over those inputs as in
        training: their mean or their sum, see `activity_reduction`).
        """
        reg = self.kernel.regularizer
        terms = {"weight_l1": 0.0, "synaptic": 0.0}
        if reg is not None and self.weight_l1 > 0:
            terms["weight_l1"] = float(reg.weight_term(self.kernel))
        if reg is not None and self.synaptic_l1 > 0:
            terms["synaptic"] = float(reg.synaptic_term(ops.cast(self.kernel, self.kernel.dtype)))
        if inputs is not None:
            states, _ = self.compute_states(inputs)
            total = sum(float(ops.sum(ops.abs(s))) for s in states[1:])
            if self.activity_reduction == "mean":
                total /= int(ops.shape(states[0])[0])
            terms["activity"] = self.activity_l1 * total
        return terms

    @property
    def output_indices(self):
        """Indices of the output neurons in the state vector (the last `output_dim`)."""
        return np.arange(self.size - self.output_dim, self.size)

    def neuron_planes(self):
        """Depth plane of every neuron (geometry only), else `None`."""
        if self.geometry is None:
            return None
        return self.geometry.plane(self.output_dim)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "size": self.size,
                "iterations": self.iterations,
                "output_dim": self.output_dim,
                "residual": self.residual,
                "activation": activations.serialize(self.activation),
                "weight_l1": self.weight_l1,
                "activity_l1": self.activity_l1,
                "activity_reduction": self.activity_reduction,
                "geometry": None if self.geometry is None else self.geometry.get_config(),
                "synaptic_l1": self.synaptic_l1,
                "synaptic_power": self.synaptic_power,
                "synaptic_tile_rows": self.synaptic_tile_rows,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
            }
        )
        return config
