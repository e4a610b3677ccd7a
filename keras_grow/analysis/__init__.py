"""Structure analysis and plots."""

from keras_grow.analysis.urn_plots import plot_connectomics as plot_connectomics
from keras_grow.analysis.urn_plots import plot_urn as plot_urn
from keras_grow.analysis.urn_structure import URNStructure as URNStructure
from keras_grow.analysis.urn_structure import connectivity_summary as connectivity_summary
from keras_grow.analysis.urn_structure import extract_structure as extract_structure
