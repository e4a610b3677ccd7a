"""Plots of equivariance-aware search: z per layer (EquiNAS_D) and Pareto fronts (EquiNAS_E)."""

import numpy as np


def plot_architecture_weights(weights, groups, steps=None, title=None, figure=None):
    """Architecture weights z of every mixed layer over training (Figs. 12, 15-17 of the thesis).

    One panel per layer (shallow to deep), one line per group.

    Args:
        weights: `{layer name: array (rows, groups)}`, e.g.
            `ArchitectureHistory.weights`.
        groups: `{layer name: group names}`, e.g. `ArchitectureHistory.groups`.
        steps: x values of the rows (default 0, 1, ...).
        title: figure title.
        figure: an existing `matplotlib` figure to draw into.

    Returns:
        The `matplotlib.figure.Figure`.

    Example:

    >>> import numpy as np
    >>> from keras_grow.analysis import plot_architecture_weights
    >>> fig = plot_architecture_weights({"conv": np.array([[.5, .5], [.4, .6]])},
    ...                                 {"conv": ("C1", "C4")})
    >>> len(fig.axes)
    1
    """
    import matplotlib.pyplot as plt

    if not weights:
        raise ValueError("`weights` must hold at least one layer; received an empty mapping.")
    missing = sorted(set(weights) - set(groups))
    if missing:
        raise ValueError(f"`groups` has no group names for layers {missing}.")
    names = list(weights)
    fig = figure or plt.figure(figsize=(2.2 * len(names), 2.4))
    axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, names):
        rows = np.asarray(weights[name])
        x = np.arange(len(rows)) if steps is None else np.asarray(steps)
        for column, group in enumerate(groups[name]):
            ax.plot(x, rows[:, column], label=group)
        ax.set_title(name, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_xlabel("step", fontsize=8)
    axes[0].set_ylabel("z")
    axes[-1].legend(fontsize=6, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_pareto_front(selection_history, objective="val_accuracy", generation=-1, ax=None):
    """Candidates of one EquiNAS_E generation: accuracy against parameters, front marked.

    Args:
        selection_history: `EquiNASEOracle.selection_history`.
        objective: the accuracy key of the candidates.
        generation: index into `selection_history` (default the last).
        ax: a `matplotlib` axes to draw into.

    Returns:
        The axes.

    Example:

    >>> from keras_grow.analysis import plot_pareto_front
    >>> history = [{"generation": 0, "front": ["0"], "selected": ["0"], "candidates": [
    ...     {"trial_id": "0", "architecture": "D4", "val_accuracy": .9, "params": 10}]}]
    >>> plot_pareto_front(history).get_xlabel()
    'trainable parameters'
    """
    import matplotlib.pyplot as plt

    if not selection_history:
        raise ValueError("`selection_history` is empty; run the search first.")
    record = selection_history[generation]
    ax = ax or plt.figure(figsize=(5, 3.5)).gca()
    front = set(record["front"])
    for candidate in record["candidates"]:
        on_front = candidate["trial_id"] in front
        ax.scatter(
            candidate["params"],
            candidate[objective],
            c="C3" if on_front else "C0",
            marker="*" if on_front else "o",
        )
        ax.annotate(
            candidate["architecture"], (candidate["params"], candidate[objective]), fontsize=5
        )
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel(objective)
    ax.set_title(f"EquiNAS_E generation {record['generation']} (stars: Pareto front)")
    return ax


def rotation_weight(architecture_weights, groups=("C4", "D4")):
    """Per layer, the summed architecture weight of `groups` (Fig. 12 of the thesis).

    With the default groups this is the weight of the candidates that are
    equivariant to 90-degree rotations, `z(C4) + z(D4)`.

    Args:
        architecture_weights: `{layer name: {group name: z}}`, e.g.
            `EquiNASD.architecture_weights()`.
        groups: the group names to sum; each must be a candidate of every layer.

    Returns:
        `{layer name: float}`, in the order of `architecture_weights`.

    Example:

    >>> from keras_grow.analysis import rotation_weight
    >>> rotation_weight({"conv": {"C1": 0.2, "C4": 0.3, "D4": 0.5}})
    {'conv': 0.8}
    """
    if isinstance(groups, str):
        groups = (groups,)
    result = {}
    for layer, weights in architecture_weights.items():
        missing = [g for g in groups if g not in weights]
        if missing:
            raise ValueError(
                f"`groups`={tuple(groups)!r} are not all candidates of layer {layer!r}: "
                f"{missing} missing; allowed: {sorted(weights)}."
            )
        result[layer] = float(sum(weights[g] for g in groups))
    return result


def plot_symmetry_discovery(architecture_weights, groups=("C4", "D4"), ax=None):
    """Side-by-side bars of `z(groups)` per layer for several searches (Fig. 12).

    Args:
        architecture_weights: `{run label: {layer name: {group name: z}}}`,
            e.g. `{"upright": net_up.architecture_weights(), "rotated": ...}`;
            all runs must have the same layers.
        groups: the group names whose weights are summed (default: the
            rotation-equivariant candidates C4 and D4).
        ax: a `matplotlib` axes to draw into.

    Returns:
        The axes.

    Example:

    >>> from keras_grow.analysis import plot_symmetry_discovery
    >>> z = {"conv": {"C1": 0.5, "C4": 0.25, "D4": 0.25}}
    >>> ax = plot_symmetry_discovery({"upright": z, "rotated": z})
    >>> len(ax.patches)
    2
    """
    import matplotlib.pyplot as plt

    if not architecture_weights:
        raise ValueError("`architecture_weights` must hold at least one run; received none.")
    sums = {label: rotation_weight(z, groups) for label, z in architecture_weights.items()}
    layers = list(next(iter(sums.values())))
    for label, values in sums.items():
        if list(values) != layers:
            raise ValueError(
                f"Run {label!r} has layers {list(values)}; expected the same layers as the "
                f"first run, {layers}."
            )
    ax = ax or plt.figure(figsize=(1.0 + 0.8 * len(layers), 3.0)).gca()
    width = 0.8 / len(sums)
    positions = np.arange(len(layers))
    for k, (label, values) in enumerate(sums.items()):
        ax.bar(
            positions + (k - (len(sums) - 1) / 2) * width, list(values.values()), width, label=label
        )
    ax.set_xticks(positions, layers, rotation=45, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel(" + ".join(f"z({g})" for g in groups))
    ax.legend(fontsize=7)
    return ax
