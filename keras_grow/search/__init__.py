"""Architecture search: DARTS/DARTS-PRIME, EquiNAS, self-organising hierarchies."""

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
