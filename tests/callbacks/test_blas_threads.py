"""Structural callbacks limit NumPy's BLAS threads while they train."""

import keras
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import keras_grow
from keras_grow.callbacks import ScheduledGrowth


def _blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(_blas_threads())


def _fit(*callbacks):
    keras.utils.set_random_seed(0)
    base = keras_grow.applications.GrowingMLP(input_shape=(8,), hidden=(4,), classes=2)
    model = keras_grow.DynamicModel(base, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    model.fit(
        x, (x[:, 0] > 0).astype(int), batch_size=16, epochs=1, verbose=0, callbacks=list(callbacks)
    )


@pytest.fixture
def two_blas_threads():
    if not _blas_threads():
        pytest.skip("NumPy uses no BLAS that threadpoolctl can control")
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def _schedule():
    return ScheduledGrowth(every=2, units=1, max_units=8)


def test_one_blas_thread_during_fit_and_the_old_limit_after(two_blas_threads):
    record, growth = _Record(), _schedule()
    _fit(growth, _schedule(), record)  # two holders share one limit
    assert record.seen and all(set(threads) == {1} for threads in record.seen)
    assert set(_blas_threads()) == {2}
    assert growth.model.widths()["hidden1"] > 4  # the callbacks did their work


def test_blas_threads_none_leaves_numpy_alone(two_blas_threads):
    callback, record = _schedule(), _Record()
    callback.blas_threads = None
    _fit(callback, record)
    assert all(set(threads) == {2} for threads in record.seen)


def test_the_old_limit_comes_back_when_fit_raises(two_blas_threads):
    callback = ScheduledGrowth(every=2, units=1, max_units=2)  # below the width of 4
    with pytest.raises(ValueError, match="max_units"):
        _fit(callback)
    assert set(_blas_threads()) == {2}
