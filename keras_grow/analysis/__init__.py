"""Structure analysis and plots."""

from keras_grow.analysis.widths import plot_widths, width_series

__all__ = ["plot_widths", "width_series"]
from keras_grow.analysis.darts_plots import plot_alpha_history as plot_alpha_history
from keras_grow.analysis.darts_plots import plot_fisher_schedule as plot_fisher_schedule
from keras_grow.analysis.darts_plots import plot_genotype as plot_genotype
