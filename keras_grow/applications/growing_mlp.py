"""`GrowingMLP`: the dense backbone of Maile's neurogenesis experiments (6.3.2-6.3.3)."""

import numbers

import keras

from keras_grow.applications import _conventions


@keras.saving.register_keras_serializable(package="keras_grow")
def modified_relu(x):
    """ReLU whose gradient at 0 is 1: `x` where `x >= 0`, else 0.

    Same values as `relu`, different gradient at exactly 0. GradMax-style
    units with zero fan-in sit at 0 and only start learning when σ'(0) ≠ 0;
    Maile's thesis uses this activation in every configuration (and saw no
    difference from the standard ReLU otherwise).
    """
    return keras.ops.where(x >= 0, x, keras.ops.zeros_like(x))


def GrowingMLP(
    include_top=True,
    weights=None,
    input_shape=(784,),
    classes=10,
    classifier_activation="softmax",
    hidden=(64, 64),
    activation=modified_relu,
    kernel_initializer="glorot_uniform",
    name="growing_mlp",
):
    """A multi-layer perceptron whose hidden layers can grow (Maile 6.3.3).

    `len(hidden)` dense layers with `activation`, then the classifier. The
    thesis' MNIST MLP starts at `hidden=(64, 64)` (Small Static), uses 256
    per layer as Medium Static and 784 as the maximum and Big Static, with
    Xavier-uniform initialisation; wrap it in a `DynamicModel` to grow it.

    Reference:
    - Maile, "Dynamic Architectural Optimization of Artificial Neural
      Networks", PhD thesis, 2023, sections 6.3.2-6.3.3.

    Args:
        include_top: whether to include the classifier.
        weights: `None` (random initialisation), the path of a
            `.weights.h5` file, or the name of a GrowingMLP preset
            (`"north_mlp_mnist5k"`: pass its grown `hidden` widths, see
            `preset_metadata`).
        input_shape: shape of one input vector, e.g. `(784,)`.
        classes: number of classes (with `include_top`).
        classifier_activation: activation of the classifier (`None`: logits).
        hidden: widths of the hidden layers, each an int >= 1.
        activation: hidden activation (default: `modified_relu`, gradient 1
            at 0, as in the thesis; needed by GradMax).
        kernel_initializer: initializer of every kernel.
        name: model name.

    Returns:
        A functional `keras.Model`; hidden layers are named `hidden1`,
        `hidden2`, … and the classifier `predictions`. With the defaults
        (784 inputs, 64-64, 10 classes) it has 55 050 parameters
        (`784·64 + 64 + 64·64 + 64 + 64·10 + 10`).

    Example:

    ```python
    model = keras_grow.DynamicModel(keras_grow.applications.GrowingMLP(
        input_shape=(784,), hidden=(64, 64), classes=10))
    model.widths()   # {'hidden1': 64, 'hidden2': 64, 'predictions': 10}
    ```
    """
    _conventions.check_weights(weights, "GrowingMLP")
    _conventions.check_classifier_activation(classifier_activation)
    _conventions.check_name(name)
    hidden = tuple(hidden)
    for width in hidden:
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
            raise ValueError(f"hidden={hidden!r} is not allowed; expected a sequence of ints >= 1.")
    _conventions.check_classes(classes, include_top)
    inputs = keras.Input(input_shape)
    x = inputs
    for index, width in enumerate(hidden, start=1):
        x = keras.layers.Dense(
            width,
            activation=activation,
            kernel_initializer=kernel_initializer,
            name=f"hidden{index}",
        )(x)
    if include_top:
        x = keras.layers.Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer=kernel_initializer,
            name="predictions",
        )(x)
    model = keras.Model(inputs, x, name=name)
    return _conventions.load_weights(model, weights, "GrowingMLP")
