"""NORTH* initialisations of new units (Maile 6.2.2): orthogonal and function-preserving.

Every initialiser here gives new units **zero fan-out** (so the network
computes exactly what it computed before) and **zero bias**, and a fan-in
rescaled to the mean fan-in norm of the layer's existing units. They differ
in how the fan-in is chosen:

- `NorthRandom`: drawn from the layer's kernel initializer.
- `NorthSelect`: the best of `candidates` random fan-ins, scored by how much
  new direction their post-activations add to the layer's buffered
  post-activations (the effective-dimension gain).
- `NorthPre` (dense only, eq. 33): candidates whose pre-activations are
  orthogonal to the existing pre-activations, then selected like
  `NorthSelect`.
- `NorthWeight` (eq. 34): random fan-ins projected onto the kernel (null
  space) of the existing fan-in matrix.

They are unit initialisers in the sense of `keras_grow.structure.initializers`:
callables taking a `NewUnits` request and returning `{axis use: values}`. The
activation-based ones read the request's `context`, which the `Neurogenesis`
callback fills (see `growth_context` to build it yourself):

- `"layer"`: the measured producer (its fan-in is the one selected; other
  producers of a residual group get a random fan-in),
- `"inputs"`: `(n, fan_in)` input rows of that layer (dense inputs or conv
  patches) aligned with
- `"activations"`: `(n, M)` post-activations of its existing units,
- `"post_activation"`: maps `(n, k)` pre-activations to post-activations,
- `"fan_in_masks"`: `{variable path: (fan_in,) 0/1 mask}` of entries that
  read active input units.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf
from scipy.linalg import blas

from keras_grow.growth import _model_access
from keras_grow.growth import metrics as metrics_lib
from keras_grow.growth.draw_ahead import draw_ahead
from keras_grow.structure.initializers import draw_entries, uniform_draw_count

AUTO_SCORING_ROWS = 512  # NorthSelect(scoring_rows="auto"): the least rows scored on


class UnitInitializer:
    """Base class of the growth initialisers.

    Attributes:
        function_preserving: whether the model's outputs are unchanged by
            adding units with this initialiser.
        requires: what the initialiser reads from the request context:
            `"inputs"` (input rows and activations, from activation taps) or
            `"gradients"` (a gradient probe).
    """

    function_preserving = True
    requires = frozenset()

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


# ----------------------------------------------------------------- helpers


def kernel_uses(request):
    """The fan-in kernel uses of the request (one per producer of the group)."""
    return [use for use in request.fan_in if use.variable.ndim >= 2]


def measured_kernel_use(request):
    """The kernel use of the context's measured layer (default: the first producer's)."""
    uses = kernel_uses(request)
    layer = request.context.get("layer")
    for use in uses:
        if use.layer.name == layer:
            return use
    if layer is not None:
        raise ValueError(
            f"context['layer']={layer!r} is not a producer of the group being grown "
            f"(producers: {[u.layer.name for u in uses]})."
        )
    return uses[0]


def fan_in_mask(request, use):
    """0/1 mask over one unit's fan-in entries (all ones if the context has none)."""
    masks = request.context.get("fan_in_masks") or {}
    mask = masks.get(use.variable.path)
    if mask is None:
        return np.ones(int(np.prod(np.delete(use.variable.shape, use.axis))), np.float32)
    return np.asarray(mask, np.float32)


def existing_norm(request, use):
    """Mean L2 norm of the existing units' vectors along `use` (0 if none)."""
    if request.group.width == 0:
        return 0.0
    return float(request.unit_norms(use, request.existing(use)).mean())


def rescale_rows(rows, target):
    """Scale every row of `rows` to L2 norm `target` (zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    if target <= 0:
        return rows
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64))
    factors = np.where(norms > 0, target / np.maximum(norms, 1e-30), 1.0)
    return rows * factors.astype(np.float32)[:, None]


def draw_fan_in(request, use, count):
    """`(count, fan_in)` fan-ins drawn from the layer's kernel initializer,
    masked to active inputs and rescaled to the existing units' mean norm."""
    return rescale_rows(draw_fan_in_columns(request, use, count).T, existing_norm(request, use))


