"""Tests for keras_grow.datasets.pipelines.as_dataset."""

import numpy as np
import pytest

from keras_grow.datasets import as_dataset


def epoch_labels(dataset):
    return np.concatenate([batch[1].numpy() for batch in dataset])


def test_batches_in_order_without_shuffle():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    batches = list(as_dataset(x, y, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert [len(b[0]) for b in as_dataset(x, y, batch_size=4, drop_remainder=True)] == [4, 4]


def test_inputs_only():
    batches = list(as_dataset(np.zeros((5, 2), dtype=np.float32), batch_size=2))
    assert [tuple(b.shape) for b in batches] == [(2, 2), (2, 2), (1, 2)]


def test_shuffle_is_deterministic_per_seed_and_reshuffles_each_epoch():
    x = np.zeros((64, 1), dtype=np.float32)
    y = np.arange(64)
    first = as_dataset(x, y, batch_size=16, shuffle=True, seed=1)
    again = as_dataset(x, y, batch_size=16, shuffle=True, seed=1)
    other = as_dataset(x, y, batch_size=16, shuffle=True, seed=2)
    epoch_one, epoch_two = epoch_labels(first), epoch_labels(first)
    np.testing.assert_array_equal(epoch_one, epoch_labels(again))
    np.testing.assert_array_equal(np.sort(epoch_one), y)
    assert not np.array_equal(epoch_one, y)
    assert not np.array_equal(epoch_one, epoch_two)
    assert not np.array_equal(epoch_one, epoch_labels(other))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"batch_size": 0}, ValueError, r"batch_size=0 is invalid"),
        ({"batch_size": 8.0}, TypeError, r"batch_size=8\.0"),
        ({"shuffle": "yes"}, TypeError, r"shuffle='yes'"),
        ({"seed": -3}, ValueError, r"seed=-3"),
    ],
)
def test_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        as_dataset(np.zeros((4, 1)), np.zeros(4), **kwargs)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match=r"len\(x\)=4 and len\(y\)=3"):
        as_dataset(np.zeros((4, 1)), np.zeros(3))
