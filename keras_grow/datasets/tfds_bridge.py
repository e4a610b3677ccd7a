"""A thin bridge to TensorFlow Datasets for data already on this machine."""

import numpy as np

OFFLINE_LOADERS = (
    "mnist_5k",
    "digits",
    "mnist1d",
    "concentric_spheres",
    "parenthesis_sequences",
    "independent_features",
)

_RESERVED_ARGUMENTS = ("as_supervised", "batch_size", "with_info")

_OFFLINE_HINT = (
    "keras_grow.datasets loaders that need no download: "
    + ", ".join(OFFLINE_LOADERS)
    + " (and rotated(x, y) for a rotated variant of image data)."
)


def tfds(name, split="train", as_numpy=True, data_dir=None, download=False, **kwargs):
    """Loads a TensorFlow Datasets dataset as `(inputs, labels)` pairs.

    Calls `tensorflow_datasets.load(name, split=split, as_supervised=True,
    ...)`. Unlike `tfds.load`, it does not download by default: the dataset
    must already be prepared under `data_dir` (default
    `~/tensorflow_datasets`) unless `download=True`. With `as_numpy=True`
    (the default) each split is read whole into NumPy arrays, so keep it to
    datasets that fit in memory.

    When the dataset is unknown or not available offline, the error names
    this library's offline loaders (`mnist_5k`, `digits`, `mnist1d`, ...),
    which work without any download.

    Reference:
    - [TensorFlow Datasets](https://www.tensorflow.org/datasets)

    Args:
        name: TFDS dataset name, such as `"mnist"` or `"cifar10:3.0.2"`.
        split: one split such as `"train"` or `"test[:10%]"`, or a list of
            splits.
        as_numpy: if `True`, return NumPy arrays; if `False`, return the
            unbatched `tf.data.Dataset` of `(input, label)` pairs.
        data_dir: folder holding prepared TFDS data (TFDS default if `None`).
        download: if `True`, let TFDS download and prepare the data.
        **kwargs: passed on to `tensorflow_datasets.load` (for example
            `shuffle_files`, `read_config`). `as_supervised`, `batch_size` and
            `with_info` are fixed by the bridge and raise `TypeError`.

    Returns:
        For one split, `(x, y)`: NumPy arrays with the dataset's own dtypes
        and shapes (for MNIST, `uint8` images `(n, 28, 28, 1)` and `int64`
        labels `(n,)`), or a `tf.data.Dataset` with `as_numpy=False`. For a
        list of splits, a tuple with one such result per split, so
        `split=["train", "test"]` gives `(x_train, y_train), (x_test, y_test)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.tfds(
        "mnist", split=["train", "test"]
    )
    ```
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name={name!r} is invalid; expected a TFDS dataset name such as 'mnist'.")
    for reserved in _RESERVED_ARGUMENTS:
        if reserved in kwargs:
            raise TypeError(
                f"{reserved}={kwargs[reserved]!r} cannot be set; this bridge always loads "
                f"unbatched (input, label) pairs without info (batch with as_dataset or "
                f"tf.data instead)."
            )
    import tensorflow_datasets as tensorflow_datasets_module

    try:
        loaded = tensorflow_datasets_module.load(
            name,
            split=split,
            as_supervised=True,
            data_dir=data_dir,
            download=download,
            **kwargs,
        )
    except tensorflow_datasets_module.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"name={name!r} is not a dataset TensorFlow Datasets knows; "
            f"use a name from tfds.list_builders(), or one of the {_OFFLINE_HINT}"
        ) from error
    except Exception as error:  # noqa: BLE001 - re-raised with advice, cause kept.
        raise RuntimeError(
            f"TensorFlow Datasets could not load name={name!r}, split={split!r} "
            f"(data_dir={data_dir!r}, download={download!r}): {type(error).__name__}: "
            f"{_first_line(error)} Prepare the dataset where the network is available "
            f"(`tfds build {name}`), or use one of the {_OFFLINE_HINT}"
        ) from error

    if not as_numpy:
        return loaded
    if isinstance(split, (list, tuple)):
        return tuple(_to_numpy(dataset) for dataset in loaded)
    return _to_numpy(loaded)


def _to_numpy(dataset, chunk=4096):
    """Read a supervised `tf.data.Dataset` whole into `(inputs, labels)` arrays."""
    import tensorflow_datasets as tensorflow_datasets_module

    inputs, labels = [], []
    for batch_inputs, batch_labels in tensorflow_datasets_module.as_numpy(dataset.batch(chunk)):
        inputs.append(batch_inputs)
        labels.append(batch_labels)
    if not inputs:
        spec_x, spec_y = dataset.element_spec
        return (
            np.zeros((0, *spec_x.shape), dtype=spec_x.dtype.as_numpy_dtype),
            np.zeros((0, *spec_y.shape), dtype=spec_y.dtype.as_numpy_dtype),
        )
    return np.concatenate(inputs), np.concatenate(labels)


def _first_line(error):
    text = str(error).strip()
    first = text.splitlines()[0] if text else "(no message)"
    return first if first.endswith(".") else first + "."