def draw_fan_in_columns(request, use, count, rng=None):
    """`(fan_in, count)` float32 fan-ins, one per column, drawn (from `rng`,
    default `request.rng`) from the layer's kernel initializer and masked to
    active inputs (not rescaled).

    For a kernel whose unit axis is the last one (Dense, convolutions) this is
    the drawn array itself: no transpose copy.
    """
    sampled = draw_entries(kernel_initializer(use), use, count, request.rng if rng is None else rng)
    columns = np.moveaxis(sampled, use.axis, -1).reshape(-1, count)
    mask = fan_in_mask(request, use)
    if not mask.all():
        columns *= mask[:, None]
    return columns


def kernel_initializer(use):
    """The initializer new fan-ins of `use`'s layer are drawn from."""
    return getattr(use.layer, "kernel_initializer", None) or "glorot_uniform"


def rescale_factors(columns, target):
    """Per-column factors scaling `columns` to L2 norm `target` (1 for zero
    columns; `None` when `target <= 0`, i.e. no rescaling, as `rescale_rows`)."""
    return factors_to_norm(column_norms(columns), target)


def column_norms(columns):
    """float64 L2 norms of the columns of a float32 matrix."""
    # float32 sums of squares (no cancellation): relative error ~1e-6, 4x faster.
    return np.sqrt(np.einsum("ij,ij->j", columns, columns).astype(np.float64))


def factors_to_norm(norms, target):
    """`rescale_factors` from the columns' `norms`."""
    if target <= 0:
        return None
    return np.where(norms > 0, target / np.maximum(norms, 1e-30), 1.0).astype(np.float32)


def random_fan_ins(request, skip=()):
    """Random rescaled fan-in values for every kernel use except those in `skip`."""
    values = {}
    for use in kernel_uses(request):
        if any(use is other for other in skip):
            continue
        rows = draw_fan_in(request, use, request.count)
        values[use] = _model_access.unit_slice(request, use, rows)
    return values


def context_rows(request, name):
    """`request.context[name]` as float32, or a ValueError saying how to provide it."""
    value = request.context.get(name)
    if value is None:
        raise ValueError(
            f"This initializer needs request.context[{name!r}] (buffered rows of the measured "
            "layer). Use it through keras_grow.callbacks.Neurogenesis, or pass "
            "context=keras_grow.growth.growth_context(model, layer) to add_units after "
            "recording with keras_grow.growth.watch_layers(model, [layer], inputs=True)."
        )
    return np.asarray(value, np.float32)


def select_orthogonal(existing, candidates, count, epsilon=0.01, basis=None):
    """Greedily pick `count` columns of `candidates` that add the most new direction.

    Both arrays hold post-activations, one row per sample. The score of a
    candidate is the norm of its component (scaled by `1/sqrt(n)`) outside
    the span of the existing activations' singular directions above
    `epsilon`: a candidate raises the ε-numerical rank of the layer (φ_ED)
    exactly when that component is significant, and a larger component also
    raises the sum of singular values (the thesis' tie-breaker). After each
    pick the remaining candidates are scored against the chosen ones too, so
    the new units are not redundant with each other either.

    The selection is Gram-Schmidt on the picked set: each pick adds one
    orthonormal direction (orthogonal to the existing span and to the earlier
    picks), and all candidates' residual norms drop by their squared
    component along it, one matrix-vector product per pick.

    `basis` (optional): `_significant_basis(existing, epsilon)` computed
    beforehand (`existing` is then not read).

    Returns:
        int array of `count` distinct candidate indices, best first.
    """
    candidates = np.asarray(candidates, dtype=np.float32)
    n, total = candidates.shape
    if count > total:
        raise ValueError(f"cannot select {count} of {total} candidates.")
    scale = 1.0 / np.sqrt(max(n, 1))
    scores = np.einsum("ij,ij->j", candidates, candidates, dtype=np.float64) * scale**2
    tie_break = 1e-9 * scores
    if basis is None:
        basis = _significant_basis(existing, epsilon)  # (n, r), orthonormal columns
    if basis.shape[1]:
        projection = _matmul(basis.T, candidates)
        scores -= np.einsum("ij,ij->j", projection, projection, dtype=np.float64) * scale**2
    scores = np.maximum(scores, 0.0)
    chosen = []
    picked = np.zeros((n, min(count, n)), np.float64)  # orthonormal new directions
    ranked = scores + tie_break
    for pick in range(count):
        best = int(np.argmax(ranked))
        chosen.append(best)
        ranked[best] = -np.inf
        if pick == count - 1 or scores[best] <= 1e-20 or pick >= n:
            continue
        direction = candidates[:, best].astype(np.float64)
        if basis.shape[1]:
            direction -= basis @ projection[:, best]
        direction -= picked[:, :pick] @ (picked[:, :pick].T @ direction)
        norm = np.linalg.norm(direction)
        if norm <= 1e-12:
            continue
        picked[:, pick] = direction / norm
        along = (picked[:, pick].astype(np.float32) @ candidates).astype(np.float64) * scale
        reduced = np.maximum(scores - along**2, 0.0)
        ranked += reduced - scores  # keeps the -inf of the picked ones
        scores = reduced
    return np.asarray(chosen, dtype=int)


