"""Preset growth schedules: the fixed-schedule baselines of Maile 6.3.3.

A `FixedSchedule` is a trigger that ignores the network and follows the
clock: it grows each layer from its initial width to `final_units` during the
first `growth_fraction` of training. Paired with any initialiser it isolates
the initialisation ("how") from the trigger ("when", "where", "how many").
"""

import numbers

from keras_grow.growth.triggers import Decision, Trigger

_KINDS = ("linear", "batched")


class FixedSchedule(Trigger):
    """Grow every layer to a preset width on a fixed schedule.

    - `"linear"`: the width follows a straight line from the initial width
      to `final_units` over the first `growth_fraction` of the training
      steps; each step adds the units needed to stay on the line, which is
      one unit per step when there are at least as many growth steps as
      units to add (the thesis' Linear schedule), and a few otherwise.
    - `"batched"`: `intervals` equal growth events at regular intervals
      over the same period (thesis: 8), each adding `1/intervals` of the
      difference (rounded, the last one reaching `final_units` exactly).

    The `Neurogenesis` callback fills in the total number of training steps
    from `fit`'s `epochs` and `steps_per_epoch` and the initial width of each
    layer.

    Reference:
    - Maile, PhD thesis, 2023, section 6.3.3 (Linear and Batched schedules,
      growth during the first 75 % of training).

    Args:
        kind: `"linear"` or `"batched"`.
        final_units: int, or `{layer: int}`, the width to reach.
        growth_fraction: fraction of training during which layers grow, in (0, 1].
        intervals: number of growth events of the batched schedule.

    Example:

    ```python
    callback = keras_grow.callbacks.Neurogenesis(
        trigger=keras_grow.growth.FixedSchedule("batched", final_units=256),
        initializer=keras_grow.growth.NorthSelect())
    ```
    """

    requires = frozenset({"schedule"})
    metric_name = "scheduled_width"

    def __init__(self, kind="linear", final_units=256, growth_fraction=0.75, intervals=8):
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"kind={kind!r} is not allowed; expected one of {_KINDS}.")
        if isinstance(final_units, dict):
            for layer, units in final_units.items():
                _check_units(units, f"final_units[{layer!r}]")
        else:
            _check_units(final_units, "final_units")
        if (
            isinstance(growth_fraction, bool)
            or not isinstance(growth_fraction, numbers.Real)
            or not 0 < growth_fraction <= 1
        ):
            raise ValueError(
                f"growth_fraction={growth_fraction!r} is not allowed; expected a number in (0, 1]."
            )
        if isinstance(intervals, bool) or not isinstance(intervals, numbers.Integral):
            raise ValueError(f"intervals={intervals!r} is not allowed; expected an int >= 1.")
        if intervals < 1:
            raise ValueError(f"intervals={intervals!r} is not allowed; expected an int >= 1.")
        self.kind = kind
        self.final_units = final_units
        self.growth_fraction = float(growth_fraction)
        self.intervals = int(intervals)

    def final_width(self, layer):
        if isinstance(self.final_units, dict):
            return self.final_units.get(layer)
        return self.final_units

    def target(self, layer, step, total_steps, initial_width):
        """The width the schedule prescribes for `layer` after `step` steps."""
        final = self.final_width(layer)
        if final is None or final <= initial_width:
            return initial_width
        growth_steps = max(1, round(self.growth_fraction * total_steps))
        progress = min(step, growth_steps) / growth_steps
        if self.kind == "batched":
            events = int(progress * self.intervals + 1e-9)
            progress = events / self.intervals
        return initial_width + int(round((final - initial_width) * progress))

    def decide(self, observation):
        if observation.total_steps is None or observation.initial_width is None:
            raise ValueError(
                "FixedSchedule needs observation.total_steps and observation.initial_width "
                f"for layer '{observation.layer}'."
            )
        target = self.target(
            observation.layer,
            observation.step,
            observation.total_steps,
            observation.initial_width,
        )
        return Decision(float(target), float(observation.width), max(0, target - observation.width))

    def get_config(self):
        return {
            "kind": self.kind,
            "final_units": self.final_units,
            "growth_fraction": self.growth_fraction,
            "intervals": self.intervals,
        }


def _check_units(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected an int >= 1.")
