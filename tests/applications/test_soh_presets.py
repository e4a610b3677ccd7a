"""Presets of the self-organising hierarchy: the paper's handcrafted layouts and geometry."""

import pytest

import keras_grow.applications as apps
from keras_grow.search import make_layout


@pytest.mark.parametrize(
    "factory, name",
    [(apps.soh_flat, "flat"), (apps.soh_columnar, "columnar"), (apps.soh_pyramidal, "pyramidal")],
)
def test_shortcuts_build_the_handcrafted_layouts(factory, name):
    soh = factory(seed=3, dropout=0.1)
    expected = make_layout(name, feature_map=(20, 40), units=3, hidden=100, field=10)
    assert soh.layout == expected
    assert soh.seed == 3 and soh.units[0].dropout == 0.1


def test_cifar_geometry_scales_the_mnist_one():
    soh = apps.SelfOrganizingHierarchy("pyramidal", dataset="cifar10")
    assert soh.layout.feature_map == (32, 64) and soh.layout.hidden == 256
    assert soh.fields == (((0, 0), (16, 0)), ((0, 16), (16, 16)), ((0, 32), (16, 32)))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"preset": "random"}, ["preset='random'", "pyramidal"]),
        ({"dataset": "svhn"}, ["dataset='svhn'", "cifar10"]),
        ({"layout": "flat"}, ["layout='flat'", "preset="]),
    ],
)
def test_bad_presets(kwargs, words):
    with pytest.raises(ValueError) as info:
        apps.SelfOrganizingHierarchy(**kwargs)
    for word in words:
        assert word in str(info.value)
