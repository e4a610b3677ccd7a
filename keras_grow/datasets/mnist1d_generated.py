"""MNIST-1D, generated locally from the templates in the `mnist1d` package."""

import importlib.metadata
import random

import numpy as np

from keras_grow.datasets._cache import load_or_build
from keras_grow.datasets._dtypes import FEATURE_DTYPE, LABEL_DTYPE
from keras_grow.datasets._validation import check_seed

MNIST1D_LENGTH = 40


def mnist1d(shuffle=False, seed=42, cache=True):
    """Loads MNIST-1D, generated on this machine from the package's templates.

    MNIST-1D (Greydanus, 2020) is a small benchmark of 1-D signals: ten
    hand-made 12-point templates, one per digit, are padded, scaled,
    translated, sheared, mixed with correlated and i.i.d. noise and
    resampled to 40 points. The published recipe makes 5,000 signals (500 per
    class), shuffles them and keeps the first 4,000 for training and the last
    1,000 for testing; the whole set is then centred and scaled to unit
    standard deviation.

    The signals are made by `mnist1d.data.make_dataset` with the package's
    default arguments (`seed=42` is the published dataset's seed); the
    package's download path is never used, so this works offline. Generation
    takes about a second, so the arrays are cached as `.npz` in the
    `keras_grow` cache folder (`KERAS_GROW_CACHE`, else
    `~/.cache/keras_grow`). The package seeds NumPy's and Python's global
    random generators; this loader restores both afterwards.

    `shuffle=True` gives the paper's "shuffled" variant, which destroys the
    spatial structure: the 40 positions of every signal are permuted by one
    fixed permutation, the same for every call, every sample and both splits.
    It is the permutation `mnist1d` itself draws when asked for
    `shuffle_seq=True`, so the shuffled arrays equal the package's own.

    Reference:
    - [Greydanus, 2020](https://arxiv.org/abs/2011.14439)

    Args:
        shuffle: if `True`, return the spatially shuffled variant.
        seed: integer >= 0 passed to the generator; 42 reproduces the
            package's default dataset.
        cache: if `False`, regenerate and write no cache file.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **`x_train`**: `float32` array of shape `(4000, 40)`.

        **`y_train`**: `int64` labels in 0-9, shape `(4000,)`.

        **`x_test`**: `float32` array of shape `(1000, 40)`.

        **`y_test`**: `int64` labels in 0-9, shape `(1000,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist1d()
    assert x_train.shape == (4000, 40) and x_test.shape == (1000, 40)
    (xs_train, _), _ = keras_grow.datasets.mnist1d(shuffle=True)
    ```
    """
    seed = check_seed(seed)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle={shuffle!r} has type {type(shuffle).__name__}; expected a bool.")
    version = importlib.metadata.version("mnist1d")
    arrays = load_or_build(
        f"mnist1d_seed{seed}_pkg{version}_v1.npz", lambda: _generate(seed), use_cache=cache
    )
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if shuffle:
        permutation = arrays["permutation"]
        x_train, x_test = x_train[:, permutation], x_test[:, permutation]
    return (x_train, arrays["y_train"]), (x_test, arrays["y_test"])


def _generate(seed):
    """Run the package's generator with its global RNG use fenced off.

    `mnist1d` draws from NumPy's legacy global generator, so this function must
    too (hence the NPY002 exemptions); the caller's global state is restored.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        args = get_dataset_args()
        args.seed = seed
        args.shuffle_seq = False
        dataset = make_dataset(args)
        # `make_dataset(shuffle_seq=True)` draws its position permutation right
        # here, as the next value of the generator; drawing it now gives the
        # same permutation while keeping the unshuffled signals.
        permutation = np.random.permutation(args.final_seq_length)  # noqa: NPY002
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    return {
        "x_train": dataset["x"].astype(FEATURE_DTYPE),
        "y_train": dataset["y"].astype(LABEL_DTYPE),
        "x_test": dataset["x_test"].astype(FEATURE_DTYPE),
        "y_test": dataset["y_test"].astype(LABEL_DTYPE),
        "permutation": permutation.astype(np.int64),
    }
