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
from keras_grow.search.genotype import DARTS_V2 as DARTS_V2
from keras_grow.search.genotype import Genotype as Genotype
from keras_grow.search.genotype import derive_genotype as derive_genotype
