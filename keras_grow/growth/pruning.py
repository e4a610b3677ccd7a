"""Which units to prune: dormant units first, then the most redundant (DYNO).

Maile's thesis, section 7.2, `SELECT_PRUNE(f, l)`: in a ReLU layer every
completely dormant unit (post-activation zero on every buffered row) is
pruned first; then, until the requested number is reached, the unit whose
vector of cosine similarities to the *remaining* units has the largest norm
is removed, one at a time (greedy). Cosine similarities are those of the
units' post-activation columns over the buffered rows (uncentred, as the
thesis normalises post-activations, not their deviations).

Arrays are laid out one row per sample (per sample and spatial position for
convolutions) and one column per unit, as `DynamicModel.activations` returns
them.

Example:

```python
h = model.activations("conv3")                  # (rows, width)
indices = keras_grow.growth.pruning.select_prune(h, count=4)
model.remove_units("conv3", indices)
```
"""

import numbers

import numpy as np


def _check_activations(activations):
    array = np.asarray(activations)
    if array.ndim != 2:
        raise ValueError(
            f"activations has shape {array.shape}; expected a 2-D array (rows, units)."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"activations has dtype {array.dtype}; expected a numeric array.")
    if not np.all(np.isfinite(array)):
        raise ValueError("activations contains NaN or infinite values; expected finite numbers.")
    return array.astype(np.float64, copy=False)


def dormant_units(activations, tolerance=0.0):
    """Indices of the units whose post-activation never exceeds `tolerance` in magnitude.

    For a ReLU layer these are the units that were off on every buffered row.

    Args:
        activations: `(rows, M)` post-activations.
        tolerance: float >= 0; a unit is dormant if `max |h| <= tolerance`.

    Returns:
        Sorted int array of unit indices.
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or tolerance < 0:
        raise ValueError(f"tolerance={tolerance!r} is not allowed; expected a number >= 0.")
    array = _check_activations(activations)
    if array.shape[0] == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(np.abs(array).max(axis=0) <= tolerance)


def cosine_similarities(activations):
    """`(M, M)` cosine similarities of the unit columns (zero for all-zero columns)."""
    array = _check_activations(activations)
    norms = np.linalg.norm(array, axis=0)
    unit = array / np.where(norms > 0, norms, 1.0)
    return unit.T @ unit


def greedy_redundant(activations, count, exclude=()):
    """Greedily pick `count` units, each the one most cosine-similar to the rest.

    At each step, among the units not yet picked (and not in `exclude`, which
    are treated as already removed), the unit whose cosine similarities to
    the other remaining units have the largest L2 norm is picked and removed.

    Returns:
        int array of `count` unit indices in the order they were picked.
    """
    similarities = cosine_similarities(activations)
    width = similarities.shape[0]
    np.fill_diagonal(similarities, 0.0)
    squared = similarities**2
    remaining = np.ones(width, dtype=bool)
    remaining[list(exclude)] = False
    if count > remaining.sum():
        raise ValueError(
            f"count={count} is more than the {int(remaining.sum())} units left to choose from."
        )
    scores = squared[:, remaining].sum(axis=1)
    picked = []
    for _ in range(count):
        ranked = np.where(remaining, scores, -np.inf)
        best = int(np.argmax(ranked))
        picked.append(best)
        remaining[best] = False
        scores -= squared[:, best]
    return np.asarray(picked, dtype=int)


def select_prune(activations, count, prune_dormant=True, tolerance=0.0, min_units=1):
    """DYNO's prune selection: dormant units, then greedy cosine redundancy.

    Args:
        activations: `(rows, M)` post-activations of the layer's units.
        count: int >= 0, the number of units the prune trigger asks for.
        prune_dormant: prune every dormant unit first (thesis: for ReLU layers).
            All dormant units are pruned even if there are more than `count`.
        tolerance: magnitude at or below which a unit counts as dormant.
        min_units: int >= 1 units that always survive; the selection is cut
            to `M - min_units` units.

    Returns:
        int array of unit indices to remove: dormant ones (ascending) first,
        then the greedy picks in order.

    Example:

    ```python
    h = np.random.rand(100, 6)
    h[:, 5] = h[:, 0]            # unit 5 duplicates unit 0
    h[:, 2] = 0.0                # unit 2 is dormant
    select_prune(h, 2)           # array([2, 0]) or array([2, 5])
    ```
    """
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise ValueError(f"count={count!r} is not allowed; expected an int >= 0.")
    if isinstance(min_units, bool) or not isinstance(min_units, numbers.Integral) or min_units < 1:
        raise ValueError(f"min_units={min_units!r} is not allowed; expected an int >= 1.")
    array = _check_activations(activations)
    width = array.shape[1]
    budget = max(0, width - int(min_units))
    dormant = dormant_units(array, tolerance) if prune_dormant else np.zeros(0, dtype=int)
    dormant = dormant[:budget]
    total = min(max(int(count), len(dormant)), budget)
    greedy = greedy_redundant(array, total - len(dormant), exclude=dormant)
    return np.concatenate([dormant, greedy]).astype(int)
