"""`DartsSearchModel`: DARTS and DARTS-PRIME architecture search inside `model.fit`."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_grow.layers import darts_cells, darts_ops
from keras_grow.layers.mixed_op import activate_alphas, check_activation
from keras_grow.search import darts_data, darts_regularizers, darts_schedules
from keras_grow.search import genotype as genotype_lib

KINDS = ("normal", "reduce")


def _check_positive_int(value, argument, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{argument}` must be an int >= {minimum}; received {value!r}.")
    return int(value)


def _default_primitives(activation):
    if activation == "crb":
        return tuple(p for p in darts_ops.DARTS_PRIMITIVES if p != "none")
    return darts_ops.DARTS_PRIMITIVES


def squared_norm(tensors):
    """`sum ||t||²` over dense tensors: the empirical Fisher trace `tr(G Gᵀ)` of eq. 18.

    Tensors of equal shape are stacked first, so the graph grows by two
    nodes per distinct shape rather than per variable (a supernet has
    hundreds of small kernels of a dozen shapes).
    """
    groups = {}
    for t in tensors:
        groups.setdefault(tuple(t.shape), []).append(t)
    parts = [
        2.0 * tf.nn.l2_loss(group[0] if len(group) == 1 else tf.stack(group))
        for group in groups.values()
    ]
    return tf.add_n(parts) if len(parts) > 1 else parts[0]


@keras.saving.register_keras_serializable(package="keras_grow")
class DartsSearchModel(keras.Model):
    """The DARTS search network, trained by bilevel optimisation inside `fit`.

    A stem (3x3 convolution to `stem_multiplier * channels` channels and batch
    normalisation), `layers` `SearchCell`s — reduction cells at `layers // 3`
    and `2 * layers // 3`, which double the channels — global average pooling
    and a dense classifier. Two architecture parameters, `alphas_normal` and
    `alphas_reduce` of shape `(num_edges, len(primitives))`, are shared by all
    cells of their type and activated by `softmax` (DARTS) or `crb`
    (unit-clipped ReLU with a non-affine batch normalisation after every node
    and no `none` primitive, Maile's thesis section 5.2.5).

    **Bilevel training.** `fit(x, y, arch_data=...)` pairs every training batch
    with a batch of `arch_data` (the held-out half of DARTS' split). Each
    train step takes a weight step with `weights_optimizer` on the training
    batch, then asks the schedule (`compile(arch_schedule=...)` or a callback
    such as `callbacks.FisherScheduler`) whether to take an architecture step
    with `arch_optimizer` on the architecture batch; the architecture loss is
    the compiled loss plus the installed regularisers
    (`callbacks.ProximityRegularization`, `callbacks.ADMMRegularization`).
    Architecture gradients are first order by default; `second_order=True`
    uses the unrolled gradient of DARTS eq. 7 with the finite-difference
    Hessian-vector product of eq. 8 (three extra forward/backward passes per α
    step, in training mode, so batch-norm statistics move as in the reference
    code). Everything happens in the compiled train step (the schedule is a
    `tf.cond`), with or without XLA. The Fisher trace is computed from the
    weight gradients as the loss gives them (mixed-precision loss scaling is
    not undone).

    **Progressive pruning (CRB).** `prune_inactive_ops()` removes from the
    forward pass every operation whose α is <= 0 (its clipped weight is 0 and
    gets no gradient); `callbacks.ProgressivePruning` calls it during fit, and
    `fit` adds one at epoch ends when `activation="crb"`. The train function is
    retraced after a pruning, so pruned operations stop costing compute.

    **Derivation.** `genotype()` keeps, for every node, the two strongest
    edges from distinct states and their strongest primitive other than
    `none` (ties: earlier state, then earlier primitive). `alpha_history`
    holds the activated weights recorded by `callbacks.AlphaHistory` (added by
    `fit` at every epoch end unless one is passed).

    References:
    - Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019.
    - Maile, "Dynamic Architectural Optimization of Artificial Neural Networks",
      thesis ch. 5 (DARTS-PRIME: FIMT schedule, proximity and ADMM
      regularisation, CRB activation).

    Args:
        num_classes: number of classes.
        channels: channels of the first cells' states (C; the stem has `stem_multiplier * C`).
        layers: number of cells.
        nodes: intermediate nodes per cell (>= 2).
        primitives: candidate operations; default all eight `DARTS_PRIMITIVES`
            (without `none` for `activation="crb"`).
        multiplier: states concatenated into each cell's output (default `nodes`).
        stem_multiplier: stem width as a multiple of `channels`.
        activation: `"softmax"` or `"crb"`.
        alpha_initializer: initializer of the architecture parameters (default
            N(0, 1e-3) for softmax, N(0.5, 1e-3) for CRB, drawn separately for
            the two cell types; an unseeded custom initializer gives both the
            same values).
        classifier_activation: activation of the classifier (`None` for logits).
        pruned: pruned operations, `{"normal": [[edge, primitive], ...], "reduce": ...}`.
        **kwargs: base `keras.Model` arguments (`name`, ...).

    Example:

    ```python
    search = keras_grow.search.DartsSearchModel(num_classes=10, channels=16, layers=8)
    search.compile(
        weights_optimizer=keras.optimizers.SGD(0.025, momentum=0.9),
        arch_optimizer=keras.optimizers.Adam(3e-4, beta_1=0.5),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    search.fit(train_ds, arch_data=val_ds, epochs=50, callbacks=[
        keras_grow.callbacks.FisherScheduler(),
        keras_grow.callbacks.ProximityRegularization(rho=0.1)])
    genotype = search.genotype()
    ```
    """

    def __init__(
        self,
        num_classes,
        channels=16,
        layers=8,
        nodes=4,
        primitives=None,
        multiplier=None,
        stem_multiplier=3,
        activation="softmax",
        alpha_initializer=None,
        classifier_activation="softmax",
        pruned=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = _check_positive_int(num_classes, "num_classes")
        self.channels = _check_positive_int(channels, "channels", minimum=2)
        self.num_layers = _check_positive_int(layers, "layers")
        self.nodes = darts_cells.check_nodes(nodes)
        self.activation = check_activation(activation)
        if primitives is None:
            primitives = _default_primitives(self.activation)
        self.primitives = darts_ops.check_primitives(
            primitives, allow_none=self.activation != "crb"
        )
        self.multiplier = darts_cells._check_multiplier(multiplier, self.nodes)
        self.stem_multiplier = _check_positive_int(stem_multiplier, "stem_multiplier")
        self.alpha_initializer = (
            None if alpha_initializer is None else keras.initializers.get(alpha_initializer)
        )
        self.classifier_activation = classifier_activation

        stem_channels = self.stem_multiplier * self.channels
        self.stem_conv = keras.layers.Conv2D(
            stem_channels, 3, padding="same", use_bias=False, name="stem_conv"
        )
        self.stem_bn = darts_ops._batch_norm(True, "stem_bn")
        self.cells = []
        cell_channels = self.channels
        reduction_prev = False
        for index in range(self.num_layers):
            reduction = index in self.reduction_indices
            if reduction:
                cell_channels *= 2
            self.cells.append(
                darts_cells.SearchCell(
                    cell_channels,
                    reduction=reduction,
                    reduction_prev=reduction_prev,
                    nodes=self.nodes,
                    primitives=self.primitives,
                    multiplier=self.multiplier,
                    node_batch_norm=self.activation == "crb",
                    name=f"cell_{index}",
                )
            )
            reduction_prev = reduction
        self.global_pool = keras.layers.GlobalAveragePooling2D(name="global_pool")
        self.classifier = keras.layers.Dense(
            self.num_classes, activation=classifier_activation, name="classifier"
        )

        shape = (darts_cells.num_edges(self.nodes), len(self.primitives))
        self._keep = {kind: np.ones(shape, dtype="float32") for kind in KINDS}
        if pruned:
            self._apply_pruned(pruned)
        self.arch_schedule = darts_schedules.AlternatingSchedule()
        self.arch_regularizers = {}
        self.arch_optimizer = None
        self.second_order = False
        self.unrolled_learning_rate = None
        self.alpha_history = []
        self.pruning_history = []
        self.arch_loss_tracker = keras.metrics.Mean(name="arch_loss")
        self.arch_steps_tracker = keras.metrics.Sum(name="arch_steps")
        self._arch_batches_in_data = None
        self._fitting = False

    # ------------------------------------------------------------------ structure

    @property
    def reduction_indices(self):
        """Indices of the reduction cells: `layers // 3` and `2 * layers // 3`."""
        return sorted({self.num_layers // 3, 2 * self.num_layers // 3})

    @property
    def num_edges(self):
        return darts_cells.num_edges(self.nodes)

    @property
    def derivation_exclude(self):
        """Primitives never selected when deriving a genotype."""
        return ("none",) if "none" in self.primitives else ()

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(
                f"DartsSearchModel expects images (batch, height, width, channels); received "
                f"input shape {input_shape}."
            )
        shape = (self.num_edges, len(self.primitives))
        initializer = self.alpha_initializer
        if initializer is None:
            # one SeedGenerator, so the two cell types start from different draws
            mean = 0.5 if self.activation == "crb" else 0.0
            initializer = keras.initializers.RandomNormal(
                mean=mean, stddev=1e-3, seed=keras.random.SeedGenerator()
            )
        self.alphas_normal = self.add_weight(
            shape=shape, initializer=initializer, name="alphas_normal"
        )
        self.alphas_reduce = self.add_weight(
            shape=shape, initializer=initializer, name="alphas_reduce"
        )
        self.stem_conv.build(input_shape)
        state = self.stem_conv.compute_output_shape(input_shape)
        self.stem_bn.build(state)
        s0 = s1 = state
        for cell in self.cells:
            cell.build([s0, s1])
            s0, s1 = s1, cell.compute_output_shape([s0, s1])
        self.classifier.build((input_shape[0], s1[-1]))

    @property
    def arch_variables(self):
        """The architecture parameters `[alphas_normal, alphas_reduce]`."""
        self._require_built("arch_variables")
        return [self.alphas_normal, self.alphas_reduce]

    @property
    def weight_variables(self):
        """Every trainable variable except the architecture parameters."""
        arch = {id(v) for v in self.arch_variables}
        return [v for v in self.trainable_variables if id(v) not in arch]

    def _require_built(self, what):
        if not self.built:
            raise ValueError(
                f"`{what}` needs a built model: call the model on a batch, `build(input_shape)` "
                "or `fit` first."
            )

    def arch_weight_tensors(self):
        """`{"normal": A_n, "reduce": A_r}`: activated weights as tensors (pruned = 0)."""
        self._require_built("arch_weight_tensors")
        return {
            kind: activate_alphas(
                variable,
                self.activation,
                self._keep[kind] if not self._keep[kind].all() else None,
            )
            for kind, variable in zip(KINDS, self.arch_variables)
        }

    def arch_weights(self):
        """`{"normal": ..., "reduce": ...}`: activated weights as NumPy arrays."""
        return {k: ops.convert_to_numpy(v) for k, v in self.arch_weight_tensors().items()}

    def genotype(self):
        """Derive the discrete architecture from the current weights (see class docs)."""
        weights = self.arch_weights()
        return genotype_lib.derive_genotype(
            weights["normal"],
            weights["reduce"],
            self.primitives,
            self.nodes,
            self.multiplier,
            exclude=self.derivation_exclude,
        )

    def call(self, inputs, training=None):
        weights = self.arch_weight_tensors()
        s0 = s1 = self.stem_bn(self.stem_conv(inputs))
        for cell in self.cells:
            cell_weights = weights["reduce"] if cell.reduction else weights["normal"]
            s0, s1 = s1, cell([s0, s1], cell_weights)
        return self.classifier(self.global_pool(s1))

    # ------------------------------------------------------------------ pruning

    @property
    def pruned(self):
        """`{"normal": [[edge, primitive], ...], "reduce": [...]}` of pruned operations."""
        return {
            kind: [
                [int(e), self.primitives[int(p)]]
                for e, p in zip(*np.nonzero(self._keep[kind] == 0))
            ]
            for kind in KINDS
        }

    def active_op_count(self):
        """Operations computed per cell type (excluding `none` and pruned ones)."""
        computed = np.array([p != "none" for p in self.primitives], dtype=bool)
        return {kind: int((self._keep[kind].astype(bool) & computed).sum()) for kind in KINDS}

    def _apply_pruned(self, pruned):
        for kind, entries in pruned.items():
            if kind not in KINDS:
                raise ValueError(f"`pruned` keys must be 'normal' or 'reduce'; received {kind!r}.")
            for edge, primitive in entries:
                if not 0 <= int(edge) < self.num_edges or primitive not in self.primitives:
                    raise ValueError(
                        f"`pruned` entry {[edge, primitive]!r} of {kind!r} is not an (edge, "
                        f"primitive) of this model ({self.num_edges} edges, {self.primitives})."
                    )
                self._keep[kind][int(edge), self.primitives.index(primitive)] = 0.0
        self._sync_cell_pruning()

    def _sync_cell_pruning(self):
        for cell in self.cells:
            keep = self._keep["reduce" if cell.reduction else "normal"]
            cell.prune([[self.primitives[p] for p in np.nonzero(row == 0)[0]] for row in keep])

    def prune_inactive_ops(self):
        """Prune every operation whose architecture parameter is <= 0 (CRB only).

        Returns the number of newly pruned operations (shared by all cells of
        a type). When it is positive the compiled functions are rebuilt, so the
        pruned operations are no longer computed.
        """
        if self.activation != "crb":
            raise ValueError(
                "prune_inactive_ops() needs activation='crb' (with softmax every operation "
                f"keeps a positive weight); this model has activation={self.activation!r}."
            )
        self._require_built("prune_inactive_ops")
        newly = 0
        for kind, variable in zip(KINDS, self.arch_variables):
            inactive = (ops.convert_to_numpy(variable) <= 0) & (self._keep[kind] > 0)
            newly += int(inactive.sum())
            self._keep[kind][inactive] = 0.0
        if newly:
            self._sync_cell_pruning()
            self._invalidate_functions()
        return newly

    # ------------------------------------------------------------------ configuration

    def compile(
        self,
        weights_optimizer=None,
        arch_optimizer=None,
        loss=None,
        metrics=None,
        arch_schedule="alternating",
        second_order=False,
        unrolled_learning_rate=None,
        optimizer=None,
        **kwargs,
    ):
        """Configure the bilevel training.

        Args:
            weights_optimizer: optimizer of the network weights (default DARTS'
                `SGD(0.025, momentum=0.9)`); available as `model.optimizer`.
            arch_optimizer: optimizer of the architecture parameters (default
                DARTS' `Adam(3e-4, beta_1=0.5)`); must be a different object.
            loss, metrics: as in `keras.Model.compile`; the loss is also the
                architecture loss.
            arch_schedule: `"alternating"` (DARTS), an int n (one α step per n
                weight steps; 10 is CS10), `"fisher"`, `"frozen"` or a
                `search.ArchSchedule`. Callbacks such as `FisherScheduler`
                replace it.
            second_order: use DARTS' unrolled (second-order) architecture gradient.
            unrolled_learning_rate: ξ of the unrolled step (default: the
                weights optimizer's current learning rate).
            optimizer: alias of `weights_optimizer`.
            **kwargs: other `keras.Model.compile` arguments (`jit_compile`,
                `steps_per_execution`, ...).
        """
        if optimizer is not None and weights_optimizer is not None:
            raise ValueError(
                "Pass either `weights_optimizer` or its alias `optimizer`, not both; received "
                f"weights_optimizer={weights_optimizer!r} and optimizer={optimizer!r}."
            )
        weights_optimizer = weights_optimizer or optimizer
        if weights_optimizer is None:
            weights_optimizer = keras.optimizers.SGD(0.025, momentum=0.9)
        if arch_optimizer is None:
            arch_optimizer = keras.optimizers.Adam(3e-4, beta_1=0.5)
        weights_optimizer = keras.optimizers.get(weights_optimizer)
        arch_optimizer = keras.optimizers.get(arch_optimizer)
        if arch_optimizer is weights_optimizer:
            raise ValueError(
                "`arch_optimizer` must be a different optimizer object from "
                "`weights_optimizer` (each keeps its own state); received the same object twice."
            )
        if unrolled_learning_rate is not None:
            darts_schedules._check_positive_float(unrolled_learning_rate, "unrolled_learning_rate")
        super().compile(optimizer=weights_optimizer, loss=loss, metrics=metrics, **kwargs)
        self.arch_optimizer = arch_optimizer
        self.second_order = bool(second_order)
        self.unrolled_learning_rate = unrolled_learning_rate
        self.set_arch_schedule(arch_schedule)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is None or self.arch_optimizer is None:
            return config
        return {
            **config,
            "arch_optimizer": keras.optimizers.serialize(self.arch_optimizer),
            "arch_schedule": {
                "name": self.arch_schedule.name,
                "config": self.arch_schedule.get_config(),
            },
            "second_order": self.second_order,
            "unrolled_learning_rate": self.unrolled_learning_rate,
        }

    def compile_from_config(self, config):
        config = dict(config)
        arch_optimizer = keras.optimizers.deserialize(config.pop("arch_optimizer"))
        schedule = config.pop("arch_schedule", {"name": "alternating", "config": {}})
        extra = {
            "second_order": config.pop("second_order", False),
            "unrolled_learning_rate": config.pop("unrolled_learning_rate", None),
        }
        config = keras.saving.deserialize_keras_object(config)
        weights_optimizer = config.pop("optimizer", None)
        self.compile(
            weights_optimizer=weights_optimizer,
            arch_optimizer=arch_optimizer,
            arch_schedule=darts_schedules.get(schedule["name"], **schedule["config"]),
            **extra,
            **config,
        )
        if self.built:
            self.optimizer.build(self.weight_variables)
            self.arch_optimizer.build(self.arch_variables)

    def set_arch_schedule(self, schedule, **kwargs):
        """Install an α-step schedule (object, name or int; see `compile`) and return it."""
        schedule = darts_schedules.get(schedule, **kwargs)
        schedule.build()
        if schedule is not self.arch_schedule:
            self.arch_schedule = schedule
            self._invalidate_functions()
        return schedule

    def set_arch_regularizer(self, regularizer, **kwargs):
        """Install a regulariser of the α step (object or name; one per name) and return it."""
        regularizer = darts_regularizers.get(regularizer, **kwargs)
        if self.arch_regularizers.get(regularizer.name) is not regularizer:
            self.arch_regularizers[regularizer.name] = regularizer
            self._invalidate_functions()
        if self.built:
            regularizer.build(self)
        return regularizer

    def remove_arch_regularizer(self, name):
        """Uninstall the regulariser called `name` (`"proximity"`, `"admm"`)."""
        if name not in self.arch_regularizers:
            raise ValueError(
                f"No architecture regularizer named {name!r}; installed: "
                f"{tuple(self.arch_regularizers)}."
            )
        del self.arch_regularizers[name]
        self._invalidate_functions()

    def _invalidate_functions(self):
        self.train_function = None
        self.test_function = None
        self.predict_function = None
        if self._fitting:
            self.make_train_function(force=True)

    # ------------------------------------------------------------------ training

    def _arch_loss(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        return loss

    def _regularization(self):
        if not self.arch_regularizers:
            return 0.0
        weights = self.arch_weight_tensors()
        return sum(r(self, weights) for r in self.arch_regularizers.values())

    def _first_order_arch_gradients(self, arch_data):
        with tf.GradientTape() as tape:
            loss = self._arch_loss(arch_data)
            total = loss + self._regularization()
        return tape.gradient(total, self.arch_variables), loss

    def _unrolled_learning_rate(self):
        if self.unrolled_learning_rate is not None:
            return ops.cast(self.unrolled_learning_rate, "float32")
        return ops.cast(self.optimizer.learning_rate, "float32")

    def _second_order_arch_gradients(self, train_data, arch_data):
        """DARTS eqs. 7-8: ∇α L_val(w', α) - ξ (∇α L_train(w⁺) - ∇α L_train(w⁻)) / 2ε."""
        variables = self.weight_variables
        alphas = self.arch_variables
        xi = self._unrolled_learning_rate()
        with tf.GradientTape() as tape:
            train_loss = self._arch_loss(train_data)
        grads = tape.gradient(train_loss, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        backup = [tf.identity(v.value) for _, v in pairs]
        for (g, v), w in zip(pairs, backup):
            v.assign(w - xi * g)
        with tf.GradientTape() as tape:
            loss = self._arch_loss(arch_data)
            total = loss + self._regularization()
        direct = tape.gradient(total, alphas + [v for _, v in pairs])
        d_alpha, d_w = direct[: len(alphas)], direct[len(alphas) :]
        d_w = [ops.zeros_like(w) if d is None else d for d, w in zip(d_w, backup)]
        norm = ops.sqrt(squared_norm(d_w))
        epsilon = 0.01 / (norm + 1e-12)

        def alpha_gradient(sign):
            for (_, v), w, d in zip(pairs, backup, d_w):
                v.assign(w + sign * epsilon * d)
            with tf.GradientTape() as tape:
                loss_t = self._arch_loss(train_data)
            return tape.gradient(loss_t, alphas)

        plus = alpha_gradient(1.0)
        minus = alpha_gradient(-1.0)
        for (_, v), w in zip(pairs, backup):
            v.assign(w)
        gradients = []
        for da, gp, gm in zip(d_alpha, plus, minus):
            if da is None or gp is None:
                gradients.append(da)
            else:
                gradients.append(da - xi * (gp - gm) / (2.0 * epsilon))
        return gradients, loss

    def _arch_step(self, train_data, arch_data):
        if self.second_order:
            gradients, loss = self._second_order_arch_gradients(train_data, arch_data)
        else:
            gradients, loss = self._first_order_arch_gradients(arch_data)
        # a network without normal (or reduction) cells leaves that α without gradient
        pairs = [(g, v) for g, v in zip(gradients, self.arch_variables) if g is not None]
        self.arch_optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
        if self.arch_regularizers:
            weights = self.arch_weight_tensors()
            for regularizer in self.arch_regularizers.values():
                regularizer.after_arch_step(self, weights)
        self.arch_loss_tracker.update_state(loss)
        self.arch_steps_tracker.update_state(1.0)
        return ops.cast(loss, "float32")

    def train_step(self, data):
        if self._arch_batches_in_data:
            train_data, arch_data = data
        else:
            train_data, arch_data = data, None
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(train_data)
        schedule = self.arch_schedule

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            if self._loss_tracker is not None:
                self._loss_tracker.update_state(loss, sample_weight=ops.shape(x)[0])
            scaled = self.optimizer.scale_loss(loss)
        variables = self.weight_variables
        gradients = tape.gradient(scaled, variables)
        # operations pruned by CRB are not in the graph: no gradient, no update
        pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
        self.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])

        if arch_data is not None:
            fisher = None
            if schedule.needs_fisher:
                fisher = squared_norm([g for g, _ in pairs])
            take_step = schedule.should_step(fisher)
            if isinstance(take_step, bool):
                if take_step:
                    self._arch_step(train_data, arch_data)
            else:
                ops.cond(
                    take_step,
                    lambda: self._arch_step(train_data, arch_data),
                    lambda: ops.zeros((), "float32"),
                )
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        logs = super().test_step(data)
        return {k: v for k, v in logs.items() if k not in ("arch_loss", "arch_steps")}

    def _set_arch_batches(self, present):
        if self._arch_batches_in_data != present:
            self._arch_batches_in_data = present
            self.train_function = None

    def _prepare(self, input_shape):
        if not self.built:
            self.build((None,) + tuple(input_shape[1:]))
        if self.optimizer is None or self.arch_optimizer is None:
            raise ValueError(
                "You must call `compile()` (with weights and architecture optimizers) before "
                "`fit()`."
            )
        if not self.optimizer.built:
            self.optimizer.build(self.weight_variables)
        if not self.arch_optimizer.built:
            self.arch_optimizer.build(self.arch_variables)
        self.arch_schedule.build()
        for regularizer in self.arch_regularizers.values():
            regularizer.build(self)

    def fit(
        self,
        x=None,
        y=None,
        arch_data=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Search: weight steps on `x`, architecture steps on `arch_data`.

        Args:
            x, y, sample_weight: training data, as arrays or as a batched
                `tf.data.Dataset` of `(x, y[, sample_weight])` (then `y` is None).
            arch_data: architecture data, `(x_val, y_val[, w])` arrays or a
                batched `tf.data.Dataset`; repeated as needed. Required unless
                the schedule is `"frozen"`.
            batch_size: batch size for array inputs (default 32; both splits).
            shuffle: reshuffle array inputs each epoch.
            Other arguments: as in `keras.Model.fit`. `class_weight` and
            `validation_split` are not supported together with `arch_data`.

        Returns:
            The `History`.
        """
        callbacks = list(callbacks or [])
        if self.optimizer is None or self.arch_optimizer is None:
            raise ValueError(
                "You must call `compile()` (with weights and architecture optimizers) before "
                "`fit()`."
            )
        # callbacks install their schedule / regularisers first (the checks below depend
        # on them); a bad argument puts the previous ones back
        previous = (self.arch_schedule, dict(self.arch_regularizers))
        try:
            for callback in callbacks:
                if hasattr(callback, "configure_search"):
                    callback.configure_search(self)
            x, y, sample_weight, batch_size, shuffle, input_shape = self._fit_inputs(
                x, y, arch_data, sample_weight, batch_size, shuffle, class_weight, validation_split
            )
        except (ValueError, TypeError):
            if (self.arch_schedule, self.arch_regularizers) != previous:
                self.arch_schedule, self.arch_regularizers = previous[0], previous[1]
                self._invalidate_functions()
            raise
        self._prepare(input_shape)
        callbacks = self._default_callbacks(callbacks)
        self._fitting = True
        try:
            return super().fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=verbose,
                callbacks=callbacks,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=shuffle,
                class_weight=class_weight,
                sample_weight=sample_weight,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch,
                validation_steps=validation_steps,
                validation_batch_size=validation_batch_size,
                validation_freq=validation_freq,
            )
        finally:
            self._fitting = False

    def _fit_inputs(
        self, x, y, arch_data, sample_weight, batch_size, shuffle, class_weight, validation_split
    ):
        """Check `fit`'s data against the schedule; pair the batches when α steps need them."""
        schedule = self.arch_schedule
        if schedule.needs_arch_data:
            if arch_data is None:
                raise ValueError(
                    f"`arch_data`=None, but the {schedule!r} schedule takes architecture steps "
                    "on batches of arch_data. Pass arch_data=(x_val, y_val) or a batched "
                    "tf.data.Dataset, or use compile(arch_schedule='frozen') to train the "
                    "weights only."
                )
            if class_weight is not None:
                raise ValueError(
                    f"`class_weight`={class_weight!r} is not supported with `arch_data`; put "
                    "sample weights into the training data instead."
                )
            if validation_split:
                raise ValueError(
                    f"`validation_split`={validation_split!r} is not supported with "
                    "`arch_data`; pass `validation_data`."
                )
            train = darts_data.as_batched_dataset(x, y, sample_weight, batch_size, shuffle, "x")
            arch = darts_data.as_batched_dataset(
                arch_data, None, None, batch_size, shuffle, "arch_data"
            )
            x = darts_data.zip_with_arch_data(train, arch)
            y = sample_weight = batch_size = None
            shuffle = False  # done by the datasets above
            input_shape = darts_data.first_input_shape(x)
            self._set_arch_batches(True)
        else:
            if isinstance(x, tf.data.Dataset):
                input_shape = darts_data.first_input_shape(x)
            else:
                input_shape = np.shape(x)
            self._set_arch_batches(False)
        return x, y, sample_weight, batch_size, shuffle, input_shape

    def _default_callbacks(self, callbacks):
        from keras_grow.callbacks.darts import AlphaHistory, ProgressivePruning

        if not any(isinstance(c, AlphaHistory) for c in callbacks):
            callbacks.append(AlphaHistory())
        if self.activation == "crb" and not any(
            isinstance(c, ProgressivePruning) for c in callbacks
        ):
            callbacks.append(ProgressivePruning())
        return callbacks

    # ------------------------------------------------------------------ saving

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "channels": self.channels,
            "layers": self.num_layers,
            "nodes": self.nodes,
            "primitives": list(self.primitives),
            "multiplier": self.multiplier,
            "stem_multiplier": self.stem_multiplier,
            "activation": self.activation,
            "alpha_initializer": (
                None
                if self.alpha_initializer is None
                else keras.initializers.serialize(self.alpha_initializer)
            ),
            "classifier_activation": self.classifier_activation,
            "pruned": self.pruned,
        }
        return config
