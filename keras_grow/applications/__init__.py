"""Prebuilt models in the keras.applications style."""

from keras_grow.applications.darts_network import DartsNetwork as DartsNetwork
from keras_grow.applications.equivariant_cnn import EquivariantCNN as EquivariantCNN
from keras_grow.applications.vgg import VGG11 as VGG11
