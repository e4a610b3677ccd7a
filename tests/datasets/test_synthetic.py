"""Tests for keras_grow.datasets.synthetic (concentric_spheres, independent_features)."""

import numpy as np
import pytest

from keras_grow.datasets import concentric_spheres, independent_features


def test_spheres_defaults_match_golkar_setting():
    (x_train, y_train), (x_test, y_test) = concentric_spheres()
    assert x_train.shape == (4000, 10) and x_test.shape == (1000, 10)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y_train), [2000, 2000])
    np.testing.assert_array_equal(np.bincount(y_test), [500, 500])
    for x, y in ((x_train, y_train), (x_test, y_test)):
        radius = np.linalg.norm(x.astype(np.float64), axis=1)
        np.testing.assert_allclose(radius, np.array([1.0, 1.3])[y], atol=1e-6)


def test_spheres_directions_are_uniform():
    (x, _), _ = concentric_spheres(dim=3, n_train=20000, n_test=1, seed=1)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(unit.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(unit.T @ unit / len(unit), np.eye(3) / 3, atol=0.02)


def test_spheres_with_width_fill_shell_volumes_uniformly():
    dim = 3
    (x, y), _ = concentric_spheres(
        dim=dim, n_train=30000, n_test=1, radii=(1.0, 2.0, 3.0), shell_width=0.5, seed=2
    )
    np.testing.assert_array_equal(np.bincount(y), [10000] * 3)
    radius = np.linalg.norm(x.astype(np.float64), axis=1)
    for label, centre in enumerate((1.0, 2.0, 3.0)):
        r = radius[y == label]
        inner, outer = centre - 0.25, centre + 0.25
        assert r.min() >= inner - 1e-5 and r.max() <= outer + 1e-5
        # Volume-uniform: r**dim is uniform between the bounds.
        scaled = (r**dim - inner**dim) / (outer**dim - inner**dim)
        assert abs(scaled.mean() - 0.5) < 0.01 and abs(scaled.var() - 1 / 12) < 0.005


def test_spheres_seed_determinism():
    first = concentric_spheres(n_train=50, n_test=10, seed=3)
    again = concentric_spheres(n_train=50, n_test=10, seed=3)
    other = concentric_spheres(n_train=50, n_test=10, seed=4)
    np.testing.assert_array_equal(first[0][0], again[0][0])
    np.testing.assert_array_equal(first[1][1], again[1][1])
    assert not np.array_equal(first[0][0], other[0][0])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"dim": 0}, ValueError, r"dim=0 is invalid; expected an integer >= 1"),
        ({"n_train": -5}, ValueError, r"n_train=-5"),
        ({"n_test": 0}, ValueError, r"n_test=0"),
        ({"n_train": 10.0}, TypeError, r"n_train=10\.0"),
        ({"radii": (1.0,)}, ValueError, r"radii=\(1\.0,\) is invalid; expected at least two"),
        ({"radii": (2.0, 1.0)}, ValueError, r"radii=\(2\.0, 1\.0\)"),
        ({"radii": 1.0}, TypeError, r"radii=1\.0"),
        ({"shell_width": -0.1}, ValueError, r"shell_width=-0\.1"),
        ({"shell_width": 0.4}, ValueError, r"shell_width=0\.4 is too large for radii"),
    ],
)
def test_spheres_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        concentric_spheres(**kwargs)


@pytest.mark.parametrize("n_independent", [1, 8, 32, 64])
def test_independent_features_rank_equals_n_independent(n_independent):
    (x_train, y_train), (x_test, y_test) = independent_features(n_independent=n_independent)
    assert x_train.shape == (4500, 64) and x_test.shape == (500, 64)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    x = np.concatenate([x_train, x_test]).astype(np.float64)
    singular = np.linalg.svd(x, compute_uv=False)
    # n_independent directions carry the data; the rest is float32 rounding.
    assert singular[n_independent - 1] / singular[0] > 1e-3
    basis = x[:, :n_independent]
    if n_independent < 64:
        assert singular[n_independent] / singular[0] < 1e-5
        # The first n_independent columns are the independent ones and explain the rest.
        coefficients, *_ = np.linalg.lstsq(basis, x[:, n_independent:], rcond=None)
        residual = x[:, n_independent:] - basis @ coefficients
        assert np.abs(residual).max() < 1e-4 * np.abs(x).max()
    independent = np.corrcoef(basis, rowvar=False) if n_independent > 1 else np.ones((1, 1))
    assert np.abs(independent - np.eye(n_independent)).max() < 0.1


def test_independent_features_labels_threshold_the_noisy_sum():
    (x_train, y_train), (x_test, y_test) = independent_features(n_independent=16, seed=1)
    x = np.concatenate([x_train, x_test]).astype(np.float64)
    y = np.concatenate([y_train, y_test])
    assert set(np.unique(y)) == {0, 1} and 0.4 < y.mean() < 0.6
    sums = x.sum(axis=1)
    agreement = ((sums > sums.mean()) == y).mean()
    assert 0.9 < agreement < 1.0  # 10% noise flips only samples near the threshold
    (_, clean), _ = independent_features(n_independent=16, seed=1, noise=0.0)
    np.testing.assert_array_equal(clean, (x[:4500].sum(axis=1) > sums.mean()))


def test_independent_features_defaults_follow_thesis_and_seed():
    (x_train, y_train), (x_test, _) = independent_features()
    assert x_train.shape == (4500, 64) and x_test.shape == (500, 64)  # 5000 samples, 10% test
    assert np.linalg.matrix_rank(x_train) == 32
    (x_again, _), _ = independent_features()
    (x_other, _), _ = independent_features(seed=1)
    np.testing.assert_array_equal(x_train, x_again)
    assert not np.array_equal(x_train, x_other)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"n_independent": 65}, ValueError, r"n_independent=65 .* n_features=64"),
        ({"n_independent": 0}, ValueError, r"n_independent=0"),
        ({"n_features": 0}, ValueError, r"n_features=0"),
        ({"n_samples": 1}, ValueError, r"n_samples=1"),
        ({"noise": -1}, ValueError, r"noise=-1"),
        ({"test_size": 1.0}, ValueError, r"test_size=1\.0"),
        ({"n_independent": "8"}, TypeError, r"n_independent='8'"),
    ],
)
def test_independent_features_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        independent_features(**kwargs)
