"""Argument checks and helpers shared by the application constructors."""

import math
import numbers

import keras


def check_no_weights(weights):
    if weights is not None:
        raise ValueError(
            f"weights={weights!r} is not available; keras_grow applications are built with "
            "weights=None (use keras_grow.applications.from_preset for trained models)."
        )


def check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected a positive number.")


def scaled(width, multiplier):
    """`width * multiplier`, rounded half up, at least 1."""
    return max(1, int(math.floor(width * multiplier + 0.5)))


def global_pool(x, pooling):
    if pooling is None:
        return x
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    raise ValueError(f"pooling={pooling!r} is not supported; expected None, 'avg' or 'max'.")
