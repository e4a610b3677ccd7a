import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_grow
from keras_grow import growth
from keras_grow.applications.growing_mlp import modified_relu
from keras_grow.growth import _model_access


def _model(kind):
    if kind == "dense":
        inputs = keras.Input((5,))
        x = keras.layers.Dense(4, activation=modified_relu, name="p")(inputs)
        x = keras.layers.Dense(3, activation="tanh", name="q")(x)
        shape = (5,)
    else:
        inputs = keras.Input((6, 6, 2))
        x = keras.layers.Conv2D(3, 3, padding="same", activation=modified_relu, name="p")(inputs)
        x = keras.layers.AveragePooling2D(2)(x)
        x = keras.layers.Conv2D(4, 3, padding="same", activation="tanh", name="q")(x)
        x = keras.layers.Flatten()(x)
        shape = (6, 6, 2)
    outputs = keras.layers.Dense(3, name="out")(x)
    model = keras_grow.DynamicModel(inputs, outputs, seed=0)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(8, *shape)).astype("float32"), rng.integers(0, 3, 8)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_auxiliary_gradient_gives_the_fan_in_gradient_of_a_zero_fan_in_unit(kind):
    model, x, y = _model(kind)
    probe = growth.GradientProbe(model, ["p"])(x, y)["p"]
    new = model.add_units(
        "p", 1, initializer=growth.GradMax(), context={"layer": "p", "probe": probe}
    )
    kernel, _ = _model_access.producer_uses(model, "p")
    assert np.all(_model_access.unit_rows(model, kernel)[new[0]] == 0)  # zero fan-in
    fan_out = np.concatenate(
        [_model_access.unit_rows(model, use)[new[0]] for use in probe.fan_out_uses]
    )
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    gradient = tape.gradient(loss, model.get_layer("p").kernel)
    actual = _model_access.unit_rows(model, kernel, gradient.numpy())[new[0]]
    np.testing.assert_allclose(actual, probe.auxiliary_gradient() @ fan_out, rtol=1e-4, atol=1e-6)
    # GradMax's fan-out is the direction that maximises that gradient's norm.
    top = np.linalg.svd(probe.auxiliary_gradient(), compute_uv=False)[0]
    assert np.linalg.norm(actual) == pytest.approx(top * np.linalg.norm(fan_out), rel=1e-4)


def test_unit_gradient_norms_match_the_weight_gradients():
    model, x, y = _model("dense")
    probe = growth.GradientProbe(model, ["p"])(x, y)["p"]
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    layer_p, layer_q = model.get_layer("p"), model.get_layer("q")
    kernel, bias, consumer = tape.gradient(loss, [layer_p.kernel, layer_p.bias, layer_q.kernel])
    fan_in = np.sqrt(np.sum(kernel.numpy() ** 2, axis=0) + bias.numpy() ** 2)
    fan_out = np.linalg.norm(consumer.numpy(), axis=1)
    np.testing.assert_allclose(probe.fan_in_gradient_norms, fan_in, rtol=1e-5)
    np.testing.assert_allclose(probe.unit_gradient_norms, fan_in + fan_out, rtol=1e-5)


def test_probe_leaves_batch_norm_statistics_alone():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="p")(inputs)
    x = keras.layers.BatchNormalization()(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(2, name="out")(x))
    model.compile("sgd", "mse")
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    growth.GradientProbe(model, ["p"])(np.ones((4, 4), "float32") * 3, np.zeros((4, 2), "float32"))
    for old, new in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(old, new.numpy())


@pytest.mark.parametrize("initializer", [growth.Firefly(candidates=8), growth.NeST(candidates=8)])
@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_firefly_and_nest_add_functional_units(initializer, kind):
    model, x, y = _model(kind)
    before = model.predict(x, verbose=0)
    probe = growth.GradientProbe(model, ["p"])(x, y)["p"]
    context = growth.growth_context(model, "p", probe=probe)
    new = model.add_units("p", 2, initializer=initializer, context=context)
    kernel, _ = _model_access.producer_uses(model, "p")
    assert np.all(np.linalg.norm(_model_access.unit_rows(model, kernel)[new], axis=1) > 0)
    change = np.abs(model.predict(x, verbose=0) - before).max()
    assert not initializer.function_preserving
    if isinstance(initializer, growth.Firefly):
        assert change < 1e-2  # split copies and new units with tiny fan-out: O(epsilon)
    else:
        assert change > 1e-4


def test_firefly_split_halves_the_fan_out_of_the_split_unit():
    model, x, y = _model("dense")
    probe = growth.GradientProbe(model, ["p"])(x, y)["p"]
    out_before = _model_access.unit_rows(model, probe.fan_out_uses[0]).copy()
    firefly = growth.Firefly(candidates=1, epsilon=1e-4)
    # A huge split score: candidate new units cannot win.
    probe.fan_out_gradient_norms[:] = 1e6 * np.arange(1, 5)
    model.add_units("p", 1, initializer=firefly, context=growth.growth_context(model, "p", probe))
    out_after = _model_access.unit_rows(model, probe.fan_out_uses[0])
    np.testing.assert_allclose(out_after[3], out_before[3] / 2, rtol=1e-6)  # unit 3 was split
    np.testing.assert_allclose(out_after[4], out_before[3] / 2, rtol=1e-6)  # its copy


def test_residual_groups_are_not_supported_by_gradient_strategies():
    inputs = keras.Input((4,))
    a = keras.layers.Dense(3, name="a")(inputs)
    b = keras.layers.Dense(3, name="b")(a)
    x = keras.layers.Add()([a, b])
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(2)(x))
    with pytest.raises(NotImplementedError, match="residual group"):
        growth.GradientProbe(model, ["a"])
