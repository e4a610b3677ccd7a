"""Finite symmetry groups of the square pixel grid: C1, C2, C4, D1, D2, D4.

These are the groups of Maile's thesis, chapter 4 (and of the p4 / p4m group
convolutions of Cohen & Welling, 2016): every element maps the pixel grid onto
itself exactly, so no interpolation is ever needed.

Elements. `D_n` (n in {1, 2, 4}) has the elements `(m, r)` with `m` in {0, 1}
(mirror) and `r` in {0, ..., n - 1} (rotation by `r * 360 / n` degrees); the
element `(m, r)` has index `m * n + r`. `C_n` is `D_n` without mirrors: its
elements are `(0, r)` with index `r`. As a transformation, `(m, r)` first
mirrors (if `m == 1`) and then rotates:

    (m, r) = R^r F^m

where `F` is the mirror that swaps left and right (it reverses the column
axis, i.e. it reflects across the vertical axis) and `R` is the
counter-clockwise rotation by `360 / n` degrees as an image is displayed with
row 0 at the top (`numpy.rot90` on the (row, column) axes). Since
`F R F = R^-1`, the product is

    (m1, r1) . (m2, r2) = (m1 xor m2, r1 + (-1)^m1 * r2 mod n).

Subgroups. All six groups live inside D4 through `(m, r) -> (m, r * 4 / n)`,
which fixes which subgroup is meant: C2 = {0, 180 degrees}, D1 = {identity,
F}, D2 = {0, 180 degrees, F, F rotated by 180 degrees}. So C1 <= C2 <= C4 <= D4,
C1 <= D1 <= D2 <= D4 and C2 <= D2, while C4 is not a subgroup of D2 and C2, D1
are not comparable. Only these six named groups are modelled (D4 has other
subgroups, e.g. the diagonal mirrors, which are not offered).

Actions. On an image or kernel `x` (a function on the grid),
`(g . x)(y) = x(g^-1 y)`: the array is mirrored and rotated as a picture,
about its centre (`act_on_grid`). On a feature map over the group (the
regular representation), `(g . f)(h) = f(g^-1 h)`: the |G| entries of every
field are permuted (`regular_permutation`, `act_on_channels`). A group
feature map in the library's layout (NHWC, channel `c * |G| + g`) transforms
with both at once (`act_on_feature_map`).

Example:

>>> from keras_grow import groups
>>> d4 = groups.get("D4")
>>> d4.order, d4.element(5)
(8, (1, 1))
>>> groups.get("C4").is_subgroup_of("D2")
False
"""

import functools

import numpy as np
from keras import ops

GROUP_NAMES = ("C1", "C2", "C4", "D1", "D2", "D4")


def get(name):
    """Return the `Group` called `name` (one of `GROUP_NAMES`).

    A `Group` instance is returned unchanged, so every function of the library
    accepts either a name or a group.

    Args:
        name: `"C1"`, `"C2"`, `"C4"`, `"D1"`, `"D2"`, `"D4"` or a `Group`.

    Returns:
        The (shared, immutable) `Group` object.

    Raises:
        ValueError: if `name` is not one of the allowed names.
    """
    if isinstance(name, Group):
        return name
    if not isinstance(name, str) or name not in GROUP_NAMES:
        raise ValueError(
            f"Unknown group name: {name!r}. Allowed names: {', '.join(map(repr, GROUP_NAMES))}."
        )
    return _build_group(name)


@functools.cache
def _build_group(name):
    return Group(name, _token=_CONSTRUCTION_TOKEN)


_CONSTRUCTION_TOKEN = object()


