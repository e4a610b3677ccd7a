"""Custom Keras layers of keras_grow."""

from keras_grow.layers.urn_geometry import URNGeometry as URNGeometry
from keras_grow.layers.urn_layer import URNLayer as URNLayer
