"""Plots of a URN's emergent structure: activities and weights (Figs. 3-4), synapses (Fig. 6)."""

import numpy as np

from keras_grow.analysis.urn_structure import extract_structure

FORWARD, BACKWARD, SAME = "tab:red", "tab:green", "black"


def _structure(urn, x, structure):
    if structure is None:
        if x is None:
            raise ValueError("Pass a data sample `x` or a precomputed `structure`.")
        structure = extract_structure(urn, x)
    return structure


def _boundaries(structure, order):
    """Positions in `order` where the first-activation level changes."""
    level = structure.first_activation[order].astype(float)
    level[np.isin(order, structure.output_indices)] = structure.iterations + 1
    return np.flatnonzero(np.diff(level)) + 0.5


def plot_urn(urn, x=None, structure=None, figsize=(11, 4.5), title=None):
    """Activities and weight matrix of the active neurons, sorted by first activation.

    Inactive neurons are dropped; the rest are ordered input, hidden neurons by the update
    at which they first activate, output (the layout of the paper's Figs. 3 and 4). An
    emergent MLP shows up as a staircase of activities and a block sub-diagonal weight
    matrix (eq. 1).

    Args:
        urn: a built `URNLayer`.
        x: data sample (used when `structure` is not given).
        structure: an `URNStructure` from `extract_structure`.
        figsize: matplotlib figure size.
        title: optional figure title.

    Returns:
        The matplotlib `Figure` (axes: activities, weights).
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    structure = _structure(urn, x, structure)
    order = structure.order
    fig, (ax_a, ax_w) = plt.subplots(1, 2, figsize=figsize, width_ratios=[1, 1.3])
    activity = structure.activity[:, order]
    floor = max(activity[activity > 0].min(initial=1.0), 1e-6)
    image = ax_a.imshow(
        np.maximum(activity.T, floor),
        aspect="auto",
        interpolation="nearest",
        cmap="viridis",
        norm=LogNorm(vmin=floor, vmax=max(activity.max(), floor * 10)),
    )
    ax_a.set_xlabel("iteration l")
    ax_a.set_ylabel("neuron (sorted by first activation)")
    ax_a.set_title("mean |N^(l)|")
    ax_a.set_xticks(range(structure.iterations + 1))
    fig.colorbar(image, ax=ax_a, fraction=0.05)
    weights = np.abs(structure.kernel[np.ix_(order, order)])
    wfloor = max(np.quantile(weights[weights > 0], 0.5) if np.any(weights > 0) else 1e-6, 1e-8)
    image = ax_w.imshow(
        np.maximum(weights, wfloor),
        interpolation="nearest",
        cmap="magma_r",
        norm=LogNorm(vmin=wfloor, vmax=max(weights.max(), wfloor * 10)),
    )
    for pos in _boundaries(structure, order):
        for line in (ax_w.axhline, ax_w.axvline):
            line(pos, color="tab:blue", lw=0.6, alpha=0.6)
    ax_w.set_xlabel("from neuron j")
    ax_w.set_ylabel("to neuron i")
    ax_w.set_title(f"|W_ij| of the {order.size} kept neurons")
    fig.colorbar(image, ax=ax_w, fraction=0.05)
    summary = structure.summary()
    fig.suptitle(
        title
        or f"{summary['n_active']} active of {structure.size} neurons, "
        f"hidden widths {summary['hidden_widths']}"
    )
    fig.tight_layout()
    return fig


def synapse_positions(urn, structure):
    """Positions used by `plot_connectomics`: geometry coordinates, or (layer, rank)."""
    if urn.geometry is not None:
        coords = urn.geometry.grid_coordinates(urn.output_dim)
        return coords, coords[:, -1]
    level = structure.first_activation.astype(float)
    level[structure.output_indices] = structure.iterations + 1
    pos = np.zeros((structure.size, 2))
    for value in np.unique(level):
        members = np.flatnonzero(level == value)
        pos[members, 0] = np.linspace(-1.0, 1.0, members.size) if members.size > 1 else 0.0
    pos[:, 1] = level
    return pos, level


def plot_connectomics(urn, x=None, structure=None, max_synapses=3000, ax=None, figsize=(7, 6)):
    """Draw the strongest synapses among active neurons, coloured by direction (Fig. 6).

    Forward synapses (to a deeper plane, or a later emergent layer when the URN has no
    geometry) are red, backward ones green, same-depth ones black. With a 2-D geometry
    the neurons are drawn at their (x, y, z) positions in 3-D; with a 1-D geometry at
    (x, z); without a geometry at (rank in layer, layer).

    Args:
        urn: a built `URNLayer`.
        x: data sample (used when `structure` is not given).
        structure: an `URNStructure`.
        max_synapses: draw at most this many synapses, the largest |W_ij| first.
        ax: optional matplotlib axes (3-D axes for a 2-D geometry).
        figsize: figure size when `ax` is None.

    Returns:
        The matplotlib `Figure`.
    """
    import matplotlib.pyplot as plt

    structure = _structure(urn, x, structure)
    pos, depth = synapse_positions(urn, structure)
    keep = structure.order
    weights = np.abs(structure.kernel[np.ix_(keep, keep)])
    targets, sources = np.nonzero(weights)
    strength = weights[targets, sources]
    pick = np.argsort(strength)[::-1][:max_synapses]
    targets, sources, strength = keep[targets[pick]], keep[sources[pick]], strength[pick]
    three_d = pos.shape[1] == 3
    if ax is None:
        fig = plt.figure(figsize=figsize)
        ax = fig.add_subplot(projection="3d" if three_d else None)
    fig = ax.figure
    scale = strength / strength.max() if strength.size else strength
    counts = {}
    for colour, mask in (
        (SAME, depth[targets] == depth[sources]),
        (BACKWARD, depth[targets] < depth[sources]),
        (FORWARD, depth[targets] > depth[sources]),
    ):
        counts[colour] = int(mask.sum())
        for t, s, a in zip(targets[mask], sources[mask], scale[mask], strict=True):
            ends = np.stack([pos[s], pos[t]], axis=1)
            if colour == SAME and not three_d:  # an arc, so it does not hide in its plane
                u = np.linspace(0.0, 1.0, 9)
                ends = pos[s][:, None] + (pos[t] - pos[s])[:, None] * u
                ends[1] += 0.25 * np.sin(np.pi * u)
            ax.plot(*ends, color=colour, alpha=float(0.15 + 0.85 * a), lw=0.4 + 1.2 * a)
    ax.scatter(*pos[keep].T, s=4, c="tab:blue", alpha=0.5)
    ax.set_title(
        f"{targets.size} strongest synapses: {counts[FORWARD]} forward (red), "
        f"{counts[BACKWARD]} backward (green), {counts[SAME]} same depth (black)",
        fontsize=9,
    )
    labels = ["x", "y", "z"] if three_d else (["x", "z"] if urn.geometry else ["rank", "layer"])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if three_d:
        ax.set_zlabel(labels[2])
    return fig
