"""Tests for keras_grow.datasets.mnist1d_generated (MNIST-1D generated offline)."""

import random

import numpy as np
import pytest

from keras_grow.datasets import mnist1d


@pytest.fixture(scope="module")
def plain():
    return mnist1d()


@pytest.fixture(scope="module")
def shuffled():
    return mnist1d(shuffle=True)


def test_shapes_dtypes_labels_and_normalisation(plain):
    (x_train, y_train), (x_test, y_test) = plain
    assert x_train.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10)) and y_test.max() <= 9
    counts = np.bincount(np.concatenate([y_train, y_test]))
    np.testing.assert_array_equal(counts, [500] * 10)
    everything = np.concatenate([x_train, x_test])
    assert abs(everything.mean()) < 1e-3 and abs(everything.std() - 1.0) < 1e-3


def test_shuffled_is_one_fixed_permutation_of_plain(plain, shuffled):
    (x_train, y_train), (x_test, y_test) = plain
    (s_train, s_y_train), (s_test, s_y_test) = shuffled
    np.testing.assert_array_equal(y_train, s_y_train)
    np.testing.assert_array_equal(y_test, s_y_test)
    # Recover the permutation column by column from the training set ...
    permutation = np.array(
        [np.flatnonzero((x_train == s_train[:, [j]]).all(axis=0))[0] for j in range(40)]
    )
    assert sorted(permutation) == list(range(40))
    assert not np.array_equal(permutation, np.arange(40))
    # ... and check it explains both splits exactly.
    np.testing.assert_array_equal(x_train[:, permutation], s_train)
    np.testing.assert_array_equal(x_test[:, permutation], s_test)


def test_matches_the_package_own_shuffled_variant(shuffled):
    from mnist1d.data import get_dataset_args, make_dataset

    state = np.random.get_state()  # noqa: NPY002 - the package uses the global RNG
    args = get_dataset_args()
    args.shuffle_seq = True
    reference = make_dataset(args)
    np.random.set_state(state)  # noqa: NPY002
    np.testing.assert_array_equal(shuffled[0][0], reference["x"].astype(np.float32))
    np.testing.assert_array_equal(shuffled[1][1], reference["y_test"])


def test_regeneration_is_identical_and_restores_global_random_state(shuffled):
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    expected_numpy = np.random.random()  # noqa: NPY002
    expected_python = random.random()
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    (again, _), _ = mnist1d(shuffle=True, cache=False)
    assert np.random.random() == expected_numpy  # noqa: NPY002
    assert random.random() == expected_python
    np.testing.assert_array_equal(again, shuffled[0][0])  # same data, same permutation


def test_seed_changes_data_and_cache_file(plain, isolated_cache):
    (other, _), _ = mnist1d(seed=7)
    assert not np.array_equal(other, plain[0][0])
    names = sorted(path.name for path in isolated_cache.glob("mnist1d_*.npz"))
    assert any("seed42" in name for name in names) and any("seed7" in name for name in names)


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"shuffle='yes'"):
        mnist1d(shuffle="yes")
    with pytest.raises(ValueError, match=r"seed=-1"):
        mnist1d(seed=-1)
