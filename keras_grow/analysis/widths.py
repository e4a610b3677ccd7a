"""Plots of how layer widths change during training."""


def width_series(source):
    """Widths over time as `{layer: (steps, widths)}`.

    Args:
        source: a `DynamicModel` (its `structure_history`, one point per
            structural event, at optimizer steps), a list of `StructureEvent`s,
            or a `keras.callbacks.History` / `history.history` dict (its
            `width_<layer>` entries, one point per epoch).
    """
    history = getattr(source, "history", source)
    if isinstance(history, dict):
        return {
            key[len("width_") :]: (list(range(1, len(values) + 1)), list(values))
            for key, values in history.items()
            if key.startswith("width_")
        }
    events = getattr(source, "structure_history", source)
    if not isinstance(events, (list, tuple)):
        raise TypeError(
            f"source={source!r} is not a DynamicModel, a list of StructureEvents or a History."
        )
    series = {}
    for layer, width in getattr(source, "initial_widths", {}).items():
        series[layer] = ([0], [width])
    for event in events:
        for layer, width in event.widths.items():
            steps, widths = series.setdefault(layer, ([], []))
            steps.append(event.step)
            widths.append(width)
    return series


def plot_widths(source, path=None, ax=None, layers=None, title="Layer widths"):
    """Draw each layer's width over training.

    Args:
        source: see `width_series`.
        path: if given, the figure is saved there (PNG, SVG, ... by suffix).
        ax: a matplotlib Axes to draw into (a new figure otherwise).
        layers: names of the layers to draw (default: all that changed).
        title: the axes title.

    Returns:
        The matplotlib Figure.

    Example:

    ```python
    growth = keras_grow.callbacks.ScheduledGrowth(every=20, units=8)
    history = model.fit(x, y, epochs=5, callbacks=[growth])
    keras_grow.analysis.plot_widths(model, path="widths.png")    # per event
    keras_grow.analysis.plot_widths(history, path="epochs.png")  # per epoch
    ```
    """
    import matplotlib

    if ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    series = width_series(source)
    if layers is None:
        changed = [name for name, (_, w) in series.items() if len(set(w)) > 1]
        layers = changed or list(series)
    unknown = sorted(set(layers) - set(series))
    if unknown:
        raise ValueError(f"layers={unknown} have no width record; expected among {sorted(series)}.")
    if ax is None:
        figure, ax = plt.subplots(figsize=(6, 3.5))
    else:
        figure = ax.figure
    per_epoch = isinstance(getattr(source, "history", source), dict)
    for name in layers:
        steps, widths = series[name]
        ax.step(steps, widths, where="post", label=name, marker="." if per_epoch else None)
    ax.set_xlabel("epoch" if per_epoch else "training step")
    ax.set_ylabel("units")
    ax.set_title(title)
    if layers:
        ax.legend(fontsize="small")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
