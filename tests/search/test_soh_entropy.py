"""Histogram entropy (eq. 2) against a direct numpy computation."""

import numpy as np
import pytest

from keras_grow.search import histogram_entropy


def _direct(values, bins, base):
    values = np.asarray(values, dtype="float64").ravel()
    counts, _ = np.histogram(values, bins=bins, range=(values.min(), values.max()))
    p = counts / counts.sum()
    p = p[p > 0]
    return -np.sum(p * np.log(p)) / np.log(base)


@pytest.mark.parametrize("bins", [2, 7, 100])
@pytest.mark.parametrize("base", [2.0, np.e])
def test_matches_numpy_histogram(bins, base):
    rng = np.random.default_rng(bins)
    codes = np.maximum(rng.normal(0.3, 1.0, size=(500, 16)), 0.0) * 3.7 + 1.25
    assert histogram_entropy(codes, bins=bins, base=base) == pytest.approx(
        _direct(codes, bins, base), rel=1e-9
    )


def test_known_values():
    # Evenly spread values fill every bin equally: log2(bins) bits.
    assert histogram_entropy(np.arange(1000.0), bins=100) == pytest.approx(np.log2(100))
    # Two equally likely values: 1 bit, wherever they are.
    assert histogram_entropy([5.0, -2.0] * 50, bins=100) == pytest.approx(1.0)
    # A dead unit (constant activity) carries nothing.
    assert histogram_entropy(np.zeros((10, 4)), bins=100) == 0.0
    # Scale and shift invariant (min-max scaled before binning).
    x = np.random.default_rng(0).random((200, 5))
    assert histogram_entropy(3 * x + 9) == pytest.approx(histogram_entropy(x))


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"bins": 1}, ValueError, ["bins=1", ">= 2"]),
        ({"bins": 2.5}, TypeError, ["bins=2.5"]),
        ({"base": 1}, ValueError, ["base=1"]),
        ({"activations": []}, ValueError, ["empty"]),
        ({"activations": [0.0, np.nan]}, ValueError, ["NaN"]),
    ],
)
def test_bad_arguments(kwargs, error, words):
    arguments = {"activations": [0.0, 1.0], **kwargs}
    with pytest.raises(error) as info:
        histogram_entropy(**arguments)
    for word in words:
        assert word in str(info.value)
