"""Per-unit views of a dependency group's variables (read-only helpers).

A unit's fan-in vector is its slice of the producer's kernel along the unit
axis; with a `Flatten` after a convolution a unit owns several positions,
which are laid out together (as `NewUnits.unit_vectors` does).
"""

import numpy as np

from keras_grow.structure import storage


def producer_uses(group, layer):
    """`(kernel_use, bias_use or None)`: the fan-in axis uses of `layer` in `group`."""
    kernel = bias = None
    for use in group.axis_uses:
        if use.role != "producer" or use.layer is not layer:
            continue
        if use.variable is getattr(layer, "kernel", None):
            kernel = use
        elif use.variable is getattr(layer, "bias", None):
            bias = use
        elif kernel is None and use.variable.ndim >= 2:
            kernel = use
    if kernel is None:
        raise ValueError(
            f"layer_name={layer.name!r} has no kernel whose units can be read; expected a "
            "Dense or convolution-like producer layer."
        )
    return kernel, bias


def unit_rows(use, values=None):
    """One row per active unit of `use`'s group: the unit's entries of `values`.

    `values` defaults to the variable itself (pass a gradient of the same
    shape to get per-unit gradients).
    """
    groups = use.layout.groups()
    if len(groups) != 1:
        raise ValueError(f"{use.variable.path} mixes several unit groups on one axis.")
    group = groups[0]
    if values is None:
        values = use.variable.numpy()  # np.asarray(variable) copies ~20x slower on TF
    values = np.asarray(values)
    indices = storage.axis_slot_indices(use.layout, group, group.active_slots)
    taken = storage.take_axis(values, use.axis, indices)
    moved = np.moveaxis(taken, use.axis, 0)
    count = moved.shape[0] // use.layout.positions
    moved = moved.reshape(use.layout.positions, count, -1)
    return np.transpose(moved, (1, 0, 2)).reshape(count, -1)
