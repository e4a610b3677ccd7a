"""Read the emergent layered network out of a trained URNLayer, and export it to Keras.

`extract_structure(urn, x)` runs the URN on a data sample, drops the neurons that are
never active, orders the rest by the update at which they first activate (the paper's
Figs. 3-4) and unrolls the updates into an explicit program: hidden layer l holds the
neurons whose activation at update l is non-zero on the sample *and* reaches the output.
`URNStructure.to_keras()` turns that program into a `keras.Sequential` of `Dense` layers
whose predictions equal the URN's on the sample (up to float32 summation order).

Residual updates are unrolled with ReLU "carry" units, which are exact because the
carried values are non-negative: an output neuron's running sum (eq. 6) is a sum of
ReLU outputs, and the input fed back at every update (eq. 7) is carried as the pair
(relu(x), relu(-x)). Layers that only carry values are folded into their successor.
"""

import dataclasses

import keras
import numpy as np
from keras import activations

_PHI, _ACC, _XPOS, _XNEG, _DUMMY = "phi", "acc", "x+", "x-", "dummy"


@dataclasses.dataclass
class URNStructure:
    """The emergent network of a URN on a data sample (see `extract_structure`).

    Attributes:
        first_activation: `(size,)` ints: 0 for the embedded input neurons, else the
            first update (1..iterations) at which the neuron is non-zero on the sample,
            or -1 for a neuron that is never active.
        activity: `(iterations + 1, size)` mean |N^(l)| over the sample.
        order: neuron indices for plots: inputs, active hidden neurons sorted by first
            activation (then by their on/off pattern over the updates), then the outputs.
        units: for every update l = 1..I, the neurons whose activation at l is non-zero
            and reaches the output (the explicit unrolled network).
        hidden_layers: influential hidden neurons (not input, not output) grouped by first
            activation; empty groups dropped. `hidden_widths` are their sizes.
        n_active: active neurons outside the input embedding (hidden + output).
        n_effective: of those, the ones that reach the output.
        output_updates: updates at which some output neuron receives a non-zero value.
    """

    size: int
    iterations: int
    residual: str | None
    input_shape: tuple
    embed_dim: int
    output_indices: np.ndarray
    kernel: np.ndarray  # W[i, j]: synapse from neuron j to neuron i (float32)
    bias: np.ndarray
    embedding: np.ndarray  # (input_dim, embed_dim) raw input -> embedded input
    activation: object
    first_activation: np.ndarray
    activity: np.ndarray
    state_nonzero: np.ndarray  # (I + 1, size) bool
    phi_nonzero: np.ndarray  # (I, size) bool
    units: list
    weight_threshold: float
    planes: np.ndarray | None = None
    coordinates: np.ndarray | None = None  # (size, rank + 1) grid position and plane

    # ------------------------------------------------------------ summaries
    @property
    def hidden_mask(self):
        mask = np.ones(self.size, dtype=bool)
        mask[: self.embed_dim] = False
        mask[self.output_indices] = False
        return mask

    @property
    def active(self):
        """Boolean mask of neurons active at some update (inputs excluded)."""
        return (self.first_activation > 0) & (np.arange(self.size) >= self.embed_dim)

    @property
    def n_active(self):
        return int(self.active.sum())

    @property
    def effective(self):
        mask = np.zeros(self.size, dtype=bool)
        for idx in self.units:
            mask[idx] = True
        mask[: self.embed_dim] = False
        return mask

    @property
    def n_effective(self):
        return int(self.effective.sum())

    @property
    def hidden_layers(self):
        keep = self.effective & self.hidden_mask
        groups = []
        for level in range(1, self.iterations + 1):
            idx = np.flatnonzero(keep & (self.first_activation == level))
            if idx.size:
                groups.append(idx)
        return groups

    @property
    def hidden_widths(self):
        return [int(g.size) for g in self.hidden_layers]

    @property
    def unit_widths(self):
        return [int(len(u)) for u in self.units]

    @property
    def output_updates(self):
        out = self.phi_nonzero[:, self.output_indices].any(axis=1)
        return [int(level) + 1 for level in np.flatnonzero(out)]

    @property
    def order(self):
        inputs = np.arange(self.embed_dim)
        hidden = np.flatnonzero(self.active & self.hidden_mask)
        # within a first-activation group, neurons with the same on/off pattern over the
        # updates sit together (e.g. the ones re-used at later updates)
        weights = 2 ** np.arange(self.iterations)[::-1, None]
        pattern = (self.phi_nonzero[:, hidden] * weights).sum(axis=0)
        hidden = hidden[np.lexsort((hidden, pattern, self.first_activation[hidden]))]
        return np.concatenate([inputs, hidden, self.output_indices])

    def summary(self):
        """A short dict of the numbers the paper reports."""
        return {
            "n_active": self.n_active,
            "n_effective": self.n_effective,
            "hidden_widths": self.hidden_widths,
            "n_hidden_layers": len(self.hidden_widths),
            "output_updates": self.output_updates,
        }

    # ------------------------------------------------------------ to_keras
    def to_keras(self, name="urn_mlp"):
        """An explicit `keras.Sequential` of `Dense` layers equal to the URN on the sample.

        Exact on the sample the structure was extracted from (inactive neurons are zero
        there) when `weight_threshold == 0`; with a threshold, synapses at or below it are
        dropped, as in the paper's check that "all other weights" do not matter.
        """
        layers_np, readout = _unroll(self)
        model_layers = [keras.Input(self.input_shape)]
        if len(self.input_shape) > 1:
            model_layers.append(keras.layers.Flatten(name="flatten"))
        dense = []
        for depth, (kernel, bias, act) in enumerate(layers_np, start=1):
            layer = keras.layers.Dense(kernel.shape[1], activation=act, name=f"emergent_{depth}")
            dense.append((layer, [kernel.astype("float32"), bias.astype("float32")]))
            model_layers.append(layer)
        if readout is not None:
            layer = keras.layers.Dense(readout.shape[1], activation=None, name="readout")
            zeros = np.zeros(readout.shape[1], dtype="float32")
            dense.append((layer, [readout.astype("float32"), zeros]))
            model_layers.append(layer)
        model = keras.Sequential(model_layers, name=name)
        for layer, weights in dense:
            layer.set_weights(weights)
        return model


