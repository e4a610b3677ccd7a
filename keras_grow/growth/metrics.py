"""Orthogonality metrics of a layer's post-activations and weights (Maile ch. 6).

All metrics take NumPy arrays laid out one *row per sample* and one *column per
unit* (the transpose of the thesis' `H_l ∈ R^{M_l × n}`), which is how
`DynamicModel.activations` returns them:

- `effective_dimension(H, epsilon)`: φ_ED, eq. 27, the fraction of units
  whose direction is numerically independent: the ε-numerical rank of
  `H / sqrt(n)` divided by the width `M`.
- `orthogonality_gap(H)`: φ_OG, eq. 29, one minus the Frobenius distance
  between the trace-normalised sample Gram matrix and the trace-normalised
  identity. 1 means perfectly orthogonal samples.
- `weight_effective_dimension(W, epsilon, samples)`: eq. 30, φ_ED of a
  layer's fan-in matrix `W` (one row per unit: kernel column and bias).

Convolutions (thesis 6.2.3): `flatten_activations` turns `(..., H, W, M)`
activations into `(samples · H · W, M)` rows, so φ_ED stays relative to the
number of channels; `flatten_kernel` turns a `(k, k, C_in, M)` kernel (and
bias) into the `(M, k·k·C_in [+1])` fan-in matrix.

Degenerate inputs are handled as documented per function and never produce
NaN: all-zero activations have φ_ED = 0 and φ_OG = 0; φ_ED needs more rows
than units (`n > M`, the thesis' constraint) and raises `ValueError`
otherwise.

Example:

```python
h = model.activations("dense_1")            # (rows, width)
keras_grow.growth.metrics.effective_dimension(h, epsilon=0.01)
```
"""

import numbers

import numpy as np

_DEFAULT_EPSILON = 0.01


def _check_matrix(values, name):
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(
            f"{name} has shape {array.shape}; expected a 2-D array (rows, units). "
            "Flatten convolutional activations with flatten_activations first."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} has dtype {array.dtype}; expected a numeric array.")
    if array.shape[1] < 1:
        raise ValueError(f"{name} has shape {array.shape}; expected at least one unit (column).")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite numbers.")
    return array.astype(np.float64, copy=False)


def check_epsilon(epsilon, name="epsilon"):
    """Validate a positive singular-value threshold."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0:
        raise ValueError(f"{name}={epsilon!r} is not allowed; expected a number > 0.")
    return float(epsilon)


def singular_values(matrix):
    """Singular values of a 2-D array, largest first, in float64.

    Uses the eigenvalues of the smaller Gram matrix (`AᵀA` or `AAᵀ`), which
    is several times faster than an SVD for the tall buffers used here and
    accurate to about 1e-7 relative to the largest singular value (the
    thresholds used by the triggers are far above that).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return np.zeros(0)
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    eigenvalues = np.linalg.eigvalsh(gram)[::-1]
    return np.sqrt(np.clip(eigenvalues, 0.0, None))


def top_singular_values(matrix, threshold, exact_below=256):
    """The largest singular values of `matrix`: all those above `threshold`, and
    at least the largest one, largest first.

    Small matrices (smaller side at most `exact_below`) return the whole
    spectrum (`singular_values`). Larger ones use a Lanczos solver
    (`scipy.sparse.linalg.svds`) for the top `k` values, doubling `k` until
    one falls below the threshold: triggers usually need a handful of values,
    and the full spectrum of a 1 000 × 1 000 matrix costs several hundred
    milliseconds. The Lanczos iterations run in float32 (half the memory
    traffic; on VGG-11's auxiliary gradients 1.5-3× faster than float64),
    accurate to about 1e-6 relative to the largest singular value.
    """
    matrix = np.asarray(matrix)
    smaller = min(matrix.shape) if matrix.size else 0
    if smaller <= exact_below:
        return singular_values(matrix)
    from scipy.sparse.linalg import svds

    single = np.asarray(matrix, dtype=np.float32)  # no copy for float32 input
    start = np.ones(smaller, dtype=np.float32)
    k = 4  # on VGG-11's auxiliary gradients 4 values cost ~40 % less than 8
    while True:
        values = np.sort(svds(single, k=k, v0=start, return_singular_vectors=False))[::-1]
        values = values.astype(np.float64)
        if values[-1] <= threshold:
            return values
        if 2 * k > smaller // 16:
            return singular_values(matrix)  # much of the spectrum is above: exactly
        k *= 2


