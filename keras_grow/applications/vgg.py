"""VGG-11 with a width multiplier, ready for DynamicModel."""

import keras

from keras_grow.applications import _conventions

VGG11_CHANNELS = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def VGG11(
    include_top=True,
    weights=None,
    input_shape=(32, 32, 3),
    classes=10,
    classifier_activation="softmax",
    width_multiplier=1.0,
    dense_units=512,
    batch_norm=True,
    pooling=None,
    name="vgg11",
):
    """VGG-11 (configuration "A" of Simonyan & Zisserman), CIFAR style.

    Eight 3×3 convolutions (64, 128, 256, 256, 512, 512, 512, 512 channels
    times `width_multiplier`), each followed by batch normalisation and ReLU,
    with 2×2 max pooling after convolutions 1, 2, 4, 6 and 8; then two hidden
    dense layers of `dense_units * width_multiplier` units and the classifier.
    This is the backbone of Maile's thesis section 6.3.4, where growing runs
    start at `width_multiplier=0.25`.

    Parameters on 32×32 inputs with batch norm (`c_0` input channels, `c_1`
    … `c_8` the scaled convolution widths, `u` the scaled dense units, `K`
    classes; batch norm counts its 4 per-channel variables):
    `Σ_i (9 c_{i-1} c_i + 4 c_i) + (c_8 + 1) u + (u + 1) u + (u + 1) K`,
    9 759 178 at multiplier 1 with 3 input channels and 10 classes.

    Reference:
    - Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
      Image Recognition", ICLR 2015.

    Args:
        include_top: whether to include the dense layers and the classifier.
        weights: `None` (random initialisation) or the path of a
            `.weights.h5` file (no pretrained VGG-11 weights are shipped).
        input_shape: image shape, at least 32×32 (five poolings).
        classes: number of classes (with `include_top`).
        classifier_activation: activation of the classifier (`None` for logits).
        width_multiplier: scale of every hidden width (rounded, at least 1).
        dense_units: hidden dense width at multiplier 1.
        batch_norm: add BatchNormalization after each convolution.
        pooling: without the top, `None`, `"avg"` or `"max"` global pooling.
        name: model name.

    Returns:
        A functional `keras.Model`. Layers are named `conv1` … `conv8`,
        `fc1`, `fc2` and `predictions`.

    Example:

    ```python
    model = keras_grow.DynamicModel(keras_grow.applications.VGG11(width_multiplier=0.25))
    model.add_units("conv3", 16)
    ```
    """
    _conventions.check_weights(weights, "VGG11")
    _conventions.check_positive(width_multiplier, "width_multiplier")
    _conventions.check_classes(classes, include_top)
    _conventions.check_classifier_activation(classifier_activation)
    _conventions.check_name(name)
    inputs = keras.Input(input_shape)
    x = inputs
    conv_index = 0
    for entry in VGG11_CHANNELS:
        if entry == "M":
            x = keras.layers.MaxPooling2D(2, name=f"pool{conv_index}")(x)
            continue
        conv_index += 1
        filters = _conventions.scaled(entry, width_multiplier)
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=not batch_norm, name=f"conv{conv_index}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"bn{conv_index}")(x)
        x = keras.layers.ReLU(name=f"relu{conv_index}")(x)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        units = _conventions.scaled(dense_units, width_multiplier)
        x = keras.layers.Dense(units, activation="relu", name="fc1")(x)
        x = keras.layers.Dense(units, activation="relu", name="fc2")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _conventions.global_pool(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return _conventions.load_weights(model, weights, "VGG11")
