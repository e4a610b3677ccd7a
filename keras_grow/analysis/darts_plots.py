"""Plots of a DARTS search: α over training (Fig. 18 of Maile's thesis), cells, the FIMT schedule.

Plain data in, matplotlib Figures out (optionally saved): the functions read
`alpha_history`, `primitives` and `nodes` from a `DartsSearchModel` by duck
typing, and a genotype through its `normal` / `reduce` / `*_concat` fields.
"""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path):
    if path is not None:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return figure


def _check_cell(cell):
    if cell not in ("normal", "reduce"):
        raise ValueError(f"`cell` must be 'normal' or 'reduce'; received {cell!r}.")


def _nodes_for(edges):
    nodes = 2
    while nodes * (nodes + 3) // 2 < edges:
        nodes += 1
    if nodes * (nodes + 3) // 2 != edges:
        raise ValueError(f"{edges} edges is not the edge count of a DARTS cell.")
    return nodes


def plot_alpha_history(
    source, cell="normal", primitives=None, path=None, exclude=("none",), title=None
):
    """Draw every edge's activated α over the search, one panel per edge (Fig. 18).

    Panel (row i, column j) is the edge into intermediate node i from state j
    (columns 0 and 1: the cell inputs c_{k-2}, c_{k-1}; column j >= 2: node
    j - 2), titled as in `plot_genotype`; each line is one primitive's weight.

    Args:
        source: a `DartsSearchModel` (its `alpha_history`) or a list of
            entries `{"epoch": float, "normal": array, "reduce": array}`.
        cell: `"normal"` or `"reduce"`.
        primitives: column names (read from the model when omitted).
        path: save the figure there when given.
        exclude: primitives not drawn (`none` as in the thesis).
        title: figure title.

    Returns:
        The matplotlib Figure.

    Example:

    ```python
    search.fit(train, arch_data=val, epochs=50)
    keras_grow.analysis.plot_alpha_history(search, "normal", path="alpha_normal.png")
    ```
    """
    _check_cell(cell)
    history = getattr(source, "alpha_history", source)
    primitives = primitives or getattr(source, "primitives", None)
    if not history or primitives is None:
        raise ValueError(
            "plot_alpha_history needs a non-empty alpha history and the primitive names; "
            f"received {len(history or [])} entries and primitives={primitives!r}."
        )
    import numpy as np

    epochs = [entry["epoch"] for entry in history]
    values = np.stack([np.asarray(entry[cell]) for entry in history])  # (t, edges, prims)
    if values.shape[2] != len(primitives):
        raise ValueError(
            f"The history has {values.shape[2]} weights per edge but {len(primitives)} "
            f"primitives were given: {tuple(primitives)}."
        )
    nodes = _nodes_for(values.shape[1])
    plt = _pyplot()
    figure, axes = plt.subplots(
        nodes,
        nodes + 1,
        figsize=(2.3 * (nodes + 1), 1.9 * nodes),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    shown = [i for i, p in enumerate(primitives) if p not in exclude]
    colors = plt.get_cmap("tab10")
    edge = 0
    for node in range(nodes):
        for source_state in range(nodes + 1):
            ax = axes[node][source_state]
            if source_state >= node + 2:
                ax.axis("off")
                continue
            for k in shown:
                ax.plot(epochs, values[:, edge, k], color=colors(k % 10), label=primitives[k])
            source_name = (
                ("$c_{k-2}$", "$c_{k-1}$")[source_state]
                if source_state < 2
                else (str(source_state - 2))
            )
            ax.set_title(f"{source_name} → {node}", fontsize=8)
            ax.tick_params(labelsize=7)
            edge += 1
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", fontsize=7, frameon=False)
    figure.suptitle(title or f"{cell} cell: activated α over the search")
    figure.tight_layout(rect=(0, 0, 0.88, 0.96))
    return _save(figure, path)


def plot_genotype(genotype, cell="normal", path=None, ax=None, title=None):
    """Draw one cell of a genotype as a graph: inputs, nodes, output, labelled edges.

    Args:
        genotype: a `Genotype` (fields `normal`, `normal_concat`, `reduce`, `reduce_concat`).
        cell: `"normal"` or `"reduce"`.
        path: save the figure there when given.
        ax: Axes to draw into (a new figure otherwise).
        title: axes title (default: the cell type).

    Returns:
        The matplotlib Figure.

    Example:

    >>> from keras_grow.search import DARTS_V2
    >>> figure = plot_genotype(DARTS_V2, "reduce")
    """
    _check_cell(cell)
    pairs = list(getattr(genotype, cell))
    concat = list(getattr(genotype, f"{cell}_concat"))
    nodes = len(pairs) // 2
    plt = _pyplot()
    if ax is None:
        figure, ax = plt.subplots(figsize=(2.2 + 1.6 * nodes, 3.6))
    else:
        figure = ax.figure
    positions = {0: (0.0, 1.0), 1: (0.0, -1.0)}
    for node in range(nodes):
        positions[node + 2] = (1.5 + 1.5 * node, 0.9 if node % 2 == 0 else -0.9)
    output = (1.5 + 1.5 * nodes, 0.0)
    labels = {0: "$c_{k-2}$", 1: "$c_{k-1}$", **{n + 2: str(n) for n in range(nodes)}}
    colors = plt.get_cmap("tab10")
    names = sorted({name for name, _ in pairs})

    def arrow(start, end, color, rad, text=None):
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops={
                "arrowstyle": "-|>",
                "color": color,
                "lw": 1.3,
                "shrinkA": 14,
                "shrinkB": 14,
                "connectionstyle": f"arc3,rad={rad}",
            },
        )
        if text:
            mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            dx, dy = end[0] - start[0], end[1] - start[1]
            ax.text(
                mx - rad * dy * 0.5,
                my + rad * dx * 0.5,
                text,
                fontsize=7,
                color=color,
                ha="center",
                va="center",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
            )

    for position, (name, index) in enumerate(pairs):
        node = position // 2 + 2
        rad = 0.25 if position % 2 == 0 else -0.25
        arrow(positions[index], positions[node], colors(names.index(name) % 10), rad, name)
    for state in concat:
        arrow(positions[state], output, "0.6", 0.0)
    for state, (px, py) in positions.items():
        face = "#b7d7f0" if state < 2 else "#f6d8a8"
        ax.text(
            px,
            py,
            labels[state],
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.35", "fc": face, "ec": "0.3"},
        )
    ax.text(
        *output,
        "$c_{k}$",
        ha="center",
        va="center",
        fontsize=9,
        bbox={"boxstyle": "round,pad=0.35", "fc": "#c9e8c0", "ec": "0.3"},
    )
    ax.set_xlim(-0.6, output[0] + 0.6)
    ax.set_ylim(-1.7, 1.7)
    ax.axis("off")
    ax.set_title(title or f"{cell} cell")
    return _save(figure, path)


