"""Keras callbacks that drive structural change during fit."""

from keras_grow.callbacks.multiplier_resize import MultiplierResize as MultiplierResize
from keras_grow.callbacks.multiplier_resize import NewNeuronAtThreshold as NewNeuronAtThreshold
from keras_grow.callbacks.multiplier_resize import plan_resize as plan_resize
