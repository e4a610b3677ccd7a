"""Architecture search: DARTS/DARTS-PRIME, EquiNAS, self-organising hierarchies."""

from keras_grow.search.darts_regularizers import ADMMRegularizer as ADMMRegularizer
from keras_grow.search.darts_regularizers import ArchRegularizer as ArchRegularizer
from keras_grow.search.darts_regularizers import ProximityRegularizer as ProximityRegularizer
from keras_grow.search.darts_schedules import AlternatingSchedule as AlternatingSchedule
from keras_grow.search.darts_schedules import ArchSchedule as ArchSchedule
from keras_grow.search.darts_schedules import ConstantSchedule as ConstantSchedule
from keras_grow.search.darts_schedules import FisherSchedule as FisherSchedule
from keras_grow.search.darts_schedules import FrozenSchedule as FrozenSchedule
from keras_grow.search.darts_search import DartsSearchModel as DartsSearchModel
from keras_grow.search.equinas_d import ArchitectureHistory as ArchitectureHistory
from keras_grow.search.equinas_d import EquiNASD as EquiNASD
from keras_grow.search.equinas_d import MixedEquivariantCNN as MixedEquivariantCNN
from keras_grow.search.genotype import DARTS_V2 as DARTS_V2
from keras_grow.search.genotype import Genotype as Genotype
from keras_grow.search.genotype import derive_genotype as derive_genotype
from keras_grow.search.rpp import RPPCNN as RPPCNN
from keras_grow.search.rpp import ResidualPathwayConv as ResidualPathwayConv
from keras_grow.search.self_organizing import SelfOrganizingHierarchy as SelfOrganizingHierarchy
from keras_grow.search.soh_drawing import draw_layout as draw_layout
from keras_grow.search.soh_entropy import histogram_entropy as histogram_entropy
from keras_grow.search.soh_layouts import Layout as Layout
from keras_grow.search.soh_layouts import make_layout as make_layout
from keras_grow.search.soh_meta import Annealing as Annealing
from keras_grow.search.soh_meta import HillClimbing as HillClimbing
from keras_grow.search.soh_meta import MetaRule as MetaRule
from keras_grow.search.soh_meta import RandomSearch as RandomSearch
from keras_grow.search.soh_network import HierarchyNetwork as HierarchyNetwork
from keras_grow.search.soh_readout import LogisticReadout as LogisticReadout

# EquiNAS_E builds on keras-tuner (the `tuner` extra): imported on first use.
_EQUINAS_E_NAMES = (
    "EquiNASE",
    "EquiNASEOracle",
    "pareto_front",
    "select_population",
    "valid_mutations",
)


def __getattr__(name):
    if name in _EQUINAS_E_NAMES:
        from keras_grow.search import equinas_e

        return getattr(equinas_e, name)
    raise AttributeError(f"module 'keras_grow.search' has no attribute {name!r}")
