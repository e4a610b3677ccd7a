"""Turning NumPy arrays into `tf.data` input pipelines."""

import numpy as np

from keras_grow.datasets._validation import check_int, check_same_length, check_seed


def as_dataset(x, y=None, batch_size=32, shuffle=False, seed=0, drop_remainder=False):
    """Wraps arrays in a batched, prefetched `tf.data.Dataset`.

    The samples are sliced along the first axis. With `shuffle=True` the
    whole dataset is shuffled in memory (buffer of `len(x)`), reshuffled every
    epoch: the sequence of epoch orders is the same for the same `seed`, in
    every run and process, as long as the global TensorFlow seed
    (`tf.random.set_seed`, `keras.utils.set_random_seed`) is unset or the
    same, since TensorFlow combines both seeds. Batches are prefetched (`tf.data.AUTOTUNE`). The
    result can go straight to `model.fit`.

    Args:
        x: NumPy array (or nested structure of arrays) of inputs, `n` samples
            along the first axis.
        y: optional array of `n` targets; if `None`, the dataset yields
            inputs only.
        batch_size: samples per batch, an integer >= 1.
        shuffle: if `True`, shuffle the samples each epoch.
        seed: integer >= 0 fixing the shuffle order; unused without shuffle.
        drop_remainder: if `True`, drop the last batch when it is smaller
            than `batch_size`.

    Returns:
        A `tf.data.Dataset` of `(x_batch, y_batch)` tuples, or of `x_batch`
        when `y` is `None`.

    Example:

    ```python
    (x_train, y_train), _ = keras_grow.datasets.mnist1d()
    train = keras_grow.datasets.as_dataset(x_train, y_train, batch_size=128, shuffle=True)
    model.fit(train, epochs=5)
    ```
    """
    import tensorflow as tf

    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_seed(seed)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle={shuffle!r} has type {type(shuffle).__name__}; expected a bool.")
    first = tf.nest.flatten(x)[0]
    n_samples = len(first)
    if y is not None:
        check_same_length("x", first, "y", tf.nest.flatten(y)[0])
    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        dataset = dataset.shuffle(
            buffer_size=max(n_samples, 1), seed=seed, reshuffle_each_iteration=True
        )
    dataset = dataset.batch(batch_size, drop_remainder=bool(drop_remainder))
    return dataset.prefetch(tf.data.AUTOTUNE)
