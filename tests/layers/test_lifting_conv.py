import keras
import numpy as np
import pytest

from keras_grow import groups
from keras_grow.layers import LiftingConv2D

NAMES = groups.GROUP_NAMES


def random_array(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def lifting(group_name, filters=3, **kwargs):
    kwargs.setdefault("bias_initializer", "random_normal")
    return LiftingConv2D(filters, kwargs.pop("kernel_size", 3), group_name, **kwargs)


def max_equivariance_error(layer, group, x):
    y = layer(x).numpy()
    errors = []
    for g in range(group.order):
        transformed = layer(group.act_on_grid(g, x, axes=(1, 2))).numpy()
        errors.append(np.abs(transformed - group.act_on_feature_map(g, y)).max())
    return max(errors)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("name", NAMES)
def test_equivariant_for_every_element(name, padding):
    group = groups.get(name)
    layer = lifting(name, padding=padding)
    x = random_array((2, 9, 9, 2))
    assert max_equivariance_error(layer, group, x) <= 1e-5


@pytest.mark.parametrize("size,padding", [(9, "valid"), (9, "same"), (11, "valid")])
@pytest.mark.parametrize("name", ["C4", "D4"])
def test_equivariant_with_stride_on_symmetric_grids(name, size, padding):
    assert groups.grid_is_symmetric(size, 3, 2, padding)
    layer = lifting(name, padding=padding, strides=2)
    assert max_equivariance_error(layer, groups.get(name), random_array((2, size, size, 1))) <= 1e-5


def test_stride_on_asymmetric_grid_breaks_equivariance():
    # documents the rule of groups.grid_is_symmetric: 10x10, stride 2, "same" samples 1, 3, .., 9
    assert not groups.grid_is_symmetric(10, 3, 2, "same")
    layer = lifting("C4", padding="same", strides=2)
    assert max_equivariance_error(layer, groups.get("C4"), random_array((2, 10, 10, 1))) > 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_shapes_weights_and_shared_bias(name):
    group = groups.get(name)
    layer = lifting(name, filters=3, padding="valid")
    y = layer(random_array((2, 9, 9, 2)))
    assert tuple(y.shape) == (2, 7, 7, 3 * group.order)
    assert layer.compute_output_shape((2, 9, 9, 2)) == (2, 7, 7, 3 * group.order)
    assert tuple(layer.kernel.shape) == (3, 3, 2, 3)
    assert tuple(layer.bias.shape) == (3,)
    bias = layer.expanded_bias().numpy().reshape(3, group.order)
    np.testing.assert_array_equal(bias, np.repeat(layer.bias.numpy()[:, None], group.order, 1))
    # channel d * |G| + g holds the kernel transformed by g
    kernel = layer.expanded_kernel().numpy().reshape(3, 3, 2, 3, group.order)
    for g in range(group.order):
        np.testing.assert_array_equal(
            kernel[..., g], group.act_on_grid(g, layer.kernel.numpy(), axes=(0, 1))
        )


@pytest.mark.parametrize("name", ["C1", "C4", "D4"])
def test_export_equals_layer(name):
    layer = lifting(name, strides=2, padding="valid", activation="relu")
    x = random_array((2, 9, 9, 2))
    expected = layer(x).numpy()
    conv = layer.export()
    assert isinstance(conv, keras.layers.Conv2D)
    np.testing.assert_allclose(conv(x).numpy(), expected, atol=1e-6)


def test_c1_accepts_even_and_rectangular_kernels():
    layer = LiftingConv2D(2, (2, 4), "C1")
    assert tuple(layer(random_array((1, 8, 8, 1))).shape) == (1, 8, 8, 2)


def test_config_round_trip():
    layer = lifting("D2", filters=2, output_layout="D4", kernel_regularizer="l2", name="lift")
    layer.build((None, 9, 9, 2))
    clone = LiftingConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build((None, 9, 9, 2))
    clone.set_weights(layer.get_weights())
    x = random_array((1, 9, 9, 2))
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(group="D8"), "Unknown group name: 'D8'"),
        (dict(group="D4", kernel_size=4), r"`kernel_size` must be a square odd size.*'D4'.*4"),
        (dict(group="C4", kernel_size=(3, 5)), r"`kernel_size`.*'C4'.*\(3, 5\)"),
        (dict(group="C2", filters=0), "`filters` must be a positive int; received 0"),
        (dict(group="C2", padding="causal"), "`padding`.*'causal'"),
        (dict(group="C4", output_layout="D2"), "`output_layout`='D2' must contain.*'C4'"),
        (dict(group="C4", filters=3, output_layout="D4"), "`filters`=3 must be a multiple"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    kwargs = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        LiftingConv2D(**kwargs)


def test_export_and_relax_need_a_built_layer():
    layer = lifting("C4")
    with pytest.raises(ValueError, match="must be built before `export"):
        layer.export()
    with pytest.raises(ValueError, match="must be built before `relax"):
        layer.relax("C2")