def select_candidates(
    inputs, existing, candidates, count, post=None, epsilon=0.01, rows=None, rng=None, active=None
):
    """NORTH-Select's choice of `count` of the `candidates` fan-ins (row indices).

    Scores the candidates' post-activations `post(inputs · candidatesᵀ)`
    against the `existing` post-activations with `select_orthogonal`, on
    `rows` of the buffered rows (a random subset drawn from `rng`, kept in
    buffer order; `None`: all rows). `active` (a boolean mask over the
    fan-in) skips inputs whose weights are zero; inputs that are zero on
    every scored row are skipped too.

    Example:

    ```python
    chosen = select_candidates(x, h, fan_ins, 4, post=lambda z: np.maximum(z, 0))
    ```
    """
    columns = np.asarray(candidates, np.float32).T
    return select_candidate_columns(
        inputs, existing, columns, count, post, epsilon, rows, rng, active
    )


def select_candidate_columns(
    inputs,
    existing,
    columns,
    count,
    post=None,
    epsilon=0.01,
    rows=None,
    rng=None,
    active=None,
    factors=None,
):
    """`select_candidates` for `(fan_in, total)` candidates, one per column.

    `factors` (optional, `(total,)`) scales each candidate: the selection is
    that of the fan-ins `columns · diag(factors)`, computed by scaling the
    pre-activations `inputs · columns` instead (exact: the scaling commutes
    with the matrix product), which is cheaper than scaling the fan-ins when
    there are fewer scored rows than fan-in entries.
    """
    scoring = ScoringRows(inputs, existing, epsilon, rows, rng, active)
    return scoring.select(columns, count, post, factors)


class ScoringRows:
    """The buffered rows candidates are scored on, prepared before the candidates.

    Picks `rows` of the rows (a random subset drawn from `rng`, kept in
    buffer order; `None`: all), finds the inputs that matter (in `active`, a
    boolean mask over the fan-in, and non-zero on some scored row: the others
    add nothing to any pre-activation) and the orthonormal basis of the
    existing post-activations' significant span. None of this depends on the
    candidates, so `NorthSelect` does it while they are drawn.

    Example:

    ```python
    scoring = ScoringRows(x, h, epsilon=0.01, rows=512, rng=np.random.default_rng(0))
    chosen = scoring.select(fan_ins.T, 4, post=lambda z: np.maximum(z, 0))
    ```
    """

    def __init__(self, inputs, existing, epsilon=0.01, rows=None, rng=None, active=None):
        inputs = np.asarray(inputs, np.float32)
        existing = np.asarray(existing, np.float32)
        if rows is not None and rows < len(inputs):
            rng = rng if rng is not None else np.random.default_rng()
            keep = np.sort(rng.choice(len(inputs), size=rows, replace=False))
            inputs, existing = inputs[keep], existing[keep]
        used = np.any(inputs != 0, axis=0)
        if active is not None:
            used &= np.asarray(active, bool)
        self.used = None if used.all() else used
        self.inputs = inputs if self.used is None else inputs[:, used]
        self.epsilon = epsilon
        self.basis = _significant_basis(existing, epsilon)

    def select(self, columns, count, post=None, factors=None):
        """`select_candidate_columns` of the `(fan_in, total)` candidate `columns`
        (optionally scaled by `factors`) on these rows."""
        columns = np.asarray(columns, np.float32)
        if self.used is not None:
            columns = columns[self.used]
        pre = _matmul(self.inputs, columns)
        if factors is not None:
            factors = np.asarray(factors, np.float32)
            pre = np.multiply(pre, factors, out=pre if pre.flags.writeable else None)
        activations = pre if post is None else post(pre)
        return select_orthogonal(None, activations, count, self.epsilon, basis=self.basis)


