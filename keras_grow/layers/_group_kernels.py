"""Kernel expansion of group convolutions as one gather (private helpers).

A regular group convolution is a plain convolution whose kernel is built from
a smaller parameter tensor: every entry of the expanded `(k, k, C_in, C_out)`
kernel is a copy of exactly one parameter (eqs. 2-3 of Maile's thesis, ch. 4,
with the kernel transformation of section 4.3.1). So the whole expansion -
spatial rotation/mirroring of the kernel, permutation of the input group axis,
stacking over output group elements, any channel re-layout - is one integer
index map computed once with NumPy, and the forward pass is
`ops.take(flat_parameters, index_map)` followed by one `ops.conv`.

Parameter shapes (the trailing axis is always the output field):

- lifting: `(k, k, C_in, F)` - input channels are plain (no group axis);
- group:   `(k, k, C_f, |G|, F)` - `C_f` input fields of G, `F` output fields.

Layouts. A tensor "in the layout of A" has channels `c * |A| + a`. A layer
equivariant to G <= A reads such a tensor as G-fields through the canonical
right-coset decomposition `a = g . t` (t a representative of G\\A): the
A-field `c` holds the G-fields `(c, t)` (eq. 4). Outputs are written back the
same way. The G-action on the tensor is then the restriction of A's regular
action, so layers of different subgroups of A can be chained and summed.
"""

import numpy as np

from keras_grow import groups


def grid_sources(group, kernel_size):
    """`(|G|, k*k)` int array: flat source position of every pixel of the transformed kernel.

    `(g . psi)[p] = psi[grid_sources[g, p]]`, i.e. the source is `g^-1 p`.
    """
    base = np.arange(kernel_size * kernel_size).reshape(kernel_size, kernel_size)
    return np.stack([group.act_on_grid(g, base).reshape(-1) for g in range(group.order)])


def read_layout(layout, group, channels):
    """Which G-field and G-element every channel of an A-layout tensor holds.

    Args:
        layout: the group A of the tensor's layout (`channels` multiple of |A|).
        group: the group G <= A the reader is equivariant to.
        channels: number of channels of the tensor.

    Returns:
        `(field, element)`: int arrays of length `channels`.
    """
    a_fields = channels // layout.order
    sub_index, rep_position = layout.coset_decomposition(group)
    reps = len(layout.coset_representatives(group))
    channel_field = np.arange(a_fields)[:, None] * reps + rep_position[None, :]
    channel_element = np.broadcast_to(sub_index[None, :], (a_fields, layout.order))
    return channel_field.reshape(-1), channel_element.reshape(-1)


def kernel_index(group, kernel_size, in_channels, out_channels, input_layout, output_layout):
    """Index map of the expanded kernel into the flattened parameter tensor.

    Args:
        group: the equivariance group G of the layer.
        kernel_size: odd int `k` (any int for C1).
        in_channels: channels of the input tensor.
        out_channels: channels of the output tensor (`F * |G|`).
        input_layout: group A_in >= G of the input layout, or `None` for plain
            (lifting) input channels.
        output_layout: group A_out >= G of the output layout.

    Returns:
        `(index, parameter_shape)`: int32 array of shape
        `(k, k, in_channels, out_channels)` and the shape of the parameters.
    """
    k = kernel_size
    sources = grid_sources(group, k)
    out_field, out_element = read_layout(output_layout, group, out_channels)
    fields_out = out_channels // group.order
    q = sources[out_element][None, :, :].transpose(2, 0, 1)  # (k*k, 1, C_out): g_o^-1 p
    d = out_field[None, None, :]
    if input_layout is None:
        c = np.arange(in_channels)[None, :, None]
        index = (q * in_channels + c) * fields_out + d
        shape = (k, k, in_channels, fields_out)
    else:
        in_field, in_element = read_layout(input_layout, group, in_channels)
        fields_in = in_channels // group.order
        h = group.product_table[group.inverses[out_element][None, :], in_element[:, None]]
        c = in_field[:, None]
        index = ((q * fields_in + c[None]) * group.order + h[None]) * fields_out + d
        shape = (k, k, fields_in, group.order, fields_out)
    return index.reshape(k, k, in_channels, out_channels).astype(np.int32), shape


