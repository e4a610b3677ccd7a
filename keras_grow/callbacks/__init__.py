"""Keras callbacks that drive structural change during fit."""

from keras_grow.callbacks.darts import ADMMRegularization as ADMMRegularization
from keras_grow.callbacks.darts import AlphaHistory as AlphaHistory
from keras_grow.callbacks.darts import DropPathScheduler as DropPathScheduler
from keras_grow.callbacks.darts import FisherScheduler as FisherScheduler
from keras_grow.callbacks.darts import ProgressivePruning as ProgressivePruning
from keras_grow.callbacks.darts import ProximityRegularization as ProximityRegularization
from keras_grow.callbacks.grow_and_prune import GrowAndPrune as GrowAndPrune
from keras_grow.callbacks.multiplier_resize import MultiplierResize as MultiplierResize
from keras_grow.callbacks.multiplier_resize import NewNeuronAtThreshold as NewNeuronAtThreshold
from keras_grow.callbacks.multiplier_resize import plan_resize as plan_resize
from keras_grow.callbacks.neurogenesis import Neurogenesis as Neurogenesis
from keras_grow.callbacks.precise_batch_norm import PreciseBatchNorm as PreciseBatchNorm
from keras_grow.callbacks.precise_batch_norm import (
    recalibrate_batch_norm as recalibrate_batch_norm,
)
from keras_grow.callbacks.scheduled_growth import ScheduledGrowth as ScheduledGrowth
from keras_grow.callbacks.structural import StructuralCallback as StructuralCallback
from keras_grow.callbacks.surgical_fine_tuning import SurgicalFineTuning as SurgicalFineTuning
