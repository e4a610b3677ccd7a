"""Keras callbacks that drive structural change during fit."""

from keras_grow.callbacks.neurogenesis import Neurogenesis as Neurogenesis
from keras_grow.callbacks.scheduled_growth import ScheduledGrowth as ScheduledGrowth
from keras_grow.callbacks.structural import StructuralCallback as StructuralCallback
