"""Callbacks that drive DARTS / DARTS-PRIME searches (Maile's thesis ch. 5).

They talk to the search model through its public methods
(`set_arch_schedule`, `set_arch_regularizer`, `prune_inactive_ops`,
`arch_weights`, ...), so they work with `keras_grow.search.DartsSearchModel`
or any model offering the same methods. Configuration callbacks install
their component as soon as they meet the model (`set_model`, and
`configure_search`, which `DartsSearchModel.fit` calls before it prepares
the data), so the component is part of the compiled train step.
"""

import keras
import numpy as np


def _require(model, callback, *methods):
    missing = [m for m in methods if not hasattr(model, m)]
    if missing:
        raise TypeError(
            f"{type(callback).__name__} drives an architecture search, so the model must be a "
            f"keras_grow.search.DartsSearchModel (or offer {', '.join(missing)}); got "
            f"{type(model).__name__} '{getattr(model, 'name', '?')}'."
        )


def _check_frequency(every_n_batches, argument="every_n_batches"):
    if every_n_batches is None:
        return None
    if (
        isinstance(every_n_batches, bool)
        or not isinstance(every_n_batches, int)
        or (every_n_batches < 1)
    ):
        raise ValueError(
            f"`{argument}` must be None (epoch ends) or a positive int; received "
            f"{every_n_batches!r}."
        )
    return every_n_batches


class _ConfiguresSearch(keras.callbacks.Callback):
    """Installs something on the search model when it meets it."""

    def set_model(self, model):
        super().set_model(model)
        self.configure_search(model)

    def configure_search(self, model):
        raise NotImplementedError


