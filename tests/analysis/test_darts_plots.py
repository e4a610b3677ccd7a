import numpy as np
import pytest

from keras_grow.analysis import plot_alpha_history, plot_fisher_schedule, plot_genotype
from keras_grow.layers import DARTS_PRIMITIVES
from keras_grow.search import DARTS_V2


def history(nodes=4, entries=5):
    rng = np.random.default_rng(0)
    edges = nodes * (nodes + 3) // 2
    return [
        {
            "epoch": float(t),
            "normal": rng.dirichlet(np.ones(8), size=edges),
            "reduce": rng.dirichlet(np.ones(8), size=edges),
        }
        for t in range(entries)
    ]


def test_alpha_history_has_one_panel_per_edge(tmp_path):
    path = tmp_path / "alpha.png"
    figure = plot_alpha_history(history(), "reduce", DARTS_PRIMITIVES, path=path)
    visible = [ax for ax in figure.axes if ax.axison]
    assert len(visible) == 14 and path.stat().st_size > 1000
    assert len(visible[0].lines) == 7  # 'none' is not drawn
    assert visible[-1].get_title() == "2 → 3" and visible[0].get_title() == "$c_{k-2}$ → 0"


def test_genotype_drawing_labels_every_operation(tmp_path):
    path = tmp_path / "cell.png"
    figure = plot_genotype(DARTS_V2, "normal", path=path)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts.count("sep_conv_3x3") == 5 and "dil_conv_3x3" in texts and "$c_{k}$" in texts
    assert path.stat().st_size > 1000


def test_fisher_schedule_plot_marks_the_arch_steps():
    figure = plot_fisher_schedule(
        [(1, 5.0, 1.0, 0), (2, 4.0, 1.05, 0), (3, 0.9, 1.1, 1), (4, 1.0, 0.7, 1)]
    )
    assert "α step (1)" in [t.get_text() for t in figure.axes[0].get_legend().get_texts()]


def test_bad_inputs():
    with pytest.raises(ValueError, match="`cell` must be 'normal' or 'reduce'"):
        plot_genotype(DARTS_V2, "both")
    with pytest.raises(ValueError, match="non-empty alpha history"):
        plot_alpha_history([], primitives=DARTS_PRIMITIVES)
    with pytest.raises(ValueError, match="8 weights per edge but 3 primitives"):
        plot_alpha_history(history(), primitives=("a", "b", "c"))