def effective_rank(matrix, epsilon=_DEFAULT_EPSILON):
    """Number of singular values of `matrix` strictly above `epsilon`.

    Counted without computing them: σ > ε exactly for the eigenvalues of the
    smaller Gram matrix above ε², whose number is the count of positive
    pivots of an LDLᵀ factorisation of `gram − ε²·I` (Sylvester's law of
    inertia; `eigenvalues_above`), several times cheaper than the
    eigenvalues themselves.

    Example: `effective_rank(np.eye(3) * [1.0, 0.5, 1e-3], 0.01)` is 2.
    """
    epsilon = check_epsilon(epsilon)
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return 0
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    return eigenvalues_above(gram, epsilon**2)


def eigenvalues_above(symmetric, threshold):
    """How many eigenvalues of the real symmetric matrix exceed `threshold`.

    The inertia of `symmetric − threshold·I` from its Bunch-Kaufman
    factorisation `P L D Lᵀ Pᵀ` (LAPACK `sytrf`): `D` has the same number of
    positive eigenvalues (Sylvester's law of inertia), and its 1×1 and 2×2
    blocks are read directly. Backward stable, like the eigenvalues: an
    eigenvalue within rounding of the threshold may fall either way.

    Example: `eigenvalues_above(np.diag([3.0, 1.0, 0.0]), 0.5)` is 2.
    """
    from scipy.linalg import lapack

    symmetric = np.asarray(symmetric, dtype=np.float64)
    size = symmetric.shape[0]
    if size == 0:
        return 0
    shifted = symmetric - threshold * np.eye(size)
    factor, pivots, info = lapack.dsytrf(shifted, lower=1)
    if info < 0:
        raise ValueError(f"LAPACK dsytrf rejected argument {-info}.")
    positive, k = 0, 0
    while k < size:
        if pivots[k] > 0:  # a 1x1 block
            positive += factor[k, k] > 0
            k += 1
            continue
        a, b, c = factor[k, k], factor[k + 1, k], factor[k + 1, k + 1]
        determinant = a * c - b * b
        if determinant < 0:  # one eigenvalue of each sign
            positive += 1
        elif a + c > 0:  # both of the trace's sign (one zero if the determinant is)
            positive += 2 if determinant > 0 else 1
        k += 2
    return int(positive)


def effective_dimension(activations, epsilon=_DEFAULT_EPSILON):
    """φ_ED (eq. 27): the ε-numerical rank of `H / sqrt(n)` divided by the width.

    Args:
        activations: array `(n, M)`, one row per sample (per sample and
            spatial position for convolutions), one column per unit.
        epsilon: singular values of `H / sqrt(n)` above this count as
            independent directions.

    Returns:
        A float in [0, 1]. All-zero activations give 0.

    Raises:
        ValueError: if `n <= M` (the thesis' requirement for a meaningful
            rank: with at most `M` samples the rank is capped by the samples,
            not by the units), or the input is not a finite 2-D array.
    """
    values = _check_matrix(activations, "activations")
    n, width = values.shape
    if n <= width:
        raise ValueError(
            f"activations has {n} rows for {width} units; effective_dimension needs more "
            f"rows than units (n > M). Record more samples (a buffer larger than the width)."
        )
    # σ(H / sqrt(n)) > ε  ⇔  σ(H) > ε·sqrt(n): no scaled copy of the buffer.
    return effective_rank(values, check_epsilon(epsilon) * np.sqrt(n)) / width


