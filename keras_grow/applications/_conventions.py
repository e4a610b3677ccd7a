"""Argument checks and helpers shared by the application constructors."""

import math
import numbers
import os

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


def check_classes(classes, include_top=True):
    """`classes` must be an int >= 1 (checked only when there is a classifier)."""
    if include_top and (
        isinstance(classes, bool) or not isinstance(classes, numbers.Integral) or classes < 1
    ):
        raise ValueError(f"classes={classes!r} is not allowed; expected an int >= 1.")


def check_classifier_activation(activation):
    """`None`, or a name or callable that `keras.activations.get` accepts."""
    if activation is None or callable(activation):
        return
    try:
        keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(
            f"classifier_activation={activation!r} is not allowed; expected None (logits), "
            "a Keras activation name such as 'softmax', or a callable."
        ) from None


def check_name(name):
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name={name!r} is not allowed; expected a string or None.")


def check_weights(weights, application):
    """`weights` must be None, an existing weights file, or a preset of `application`.

    Returns the preset name when `weights` names one, else None.
    """
    from keras_grow.applications import presets

    if weights is None:
        return None
    known = [
        name
        for name in presets.list_presets()
        if presets.preset_metadata(name)["application"].startswith(application)
    ]
    if isinstance(weights, str) and weights in known:
        return weights
    if isinstance(weights, str) and weights.endswith(".weights.h5") and os.path.exists(weights):
        return None
    raise ValueError(
        f"weights={weights!r} is not available: `weights` must be None (random "
        "initialisation), the path of an existing `.weights.h5` file, or one of the "
        f"{application} presets {known} (see keras_grow.applications.list_presets); "
        f"received {weights!r}."
    )


def load_weights(model, weights, application):
    """Loads `weights` (checked by `check_weights`) into the freshly built `model`.

    A preset's weights are copied layer by layer (matched by name); the model
    must have the preset's widths (see `preset_metadata(name)["widths"]`).
    """
    from keras_grow.applications import presets

    preset = check_weights(weights, application)
    if weights is None:
        return model
    if preset is None:
        model.load_weights(weights)
        return model
    source = presets.from_preset(preset, compile=False)
    values = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            theirs = source.get_layer(layer.name).get_weights()
        except ValueError:
            theirs = None
        mine = layer.get_weights()
        if theirs is None or [w.shape for w in theirs] != [w.shape for w in mine]:
            raise ValueError(
                f"weights={weights!r} does not fit this model: layer {layer.name!r} differs "
                f"from the preset's; build it with the preset's widths "
                f"{presets.preset_metadata(preset)['widths']}."
            )
        values[layer.name] = theirs
    for layer in model.layers:
        if layer.name in values:
            layer.set_weights(values[layer.name])
    return model
