"""Prebuilt models in the keras.applications style."""

from keras_grow.applications.diff_rnn import DiffRNN as DiffRNN
