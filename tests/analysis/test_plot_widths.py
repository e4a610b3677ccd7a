import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.analysis import plot_widths, width_series


def _model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(2, name="out")(hidden))
    model.add_units("hidden", 2)
    model.remove_units("hidden", [0])
    return model


def test_width_series_from_model_starts_at_initial_widths():
    series = width_series(_model())
    assert series["hidden"] == ([0, 0, 0], [3, 5, 4])
    assert series["out"][1] == [2, 2, 2]


def test_width_series_from_history_dict():
    series = width_series({"loss": [1.0, 0.5], "width_hidden": [3.0, 5.0]})
    assert series == {"hidden": ([1, 2], [3.0, 5.0])}


def test_plot_widths_writes_a_png_with_one_line_per_changed_layer(tmp_path):
    path = tmp_path / "widths.png"
    figure = plot_widths(_model(), path=path)
    assert path.stat().st_size > 1000
    (axes,) = figure.axes
    assert [line.get_label() for line in axes.lines] == ["hidden"]
    np.testing.assert_array_equal(axes.lines[0].get_ydata(), [3, 5, 4])


def test_plot_widths_rejects_unknown_layers_and_sources():
    with pytest.raises(ValueError, match="layers=\\['nope'\\]"):
        plot_widths(_model(), layers=["nope"])
    with pytest.raises(TypeError, match="source="):
        plot_widths(42)
