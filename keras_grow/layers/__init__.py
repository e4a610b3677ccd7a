"""Custom Keras layers of keras_grow."""

from keras_grow.layers.multiplier_dense import MultiplierDense as MultiplierDense
from keras_grow.layers.multiplier_dense import MultiplierFloor as MultiplierFloor
from keras_grow.layers.multiplier_residual import MultiplierResidualStack as MultiplierResidualStack
from keras_grow.layers.multiplier_rnn import MultiplierSimpleRNNCell as MultiplierSimpleRNNCell