def _matmul(a, b):
    """`a @ b` of float32 matrices with TensorFlow's multi-threaded kernel.

    Called directly rather than through `keras.ops`, whose conversions copy
    the product: a NORTH-Select selection on the MNIST MLP takes about 10 %
    less time (`benchmarks/bench_selection_kernel.py`).
    """
    return tf.matmul(np.asarray(a, np.float32), np.asarray(b, np.float32)).numpy()


def _significant_basis(existing, epsilon):
    """Orthonormal basis `(n, r)` of the directions of `existing / sqrt(n)` with σ > ε."""
    existing = np.asarray(existing, dtype=np.float32)
    if existing.size == 0:
        return np.zeros((existing.shape[0], 0), np.float32)
    # NumPy's EᵀE (a symmetric rank-k update) is as fast as the backend's here.
    gram = (existing.T @ existing).astype(np.float64) / existing.shape[0]
    basis = _cholesky_basis(existing, gram, epsilon)
    return _eigh_basis(existing, gram, epsilon) if basis is None else basis


def _cholesky_basis(existing, gram, epsilon):
    """The significant basis when every singular value exceeds ε, else None.

    A Cholesky factorisation of `G − ε² I` (`G = EᵀE / n`) exists exactly when
    every eigenvalue of `G` exceeds ε²; the significant span is then all of
    `E`'s column space, and with `G = L Lᵀ` the columns of `E L⁻ᵀ / sqrt(n)`
    are an orthonormal basis of it. Two small Cholesky factorisations and a
    triangular solve cost a fraction of `_eigh_basis`'s eigendecomposition.
    """
    try:
        np.linalg.cholesky(gram - epsilon**2 * np.eye(len(gram)))
    except np.linalg.LinAlgError:
        return None
    factor = np.linalg.cholesky(gram)
    # Q = E L⁻ᵀ / sqrt(n): one float64 triangular solve from the right (BLAS
    # trsm), written straight into Q's layout (no transposes).
    scale = 1.0 / np.sqrt(existing.shape[0])
    solved = blas.dtrsm(scale, factor, existing.astype(np.float64), side=1, lower=1, trans_a=1)
    return solved.astype(np.float32)


def _eigh_basis(existing, gram, epsilon):
    """The significant basis from the eigendecomposition of `gram = EᵀE / n`."""
    eigenvalues, vectors = np.linalg.eigh(gram)
    keep = eigenvalues > epsilon**2
    weights = vectors[:, keep] / np.sqrt(eigenvalues[keep] * existing.shape[0])
    return _transposed_product(weights.T, existing)


def _transposed_product(weights, existing):
    """`existing @ weightsᵀ` (n, r) in float32, stored transposed: its `.T` is
    C-contiguous, so the projection `basisᵀ · candidates` converts no copy."""
    return _matmul(weights, existing.T).T


def scoring_row_count(rows, width, count, scoring_rows):
    """How many buffered rows `NorthSelect` scores its candidates on.

    `scoring_rows=None`: all `rows`; an int: at most that many; `"auto"`:
    `max(AUTO_SCORING_ROWS, 2 · (width + count))`, i.e. twice the layer's width
    after growth (the thesis' buffer rule, 1 568 rows for 784 units) but at
    least `AUTO_SCORING_ROWS`, and never more than `rows`.
    """
    if scoring_rows is None:
        return rows
    if scoring_rows == "auto":
        return min(rows, max(AUTO_SCORING_ROWS, 2 * (width + count)))
    return min(rows, scoring_rows)


def _check_scoring_rows(scoring_rows):
    if scoring_rows is None or scoring_rows == "auto":
        return scoring_rows
    if (
        isinstance(scoring_rows, bool)
        or not isinstance(scoring_rows, numbers.Integral)
        or scoring_rows < 1
    ):
        raise ValueError(
            f"scoring_rows={scoring_rows!r} is not allowed; expected 'auto', None or an int >= 1."
        )
    return int(scoring_rows)


