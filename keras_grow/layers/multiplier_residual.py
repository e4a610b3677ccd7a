"""A stack of residual blocks with learnable output multipliers: depth by Miconi's rule."""

import numbers
import warnings

import keras
import numpy as np
from keras import ops

from keras_grow.layers.multiplier_dense import (
    PAPER_MIN_MULTIPLIER,
    PAPER_MULTIPLIER_L1,
    check_min_multiplier,
    check_multiplier_l1,
    check_units,
)

# Optimizer slot kinds holding second moments (see keras_grow.structure.optimizer_state):
# a reused block starts them at its peers' mean, not at 0.
_SECOND_MOMENTS = frozenset({"velocity", "velocity_hat", "accumulator", "accumulated_grad"})


# Deleted blocks are left out of the traced step, so their variables get no
# gradient and Keras' optimizer skips them (that is what makes them free). It
# warns when it does; `_silence_missing_gradients` ignores exactly that
# warning, and only when every variable it lists belongs to a residual stack.
_MISSING_GRADIENTS = (
    r"Gradients do not exist for variables \[('[^']*/(block_\d+_(kernel|bias)_(in|out)"
    r"|multiplier)'(, )?)+\] when minimizing the loss"
)


def _silence_missing_gradients():
    """Install the warning filter (again, if a `catch_warnings` block dropped it)."""
    if not any(
        getattr(entry[1], "pattern", None) == _MISSING_GRADIENTS for entry in warnings.filters
    ):
        warnings.filterwarnings("ignore", message=_MISSING_GRADIENTS, category=UserWarning)


class _ActiveFloor(keras.constraints.Constraint):
    """Floor for active blocks' multipliers; inactive blocks' stay exactly 0."""

    def __init__(self, active, min_value):
        self.active = active
        self.min_value = min_value

    def __call__(self, w):
        floor = ops.cast(self.min_value or 0.0, w.dtype)
        clipped = ops.maximum(w, floor) if self.min_value is not None else w
        return ops.where(ops.cast(self.active, "bool"), clipped, ops.zeros_like(w))


