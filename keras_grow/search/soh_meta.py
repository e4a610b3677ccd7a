"""Meta-learning rules: how a receptive field moves and when the move is kept.

Each rule proposes a new position for one field of one unit and decides,
from that unit's entropy after training with the candidate (`candidate`)
and its entropy under the current accepted layout (`reference`), whether to
keep it. A new rule is one small class with `propose` and `accept`.
"""

import math
import numbers

RULES = ("hill_climb", "annealing", "random")


def neighbours(layout, unit):
    """Every `(field_index, corner)` one step away: row and column shifts in {-1, 0, 1}.

    The paper shifts a field by at most one cell horizontally and vertically
    (two degrees of freedom); moves that would leave the map are excluded.
    """
    h, w = layout.feature_map
    n = layout.field
    moves = []
    for index, (row, col) in enumerate(layout.fields[unit]):
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                r, c = row + dr, col + dc
                if (dr or dc) and 0 <= r <= h - n and 0 <= c <= w - n:
                    moves.append((index, (r, c)))
    return moves


class MetaRule:
    """Base class: a neighbourhood (`propose`) and an acceptance test (`accept`)."""

    name = "rule"

    def propose(self, layout, unit, rng):
        """Return `(field_index, new_corner)` for one field of `unit`, or `None`."""
        moves = neighbours(layout, unit)
        if not moves:
            return None
        return moves[int(rng.integers(0, len(moves)))]

    def accept(self, candidate, reference, step, total_steps, rng):
        """Whether to keep a candidate with entropy `candidate` (reference: `reference`)."""
        return candidate > reference

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class HillClimbing(MetaRule):
    """Stochastic hill climbing (Algorithm 2): a random +-1 shift, kept only if entropy rises.

    The test is strict: equal entropy is rejected.
    """

    name = "hill_climb"


class Annealing(MetaRule):
    """Simulated annealing: +-1 shifts, worse moves kept with probability `exp(delta / T)`.

    The temperature falls geometrically from `initial_temperature` at the
    first meta-step to `final_temperature` at the last one. Temperatures are
    in entropy units (bits for the default `base=2` estimate).

    Args:
        initial_temperature: float > 0.
        final_temperature: float in (0, initial_temperature].
    """

    name = "annealing"

    def __init__(self, initial_temperature=0.05, final_temperature=0.001):
        for arg, value in (
            ("initial_temperature", initial_temperature),
            ("final_temperature", final_temperature),
        ):
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{arg}={value!r} must be a float > 0.")
        if final_temperature > initial_temperature:
            raise ValueError(
                f"final_temperature={final_temperature!r} must be <= "
                f"initial_temperature={initial_temperature!r}."
            )
        self.initial_temperature = float(initial_temperature)
        self.final_temperature = float(final_temperature)

    def temperature(self, step, total_steps):
        fraction = step / max(total_steps - 1, 1)
        ratio = self.final_temperature / self.initial_temperature
        return self.initial_temperature * ratio**fraction

    def accept(self, candidate, reference, step, total_steps, rng):
        delta = candidate - reference
        if delta > 0:
            return True
        return bool(rng.random() < math.exp(delta / self.temperature(step, total_steps)))

    def get_config(self):
        return {
            "initial_temperature": self.initial_temperature,
            "final_temperature": self.final_temperature,
        }


class RandomSearch(MetaRule):
    """Random search: one field jumps to a uniformly random position, kept if entropy rises."""

    name = "random"

    def propose(self, layout, unit, rng):
        h, w = layout.feature_map
        n = layout.field
        index = int(rng.integers(0, len(layout.fields[unit])))
        current = layout.fields[unit][index]
        if (h - n + 1) * (w - n + 1) < 2:
            return None
        while True:
            corner = (int(rng.integers(0, h - n + 1)), int(rng.integers(0, w - n + 1)))
            if corner != current:
                return index, corner


_RULES = {"hill_climb": HillClimbing, "annealing": Annealing, "random": RandomSearch}


def get_rule(rule):
    """A `MetaRule` from a name in `RULES` or an instance (returned unchanged)."""
    if isinstance(rule, MetaRule):
        return rule
    if isinstance(rule, str) and rule in _RULES:
        return _RULES[rule]()
    if isinstance(rule, str):
        raise ValueError(f"rule={rule!r} is unknown: use one of {RULES} or a MetaRule instance.")
    raise TypeError(f"rule={rule!r} must be one of {RULES} or a MetaRule instance.")
