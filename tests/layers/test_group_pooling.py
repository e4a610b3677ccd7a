import keras
import numpy as np
import pytest

from keras_grow import groups
from keras_grow.layers import GroupPooling, LiftingConv2D

NAMES = groups.GROUP_NAMES


def random_array(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("reduction", ["max", "mean"])
@pytest.mark.parametrize("name", NAMES)
def test_matches_numpy_and_is_invariant_to_channel_permutations(name, reduction):
    group = groups.get(name)
    x = random_array((2, 5, 5, 3 * group.order))
    pooled = GroupPooling(name, reduction=reduction)(x).numpy()
    reduce = np.max if reduction == "max" else np.mean
    np.testing.assert_allclose(
        pooled, reduce(x.reshape(2, 5, 5, 3, group.order), axis=-1), atol=1e-6
    )
    for g in range(group.order):
        moved = GroupPooling(name, reduction=reduction)(group.act_on_channels(g, x)).numpy()
        np.testing.assert_allclose(moved, pooled, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_lifted_features_become_invariant_after_group_and_spatial_pooling(name):
    group = groups.get(name)
    lift = LiftingConv2D(3, 3, name, padding="valid", bias_initializer="random_normal")
    pool = GroupPooling(name)

    def features(images):
        return np.mean(pool(lift(images)).numpy(), axis=(1, 2))

    x = random_array((2, 9, 9, 1))
    reference = features(x)
    for g in range(group.order):
        np.testing.assert_allclose(
            features(group.act_on_grid(g, x, axes=(1, 2))), reference, atol=1e-5
        )


def test_works_with_unknown_spatial_size_and_round_trips():
    inputs = keras.Input((None, None, 8))
    layer = GroupPooling("D4", reduction="mean", name="gp")
    model = keras.Model(inputs, layer(inputs))
    assert model.output_shape == (None, None, None, 1)
    assert tuple(model(random_array((2, 3, 5, 8))).shape) == (2, 3, 5, 1)
    clone = GroupPooling.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`reduction` must be 'max' or 'mean'; received 'sum'"):
        GroupPooling("C4", reduction="sum")
    with pytest.raises(ValueError, match="Unknown group name: 'C8'"):
        GroupPooling("C8")
    with pytest.raises(ValueError, match=r"multiple of \|G\|=4; received 6 input channels"):
        GroupPooling("C4")(random_array((1, 3, 3, 6)))
