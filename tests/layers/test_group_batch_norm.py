import keras
import numpy as np
import pytest

from keras_grow import groups
from keras_grow.layers import GroupBatchNormalization

NAMES = groups.GROUP_NAMES


def random_array(shape, seed=0, loc=0.0):
    return (np.random.default_rng(seed).normal(size=shape) + loc).astype("float32")


def numpy_orbit_statistics(x, order):
    fields = x.shape[-1] // order
    orbits = x.reshape(-1, fields, order)
    return orbits.mean(axis=(0, 2)), orbits.var(axis=(0, 2))


def randomised(name, channels, **kwargs):
    bn = GroupBatchNormalization(name, **kwargs)
    bn.build((None, None, None, channels))
    fields = channels // groups.get(name).order
    bn.gamma.assign(random_array((fields,), seed=1, loc=1.0))
    bn.beta.assign(random_array((fields,), seed=2))
    return bn


@pytest.mark.parametrize("name", ["C4", "D4", "D1"])
def test_training_mode_uses_orbit_statistics_and_updates_moving_ones(name):
    order = groups.get(name).order
    x = random_array((3, 5, 5, 2 * order), loc=0.5)
    bn = randomised(name, 2 * order, momentum=0.9, epsilon=1e-3)
    y = bn(x, training=True).numpy()
    mean, var = numpy_orbit_statistics(x, order)
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
    expected = (x.reshape(3, 5, 5, 2, order) - mean[:, None]) / np.sqrt(var[:, None] + 1e-3)
    expected = expected * gamma[:, None] + beta[:, None]
    np.testing.assert_allclose(y, expected.reshape(x.shape), atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * var, atol=1e-6)


def test_inference_mode_uses_moving_statistics():
    x = random_array((2, 4, 4, 8))
    bn = randomised("D4", 8)
    bn.moving_mean.assign([0.3])
    bn.moving_variance.assign([2.0])
    y = bn(x, training=False).numpy()
    expected = (x - 0.3) / np.sqrt(2.0 + 1e-3) * bn.gamma.numpy() + bn.beta.numpy()
    np.testing.assert_allclose(y, expected, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [0.3])  # unchanged


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_equivariant_in_both_modes(name, training):
    group = groups.get(name)
    x = random_array((2, 5, 5, 3 * group.order), loc=0.2)
    bn = randomised(name, 3 * group.order)
    bn.moving_mean.assign(random_array((3,), seed=4))
    y = bn(x, training=training).numpy()
    for g in range(group.order):
        moved = bn(group.act_on_feature_map(g, x), training=training).numpy()
        np.testing.assert_allclose(moved, group.act_on_feature_map(g, y), atol=1e-5)


def test_plain_batch_norm_is_not_equivariant():
    # the reason for one gamma/beta and one statistic per field: per-channel ones break it
    group = groups.get("C4")
    x = random_array((2, 5, 5, 4))
    bn = keras.layers.BatchNormalization()
    bn.build(x.shape)
    bn.gamma.assign([1.0, 2.0, 3.0, 4.0])
    y = bn(x, training=True).numpy()
    moved = bn(group.act_on_feature_map(1, x), training=True).numpy()
    assert np.abs(moved - group.act_on_feature_map(1, y)).max() > 1e-2


def test_one_gamma_beta_per_field_and_config_round_trip():
    bn = GroupBatchNormalization("D2", momentum=0.8, center=False, name="gbn")
    bn.build((None, 6, 6, 12))
    assert tuple(bn.gamma.shape) == (3,) and bn.beta is None
    assert {w.name for w in bn.non_trainable_weights} == {"moving_mean", "moving_variance"}
    clone = GroupBatchNormalization.from_config(bn.get_config())
    assert clone.get_config() == bn.get_config()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"multiple of \|G\|=8; received 12 input channels"):
        GroupBatchNormalization("D4")(random_array((1, 3, 3, 12)))
    with pytest.raises(ValueError, match="`momentum` must be in"):
        GroupBatchNormalization("D4", momentum=1.5)
    with pytest.raises(ValueError, match="Unknown group name: 'D3'"):
        GroupBatchNormalization("D3")
