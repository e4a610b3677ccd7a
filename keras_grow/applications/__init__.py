"""Prebuilt models in the keras.applications style."""

from keras_grow.applications.equivariant_cnn import EquivariantCNN as EquivariantCNN