def plot_fisher_schedule(history, path=None, ax=None, title="FIMT schedule"):
    """Draw the FIMT moving average, the adaptive threshold and the α steps (Fig. 20).

    Args:
        history: `FisherScheduler(record=True).history`, tuples
            `(weight_step, fimt, threshold, arch_steps_so_far)`.
        path: save the figure there when given.
        ax: Axes to draw into.
        title: axes title.

    Returns:
        The matplotlib Figure.
    """
    if not history:
        raise ValueError("plot_fisher_schedule needs a non-empty history (record=True).")
    steps, fimt, threshold, arch = zip(*history)
    plt = _pyplot()
    if ax is None:
        figure, ax = plt.subplots(figsize=(7, 3.2))
    else:
        figure = ax.figure
    ax.plot(steps, fimt, label="FIMT (moving average)", color="tab:blue")
    ax.plot(steps, threshold, label="threshold h", color="tab:orange")
    fired = [s for s, a, b in zip(steps[1:], arch[1:], arch[:-1]) if a > b]
    for s in fired:
        ax.axvline(s, color="tab:green", alpha=0.25, lw=0.8)
    ax.plot([], [], color="tab:green", alpha=0.5, label=f"α step ({len(fired)})")
    ax.set_yscale("log")
    ax.set_xlabel("weight step")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(figure, path)
