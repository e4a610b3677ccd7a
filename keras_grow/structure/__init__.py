"""Neural operators on a Keras graph: dependency groups, add/remove units, DynamicModel."""

from keras_grow.structure.dynamic_model import DynamicModel
from keras_grow.structure.events import StructureEvent
from keras_grow.structure.graph import analyze
from keras_grow.structure.initializers import NewUnits, ZeroFanIn, ZeroFanOut
from keras_grow.structure.unit_specs import UnitSpec

__all__ = [
    "DynamicModel",
    "NewUnits",
    "StructureEvent",
    "UnitSpec",
    "ZeroFanIn",
    "ZeroFanOut",
    "analyze",
]
