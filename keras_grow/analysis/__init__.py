"""Structure analysis and plots."""

from keras_grow.analysis.darts_plots import plot_alpha_history as plot_alpha_history
from keras_grow.analysis.darts_plots import plot_fisher_schedule as plot_fisher_schedule
from keras_grow.analysis.darts_plots import plot_genotype as plot_genotype
from keras_grow.analysis.equinas_plots import (
    plot_architecture_weights as plot_architecture_weights,
)
from keras_grow.analysis.equinas_plots import plot_pareto_front as plot_pareto_front
from keras_grow.analysis.equinas_plots import plot_symmetry_discovery as plot_symmetry_discovery
from keras_grow.analysis.equinas_plots import rotation_weight as rotation_weight
from keras_grow.analysis.flops import flops as flops
from keras_grow.analysis.urn_plots import plot_connectomics as plot_connectomics
from keras_grow.analysis.urn_plots import plot_urn as plot_urn
from keras_grow.analysis.urn_structure import URNStructure as URNStructure
from keras_grow.analysis.urn_structure import connectivity_summary as connectivity_summary
from keras_grow.analysis.urn_structure import extract_structure as extract_structure
from keras_grow.analysis.widths import plot_widths as plot_widths
from keras_grow.analysis.widths import width_series as width_series
