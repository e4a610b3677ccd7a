import keras
import numpy as np
import pytest

from keras_grow.layers import DARTS_PRIMITIVES, MixedOp


def images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("strides", [1, 2])
def test_output_is_the_weighted_sum_of_the_operations(strides):
    op = MixedOp(4, strides=strides)
    x = images((2, 6, 6, 4))
    weights = np.linspace(0.1, 0.8, len(DARTS_PRIMITIVES)).astype("float32")
    out = op(x, weights, training=False).numpy()
    expected = sum(
        weights[i] * op.operation(name)(x, training=False).numpy()
        for i, name in enumerate(DARTS_PRIMITIVES)
    )
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert op.active_primitives == DARTS_PRIMITIVES[1:]  # 'none' is never computed


def test_own_alphas_are_softmax_or_clipped_relu():
    soft = MixedOp(4, primitives=("skip_connect", "avg_pool_3x3"), learn_alphas=True)
    soft.build((None, 5, 5, 4))
    soft.alphas.assign([1.0, 3.0])
    np.testing.assert_allclose(
        soft.activated_alphas().numpy(), np.exp([1, 3]) / np.exp([1, 3]).sum(), rtol=1e-6
    )
    crb = MixedOp(
        4,
        primitives=("skip_connect", "avg_pool_3x3", "sep_conv_3x3"),
        learn_alphas=True,
        activation="crb",
    )
    crb.build((None, 5, 5, 4))
    crb.alphas.assign([-0.5, 0.3, 1.7])
    np.testing.assert_allclose(crb.activated_alphas().numpy(), [0.0, 0.3, 1.0], rtol=1e-6)


def test_pruned_operations_leave_the_forward_pass():
    x = images((2, 6, 6, 4))
    weights = np.full(len(DARTS_PRIMITIVES), 0.3, "float32")
    op = MixedOp(4)
    full = op(x, weights, training=False).numpy()
    sep = op.operation("sep_conv_3x3")(x, training=False).numpy()
    op.prune(["sep_conv_3x3", "max_pool_3x3"])
    pool = op.operation("max_pool_3x3")(x, training=False).numpy()
    assert "sep_conv_3x3" not in op.active_primitives and len(op.active_primitives) == 5
    np.testing.assert_allclose(op(x, weights).numpy(), full - 0.3 * sep - 0.3 * pool, atol=1e-5)
    op.prune(op.primitives)
    assert op.active_primitives == ()
    assert not np.any(op(x, weights).numpy())


def test_config_round_trip_keeps_pruning_and_outputs():
    op = MixedOp(
        4,
        strides=2,
        primitives=("skip_connect", "sep_conv_3x3", "dil_conv_5x5"),
        learn_alphas=True,
        pruned=["dil_conv_5x5"],
    )
    x = images((2, 6, 6, 4))
    expected = op(x).numpy()
    clone = MixedOp.from_config(op.get_config())
    clone.build(x.shape)
    clone.set_weights(op.get_weights())
    assert clone.pruned == ("dil_conv_5x5",) and clone.strides == 2
    np.testing.assert_allclose(clone(x).numpy(), expected, atol=1e-6)
    assert keras.saving.get_registered_name(MixedOp) == "keras_grow>MixedOp"


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="Unknown primitive 'conv'"):
        MixedOp(4, primitives=("skip_connect", "conv"))
    with pytest.raises(ValueError, match="`activation` must be one of"):
        MixedOp(4, activation="sigmoid")
    with pytest.raises(ValueError, match="pass `arch_weights`"):
        MixedOp(4)(images((1, 4, 4, 4)))
    with pytest.raises(ValueError, match="expects 4 input channels"):
        MixedOp(4).build((None, 4, 4, 3))
    with pytest.raises(ValueError, match="Cannot prune 'conv'"):
        MixedOp(4).prune(["conv"])
