"""URNClassifier: the paper's URN configurations as ready-made Keras models."""

import copy

import keras

from keras_grow.applications import _conventions
from keras_grow.layers.urn_geometry import URNGeometry
from keras_grow.layers.urn_layer import URNLayer

# Hyperparameters from Golkar, "Emergent Structures and Lifetime Structure Evolution in
# Artificial Neural Networks". The paper trains with Adam (learning rate 7e-4) and a
# cross-entropy loss on the logits; `learning_rate` is recorded here for convenience.
URN_CONFIGS = {
    # Section 2, Fig. 3: concentric 10-d spheres, S = 5000, I = 4.
    "spheres": {
        "input_shape": (10,),
        "classes": 2,
        "size": 5000,
        "iterations": 4,
        "residual": None,
        "weight_l1": 5e-7,
        "activity_l1": 2e-5,
        "geometry": None,
        "synaptic_l1": 0.0,
        "synaptic_power": 1.0,
        "learning_rate": 7e-4,
    },
    # Section 2, Fig. 4: the same with residual output nodes (eq. 6).
    "spheres_residual": {
        "input_shape": (10,),
        "classes": 2,
        "size": 5000,
        "iterations": 4,
        "residual": "output",
        "weight_l1": 5e-7,
        "activity_l1": 2e-5,
        "geometry": None,
        "synaptic_l1": 0.0,
        "synaptic_power": 1.0,
        "learning_rate": 7e-4,
    },
    # Section 3, Fig. 6: grayscale CIFAR-10 32x32 interpolated to a 60 x 60 x 6 volume
    # (S = 21 600), residual output, 10 output nodes at the centre of the last plane.
    # The paper gives neither beta, gamma, c_syn nor c_W, c_N for this run; the values
    # below are this library's choice (c_W, c_N as in section 2; beta, gamma, c_syn as
    # found on MNIST-1D in tutorial 06_urn_spatial).
    "cifar_spatial": {
        "input_shape": (32, 32, 1),
        "classes": 10,
        "size": None,
        "iterations": 4,
        "residual": "output",
        "weight_l1": 5e-7,
        "activity_l1": 2e-5,
        "geometry": {"grid_shape": (60, 60), "depth": 6, "beta": 1.0},
        "synaptic_l1": 1e-6,
        "synaptic_power": 2.0,
        "learning_rate": 7e-4,
    },
    # CPU-sized section-3 setting of tutorial 06_urn_spatial: MNIST-1D (length 40)
    # interpolated onto a 60-point grid x 6 planes (S = 360), residual output, 10 central
    # output nodes.
    "mnist1d_spatial": {
        "input_shape": (40,),
        "classes": 10,
        "size": None,
        "iterations": 4,
        "residual": "output",
        "weight_l1": 5e-7,
        "activity_l1": 2e-5,
        "geometry": {"grid_shape": (60,), "depth": 6, "beta": 1.0},
        "synaptic_l1": 1e-6,
        "synaptic_power": 2.0,
        "learning_rate": 7e-4,
    },
}

_UNSET = object()


def URNClassifier(
    config="spheres",
    input_shape=None,
    classes=None,
    classifier_activation=None,
    name="urn_classifier",
    size=_UNSET,
    iterations=_UNSET,
    residual=_UNSET,
    weight_l1=_UNSET,
    activity_l1=_UNSET,
    geometry=_UNSET,
    synaptic_l1=_UNSET,
    synaptic_power=_UNSET,
    include_top=True,
    weights=None,
    **layer_kwargs,
):
    """A classifier made of one `URNLayer`, in one of the paper's configurations.

    `config` picks the paper's hyperparameters (see `URN_CONFIGS`): `"spheres"` (section
    2, Fig. 3: S = 5000, I = 4, c_W = 5e-7, c_N = 2e-5), `"spheres_residual"` (Fig. 4,
    residual output nodes), `"cifar_spatial"` (section 3, Fig. 6: a 60 x 60 x 6 geometry
    with synaptic-length regularisation) or `"mnist1d_spatial"` (the CPU-sized section-3
    setting of tutorial 06_urn_spatial). Every other argument overrides the
    configuration. The model outputs logits (the URN's output neurons) unless
    `classifier_activation` is given. Train it with `keras.optimizers.Adam(7e-4)` and
    `SparseCategoricalCrossentropy(from_logits=True)` as in the paper.

    Reference: S. Golkar, "Emergent Structures and Lifetime Structure Evolution in
    Artificial Neural Networks".

    Args:
        config: one of `URN_CONFIGS`.
        input_shape: input shape without the batch axis (default: the configuration's).
        classes: number of classes = output neurons (default: the configuration's).
        classifier_activation: `None` for logits, or an activation (e.g. `"softmax"`)
            applied to the output neurons.
        name: model name.
        size, iterations, residual, weight_l1, activity_l1, geometry, synaptic_l1,
            synaptic_power: `URNLayer` arguments overriding the configuration.
        include_top: must be `True`: the URN's output neurons are its
            classifier (there is no separate top to remove).
        weights: `None` (random initialisation), the path of a `.weights.h5`
            file, or the name of a URNClassifier preset (`"urn_spheres"`:
            `URNClassifier("spheres", size=300)`).
        **layer_kwargs: further `URNLayer` arguments (e.g. `activation`).

    Returns:
        A `keras.Sequential` model; its `URNLayer` is `model.get_layer("urn")`. It has
        `S^2 + S` parameters (the URN's S x S weight matrix and S biases).

    Example:

    >>> model = URNClassifier("spheres_residual", size=200)
    >>> model.get_layer("urn").residual, model.output_shape
    ('output', (None, 2))
    """
    if config not in URN_CONFIGS:
        raise ValueError(
            f"`config` must be one of {sorted(URN_CONFIGS)}. Received: config={config!r}"
        )
    if include_top is not True:
        raise ValueError(
            f"include_top={include_top!r} is not allowed; a URNClassifier's output neurons are "
            "part of its recurrent layer, so only include_top=True exists."
        )
    _conventions.check_weights(weights, "URNClassifier")
    _conventions.check_classifier_activation(classifier_activation)
    _conventions.check_name(name)
    settings = copy.deepcopy(URN_CONFIGS[config])
    overrides = {
        "size": size,
        "iterations": iterations,
        "residual": residual,
        "weight_l1": weight_l1,
        "activity_l1": activity_l1,
        "geometry": geometry,
        "synaptic_l1": synaptic_l1,
        "synaptic_power": synaptic_power,
    }
    settings.update({key: value for key, value in overrides.items() if value is not _UNSET})
    settings.pop("learning_rate")
    input_shape = tuple(input_shape) if input_shape is not None else settings.pop("input_shape")
    settings.pop("input_shape", None)
    classes = classes if classes is not None else settings.pop("classes")
    settings.pop("classes", None)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"`classes` must be an int >= 1. Received: classes={classes!r}")
    if isinstance(settings["geometry"], dict):
        settings["geometry"] = URNGeometry.from_config(settings["geometry"])
    urn = URNLayer(output_dim=classes, name="urn", **settings, **layer_kwargs)
    layers = [keras.Input(input_shape), urn]
    if classifier_activation is not None:
        layers.append(keras.layers.Activation(classifier_activation, name="predictions"))
    model = keras.Sequential(layers, name=name)
    return _conventions.load_weights(model, weights, "URNClassifier")
