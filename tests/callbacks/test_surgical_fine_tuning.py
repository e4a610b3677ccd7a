import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_grow
from keras_grow.callbacks import SurgicalFineTuning


def _model(seed=0, dynamic=True):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    x = keras.layers.Dense(4, activation="relu", name="h")(inputs)
    outputs = keras.layers.Dense(3, name="o")(x)
    model = keras.Model(inputs, outputs)
    return keras_grow.DynamicModel(model, seed=seed) if dynamic else model


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((8, 5)).astype("float32"), rng.integers(0, 3, 8)


def _expected_scales(model, x, y):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    rgn = {}
    for name in ("h", "o"):
        layer = model.get_layer(name)
        g = [g for g, v in zip(grads, model.trainable_variables) if v.path.startswith(name + "/")]
        w = [keras.ops.convert_to_numpy(v) for v in layer.trainable_weights]
        rgn[name] = np.sqrt(sum(float(np.sum(np.square(a))) for a in g)) / np.sqrt(
            sum(float(np.sum(np.square(a))) for a in w)
        )
    largest = max(rgn.values())
    return {k: v / largest for k, v in rgn.items()}, [np.asarray(g) for g in grads]


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("dynamic", [False, True])
def test_sgd_step_of_each_layer_is_lr_times_its_rgn_scale(jit_compile, dynamic):
    model = _model(dynamic=dynamic)
    model.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    x, y = _batch()
    scales, grads = _expected_scales(model, x, y)
    assert min(scales.values()) < 0.99  # the two layers really get different rates
    before = [v.numpy().copy() for v in model.trainable_variables]
    callback = SurgicalFineTuning()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[callback])
    for name, value in callback.scales().items():
        assert value == pytest.approx(scales[name], rel=1e-5)
    for variable, old, grad in zip(model.trainable_variables, before, grads):
        scale = scales[variable.path.split("/")[0]]
        np.testing.assert_allclose(old - variable.numpy(), 0.1 * scale * grad, atol=1e-6)


def test_adam_first_step_has_magnitude_lr_times_scale():
    model = _model()
    model.compile(
        keras.optimizers.Adam(1e-2, epsilon=1e-12),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = _batch()
    scales, grads = _expected_scales(model, x, y)
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[SurgicalFineTuning()])
    for variable, old, grad in zip(model.trainable_variables, before, grads):
        moved = np.abs(old - variable.numpy())[np.abs(grad) > 1e-6]
        scale = scales[variable.path.split("/")[0]]
        np.testing.assert_allclose(moved, 1e-2 * scale, rtol=1e-3)


def test_optimizer_is_restored_after_training_and_logs_scales():
    model = _model()
    model.compile(
        keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x, y = _batch()
    history = model.fit(x, y, verbose=0, callbacks=[SurgicalFineTuning(log_scales=True)])
    assert max(history.history["rgn_scale_h"][-1], history.history["rgn_scale_o"][-1]) == 1.0
    assert "apply" not in model.optimizer.__dict__
    assert "update_step" not in model.optimizer.__dict__
    # a later plain fit takes plain steps
    before = [v.numpy().copy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    model.fit(x, y, batch_size=8, verbose=0, shuffle=False)
    for variable, old, grad in zip(model.trainable_variables, before, grads):
        np.testing.assert_allclose(old - variable.numpy(), 0.1 * grad.numpy(), atol=1e-6)


def test_bad_epsilon():
    with pytest.raises(ValueError, match="epsilon=0"):
        SurgicalFineTuning(epsilon=0)
