import matplotlib
import numpy as np
import pytest

from keras_grow.analysis import plot_symmetry_discovery, rotation_weight

matplotlib.use("Agg")

Z = {
    "lift_conv1": {"C1": 0.1, "C4": 0.6, "D4": 0.3},
    "gconv8": {"C1": 0.7, "C4": 0.2, "D4": 0.1},
}


def test_rotation_weight_sums_the_named_groups_per_layer():
    assert rotation_weight(Z) == pytest.approx({"lift_conv1": 0.9, "gconv8": 0.3})
    assert rotation_weight(Z, "C1") == pytest.approx({"lift_conv1": 0.1, "gconv8": 0.7})
    with pytest.raises(ValueError, match="D2"):
        rotation_weight(Z, ("C4", "D2"))


def test_symmetry_discovery_bars_per_run_and_layer():
    upright = {"lift_conv1": {"C1": 0.5, "C4": 0.25, "D4": 0.25}, "gconv8": dict(Z["gconv8"])}
    ax = plot_symmetry_discovery({"upright": upright, "rotated": Z})
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, [0.5, 0.3, 0.9, 0.3])  # run by run, layer by layer
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lift_conv1", "gconv8"]
    with pytest.raises(ValueError, match="same layers"):
        plot_symmetry_discovery({"a": Z, "b": {"gconv8": Z["gconv8"]}})
    with pytest.raises(ValueError, match="at least one run"):
        plot_symmetry_discovery({})
