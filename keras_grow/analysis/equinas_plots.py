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
