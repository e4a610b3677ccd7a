"""Tests for keras_grow.datasets._splits.stratified_split."""

import numpy as np

from keras_grow.datasets._splits import stratified_split


def test_split_is_a_partition_with_class_proportions():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, test = stratified_split(labels, 20, np.random.default_rng(0))
    assert len(test) == 20 and len(train) == 80
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    np.testing.assert_array_equal(np.bincount(labels[test]), [10, 6, 3, 1])


def test_split_leftover_goes_to_largest_remainders():
    labels = np.repeat(np.arange(3), [10, 10, 10])
    _, test = stratified_split(labels, 10, np.random.default_rng(1))
    counts = np.bincount(labels[test], minlength=3)
    assert counts.sum() == 10 and counts.max() - counts.min() <= 1


def test_split_is_deterministic_per_generator_seed():
    labels = np.arange(200) % 7
    first = stratified_split(labels, 40, np.random.default_rng(3))
    again = stratified_split(labels, 40, np.random.default_rng(3))
    other = stratified_split(labels, 40, np.random.default_rng(4))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[1], other[1])
