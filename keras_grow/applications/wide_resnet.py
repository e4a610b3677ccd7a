"""`WideResNet28`: the residual backbone of Maile's neurogenesis experiments (6.3.4)."""

import numbers

import keras

from keras_grow.applications import _conventions

_STAGE_WIDTHS = (16, 32, 64)
_BLOCKS_PER_STAGE = 4  # (28 - 4) / 6


def WideResNet28(
    k=1,
    include_top=True,
    weights=None,
    input_shape=(32, 32, 3),
    classes=10,
    classifier_activation="softmax",
    width_multiplier=1.0,
    dropout_rate=0.0,
    pooling=None,
    name=None,
):
    """WideResNet-28-k (Zagoruyko & Komodakis), CIFAR style, pre-activation.

    A 3×3 stem convolution with 16 channels, then three stages of four
    residual blocks with `16k`, `32k` and `64k` channels (the second and
    third stages start with stride 2), each block
    `BN → ReLU → conv3×3 → BN → ReLU → [dropout] → conv3×3` plus a shortcut
    (a 1×1 convolution on the pre-activated input where the shape changes,
    the identity otherwise); then BN → ReLU, global average pooling and the
    classifier. Convolutions have no bias. Every width is multiplied by
    `width_multiplier` (the thesis grows from 1/4 of WRN-28-1).

    Inside a `DynamicModel` each stage is one residual dependency group (all
    its block outputs and its projection shortcut grow together; with
    `k * width_multiplier == 1` the stem joins the first stage), and each
    block's first convolution is a group of its own. WRN-28-1 has about
    0.37 M parameters on 32×32×3 inputs with 10 classes.

    Reference:
    - Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016.
    - Maile, PhD thesis, 2023, section 6.3.4.

    Args:
        k: widening factor, a number > 0 (28-1: `k=1`, 28-10: `k=10`).
        include_top: whether to include the classifier.
        weights: `None` (random initialisation) or the path of a
            `.weights.h5` file.
        input_shape: image shape (channels last).
        classes: number of classes (with `include_top`).
        classifier_activation: activation of the classifier (`None`: logits).
        width_multiplier: extra factor on every width (rounded, at least 1).
        dropout_rate: dropout between the two convolutions of each block.
        pooling: without the top, `None` (feature map), `"avg"` or `"max"`.
        name: model name (default `"wide_resnet28_{k}"`).

    Returns:
        A functional `keras.Model`. Layers are named `stem`, then
        `stage{s}_block{b}_{bn1,relu1,conv1,bn2,relu2,conv2,shortcut,add}`,
        `bn_final`, `relu_final`, `avg_pool`, `predictions`.

    Example:

    ```python
    model = keras_grow.DynamicModel(
        keras_grow.applications.WideResNet28(k=1, width_multiplier=0.25))
    model.dependency_group("stage2_block1_conv2")   # the whole second stage
    ```
    """
    _conventions.check_weights(weights, "WideResNet28")
    _conventions.check_classes(classes, include_top)
    _conventions.check_classifier_activation(classifier_activation)
    _conventions.check_name(name)
    _conventions.check_positive(k, "k")
    _conventions.check_positive(width_multiplier, "width_multiplier")
    if (
        isinstance(dropout_rate, bool)
        or not isinstance(dropout_rate, numbers.Real)
        or not 0 <= dropout_rate < 1
    ):
        raise ValueError(
            f"dropout_rate={dropout_rate!r} is not allowed; expected a number in [0, 1)."
        )
    name = name or f"wide_resnet28_{k:g}"
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(
        _conventions.scaled(16, width_multiplier), 3, padding="same", use_bias=False, name="stem"
    )(inputs)
    for stage, base in enumerate(_STAGE_WIDTHS, start=1):
        filters = _conventions.scaled(base * k, width_multiplier)
        for block in range(1, _BLOCKS_PER_STAGE + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            x = _block(x, filters, stride, dropout_rate, f"stage{stage}_block{block}")
    x = keras.layers.BatchNormalization(name="bn_final")(x)
    x = keras.layers.ReLU(name="relu_final")(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _conventions.global_pool(x, pooling)
    model = keras.Model(inputs, x, name=name)
    return _conventions.load_weights(model, weights, "WideResNet28")


def _block(x, filters, stride, dropout_rate, prefix):
    pre = keras.layers.BatchNormalization(name=f"{prefix}_bn1")(x)
    pre = keras.layers.ReLU(name=f"{prefix}_relu1")(pre)
    y = keras.layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv1"
    )(pre)
    y = keras.layers.BatchNormalization(name=f"{prefix}_bn2")(y)
    y = keras.layers.ReLU(name=f"{prefix}_relu2")(y)
    if dropout_rate:
        y = keras.layers.Dropout(dropout_rate, name=f"{prefix}_dropout")(y)
    y = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv2")(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{prefix}_shortcut"
        )(pre)
    else:
        shortcut = x
    return keras.layers.Add(name=f"{prefix}_add")([y, shortcut])