class Group:
    """A finite rotation/reflection group of the square pixel grid.

    Do not instantiate directly; use `keras_grow.groups.get(name)`. The module
    docstring fixes the element order, the product and the actions.

    Attributes:
        name: `"C1"`, `"C2"`, `"C4"`, `"D1"`, `"D2"` or `"D4"`.
        rotations: `n`, the number of rotations (rotation step `360 / n` degrees).
        has_mirror: whether the group contains the mirror `F`.
        order: the number of elements `|G|`.
        elements: tuple of `(m, r)` pairs, position = element index.
        identity: index of the neutral element (always 0).
        product_table: int array, `product_table[a, b]` = index of `a . b`.
        inverses: int array, `inverses[a]` = index of `a^-1`.
    """

    def __init__(self, name, _token=None):
        if _token is not _CONSTRUCTION_TOKEN:
            raise TypeError("Create groups with keras_grow.groups.get(name), not Group(...).")
        self.name = name
        self.rotations = int(name[1:])
        self.has_mirror = name[0] == "D"
        mirrors = 2 if self.has_mirror else 1
        self.order = mirrors * self.rotations
        self.elements = tuple((m, r) for m in range(mirrors) for r in range(self.rotations))
        self.identity = 0
        n = self.rotations
        table = np.empty((self.order, self.order), dtype=np.int64)
        for a, (m1, r1) in enumerate(self.elements):
            for b, (m2, r2) in enumerate(self.elements):
                table[a, b] = self.index((m1 ^ m2, (r1 + (-1) ** m1 * r2) % n))
        self.product_table = table
        self.inverses = np.array([int(np.flatnonzero(row == 0)[0]) for row in table])
        self.product_table.flags.writeable = False
        self.inverses.flags.writeable = False

    # ------------------------------------------------------------------ elements
    def index(self, element):
        """Index of the element `(m, r)` (an int index is returned unchanged)."""
        if isinstance(element, (int, np.integer)):
            if not 0 <= element < self.order:
                raise ValueError(
                    f"Element index {element} is out of range for {self.name}; "
                    f"allowed: 0 to {self.order - 1}."
                )
            return int(element)
        try:
            m, r = (int(v) for v in element)
        except (TypeError, ValueError):
            raise ValueError(
                f"Expected an element index or an (m, r) pair for {self.name}; "
                f"received {element!r}."
            ) from None
        if (m, r) not in self.elements:
            raise ValueError(
                f"Element {element!r} is not in {self.name}; allowed: {list(self.elements)}."
            )
        return m * self.rotations + r

    def element(self, index):
        """The `(m, r)` pair of the element with the given index."""
        return self.elements[self.index(index)]

    def multiply(self, a, b):
        """Index of the product `a . b` (first apply `b`, then `a`)."""
        return int(self.product_table[self.index(a), self.index(b)])

    def inverse(self, a):
        """Index of `a^-1`."""
        return int(self.inverses[self.index(a)])

    def quarter_turns(self, a):
        """Counter-clockwise quarter turns of element `a` (its rotation part)."""
        _, r = self.element(a)
        return r * 4 // self.rotations

    def is_mirrored(self, a):
        """Whether element `a` contains the mirror."""
        return self.element(a)[0] == 1

    def _in_d4(self):
        """Indices of this group's elements inside D4 (the common ambient group)."""
        return tuple(m * 4 + r * 4 // self.rotations for m, r in self.elements)

    # ----------------------------------------------------------------- subgroups
    def is_subgroup_of(self, other):
        """Whether this group is a subgroup of `other` (a name or a `Group`)."""
        return set(self._in_d4()) <= set(get(other)._in_d4())

    def subgroups(self):
        """The named groups that are subgroups of this one (itself included).

        Returned in `GROUP_NAMES` order, so C1 comes first.
        """
        return [get(n) for n in GROUP_NAMES if get(n).is_subgroup_of(self)]

    def _check_subgroup(self, subgroup, argument="subgroup"):
        sub = get(subgroup)
        if not sub.is_subgroup_of(self):
            allowed = ", ".join(g.name for g in self.subgroups())
            raise ValueError(
                f"`{argument}`={sub.name!r} is not a subgroup of {self.name}; allowed: {allowed}."
            )
        return sub

    def embedding(self, subgroup):
        """Indices in this group of the elements of `subgroup`, in the subgroup's order."""
        sub = self._check_subgroup(subgroup)
        mine = self._in_d4()
        return np.array([mine.index(key) for key in sub._in_d4()], dtype=np.int64)

    def coset_representatives(self, subgroup):
        """A system of representatives `R` of the right cosets `G' r` of `subgroup` G'.

        Every element `g` is uniquely `g' . t` with `g'` in G' and `t` in `R`
        (eq. 4-10 of Maile's thesis, ch. 4). The representative of each coset is
        its element with the smallest index, and cosets are listed in order of
        their representatives, so the identity comes first.

        Returns:
            Int array of `|G| / |G'|` element indices of this group.
        """
        sub = self.embedding(subgroup)
        reps, covered = [], set()
        for g in range(self.order):
            if g not in covered:
                reps.append(g)
                covered.update(int(self.product_table[h, g]) for h in sub)
        return np.array(reps, dtype=np.int64)

    def coset_decomposition(self, subgroup):
        """Write every element as `g = g' . t` (g' in `subgroup`, t a coset representative).

        Returns:
            `(sub_index, rep_position)`: int arrays of length `|G|`; for element
            `g`, `sub_index[g]` is the index of `g'` *in the subgroup* and
            `rep_position[g]` the position of `t` in `coset_representatives`.
        """
        sub = self.embedding(subgroup)
        reps = self.coset_representatives(subgroup)
        sub_index = np.empty(self.order, dtype=np.int64)
        rep_position = np.empty(self.order, dtype=np.int64)
        for j, t in enumerate(reps):
            for i, h in enumerate(sub):
                g = self.product_table[h, t]
                sub_index[g], rep_position[g] = i, j
        return sub_index, rep_position

    def subgroup_channel_order(self, subgroup, fields=1):
        """Channel order that reads a feature map of this group as one of `subgroup`.

        This is eq. 4 of Maile's thesis, ch. 4: the field `c` of a G-feature map
        becomes `|G:G'|` fields `(c, t)` of G' (one per coset representative
        `t`), with `f~_(c,t)(g') = f_c(g' . t)`. In the channel layout
        (`c * |G| + g` before, `(c * |R| + t) * |G'| + g'` after) it is a pure
        permutation: for `x` with `fields * |G|` channels, `x[..., order]` is the
        same tensor in the layout of `subgroup`, with `fields * |G:G'|` fields.

        Args:
            subgroup: a subgroup of this group (name or `Group`).
            fields: number of fields of this group in the tensor.

        Returns:
            Int array `order` of length `fields * |G|`.
        """
        sub = get(subgroup)
        members = self.embedding(sub)
        reps = self.coset_representatives(sub)
        within = np.array([self.product_table[h, t] for t in reps for h in members])
        return (np.arange(fields)[:, None] * self.order + within[None, :]).reshape(-1)

    # ------------------------------------------------------------------- actions
    def regular_permutation(self, a):
        """The permutation of the |G| axis induced by element `a` (regular representation).

        `(a . f)(h) = f(a^-1 h)`, so `transformed = f[..., P]` with
        `P[h] = index(a^-1 . h)`.
        """
        return self.product_table[self.inverse(a)].copy()

    def act_on_grid(self, a, x, axes=(0, 1)):
        """Transform a NumPy image/kernel on its two spatial `axes` by element `a`.

        The array is first mirrored (column axis `axes[1]` reversed) if `a`
        contains the mirror, then rotated by `quarter_turns(a)` counter-clockwise
        quarter turns (`numpy.rot90` from `axes[0]` towards `axes[1]`). Rotations
        by 90 degrees need the two axes to have the same length.
        """
        return _act_on_grid(np, self, a, x, axes)

    def act_on_grid_ops(self, a, x, axes=(0, 1)):
        """`act_on_grid` with `keras.ops` (works on backend tensors, differentiable)."""
        return _act_on_grid(ops, self, a, x, axes)

    def act_on_channels(self, a, x, axis=-1):
        """Permute the |G| channels of every field (channel `c * |G| + g`) by element `a`."""
        return np.take(x, self._channel_permutation(a, np.shape(x)[axis]), axis=axis)

    def act_on_channels_ops(self, a, x, axis=-1):
        """`act_on_channels` with `keras.ops`."""
        return ops.take(x, self._channel_permutation(a, ops.shape(x)[axis]), axis=axis)

    def act_on_feature_map(self, a, x, spatial_axes=(1, 2), channel_axis=-1):
        """Act on a group feature map (NHWC by default): move pixels and permute channels."""
        return self.act_on_channels(a, self.act_on_grid(a, x, spatial_axes), channel_axis)

    def act_on_feature_map_ops(self, a, x, spatial_axes=(1, 2), channel_axis=-1):
        """`act_on_feature_map` with `keras.ops`."""
        moved = self.act_on_grid_ops(a, x, spatial_axes)
        return self.act_on_channels_ops(a, moved, channel_axis)

    def _channel_permutation(self, a, channels):
        if channels % self.order:
            raise ValueError(
                f"A {self.name} feature map needs a multiple of |G|={self.order} channels; "
                f"received {channels} channels."
            )
        fields = channels // self.order
        perm = self.regular_permutation(a)
        return (np.arange(fields)[:, None] * self.order + perm[None, :]).reshape(-1)

    def __repr__(self):
        return f"Group({self.name!r}, order={self.order})"

    def __reduce__(self):
        return (get, (self.name,))


def _act_on_grid(xp, group, a, x, axes):
    a = group.index(a)
    if group.is_mirrored(a):
        x = xp.flip(x, axis=axes[1])
    turns = group.quarter_turns(a)
    if turns:
        x = xp.rot90(x, k=turns, axes=tuple(axes))
    return x


def smallest_common_supergroup(names):
    """The smallest named group that contains every group in `names`.

    Exists for every collection of the six groups (they all live in D4).
    """
    members = [get(n) for n in names]
    if not members:
        raise ValueError("`names` must contain at least one group; received an empty sequence.")
    candidates = [get(n) for n in GROUP_NAMES if all(g.is_subgroup_of(n) for g in members)]
    return min(candidates, key=lambda g: g.order)


def grid_is_symmetric(size, kernel_size, strides=1, padding="valid"):
    """Whether a convolution/pooling samples an axis symmetrically about its centre.

    A convolution (or pooling) commutes with rotations and mirrors of the grid
    only if the positions it samples are mapped onto themselves. Along one axis
    of length `size`, output `i` reads the window centred at
    `c_i = i * strides - pad_before + (kernel_size - 1) / 2`; the grid is
    symmetric when `c_0 + c_last == size - 1`. With TensorFlow/Keras padding
    rules this means:

    - `padding="valid"`: `(size - kernel_size) % strides == 0`;
      e.g. 9x9, kernel 3, stride 2 -> 4x4 samples centres 1, 3, 5, 7 (symmetric),
      while 10x10, kernel 3, stride 2 does not.
    - `padding="same"`: always for stride 1 with an odd kernel; for stride `s`,
      e.g. odd sizes with `s = 2` and an odd kernel (9 -> 5 samples 0, 2, ..., 8),
      but not even sizes (10 -> 5 samples 1, 3, ..., 9).

    90-degree rotations additionally need square inputs (equal height and width).

    Args:
        size: length of the spatial axis (int).
        kernel_size: window length along the axis.
        strides: stride along the axis.
        padding: `"valid"` or `"same"`.

    Returns:
        bool.
    """
    if padding == "valid":
        out = (size - kernel_size) // strides + 1
        pad_before = 0
    elif padding == "same":
        out = -(-size // strides)
        pad_before = max((out - 1) * strides + kernel_size - size, 0) // 2
    else:
        raise ValueError(f"`padding` must be 'valid' or 'same'; received {padding!r}.")
    if out < 1:
        return False
    first = -pad_before + (kernel_size - 1) / 2
    last = first + (out - 1) * strides
    return bool(first + last == size - 1)
