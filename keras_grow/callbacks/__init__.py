"""Keras callbacks that drive structural change during fit."""

from keras_grow.callbacks.multiplier_resize import MultiplierResize as MultiplierResize
from keras_grow.callbacks.multiplier_resize import NewNeuronAtThreshold as NewNeuronAtThreshold
from keras_grow.callbacks.multiplier_resize import plan_resize as plan_resize
from keras_grow.callbacks.neurogenesis import Neurogenesis as Neurogenesis
from keras_grow.callbacks.scheduled_growth import ScheduledGrowth as ScheduledGrowth
from keras_grow.callbacks.structural import StructuralCallback as StructuralCallback
