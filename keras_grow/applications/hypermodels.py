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

from keras_grow.applications.growing_mlp import GrowingMLP
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


class HyperGrowingMLP(keras_tuner.HyperModel):
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
        super().__init__(name=name, tunable=tunable)
        self.initial_hidden = _check_choices(initial_hidden, "initial_hidden", _is_int, "ints >= 1")
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
        widest = max(self.initial_hidden)
        self.max_widths = _check_choices(
            max_widths, "max_widths", lambda v: _is_int(v, widest), f"ints >= {widest}"
        )
        for value, label in ((batch_size, "batch_size"), (candidates, "candidates")):
            if not _is_int(value):
                raise ValueError(f"{label}={value!r} is not allowed; expected an int >= 1.")
        if buffer_size is not None and not _is_int(buffer_size, max(self.max_widths) + 1):
            raise ValueError(
                f"buffer_size={buffer_size!r} is not allowed; expected None or an int above "
                f"the largest max width {max(self.max_widths)}."
            )
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self.learning_rate = learning_rate
        self.batch_size = int(batch_size)
        self.buffer_size = buffer_size
        self.candidates = int(candidates)
        self.seed = seed

    def _structural(self, hp):
        initializer = hp.Choice("initializer", list(self.initializers))
        gamma = None
        with_gamma = [s for s in self.initializers if s in _GAMMA_STRATEGIES]
        if with_gamma:
            with hp.conditional_scope("initializer", with_gamma):
                gamma = hp.Choice("gamma", list(self.gammas))
        max_units = hp.Choice("max_units", list(self.max_widths))
        return initializer, gamma, max_units

    def build(self, hp):
        """The starting network: `GrowingMLP(initial_hidden)` in a compiled `DynamicModel`."""
        self._structural(hp)  # declares the hyperparameters
        base = GrowingMLP(
            input_shape=self.input_shape, classes=self.classes, hidden=self.initial_hidden
        )
        model = DynamicModel(base, seed=self.seed, name=self.name)
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
        initializer, gamma, max_units = self._structural(hp)
        trigger, unit_initializer = strategies.strategy(
            initializer, gamma=gamma, candidates=self.candidates
        )
        return Neurogenesis(
            trigger,
            unit_initializer,
            max_units=max_units,
            buffer_size=self.buffer_size or 2 * max_units,
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