class FisherScheduler(_ConfiguresSearch):
    """Use the dynamic FIMT α-step schedule of DARTS-PRIME (Maile's thesis Algorithm 3).

    Installs a `search.FisherSchedule`: after every weight step the moving
    average of the empirical Fisher information trace `||∇w L_train||²`
    (eqs. 18-19) is compared with an adaptive threshold; an α step fires when
    it is below. Adds `fimt` and `fimt_threshold` to the epoch logs. With
    `record=True` keeps `history`, one `(step, fimt, threshold, arch_step)`
    tuple per weight step (Fig. 20; reading the values costs a host sync per
    step). The schedule stays installed after `fit`; `compile()` or
    `model.set_arch_schedule()` replaces it.

    Args:
        initial_threshold: h_0 (thesis 1.0).
        increase: threshold increasing factor h_i (thesis 1.05).
        ratio: expected weight steps per α step r (thesis 10).
        decay: moving-average weight λ (thesis 0.2).
        record: record the schedule per step.

    Example:

    ```python
    search.fit(train, arch_data=val, epochs=50,
               callbacks=[keras_grow.callbacks.FisherScheduler()])
    ```
    """

    def __init__(self, initial_threshold=1.0, increase=1.05, ratio=10, decay=0.2, record=False):
        super().__init__()
        self.config = {
            "initial_threshold": initial_threshold,
            "increase": increase,
            "ratio": ratio,
            "decay": decay,
        }
        self.record = bool(record)
        self.schedule = None
        self.history = []

    def configure_search(self, model):
        _require(model, self, "set_arch_schedule")
        if self.schedule is None:
            self.schedule = model.set_arch_schedule("fisher", **self.config)
        else:
            model.set_arch_schedule(self.schedule)

    def on_train_batch_end(self, batch, logs=None):
        if self.record:
            self.history.append(
                (
                    int(self.model.optimizer.iterations),
                    float(self.schedule.fimt),
                    float(self.schedule.threshold),
                    int(self.model.arch_optimizer.iterations),
                )
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["fimt"] = float(self.schedule.fimt)
            logs["fimt_threshold"] = float(self.schedule.threshold)


class ProximityRegularization(_ConfiguresSearch):
    """Proximity regularisation of DARTS-PRIME (Maile's thesis eq. 20).

    Adds `c ρ / 2 · ||A - Π_S(A)||₂` to the α-step loss, A the activated
    architecture weights and Π_S(A) the derived discrete architecture; `c`
    rises linearly from 0 at the start of `fit` to 1 at its last step
    (assigned before every batch). Adds `proximity_c` to the epoch logs. The
    regulariser stays installed after `fit` (at its last strength);
    `model.remove_arch_regularizer("proximity")` removes it.

    Args:
        rho: ρ_p (thesis: 0.1 for CIFAR, 1.0 for PTB).
        squared: penalise the squared distance instead.

    Example:

    ```python
    search.fit(train, arch_data=val, epochs=50, callbacks=[
        keras_grow.callbacks.FisherScheduler(),
        keras_grow.callbacks.ProximityRegularization(rho=0.1)])  # = DARTS-PRIME
    ```
    """

    def __init__(self, rho=0.1, squared=False):
        super().__init__()
        self.rho = rho
        self.squared = squared
        self.regularizer = None
        self._epoch = 0
        self._steps = 1
        self._total = 1

    def configure_search(self, model):
        _require(model, self, "set_arch_regularizer")
        if self.regularizer is None:
            self.regularizer = model.set_arch_regularizer(
                "proximity", rho=self.rho, squared=self.squared
            )
        else:
            model.set_arch_regularizer(self.regularizer)

    def on_train_begin(self, logs=None):
        steps = self.params.get("steps") or 1
        self._steps = steps
        self._total = max(1, self.params.get("epochs", 1) * steps - 1)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        progress = (self._epoch * self._steps + batch) / self._total
        self.regularizer.strength.assign(min(1.0, progress))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["proximity_c"] = float(self.regularizer.strength)


class ADMMRegularization(_ConfiguresSearch):
    """ADMM regularisation of the α step towards the discrete set (thesis eqs. 21-25).

    Adds `ρ / 2 · ||A - z + u||²`; every `update_every` α steps
    `z <- Π_S(A + u)` and `u <- decay · u + A - z` (in the train step). Adds
    `admm_residual` (`||A - z||`) to the epoch logs.

    Args:
        rho: ρ_a (thesis 0.1).
        update_every: α steps between z/u updates (thesis 10).
        decay: λ_u (thesis 0.8).

    Example:

    ```python
    search.fit(train, arch_data=val, epochs=50, callbacks=[
        keras_grow.callbacks.FisherScheduler(),
        keras_grow.callbacks.ADMMRegularization(rho=0.1)])  # DARTS + ADMM + FIMT
    ```
    """

    def __init__(self, rho=0.1, update_every=10, decay=0.8):
        super().__init__()
        self.config = {"rho": rho, "update_every": update_every, "decay": decay}
        self.regularizer = None

    def configure_search(self, model):
        _require(model, self, "set_arch_regularizer")
        if self.regularizer is None:
            self.regularizer = model.set_arch_regularizer("admm", **self.config)
        else:
            model.set_arch_regularizer(self.regularizer)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.regularizer.built:
            logs["admm_residual"] = self.regularizer.residual(self.model)


class AlphaHistory(keras.callbacks.Callback):
    """Record the activated architecture weights during a search (for Fig. 18).

    Appends `{"epoch", "step", "normal", "reduce"}` entries (NumPy arrays of
    shape `(num_edges, num_primitives)`) to `model.alpha_history`: once before
    the first step of a fresh search, then at every epoch end, or every
    `every_n_batches` batches. `DartsSearchModel.fit` adds one (epoch ends)
    unless you pass your own.

    Args:
        every_n_batches: `None` for epoch ends, or a batch interval.

    Example:

    ```python
    search.fit(train, arch_data=val, epochs=10, callbacks=[AlphaHistory(every_n_batches=20)])
    keras_grow.analysis.plot_alpha_history(search, "normal", path="alpha.png")
    ```
    """

    def __init__(self, every_n_batches=None):
        super().__init__()
        self.every_n_batches = _check_frequency(every_n_batches)
        self._epoch = 0

    def _record(self, epoch):
        weights = self.model.arch_weights()
        self.model.alpha_history.append(
            {
                "epoch": float(epoch),
                "step": int(self.model.optimizer.iterations),
                "normal": weights["normal"],
                "reduce": weights["reduce"],
            }
        )

    def on_train_begin(self, logs=None):
        _require(self.model, self, "arch_weights", "alpha_history")
        if not self.model.alpha_history:
            self._record(0)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_batches and (batch + 1) % self.every_n_batches == 0:
            steps = self.params.get("steps") or (batch + 1)
            self._record(self._epoch + (batch + 1) / steps)

    def on_epoch_end(self, epoch, logs=None):
        if not self.every_n_batches:
            self._record(epoch + 1)


class ProgressivePruning(keras.callbacks.Callback):
    """CRB progressive pruning: drop operations whose α became <= 0 (thesis 5.2.5).

    Calls `model.prune_inactive_ops()` at every epoch end (or every
    `every_n_batches` batches); a pruning rebuilds the train function, so the
    pruned operations stop costing compute. Adds `active_ops` (normal +
    reduce operations still computed) to the epoch logs, and appends
    `(step, pruned_now, active_ops)` to `model.pruning_history`.

    Args:
        every_n_batches: `None` for epoch ends, or a batch interval.

    Example:

    ```python
    search = keras_grow.search.DartsSearchModel(10, activation="crb")
    search.compile(loss="sparse_categorical_crossentropy")
    search.fit(train, arch_data=val, epochs=50, callbacks=[ProgressivePruning(every_n_batches=100)])
    print(search.active_op_count(), search.pruning_history[-1])
    ```
    """

    def __init__(self, every_n_batches=None):
        super().__init__()
        self.every_n_batches = _check_frequency(every_n_batches)

    def on_train_begin(self, logs=None):
        _require(self.model, self, "prune_inactive_ops", "active_op_count")

    def _prune(self):
        newly = self.model.prune_inactive_ops()
        active = sum(self.model.active_op_count().values())
        self.model.pruning_history.append((int(self.model.optimizer.iterations), newly, active))
        return active

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_batches and (batch + 1) % self.every_n_batches == 0:
            self._prune()

    def on_epoch_end(self, epoch, logs=None):
        if not self.every_n_batches:
            active = self._prune()
        else:
            active = sum(self.model.active_op_count().values())
        if logs is not None:
            logs["active_ops"] = active


class DropPathScheduler(keras.callbacks.Callback):
    """Raise the drop-path rate linearly over training: `max_rate * epoch / epochs` (DARTS).

    The model must have a `drop_path_rate` variable (`applications.DartsNetwork`).

    Args:
        max_rate: the rate reached at the last epoch (DARTS: 0.2 on CIFAR-10).

    Example:

    ```python
    net = keras_grow.applications.DartsNetwork(keras_grow.search.DARTS_V2, auxiliary=True)
    net.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    net.fit(x, y, epochs=600, callbacks=[DropPathScheduler(0.2)])
    ```
    """

    def __init__(self, max_rate=0.2):
        super().__init__()
        if (
            isinstance(max_rate, bool)
            or not isinstance(max_rate, (int, float))
            or not (0 <= max_rate < 1)
        ):
            raise ValueError(f"`max_rate` must be a number in [0, 1); received {max_rate!r}.")
        self.max_rate = float(max_rate)

    def on_epoch_begin(self, epoch, logs=None):
        _require(self.model, self, "drop_path_rate")
        rate = self.max_rate * epoch / max(1, self.params.get("epochs", 1))
        self.model.drop_path_rate.assign(np.float32(rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["drop_path_rate"] = float(self.model.drop_path_rate)
