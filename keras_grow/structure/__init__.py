"""Neural operators on a Keras graph: dependency groups, add/remove units, DynamicModel."""

from keras_grow.structure.dynamic_model import DynamicModel as DynamicModel
from keras_grow.structure.events import StructureEvent as StructureEvent
from keras_grow.structure.graph import analyze as analyze
from keras_grow.structure.initializers import NewUnits as NewUnits
from keras_grow.structure.initializers import ZeroFanIn as ZeroFanIn
from keras_grow.structure.initializers import ZeroFanOut as ZeroFanOut
from keras_grow.structure.unit_specs import UnitSpec as UnitSpec
