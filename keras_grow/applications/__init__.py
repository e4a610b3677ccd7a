"""Prebuilt models in the keras.applications style."""

from keras_grow.applications.darts_network import DartsNetwork as DartsNetwork
from keras_grow.applications.diff_rnn import DiffRNN as DiffRNN
from keras_grow.applications.equivariant_cnn import EquivariantCNN as EquivariantCNN
from keras_grow.applications.growing_mlp import GrowingMLP as GrowingMLP
from keras_grow.applications.presets import from_preset as from_preset
from keras_grow.applications.presets import list_presets as list_presets
from keras_grow.applications.presets import preset_metadata as preset_metadata
from keras_grow.applications.self_organizing import (
    SelfOrganizingHierarchy as SelfOrganizingHierarchy,
)
from keras_grow.applications.self_organizing import soh_columnar as soh_columnar
from keras_grow.applications.self_organizing import soh_flat as soh_flat
from keras_grow.applications.self_organizing import soh_pyramidal as soh_pyramidal
from keras_grow.applications.urn_classifier import URN_CONFIGS as URN_CONFIGS
from keras_grow.applications.urn_classifier import URNClassifier as URNClassifier
from keras_grow.applications.vgg import VGG11 as VGG11
from keras_grow.applications.wide_resnet import WideResNet28 as WideResNet28

# The HyperModels build on keras-tuner (the `tuner` extra): imported on first use.
_HYPERMODEL_NAMES = ("HyperGrowingMLP", "HyperGrowingVGG11")


def __getattr__(name):
    if name in _HYPERMODEL_NAMES:
        from keras_grow.applications import hypermodels

        return getattr(hypermodels, name)
    raise AttributeError(f"module 'keras_grow.applications' has no attribute {name!r}")
