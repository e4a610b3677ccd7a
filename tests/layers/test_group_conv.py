import keras
import numpy as np
import pytest

from keras_grow import groups
from keras_grow.layers import GroupConv2D, LiftingConv2D

NAMES = groups.GROUP_NAMES


def random_array(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def group_conv(group_name, filters=2, **kwargs):
    kwargs.setdefault("bias_initializer", "random_normal")
    return GroupConv2D(filters, kwargs.pop("kernel_size", 3), group_name, **kwargs)


def max_equivariance_error(layer, group_in, group_out, x, elements):
    """elements: pairs (index in group_in, index in group_out) of the same transformation."""
    y = layer(x).numpy()
    errors = []
    for g_in, g_out in elements:
        transformed = layer(group_in.act_on_feature_map(g_in, x)).numpy()
        errors.append(np.abs(transformed - group_out.act_on_feature_map(g_out, y)).max())
    return max(errors)


def all_elements(group):
    return [(g, g) for g in range(group.order)]


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("name", NAMES)
def test_equivariant_for_every_element(name, padding):
    group = groups.get(name)
    layer = group_conv(name, padding=padding)
    x = random_array((2, 11, 11, 2 * group.order))
    assert max_equivariance_error(layer, group, group, x, all_elements(group)) <= 1e-5


@pytest.mark.parametrize("size,padding", [(9, "valid"), (9, "same")])
@pytest.mark.parametrize("name", NAMES)
def test_equivariant_with_stride_two_on_symmetric_grids(name, size, padding):
    # 9x9, kernel 3, stride 2: "valid" samples centres 1, 3, 5, 7 and "same" 0, 2, .., 8
    assert groups.grid_is_symmetric(size, 3, 2, padding)
    group = groups.get(name)
    layer = group_conv(name, padding=padding, strides=2)
    x = random_array((2, size, size, 2 * group.order))
    assert max_equivariance_error(layer, group, group, x, all_elements(group)) <= 1e-5


def test_stride_on_asymmetric_grid_breaks_equivariance():
    assert not groups.grid_is_symmetric(10, 3, 2, "valid")
    group = groups.get("D4")
    layer = group_conv("D4", padding="valid", strides=2)
    x = random_array((2, 10, 10, 8))
    assert max_equivariance_error(layer, group, group, x, all_elements(group)) > 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_lifting_then_group_conv_is_equivariant(name):
    group = groups.get(name)
    lift, conv = LiftingConv2D(2, 3, name), group_conv(name, padding="valid")
    x = random_array((2, 9, 9, 1))
    y = conv(lift(x)).numpy()
    for g in range(group.order):
        moved = conv(lift(group.act_on_grid(g, x, axes=(1, 2)))).numpy()
        np.testing.assert_allclose(moved, group.act_on_feature_map(g, y), atol=1e-5)


def test_input_layout_reads_a_larger_group():
    # a C4 layer reading D4 fields (eq. 4) is C4-equivariant under D4's action on its input
    d4, c4 = groups.get("D4"), groups.get("C4")
    layer = group_conv("C4", input_layout="D4")
    x = random_array((2, 9, 9, 16))
    pairs = [(int(g), h) for h, g in enumerate(d4.embedding("C4"))]
    assert max_equivariance_error(layer, d4, c4, x, pairs) <= 1e-5
    assert tuple(layer.kernel.shape) == (3, 3, 4, 4, 2)


def test_output_layout_writes_a_larger_group():
    d4 = groups.get("D4")
    layer = group_conv("D2", filters=4, input_layout="D4", output_layout="D4")
    x = random_array((2, 9, 9, 8))
    pairs = [(int(g), int(g)) for g in d4.embedding("D2")]
    assert max_equivariance_error(layer, d4, d4, x, pairs) <= 1e-5
    # ... but not to the rest of D4
    rotation = [(d4.index((0, 1)), d4.index((0, 1)))]
    assert max_equivariance_error(layer, d4, d4, x, rotation) > 1e-2


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_one_bias_per_field(name):
    group = groups.get(name)
    layer = group_conv(name, filters=3)
    y = layer(random_array((2, 7, 7, 2 * group.order)))
    assert tuple(y.shape) == (2, 7, 7, 3 * group.order)
    assert layer.compute_output_shape((None, 7, 7, 2 * group.order)) == (
        None, 7, 7, 3 * group.order,
    )  # fmt: skip
    assert tuple(layer.kernel.shape) == (3, 3, 2, group.order, 3)
    assert tuple(layer.bias.shape) == (3,)
    bias = layer.expanded_bias().numpy().reshape(3, group.order)
    assert np.all(bias == bias[:, :1])


def test_expanded_kernel_permutes_the_input_group_axis():
    c4 = groups.get("C4")
    layer = group_conv("C4", filters=1)
    layer.build((None, None, None, 4))
    psi = layer.kernel.numpy()[:, :, 0, :, 0]  # (3, 3, |G|)
    expanded = layer.expanded_kernel().numpy()[:, :, :, :]  # (3, 3, 4, 4)
    for g in range(4):
        expected = c4.act_on_channels(g, c4.act_on_grid(g, psi, axes=(0, 1)), axis=-1)
        np.testing.assert_array_equal(expanded[..., g], expected)


@pytest.mark.parametrize("name", ["C1", "C2", "D4"])
def test_export_equals_layer(name):
    group = groups.get(name)
    layer = group_conv(name, padding="same", strides=2, activation="tanh")
    x = random_array((2, 9, 9, 2 * group.order))
    expected = layer(x).numpy()
    conv = layer.export()
    assert isinstance(conv, keras.layers.Conv2D)
    assert conv.filters == layer.output_channels
    np.testing.assert_allclose(conv(x).numpy(), expected, atol=1e-6)


def test_config_round_trip_and_keras_file(tmp_path):
    layer = group_conv("C4", input_layout="D4", use_bias=False, name="gc")
    inputs = keras.Input((9, 9, 16))
    model = keras.Model(inputs, layer(inputs))
    clone = GroupConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    path = str(tmp_path / "group_conv.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("gc"), GroupConv2D)
    x = random_array((1, 9, 9, 16))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_input_channels_not_a_multiple_of_the_group_order():
    layer = group_conv("C4")
    with pytest.raises(ValueError, match=r"multiple of \|C4\|=4.*received 6 input channels"):
        layer(random_array((1, 9, 9, 6)))
    layer = group_conv("C4", input_layout="D4")
    with pytest.raises(ValueError, match=r"multiple of \|D4\|=8.*received 4 input channels"):
        layer(random_array((1, 9, 9, 4)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(group="C3"), "Unknown group name: 'C3'"),
        (dict(group="D1", kernel_size=2), r"`kernel_size`.*'D1'.*received 2"),
        (dict(group="C4", input_layout="D2"), "`input_layout`='D2' must contain.*'C4'"),
        (dict(group="C2", filters=2.5), "`filters` must be a positive int; received 2.5"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    kwargs = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        GroupConv2D(**kwargs)
