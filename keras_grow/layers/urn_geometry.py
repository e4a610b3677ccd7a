"""Geometric embedding of a URN (Golkar, section 3): grid x depth volume, distances, penalty.

Neurons live on an input grid (1-D or 2-D) repeated over `depth` planes. The metric is
the product metric ds^2 = ds_input^2 + beta dz^2 (eq. 8), with unit grid spacing and unit
plane spacing. Neuron order inside the URN state vector: plane by plane (plane 0 holds the
embedded input, so eq. 2 still reads "input in the first neurons"), except that the
`output_dim` neurons of the last plane closest to the grid centre are moved to the end of
the vector (so eq. 4 still reads "output in the last neurons").

The synaptic-length penalty c_syn * sum_ij |W_ij| d_ij^gamma (eq. 9) is computed either
from a cached dense d^gamma matrix, when it is small, or tile by tile from the neuron
coordinates with a custom gradient that recomputes each tile, so no S x S distance matrix
is ever held in memory.
"""

import math

import numpy as np
from keras import ops, saving


@saving.register_keras_serializable(package="keras_grow")
class URNGeometry:
    """Grid x depth layout of URN neurons with the metric ds^2 = ds_input^2 + beta dz^2.

    Args:
        grid_shape: int or tuple of 1 or 2 positive ints, the input grid (e.g. `(60, 60)`).
            Inputs with this many spatial axes are linearly interpolated onto the grid.
        depth: number of planes (>= 2); plane 0 receives the input, the output nodes sit
            at the centre of the last plane.
        beta: positive weight of dz^2 in the metric (eq. 8).

    Example:

    >>> geometry = URNGeometry((8, 8), depth=3, beta=4.0)
    >>> geometry.size, geometry.input_size
    (192, 64)
    """

    def __init__(self, grid_shape, depth, beta=1.0):
        if isinstance(grid_shape, (int, np.integer)):
            grid_shape = (grid_shape,)
        try:
            grid_shape = tuple(int(g) for g in grid_shape)
            ok = len(grid_shape) in (1, 2) and all(g >= 1 for g in grid_shape)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                "`grid_shape` must be 1 or 2 positive ints (a 1-D or 2-D input grid). "
                f"Received: grid_shape={grid_shape!r}"
            )
        if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or depth < 2:
            raise ValueError(
                "`depth` must be an int >= 2 (an input plane and an output plane). "
                f"Received: depth={depth!r}"
            )
        if not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
            raise ValueError(f"`beta` must be a positive finite number. Received: beta={beta!r}")
        self.grid_shape = grid_shape
        self.depth = int(depth)
        self.beta = float(beta)

    @property
    def input_size(self):
        """Number of neurons in one plane (the embedded input width)."""
        return int(np.prod(self.grid_shape))

    @property
    def size(self):
        """Total number of neurons S = prod(grid_shape) * depth."""
        return self.input_size * self.depth

    def check_output_dim(self, output_dim):
        if output_dim > self.input_size:
            raise ValueError(
                f"`output_dim`={output_dim} output nodes do not fit in one plane of the "
                f"geometry grid {self.grid_shape} ({self.input_size} neurons)."
            )

    def neuron_order(self, output_dim):
        """Plane-major neuron indices, with the centre output nodes moved to the end.

        Returns an int array `order` such that URN neuron `k` sits at volume position
        `order[k]` (position = plane * input_size + flat grid index).
        """
        self.check_output_dim(output_dim)
        plane = self.input_size
        last = np.arange((self.depth - 1) * plane, self.depth * plane)
        grid = np.stack(np.unravel_index(np.arange(plane), self.grid_shape), -1).astype(float)
        centre = (np.asarray(self.grid_shape, dtype=float) - 1.0) / 2.0
        dist = np.sum((grid - centre) ** 2, axis=-1)
        outputs = last[np.argsort(dist, kind="stable")[:output_dim]]
        outputs = np.sort(outputs)
        rest = np.setdiff1d(np.arange(self.size), outputs)
        return np.concatenate([rest, outputs])

    def grid_coordinates(self, output_dim):
        """Unscaled coordinates `(S, rank + 1)`: grid position(s) and plane index z."""
        order = self.neuron_order(output_dim)
        plane = self.input_size
        z = order // plane
        grid = np.stack(np.unravel_index(order % plane, self.grid_shape), -1)
        return np.concatenate([grid, z[:, None]], axis=-1).astype(np.float64)

    def coordinates(self, output_dim):
        """Coordinates in which the metric is Euclidean: z is scaled by sqrt(beta)."""
        coords = self.grid_coordinates(output_dim)
        coords[:, -1] *= math.sqrt(self.beta)
        return coords

    def plane(self, output_dim):
        """Depth plane (0 = input, depth - 1 = output) of every URN neuron."""
        return self.grid_coordinates(output_dim)[:, -1].astype(int)

    def distance_matrix(self, output_dim):
        """Dense S x S distance matrix (for small geometries, plots and tests)."""
        return dense_length_matrix(self.coordinates(output_dim), 1.0)

    def interpolation_matrix(self, input_spatial_shape):
        """Matrix `M` with `x_flat @ M` = `x` linearly interpolated onto the grid.

        Corner pixels map to corner grid points (align-corners); for a 2-D input the
        matrix is the Kronecker product of the two 1-D interpolations.
        """
        input_spatial_shape = tuple(int(s) for s in input_spatial_shape)
        if len(input_spatial_shape) != len(self.grid_shape):
            raise ValueError(
                f"The geometry grid {self.grid_shape} has {len(self.grid_shape)} spatial "
                f"axes but the input has spatial shape {input_spatial_shape}."
            )
        matrix = np.ones((1, 1))
        for n_in, n_out in zip(input_spatial_shape, self.grid_shape, strict=True):
            matrix = np.kron(matrix, linear_interpolation_matrix(n_in, n_out))
        return matrix

    def get_config(self):
        return {"grid_shape": list(self.grid_shape), "depth": self.depth, "beta": self.beta}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, URNGeometry) and self.get_config() == other.get_config()

    def __repr__(self):
        return f"URNGeometry(grid_shape={self.grid_shape}, depth={self.depth}, beta={self.beta})"


