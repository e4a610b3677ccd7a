"""`EquivariantCNN`: the G-CNN backbone of Maile's thesis, chapter 4 (section 4.5)."""

from keras_grow import groups
from keras_grow.applications import _conventions
from keras_grow.layers.group_conv import GroupConv2D
from keras_grow.layers.lifting_conv import LiftingConv2D
from keras_grow.search._backbone import build_backbone


def EquivariantCNN(
    group="D4",
    input_shape=(28, 28, 1),
    classes=10,
    include_top=True,
    weights=None,
    pooling=None,
    classifier_activation="softmax",
    width=128,
    kernel_size=3,
    dense_units=64,
    pool_after=(2, 4, 6, 8),
    batch_norm_momentum=0.9,
    name=None,
):
    """Instantiates the group-equivariant CNN backbone of EquiNAS (Maile et al.).

    A lifting convolution followed by 7 group convolutions (8 convolutions in
    all), each followed by `GroupBatchNormalization` and ReLU; average pooling
    after every other convolution; then a group-dimension average pooling, a
    spatial average, and two dense layers (the first followed by batch norm
    and ReLU). As in the thesis, channel counts are fixed *after expansion*:
    the convolutions have `width` channels (16 D4 fields = 128 channels by
    default) for layers 1-4 and `2 * width` for layers 5-8, so a smaller group
    gets more fields (`width / |G|`) and more parameters. Convolutions have no
    bias (batch norm follows).

    Every spatial pooling uses stride 2 with a window chosen so that its
    sampling grid is symmetric (window 2 on even sizes, 3 on odd sizes,
    `"valid"` padding; 28 -> 14 -> 7 -> 3 -> 1), which keeps the whole model
    exactly G-invariant on square inputs: `model(g . x) == model(x)` in
    inference mode for every `g` in G.

    Parameters (without biases of the convolutions), with `n = |G|`,
    `f1 = width / n`, `f2 = 2 * width / n`, `k = kernel_size`, `C0` input
    channels and `u = dense_units`:

        k^2 (C0 f1 + 3 n f1^2 + n f1 f2 + 3 n f2^2)   (convolutions)
        + 16 (f1 + f2)                                (group batch norms)
        + u f2 + 4 u + (u + 1) classes                (head)

    Reference: Maile, Wilson & Forre, "Equivariance-aware Architectural
    Optimization of Neural Networks" (ICLR 2023); Maile's thesis, section 4.5.

    Args:
        group: `"C1"`, `"C2"`, `"C4"`, `"D1"`, `"D2"` or `"D4"`.
        input_shape: `(height, width, channels)`; square for rotation groups.
        classes: number of classes (with `include_top`).
        include_top: whether to add the invariant pooling and the two dense
            layers.
        weights: `None` (random initialisation), the path of a
            `.weights.h5` file to load, or the name of an EquivariantCNN
            preset (`"equivariant_cnn_rotmnist"`: `EquivariantCNN("C4",
            width=16, dense_units=32)`).
        pooling: without the top, `None` returns the last group feature map;
            `"avg"` or `"max"` pool it over the group axis and space (an
            invariant vector).
        classifier_activation: activation of the output layer.
        width: channels of the expanded convolutions in layers 1-4 (doubled
            after); a multiple of |G|.
        kernel_size: odd kernel size of all convolutions.
        dense_units: units of the hidden dense layer.
        pool_after: 1-based indices of the convolutions followed by pooling.
            The thesis adds 5 and 7 for 64x64 inputs: `(2, 4, 5, 6, 7, 8)`.
        batch_norm_momentum: momentum of the batch norms. 0.9 matches the
            thesis' PyTorch default. In short runs at a large learning rate
            the moving statistics lag behind the weights whatever the momentum
            (group convolutions change fastest: each parameter receives the
            summed gradient of its |G| copies), and inference-mode accuracy
            falls far below training-mode accuracy; train with
            `keras_grow.callbacks.PreciseBatchNorm` to recompute them.
        name: model name (default `"equivariant_cnn_<group>"`).

    Returns:
        A `keras.Model`.

    Example:

    >>> from keras_grow.applications import EquivariantCNN
    >>> model = EquivariantCNN("C4", input_shape=(16, 16, 1), width=16)
    >>> model.output_shape
    (None, 10)
    """
    group = groups.get(group)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels); received {input_shape!r}."
        )
    if width % group.order:
        raise ValueError(
            f"`width` must be a multiple of |{group.name}|={group.order}; received {width!r}."
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"`pooling` must be None, 'avg' or 'max'; received {pooling!r}.")
    _conventions.check_weights(weights, "EquivariantCNN")
    _conventions.check_classes(classes, include_top)
    _conventions.check_classifier_activation(classifier_activation)
    _conventions.check_name(name)

    def convolution(index, channels, lifting, layer_name):
        layer = LiftingConv2D if lifting else GroupConv2D
        return layer(channels // group.order, kernel_size, group, use_bias=False, name=layer_name)

    model = build_backbone(
        convolution,
        group.name,
        input_shape,
        classes,
        width,
        dense_units,
        pool_after,
        classifier_activation,
        name or f"equivariant_cnn_{group.name.lower()}",
        include_top=include_top,
        pooling=pooling,
        batch_norm_momentum=batch_norm_momentum,
    )
    return _conventions.load_weights(model, weights, "EquivariantCNN")
