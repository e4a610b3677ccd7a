"""Custom Keras layers of keras_grow."""

from keras_grow.layers.autoencoder_unit import AutoencoderUnit as AutoencoderUnit
from keras_grow.layers.darts_cells import AuxiliaryHead as AuxiliaryHead
from keras_grow.layers.darts_cells import DropPath as DropPath
from keras_grow.layers.darts_cells import GenotypeCell as GenotypeCell
from keras_grow.layers.darts_cells import SearchCell as SearchCell
from keras_grow.layers.darts_ops import DARTS_PRIMITIVES as DARTS_PRIMITIVES
from keras_grow.layers.darts_ops import DartsPooling as DartsPooling
from keras_grow.layers.darts_ops import DilConv as DilConv
from keras_grow.layers.darts_ops import FactorizedReduce as FactorizedReduce
from keras_grow.layers.darts_ops import ReLUConvBN as ReLUConvBN
from keras_grow.layers.darts_ops import SepConv as SepConv
from keras_grow.layers.darts_ops import Zero as Zero
from keras_grow.layers.group_batch_norm import GroupBatchNormalization as GroupBatchNormalization
from keras_grow.layers.group_conv import GroupConv2D as GroupConv2D
from keras_grow.layers.group_pooling import GroupPooling as GroupPooling
from keras_grow.layers.lifting_conv import LiftingConv2D as LiftingConv2D
from keras_grow.layers.mixed_equivariant_conv import MixedEquivariantConv as MixedEquivariantConv
from keras_grow.layers.mixed_op import MixedOp as MixedOp
from keras_grow.layers.multiplier_dense import MultiplierDense as MultiplierDense
from keras_grow.layers.multiplier_dense import MultiplierFloor as MultiplierFloor
from keras_grow.layers.multiplier_residual import MultiplierResidualStack as MultiplierResidualStack
from keras_grow.layers.multiplier_rnn import MultiplierSimpleRNNCell as MultiplierSimpleRNNCell
from keras_grow.layers.urn_geometry import URNGeometry as URNGeometry
from keras_grow.layers.urn_layer import URNLayer as URNLayer
