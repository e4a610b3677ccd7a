"""Custom Keras layers of keras_grow."""

from keras_grow.layers.autoencoder_unit import AutoencoderUnit as AutoencoderUnit
