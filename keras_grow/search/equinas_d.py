"""EquiNAS_D: differentiable equivariance-aware architecture search (Maile's thesis, Alg. 2).

A network of `MixedEquivariantConv` layers learns, next to its kernels Psi,
how much of each group's convolution every layer uses (the architecture
weights z). `EquiNASD` is a `keras.Model` whose `train_step` alternates two
independent updates on two independently drawn batches: first z (the
`architecture_logits` of every mixed layer) with `arch_optimizer`, then every
other trainable weight with `optimizer`. `ArchitectureHistory` records z per
layer during `fit`.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_grow.layers.mixed_equivariant_conv import DEFAULT_GROUPS, MixedEquivariantConv
from keras_grow.search._backbone import build_backbone

_FIT_ARGUMENTS = ("validation_split",)


def MixedEquivariantCNN(
    groups=DEFAULT_GROUPS,
    input_shape=(28, 28, 1),
    classes=10,
    width=128,
    kernel_size=3,
    dense_units=64,
    pool_after=(2, 4, 6, 8),
    classifier_activation="softmax",
    normalization="channel",
    name="mixed_equivariant_cnn",
):
    """The EquiNAS_D super-network: the thesis backbone with [G]-mixed layers.

    Same skeleton as `keras_grow.applications.EquivariantCNN` (a lifting
    layer and 7 convolutions, group batch norm, ReLU, pooling after every
    other convolution, invariant head), but every convolution is a
    `MixedEquivariantConv` over `groups`. Channel counts are fixed after
    expansion (`width` channels, then `2 * width`), as in the thesis, and the
    feature maps follow the layout of the smallest group containing `groups`
    (D4 for the default set).

    Normalisation. By default (`normalization="channel"`) the batch norms
    keep one statistic (and one `gamma`, `beta`) per channel and the head
    reads every channel (no pooling over the layout's group axis), as for
    the plain convolutional network that a mixed layer is (eq. 12; the
    authors' super-network does the same); the price is that the network is
    not exactly invariant even where z is one-hot on a group (per-channel
    `gamma`/`beta` and head weights need not respect the orbits; the thesis
    reads the result as a plain network with partial equivariance anyway).
    `normalization="orbit"` pools the batch-norm statistics over the orbits
    of the layout group and averages over its group axis before the head, as
    `EquivariantCNN` does; then the network is exactly equivariant to every
    group whose weight is non-zero in all layers, but as long as z gives
    weight to groups smaller than the
    layout group, the |G| channels of an orbit are unrelated features that
    share one mean, variance, `gamma` and `beta` - channels pushed below
    the shared mean die at the ReLU - and the head averages |G| unrelated
    features into one; on rotated MNIST the super-network then hardly
    trains (tutorial 08 has the numbers).

    Args:
        groups: the candidate groups [G] of every layer.
        input_shape: `(height, width, channels)`, square.
        classes: number of classes.
        width: channels of layers 1-4 (multiple of the layout group's order).
        kernel_size: odd kernel size.
        dense_units: units of the hidden dense layer.
        pool_after: 1-based convolutions followed by stride-2 pooling.
        classifier_activation: activation of the output layer.
        normalization: `"channel"` (default) or `"orbit"`, see above.
        name: model name.

    Returns:
        A plain `keras.Model`; wrap it in `EquiNASD` to search.

    Example:

    >>> from keras_grow.search import MixedEquivariantCNN
    >>> net = MixedEquivariantCNN(("C1", "C4"), input_shape=(9, 9, 1), width=8,
    ...                           pool_after=(2, 4))
    >>> net.output_shape
    (None, 10)
    """
    probe = MixedEquivariantConv(1, kernel_size, groups=groups, lifting=True)
    layout = probe.layout_group.name
    if normalization not in ("channel", "orbit"):
        raise ValueError(
            f"`normalization` must be 'channel' or 'orbit'; received {normalization!r}."
        )

    def factory(index, channels, lifting, conv_name):
        return MixedEquivariantConv(
            channels // probe.layout_group.order,
            kernel_size,
            groups=groups,
            lifting=lifting,
            use_bias=False,
            name=conv_name,
        )

    return build_backbone(
        factory,
        layout,
        input_shape,
        classes,
        width,
        dense_units,
        pool_after,
        classifier_activation,
        name,
        normalization_group="C1" if normalization == "channel" else layout,
    )


def mixed_layers(model):
    """The `MixedEquivariantConv` layers of `model`, in graph order."""
    return [layer for layer in model._flatten_layers() if isinstance(layer, MixedEquivariantConv)]


@keras.saving.register_keras_serializable(package="keras_grow")
class EquiNASD(keras.Model):
    """Differentiable equivariance-aware NAS: z and Psi trained alternately inside `fit`.

    Wraps a functional model containing `MixedEquivariantConv` layers (e.g.
    `MixedEquivariantCNN`). Each training step follows Algorithm 2 of Maile's
    thesis (ch. 4.4.2): it first takes a gradient step on the architecture
    weights z (every layer's `architecture_logits`) with `arch_optimizer` on
    an *architecture batch*, then a gradient step on all other trainable
    weights Psi with `optimizer` on a *weight batch*, the two batches drawn
    independently from the training data. The z step uses the current, not
    the optimal, Psi (first-order DARTS). Kernels are weight-normalised with a
    frozen norm inside the mixed layers, so a kernel's scale cannot stand in
    for z. Since z lives on the simplex (softmax of the logits), the trained
    model is exported as one plain convolution per layer (eq. 12) by
    `export_layers()`.

    Data design: `fit(x, y, arch_data=...)` takes the weight data as usual
    (arrays or a `tf.data.Dataset` of `(x, y)` batches) and the architecture
    data as `arch_data` (a `(x, y)` tuple of arrays, batched with the same
    batch size and shuffled with another seed, or a dataset of `(x, y)`
    batches). `arch_data` is repeated, zipped with the weight data, and each
    step receives `((x_w, y_w), (x_z, y_z))`. The thesis draws both from the
    same training split: pass `arch_data=(x_train, y_train)`. Both steps run
    in training mode. The logs gain `arch_loss`, the loss of the z step.

    Reference: Maile, Wilson & Forre, "Equivariance-aware Architectural
    Optimization of Neural Networks" (ICLR 2023).

    Args:
        model: a functional `keras.Model` with at least one
            `MixedEquivariantConv`.
        seed: seed of the shuffling of array inputs.
        **kwargs: base `Model` arguments (`name`).

    Example:

    >>> import keras, numpy as np
    >>> from keras_grow.search import EquiNASD, MixedEquivariantCNN
    >>> backbone = MixedEquivariantCNN(("C1", "C4"), input_shape=(9, 9, 1), width=4,
    ...                                pool_after=(2, 4))
    >>> net = EquiNASD(backbone)
    >>> net.compile(optimizer=keras.optimizers.Adam(0.01),
    ...             arch_optimizer=keras.optimizers.Adam(0.01),
    ...             loss="sparse_categorical_crossentropy")
    >>> x, y = np.zeros((8, 9, 9, 1), "float32"), np.zeros(8, "int64")
    >>> _ = net.fit(x, y, arch_data=(x, y), batch_size=4, epochs=1, verbose=0)
    >>> sorted(net.architecture_weights())
    ['gconv2', 'gconv3', 'gconv4', 'gconv5', 'gconv6', 'gconv7', 'gconv8', 'lift_conv1']
    """

    def __init__(self, *args, seed=0, **kwargs):
        if len(args) == 1 and isinstance(args[0], keras.Model) and "inputs" not in kwargs:
            base = args[0]
            kwargs.setdefault("name", base.name)
            super().__init__(inputs=base.inputs, outputs=base.outputs, **kwargs)
        else:
            super().__init__(*args, **kwargs)
        self.seed = int(seed)
        self.mixed_layers = mixed_layers(self)
        if not self.mixed_layers:
            raise ValueError(
                "EquiNASD needs a model with at least one MixedEquivariantConv layer; received "
                f"a model whose layers are {[type(layer).__name__ for layer in self.layers]}."
            )
        self.arch_optimizer = None
        self.arch_loss_tracker = keras.metrics.Mean(name="arch_loss")

    # ------------------------------------------------------------------ queries
    @property
    def arch_variables(self):
        """The architecture logits of every mixed layer (trained by `arch_optimizer`)."""
        return [v for layer in self.mixed_layers for v in layer.architecture_variables]

    @property
    def weight_variables(self):
        """Every other trainable variable (trained by `optimizer`)."""
        arch = {id(v) for v in self.arch_variables}
        return [v for v in self.trainable_variables if id(v) not in arch]

    def architecture_weights(self):
        """`{layer name: {group name: z_G}}` for every mixed layer (each on the simplex)."""
        return {
            layer.name: dict(
                zip(
                    [g.name for g in layer.groups],
                    keras.ops.convert_to_numpy(layer.architecture_weights).tolist(),
                )
            )
            for layer in self.mixed_layers
        }

    def export_layers(self):
        """`{layer name: plain keras.layers.Conv2D}` computing each mixed layer (eq. 12)."""
        return {layer.name: layer.export() for layer in self.mixed_layers}

    @property
    def metrics(self):
        return [*super().metrics, self.arch_loss_tracker]

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer="adam", arch_optimizer=None, **kwargs):
        """Configure training; `arch_optimizer` updates z, `optimizer` the kernels.

        Args:
            optimizer: optimizer of the weights Psi.
            arch_optimizer: optimizer of the architecture weights z; must be
                a different object from `optimizer` (the thesis uses two Adam
                optimizers with learning rate 0.01). Default: `Adam(0.01)`.
            **kwargs: the other `keras.Model.compile` arguments.
        """
        arch_optimizer = keras.optimizers.get(
            keras.optimizers.Adam(0.01) if arch_optimizer is None else arch_optimizer
        )
        super().compile(optimizer=optimizer, **kwargs)
        if arch_optimizer is self.optimizer:
            raise ValueError(
                "`arch_optimizer` must be a separate optimizer from `optimizer`; received the "
                f"same object {arch_optimizer!r} for both."
            )
        self.arch_optimizer = arch_optimizer

    def get_compile_config(self):
        """The compile arguments, with `arch_optimizer`, so `load_model` recompiles both."""
        config = super().get_compile_config()
        if config and self.arch_optimizer is not None:
            config["arch_optimizer"] = keras.optimizers.serialize(self.arch_optimizer)
        return config

    def compile_from_config(self, config):
        """Recompile from `get_compile_config()` (used by `keras.saving.load_model`)."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:  # create optimizer variables so their saved state can be loaded
            self.optimizer.build(self.weight_variables)
            self.arch_optimizer.build(self.arch_variables)

    # --------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, arch_data=None, shuffle=True, **kwargs):
        """`keras.Model.fit` with an architecture data stream (see the class docstring).

        Args:
            x, y: weight data: arrays (with `y`) or a `tf.data.Dataset` of
                `(x, y)` batches (with `y=None`).
            batch_size: batch size for array inputs (default 32).
            arch_data: architecture data: a `(x, y)` tuple of arrays or a
                `tf.data.Dataset` of `(x, y)` batches. Required.
            shuffle: whether array inputs are reshuffled every epoch.
            **kwargs: the other `keras.Model.fit` arguments
                (`validation_split` is not supported).
        """
        if arch_data is None:
            raise ValueError(
                "EquiNASD.fit needs `arch_data`, the data the architecture weights are trained "
                "on; received arch_data=None. Allowed: a (x, y) tuple of arrays (e.g. the "
                "training arrays again, as in the thesis) or a tf.data.Dataset of (x, y) batches."
            )
        for name in _FIT_ARGUMENTS:
            if kwargs.get(name):
                raise ValueError(
                    f"EquiNASD.fit does not support `{name}`={kwargs[name]!r}; pass "
                    "`validation_data` instead."
                )
        if self.arch_optimizer is None:
            raise ValueError("EquiNASD must be compiled (with `arch_optimizer`) before `fit`.")
        batch_size = 32 if batch_size is None else batch_size
        weights = _as_dataset(x, y, batch_size, shuffle, self.seed, "x")
        if isinstance(arch_data, tf.data.Dataset):
            arch = arch_data
        elif isinstance(arch_data, (tuple, list)) and len(arch_data) == 2:
            x_z, y_z = arch_data
            arch = _as_dataset(x_z, y_z, batch_size, True, self.seed + 1, "arch_data")
        else:
            raise TypeError(
                "`arch_data` must be a (x, y) tuple of arrays or a tf.data.Dataset of (x, y) "
                f"batches; received {type(arch_data).__name__}."
            )
        self.arch_optimizer.build(self.arch_variables)
        data = tf.data.Dataset.zip((weights, arch.repeat()))
        return super().fit(data, shuffle=False, **kwargs)

    # -------------------------------------------------------------- train step
    def train_step(self, data):
        """One z step on the architecture batch, then one Psi step on the weight batch."""
        from keras.src.losses import loss as loss_module

        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError(
                "EquiNASD.train_step expects ((x_w, y_w), (x_z, y_z)); call `fit(..., "
                "arch_data=...)` rather than feeding batches directly."
            )
        (x_w, y_w, sw_w), (x_z, y_z, sw_z) = (
            keras.utils.unpack_x_y_sample_weight(part) for part in data
        )
        arch_variables, weight_variables = self.arch_variables, self.weight_variables

        with tf.GradientTape() as tape:
            y_pred = self(x_z, training=True)
            arch_loss = self._compute_loss(
                x=x_z, y=y_z, y_pred=y_pred, sample_weight=sw_z, training=True
            )
        self.arch_optimizer.apply_gradients(
            zip(tape.gradient(arch_loss, arch_variables), arch_variables)
        )
        self.arch_loss_tracker.update_state(loss_module.unscale_loss_for_distribution(arch_loss))

        with tf.GradientTape() as tape:
            y_pred = self(x_w, training=True)
            loss = self._compute_loss(
                x=x_w, y=y_w, y_pred=y_pred, sample_weight=sw_w, training=True
            )
            batch = tf.shape(tf.nest.flatten(x_w)[0])[0]
            self._loss_tracker.update_state(
                loss_module.unscale_loss_for_distribution(loss), sample_weight=batch
            )
            scaled = self.optimizer.scale_loss(loss)
        self.optimizer.apply_gradients(
            zip(tape.gradient(scaled, weight_variables), weight_variables)
        )
        return self.compute_metrics(x_w, y_w, y_pred, sample_weight=sw_w)

    def test_step(self, data):
        logs = super().test_step(data)
        logs.pop("arch_loss", None)  # only the training step has a z loss
        return logs

    def get_config(self):
        config = super().get_config()
        config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        seed = config.pop("seed", 0)
        model = keras.Model.from_config(config, custom_objects=custom_objects)
        return cls(model, seed=seed)


def _as_dataset(x, y, batch_size, shuffle, seed, argument):
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError(f"`y` must be None when `{argument}` is a tf.data.Dataset.")
        return x
    if x is None or y is None:
        raise ValueError(
            f"`{argument}` must be arrays with labels or a tf.data.Dataset of (x, y) batches; "
            f"received x={type(x).__name__}, y={type(y).__name__}."
        )
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"`{argument}` inputs and labels differ in length: {len(x)} vs {len(y)}.")
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size)


class ArchitectureHistory(keras.callbacks.Callback):
    """Records the architecture weights z of every mixed layer during `fit`.

    One row per training step (`frequency="batch"`) or per epoch
    (`frequency="epoch"`, the default), plus the initial weights as row 0.
    At every epoch end the current z are also written into the logs as
    `z_<layer>_<group>`, so `History`, `CSVLogger` and the progress bar see
    them. `keras_grow.analysis.plot_architecture_weights(callback.weights,
    callback.groups)` draws them (Figs. 15-17 of Maile's thesis).

    Args:
        frequency: `"epoch"` or `"batch"`.

    Attributes:
        weights: `{layer name: array (rows, groups)}`.
        groups: `{layer name: tuple of group names}`.
        steps: training steps (batches seen) of each row.

    Example:

    >>> from keras_grow.search import ArchitectureHistory
    >>> recorder = ArchitectureHistory("batch")
    >>> recorder.frequency
    'batch'
    """

    def __init__(self, frequency="epoch"):
        super().__init__()
        if frequency not in ("epoch", "batch"):
            raise ValueError(f"`frequency` must be 'epoch' or 'batch'; received {frequency!r}.")
        self.frequency = frequency
        self._rows, self.steps, self.groups = {}, [], {}
        self._step = 0

    @property
    def weights(self):
        return {name: np.array(rows) for name, rows in self._rows.items()}

    def _record(self):
        for layer in mixed_layers(self.model):
            z = keras.ops.convert_to_numpy(layer.architecture_weights)
            self._rows.setdefault(layer.name, []).append(z)
        self.steps.append(self._step)

    def on_train_begin(self, logs=None):
        layers = mixed_layers(self.model)
        if not layers:
            raise ValueError("ArchitectureHistory needs a model with MixedEquivariantConv layers.")
        self.groups = {layer.name: tuple(g.name for g in layer.groups) for layer in layers}
        if not self.steps:
            self._record()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.frequency == "batch":
            self._record()

    def on_epoch_end(self, epoch, logs=None):
        if self.frequency == "epoch":
            self._record()
        if logs is not None:
            for name, rows in self._rows.items():
                for group, value in zip(self.groups[name], rows[-1]):
                    logs[f"z_{name}_{group}"] = float(value)