def extract_structure(urn, x, activity_threshold=0.0, weight_threshold=0.0, batch_size=1024):
    """Extract the emergent layered network of a (trained) `URNLayer` on a data sample.

    Args:
        urn: a built `keras_grow.layers.URNLayer`.
        x: input sample, a numpy array or tensor shaped like the URN's inputs.
        activity_threshold: a neuron counts as active at an update when its |activation|
            exceeds this on some sample (0: any non-zero value, the paper's definition).
        weight_threshold: synapses with |W_ij| <= this are treated as absent when tracing
            which neurons reach the output (0 keeps every synapse, so `to_keras` is exact).
        batch_size: sample chunk size for running the URN.

    Returns:
        A `URNStructure`.
    """
    if not getattr(urn, "built", False) or urn.input_dim is None:
        raise ValueError(f"`urn` must be a built URNLayer. Received: urn={urn!r}")
    thresholds = {"activity_threshold": activity_threshold, "weight_threshold": weight_threshold}
    for name, value in thresholds.items():
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"`x` must be a non-empty batch of inputs. Received shape {x.shape}")
    size, iters = urn.size, urn.iterations
    state_abs = np.zeros((iters + 1, size))
    state_nz = np.zeros((iters + 1, size), dtype=bool)
    phi_nz = np.zeros((iters, size), dtype=bool)
    for start in range(0, x.shape[0], batch_size):
        states, phis = urn.compute_states(x[start : start + batch_size])
        for level, state in enumerate(states):
            state = np.abs(np.asarray(state, dtype=np.float64))
            state_abs[level] += state.sum(axis=0)
            state_nz[level] |= (state > activity_threshold).any(axis=0)
        for level, phi in enumerate(phis):
            phi_nz[level] |= (np.abs(np.asarray(phi)) > activity_threshold).any(axis=0)
    first = np.where(phi_nz.any(axis=0), phi_nz.argmax(axis=0) + 1, -1)
    first[: urn.embed_dim] = 0
    kernel = np.asarray(urn.kernel.numpy()).T  # float32, exactly the URN's weights
    bias = np.zeros(size) if urn.bias is None else np.asarray(urn.bias.numpy(), np.float64)
    embedding = urn.interpolation
    if embedding is None:
        embedding = np.eye(urn.input_dim)
    structure = URNStructure(
        size=size,
        iterations=iters,
        residual=urn.residual,
        input_shape=tuple(x.shape[1:]),
        embed_dim=urn.embed_dim,
        output_indices=urn.output_indices,
        kernel=kernel,
        bias=bias,
        embedding=np.asarray(embedding, dtype=np.float64),
        activation=urn.activation,
        first_activation=first,
        activity=state_abs / x.shape[0],
        state_nonzero=state_nz,
        phi_nonzero=phi_nz,
        units=[],
        weight_threshold=float(weight_threshold),
        planes=urn.neuron_planes(),
        coordinates=None if urn.geometry is None else urn.geometry.coordinates(urn.output_dim),
    )
    structure.units = _trace_units(structure)
    return structure


