"""keras_grow: neural networks that change their own structure while they train.

Keras 3 (TensorFlow backend) layers, models and callbacks that grow, prune,
relax and search network structure inside the ordinary `model.fit` loop.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

from keras_grow import (  # noqa: E402
    analysis,
    applications,
    callbacks,
    datasets,
    groups,
    layers,
    search,
    structure,
)
from keras_grow.structure import DynamicModel  # noqa: E402

__all__ = [
    "DynamicModel",
    "__version__",
    "analysis",
    "applications",
    "callbacks",
    "datasets",
    "groups",
    "layers",
    "search",
    "structure",
]
