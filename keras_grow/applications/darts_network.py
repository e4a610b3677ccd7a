"""`DartsNetwork`: the DARTS evaluation network built from a genotype."""

import keras
import numpy as np

from keras_grow.applications import _conventions
from keras_grow.layers import darts_cells, darts_ops
from keras_grow.search import genotype as genotype_lib


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; expected an int >= {minimum}.")
    return int(value)


@keras.saving.register_keras_serializable(package="keras_grow")
class DartsNetwork(keras.Model):
    """The DARTS evaluation network (CIFAR style) stacked from a genotype's cells.

    A stem (3x3 convolution to `stem_multiplier * channels` and batch
    normalisation), `layers` `GenotypeCell`s — reduction cells (the genotype's
    `reduce` half) at `layers // 3` and `2 * layers // 3`, which double the
    channels — global average pooling and a dense classifier. With
    `auxiliary=True` an `AuxiliaryHead` reads the output of cell
    `2 * layers // 3` during training and its loss, weighted by
    `auxiliary_weight`, is added to the compiled loss (DARTS: 0.4). Drop-path
    drops every non-identity operation's output per sample with the rate held
    in the variable `drop_path_rate` (`callbacks.DropPathScheduler` raises it
    over training, DARTS: to 0.2).

    `parameter_count()` counts trainable parameters without the auxiliary
    head, the convention of the DARTS paper: `DartsNetwork(DARTS_V2,
    channels=36, layers=20, auxiliary=True)` has 3.35 M (paper: 3.3 M); the
    tiny `DartsNetwork(DARTS_V2, channels=4, layers=3, input_shape=(8, 8, 1))`
    has 2 642.

    Reference: Liu, Simonyan & Yang, "DARTS: Differentiable Architecture
    Search", ICLR 2019, section 3.2.

    Args:
        genotype: a `search.Genotype` (or its `to_dict()`).
        channels: initial channels C (36 for DARTS on CIFAR-10).
        layers: number of cells (20 on CIFAR-10).
        auxiliary: add the auxiliary head.
        classes: number of classes.
        input_shape: image shape, built at construction.
        auxiliary_weight: weight of the auxiliary loss.
        drop_path_rate: initial drop-path rate.
        stem_multiplier: stem width as a multiple of `channels`.
        classifier_activation: activation of both classifiers (`None` for logits).
        weights: `None` (random initialisation), the path of a
            `.weights.h5` file, or the name of a DartsNetwork preset
            (`"darts_prime_digits"`: pass its genotype and sizes, see
            `preset_metadata`).
        seed: seed of the drop-path noise.
        include_top: add the dense classifier (`False`: the model outputs the
            globally pooled features of the last cell; no auxiliary head).
        **kwargs: base `keras.Model` arguments.

    Example:

    >>> import numpy as np
    >>> from keras_grow.applications import DartsNetwork
    >>> from keras_grow.search import DARTS_V2
    >>> net = DartsNetwork(DARTS_V2, channels=4, layers=3, input_shape=(8, 8, 1))
    >>> net(np.zeros((2, 8, 8, 1), "float32")).shape
    TensorShape([2, 10])
    """

    def __init__(
        self,
        genotype,
        channels=36,
        layers=20,
        auxiliary=False,
        classes=10,
        input_shape=(32, 32, 3),
        auxiliary_weight=0.4,
        drop_path_rate=0.0,
        stem_multiplier=3,
        classifier_activation="softmax",
        weights=None,
        seed=None,
        include_top=True,
        **kwargs,
    ):
        kwargs.setdefault("name", "darts_network")
        _conventions.check_weights(weights, "DartsNetwork")
        _conventions.check_classifier_activation(classifier_activation)
        _conventions.check_name(kwargs["name"])
        if include_top is not True and include_top is not False:
            raise ValueError(f"include_top={include_top!r} is not allowed; expected True or False.")
        if auxiliary and not include_top:
            raise ValueError(
                "auxiliary=True is not allowed with include_top=False: the auxiliary head is "
                "a second classifier."
            )
        super().__init__(**kwargs)
        self.include_top = include_top
        self.genotype = genotype_lib.check_genotype(genotype).genotype
        self.channels = _check_int(channels, "channels", minimum=2)
        self.num_layers = _check_int(layers, "layers")
        self.auxiliary = bool(auxiliary)
        self.classes = _check_int(classes, "classes")
        if (
            not isinstance(input_shape, (tuple, list))
            or len(input_shape) != 3
            or any(not isinstance(d, (int, np.integer)) or d < 1 for d in input_shape)
        ):
            raise ValueError(
                f"`input_shape`={input_shape!r} is not allowed; expected (height, width, "
                "channels) of positive ints."
            )
        self.image_shape = tuple(int(d) for d in input_shape)
        _conventions.check_positive(auxiliary_weight, "auxiliary_weight")
        self.auxiliary_weight = float(auxiliary_weight)
        if not 0 <= drop_path_rate < 1:
            raise ValueError(
                f"`drop_path_rate`={drop_path_rate!r} is not allowed; expected a number in [0, 1)."
            )
        self.initial_drop_path_rate = float(drop_path_rate)
        self.stem_multiplier = _check_int(stem_multiplier, "stem_multiplier")
        self.classifier_activation = classifier_activation
        self.seed = seed

        self.stem_conv = keras.layers.Conv2D(
            self.stem_multiplier * self.channels,
            3,
            padding="same",
            use_bias=False,
            name="stem_conv",
        )
        self.stem_bn = darts_ops._batch_norm(True, "stem_bn")
        reductions = {self.num_layers // 3, 2 * self.num_layers // 3}
        self.auxiliary_index = 2 * self.num_layers // 3
        self.cells = []
        cell_channels = self.channels
        reduction_prev = False
        for index in range(self.num_layers):
            reduction = index in reductions
            if reduction:
                cell_channels *= 2
            half = "reduce" if reduction else "normal"
            self.cells.append(
                darts_cells.GenotypeCell(
                    cell_channels,
                    getattr(self.genotype, half),
                    getattr(self.genotype, f"{half}_concat"),
                    reduction=reduction,
                    reduction_prev=reduction_prev,
                    seed=None if seed is None else seed + index,
                    name=f"cell_{index}",
                )
            )
            reduction_prev = reduction
        self.auxiliary_head = (
            darts_cells.AuxiliaryHead(
                self.classes, classifier_activation=classifier_activation, name="auxiliary_head"
            )
            if self.auxiliary
            else None
        )
        self.global_pool = keras.layers.GlobalAveragePooling2D(name="global_pool")
        self.classifier = (
            keras.layers.Dense(self.classes, activation=classifier_activation, name="classifier")
            if include_top
            else None
        )
        self._auxiliary_output = None
        self.build((None,) + self.image_shape)
        _conventions.load_weights(self, weights, "DartsNetwork")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.drop_path_rate = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_drop_path_rate),
            trainable=False,
            name="drop_path_rate",
        )
        self.stem_conv.build(input_shape)
        state = self.stem_conv.compute_output_shape(input_shape)
        self.stem_bn.build(state)
        s0 = s1 = state
        for index, cell in enumerate(self.cells):
            cell.build([s0, s1])
            s0, s1 = s1, cell.compute_output_shape([s0, s1])
            if index == self.auxiliary_index and self.auxiliary_head is not None:
                self.auxiliary_head.build(s1)
        if self.classifier is not None:
            self.classifier.build((input_shape[0], s1[-1]))

    def call(self, inputs, training=None):
        s0 = s1 = self.stem_bn(self.stem_conv(inputs))
        auxiliary = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell([s0, s1], drop_path_rate=self.drop_path_rate, training=training)
            if index == self.auxiliary_index and self.auxiliary_head is not None and training:
                auxiliary = self.auxiliary_head(s1)
        # read by compute_loss in the same train step
        self._auxiliary_output = auxiliary
        features = self.global_pool(s1)
        return features if self.classifier is None else self.classifier(features)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss plus, in training, `auxiliary_weight` times the auxiliary loss."""
        loss = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        auxiliary, self._auxiliary_output = self._auxiliary_output, None
        if training and auxiliary is not None and self._compile_loss is not None:
            loss = loss + self.auxiliary_weight * self._compile_loss(y, auxiliary, sample_weight)
        return loss

    def parameter_count(self, include_auxiliary=False):
        """Trainable parameters; without the auxiliary head by default (the DARTS convention)."""
        head = (
            {id(v) for v in self.auxiliary_head.trainable_variables}
            if self.auxiliary_head is not None and not include_auxiliary
            else set()
        )
        return int(sum(np.prod(v.shape) for v in self.trainable_variables if id(v) not in head))

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "genotype": self.genotype.to_dict(),
            "channels": self.channels,
            "layers": self.num_layers,
            "auxiliary": self.auxiliary,
            "classes": self.classes,
            "input_shape": list(self.image_shape),
            "auxiliary_weight": self.auxiliary_weight,
            "drop_path_rate": self.initial_drop_path_rate,
            "stem_multiplier": self.stem_multiplier,
            "classifier_activation": self.classifier_activation,
            "seed": self.seed,
            "include_top": self.include_top,
        }
