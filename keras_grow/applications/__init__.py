"""Prebuilt models in the keras.applications style."""

from keras_grow.applications.urn_classifier import URN_CONFIGS as URN_CONFIGS
from keras_grow.applications.urn_classifier import URNClassifier as URNClassifier
