"""When, where and how to change structure: metrics, triggers, initialisers.

Neurogenesis (Maile, PhD thesis 2023, ch. 6) splits growth into a *trigger*
(when, where and how many units to add) and an *initialisation* (the new
units' weights). `keras_grow.callbacks.Neurogenesis` runs any pair during
`fit`; `strategy(name)` returns the thesis' pairs (Table 7).

- metrics: `metrics.effective_dimension` (eq. 27), `metrics.orthogonality_gap`
  (eq. 29), `metrics.weight_effective_dimension` (eq. 30).
- triggers: `ActivationTrigger` (eqs. 28, 35), `WeightTrigger` (eq. 31),
  `GradientTrigger` (eq. 32), and the preset `FixedSchedule`.
- initialisers: `NorthSelect`, `NorthPre` (eq. 33), `NorthRandom`,
  `NorthWeight` (eq. 34); baselines `GradMax`, `Firefly`, `NeST`.
"""

from keras_grow.growth import metrics as metrics
from keras_grow.growth import pruning as pruning
from keras_grow.growth.context import growth_context as growth_context
from keras_grow.growth.context import watch_layers as watch_layers
from keras_grow.growth.gradient_initializers import Firefly as Firefly
from keras_grow.growth.gradient_initializers import GradMax as GradMax
from keras_grow.growth.gradient_initializers import NeST as NeST
from keras_grow.growth.north_initializers import NorthPre as NorthPre
from keras_grow.growth.north_initializers import NorthRandom as NorthRandom
from keras_grow.growth.north_initializers import NorthSelect as NorthSelect
from keras_grow.growth.north_initializers import NorthWeight as NorthWeight
from keras_grow.growth.north_initializers import UnitInitializer as UnitInitializer
from keras_grow.growth.north_initializers import select_candidates as select_candidates
from keras_grow.growth.north_initializers import select_orthogonal as select_orthogonal
from keras_grow.growth.probe import GradientProbe as GradientProbe
from keras_grow.growth.probe import ProbeResult as ProbeResult
from keras_grow.growth.schedules import FixedSchedule as FixedSchedule
from keras_grow.growth.strategies import STRATEGIES as STRATEGIES
from keras_grow.growth.strategies import strategy as strategy
from keras_grow.growth.triggers import ActivationTrigger as ActivationTrigger
from keras_grow.growth.triggers import Decision as Decision
from keras_grow.growth.triggers import GradientTrigger as GradientTrigger
from keras_grow.growth.triggers import Observation as Observation
from keras_grow.growth.triggers import Trigger as Trigger
from keras_grow.growth.triggers import WeightTrigger as WeightTrigger
