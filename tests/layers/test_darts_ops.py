import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_grow.layers import DARTS_PRIMITIVES, DartsPooling, DilConv, SepConv, darts_ops


def images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("primitive", DARTS_PRIMITIVES)
@pytest.mark.parametrize("strides,size,expected", [(1, 7, 7), (2, 7, 4), (2, 8, 4)])
def test_every_primitive_keeps_channels_and_halves_with_stride_two(
    primitive, strides, size, expected
):
    op = darts_ops.make_operation(primitive, 4, strides, affine=False, search=True)
    out = op(images((2, size, size, 4)), training=True)
    assert tuple(out.shape) == (2, expected, expected, 4)
    assert op.compute_output_shape((2, size, size, 4)) == (2, expected, expected, 4)


def test_search_pooling_has_a_non_affine_batch_norm_and_evaluation_pooling_none():
    search = darts_ops.make_operation("max_pool_3x3", 4, 1, affine=False, search=True)
    evaluation = darts_ops.make_operation("avg_pool_3x3", 4, 1, affine=True, search=False)
    search.build((None, 6, 6, 4))
    evaluation.build((None, 6, 6, 4))
    assert search.bn is not None and not search.bn.center and not search.bn.scale
    assert search.trainable_weights == [] and len(search.non_trainable_weights) == 2
    assert evaluation.bn is None and evaluation.weights == []


@pytest.mark.parametrize("kernel", [3, 5])
def test_strided_dilated_conv_equals_the_dilated_conv_sampled_at_even_positions(kernel):
    x = images((2, 9, 9, 4))
    strided = DilConv(4, kernel, strides=2, affine=False)
    dense = DilConv(4, kernel, strides=1, affine=False)
    strided.build(x.shape)
    dense.build(x.shape)
    for source, target in zip(strided.weights, dense.weights):
        target.assign(source)
    relu = tf.nn.relu(x)
    np.testing.assert_allclose(
        strided._depthwise(relu).numpy(), dense._depthwise(relu).numpy()[:, ::2, ::2], atol=1e-5
    )
    assert len(strided.trainable_weights) == 2  # depthwise + pointwise, non-affine BN


def test_strided_sep_conv_uses_symmetric_padding():
    x = images((1, 8, 8, 2), seed=1)
    strided, dense = SepConv(2, 3, strides=2), SepConv(2, 3, strides=1)
    strided.build(x.shape)
    dense.build(x.shape)
    for source, target in zip(strided.weights, dense.weights):
        target.assign(source)
    relu = tf.nn.relu(x)
    np.testing.assert_allclose(
        strided.first._depthwise(relu).numpy(),
        dense.first._depthwise(relu).numpy()[:, ::2, ::2],
        atol=1e-5,
    )


def test_average_pooling_excludes_padding_and_strided_pools_sample_even_positions():
    ones = np.ones((1, 5, 5, 1), "float32")
    np.testing.assert_allclose(DartsPooling("avg", strides=2)(ones).numpy(), 1.0)
    x = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    pooled = DartsPooling("max", strides=2)(x).numpy()[0, :, :, 0]
    # window centred on (0, 0) covers rows/columns 0-1: its max is x[1, 1] = 6
    assert pooled[0, 0] == 6 and pooled[1, 1] == 18 and pooled.shape == (3, 3)


@pytest.mark.parametrize("affine", [False, True])
def test_fused_batch_norm_matches_keras_batch_norm(affine):
    x = images((8, 5, 5, 3)) * 2 + 1
    kwargs = {"momentum": 0.9, "epsilon": 1e-5, "center": affine, "scale": affine}
    fused = darts_ops.FusedBatchNormalization(**kwargs, gamma_initializer="random_normal")
    plain = keras.layers.BatchNormalization(**kwargs)
    fused.build(x.shape)
    plain.build(x.shape)
    for source, target in zip(fused.weights, plain.weights):
        target.assign(source)
    inputs = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        a = fused(inputs, training=True)
        b = plain(inputs, training=True)
        loss_a, loss_b = tf.reduce_sum(a**3), tf.reduce_sum(b**3)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    np.testing.assert_allclose(
        tape.gradient(loss_a, inputs).numpy(), tape.gradient(loss_b, inputs).numpy(), atol=1e-4
    )
    np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), atol=1e-6)
    # unbiased batch variance in the moving average (PyTorch convention): n / (n - 1) larger
    assert np.all(fused.moving_variance.numpy() > plain.moving_variance.numpy())
    plain.moving_variance.assign(fused.moving_variance)
    np.testing.assert_allclose(fused(x).numpy(), plain(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("primitive", ["sep_conv_5x5", "dil_conv_3x3", "skip_connect"])
def test_operations_round_trip_through_config(primitive):
    op = darts_ops.make_operation(primitive, 4, 2, affine=True)
    x = images((2, 6, 6, 4))
    expected = op(x).numpy()
    clone = keras.layers.deserialize(keras.layers.serialize(op))  # built from its config
    clone.set_weights(op.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), expected, atol=1e-6)


def test_unknown_primitive_is_named_with_the_allowed_names():
    with pytest.raises(ValueError, match=r"'conv_7x7'.*allowed names are \('none'"):
        darts_ops.make_operation("conv_7x7", 4)
    with pytest.raises(ValueError, match="`strides` must be 1 or 2; received 3"):
        darts_ops.make_operation("sep_conv_3x3", 4, strides=3)
    with pytest.raises(TypeError, match="sequence of primitive names"):
        darts_ops.check_primitives("sep_conv_3x3")
    with pytest.raises(ValueError, match="must not repeat"):
        darts_ops.check_primitives(["skip_connect", "skip_connect"])
