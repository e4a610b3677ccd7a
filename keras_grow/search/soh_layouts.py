"""Feature-map layouts of a self-organising hierarchy: where everything sits.

A layout fixes, on an `h x w` feature map, where the input image is written,
where each unit writes its hidden code (a `code_shape` block), and where each
unit's receptive fields (`N x N` squares given by their top-left corners) lie.
Only the fields move during the search.

Handcrafted layouts (Borgohain et al., Fig. 2; for 3 units on the paper's
`20 x 40` MNIST map with `N = 10` they are exactly the fields of the authors'
code):

- `"flat"` (A1): every unit reads two adjacent `N x N` blocks of the image,
  cycling through the image's adjacent block pairs, vertical and horizontal
  interleaved (3 units on a 20x20 image: left half, top half, right half).
- `"columnar"` (A2): unit 1 reads the centre column of the image (two blocks
  stacked), every later unit reads only the code of the unit before it
  (both fields on that code), a single chain.
- `"pyramidal"` (A3): a binary tree. The first `ceil((K + 1) / 2)` units are
  leaves reading image block pairs (vertical pairs first: left and right half
  for two leaves); every other unit reads the codes of the two oldest units
  not yet read by anyone (3 units: unit 3 reads units 1 and 2).
- `"random"`: each unit reads two adjacent fields (a `2N x N` or `N x 2N`
  rectangle, orientation and position uniform) anywhere on the map, as the
  random topologies of the authors' code.
"""

import math
import numbers

import numpy as np

from keras_grow.layers.autoencoder_unit import _as_pair, field_mask, validate_fields

LAYOUTS = ("flat", "columnar", "pyramidal", "random")
INPUT = "input"


def _positive_pair(value, name):
    pair = _as_pair(value, name)
    if min(pair) < 1:
        raise ValueError(f"{name}={value!r} must be a pair of integers >= 1.")
    return pair


