"""The dtypes every loader in `keras_grow.datasets` returns.

One place decides them so that all loaders agree: features are `float32`
(Keras' default float type) and integer labels and tokens are `int64`
(NumPy's default integer type and the dtype TensorFlow Datasets uses for
class labels).
"""

import numpy as np

FEATURE_DTYPE = np.float32
LABEL_DTYPE = np.int64
