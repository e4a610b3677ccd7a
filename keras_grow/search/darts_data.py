"""Pair every training batch with an architecture batch for the bilevel train step."""

import numpy as np
import tensorflow as tf


def _is_array_like(value):
    return isinstance(value, (np.ndarray, tf.Tensor)) or hasattr(value, "__array__")


def as_batched_dataset(x, y=None, sample_weight=None, batch_size=None, shuffle=True, argument="x"):
    """A batched `tf.data.Dataset` of `(x, y[, sample_weight])` from arrays or a dataset.

    A `tf.data.Dataset` is returned unchanged (it must already be batched);
    arrays are sliced, shuffled each epoch when `shuffle`, and batched.
    """
    if isinstance(x, tf.data.Dataset):
        if y is not None or sample_weight is not None:
            raise ValueError(
                f"`{argument}` is a tf.data.Dataset, so `y` and `sample_weight` must be None "
                "(put them in the dataset's elements)."
            )
        return x
    if isinstance(x, (tuple, list)) and y is None and len(x) in (2, 3):
        x, y, *rest = x
        sample_weight = rest[0] if rest else sample_weight
    if not _is_array_like(x) or not _is_array_like(y):
        raise TypeError(
            f"`{argument}` must be a batched tf.data.Dataset or arrays (x, y); received "
            f"{type(x).__name__} and {type(y).__name__}."
        )
    tensors = (x, y) if sample_weight is None else (x, y, sample_weight)
    lengths = {len(t) for t in tensors}
    if len(lengths) != 1:
        raise ValueError(f"`{argument}`: arrays have different lengths {sorted(lengths)}.")
    dataset = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        dataset = dataset.shuffle(len(x), reshuffle_each_iteration=True)
    return dataset.batch(batch_size or 32)


def zip_with_arch_data(train, arch):
    """Zip the (finite) training batches with endlessly repeated architecture batches."""
    return tf.data.Dataset.zip((train, arch.repeat())).prefetch(tf.data.AUTOTUNE)


def first_input_shape(dataset):
    """The batch shape of `x` in a dataset of `(x, y[, w])` or of `((x, y), arch)` pairs."""
    spec = dataset.element_spec
    while isinstance(spec, tuple):
        spec = spec[0]
    return tuple(spec.shape)