def _overlaps(a, b):
    """Whether rectangles `(row, col, height, width)` share a cell."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside(rect, shape):
    return (
        rect[0] >= 0
        and rect[1] >= 0
        and rect[0] + rect[2] <= shape[0]
        and rect[1] + rect[3] <= shape[1]
    )


class Layout:
    """Where the input, the codes and the receptive fields sit on the feature map.

    Args:
        feature_map: `(h, w)` of the feature map.
        field: side `N` of every square receptive field.
        fields: one entry per unit, each a sequence of `(row, col)` top-left
            corners of that unit's fields (two in the paper).
        code_locations: one `(row, col)` top-left corner per unit where its
            code (a `code_shape` block, row-major) is written.
        code_shape: `(rows, cols)` of a code block; `rows * cols` is the
            number of hidden units.
        input_shape: `(rows, cols)` of the input image.
        input_location: `(row, col)` top-left corner of the image.
        name: a label (`"flat"`, `"random"`, ...).

    Raises `TypeError`/`ValueError` (naming the argument, the value and what
    is allowed) for fields or codes outside the map, codes overlapping each
    other or the image, and a number of fields entries other than the number
    of codes.
    """

    def __init__(
        self,
        feature_map,
        field,
        fields,
        code_locations,
        code_shape,
        input_shape,
        input_location=(0, 0),
        name="custom",
    ):
        self.feature_map = _positive_pair(feature_map, "feature_map")
        if not isinstance(field, numbers.Integral) or isinstance(field, bool):
            raise TypeError(f"field={field!r} must be an integer >= 1.")
        if not 1 <= field <= min(self.feature_map):
            raise ValueError(
                f"field={field!r} must be between 1 and {min(self.feature_map)} "
                f"(the smaller side of the {self.feature_map[0]}x{self.feature_map[1]} map)."
            )
        self.field = int(field)
        self.code_shape = _positive_pair(code_shape, "code_shape")
        self.input_shape = _positive_pair(input_shape, "input_shape")
        self.input_location = _as_pair(input_location, "input_location")
        self.name = str(name)
        if not _inside(self.input_region, self.feature_map):
            raise ValueError(
                f"input_location={input_location!r} with input_shape={self.input_shape!r} "
                f"does not fit in the {self.feature_map[0]}x{self.feature_map[1]} feature map."
            )
        self.code_locations = self._check_codes(code_locations)
        if isinstance(fields, (str, bytes)) or not isinstance(fields, (tuple, list)):
            raise TypeError(f"fields={fields!r} must be a sequence with one entry per unit.")
        if len(fields) != len(self.code_locations):
            raise ValueError(
                f"fields has {len(fields)} entries but there are {len(self.code_locations)} "
                "units (code_locations): give one sequence of field corners per unit."
            )
        self.fields = tuple(
            validate_fields(f, self.feature_map, self.field, name=f"fields[{k}]")
            for k, f in enumerate(fields)
        )

    def _check_codes(self, code_locations):
        if isinstance(code_locations, (str, bytes)) or not isinstance(
            code_locations, (tuple, list)
        ):
            raise TypeError(
                f"code_locations={code_locations!r} must be a sequence of (row, col) corners."
            )
        if len(code_locations) < 1:
            raise ValueError("code_locations is empty: units must be >= 1.")
        h, w = self.feature_map
        ch, cw = self.code_shape
        rects = []
        for k, corner in enumerate(code_locations):
            row, col = _as_pair(corner, f"code_locations[{k}]")
            rect = (row, col, ch, cw)
            if not _inside(rect, self.feature_map):
                raise ValueError(
                    f"code_locations[{k}]={corner!r} puts a {ch}x{cw} code outside the {h}x{w} "
                    f"feature map: allowed rows are 0..{h - ch} and columns 0..{w - cw}."
                )
            if _overlaps(rect, self.input_region):
                raise ValueError(
                    f"code_locations[{k}]={corner!r} overlaps the input image at "
                    f"{self.input_location} of shape {self.input_shape}: codes must lie "
                    "outside the image."
                )
            for j, other in enumerate(rects):
                if _overlaps(rect, other):
                    raise ValueError(
                        f"code_locations[{k}]={corner!r} overlaps code_locations[{j}]="
                        f"{other[:2]!r}: every unit needs its own {ch}x{cw} block."
                    )
            rects.append(rect)
        return tuple(r[:2] for r in rects)

    # -- geometry -----------------------------------------------------------------
    @property
    def units(self):
        return len(self.code_locations)

    @property
    def hidden(self):
        return self.code_shape[0] * self.code_shape[1]

    @property
    def input_region(self):
        return (*self.input_location, *self.input_shape)

    def code_region(self, k):
        """`(row, col, rows, cols)` of unit `k`'s code block."""
        return (*self.code_locations[k], *self.code_shape)

    def field_mask(self, k):
        """Indicator matrix `delta_k` (float32, `(h, w)`) of unit `k`'s fields."""
        return field_mask(self.feature_map, self.fields[k], self.field)

    def replace_field(self, unit, index, corner):
        """A copy with field `index` of unit `unit` moved to `corner`."""
        fields = [list(f) for f in self.fields]
        fields[unit][index] = tuple(corner)
        return self.with_fields(fields)

    def with_fields(self, fields):
        """A copy with other fields (same map, input and codes)."""
        return Layout(
            self.feature_map,
            self.field,
            fields,
            self.code_locations,
            self.code_shape,
            self.input_shape,
            self.input_location,
            self.name,
        )

    def sources(self, k):
        """What unit `k` reads: `"input"` and/or indices of units whose codes its fields touch."""
        found = []
        rects = [(r, c, self.field, self.field) for r, c in self.fields[k]]
        if any(_overlaps(r, self.input_region) for r in rects):
            found.append(INPUT)
        for j in range(self.units):
            if any(_overlaps(r, self.code_region(j)) for r in rects):
                found.append(j)
        return found

    def levels(self):
        """Hierarchy level of every unit: 1 + the highest level it reads (image = 0).

        A unit reading only empty cells has level 1. Levels in a cycle are
        capped at the number of units.
        """
        levels = [1] * self.units
        for _ in range(self.units):
            levels = [
                min(
                    self.units,
                    1 + max([0] + [levels[s] for s in self.sources(k) if s != INPUT]),
                )
                for k in range(self.units)
            ]
        return levels

    def get_config(self):
        return {
            "feature_map": list(self.feature_map),
            "field": self.field,
            "fields": [[list(c) for c in f] for f in self.fields],
            "code_locations": [list(c) for c in self.code_locations],
            "code_shape": list(self.code_shape),
            "input_shape": list(self.input_shape),
            "input_location": list(self.input_location),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, Layout) and self.get_config() == other.get_config()

    def __repr__(self):
        return f"Layout(name={self.name!r}, fields={[list(f) for f in self.fields]})"