def _check_candidates(candidates):
    if isinstance(candidates, bool) or not isinstance(candidates, numbers.Integral):
        raise ValueError(f"candidates={candidates!r} is not allowed; expected an int >= 1.")
    if candidates < 1:
        raise ValueError(f"candidates={candidates!r} is not allowed; expected an int >= 1.")
    return int(candidates)


# ------------------------------------------------------------ initialisers


class NorthRandom(UnitInitializer):
    """NORTH-Random: random fan-in, zero fan-out, zero bias (function-preserving).

    The fan-in of each producer of the group is drawn from its
    `kernel_initializer` (Xavier/Glorot uniform by default, the thesis' base
    initialisation), restricted to active inputs and rescaled to the mean
    fan-in norm of the existing units.

    Example:

    ```python
    model.add_units("hidden", 4, initializer=keras_grow.growth.NorthRandom())
    ```
    """

    def __call__(self, request):
        return random_fan_ins(request)


class NorthSelect(UnitInitializer):
    """NORTH-Select: keep the random candidates that make activations most orthogonal.

    Draws `candidates + count` random fan-ins (as `NorthRandom`), computes
    their post-activations on (`scoring_rows` of) the buffered input rows of the layer
    (`post(inputs · w)`: the layer's activation and any batch norm after it),
    and keeps the `count` candidates that add the most new direction to the
    existing units' post-activations (`select_orthogonal`). Fan-out and bias
    are zero, so the model's function is unchanged.

    Reference:
    - Maile, PhD thesis, 2023, section 6.2.2 ("Select").

    Args:
        candidates: int >= 1, random candidates drawn besides the `count`
            needed (thesis: 1000 for dense layers, 100 for convolutions).
        epsilon: singular-value threshold defining the existing
            activations' significant directions.
        scoring_rows: how many of the buffered rows the candidates are
            scored on (a random subset, drawn from the request's generator):
            `"auto"` (default) `max(512, 2 · (width + count))`, i.e. twice
            the layer's width after growth and at least 512 (see
            `scoring_row_count`); `None` all rows (the thesis); or an int.
            Scoring costs in proportion to the rows. On the MNIST MLP of
            the thesis (1 568-row buffers) the units selected on `"auto"`
            rows add nearly the same new direction, measured on the full
            buffer, as those selected on all rows (BENCHMARKS.md, "NORTH*
            neurogenesis").

    Example:

    ```python
    keras_grow.callbacks.Neurogenesis(
        trigger=keras_grow.growth.ActivationTrigger(),
        initializer=keras_grow.growth.NorthSelect(candidates=1000))
    ```
    """

    requires = frozenset({"inputs"})

    def __init__(self, candidates=1000, epsilon=0.01, scoring_rows="auto"):
        self.candidates = _check_candidates(candidates)
        self.epsilon = metrics_lib.check_epsilon(epsilon)
        self.scoring_rows = _check_scoring_rows(scoring_rows)

    def input_rows_needed(self, buffered_rows, max_width):
        """Input rows the selection reads for a layer of at most `max_width`
        units from a buffer of `buffered_rows` (lets `Neurogenesis` record the
        inputs of fewer rows): `scoring_row_count` at the widest, where
        width + count <= max_width."""
        return scoring_row_count(buffered_rows, max_width, 0, self.scoring_rows)

    def candidate_fan_ins(self, request, use, inputs):
        """`(candidates + count, fan_in)` rescaled candidate fan-ins."""
        columns, factors = self.candidate_columns(request, use, inputs)
        return (columns if factors is None else columns * factors).T

    def candidate_columns(self, request, use, inputs):
        """`(columns, factors)`: `(fan_in, candidates + count)` candidate fan-ins,
        one per column, and the `(candidates + count,)` factors rescaling them to
        the existing units' mean norm (`None`: already at that norm)."""
        return self.candidates_ahead(request, use, inputs)()

    def candidates_ahead(self, request, use, inputs):
        """Start drawing the candidates; returns a function that waits for
        `candidate_columns`' result.

        The fan-ins are drawn on a worker thread (`draw_ahead`) when the
        initializer's draw count is known, and `request.rng` skips past them,
        so the caller can prepare the scored rows meanwhile; the existing
        units' norm is read here, alongside the draw.
        """
        total = self.candidates + request.count

        def draw(rng):
            columns = draw_fan_in_columns(request, use, total, rng)
            return columns, column_norms(columns)

        uniforms = uniform_draw_count(kernel_initializer(use), use, total)
        pending = draw_ahead(draw, request.rng, uniforms)
        target = existing_norm(request, use)

        def result():
            columns, norms = pending.result()
            return columns, factors_to_norm(norms, target)

        return result

    def __call__(self, request):
        use = measured_kernel_use(request)
        inputs = context_rows(request, "inputs")
        existing = context_rows(request, "activations")
        post = request.context.get("post_activation") or (lambda z: z)
        candidates = self.candidates_ahead(request, use, inputs)
        rows = scoring_row_count(len(inputs), existing.shape[1], request.count, self.scoring_rows)
        active = fan_in_mask(request, use) > 0
        scoring = ScoringRows(inputs, existing, self.epsilon, rows, request.rng, active)
        columns, factors = candidates()
        chosen = scoring.select(columns, request.count, post, factors)
        fan_ins = columns[:, chosen].T
        if factors is not None:
            fan_ins = fan_ins * factors[chosen][:, None]
        values = random_fan_ins(request, skip=[use])
        values[use] = _model_access.unit_slice(request, use, fan_ins)
        return values

    def get_config(self):
        return {
            "candidates": self.candidates,
            "epsilon": self.epsilon,
            "scoring_rows": self.scoring_rows,
        }


