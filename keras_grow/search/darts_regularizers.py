"""Regularisers of the architecture step towards a discrete architecture (Maile ch. 5.2).

Both act on the *activated* architecture weights A = activation(α) of every
cell type — the quantities that the projection Π_S (the derived genotype as a
0/1 mask, `genotype.projection_mask`) maps into the discrete set S — and are
added to the validation loss of the α step only.

- `ProximityRegularizer` (eq. 20): `c ρ_p / 2 · ||A - Π_S(A)||₂`, the distance
  (not squared, as in the thesis; `squared=True` for the square) to the
  nearest discrete architecture, over all cell types at once. The strength
  `c` is a variable that `callbacks.ProximityRegularization` raises linearly
  from 0 to 1 over the search.
- `ADMMRegularizer` (eqs. 21-25): `ρ_a / 2 · ||A - z + u||²` with the
  auxiliary variables updated every `update_every` α steps as
  `z <- Π_S(A + u)`, `u <- λ_u u + A - z`.
"""

import keras
from keras import ops

from keras_grow.search import genotype as genotype_lib
from keras_grow.search.darts_schedules import _check_positive_float, _check_positive_int


class ArchRegularizer:
    """Base class: a term of the α-step loss, with optional state updated after α steps.

    `build(model)` is called eagerly once the model is built; `__call__(model,
    weights)` returns the scalar term for `weights = {"normal": A_n, "reduce":
    A_r}`; `after_arch_step(model, weights)` runs in the graph after each α
    step (with the updated weights).
    """

    name = "regularizer"

    def __init__(self):
        self.built = False

    def build(self, model):
        self.built = True

    def __call__(self, model, weights):
        raise NotImplementedError

    def after_arch_step(self, model, weights):
        return None

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _projection(model, weights):
    return genotype_lib.projection_mask(
        weights, model.primitives, model.nodes, exclude=model.derivation_exclude
    )


class ProximityRegularizer(ArchRegularizer):
    """Proximity regularisation of DARTS-PRIME (Maile's thesis eq. 20).

    Args:
        rho: ρ_p (thesis: 0.1 for images, 1.0 for text).
        squared: use `||A - Π_S(A)||²` instead of the norm.

    Attributes:
        strength: the variable `c` in [0, 1] (0 until a callback raises it).

    Example:

    ```python
    regularizer = search.set_arch_regularizer("proximity", rho=0.1)  # search is built
    regularizer.strength.assign(1.0)  # or let callbacks.ProximityRegularization ramp it
    ```
    """

    name = "proximity"

    def __init__(self, rho=0.1, squared=False):
        super().__init__()
        self.rho = _check_positive_float(rho, "rho", strict=False)
        self.squared = bool(squared)

    def build(self, model):
        if self.built:
            return
        self.strength = keras.Variable(0.0, dtype="float32", trainable=False, name="proximity_c")
        super().build(model)

    def distance(self, model, weights):
        """`||A - Π_S(A)||₂` over all cell types (squared with `squared=True`)."""
        total = 0.0
        for value in weights.values():
            diff = value - _projection(model, value)
            total = total + ops.sum(ops.square(diff))
        return total if self.squared else ops.sqrt(total + 1e-12)

    def __call__(self, model, weights):
        return self.strength * (self.rho / 2.0) * self.distance(model, weights)

    def get_config(self):
        return {"rho": self.rho, "squared": self.squared}


class ADMMRegularizer(ArchRegularizer):
    """ADMM regularisation towards the discrete set S (Maile's thesis eqs. 21-25).

    Args:
        rho: ρ_a (thesis: 0.1).
        update_every: α steps between updates of z and u (thesis: 10).
        decay: λ_u, the discount of u at each update (thesis: 0.8).

    Attributes:
        z, u: dicts `{"normal": variable, "reduce": variable}`; `z` starts at
            Π_S of the weights when the regulariser is built, `u` at zero.

    Example:

    ```python
    search.set_arch_regularizer("admm", rho=0.1, update_every=10, decay=0.8)
    search.fit(x, y, arch_data=(x_val, y_val), epochs=50)
    ```
    """

    name = "admm"

    def __init__(self, rho=0.1, update_every=10, decay=0.8):
        super().__init__()
        self.rho = _check_positive_float(rho, "rho", strict=False)
        self.update_every = _check_positive_int(update_every, "update_every")
        self.decay = _check_positive_float(decay, "decay", strict=False, maximum=1.0)

    def build(self, model):
        if self.built:
            return
        weights = model.arch_weight_tensors()
        self.z = {}
        self.u = {}
        for kind, value in weights.items():
            self.z[kind] = keras.Variable(
                _projection(model, value), trainable=False, name=f"admm_z_{kind}"
            )
            self.u[kind] = keras.Variable(
                ops.zeros_like(value), trainable=False, name=f"admm_u_{kind}"
            )
        self.counter = keras.Variable(0, dtype="int64", trainable=False, name="admm_counter")
        super().build(model)

    def __call__(self, model, weights):
        total = 0.0
        for kind, value in weights.items():
            total = total + ops.sum(ops.square(value - self.z[kind] + self.u[kind]))
        return (self.rho / 2.0) * total

    def update(self, model, weights):
        """`z <- Π_S(A + u)`, `u <- λ_u u + A - z` for every cell type (eqs. 23, 25)."""
        for kind, value in weights.items():
            z = _projection(model, value + self.u[kind])
            self.z[kind].assign(z)
            self.u[kind].assign(self.decay * self.u[kind] + value - z)

    def after_arch_step(self, model, weights):
        count = self.counter.value + 1
        self.counter.assign(count)

        def update():
            self.update(model, weights)
            return 0

        ops.cond(ops.equal(count % self.update_every, 0), update, lambda: 0)

    def residual(self, model):
        """`||A - z||₂` over both cell types, evaluated now (a float)."""
        weights = model.arch_weight_tensors()
        total = sum(float(ops.sum(ops.square(v - self.z[k]))) for k, v in weights.items())
        return total**0.5

    def get_config(self):
        return {"rho": self.rho, "update_every": self.update_every, "decay": self.decay}


REGULARIZERS = {cls.name: cls for cls in (ProximityRegularizer, ADMMRegularizer)}


def get(identifier, **kwargs):
    """Resolve a regulariser: an `ArchRegularizer` or a name from `REGULARIZERS`."""
    if isinstance(identifier, ArchRegularizer):
        if kwargs:
            raise ValueError("Keyword arguments are only accepted with a regularizer name.")
        return identifier
    if isinstance(identifier, str) and identifier in REGULARIZERS:
        return REGULARIZERS[identifier](**kwargs)
    raise ValueError(
        f"`regularizer` must be an ArchRegularizer or one of {tuple(REGULARIZERS)}; received "
        f"{identifier!r}."
    )