# -- building layouts ---------------------------------------------------------------
def square_code_shape(hidden):
    """`(s, s)` when `hidden == s * s`, else a `ValueError` asking for `code_shape`."""
    if not isinstance(hidden, numbers.Integral) or isinstance(hidden, bool):
        raise TypeError(f"hidden={hidden!r} must be an integer >= 1.")
    if hidden < 1:
        raise ValueError(f"hidden={hidden!r} must be an integer >= 1.")
    side = math.isqrt(int(hidden))
    if side * side != hidden:
        raise ValueError(
            f"hidden={hidden!r} is not a perfect square: pass code_shape=(rows, cols) "
            "with rows * cols == hidden."
        )
    return side, side


def default_code_locations(feature_map, input_shape, input_location, code_shape, units):
    """Code blocks tiled column by column (top to bottom) right of / around the image.

    For the paper's 20x40 map, a 20x20 image at (0, 0) and 10x10 codes this
    gives (0, 20), (10, 20), (0, 30), (10, 30), ...
    """
    h, w = feature_map
    ch, cw = code_shape
    image = (*input_location, *input_shape)
    spots = [
        (r, c)
        for c in range(0, w - cw + 1, cw)
        for r in range(0, h - ch + 1, ch)
        if not _overlaps((r, c, ch, cw), image)
    ]
    if len(spots) < units:
        raise ValueError(
            f"units={units!r} codes of shape {ch}x{cw} do not fit next to the "
            f"{input_shape[0]}x{input_shape[1]} image on the {h}x{w} feature_map "
            f"({len(spots)} free blocks): enlarge feature_map or give code_locations."
        )
    return spots[:units]