@keras.saving.register_keras_serializable(package="keras_grow")
class MultiplierResidualStack(keras.layers.Layer):
    """Residual blocks with output multipliers, added and deleted like neurons.

    The layer holds `max_blocks` residual blocks of which some are active.
    Each active block `b` updates the residual stream

    ```
    h = activation(x @ kernel_in[b] + bias_in[b])
    x <- x + multiplier[b] * (h @ kernel_out[b] + bias_out[b])
    ```

    in block order. This is the extension of section 5 of Miconi (2016): a
    block's multiplier on its pre-additive output plays the role of a
    neuron's multiplier. The multipliers are penalised by an L1 term
    `multiplier_l1 * sum(|multiplier|)` (a weight regulariser, through
    `layer.losses`) and clipped from below at `min_multiplier` after every
    update; `keras_grow.callbacks.MultiplierResize` deletes blocks whose
    multiplier stays below its deletion threshold and adds a block (random
    weights, multiplier exactly at the threshold) when too few are left in
    reserve, so the network's depth follows the task.

    Cost of structural change: every block's variables exist from `build`,
    but only the active blocks are part of the computation, so a deleted
    block costs nothing — no forward or backward pass and no optimizer
    update (its variables get no gradient, and Keras' optimizer skips them).
    Which blocks are active is fixed when the step is traced: after
    `add_block` / `remove_blocks` the model's compiled functions must be
    rebuilt once. Pass `model=` to those methods (as
    `keras_grow.callbacks.MultiplierResize` does) and they rebuild them and
    reset the new block's optimizer state; eager calls see the change at
    once. An inactive block's multiplier is held at exactly 0, so it adds
    nothing to the L1 penalty. The active flags are a non-trainable variable,
    so saving and loading restore the depth.

    Deleting a block removes its term `multiplier[b] * f_b(x)` from the
    stream; with its multiplier at the floor `min_multiplier` the output
    moves by exactly that (small) term, and not at all with a zero floor.

    `keras_grow.DynamicModel` treats this layer as opaque (its width is tied to
    its input's), so layers feeding it keep their widths; the stack changes
    depth only.

    Reference:
    - [Miconi, 2016](https://arxiv.org/abs/1606.06216), "Neural networks with
      differentiable structure", section 5.
    - [He et al., 2015](https://arxiv.org/abs/1512.03385), residual networks.

    Args:
        max_blocks: int >= 1, the number of block slots (the maximum depth).
        initial_blocks: int in [0, max_blocks], blocks active at the start.
        block_units: int >= 1, the hidden width of every block; `None`: the
            input width.
        activation: the blocks' hidden activation. Default: `"relu"`.
        multiplier_l1: float >= 0, strength of the L1 penalty on the block
            multipliers.
        min_multiplier: float >= 0 or `None`, floor of active blocks'
            multipliers after each update.
        initial_multiplier: float, multiplier of the initially active blocks.
        kernel_initializer: initializer of the blocks' kernels (also used
            when a block is added during training).
        bias_initializer: initializer of the blocks' biases.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: tensor of shape `(..., features)`.

    Input shape:
        N-D tensor `(batch_size, ..., features)`.

    Output shape:
        Same as the input.

    Example:

    ```python
    stack = keras_grow.layers.MultiplierResidualStack(max_blocks=6, initial_blocks=1)
    model = keras_grow.DynamicModel(keras.Sequential([
        keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
        stack, keras.layers.Dense(10),
    ]))
    stack.depth                             # 1
    stack.add_block(multiplier=0.05)        # slot index of the new block
    stack.remove_blocks([0])                # positions among active blocks
    ```
    """

    def __init__(
        self,
        max_blocks=8,
        initial_blocks=1,
        block_units=None,
        activation="relu",
        multiplier_l1=PAPER_MULTIPLIER_L1,
        min_multiplier=PAPER_MIN_MULTIPLIER,
        initial_multiplier=1.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_blocks = check_units(max_blocks, "max_blocks")
        if (
            isinstance(initial_blocks, bool)
            or not isinstance(initial_blocks, numbers.Integral)
            or not 0 <= initial_blocks <= self.max_blocks
        ):
            raise ValueError(
                f"initial_blocks={initial_blocks!r} is not allowed; expected an int in "
                f"[0, max_blocks={self.max_blocks}]."
            )
        self.initial_blocks = int(initial_blocks)
        self.block_units = None if block_units is None else check_units(block_units, "block_units")
        self.activation = keras.activations.get(activation)
        self.multiplier_l1 = check_multiplier_l1(multiplier_l1)
        self.min_multiplier = check_min_multiplier(min_multiplier)
        if isinstance(initial_multiplier, bool) or not isinstance(initial_multiplier, numbers.Real):
            raise ValueError(
                f"initial_multiplier={initial_multiplier!r} is not allowed; expected a real number."
            )
        self.initial_multiplier = float(initial_multiplier)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    # ------------------------------------------------------------------ build

    def build(self, input_shape):
        _silence_missing_gradients()
        features = int(input_shape[-1])
        units = self.block_units or features
        shapes = {
            "kernel_in": ((features, units), self.kernel_initializer),
            "bias_in": ((units,), self.bias_initializer),
            "kernel_out": ((units, features), self.kernel_initializer),
            "bias_out": ((features,), self.bias_initializer),
        }
        self.blocks = []
        for index in range(self.max_blocks):
            self.blocks.append(
                {
                    key: self.add_weight(shape=shape, name=f"block_{index}_{key}", initializer=init)
                    for key, (shape, init) in shapes.items()
                }
            )
        flags = np.arange(self.max_blocks) < self.initial_blocks
        self.active = self.add_weight(
            shape=(self.max_blocks,),
            name="active",
            initializer=keras.initializers.Constant(flags.astype("float32")),
            trainable=False,
        )
        self.multiplier = self.add_weight(
            shape=(self.max_blocks,),
            name="multiplier",
            initializer=keras.initializers.Constant(flags * self.initial_multiplier),
            regularizer=keras.regularizers.L1(self.multiplier_l1) if self.multiplier_l1 else None,
            constraint=_ActiveFloor(self.active, self.min_multiplier),
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: features})
        self._sync_active()

    def _sync_active(self):
        """Read the active flags into the Python list that `call` iterates over."""
        flags = keras.ops.convert_to_numpy(self.active)
        self._active_slots = [int(i) for i in np.flatnonzero(flags > 0.5)]

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._sync_active()

    def set_min_multiplier(self, min_multiplier):
        """Change the floor of active blocks' multipliers (recompile to take effect)."""
        self.min_multiplier = check_min_multiplier(min_multiplier)
        if getattr(self, "multiplier", None) is not None:
            self.multiplier.constraint = _ActiveFloor(self.active, self.min_multiplier)

    # ------------------------------------------------------------------ call

    def _block(self, x, index):
        weights = self.blocks[index]
        hidden = ops.add(ops.matmul(x, weights["kernel_in"]), weights["bias_in"])
        if self.activation is not None:
            hidden = self.activation(hidden)
        update = ops.add(ops.matmul(hidden, weights["kernel_out"]), weights["bias_out"])
        return ops.add(x, ops.multiply(self.multiplier[index], update))

    def call(self, inputs):
        x = inputs
        for index in self._active_slots:  # deleted blocks are not traced at all
            x = self._block(x, index)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # ------------------------------------------------------------ structure

    @property
    def depth(self):
        """Number of active blocks."""
        return len(self.active_blocks())

    def active_blocks(self):
        """Slot indices of the active blocks, in order."""
        return np.asarray(self._active_slots, dtype=int)

    def block_multipliers(self):
        """Multipliers of the active blocks, in order."""
        values = keras.ops.convert_to_numpy(self.multiplier)
        return values[self.active_blocks()]

    def add_block(self, multiplier=0.05, rng=None, model=None):
        """Activate a free block slot with fresh random weights.

        Both kernels are drawn from `kernel_initializer` (seeded from `rng`),
        biases from `bias_initializer`, and the block's multiplier is set to
        `multiplier`. With `model`, the model's compiled functions are
        rebuilt and the block's optimizer slots are reset: first moments to
        0, second moments to the mean of the active blocks' (so the new
        block's first steps are not inflated by Adam's bias correction).

        Args:
            multiplier: the new block's multiplier (Miconi: the deletion
                threshold).
            rng: a `numpy.random.Generator` (default: a fresh one).
            model: the model holding this layer, or `None` (then rebuild its
                compiled functions yourself, e.g.
                `model.make_train_function(force=True)`).

        Returns:
            The slot index of the new block.

        Raises:
            ValueError: if all `max_blocks` blocks are already active.
        """
        free = sorted(set(range(self.max_blocks)) - set(self._active_slots))
        if not free:
            raise ValueError(
                f"Cannot add a block to '{self.name}': all max_blocks={self.max_blocks} "
                "blocks are active."
            )
        rng = np.random.default_rng() if rng is None else rng
        index = free[0]
        optimizer = getattr(model, "optimizer", None)
        existing = self.active_blocks()
        for key, variable in self.blocks[index].items():
            initializer = self.kernel_initializer if "kernel" in key else self.bias_initializer
            initializer = _reseeded(initializer, rng)
            variable.assign(initializer(variable.shape, dtype=variable.dtype))
        self._reset_slots(optimizer, index, existing)
        self._write_flag(index, 1.0, float(multiplier), optimizer)
        _rebuild_compiled_functions(model)
        return index

    def remove_blocks(self, positions, model=None):
        """Deactivate the blocks at `positions` (indices among the active blocks).

        Args:
            positions: int or sequence of ints, positions among the active
                blocks (as in `active_blocks()`).
            model: the model holding this layer, whose compiled functions are
                then rebuilt; or `None` (rebuild them yourself).

        Returns:
            The slot indices of the removed blocks.
        """
        active = self.active_blocks()
        positions = np.atleast_1d(np.asarray(positions))
        if positions.size == 0 or not np.issubdtype(positions.dtype, np.integer):
            raise ValueError(
                f"positions={positions.tolist()} is not allowed; expected a non-empty "
                "sequence of ints."
            )
        if positions.min() < 0 or positions.max() >= active.size:
            raise ValueError(
                f"positions={positions.tolist()} is out of range; expected ints in "
                f"[0, {active.size}) (the active blocks)."
            )
        slots = active[positions]
        optimizer = getattr(model, "optimizer", None)
        for index in slots:
            self._write_flag(int(index), 0.0, 0.0, optimizer)
        _rebuild_compiled_functions(model)
        return slots

    def _write_flag(self, index, flag, multiplier, optimizer):
        active = keras.ops.convert_to_numpy(self.active).copy()
        values = keras.ops.convert_to_numpy(self.multiplier).copy()
        active[index], values[index] = flag, multiplier
        self.active.assign(active)
        self.multiplier.assign(values)
        self._sync_active()
        for slot, kind in _slots(optimizer).get(id(self.multiplier), ()):
            slot_value = keras.ops.convert_to_numpy(slot).copy()
            others = active > 0.5
            others[index] = False
            if kind in _SECOND_MOMENTS and flag and others.any():
                slot_value[index] = slot_value[others].mean()
            else:
                slot_value[index] = values[index] if kind == "average" else 0.0
            slot.assign(slot_value)

    def _reset_slots(self, optimizer, index, existing):
        table = _slots(optimizer)
        for key, variable in self.blocks[index].items():
            for slot, kind in table.get(id(variable), ()):
                value = 0.0
                if kind in _SECOND_MOMENTS:
                    peers = [
                        keras.ops.convert_to_numpy(s).mean()
                        for b in existing
                        for s, k in table.get(id(self.blocks[b][key]), ())
                        if k == kind
                    ]
                    value = float(np.mean(peers)) if peers else 0.0
                elif kind == "average":
                    slot.assign(variable)
                    continue
                slot.assign(ops.full(slot.shape, value, dtype=slot.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(
            max_blocks=self.max_blocks,
            initial_blocks=self.initial_blocks,
            block_units=self.block_units,
            activation=keras.activations.serialize(self.activation),
            multiplier_l1=self.multiplier_l1,
            min_multiplier=self.min_multiplier,
            initial_multiplier=self.initial_multiplier,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


def _rebuild_compiled_functions(model):
    """Make `model` retrace its steps (works from a callback inside `fit`)."""
    if model is None:
        return
    if getattr(model, "optimizer", None) is not None and getattr(model, "compiled", False):
        model.make_train_function(force=True)
    model.test_function = None
    model.predict_function = None


def _reseeded(initializer, rng):
    if hasattr(initializer, "seed") and hasattr(initializer, "get_config"):
        config = {**initializer.get_config(), "seed": int(rng.integers(2**31 - 1))}
        return type(initializer).from_config(config)
    return initializer


def _slots(optimizer):
    """`{id(variable): [(slot, kind)]}` of a built optimizer, else `{}`."""
    from keras_grow.structure import optimizer_state  # layers sit below structure

    if not optimizer_state.is_built(optimizer):
        return {}
    return optimizer_state.slots_by_variable(optimizer)
