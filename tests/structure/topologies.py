"""Small models of every topology DynamicModel supports, for the structure tests.

Each builder takes the widths of its growable layers and returns a functional
model. `GROUP_AXES[name]` lists, written out by hand, every
`(layer, variable, axis, positions[, trailing fixed entries])` that the group
of the tested layer owns —
the tests use it to build reference models with units deleted, independently
of the library's own graph analysis.
"""

import keras
import numpy as np

INPUT_SHAPES = {
    "mlp": (12,),
    "conv_conv": (7, 7, 3),
    "conv_bn_pool": (8, 8, 3),
    "conv_flatten_dense": (6, 6, 2),
    "residual": (7, 7, 3),
    "concat": (10,),
    "dropout": (12,),
}

DEFAULT_WIDTHS = {
    "mlp": {"h1": 6, "h2": 5},
    "conv_conv": {"c1": 5, "c2": 4},
    "conv_bn_pool": {"c1": 6, "c2": 4},
    "conv_flatten_dense": {"c1": 5, "d1": 7},
    "residual": {"stem": 6, "inner": 4},
    "concat": {"a": 5, "b": 3, "mix": 5},
    "dropout": {"h1": 6},
}

# The layer each test grows / prunes, per topology.
TESTED_LAYER = {
    "mlp": "h1",
    "conv_conv": "c1",
    "conv_bn_pool": "c1",
    "conv_flatten_dense": "c1",
    "residual": "stem",
    "concat": "a",
    "dropout": "h1",
}

GROUP_AXES = {
    "mlp": [("h1", "kernel", 1, 1), ("h1", "bias", 0, 1), ("h2", "kernel", 0, 1)],
    "conv_conv": [("c1", "kernel", 3, 1), ("c1", "bias", 0, 1), ("c2", "kernel", 2, 1)],
    "conv_bn_pool": [
        ("c1", "kernel", 3, 1),
        ("c1", "bias", 0, 1),
        ("bn", "gamma", 0, 1),
        ("bn", "beta", 0, 1),
        ("bn", "moving_mean", 0, 1),
        ("bn", "moving_variance", 0, 1),
        ("c2", "kernel", 2, 1),
    ],
    # Conv output 6x6 -> Flatten: 36 positions per channel.
    "conv_flatten_dense": [("c1", "kernel", 3, 1), ("c1", "bias", 0, 1), ("d1", "kernel", 0, 36)],
    "residual": [
        ("stem", "kernel", 3, 1),
        ("stem", "bias", 0, 1),
        ("inner", "kernel", 2, 1),
        ("outer", "kernel", 3, 1),
        ("outer", "bias", 0, 1),
        ("head", "kernel", 0, 1),
    ],
    # a's units are the first block of the concatenation read by "mix"; b's 3
    # units follow them (the fifth field: fixed entries after the group).
    "concat": [("a", "kernel", 1, 1), ("a", "bias", 0, 1), ("mix", "kernel", 0, 1, 3)],
    "dropout": [("h1", "kernel", 1, 1), ("h1", "bias", 0, 1), ("out", "kernel", 0, 1)],
}


def build(name, widths=None):
    widths = {**DEFAULT_WIDTHS[name], **(widths or {})}
    inputs = keras.Input(INPUT_SHAPES[name])
    layers = keras.layers
    if name == "mlp":
        x = layers.Dense(widths["h1"], activation="relu", name="h1")(inputs)
        x = layers.Dense(widths["h2"], activation="tanh", name="h2")(x)
        outputs = layers.Dense(3, name="out")(x)
    elif name == "conv_conv":
        x = layers.Conv2D(widths["c1"], 3, activation="relu", name="c1")(inputs)
        x = layers.Conv2D(widths["c2"], 3, padding="same", activation="relu", name="c2")(x)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(3, name="out")(x)
    elif name == "conv_bn_pool":
        x = layers.Conv2D(widths["c1"], 3, padding="same", name="c1")(inputs)
        x = layers.BatchNormalization(name="bn")(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Conv2D(widths["c2"], 3, padding="same", activation="relu", name="c2")(x)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(3, name="out")(x)
    elif name == "conv_flatten_dense":
        x = layers.Conv2D(widths["c1"], 3, padding="same", activation="relu", name="c1")(inputs)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(widths["d1"], activation="relu", name="d1")(x)
        outputs = layers.Dense(3, name="out")(x)
    elif name == "residual":
        stem = layers.Conv2D(widths["stem"], 3, padding="same", name="stem")(inputs)
        x = layers.Conv2D(widths["inner"], 3, padding="same", use_bias=False, name="inner")(stem)
        x = layers.BatchNormalization(name="inner_bn")(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(widths["stem"], 3, padding="same", name="outer")(x)
        x = layers.Add(name="add")([stem, x])
        x = layers.ReLU()(x)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(3, name="head")(x)
    elif name == "concat":
        a = layers.Dense(widths["a"], activation="relu", name="a")(inputs)
        b = layers.Dense(widths["b"], activation="relu", name="b")(inputs)
        x = layers.Concatenate(name="cat")([a, b])
        x = layers.Dense(widths["mix"], activation="relu", name="mix")(x)
        outputs = layers.Dense(3, name="out")(x)
    elif name == "dropout":
        x = layers.Dense(widths["h1"], activation="relu", name="h1")(inputs)
        x = layers.Dropout(0.5)(x)
        outputs = layers.Dense(3, name="out")(x)
    else:
        raise KeyError(name)
    return keras.Model(inputs, outputs, name=name)


def sample_inputs(name, n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *INPUT_SHAPES[name])).astype("float32")


def delete_units_by_hand(name, model, keep, capacity):
    """Reference model: `name` rebuilt without the deleted units of its tested group.

    Args:
        model: the trained model whose weights are copied.
        keep: the physical slots that remain, in order.
        capacity: number of physical slots of the group in `model`.
    """
    tested = TESTED_LAYER[name]
    widths = dict(DEFAULT_WIDTHS[name])
    for layer_name in widths:
        widths[layer_name] = model.get_layer(layer_name).kernel.shape[-1]
    removed_width = len(keep)
    if name == "residual":
        widths["stem"] = removed_width
    else:
        widths[tested] = removed_width
    reference = build(name, widths)
    owned = {(entry[0], entry[1]): entry[2:] for entry in GROUP_AXES[name]}
    for layer in model.layers:
        if not layer.weights:
            continue
        target = reference.get_layer(layer.name)
        values = []
        for variable in layer.weights:
            value = keras.ops.convert_to_numpy(variable)
            attribute = variable.path.split("/")[-1]
            if (layer.name, attribute) in owned:
                axis, positions, *trailing = owned[(layer.name, attribute)]
                trailing = trailing[0] if trailing else 0
                kept = np.concatenate([keep, capacity + np.arange(trailing)])
                stride = capacity + trailing
                rows = (np.arange(positions)[:, None] * stride + kept[None, :]).ravel()
                value = np.take(value, rows, axis=axis)
            values.append(value)
        target.set_weights(values)
    return reference