def _image_pairs(layout_args):
    """Adjacent N x N block pairs of the image: (vertical pairs, horizontal pairs)."""
    (r0, c0), (rows, cols), n = (
        layout_args["input_location"],
        layout_args["input_shape"],
        layout_args["field"],
    )
    nr, nc = max(rows // n, 1), max(cols // n, 1)
    vertical = [
        ((r0 + i * n, c0 + j * n), (r0 + (i + 1) * n, c0 + j * n))
        for j in range(nc)
        for i in range(nr - 1)
    ]
    horizontal = [
        ((r0 + i * n, c0 + j * n), (r0 + i * n, c0 + (j + 1) * n))
        for i in range(nr)
        for j in range(nc - 1)
    ]
    if not vertical and not horizontal:  # image no larger than one block
        vertical = [((r0, c0), (r0, c0))]
    return vertical, horizontal


def _interleave(a, b):
    out = []
    for i in range(max(len(a), len(b))):
        out.extend(x[i] for x in (a, b) if i < len(x))
    return out


def _field_on_code(args, k):
    """Corner of an N x N field centred on unit k's code block, clipped to the map."""
    (h, w), n = args["feature_map"], args["field"]
    (r, c), (ch, cw) = args["code_locations"][k], args["code_shape"]
    row = min(max(r + ch // 2 - n // 2, 0), h - n)
    col = min(max(c + cw // 2 - n // 2, 0), w - n)
    return row, col


def _flat(args):
    pairs = _interleave(*_image_pairs(args))
    return [pairs[k % len(pairs)] for k in range(args["units"])]


def _columnar(args):
    (r0, c0), (rows, cols), n = args["input_location"], args["input_shape"], args["field"]
    (h, w) = args["feature_map"]
    col = min(max(c0 + (cols - n) // 2, 0), w - n)
    if rows >= 2 * n:
        top = r0 + (rows - 2 * n) // 2
        first = ((top, col), (top + n, col))
    else:
        row = min(max(r0 + (rows - n) // 2, 0), h - n)
        first = ((row, col), (row, col))
    fields = [first]
    for k in range(1, args["units"]):
        corner = _field_on_code(args, k - 1)
        fields.append((corner, corner))
    return fields


def _pyramidal(args):
    units = args["units"]
    vertical, horizontal = _image_pairs(args)
    pairs = vertical + horizontal
    leaves = (units + 2) // 2
    fields = [pairs[k % len(pairs)] for k in range(leaves)]
    unread = list(range(leaves))
    for k in range(leaves, units):
        a, b = unread.pop(0), unread.pop(0)
        fields.append((_field_on_code(args, a), _field_on_code(args, b)))
        unread.append(k)
    return fields


def _random(args, rng):
    (h, w), n = args["feature_map"], args["field"]
    fields = []
    for _ in range(args["units"]):
        options = [o for o, side in (("vertical", h), ("horizontal", w)) if 2 * n <= side]
        if not options:
            first = (int(rng.integers(0, h - n + 1)), int(rng.integers(0, w - n + 1)))
            second = (int(rng.integers(0, h - n + 1)), int(rng.integers(0, w - n + 1)))
        elif options[int(rng.integers(0, len(options)))] == "vertical":
            row, col = int(rng.integers(0, h - 2 * n + 1)), int(rng.integers(0, w - n + 1))
            first, second = (row, col), (row + n, col)
        else:
            row, col = int(rng.integers(0, h - n + 1)), int(rng.integers(0, w - 2 * n + 1))
            first, second = (row, col), (row, col + n)
        fields.append((first, second))
    return fields


_BUILDERS = {"flat": _flat, "columnar": _columnar, "pyramidal": _pyramidal}


def make_layout(
    layout="random",
    *,
    units=3,
    feature_map=(20, 40),
    hidden=100,
    field=10,
    input_shape=None,
    input_location=(0, 0),
    code_shape=None,
    code_locations=None,
    seed=None,
):
    """Build a `Layout` by name, from explicit fields, or pass one through.

    Args:
        layout: `"flat"`, `"columnar"`, `"pyramidal"`, `"random"`, a `Layout`
            (returned unchanged), or explicit fields: one sequence of `(row,
            col)` corners per unit.
        units: number of units K, int >= 1.
        feature_map: `(h, w)`.
        hidden: hidden units per unit (code length).
        field: side N of the square receptive fields.
        input_shape: `(rows, cols)` of the image; default `(h, h)` (the
            paper's square image on the left of the map).
        input_location: top-left corner of the image.
        code_shape: shape of a code block; default square (`hidden` must be a
            perfect square).
        code_locations: corners of the code blocks; default
            `default_code_locations(...)`.
        seed: seed of the `"random"` layout.

    Returns:
        A `Layout`.
    """
    if isinstance(layout, Layout):
        return layout
    if not isinstance(units, numbers.Integral) or isinstance(units, bool):
        raise TypeError(f"units={units!r} must be an integer >= 1.")
    if units < 1:
        raise ValueError(f"units={units!r} must be an integer >= 1.")
    feature_map = _positive_pair(feature_map, "feature_map")
    if input_shape is None:
        side = min(feature_map)
        input_shape = (side, side)
    code_shape = square_code_shape(hidden) if code_shape is None else code_shape
    code_shape = _positive_pair(code_shape, "code_shape")
    if code_shape[0] * code_shape[1] != hidden:
        raise ValueError(
            f"code_shape={code_shape!r} holds {code_shape[0] * code_shape[1]} cells but "
            f"hidden={hidden!r}: rows * cols must equal hidden."
        )
    input_shape = _positive_pair(input_shape, "input_shape")
    input_location = _as_pair(input_location, "input_location")
    if code_locations is None:
        code_locations = default_code_locations(
            feature_map, input_shape, input_location, code_shape, units
        )
    elif len(code_locations) != units:
        raise ValueError(
            f"code_locations has {len(code_locations)} entries but units={units}: give one "
            "(row, col) corner per unit."
        )
    args = dict(
        units=int(units),
        feature_map=feature_map,
        field=field,
        input_shape=input_shape,
        input_location=input_location,
        code_shape=code_shape,
        code_locations=[_as_pair(c, f"code_locations[{i}]") for i, c in enumerate(code_locations)],
    )
    if isinstance(layout, str):
        if layout not in LAYOUTS:
            raise ValueError(
                f"layout={layout!r} is unknown: use one of {LAYOUTS}, a Layout or fields."
            )
        if not isinstance(field, numbers.Integral) or isinstance(field, bool):
            raise TypeError(f"field={field!r} must be an integer >= 1.")
        if not 1 <= field <= min(feature_map):
            raise ValueError(
                f"field={field!r} must be between 1 and {min(feature_map)} (the smaller "
                f"side of the {feature_map[0]}x{feature_map[1]} feature_map)."
            )
        if layout == "random":
            fields = _random(args, np.random.default_rng(seed))
        else:
            fields = _BUILDERS[layout](args)
        name = layout
    elif isinstance(layout, (tuple, list)):
        fields, name = layout, "custom"
    else:
        raise TypeError(
            f"layout={layout!r} must be one of {LAYOUTS}, a Layout, or a sequence of fields."
        )
    return Layout(
        feature_map,
        field,
        fields,
        args["code_locations"],
        code_shape,
        input_shape,
        input_location,
        name=name,
    )
