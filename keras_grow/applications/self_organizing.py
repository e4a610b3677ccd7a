"""Presets of the self-organising hierarchy: the paper's handcrafted 3-unit layouts.

`SelfOrganizingHierarchy(preset=...)` follows the `keras.applications`
naming; `soh_flat`, `soh_columnar` and `soh_pyramidal` are shortcuts. The
geometry follows the paper and its code: for MNIST a `20 x 40` feature map
(the 20x20 centre-cropped image on the left, three 10x10 codes of 100 hidden
units to its right, 10x10 fields); for CIFAR-10 everything scaled by 1.6 (a
`32 x 64` map, 256 hidden units as 16x16 codes, 16x16 fields, grey images).
"""

from keras_grow.search.self_organizing import SelfOrganizingHierarchy as _Hierarchy

PRESETS = ("flat", "columnar", "pyramidal")
GEOMETRIES = {
    "mnist": {"feature_map": (20, 40), "units": 3, "hidden": 100, "field": 10},
    "cifar10": {"feature_map": (32, 64), "units": 3, "hidden": 256, "field": 16},
}


def SelfOrganizingHierarchy(preset="pyramidal", dataset="mnist", **kwargs):
    """A self-organising hierarchy with one of the paper's handcrafted layouts.

    Reference:
    - [Borgohain et al., 2020](https://arxiv.org/abs/2007.06893), Fig. 2
      (A1 flat, A2 columnar, A3 pyramidal) and Table 1.

    Args:
        preset: `"flat"` (A1), `"columnar"` (A2) or `"pyramidal"` (A3).
        dataset: `"mnist"` or `"cifar10"`, the map geometry (see module
            docstring).
        **kwargs: any other `keras_grow.search.SelfOrganizingHierarchy`
            argument (`seed`, `dropout`, `learning_rate`, ...); geometry
            arguments given here override the preset's.

    Returns:
        A `keras_grow.search.SelfOrganizingHierarchy`.

    Example:

    >>> soh = SelfOrganizingHierarchy("pyramidal", seed=0)
    >>> soh.fields[2]
    ((0, 20), (10, 20))
    """
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is unknown: use one of {PRESETS}.")
    if dataset not in GEOMETRIES:
        raise ValueError(f"dataset={dataset!r} is unknown: use one of {tuple(GEOMETRIES)}.")
    if "layout" in kwargs:
        raise ValueError(
            f"layout={kwargs['layout']!r} cannot be combined with preset={preset!r}: use "
            "keras_grow.search.SelfOrganizingHierarchy for other layouts."
        )
    arguments = {**GEOMETRIES[dataset], **kwargs}
    return _Hierarchy(layout=preset, **arguments)


def soh_flat(dataset="mnist", **kwargs):
    """Flat layout A1: every unit reads the image. See `SelfOrganizingHierarchy`."""
    return SelfOrganizingHierarchy("flat", dataset=dataset, **kwargs)


def soh_columnar(dataset="mnist", **kwargs):
    """Columnar layout A2: a chain image -> u1 -> u2 -> u3. See `SelfOrganizingHierarchy`."""
    return SelfOrganizingHierarchy("columnar", dataset=dataset, **kwargs)


def soh_pyramidal(dataset="mnist", **kwargs):
    """Pyramidal layout A3: u1, u2 read image halves, u3 reads both codes."""
    return SelfOrganizingHierarchy("pyramidal", dataset=dataset, **kwargs)
