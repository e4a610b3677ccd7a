import keras
import numpy as np
import pytest

from keras_grow import groups
from keras_grow.layers import GroupConv2D, LiftingConv2D, MixedEquivariantConv

D4 = groups.get("D4")
ALL = groups.GROUP_NAMES


def random_array(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def mixed(lifting=False, channels=8, **kwargs):
    kwargs.setdefault("bias_initializer", "random_normal")
    kwargs.setdefault("architecture_initializer", "random_normal")
    layer = MixedEquivariantConv(kwargs.pop("filters", 2), 3, lifting=lifting, **kwargs)
    layer.build((None, None, None, channels))
    return layer


def only(layer, names):
    """Give non-zero weight to `names` only (softmax of -1e9 is exactly 0)."""
    logits = np.full(len(layer.groups), -1e9, "float32")
    for i, g in enumerate(layer.groups):
        if g.name in names:
            logits[i] = 0.1 * i
    layer.architecture_logits.assign(logits)


@pytest.mark.parametrize("lifting", [False, True])
def test_equals_the_weighted_sum_of_its_components(lifting):
    layer = mixed(lifting, channels=2 if lifting else 8)
    x = random_array((2, 9, 9, 2 if lifting else 8))
    z = layer.architecture_weights.numpy()
    np.testing.assert_allclose(z.sum(), 1.0, rtol=1e-6)
    assert np.all(z > 0)
    components = layer.component_layers()
    expected_type = LiftingConv2D if lifting else GroupConv2D
    assert all(isinstance(c, expected_type) for c in components.values())
    total = sum(z[i] * components[g.name](x).numpy() for i, g in enumerate(layer.groups))
    np.testing.assert_allclose(layer(x).numpy(), total, atol=1e-5)


@pytest.mark.parametrize("lifting", [False, True])
def test_export_equals_the_mixed_layer(lifting):
    layer = mixed(lifting, channels=1 if lifting else 16, strides=2, padding="valid")
    x = random_array((2, 9, 9, 1 if lifting else 16))
    expected = layer(x).numpy()
    conv = layer.export()
    assert isinstance(conv, keras.layers.Conv2D) and conv.filters == 16
    np.testing.assert_allclose(conv(x).numpy(), expected, atol=1e-6)


@pytest.mark.parametrize(
    "active,equivariant_to",
    [
        (("D4",), "D4"),
        (("C4", "D4"), "C4"),
        (("D2", "D4"), "D2"),
        (("C4", "D2"), "C2"),
        (("D1", "D2", "D4"), "D1"),
        (("C2", "D1"), "C1"),
        (ALL, "C1"),
    ],
)
@pytest.mark.parametrize("lifting", [False, True])
def test_equivariant_to_the_intersection_of_groups_with_nonzero_weight(
    active, equivariant_to, lifting
):
    layer = mixed(lifting, channels=1 if lifting else 8)
    only(layer, active)
    x = random_array((2, 9, 9, 1 if lifting else 8))
    y = layer(x).numpy()

    def error(g):
        moved_input = D4.act_on_grid(g, x, (1, 2)) if lifting else D4.act_on_feature_map(g, x)
        return np.abs(layer(moved_input).numpy() - D4.act_on_feature_map(g, y)).max()

    inside = set(int(g) for g in D4.embedding(equivariant_to))
    assert max(error(g) for g in inside) <= 1e-5
    # and not to any other element of D4
    assert min((error(g) for g in set(range(8)) - inside), default=1.0) > 1e-3


def test_architecture_variables_train_and_kernel_norms_stay_frozen():
    layer = mixed(lifting=True, channels=1)
    assert layer.architecture_variables == [layer.architecture_logits]
    assert layer.architecture_logits.path.endswith("architecture_logits")
    assert layer.architecture_logits.trainable
    norms = [w for w in layer.weights if "kernel_norm" in w.path]
    assert len(norms) == 6 and not any(w.trainable for w in norms)
    # weight norm is initialised to the kernel's own norm: psi = v at first
    np.testing.assert_allclose(
        layer.component_kernel(3).numpy(), layer.component_kernels[3].numpy(), rtol=1e-5
    )
    before = [w.numpy().copy() for w in norms]
    logits_before = layer.architecture_logits.numpy().copy()
    inputs = keras.Input((9, 9, 1))
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(random_array((4, 9, 9, 1)), random_array((4, 9, 9, 16)))
    assert not np.allclose(layer.architecture_logits.numpy(), logits_before)
    for w, value in zip(norms, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), value)


