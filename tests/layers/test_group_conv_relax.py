"""The equivariance relaxation morphism (Maile's thesis, eqs. 4-10) on both conv layers."""

import numpy as np
import pytest

from keras_grow import groups
from keras_grow.layers import GroupConv2D, LiftingConv2D

NAMES = groups.GROUP_NAMES
PAIRS = [(g, s.name) for g in NAMES for s in groups.get(g).subgroups()]


def random_array(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def built(layer_class, name, channels, **kwargs):
    layer = layer_class(2, 3, name, bias_initializer="random_normal", **kwargs)
    layer.build((None, None, None, channels))
    return layer


def layers_for(name):
    order = groups.get(name).order
    return [
        (built(LiftingConv2D, name, 2), random_array((2, 7, 7, 2))),
        (built(GroupConv2D, name, 2 * order), random_array((2, 7, 7, 2 * order))),
    ]


@pytest.mark.parametrize("name,sub", PAIRS)
def test_relaxed_layer_keeping_the_layout_computes_the_same_output(name, sub):
    ratio = groups.get(name).order // groups.get(sub).order
    for layer, x in layers_for(name):
        relaxed = layer.relax(sub)
        assert type(relaxed) is type(layer)
        assert relaxed.group.name == sub and relaxed.filters == layer.filters * ratio
        assert relaxed.output_channels == layer.output_channels
        assert relaxed.kernel.numpy().size == layer.kernel.numpy().size * ratio
        np.testing.assert_allclose(relaxed(x).numpy(), layer(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("name,sub", PAIRS)
def test_relaxed_layer_in_subgroup_layout_is_the_documented_permutation(name, sub):
    group = groups.get(name)
    for layer, x in layers_for(name):
        relaxed = layer.relax(sub, keep_layout=False)
        assert relaxed.output_layout.name == sub
        order = group.subgroup_channel_order(sub, layer.filters)
        np.testing.assert_allclose(relaxed(x).numpy(), layer(x).numpy()[..., order], atol=1e-6)


@pytest.mark.parametrize("name,sub", [("D4", "C4"), ("D4", "D1"), ("C4", "C2"), ("D2", "C1")])
def test_relaxed_parameters_follow_equation_5(name, sub):
    """psi~_(d,t),(c,s)(v, g') = psi_(d,c)(t^-1 v, t^-1 g' s)."""
    group = groups.get(name)
    layer = built(GroupConv2D, name, 2 * group.order)
    relaxed = layer.relax(sub, keep_layout=False)
    psi, psi_relaxed = layer.kernel.numpy(), relaxed.kernel.numpy()
    reps, members = group.coset_representatives(sub), group.embedding(sub)
    r = len(reps)
    for ti, t in enumerate(reps):
        t_inv = group.inverse(t)
        moved = group.act_on_grid(t, psi, axes=(0, 1))  # (t . psi)(v) = psi(t^-1 v)
        for si, s in enumerate(reps):
            for hi, h in enumerate(members):
                element = group.multiply(t_inv, group.multiply(h, s))
                for c in range(2):
                    for d in range(2):
                        np.testing.assert_array_equal(
                            psi_relaxed[:, :, c * r + si, hi, d * r + ti],
                            moved[:, :, c, element, d],
                        )


@pytest.mark.parametrize("name,sub", [("D4", "C4"), ("D4", "D2"), ("C4", "C2"), ("D2", "D1")])
def test_relaxed_layer_is_a_genuine_subgroup_layer(name, sub):
    # re-randomised, the relaxed layer is still equivariant to the subgroup (and only to it)
    group, subgroup = groups.get(name), groups.get(sub)
    layer = built(GroupConv2D, name, 2 * group.order)
    relaxed = layer.relax(sub, keep_layout=False)
    relaxed.kernel.assign(0.1 * random_array(relaxed.kernel.shape, seed=3))
    x = random_array((2, 9, 9, 2 * group.order))
    y = relaxed(x).numpy()
    for h, g in enumerate(group.embedding(sub)):
        moved = relaxed(group.act_on_feature_map(int(g), x)).numpy()
        np.testing.assert_allclose(moved, subgroup.act_on_feature_map(h, y), atol=1e-5)


def test_relax_chain_preserves_the_function():
    layer, x = layers_for("D4")[1]
    twice = layer.relax("C4").relax("C2").relax("C1")
    np.testing.assert_allclose(twice(x).numpy(), layer(x).numpy(), atol=1e-6)
    assert twice.input_layout.name == "D4" and twice.output_layout.name == "D4"


def test_relax_to_a_non_subgroup_raises():
    layer, _ = layers_for("D2")[1]
    with pytest.raises(ValueError, match="`subgroup`='C4' is not a subgroup of D2; allowed: C1"):
        layer.relax("C4")
    with pytest.raises(ValueError, match="Unknown group name: 'X'"):
        layer.relax("X")