def _synapses(structure):
    kernel = structure.kernel
    if structure.weight_threshold > 0:
        kernel = np.where(np.abs(kernel) > structure.weight_threshold, kernel, 0.0)
    return kernel


def _is_out(structure):
    mask = np.zeros(structure.size, dtype=bool)
    mask[structure.output_indices] = True
    return mask


def _trace_units(structure):
    """Backward pass: which activations at each update reach the output."""
    kernel = _synapses(structure)
    is_out = _is_out(structure)
    iters = structure.iterations
    need = is_out.copy()  # N^(I) values needed
    units = [None] * iters
    for level in range(iters, 0, -1):
        phi = need & structure.phi_nonzero[level - 1]
        units[level - 1] = np.flatnonzero(phi)
        if level == 1:
            break
        prev = structure.state_nonzero[level - 1] & (kernel[phi] != 0).any(axis=0)
        if structure.residual == "output":
            prev |= need & is_out & structure.state_nonzero[level - 1]
        need = prev
    first = structure.first_activation
    return [u[np.lexsort((u, first[u]))] for u in units]


def _zero_is_fixed(activation):
    return float(np.asarray(activation(np.zeros((1,), "float32")))[0]) == 0.0


def _unroll(structure):
    """Numpy kernels `(in, out)`, biases and activations of the explicit network.

    Returns `(layers, readout)`; `readout` is `None` when the last layer already emits
    the outputs in order, else an `(units, output_dim)` linear read-out matrix.
    """
    kernel = _synapses(structure)
    iters, embed = structure.iterations, structure.embed_dim
    residual = structure.residual
    relu = activations.serialize(structure.activation) == "relu"
    if residual is not None and not relu:
        raise ValueError(
            "to_keras() unrolls residual URNs with ReLU carry units, so it needs "
            f"activation='relu'. Received: activation={structure.activation!r}, "
            f"residual={residual!r}"
        )
    act_name = activations.serialize(structure.activation)

    # `rep`: neuron -> row of coefficients of N^(level) over the current layer's units
    rep_idx = np.arange(embed)
    rep_mat = structure.embedding.T  # N^(0) over the raw inputs
    # embedded inputs fed back at every update (eq. 7), carried through layers 1..I-1
    x_carry = np.zeros(0, dtype=int)
    if residual == "input":
        needed = np.zeros(structure.size, dtype=bool)
        for level in range(1, iters):
            needed |= (kernel[structure.units[level]] != 0).any(axis=0)
        x_carry = np.flatnonzero(needed[:embed])

    layers, prev_kinds = [], None
    for level in range(1, iters + 1):
        width_prev = rep_mat.shape[1]
        row_of = {int(j): r for r, j in enumerate(rep_idx)}
        blocks, biases, kinds = [], [], []
        phi = structure.units[level - 1]
        if phi.size:
            blocks.append(kernel[np.ix_(phi, rep_idx)].astype(np.float64) @ rep_mat)
            biases.append(structure.bias[phi])
            kinds += [(_PHI, int(i)) for i in phi]
        if residual == "output" and level > 1:
            acc = [int(o) for o in structure.output_indices if int(o) in row_of]
            acc = [o for o in acc if structure.state_nonzero[level - 1][o]]
            if acc:
                blocks.append(rep_mat[[row_of[o] for o in acc]])
                biases.append(np.zeros(len(acc)))
                kinds += [(_ACC, o) for o in acc]
        if level < iters and x_carry.size:
            for sign, kind in ((1.0, _XPOS), (-1.0, _XNEG)):
                if prev_kinds is None:
                    block = sign * structure.embedding[:, x_carry].T
                else:
                    block = np.zeros((x_carry.size, width_prev))
                    pos = {k: u for u, k in enumerate(prev_kinds)}
                    for r, j in enumerate(x_carry):
                        block[r, pos[(kind, int(j))]] = 1.0
                blocks.append(block)
                biases.append(np.zeros(x_carry.size))
                kinds += [(kind, int(j)) for j in x_carry]
        if not kinds:  # nothing survives: one unit without outgoing synapses
            blocks, biases, kinds = [np.zeros((1, width_prev))], [np.zeros(1)], [(_DUMMY, -1)]
        layer_kernel = np.concatenate(blocks, axis=0).T
        # new representation of N^(level) over this layer's units
        order = {}
        for u, (kind, j) in enumerate(kinds):
            if kind != _DUMMY:
                order.setdefault(j, []).append((u, -1.0 if kind == _XNEG else 1.0))
        rep_idx = np.asarray(sorted(order), dtype=int)
        rep_mat = np.zeros((rep_idx.size, len(kinds)))
        for r, j in enumerate(rep_idx):
            for u, coef in order[int(j)]:
                rep_mat[r, u] += coef
        layers.append([layer_kernel, np.concatenate(biases), act_name, [k for k, _ in kinds]])
        prev_kinds = kinds

    readout = np.zeros((len(prev_kinds), len(structure.output_indices)))
    row_of = {int(j): r for r, j in enumerate(rep_idx)}
    for col, o in enumerate(structure.output_indices):
        if int(o) in row_of:
            readout[:, col] = rep_mat[row_of[int(o)]]
    layers = _fold_carry_layers(layers, readout)
    readout = layers.pop()
    layers, readout = _merge_readout(layers, readout, structure.activation, residual is None)
    return [(k, b, a) for k, b, a, _ in layers], readout


