"""When to take an architecture (α) step: the bilevel schedules of DARTS and DARTS-PRIME.

Every train step of `DartsSearchModel` takes one weight (w) step on a
training batch and then asks its schedule whether to take an α step on the
architecture batch. The decision is made inside the compiled step (a
`tf.cond`), so a schedule costs no retracing and no host round trip.

- `AlternatingSchedule`: an α step after every w step (DARTS, Liu et al. 2019).
- `ConstantSchedule(every=10)`: one α step per `every` w steps (CS10 of Maile's
  thesis section 5.3).
- `FisherSchedule`: the dynamic FIMT schedule (thesis eqs. 18-19, Algorithm 3):
  an exponentially weighted moving average of the trace of the empirical
  Fisher information of the weights, `tr(G Gᵀ) = ||G||²` of the weight
  gradient G, is compared with an adaptive threshold h; an α step fires when
  the average is below h, and then h shrinks by `h_d = increase ** -ratio`,
  otherwise h grows by `increase`. With a constant trace this gives one α step
  every `ratio + 1` w steps; while the trace keeps falling (early training)
  α steps are held back.
- `FrozenSchedule`: no α steps (weight warm-up); needs no architecture data.
"""

import keras
from keras import ops


class ArchSchedule:
    """Base class: decides, inside the compiled train step, whether to take an α step.

    Subclasses set `needs_fisher` when `should_step` uses the Fisher trace,
    create their state in `build()` (called eagerly, once, before the train
    function is traced) and implement `should_step(fisher_trace)` with
    `keras.ops`, returning a boolean scalar tensor.
    """

    name = "schedule"
    needs_fisher = False
    needs_arch_data = True

    def __init__(self):
        self.built = False

    def build(self):
        self.built = True

    def should_step(self, fisher_trace):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class AlternatingSchedule(ArchSchedule):
    """One α step after every weight step: the original DARTS schedule.

    Example:

    >>> AlternatingSchedule().should_step(None)
    True
    """

    name = "alternating"

    def should_step(self, fisher_trace):
        return True


class FrozenSchedule(ArchSchedule):
    """No α steps: train the supernet weights only (warm-up); no `arch_data` needed.

    Example:

    ```python
    search.compile(arch_schedule="frozen", loss="sparse_categorical_crossentropy")
    search.fit(x_train, y_train, epochs=5)  # weights only
    ```
    """

    name = "frozen"
    needs_arch_data = False

    def should_step(self, fisher_trace):
        return False


def _check_positive_int(value, argument):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{argument}` must be a positive int; received {value!r}.")
    return value


def _check_positive_float(value, argument, minimum=0.0, strict=True, maximum=None):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (value > minimum if strict else value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        bound = f"> {minimum}" if strict else f">= {minimum}"
        if maximum is not None:
            bound += f" and <= {maximum}"
        raise ValueError(f"`{argument}` must be a number {bound}; received {value!r}.")
    return float(value)


class ConstantSchedule(ArchSchedule):
    """One α step every `every` weight steps (CS10 with `every=10`).

    Args:
        every: weight steps per α step; the α step follows the `every`-th,
            `2 every`-th, ... weight step.

    Example:

    >>> schedule = ConstantSchedule(every=3); schedule.build()
    >>> [bool(schedule.should_step(None)) for _ in range(6)]
    [False, False, True, False, False, True]
    """

    name = "constant"

    def __init__(self, every=10):
        super().__init__()
        self.every = _check_positive_int(every, "every")

    def build(self):
        if self.built:
            return
        self.counter = keras.Variable(0, dtype="int64", trainable=False, name="schedule_counter")
        super().build()

    def should_step(self, fisher_trace):
        count = self.counter.value + 1
        self.counter.assign(count)
        return ops.equal(count % self.every, 0)

    def get_config(self):
        return {"every": self.every}


class FisherSchedule(ArchSchedule):
    """The dynamic FIMT schedule of DARTS-PRIME (Maile's thesis Algorithm 3).

    After each weight step with gradient G, the moving average
    `F_n = decay * ||G||² + (1 - decay) * F_{n-1}` (eq. 19; the first step
    initialises `F_1 = ||G||²`) is compared with the threshold h: if `F_n < h`
    an α step fires and `h <- h * increase ** -ratio`, otherwise
    `h <- h * increase`.

    Args:
        initial_threshold: h_0 (thesis: 1.0).
        increase: h_i >= 1 (thesis: 1.05).
        ratio: expected weight steps per α step, r (thesis: 10).
        decay: the moving-average weight λ in (0, 1] (thesis: 0.2).

    Example:

    >>> schedule = FisherSchedule(initial_threshold=1.0, increase=2.0, ratio=1)
    >>> schedule.build()
    >>> [bool(schedule.should_step(1.5)) for _ in range(4)]
    [False, True, False, True]
    """

    name = "fisher"
    needs_fisher = True

    def __init__(self, initial_threshold=1.0, increase=1.05, ratio=10, decay=0.2):
        super().__init__()
        self.initial_threshold = _check_positive_float(initial_threshold, "initial_threshold")
        self.increase = _check_positive_float(increase, "increase", minimum=1.0, strict=False)
        self.ratio = _check_positive_float(ratio, "ratio")
        self.decay = _check_positive_float(decay, "decay", maximum=1.0)

    @property
    def decrease(self):
        """h_d = exp(-r ln h_i)."""
        return self.increase ** (-self.ratio)

    def build(self):
        if self.built:
            return
        self.threshold = keras.Variable(
            self.initial_threshold, dtype="float32", trainable=False, name="fimt_threshold"
        )
        self.fimt = keras.Variable(0.0, dtype="float32", trainable=False, name="fimt")
        self.initialized = keras.Variable(False, dtype="bool", trainable=False, name="fimt_init")
        super().build()

    def reset(self):
        """Back to h_0 and an empty moving average."""
        self.threshold.assign(self.initial_threshold)
        self.fimt.assign(0.0)
        self.initialized.assign(False)

    def should_step(self, fisher_trace):
        trace = ops.cast(fisher_trace, "float32")
        average = ops.where(
            self.initialized.value,
            self.decay * trace + (1.0 - self.decay) * self.fimt.value,
            trace,
        )
        self.fimt.assign(average)
        self.initialized.assign(True)
        threshold = self.threshold.value
        step = ops.less(average, threshold)
        self.threshold.assign(ops.where(step, threshold * self.decrease, threshold * self.increase))
        return step

    def get_config(self):
        return {
            "initial_threshold": self.initial_threshold,
            "increase": self.increase,
            "ratio": self.ratio,
            "decay": self.decay,
        }


SCHEDULES = {
    cls.name: cls for cls in (AlternatingSchedule, ConstantSchedule, FisherSchedule, FrozenSchedule)
}


def get(identifier, **kwargs):
    """Resolve a schedule: an `ArchSchedule`, a name from `SCHEDULES`, or an int (constant).

    Example:

    >>> get(10)
    ConstantSchedule(every=10)
    >>> get("fisher", ratio=5).ratio
    5.0
    """
    if isinstance(identifier, ArchSchedule):
        if kwargs:
            raise ValueError("Keyword arguments are only accepted with a schedule name.")
        return identifier
    if isinstance(identifier, int) and not isinstance(identifier, bool):
        return ConstantSchedule(every=identifier, **kwargs)
    if isinstance(identifier, str) and identifier in SCHEDULES:
        return SCHEDULES[identifier](**kwargs)
    raise ValueError(
        f"`arch_schedule` must be an ArchSchedule, a positive int (one α step every n weight "
        f"steps) or one of {tuple(SCHEDULES)}; received {identifier!r}."
    )
