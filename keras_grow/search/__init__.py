"""Architecture search: DARTS/DARTS-PRIME, EquiNAS, self-organising hierarchies."""

from keras_grow.search.equinas_d import ArchitectureHistory as ArchitectureHistory
from keras_grow.search.equinas_d import EquiNASD as EquiNASD
from keras_grow.search.equinas_d import MixedEquivariantCNN as MixedEquivariantCNN
from keras_grow.search.equinas_e import EquiNASE as EquiNASE
from keras_grow.search.equinas_e import EquiNASEOracle as EquiNASEOracle
from keras_grow.search.equinas_e import pareto_front as pareto_front
from keras_grow.search.equinas_e import select_population as select_population
from keras_grow.search.equinas_e import valid_mutations as valid_mutations
from keras_grow.search.rpp import RPPCNN as RPPCNN
from keras_grow.search.rpp import ResidualPathwayConv as ResidualPathwayConv