def _fold_carry_layers(layers, readout):
    """Fold layers that only carry values (linear, bias 0) into their successor."""
    out = [layers[0]]
    pending = None  # linear map from out[-1] units to the folded layer's units
    for layer in layers[1:]:
        kernel, bias, act, kinds = layer
        if pending is not None:
            kernel = pending @ kernel
            pending = None
        if all(k in (_ACC, _XPOS, _XNEG) for k in kinds) and not np.any(bias):
            pending = kernel
            continue
        out.append([kernel, bias, act, kinds])
    if pending is not None:
        readout = pending @ readout
    out.append(readout)
    return out


def _merge_readout(layers, readout, activation, plain):
    """Drop the read-out when it just selects the last layer's units, one per output."""
    kernel, bias, act, kinds = layers[-1]
    nonzero = readout != 0
    selects = (
        np.all(nonzero.sum(axis=0) <= 1)
        and np.all(nonzero.sum(axis=1) == 1)
        and np.all(readout[nonzero] == 1.0)
    )
    if not selects:
        return layers, readout
    cols, biases = [], []
    for out in range(readout.shape[1]):
        rows = np.flatnonzero(nonzero[:, out])
        if rows.size:
            cols.append(kernel[:, rows[0]])
            biases.append(bias[rows[0]])
        elif _zero_is_fixed(activation) or not plain:
            cols.append(np.zeros(kernel.shape[0]))
            biases.append(0.0)
        else:
            return layers, readout
    layers[-1] = [np.stack(cols, axis=1), np.asarray(biases), act, kinds]
    return layers, None


def connectivity_summary(structure, by="layer"):
    """Share of |W| among kept neurons going forward / backward / sideways.

    Args:
        structure: a `URNStructure`.
        by: `"layer"` compares the neurons' first-activation update; `"plane"` compares
            their depth plane (needs a URN geometry) and also reports the |W|-weighted
            mean synapse length in grid units.

    Returns:
        dict with `forward`, `backward`, `same` fractions (summing to 1) and, for
        `by="plane"`, `mean_length` (metric of eq. 8) and `mean_lateral` (distance
        within the grid, ignoring depth), both weighted by |W_ij|.
    """
    if by not in ("layer", "plane"):
        raise ValueError(f"`by` must be 'layer' or 'plane'. Received: by={by!r}")
    if by == "plane" and structure.planes is None:
        raise ValueError("`by='plane'` needs a URN with a geometry.")
    keep = structure.order
    kernel = _synapses(structure)
    level = structure.first_activation[keep] if by == "layer" else structure.planes[keep]
    if by == "layer":
        level = np.where(np.isin(keep, structure.output_indices), structure.iterations + 1, level)
    sums = dict.fromkeys(("forward", "backward", "same", "mean_length", "mean_lateral"), 0.0)
    for start in range(0, keep.size, 1024):  # row blocks: no S x S temporaries
        rows = keep[start : start + 1024]
        weights = np.abs(kernel[np.ix_(rows, keep)]).astype(np.float64)
        delta = level[start : start + 1024, None] - level[None, :]  # target minus source
        sums["forward"] += weights[delta > 0].sum()
        sums["backward"] += weights[delta < 0].sum()
        sums["same"] += weights[delta == 0].sum()
        if by == "plane":
            coords = structure.coordinates
            diff = [
                coords[rows, a][:, None] - coords[keep, a][None, :] for a in range(coords.shape[1])
            ]
            lateral = sum(d**2 for d in diff[:-1])
            sums["mean_length"] += (weights * np.sqrt(lateral + diff[-1] ** 2)).sum()
            sums["mean_lateral"] += (weights * np.sqrt(lateral)).sum()
    total = sums["forward"] + sums["backward"] + sums["same"]
    total = total if total > 0 else 1.0
    keys = ("forward", "backward", "same") + (
        ("mean_length", "mean_lateral") if by == "plane" else ()
    )
    return {key: float(sums[key] / total) for key in keys}
