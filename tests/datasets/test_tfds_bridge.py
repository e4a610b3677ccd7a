"""Tests for keras_grow.datasets.tfds_bridge, on TFDS mock data only (never the network)."""

import numpy as np
import pytest
import tensorflow_datasets
from tensorflow_datasets.core.utils import gcs_utils

from keras_grow.datasets import OFFLINE_LOADERS, tfds


@pytest.fixture
def offline(no_network, monkeypatch):
    monkeypatch.setattr(gcs_utils, "_is_gcs_disabled", True)
    return no_network


def test_mock_mnist_as_numpy(offline):
    with tensorflow_datasets.testing.mock_data(num_examples=12):
        x, y = tfds("mnist", split="train")
    assert x.shape == (12, 28, 28, 1) and x.dtype == np.uint8
    assert y.shape == (12,) and y.dtype == np.int64
    assert y.min() >= 0 and y.max() <= 9


def test_mock_mnist_list_of_splits_and_dataset(offline):
    with tensorflow_datasets.testing.mock_data(num_examples=5):
        (x_train, y_train), (x_test, y_test) = tfds("mnist", split=["train", "test"])
        dataset = tfds("mnist", split="test", as_numpy=False)
        pairs = list(dataset.take(2))
    assert x_train.shape == x_test.shape == (5, 28, 28, 1) and y_test.shape == (5,)
    assert len(pairs) == 2 and tuple(pairs[0][0].shape) == (28, 28, 1)


def test_unprepared_dataset_names_the_offline_loaders(offline, tmp_path):
    with pytest.raises(RuntimeError, match=r"name='mnist'.*download=False") as caught:
        tfds("mnist", data_dir=str(tmp_path))
    assert all(loader in str(caught.value) for loader in OFFLINE_LOADERS)


def test_unknown_dataset_is_a_value_error_naming_the_argument(offline):
    with pytest.raises(ValueError, match=r"name='no_such_dataset_xyz'.*mnist_5k"):
        tfds("no_such_dataset_xyz")


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"name=3"):
        tfds(3)
    with pytest.raises(TypeError, match=r"as_supervised=False cannot be set"):
        tfds("mnist", as_supervised=False)
    with pytest.raises(TypeError, match=r"batch_size=-1 cannot be set"):
        tfds("mnist", batch_size=-1)
