import numpy as np
import pytest

from keras_grow.growth import metrics


def _rank_deficient(rng, n=200, width=12, rank=7):
    basis = rng.normal(size=(n, rank))
    return basis @ rng.normal(size=(rank, width))


def test_effective_dimension_matches_numpy_svd():
    rng = np.random.default_rng(0)
    for h in (rng.normal(size=(300, 20)), _rank_deficient(rng), np.abs(rng.normal(size=(64, 9)))):
        singular = np.linalg.svd(h / np.sqrt(len(h)), compute_uv=False)
        expected = np.sum(singular > 0.01) / h.shape[1]
        assert metrics.effective_dimension(h, 0.01) == pytest.approx(expected)
    assert metrics.effective_dimension(_rank_deficient(rng), 0.01) == pytest.approx(7 / 12)


def test_effective_dimension_threshold_is_on_scaled_singular_values():
    n = 100
    orthonormal, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(n, 3)))
    h = orthonormal * np.array([1.0, 0.014, 0.005]) * np.sqrt(n)  # sigma(H / sqrt(n))
    assert metrics.effective_dimension(h, epsilon=0.01) == pytest.approx(2 / 3)
    assert metrics.effective_dimension(h, epsilon=0.001) == pytest.approx(1.0)
    assert metrics.effective_dimension(h, epsilon=0.02) == pytest.approx(1 / 3)


def test_effective_dimension_degenerate_cases():
    assert metrics.effective_dimension(np.zeros((10, 4))) == 0.0
    with pytest.raises(ValueError, match="more rows than units"):
        metrics.effective_dimension(np.ones((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.effective_dimension(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        metrics.effective_dimension(np.ones(5))
    with pytest.raises(ValueError, match="epsilon=0"):
        metrics.effective_dimension(np.ones((5, 2)), epsilon=0)


def test_orthogonality_gap_matches_the_direct_n_by_n_formula():
    rng = np.random.default_rng(1)
    for h in (
        rng.normal(size=(30, 8)),
        np.abs(rng.normal(size=(12, 40))),
        _rank_deficient(rng, 25),
    ):
        gram = h @ h.T / np.sum(h**2)  # thesis: H^T H / ||H||_F^2 with H of shape (M, n)
        expected = 1 - np.linalg.norm(gram - np.eye(len(h)) / len(h))
        assert metrics.orthogonality_gap(h) == pytest.approx(expected, abs=1e-10)


def test_orthogonality_gap_extremes_and_zeros():
    assert metrics.orthogonality_gap(np.eye(5, 8) * 3.0) == pytest.approx(1.0)  # orthogonal samples
    same = np.ones((6, 3))
    assert metrics.orthogonality_gap(same) == pytest.approx(1 - np.sqrt(1 - 1 / 6))
    assert metrics.orthogonality_gap(np.zeros((6, 3))) == 0.0
    width = 4
    equal = np.kron(np.eye(width), np.ones((5, 1)))  # 20 samples, 4 equal singular values
    assert metrics.orthogonality_gap(equal) == pytest.approx(1 - np.sqrt(1 / width - 1 / 20))


def test_weight_effective_dimension_and_samples_scaling():
    rng = np.random.default_rng(2)
    weights = rng.normal(size=(6, 20)) * 0.05
    singular = np.linalg.svd(weights, compute_uv=False)
    for samples in (1, 100, 1568):
        expected = np.sum(singular / np.sqrt(samples) > 0.01) / 6
        assert metrics.weight_effective_dimension(weights, 0.01, samples) == pytest.approx(expected)
    wide = rng.normal(size=(30, 5))  # more units than inputs: rank <= 5
    assert metrics.weight_effective_dimension(wide) == pytest.approx(5 / 30)
    with pytest.raises(ValueError, match="samples=0"):
        metrics.weight_effective_dimension(weights, samples=0)


def test_flattening_for_convolutions():
    activations = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    rows = metrics.flatten_activations(activations)
    assert rows.shape == (24, 5)
    np.testing.assert_array_equal(rows[7], activations[0, 1, 3])
    kernel = np.arange(3 * 3 * 2 * 4).reshape(3, 3, 2, 4)
    matrix = metrics.flatten_kernel(kernel, bias=np.arange(4))
    assert matrix.shape == (4, 19)
    np.testing.assert_array_equal(matrix[2, :18], kernel[..., 2].ravel())
    assert matrix[2, -1] == 2


def test_unknown_metric_names_the_value_and_the_choices():
    with pytest.raises(ValueError, match="metric='rank'.*effective_dimension.*orthogonality_gap"):
        metrics.get("rank")


def test_top_singular_values_agree_with_the_full_spectrum():
    rng = np.random.default_rng(5)
    spectrum = np.concatenate([[9.0, 7.0, 5.0], np.linspace(1.0, 0.01, 297)])
    left, _ = np.linalg.qr(rng.normal(size=(300, 300)))
    right, _ = np.linalg.qr(rng.normal(size=(400, 300)))
    matrix = left @ np.diag(spectrum) @ right.T  # 300 x 400: the Lanczos path
    top = metrics.top_singular_values(matrix, threshold=4.0)
    np.testing.assert_allclose(top[top > 4.0], [9.0, 7.0, 5.0], rtol=1e-6)  # float32 Lanczos
    assert metrics.top_singular_values(matrix, threshold=50.0)[0] == pytest.approx(9.0, rel=1e-6)
    everything = metrics.top_singular_values(matrix, threshold=0.0)  # falls back to exact
    assert np.sum(everything > 0.005) == 300
    six = np.concatenate([[9.0, 8.0, 7.0, 6.0, 5.0, 4.0], np.linspace(1.0, 0.01, 294)])
    top = metrics.top_singular_values(left @ np.diag(six) @ right.T, threshold=3.0)
    np.testing.assert_allclose(top[top > 3.0], six[:6], rtol=1e-6)  # more than the first k
    small = metrics.top_singular_values(np.diag([3.0, 2.0, 1.0]), threshold=1.5)
    np.testing.assert_allclose(small, [3.0, 2.0, 1.0])


@pytest.mark.parametrize("seed", range(6))
def test_eigenvalues_above_counts_like_the_spectrum_for_indefinite_matrices(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 60))
    matrix = rng.normal(size=(size, size))
    symmetric = matrix + matrix.T  # indefinite: Bunch-Kaufman picks 2x2 pivots too
    spectrum = np.linalg.eigvalsh(symmetric)
    for threshold in (-3.0, 0.0, 0.7, 5.0):
        if np.min(np.abs(spectrum - threshold)) < 1e-9:
            continue
        assert metrics.eigenvalues_above(symmetric, threshold) == np.sum(spectrum > threshold)


def test_effective_rank_matches_svd_on_rank_deficient_activations():
    rng = np.random.default_rng(0)
    base = np.maximum(rng.normal(size=(300, 40)), 0.0)
    activations = np.concatenate([base, base[:, :10] * 2.0, np.zeros((300, 5))], axis=1)
    values = np.linalg.svd(activations, compute_uv=False)
    for epsilon in (1e-3, 1.0, 5.0, 12.0):
        assert metrics.effective_rank(activations, epsilon) == np.sum(values > epsilon)
    assert metrics.effective_rank(np.zeros((0, 3))) == 0
    assert metrics.eigenvalues_above(np.zeros((0, 0)), 0.0) == 0
