"""keras-tuner HyperModels for the growing applications (needs the `tuner` extra).

The structural hyperparameters of neurogenesis (Maile's thesis, chapter 6) are
the trigger's threshold γ, the initialisation of new neurons and the maximum
width a layer may reach; they live in the `callbacks.Neurogenesis` callback, not
in the model, so these HyperModels build the starting model in `build(hp)` and
add the callback in `fit(hp, model, ...)`.
"""

import numbers

import keras
import keras_tuner

from keras_grow.applications import _conventions
from keras_grow.applications.growing_mlp import GrowingMLP
from keras_grow.applications.vgg import VGG11, VGG11_CHANNELS
from keras_grow.callbacks import Neurogenesis
from keras_grow.growth import strategies
from keras_grow.structure import DynamicModel

_GAMMA_STRATEGIES = ("north_select", "north_pre", "north_random", "north_weight")


def _check_choices(values, name, check, allowed):
    given = values
    values = tuple(values) if isinstance(values, (tuple, list)) else None
    if not values or not all(check(v) for v in values):
        raise ValueError(
            f"{name}={given!r} is not allowed; expected a non-empty list of {allowed}."
        )
    return values


def _is_int(value, minimum=1):
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= minimum


class _HyperGrowing(keras_tuner.HyperModel):
    """Shared part of the growing HyperModels: the tuned `Neurogenesis` callback.

    Subclasses set `self.max_choices` (the values of the `max_units`
    hyperparameter) and implement `_start_model()` (the uncompiled starting
    network) and `_max_units(choice)` (the `Neurogenesis.max_units` of a choice).
    """

    def __init__(
        self,
        initializers,
        gammas,
        learning_rate,
        batch_size,
        buffer_size,
        candidates,
        seed,
        name,
        tunable,
    ):
        super().__init__(name=name, tunable=tunable)
        self.initializers = _check_choices(
            initializers,
            "initializers",
            lambda v: str(v).lower().replace("-", "_") in strategies.STRATEGIES,
            f"strategy names in {strategies.STRATEGIES}",
        )
        self.initializers = tuple(str(v).lower().replace("-", "_") for v in self.initializers)
        self.gammas = _check_choices(
            gammas,
            "gammas",
            lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 < v < 1,
            "numbers in (0, 1)",
        )
        for value, label in ((batch_size, "batch_size"), (candidates, "candidates")):
            if not _is_int(value):
                raise ValueError(f"{label}={value!r} is not allowed; expected an int >= 1.")
        self.learning_rate = learning_rate
        self.batch_size = int(batch_size)
        self.buffer_size = buffer_size
        self.candidates = int(candidates)
        self.seed = seed

    def _check_buffer_size(self):
        widest = max(self._widest(choice) for choice in self.max_choices)
        if self.buffer_size is not None and not _is_int(self.buffer_size, widest + 1):
            raise ValueError(
                f"buffer_size={self.buffer_size!r} is not allowed; expected None or an int "
                f"above the largest maximum width {widest}."
            )

    def _widest(self, choice):
        limit = self._max_units(choice)
        return max(limit.values()) if isinstance(limit, dict) else limit

    def _structural(self, hp):
        initializer = hp.Choice("initializer", list(self.initializers))
        gamma = None
        with_gamma = [s for s in self.initializers if s in _GAMMA_STRATEGIES]
        if with_gamma:
            with hp.conditional_scope("initializer", with_gamma):
                gamma = hp.Choice("gamma", list(self.gammas))
        max_units = hp.Choice("max_units", list(self.max_choices))
        return initializer, gamma, max_units

    def build(self, hp):
        """The starting network in a `DynamicModel`, compiled with Adam."""
        self._structural(hp)  # declares the hyperparameters
        model = DynamicModel(self._start_model(), seed=self.seed, name=self.name)
        model.compile(
            keras.optimizers.Adam(self.learning_rate),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def neurogenesis(self, hp, data=None, batch_size=None):
        """The `callbacks.Neurogenesis` callback of the trial's hyperparameters.

        `batch_size` (default: the constructor's) sets the rows recorded per step.
        """
        batch_size = int(batch_size or self.batch_size)
        initializer, gamma, choice = self._structural(hp)
        max_units = self._max_units(choice)
        trigger, unit_initializer = strategies.strategy(
            initializer, gamma=gamma, candidates=self.candidates
        )
        return Neurogenesis(
            trigger,
            unit_initializer,
            max_units=max_units,
            buffer_size=self.buffer_size or 2 * self._widest(choice),
            rows_per_step=batch_size,
            reserve=False,
            data=data,
            probe_size=batch_size,
            seed=self.seed,
        )

    def fit(self, hp, model, x=None, y=None, callbacks=None, **kwargs):
        """`model.fit` with the trial's `Neurogenesis` callback added to `callbacks`."""
        data = (x, y) if x is not None and y is not None else None
        growth = self.neurogenesis(hp, data=data, batch_size=kwargs.get("batch_size"))
        callbacks = list(callbacks or []) + [growth]
        return model.fit(x, y, callbacks=callbacks, **kwargs)


class HyperGrowingMLP(_HyperGrowing):
    """A `GrowingMLP` in a `DynamicModel` whose neurogenesis settings are tuned.

    `build(hp)` returns the starting network (`initial_hidden`, compiled with
    Adam); `fit(hp, model, x, y, ...)` trains it with a
    `callbacks.Neurogenesis` callback made from three hyperparameters:

    - `initializer` (`hp.Choice` over `initializers`): the strategy of
      Maile's Table 7 (`growth.strategy`), i.e. the initialisation of new
      neurons and its trigger;
    - `gamma` (`hp.Choice` over `gammas`): the orthogonality threshold γ of
      the NORTH* triggers (active only for NORTH* strategies);
    - `max_units` (`hp.Choice` over `max_widths`): the width no layer grows
      beyond.

    The best model of a tuner is a `DynamicModel` at the width it grew to:
    `tuner.get_best_models()` rebuilds the starting network and loads the
    checkpoint, which restores the grown structure.

    Args:
        input_shape: shape of one input vector.
        classes: number of classes.
        initial_hidden: starting widths of the hidden layers.
        initializers: strategy names to choose from (see `growth.STRATEGIES`).
        gammas: values of γ to choose from, each in (0, 1).
        max_widths: maximum widths to choose from, ints >= the largest
            starting width.
        learning_rate: Adam's learning rate.
        batch_size: rows per step recorded by the activation buffers when
            `tuner.search` is called without `batch_size` (otherwise that one).
        buffer_size: rows of each layer's activation buffer (default: twice
            the trial's maximum width, as in the thesis).
        candidates: candidates of the selecting initialisers (NORTH-Select,
            NORTH-Pre, Firefly).
        seed: seed of the models and of the callback.
        name, tunable: `keras_tuner.HyperModel` arguments.

    Example:

    ```python
    import keras_tuner

    tuner = keras_tuner.RandomSearch(
        keras_grow.applications.HyperGrowingMLP(input_shape=(784,), classes=10),
        objective="val_accuracy", max_trials=8)
    tuner.search(x, y, epochs=5, batch_size=128, validation_data=(x_val, y_val))
    best = tuner.get_best_models()[0]          # a DynamicModel, grown
    ```
    """

    def __init__(
        self,
        input_shape=(784,),
        classes=10,
        initial_hidden=(64, 64),
        initializers=("north_select", "north_random", "north_weight"),
        gammas=(0.9, 0.95, 0.97, 0.99),
        max_widths=(128, 256, 512),
        learning_rate=3e-4,
        batch_size=128,
        buffer_size=None,
        candidates=100,
        seed=0,
        name="growing_mlp",
        tunable=True,
    ):
        super().__init__(
            initializers,
            gammas,
            learning_rate,
            batch_size,
            buffer_size,
            candidates,
            seed,
            name,
            tunable,
        )
        self.initial_hidden = _check_choices(initial_hidden, "initial_hidden", _is_int, "ints >= 1")
        widest = max(self.initial_hidden)
        self.max_choices = _check_choices(
            max_widths, "max_widths", lambda v: _is_int(v, widest), f"ints >= {widest}"
        )
        self._check_buffer_size()
        self.input_shape = tuple(input_shape)
        self.classes = classes

    def _start_model(self):
        return GrowingMLP(
            input_shape=self.input_shape, classes=self.classes, hidden=self.initial_hidden
        )

    def _max_units(self, choice):
        return int(choice)


class HyperGrowingVGG11(_HyperGrowing):
    """A narrow `VGG11` in a `DynamicModel` whose neurogenesis settings are tuned.

    The thesis' convolutional setting (section 6.3.4): VGG-11 starts at
    `width_multiplier` of its widths and grows, each layer up to the widths
    of `VGG11(width_multiplier=m)` for the tuned `m`. The hyperparameters are
    those of `HyperGrowingMLP`, with `max_units` the maximum width
    *multiplier* (`hp.Choice` over `max_width_multipliers`).

    Args:
        input_shape: image shape, at least 32×32.
        classes: number of classes.
        width_multiplier: starting width multiplier (thesis: 0.25).
        max_width_multipliers: maximum width multipliers to choose from, each
            >= `width_multiplier`.
        dense_units: hidden dense width at multiplier 1.
        initializers, gammas, learning_rate, batch_size, buffer_size,
            candidates, seed, name, tunable: as in `HyperGrowingMLP`
            (`candidates` defaults to 100, the thesis' value for convolutions).

    Example:

    ```python
    import keras_tuner

    tuner = keras_tuner.RandomSearch(
        keras_grow.applications.HyperGrowingVGG11(input_shape=(32, 32, 3), classes=10),
        objective="val_accuracy", max_trials=4)
    ```
    """

    def __init__(
        self,
        input_shape=(32, 32, 3),
        classes=10,
        width_multiplier=0.25,
        max_width_multipliers=(0.5, 1.0),
        dense_units=512,
        initializers=("north_select", "north_random", "north_weight"),
        gammas=(0.9, 0.95, 0.97, 0.99),
        learning_rate=1e-3,
        batch_size=128,
        buffer_size=None,
        candidates=100,
        seed=0,
        name="growing_vgg11",
        tunable=True,
    ):
        super().__init__(
            initializers,
            gammas,
            learning_rate,
            batch_size,
            buffer_size,
            candidates,
            seed,
            name,
            tunable,
        )
        _conventions.check_positive(width_multiplier, "width_multiplier")
        self.width_multiplier = float(width_multiplier)
        self.max_choices = _check_choices(
            max_width_multipliers,
            "max_width_multipliers",
            lambda v: (
                isinstance(v, numbers.Real)
                and not isinstance(v, bool)
                and v >= self.width_multiplier
            ),
            f"numbers >= width_multiplier={self.width_multiplier}",
        )
        if not _is_int(dense_units):
            raise ValueError(f"dense_units={dense_units!r} is not allowed; expected an int >= 1.")
        self.dense_units = int(dense_units)
        self._check_buffer_size()
        self.input_shape = tuple(input_shape)
        self.classes = classes

    def _start_model(self):
        return VGG11(
            input_shape=self.input_shape,
            classes=self.classes,
            width_multiplier=self.width_multiplier,
            dense_units=self.dense_units,
        )

    def _max_units(self, choice):
        channels = [c for c in VGG11_CHANNELS if c != "M"]
        limits = {
            f"conv{index}": _conventions.scaled(c, choice)
            for index, c in enumerate(channels, start=1)
        }
        dense = _conventions.scaled(self.dense_units, choice)
        limits.update(fc1=dense, fc2=dense)
        return limits
