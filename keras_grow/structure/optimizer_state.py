"""Keeping an optimizer's per-variable state in step with structural edits.

Keras optimizers keep, for each trainable variable, slot variables of the same
shape (Adam's first and second moments, SGD's momentum, ...). When a unit is
added or removed, the matching slices of every slot must follow:

- surviving units keep their slot values exactly;
- a new unit's first-moment slots start at zero;
- a new unit's second-moment slots start, by default (rule `"mean"`), at the
  mean, over the existing units, of their second moments (taken along the
  unit axis, so each input's or output's own scale is kept). Starting them at
  zero would make the unit's first steps up to `(1 - beta_1) / sqrt(1 - beta_2)`
  ≈ 3.2 times the learning rate, because Adam's bias correction has long
  decayed to 1 at a large global step (and RMSprop has no bias correction at
  all). Rule `"fresh"` starts them at zero anyway, like a newly created
  parameter: late in training the existing units' mean reflects the large
  early gradients and can make a new unit's steps a small fraction of the
  learning rate, so growth strategies may prefer the bigger first steps.

Supported: SGD, Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad, Adadelta, Lion,
Lamb, Ftrl and `LossScaleOptimizer` around any of them. Slots of unknown
optimizers are migrated too (surviving values kept) and new entries start at
zero, with a warning.

The optimizer's iteration count and learning-rate schedule are never touched.
"""

import warnings

import keras

# Slot kinds by the suffix Keras gives slot variable names.
ZERO_SLOTS = frozenset(
    {
        "momentum",
        "average_gradient",
        "gradient_accumulator",
        "norm",
        "linear",
        "accumulated_delta_var",
    }
)
SECOND_MOMENT_SLOTS = frozenset({"velocity", "velocity_hat", "accumulator", "accumulated_grad"})
COPY_SLOTS = frozenset({"average"})  # exponential moving average of the weights
KNOWN_SLOTS = ZERO_SLOTS | SECOND_MOMENT_SLOTS | COPY_SLOTS
SLOT_RULES = ("mean", "fresh")  # how new units' second-moment slots start


def check_slot_rule(rule):
    """Validate an `optimizer_state=` argument; returns it."""
    if rule not in SLOT_RULES:
        raise ValueError(
            f"optimizer_state={rule!r} is not allowed; expected one of {list(SLOT_RULES)}."
        )
    return rule


def base_optimizer(optimizer):
    """The optimizer that owns the slots (unwraps `LossScaleOptimizer`)."""
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def is_built(optimizer):
    return optimizer is not None and base_optimizer(optimizer).built


def _slot_kind(slot, variable):
    prefix = variable.path.replace("/", "_") + "_"
    name = slot.name
    if name.startswith(prefix):
        return name[len(prefix) :]
    for kind in sorted(KNOWN_SLOTS, key=len, reverse=True):
        if name.endswith("_" + kind):
            return kind
    return name


def slots_by_variable(optimizer):
    """Map `id(variable)` to `[(slot, kind), ...]` for every trainable variable."""
    optimizer = base_optimizer(optimizer)
    trainable = list(optimizer._trainable_variables)
    result = {id(v): [] for v in trainable}
    for attribute, value in vars(optimizer).items():
        if attribute == "_trainable_variables" or not isinstance(value, (list, tuple)):
            continue
        if len(value) != len(trainable) or not any(isinstance(v, keras.Variable) for v in value):
            continue
        for slot, variable in zip(value, trainable):
            if isinstance(slot, keras.Variable) and tuple(slot.shape) == tuple(variable.shape):
                result[id(variable)].append((slot, _slot_kind(slot, variable)))
    return result


def check_supported(optimizer):
    """Warn once per optimizer if some slot kind has no initialisation rule."""
    if not is_built(optimizer):
        return
    base = base_optimizer(optimizer)
    if getattr(base, "_keras_grow_checked", False):
        return
    unknown = {
        kind
        for slots in slots_by_variable(base).values()
        for _, kind in slots
        if kind not in KNOWN_SLOTS
    }
    if unknown:
        warnings.warn(
            f"Optimizer {type(base).__name__} has slot variables of kinds {sorted(unknown)} "
            "that keras_grow has no rule for: surviving units keep their values, new units "
            "start at zero.",
            stacklevel=3,
        )
    base._keras_grow_checked = True


def starts_nonzero(kind, rule="mean"):
    """Whether new units' entries of a slot of `kind` may start non-zero under `rule`."""
    if kind in ZERO_SLOTS:
        return False
    return not (kind in SECOND_MOMENT_SLOTS and rule == "fresh")


def new_slot_values(kind, existing_mean, new_weights, rule="mean"):
    """Values for the new entries of one slot along a unit axis.

    Args:
        kind: the slot kind.
        existing_mean: the slot's mean over the existing units along the unit
            axis (unit axis first, of size 1), or `None` if there are none.
        new_weights: the new entries of the model variable, unit axis first.
        rule: `"mean"` or `"fresh"`, for second-moment slots (see above).

    Returns:
        A scalar or an array broadcastable to the new entries (unit axis first).
    """
    if kind in SECOND_MOMENT_SLOTS:
        return 0.0 if existing_mean is None or rule == "fresh" else existing_mean
    if kind in COPY_SLOTS:
        return new_weights
    return 0.0


def variable_keys(optimizer, variables):
    base = base_optimizer(optimizer)
    return {id(v): base._var_key(v) for v in variables}


def refresh_variable_index(optimizer, old_keys):
    """Rebuild the optimizer's variable lookup after storage was replaced.

    TensorFlow optimizers key their variables by the backing `tf.Variable`,
    which `storage.replace_storage` swaps.
    """
    base = base_optimizer(optimizer)
    base._trainable_variables_indices = {
        base._var_key(v): i for i, v in enumerate(base._trainable_variables)
    }
    renamed = {
        old_keys[id(v)]: base._var_key(v) for v in base._trainable_variables if id(v) in old_keys
    }
    excluded = getattr(base, "_exclude_from_weight_decay", None)
    if excluded:
        base._exclude_from_weight_decay = {renamed.get(key, key) for key in excluded}
    base._exclude_from_weight_decay_cache = {}
