"""Structure analysis and plots."""

from keras_grow.analysis.equinas_plots import plot_architecture_weights, plot_pareto_front
from keras_grow.analysis.widths import plot_widths, width_series

__all__ = ["plot_architecture_weights", "plot_pareto_front", "plot_widths", "width_series"]
