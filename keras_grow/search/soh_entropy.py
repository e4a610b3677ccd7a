"""Histogram (binning) estimate of the Shannon entropy of hidden activity."""

import numbers

import numpy as np


def check_bins(bins):
    """Validate a histogram bin count (int >= 2) and return it as an int."""
    if not isinstance(bins, numbers.Integral) or isinstance(bins, bool):
        raise TypeError(f"bins={bins!r} must be an integer >= 2.")
    if bins < 2:
        raise ValueError(f"bins={bins!r} must be an integer >= 2.")
    return int(bins)


def histogram_entropy(activations, bins=100, base=2.0):
    """Shannon entropy `H = -sum_i P_i log P_i` of binned activations (eq. 2).

    All values (every sample and every hidden unit together, as in the
    paper's code) are min-max scaled to [0, 1] and counted in `bins` equal
    bins; `P_i` is the fraction of values in bin `i` and empty bins add
    nothing. Constant activity (e.g. a dead ReLU unit) has entropy 0.

    Args:
        activations: array of any shape, e.g. `(samples, hidden)`.
        bins: number of bins, int >= 2 (the paper uses 100).
        base: logarithm base; 2 gives bits (at most `log2(bins)`).

    Returns:
        The entropy, a Python float.

    Example:

    >>> round(histogram_entropy([0.0, 1.0, 0.0, 1.0], bins=10), 6)
    1.0
    """
    bins = check_bins(bins)
    if not isinstance(base, numbers.Real) or base <= 0 or base == 1:
        raise ValueError(f"base={base!r} must be a positive number other than 1.")
    values = np.asarray(activations, dtype="float64").reshape(-1)
    if values.size == 0:
        raise ValueError("activations is empty: the entropy of no values is undefined.")
    if not np.all(np.isfinite(values)):
        raise ValueError("activations holds NaN or infinite values.")
    low, high = values.min(), values.max()
    if high <= low:
        return 0.0
    scaled = (values - low) / (high - low)
    counts, _ = np.histogram(scaled, bins=bins, range=(0.0, 1.0))
    p = counts[counts > 0] / values.size
    return float(-(p * np.log(p)).sum() / np.log(base))