class NorthPre(NorthSelect):
    """NORTH-Pre (eq. 33): candidates with pre-activations orthogonal to the layer's.

    For the buffered input rows `X` (n × d) and the existing units'
    pre-activations `Z = X Wᵀ + b` (n × M), a candidate's fan-in is
    `w = X⁺ t`, where `t = (I − Q Qᵀ) g` projects a Gaussian vector `g` onto
    the orthogonal complement of `Z`'s column space (`Q` an orthonormal basis
    of it): the same distribution as the thesis' `V'_Z a` with the right
    `n − M` singular vectors `V'_Z` of `Z`, without forming them. `X⁺` is the
    Moore-Penrose pseudo-inverse over the active inputs. Candidates are then
    rescaled and selected by their post-activations as in `NorthSelect`.
    When the existing pre-activations already span the column space of `X`
    (at least as many independent units as independent inputs), no such `w`
    exists and the candidates are random, as in `NorthSelect`.
    Dense layers only (convolutions have no closed form, thesis 6.2.3).

    Args:
        candidates: int >= 1, candidates besides the `count` needed.
        epsilon: singular-value threshold of the selection.
        rcond: relative cut-off of small singular values in `X⁺` and in the
            rank of `Z`. Directions of `X` weaker than that are ignored: the
            fan-ins are stored in float32, which cannot resolve the huge
            weights a near-singular `X` would ask for.
        scoring_rows: rows the selection scores on, as in `NorthSelect`
            (the pseudo-inverse uses all buffered rows).

    Example:

    ```python
    keras_grow.callbacks.Neurogenesis(
        trigger=keras_grow.growth.ActivationTrigger(),
        initializer=keras_grow.growth.NorthPre(candidates=1000))
    ```
    """

    def __init__(self, candidates=1000, epsilon=0.01, rcond=1e-3, scoring_rows="auto"):
        super().__init__(candidates, epsilon, scoring_rows)
        if isinstance(rcond, bool) or not isinstance(rcond, numbers.Real) or not rcond > 0:
            raise ValueError(f"rcond={rcond!r} is not allowed; expected a number > 0.")
        self.rcond = float(rcond)

    def candidate_fan_ins(self, request, use, inputs):
        if not isinstance(use.layer, keras.layers.Dense):
            raise ValueError(
                f"NorthPre supports Dense layers only; layer '{use.layer.name}' is a "
                f"{type(use.layer).__name__} (no closed form for convolutions)."
            )
        total = self.candidates + request.count
        mask = fan_in_mask(request, use) > 0
        x = inputs[:, mask].astype(np.float64)
        weights = request.unit_vectors(use, request.existing(use))[:, mask]
        pre = x @ weights.T.astype(np.float64)
        bias = next(
            (u for u in request.fan_in if u.variable.ndim == 1 and u.layer is use.layer), None
        )
        if bias is not None:
            pre = pre + request.existing(bias)[None, :]
        basis = _column_basis(pre, self.rcond)
        targets = request.rng.standard_normal((x.shape[0], total))
        targets -= basis @ (basis.T @ targets)
        solved = _pseudo_inverse(x, self.rcond) @ targets
        reached = np.linalg.norm(x @ solved, axis=0)
        fan_in = np.zeros((total, mask.size), np.float32)
        fan_in[:, mask] = solved.T
        fan_in = rescale_rows(fan_in, existing_norm(request, use))
        # When the existing pre-activations already span everything the inputs can
        # produce, no orthogonal direction is reachable: fall back to random fan-ins.
        degenerate = reached <= 1e-6 * np.linalg.norm(targets, axis=0)
        if degenerate.any():
            fan_in[degenerate] = draw_fan_in(request, use, int(degenerate.sum()))
        return fan_in

    def input_rows_needed(self, buffered_rows, max_width):
        return buffered_rows  # the pseudo-inverse reads every buffered row

    def candidate_columns(self, request, use, inputs):
        return self.candidate_fan_ins(request, use, inputs).T, None

    def candidates_ahead(self, request, use, inputs):
        done = self.candidate_columns(request, use, inputs)
        return lambda: done

    def get_config(self):
        return {**super().get_config(), "rcond": self.rcond}


