"""Growth on a fixed schedule: a baseline, and the simplest structural callback."""

import numbers

from keras_grow.callbacks.structural import StructuralCallback


class ScheduledGrowth(StructuralCallback):
    """Add a fixed number of units to layers at regular training steps.

    Every `every` training steps (counted across epochs), each of `layers`
    gains `units` units, until it reaches `max_units` or training passes
    `stop_step`. With `reserve=True` the capacity for `max_units` is allocated
    when training starts, so no growth event reallocates or retraces.

    Args:
        every: positive int, steps between growth events.
        units: positive int, units added to each layer per event.
        layers: names of the layers to grow (default: every growable layer).
        max_units: int or `{layer: int}`, the width at which a layer stops growing.
        stop_step: no growth at or after this step (default: never stop).
        reserve: allocate capacity for `max_units` up front.
        initializer: unit initializer passed to `add_units` (default: function-preserving).

    Example:

    ```python
    model = keras_grow.DynamicModel(base)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, callbacks=[
        keras_grow.callbacks.ScheduledGrowth(every=20, units=8, max_units=256)])
    ```
    """

    def __init__(
        self,
        every,
        units,
        layers=None,
        max_units=None,
        stop_step=None,
        reserve=True,
        initializer=None,
    ):
        super().__init__()
        self.every = _positive_int(every, "every")
        self.units = _positive_int(units, "units")
        self.layers = list(layers) if layers is not None else None
        self.max_units = max_units
        self.stop_step = stop_step
        self.reserve = bool(reserve)
        self.initializer = initializer
        self._step = 0

    def _targets(self):
        return self.layers if self.layers is not None else self.model.growable_layers()

    def _limit(self, layer):
        if isinstance(self.max_units, dict):
            return self.max_units.get(layer)
        return self.max_units

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        widths = self.model.widths()
        for layer in self._targets():
            limit = self._limit(layer)
            if limit is not None and limit < widths[layer]:
                raise ValueError(
                    f"max_units={limit!r} for layer '{layer}' is below its current width "
                    f"{widths[layer]}; expected at least the current width."
                )
            if self.reserve and limit is not None:
                self.model.reserve(layer, limit, reason=type(self).__name__)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every or (self.stop_step is not None and self._step >= self.stop_step):
            return
        widths = self.model.widths()
        for layer in self._targets():
            limit = self._limit(layer)
            count = self.units if limit is None else min(self.units, limit - widths[layer])
            if count > 0:
                self.model.add_units(
                    layer,
                    count,
                    initializer=self.initializer,
                    reason=f"scheduled, step {self._step}",
                )


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected an int >= 1.")
    return int(value)
