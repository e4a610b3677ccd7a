"""Pictures of a self-organising hierarchy's feature map (matplotlib)."""

import numpy as np

from keras_grow.search.soh_layouts import INPUT, Layout


def draw_layout(layout, path=None, image=None, ax=None, title=None):
    """Draw a layout: the image, each unit's code block and its receptive fields.

    Each unit has a colour: its code block is filled with it and labelled
    `u<k> L<level>` (level in the hierarchy, image = level 0), its receptive
    fields are dashed squares of the same colour, and an arrow runs from each
    field to the code it feeds.

    Args:
        layout: a `Layout` (or anything with a `.layout` attribute, e.g. a
            `SelfOrganizingHierarchy`).
        path: if given, the figure is also saved there as a PNG.
        image: optional `(rows, cols)` array drawn in the input region.
        ax: optional matplotlib axes to draw into.
        title: axes title (default: the layout's name).

    Returns:
        The matplotlib `Figure`.
    """
    import matplotlib.pyplot as plt
    from matplotlib import patches

    layout = getattr(layout, "layout", layout)
    if not isinstance(layout, Layout):
        raise TypeError(f"layout={layout!r} must be a Layout or have a .layout attribute.")
    h, w = layout.feature_map
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(3.0, 0.16 * w), max(2.0, 0.16 * h) + 0.5))
    else:
        fig = ax.figure
    canvas = np.full((h, w), np.nan)
    r0, c0 = layout.input_location
    rows, cols = layout.input_shape
    if image is not None:
        image = np.asarray(image, dtype="float64").reshape(rows, cols)
        canvas[r0 : r0 + rows, c0 : c0 + cols] = image
    else:
        canvas[r0 : r0 + rows, c0 : c0 + cols] = 0.35
    ax.imshow(canvas, cmap="Greys", vmin=0, vmax=1, extent=(0, w, h, 0), interpolation="nearest")
    ax.add_patch(patches.Rectangle((c0, r0), cols, rows, fill=False, edgecolor="0.3", lw=1.2))
    colours = plt.get_cmap("tab10")
    levels = layout.levels()
    n = layout.field
    for k in range(layout.units):
        colour = colours(k % 10)
        r, c, ch, cw = layout.code_region(k)
        ax.add_patch(patches.Rectangle((c, r), cw, ch, color=colour, alpha=0.45, lw=0))
        ax.text(
            c + cw / 2,
            r + ch / 2,
            f"u{k + 1}\nL{levels[k]}",
            ha="center",
            va="center",
            fontsize=8,
            color="black",
        )
        inset = 0.15 + 0.2 * (k % 4)  # keeps overlapping fields of different units apart
        for row, col in layout.fields[k]:
            ax.add_patch(
                patches.Rectangle(
                    (col + inset, row + inset),
                    n - 2 * inset,
                    n - 2 * inset,
                    fill=False,
                    edgecolor=colour,
                    lw=1.8,
                    linestyle="--",
                )
            )
            ax.annotate(
                "",
                xy=(c + cw / 2, r + ch / 2),
                xytext=(col + n / 2, row + n / 2),
                arrowprops=dict(arrowstyle="->", color=colour, lw=1.0, alpha=0.8),
            )
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks(range(0, w + 1, max(1, n)))
    ax.set_yticks(range(0, h + 1, max(1, n)))
    ax.grid(True, color="0.85", lw=0.5)
    reads = "; ".join(
        f"u{k + 1}<-" + ",".join("img" if s == INPUT else f"u{s + 1}" for s in layout.sources(k))
        for k in range(layout.units)
    )
    ax.set_title(title if title is not None else f"{layout.name}: {reads}", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