class NorthWeight(UnitInitializer):
    """NORTH-Weight (eq. 34): fan-ins in the null space of the existing fan-ins.

    Each new unit's fan-in is a random draw (as `NorthRandom`) projected onto
    the kernel of the measured layer's fan-in matrix `W` (one row per
    existing unit; convolution kernels flattened to `k·k·C_in`) and of the
    fan-ins already chosen in this event, then rescaled to the existing
    units' mean norm. The thesis' `W` includes the bias column; new units
    start with zero bias, so the projection uses the kernel part. When the
    null space is empty (at least as many units as inputs) the random draw is
    kept unprojected. Fan-out is zero: function-preserving.

    Reads no context (the masks of active inputs, if given, are used).

    Example:

    ```python
    keras_grow.callbacks.Neurogenesis(
        trigger=keras_grow.growth.WeightTrigger(gamma=0.99),
        initializer=keras_grow.growth.NorthWeight())
    ```
    """

    def __call__(self, request):
        use = measured_kernel_use(request)
        existing = request.unit_vectors(use, request.existing(use)).astype(np.float64)
        draws = draw_fan_in(request, use, request.count).astype(np.float64)
        basis = _row_basis(existing)
        chosen = []
        for row in draws:
            projected = row - basis.T @ (basis @ row) if basis.size else row
            norm = np.linalg.norm(projected)
            if norm <= 1e-6 * max(np.linalg.norm(row), 1e-30):
                projected, norm = row, np.linalg.norm(row)
            chosen.append(projected)
            if norm > 0:
                basis = (
                    np.vstack([basis, projected / norm]) if basis.size else (projected / norm)[None]
                )
        rows = rescale_rows(np.asarray(chosen), existing_norm(request, use))
        values = random_fan_ins(request, skip=[use])
        values[use] = _model_access.unit_slice(request, use, rows)
        return values


def _row_basis(matrix, rcond=1e-10):
    """Orthonormal basis (rows) of the row space of `matrix`."""
    if matrix.size == 0:
        return np.zeros((0, matrix.shape[1] if matrix.ndim == 2 else 0))
    _, values, vt = np.linalg.svd(matrix, full_matrices=False)
    keep = values > rcond * max(values.max(initial=0.0), 1e-30)
    return vt[keep]


def _column_basis(matrix, rcond):
    """Orthonormal basis (columns) of the column space of tall `matrix`."""
    eigenvalues, vectors = np.linalg.eigh(matrix.T @ matrix)
    keep = eigenvalues > rcond**2 * max(eigenvalues.max(initial=0.0), 1e-30)
    return matrix @ (vectors[:, keep] / np.sqrt(eigenvalues[keep]))


def _pseudo_inverse(matrix, rcond):
    """Moore-Penrose pseudo-inverse of tall `matrix` through its Gram matrix."""
    eigenvalues, vectors = np.linalg.eigh(matrix.T @ matrix)
    keep = eigenvalues > rcond**2 * max(eigenvalues.max(initial=0.0), 1e-30)
    inverse = (vectors[:, keep] / eigenvalues[keep]) @ vectors[:, keep].T
    return inverse @ matrix.T
