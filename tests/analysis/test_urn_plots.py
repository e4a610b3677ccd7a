import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_grow.analysis import extract_structure, plot_connectomics, plot_urn  # noqa: E402
from keras_grow.layers import URNGeometry, URNLayer  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_urn_shows_only_active_neurons_in_order():
    urn = URNLayer(size=40, iterations=3, output_dim=2)
    urn.build((None, 4))
    x = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    structure = extract_structure(urn, x)
    fig = plot_urn(urn, structure=structure)
    ax_activity, ax_weights = fig.axes[0], fig.axes[1]
    kept = structure.order.size
    assert ax_weights.images[0].get_array().shape == (kept, kept)
    assert ax_activity.images[0].get_array().shape == (kept, urn.iterations + 1)
    assert str(structure.n_active) in fig._suptitle.get_text()


def test_plot_urn_needs_data_or_structure():
    urn = URNLayer(size=40, output_dim=2)
    urn.build((None, 4))
    with pytest.raises(ValueError, match="structure"):
        plot_urn(urn)


@pytest.mark.parametrize("grid, input_shape", [((6, 5), (4, 4)), (8, (6,)), (None, (4,))])
def test_plot_connectomics_colours_synapses_by_direction(grid, input_shape):
    geometry = None if grid is None else URNGeometry(grid, depth=3)
    urn = URNLayer(size=None if geometry else 30, output_dim=2, geometry=geometry)
    urn.build((None, *input_shape))
    x = np.random.default_rng(0).normal(size=(10, *input_shape)).astype("float32")
    fig = plot_connectomics(urn, x, max_synapses=50)
    ax = fig.axes[0]
    colours = {matplotlib.colors.to_hex(line.get_color()) for line in ax.lines}
    assert colours <= {"#d62728", "#2ca02c", "#000000"}  # red, green, black
    assert 0 < len(ax.lines) <= 50
    assert "forward (red)" in ax.get_title()