def linear_interpolation_matrix(n_in, n_out):
    """`(n_in, n_out)` matrix of 1-D linear interpolation with aligned end points."""
    if n_in == n_out:
        return np.eye(n_in)
    matrix = np.zeros((n_in, n_out))
    if n_in == 1:
        matrix[0, :] = 1.0
        return matrix
    if n_out == 1:
        pos = np.array([(n_in - 1) / 2.0])
    else:
        pos = np.arange(n_out) * (n_in - 1) / (n_out - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    frac = pos - lo
    cols = np.arange(n_out)
    matrix[lo, cols] += 1.0 - frac
    matrix[lo + 1, cols] += frac
    return matrix


def dense_length_matrix(coords, power):
    """Dense `d_ij ** power` (float64 numpy), built axis by axis — for small S."""
    squared = np.zeros((coords.shape[0], coords.shape[0]))
    for axis in range(coords.shape[1]):
        squared += (coords[:, axis, None] - coords[None, :, axis]) ** 2
    return squared ** (power / 2.0)


def _tile_lengths(coords_rows, coords, power):
    """`d^power` between a block of neurons and all neurons, from coordinates."""
    sq = None
    for a in range(coords.shape[1]):
        diff = ops.subtract(ops.expand_dims(coords_rows[:, a], 1), ops.expand_dims(coords[:, a], 0))
        sq = ops.square(diff) if sq is None else ops.add(sq, ops.square(diff))
    if power == 2.0:
        return sq
    if power == 1.0:
        return ops.sqrt(sq)
    return ops.power(sq, power / 2.0)


def tiled_length_penalty(kernel, coords, power, tile_rows):
    """`sum_ij |kernel_ij| * d_ij ** power` computed `tile_rows` rows at a time.

    `coords` is an `(S, k)` tensor of Euclidean coordinates (z already scaled by
    sqrt(beta)). The gradient (`sign(kernel) * d ** power`) is recomputed tile by tile in
    the backward pass, so memory stays O(tile_rows * S) beyond the kernel and its gradient.
    """
    kernel = ops.cast(kernel, kernel.dtype)  # a tensor, not a variable, for custom_gradient
    size = int(kernel.shape[0])
    splits = list(range(tile_rows, size, tile_rows))

    def tiles(tensor):
        return ops.split(tensor, splits, axis=0) if splits else [tensor]

    @ops.custom_gradient
    def penalty(w):
        w_tiles = tiles(w)
        c_tiles = tiles(coords)
        total = None
        for w_t, c_t in zip(w_tiles, c_tiles, strict=True):
            part = ops.sum(ops.abs(w_t) * _tile_lengths(c_t, coords, power))
            total = part if total is None else total + part

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            parts = [
                ops.sign(w_t) * _tile_lengths(c_t, coords, power)
                for w_t, c_t in zip(tiles(w), c_tiles, strict=True)
            ]
            full = ops.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
            return upstream * full

        return total, grad

    return penalty(kernel)
