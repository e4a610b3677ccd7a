import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_grow.search import (
    ADMMRegularizer,
    DartsSearchModel,
    ProximityRegularizer,
    darts_regularizers,
)
from keras_grow.search import genotype as genotype_lib

PRIMITIVES = ("none", "skip_connect", "avg_pool_3x3")


@pytest.fixture(scope="module")
def model():
    model = DartsSearchModel(3, channels=4, layers=3, nodes=2, primitives=PRIMITIVES)
    model.build((None, 8, 8, 1))
    rng = np.random.default_rng(0)
    for variable in model.arch_variables:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return model


def projected(model):
    weights = model.arch_weights()
    return {k: genotype_lib.projection(v, PRIMITIVES, 2) for k, v in weights.items()}, weights


def test_proximity_is_c_rho_half_times_the_distance_to_the_projection(model):
    regularizer = ProximityRegularizer(rho=0.1)
    regularizer.build(model)
    masks, weights = projected(model)
    distance = np.sqrt(sum(((weights[k] - masks[k]) ** 2).sum() for k in weights))
    tensors = model.arch_weight_tensors()
    assert float(regularizer(model, tensors)) == 0.0  # c starts at 0
    regularizer.strength.assign(0.4)
    assert float(regularizer(model, tensors)) == pytest.approx(0.4 * 0.05 * distance, rel=1e-5)
    squared = ProximityRegularizer(rho=0.1, squared=True)
    squared.build(model)
    squared.strength.assign(1.0)
    assert float(squared(model, tensors)) == pytest.approx(0.05 * distance**2, rel=1e-5)


def test_proximity_gradient_moves_the_weights_towards_the_discrete_architecture(model):
    regularizer = ProximityRegularizer(rho=1.0)
    regularizer.build(model)
    regularizer.strength.assign(1.0)
    masks, _ = projected(model)
    start = [v.numpy().copy() for v in model.arch_variables]
    optimizer = keras.optimizers.SGD(0.05)
    distance = float(regularizer.distance(model, model.arch_weight_tensors()))
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = regularizer(model, model.arch_weight_tensors())
        optimizer.apply(tape.gradient(loss, model.arch_variables), model.arch_variables)
    assert float(regularizer.distance(model, model.arch_weight_tensors())) < distance - 0.05
    assert projected(model)[0]["normal"].tolist() == masks["normal"].tolist()
    for variable, value in zip(model.arch_variables, start):
        variable.assign(value)


def test_admm_updates_z_and_u_every_n_arch_steps(model):
    regularizer = ADMMRegularizer(rho=0.1, update_every=3, decay=0.8)
    regularizer.build(model)
    masks, weights = projected(model)
    np.testing.assert_array_equal(regularizer.z["normal"].numpy(), masks["normal"])
    tensors = model.arch_weight_tensors()
    expected = 0.05 * sum(((weights[k] - masks[k]) ** 2).sum() for k in weights)
    assert float(regularizer(model, tensors)) == pytest.approx(expected, rel=1e-5)
    regularizer.after_arch_step(model, tensors)
    regularizer.after_arch_step(model, tensors)
    assert not regularizer.u["normal"].numpy().any()  # no update before the third α step
    regularizer.after_arch_step(model, tensors)
    u = weights["normal"] - genotype_lib.projection(weights["normal"], PRIMITIVES, 2)
    np.testing.assert_allclose(regularizer.u["normal"].numpy(), u, atol=1e-6)
    regularizer.after_arch_step(model, tensors)
    regularizer.after_arch_step(model, tensors)
    regularizer.after_arch_step(model, tensors)
    z = genotype_lib.projection(weights["normal"] + u, PRIMITIVES, 2)
    np.testing.assert_allclose(regularizer.z["normal"].numpy(), z)
    np.testing.assert_allclose(
        regularizer.u["normal"].numpy(), 0.8 * u + weights["normal"] - z, atol=1e-6
    )
    assert regularizer.residual(model) == pytest.approx(
        np.sqrt(sum(((weights[k] - regularizer.z[k].numpy()) ** 2).sum() for k in weights)),
        rel=1e-5,
    )


def test_lookup_and_bad_arguments():
    assert isinstance(darts_regularizers.get("admm", rho=0.2), ADMMRegularizer)
    with pytest.raises(ValueError, match="one of \\('proximity', 'admm'\\); received 'l2'"):
        darts_regularizers.get("l2")
    with pytest.raises(ValueError, match="`rho` must be a number >= 0.0; received -1"):
        ProximityRegularizer(rho=-1)
    with pytest.raises(ValueError, match="`update_every` must be a positive int"):
        ADMMRegularizer(update_every=0)
