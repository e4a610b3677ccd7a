"""RPP baseline: a D4 path plus an L2-regularised C1 path, summed."""

import keras
import numpy as np
import pytest

from keras_grow import groups
from keras_grow.search import RPPCNN, ResidualPathwayConv


def test_sum_of_paths_exports_to_one_conv_and_only_c1_is_penalised():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 9, 8)).astype("float32")
    layer = ResidualPathwayConv(2, 3, group="D4", l2=1e-3)
    y = layer(x)
    np.testing.assert_allclose(y, layer.equivariant(x) + layer.unconstrained(x), atol=1e-5)
    np.testing.assert_allclose(layer.export()(x), y, atol=1e-5)
    expected = 1e-3 * np.sum(np.square(keras.ops.convert_to_numpy(layer.unconstrained.kernel)))
    assert len(layer.losses) == 1
    assert float(layer.losses[0]) == pytest.approx(expected, rel=1e-4)


def test_equivariant_exactly_when_the_c1_path_is_zero():
    d4 = groups.get("D4")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 9, 9, 8)).astype("float32")
    layer = ResidualPathwayConv(1, 3, group="D4", use_bias=False)
    layer(x)
    g = 5  # a mirror composed with a quarter turn
    error = np.abs(layer(d4.act_on_feature_map(g, x)) - d4.act_on_feature_map(g, layer(x))).max()
    assert error > 1e-3  # the random C1 path breaks the symmetry
    layer.unconstrained.kernel.assign(np.zeros(layer.unconstrained.kernel.shape))
    error = np.abs(layer(d4.act_on_feature_map(g, x)) - d4.act_on_feature_map(g, layer(x))).max()
    assert error < 1e-5


def test_rpp_cnn_builds_and_rejects_bad_arguments():
    net = RPPCNN("D4", input_shape=(12, 12, 1), width=8, pool_after=(2, 4))
    assert net.output_shape == (None, 10)
    assert len([layer for layer in net.layers if isinstance(layer, ResidualPathwayConv)]) == 8
    with pytest.raises(ValueError, match="'E8'"):
        RPPCNN("E8")
    with pytest.raises(ValueError, match="l2"):
        ResidualPathwayConv(1, 3, l2=-1.0)
    with pytest.raises(ValueError, match="width"):
        RPPCNN("D4", width=12)


def test_rpp_cnn_normalises_per_channel_unless_asked_for_orbits():
    kwargs = dict(input_shape=(12, 12, 1), width=8, dense_units=4, pool_after=(2, 4))
    channel = RPPCNN("D4", **kwargs)
    orbit = RPPCNN("D4", normalization="orbit", **kwargs)
    assert tuple(channel.get_layer("gbn1").gamma.shape) == (8,)
    assert tuple(orbit.get_layer("gbn1").gamma.shape) == (1,)
    assert channel.get_layer("fc1").kernel.shape[0] == 16  # every channel of layer 8
    assert orbit.get_layer("fc1").kernel.shape[0] == 2  # one invariant per D4 field
    with pytest.raises(ValueError, match="`normalization`.*'group'"):
        RPPCNN("D4", normalization="group", **kwargs)