@pytest.mark.parametrize("lifting", [False, True])
@pytest.mark.parametrize("name", ALL)
def test_single_group_layer_equals_the_static_layer_of_that_group(name, lifting):
    """One component, z = 1: the mixed layer is that group's static layer."""
    order = groups.get(name).order
    channels = 1 if lifting else 2 * order
    layer = MixedEquivariantConv(2, 3, groups=(name,), lifting=lifting, use_bias=False)
    static_type = LiftingConv2D if lifting else GroupConv2D
    static = static_type(2, 3, name, use_bias=False)
    x = random_array((2, 9, 9, channels))
    layer(x), static(x)
    assert tuple(static.kernel.shape) == tuple(layer.component_kernels[0].shape)
    # initialised as the static layer: one draw with the expanded kernel's fans
    assert layer.component_norms[0].numpy() == pytest.approx(
        np.sqrt(np.sum(np.square(layer.component_kernels[0].numpy().reshape(-1, 2)), axis=0))
    )
    static.kernel.assign(layer.component_kernel(0))
    np.testing.assert_allclose(layer(x).numpy(), static(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("architecture_initializer", ["zeros", "random_normal"])
def test_initial_mixed_kernel_has_the_variance_of_one_initializer_draw(architecture_initializer):
    """Six components summed with z ~ 1/6 must not start 6x smaller in variance."""
    keras.utils.set_random_seed(0)
    layer = mixed(
        channels=64,
        filters=8,
        bias_initializer="zeros",
        architecture_initializer=architecture_initializer,
    )
    fan_in = fan_out = 9 * 64
    glorot_variance = 2.0 / (fan_in + fan_out)
    variance = float(np.var(layer.expanded_kernel().numpy()))
    assert variance == pytest.approx(glorot_variance, rel=0.1)
    # the plain layer of one group has the same initial variance
    plain = MixedEquivariantConv(64, 3, groups=("C1",))
    plain.build((None, None, None, 64))
    assert float(np.var(plain.expanded_kernel().numpy())) == pytest.approx(glorot_variance, rel=0.1)


def test_layout_group_and_channel_counts():
    layer = MixedEquivariantConv(3, 3, groups=("C2", "D1"))
    assert layer.layout_group.name == "D2" and layer.output_channels == 12
    y = layer(random_array((1, 7, 7, 4)))
    assert tuple(y.shape) == (1, 7, 7, 12)
    assert layer.compute_output_shape((None, 7, 7, 4)) == (None, 7, 7, 12)
    c1_only = MixedEquivariantConv(2, (2, 4), groups=("C1",))
    assert tuple(c1_only(random_array((1, 6, 6, 3))).shape) == (1, 6, 6, 2)


def test_config_and_keras_file_round_trip(tmp_path):
    inputs = keras.Input((9, 9, 8))
    layer = MixedEquivariantConv(1, 3, groups=("C4", "D4"), activation="relu", name="mix")
    model = keras.Model(inputs, layer(inputs))
    layer.architecture_logits.assign([0.7, -0.3])
    clone = MixedEquivariantConv.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    path = str(tmp_path / "mixed.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = random_array((2, 9, 9, 8))
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(loaded.get_layer("mix").architecture_logits.numpy(), [0.7, -0.3])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(groups=()), "`groups` must be a non-empty sequence"),
        (dict(groups="D4"), "`groups` must be a non-empty sequence.*'D4'"),
        (dict(groups=("C4", "C4")), r"must not repeat a group; received \('C4', 'C4'\)"),
        (dict(groups=("C4", "X4")), "Unknown group name: 'X4'"),
        (dict(kernel_size=4), r"`kernel_size`.*'D4'.*received 4"),
        (dict(filters=-1), "`filters` must be a positive int; received -1"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    kwargs = {"filters": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        MixedEquivariantConv(**kwargs)


def test_input_channels_must_follow_the_layout_group():
    with pytest.raises(ValueError, match=r"multiple of \|D4\|=8.*received 4 input channels"):
        MixedEquivariantConv(2, 3)(random_array((1, 5, 5, 4)))
