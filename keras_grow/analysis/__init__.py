"""Structure analysis and plots."""

from keras_grow.analysis.widths import plot_widths, width_series

__all__ = ["plot_widths", "width_series"]
