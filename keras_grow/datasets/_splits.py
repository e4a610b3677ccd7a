"""Seeded, stratified train/test splits in plain NumPy."""

import numpy as np


def stratified_split(labels, test_count, rng):
    """Return `(train_indices, test_indices)` with class proportions preserved.

    Each class gives `count * test_count / len(labels)` samples to the test
    split, rounded down; the samples left over go to the classes with the
    largest rounding remainders (ties broken at random by `rng`). Both index
    arrays are shuffled, so classes are interleaved.

    Args:
        labels: 1-D integer array of class labels.
        test_count: number of test samples, between 1 and `len(labels) - 1`.
        rng: a `numpy.random.Generator`.

    Returns:
        Two 1-D `int64` index arrays that together cover every sample once.
    """
    labels = np.asarray(labels)
    _, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse)
    total = len(labels)
    per_class, remainders = np.divmod(counts * test_count, total)
    leftover = test_count - int(per_class.sum())
    order = np.lexsort((rng.random(len(counts)), -remainders))
    per_class[order[:leftover]] += 1

    train_parts, test_parts = [], []
    for class_index, n_test in enumerate(per_class):
        members = rng.permutation(np.flatnonzero(inverse == class_index))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train_indices = rng.permutation(np.concatenate(train_parts))
    test_indices = rng.permutation(np.concatenate(test_parts))
    return train_indices.astype(np.int64), test_indices.astype(np.int64)
