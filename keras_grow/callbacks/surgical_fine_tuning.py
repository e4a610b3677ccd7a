"""Surgical fine-tuning with Auto-RGN layer-wise learning rates (Lee et al., 2023)."""

import keras
import tensorflow as tf


class SurgicalFineTuning(keras.callbacks.Callback):
    """Scale each layer's learning rate by its relative gradient norm (Auto-RGN).

    At every training step, for each layer `i` with trainable weights
    (kernel and bias together, batch-norm scale and offset together), the
    relative gradient norm is `RGN_i = ||g_i|| / ||θ_i||`, and the layer's
    learning rate is `lr · RGN_i / max_j RGN_j`: the layer that moves most
    relative to its size trains at the full rate, the others slower (Lee et
    al.'s "Auto-RGN", used by Maile's thesis section 7.3 as "SFT").

    How it plugs in: Keras 3 optimizers have one learning rate; this callback
    wraps the model optimizer's `apply` (computes the scales from the step's
    gradients into a non-trainable vector) and `update_step` (passes
    `learning_rate · scale[layer]` for each variable). The model's own
    `train_step`, `fit` loop, gradient masks and `jit_compile` stay as they
    are; the train function is rebuilt when training starts and the wrap is
    removed when it ends. The layer of each variable is looked up by the
    variable's path at trace time, so it keeps working when a `DynamicModel`
    reallocates variables (and so composes with `GrowAndPrune`).
    Decoupled weight decay (`AdamW`, `weight_decay=`) is applied by Keras
    with the unscaled learning rate.

    The latest scales are in `scales()` and (per epoch) in the logs as
    `rgn_scale_<layer>` when `log_scales=True`.

    Reference:
    - Lee, Chen, Tajwar, Kumar, Yao, Liang, Finn, "Surgical Fine-Tuning
      Improves Adaptation to Distribution Shifts", ICLR 2023.
    - Maile, PhD thesis, 2023, section 7.3.

    Args:
        epsilon: float > 0 added to the parameter norm (a layer whose weights
            are all zero would otherwise divide by zero).
        log_scales: write each layer's last scale into the epoch logs.

    Example:

    ```python
    model.compile(keras.optimizers.Adam(3e-4), "sparse_categorical_crossentropy")
    model.fit(x, y, callbacks=[keras_grow.callbacks.SurgicalFineTuning()])
    ```
    """

    def __init__(self, epsilon=1e-12, log_scales=False):
        super().__init__()
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"epsilon={epsilon!r} is not allowed; expected a number > 0.")
        self.epsilon = float(epsilon)
        self.log_scales = bool(log_scales)
        self.layer_names = []
        self._scale = None
        self._wrapped = None

    # ------------------------------------------------------------ training

    def on_train_begin(self, logs=None):
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            raise ValueError("SurgicalFineTuning needs a compiled model (model.optimizer is None).")
        self.layer_names = [layer.name for layer in model.layers if layer.trainable_weights]
        with model.distribute_strategy.scope():
            self._scale = tf.Variable(
                tf.ones(len(self.layer_names)), trainable=False, name="rgn_scale"
            )
        self._wrap(optimizer)
        model.make_train_function(force=True)

    def on_train_end(self, logs=None):
        self._unwrap()
        self.model.make_train_function(force=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.log_scales and logs is not None:
            for name, value in self.scales().items():
                logs[f"rgn_scale_{name}"] = value

    def scales(self):
        """`{layer name: learning-rate scale}` of the last training step."""
        if self._scale is None:
            return {}
        values = self._scale.numpy()
        return {name: float(v) for name, v in zip(self.layer_names, values)}

    # -------------------------------------------------------------- wrapping

    def _layer_index_of_path(self):
        index = {}
        for position, name in enumerate(self.layer_names):
            for variable in self.model.get_layer(name).trainable_weights:
                index[variable.path] = position
        return index

    def _wrap(self, optimizer):
        self._unwrap()
        original_apply = optimizer.apply
        original_update = optimizer.update_step
        callback = self

        def apply(grads, trainable_variables=None):
            variables = (
                optimizer._trainable_variables
                if trainable_variables is None
                else list(trainable_variables)
            )
            callback._assign_scales(list(grads), variables)
            return original_apply(grads, trainable_variables)

        def update_step(gradient, variable, learning_rate):
            position = callback._position_of(optimizer, variable)
            if position is not None:
                scale = tf.cast(callback._scale[position], tf.as_dtype(variable.dtype))
                learning_rate = tf.cast(learning_rate, tf.as_dtype(variable.dtype)) * scale
            return original_update(gradient, variable, learning_rate)

        optimizer.apply = apply
        optimizer.update_step = update_step
        self._wrapped = optimizer

    def _unwrap(self):
        optimizer = self._wrapped
        if optimizer is not None:
            for attribute in ("apply", "update_step"):
                optimizer.__dict__.pop(attribute, None)
            self._wrapped = None

    def _position_of(self, optimizer, variable):
        """Layer position of an optimizer variable (at trace time, by path)."""
        index = optimizer._get_variable_index(variable)
        path = optimizer._trainable_variables[index].path
        return self._layer_index_of_path().get(path)

    def _assign_scales(self, grads, variables):
        """Compute Auto-RGN scales from this step's gradients (traced ops)."""
        paths = self._layer_index_of_path()
        grad_sq = [tf.constant(0.0) for _ in self.layer_names]
        param_sq = [tf.constant(0.0) for _ in self.layer_names]
        for gradient, variable in zip(grads, variables):
            position = paths.get(variable.path)
            if position is None or gradient is None:
                continue
            gradient = tf.convert_to_tensor(gradient)  # also densifies IndexedSlices
            value = tf.cast(tf.convert_to_tensor(variable), tf.float32)
            grad_sq[position] += tf.reduce_sum(tf.square(tf.cast(gradient, tf.float32)))
            param_sq[position] += tf.reduce_sum(tf.square(value))
        rgn = tf.sqrt(tf.stack(grad_sq)) / (tf.sqrt(tf.stack(param_sq)) + self.epsilon)
        largest = tf.reduce_max(rgn)
        scale = tf.where(largest > 0, rgn / tf.maximum(largest, 1e-30), tf.ones_like(rgn))
        self._scale.assign(scale)

    def get_config(self):
        return {"epsilon": self.epsilon, "log_scales": self.log_scales}