def bias_index(group, out_channels, output_layout):
    """Index of the field bias used by every output channel (one bias per G-field)."""
    field, _ = read_layout(output_layout, group, out_channels)
    return field.astype(np.int32)


def solve_parameters(index, target, size):
    """Parameters `theta` (length `size`) with `theta[index] == target` exactly.

    Used by the relaxation morphism: eqs. 6-10 guarantee that the relaxed
    layer can represent the original kernel; this reads the relaxed
    parameters off the original expanded kernel and checks the claim.
    """
    theta = np.zeros(size, dtype=target.dtype)
    theta[index.reshape(-1)] = target.reshape(-1)
    covered = np.bincount(index.reshape(-1), minlength=size) > 0
    if not covered.all() or not np.array_equal(theta[index], target):
        raise RuntimeError(
            "The target kernel is not representable by the relaxed layer; this is a bug in "
            "keras_grow's relaxation morphism, please report it."
        )
    return theta


def check_group_kernel_size(group, kernel_size, argument="kernel_size"):
    """Validate and normalise `kernel_size` for a layer equivariant to `group`.

    C1 layers accept any `int` or `(h, w)` pair. All other groups rotate or
    mirror the kernel about its centre pixel, so they need a square kernel of
    odd size (a mirror of an even kernel moves its centre by half a pixel).

    Returns:
        The kernel size as an `(h, w)` tuple.
    """
    if isinstance(kernel_size, (int, np.integer)):
        size = (int(kernel_size), int(kernel_size))
    else:
        try:
            size = tuple(int(v) for v in kernel_size)
        except TypeError:
            raise ValueError(
                f"`{argument}` must be an int or a pair of ints; received {kernel_size!r}."
            ) from None
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            f"`{argument}` must be a positive int or a pair of positive ints; "
            f"received {kernel_size!r}."
        )
    group = groups.get(group)
    if group.order > 1 and (size[0] != size[1] or size[0] % 2 == 0):
        raise ValueError(
            f"`{argument}` must be a square odd size for group {group.name!r} (its elements "
            f"rotate/mirror the kernel about the centre pixel); received {kernel_size!r}. "
            "Use e.g. 3, 5 or 7."
        )
    return size


def normalize_strides(strides):
    """`strides` as an `(h, w)` tuple of positive ints."""
    if isinstance(strides, (int, np.integer)):
        strides = (int(strides), int(strides))
    strides = tuple(int(s) for s in strides)
    if len(strides) != 2 or min(strides) < 1:
        raise ValueError(f"`strides` must be a positive int or pair; received {strides!r}.")
    return strides


def normalize_padding(padding):
    """`padding` lower-cased, one of `"valid"`, `"same"`."""
    value = str(padding).lower()
    if value not in ("valid", "same"):
        raise ValueError(f"`padding` must be 'valid' or 'same'; received {padding!r}.")
    return value


def conv_output_length(size, kernel, stride, padding):
    """Output length of a convolution along one axis (`None` stays `None`)."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return max((size - kernel) // stride + 1, 0)


def check_layout(layout, group, argument):
    """`layout` as a `Group` that contains `group`; `None` means `group` itself."""
    if layout is None:
        return group
    layout = groups.get(layout)
    if not group.is_subgroup_of(layout):
        supers = [n for n in groups.GROUP_NAMES if group.is_subgroup_of(n)]
        raise ValueError(
            f"`{argument}`={layout.name!r} must contain the layer's group {group.name!r}; "
            f"allowed: {', '.join(supers)}."
        )
    return layout


def expanded_fan_initializer(initializer, expanded_shape):
    """Wrap `initializer` so it draws with the fans of the expanded Conv2D kernel.

    Keras' variance-scaling initializers compute fans from the shape they are
    given; a group kernel's parameter shape would give the wrong fans. The
    wrapper samples the equivalent expanded kernel and keeps the first entries
    (samples are i.i.d., so any subset has the right distribution).
    """

    def initialize(shape, dtype=None):
        from keras import ops

        sample = initializer(expanded_shape, dtype=dtype)
        size = int(np.prod(shape))
        return ops.reshape(ops.reshape(sample, (-1,))[:size], shape)

    return initialize
