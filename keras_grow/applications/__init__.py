"""Prebuilt models in the keras.applications style."""

from keras_grow.applications.equivariant_cnn import EquivariantCNN as EquivariantCNN
from keras_grow.applications.growing_mlp import GrowingMLP as GrowingMLP
from keras_grow.applications.vgg import VGG11 as VGG11
from keras_grow.applications.wide_resnet import WideResNet28 as WideResNet28