def orthogonality_gap(activations):
    """φ_OG (eq. 29): `1 - ‖ HᵀH / ‖H‖²_F − I_n / n ‖_F` with `H` of shape (M, n).

    Both matrices have trace 1, so the distance is 0 when the samples'
    activation vectors are orthogonal with equal norms (φ_OG = 1) and close to
    1 when every sample points the same way. Computed through the `M × M`
    Gram matrix, so the `n × n` matrix is never formed. The thesis notes the
    value depends on the width: with `M` equal singular values it is
    `1 - sqrt(1/M - 1/n)`.

    Args:
        activations: array `(n, M)`, one row per sample, one column per unit.
            For convolutions each row is one spatial position of one sample
            (the taps record positions, not whole samples), so positions play
            the role of samples here.

    Returns:
        A float in [0, 1]; all-zero activations give 0 (no orthogonality).
    """
    values = _check_matrix(activations, "activations")
    n = values.shape[0]
    if n < 1:
        raise ValueError("activations has no rows; expected at least one sample.")
    total = float(np.sum(values * values))
    if total == 0.0:
        return 0.0
    gram = values.T @ values
    squared = float(np.sum(gram * gram)) / total**2 - 1.0 / n
    return float(1.0 - np.sqrt(max(squared, 0.0)))


def weight_effective_dimension(weights, epsilon=_DEFAULT_EPSILON, samples=1):
    """Eq. 30: the ε-numerical rank of `W / sqrt(samples)` divided by the width.

    Args:
        weights: fan-in matrix `(M, fan_in)`: one row per unit (its kernel
            column and, if any, its bias). See `flatten_kernel`.
        epsilon: singular-value threshold.
        samples: the `n` of eq. 30. The thesis writes the same `1/sqrt(n)`
            scaling as for activations although weights have no samples;
            its experiments use the activation buffer size. `1` means no
            scaling.

    Returns:
        A float in [0, 1] (the rank cannot exceed `min(M, fan_in)`).
    """
    values = _check_matrix(np.asarray(weights).T, "weights").T
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples={samples!r} is not allowed; expected an int >= 1.")
    return effective_rank(values / np.sqrt(samples), epsilon) / values.shape[0]


def flatten_activations(activations):
    """`(..., M)` activations → `(rows, M)`: every leading index becomes a row.

    For a convolution's `(n, H, W, M)` output this is the thesis' flattening
    to `M × (H·W·n)` (transposed), which keeps φ_ED relative to the number
    of channels.
    """
    array = np.asarray(activations)
    if array.ndim < 2:
        raise ValueError(f"activations has shape {array.shape}; expected at least 2 dimensions.")
    return array.reshape(-1, array.shape[-1])


def flatten_kernel(kernel, bias=None):
    """A kernel `(..., fan_in_channels, M)` (and bias `(M,)`) → fan-in matrix `(M, fan_in)`.

    Dense `(d, M)` gives `(M, d)`; Conv2D `(k, k, C, M)` gives
    `(M, k·k·C)` in `(k, k, C)` order, the thesis' `M × (M_{l-1}+1) k k`
    flattening. A bias adds one last column.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim < 2:
        raise ValueError(f"kernel has shape {kernel.shape}; expected at least 2 dimensions.")
    matrix = np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)
    if bias is not None:
        bias = np.asarray(bias).reshape(-1, 1)
        if bias.shape[0] != matrix.shape[0]:
            raise ValueError(
                f"bias has {bias.shape[0]} entries for a kernel with {matrix.shape[0]} units."
            )
        matrix = np.concatenate([matrix, bias], axis=1)
    return matrix


METRICS = {
    "effective_dimension": effective_dimension,
    "orthogonality_gap": orthogonality_gap,
}


def get(name):
    """The activation metric called `name` (`"effective_dimension"` or `"orthogonality_gap"`)."""
    if callable(name):
        return name
    if not isinstance(name, str) or name not in METRICS:
        raise ValueError(
            f"metric={name!r} is not a known orthogonality metric; expected one of "
            f"{sorted(METRICS)} or a callable taking (rows, units) activations."
        )
    return METRICS[name]
