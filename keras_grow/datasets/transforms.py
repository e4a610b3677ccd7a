"""Transformations that turn an image dataset into a harder variant."""

import numbers

import numpy as np

from keras_grow.datasets._dtypes import FEATURE_DTYPE
from keras_grow.datasets._validation import check_same_length, check_seed

_CHUNK = 1024  # images rotated at once, to bound memory on large datasets


def rotated(x, y, seed=0, angles=None, return_angles=False):
    """Rotates every image by its own angle, as in rotated MNIST.

    Each image turns about its centre by an angle in degrees (counter-clockwise
    as displayed, row 0 at the top, like `np.rot90`), drawn uniformly from
    [0, 360) unless `angles` fixes it. Pixels are resampled bilinearly; parts of
    the output that come from outside the input are filled with zeros. Shapes
    are preserved, so corners of the input are cut off. Labels are returned
    unchanged (as a NumPy array). The same `seed` always draws the same
    angles.

    Reference:
    - [Larochelle et al., 2007](https://doi.org/10.1145/1273496.1273556)
      introduced MNIST-rot.

    Args:
        x: images of shape `(n, height, width, channels)`, any real dtype.
        y: labels (or any per-sample array) of length `n`, or `None`.
        seed: integer >= 0 that fixes the random angles; unused when `angles`
            is given.
        angles: `None` to draw random angles, one number to rotate all images
            alike, or an array of `n` angles in degrees.
        return_angles: if `True`, also return the angles used.

    Returns:
        `(x_rotated, y)`, or `(x_rotated, y, angles)` with `return_angles=True`.

        **`x_rotated`**: array shaped like `x`; `float32`, or `x.dtype` when
        that is a floating type.

        **`angles`**: `float64` array of shape `(n,)`, in degrees.

    Example:

    ```python
    (x_train, y_train), _ = keras_grow.datasets.mnist_5k()
    x_rot, y_rot, angles = keras_grow.datasets.rotated(x_train, y_train, return_angles=True)
    ```
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(
            f"x has shape {x.shape} (rank {x.ndim}); expected rank 4, "
            f"(n, height, width, channels). Add a channel axis with x[..., None]."
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"x has dtype {x.dtype}; expected integer or floating images.")
    if y is not None:
        y = np.asarray(y)
        check_same_length("x", x, "y", y)
    angles = _resolve_angles(angles, len(x), seed)

    out_dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else FEATURE_DTYPE
    result = np.empty(x.shape, dtype=out_dtype)
    for start in range(0, len(x), _CHUNK):
        stop = start + _CHUNK
        result[start:stop] = _rotate_bilinear(x[start:stop], angles[start:stop])
    if return_angles:
        return result, y, angles
    return result, y


def _resolve_angles(angles, n, seed):
    if angles is None:
        rng = np.random.default_rng(check_seed(seed))
        return rng.uniform(0.0, 360.0, size=n)
    if isinstance(angles, numbers.Real) and not isinstance(angles, bool):
        return np.full(n, float(angles))
    values = np.asarray(angles, dtype=np.float64)
    if values.shape != (n,):
        raise ValueError(
            f"angles has shape {values.shape}; expected None, one number or shape ({n},) "
            f"(one angle per image)."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("angles contains non-finite values; expected finite degrees.")
    return values


def _rotate_bilinear(images, angles):
    """Rotate a batch `(n, h, w, c)` counter-clockwise by `angles` degrees."""
    n, height, width, channels = images.shape
    theta = np.deg2rad(angles)
    # Rounding makes multiples of 90 degrees exact (cos(pi/2) is 6e-17, not 0).
    cos = np.round(np.cos(theta), 12)[:, None, None]
    sin = np.round(np.sin(theta), 12)[:, None, None]
    centre_row, centre_col = (height - 1) / 2.0, (width - 1) / 2.0
    rows, cols = np.meshgrid(
        np.arange(height) - centre_row, np.arange(width) - centre_col, indexing="ij"
    )
    # Inverse map: the output pixel at (row, col) reads the input at these coordinates.
    source_row = cos * rows + sin * cols + centre_row
    source_col = cos * cols - sin * rows + centre_col

    # Pad one ring of zeros so that neighbours just outside the image read as 0.
    padded = np.zeros((n, height + 2, width + 2, channels), dtype=np.float64)
    padded[:, 1:-1, 1:-1] = images
    source_row = np.clip(source_row + 1.0, 0.0, height + 1.0)
    source_col = np.clip(source_col + 1.0, 0.0, width + 1.0)
    top = np.minimum(np.floor(source_row).astype(np.int64), height)
    left = np.minimum(np.floor(source_col).astype(np.int64), width)
    down = (source_row - top)[..., None]
    right = (source_col - left)[..., None]

    batch = np.arange(n)[:, None, None]
    return (
        padded[batch, top, left] * (1 - down) * (1 - right)
        + padded[batch, top, left + 1] * (1 - down) * right
        + padded[batch, top + 1, left] * down * (1 - right)
        + padded[batch, top + 1, left + 1] * down * right
    )
