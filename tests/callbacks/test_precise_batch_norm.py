import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_grow.applications import EquivariantCNN
from keras_grow.callbacks import PreciseBatchNorm, recalibrate_batch_norm
from keras_grow.layers import GroupBatchNormalization


def _images(n, seed=0, size=16):
    return np.random.default_rng(seed).random((n, size, size, 1), dtype="float32")


def _norm_model():
    inputs = keras.Input((3, 3, 8))
    x = GroupBatchNormalization("C4", momentum=0.99, name="gbn")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.99, name="bn")(x)
    return keras.Model(inputs, x)


def test_moving_statistics_become_the_average_over_batches():
    model = _norm_model()
    rng = np.random.default_rng(1)
    batches = [rng.normal(3.0 * k, 1.0 + k, (5, 3, 3, 8)).astype("float32") for k in range(3)]
    used = recalibrate_batch_norm(model, tf.data.Dataset.from_tensor_slices(batches))
    assert used == 3
    gbn, bn = model.get_layer("gbn"), model.get_layer("bn")
    orbits = [b.reshape(-1, 2, 4) for b in batches]
    np.testing.assert_allclose(
        gbn.moving_mean.numpy(), np.mean([o.mean(axis=(0, 2)) for o in orbits], axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        gbn.moving_variance.numpy(),
        np.mean([o.var(axis=(0, 2)) for o in orbits], axis=0),
        rtol=1e-5,
    )
    # Momenta are restored.
    assert gbn.momentum == 0.99 and bn.momentum == 0.99


def test_steps_limits_the_batches_used():
    model = _norm_model()
    x = np.random.default_rng(2).normal(size=(40, 3, 3, 8)).astype("float32")
    assert recalibrate_batch_norm(model, x, steps=2, batch_size=10) == 2
    np.testing.assert_allclose(
        model.get_layer("gbn").moving_mean.numpy(),
        x[:20].reshape(2, -1, 2, 4).mean(axis=(1, 3)).mean(axis=0),
        rtol=1e-5,
    )


def test_inference_matches_training_mode_on_the_calibration_batch():
    # Regression test for the lagging moving averages of tutorial 08: a D4
    # backbone after a few large SGD steps predicts very differently in
    # inference mode; recalibrated on one batch, inference mode on that batch
    # equals training mode exactly.
    keras.utils.set_random_seed(0)
    model = EquivariantCNN("D4", input_shape=(16, 16, 1), width=8, dense_units=8)
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    x, y = _images(64), np.arange(64) % 10
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    weights = [w.numpy() for w in model.trainable_weights]
    before = model(x[:32], training=False).numpy()
    recalibrate_batch_norm(model, x[:32], batch_size=32)
    after = model(x[:32], training=False).numpy()
    expected = model(x[:32], training=True).numpy()
    np.testing.assert_allclose(after, expected, atol=1e-5)
    assert np.abs(before - expected).max() > 1e-3  # the lag was real
    for old, new in zip(weights, model.trainable_weights):
        np.testing.assert_array_equal(old, new.numpy())


def test_callback_recalibrates_at_the_end_of_fit_and_before_validation():
    keras.utils.set_random_seed(0)
    model = EquivariantCNN("C4", input_shape=(16, 16, 1), width=8, dense_units=8)
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    x, y = _images(64), np.arange(64) % 10
    callback = PreciseBatchNorm(x[:32], steps=1, batch_size=32)
    calls = []
    original = callback.recalibrate
    callback.recalibrate = lambda: calls.append(1) or original()
    model.fit(
        x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y), callbacks=[callback]
    )
    assert len(calls) == 2  # once before each epoch's validation, none at the end (fresh)
    np.testing.assert_allclose(
        model(x[:32], training=False).numpy(), model(x[:32], training=True).numpy(), atol=1e-5
    )


def test_bad_arguments_raise_and_leave_statistics_untouched():
    model = _norm_model()
    moving = model.get_layer("gbn").moving_mean.numpy().copy()
    x = np.ones((4, 3, 3, 8), "float32")
    with pytest.raises(ValueError, match="steps"):
        recalibrate_batch_norm(model, x, steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        recalibrate_batch_norm(model, x, batch_size=0)
    with pytest.raises(ValueError, match="no batch"):
        recalibrate_batch_norm(model, x[:0])
    with pytest.raises(ValueError, match="steps"):
        PreciseBatchNorm(x, steps=-1)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no trainable BatchNormalization"):
        recalibrate_batch_norm(plain, np.ones((2, 3), "float32"))
    np.testing.assert_array_equal(model.get_layer("gbn").moving_mean.numpy(), moving)
