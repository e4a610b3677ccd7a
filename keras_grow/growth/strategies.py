"""The neurogenesis strategies of Maile's Table 7: trigger and initialisation pairs."""

from keras_grow.growth import gradient_initializers, north_initializers, triggers

STRATEGIES = (
    "north_select",
    "north_pre",
    "north_random",
    "north_weight",
    "gradmax",
    "firefly",
    "nest",
)


def strategy(name, gamma=None, epsilon=0.01, candidates=None, reduction="sum"):
    """`(trigger, initializer)` of a Table 7 strategy, with Table 8 defaults.

    | name | trigger | initialisation |
    |---|---|---|
    | `north_select` | `ActivationTrigger` (eq. 28) | `NorthSelect` |
    | `north_pre` | `ActivationTrigger` | `NorthPre` (eq. 33) |
    | `north_random` | `ActivationTrigger` | `NorthRandom` |
    | `north_weight` | `WeightTrigger` (eq. 31) | `NorthWeight` (eq. 34) |
    | `gradmax` | `GradientTrigger` (eq. 32) | `GradMax` |
    | `firefly` | `GradientTrigger` | `Firefly` |
    | `nest` | `GradientTrigger` | `NeST` |

    Args:
        name: one of `STRATEGIES` (case and `-` / `_` are ignored).
        gamma: γ of the orthogonality triggers (default 0.97 for
            activations, 0.99 for weights).
        epsilon: singular-value threshold ε.
        candidates: candidates of the selecting initialisers (default
            1000; use 100 for convolutions as the thesis does).
        reduction: `GradientTrigger` threshold, `"sum"` (eq. 32) or `"mean"`.

    Example:

    ```python
    trigger, initializer = keras_grow.growth.strategy("north_select")
    callback = keras_grow.callbacks.Neurogenesis(trigger, initializer, max_units=784)
    ```
    """
    key = str(name).lower().replace("-", "_")
    if key not in STRATEGIES:
        raise ValueError(f"name={name!r} is not a known strategy; expected one of {STRATEGIES}.")
    candidates = 1000 if candidates is None else candidates
    if key.startswith("north") and key != "north_weight":
        trigger = triggers.ActivationTrigger(
            "effective_dimension", gamma=0.97 if gamma is None else gamma, epsilon=epsilon
        )
        initializer = {
            "north_select": lambda: north_initializers.NorthSelect(candidates, epsilon),
            "north_pre": lambda: north_initializers.NorthPre(candidates, epsilon),
            "north_random": north_initializers.NorthRandom,
        }[key]()
        return trigger, initializer
    if key == "north_weight":
        trigger = triggers.WeightTrigger(gamma=0.99 if gamma is None else gamma, epsilon=epsilon)
        return trigger, north_initializers.NorthWeight()
    initializer = {
        "gradmax": gradient_initializers.GradMax,
        "firefly": lambda: gradient_initializers.Firefly(candidates),
        "nest": gradient_initializers.NeST,
    }[key]()
    return triggers.GradientTrigger(reduction=reduction), initializer
