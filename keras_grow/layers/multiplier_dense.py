"""A Dense layer whose every neuron has a trainable output multiplier (Miconi).

Also defines the pieces every multiplier layer shares: the `MultiplierFloor`
constraint (multipliers clipped from below after each update), the argument
checks, and how a multiplier weight is created.
"""

import numbers

import keras
from keras import ops

PAPER_MULTIPLIER_L1 = 3e-5
PAPER_MIN_MULTIPLIER = 0.025


@keras.saving.register_keras_serializable(package="keras_grow")
class MultiplierFloor(keras.constraints.Constraint):
    """Clips multipliers from below: `w <- max(w, min_value)`.

    Keras optimizers apply a variable's constraint right after each update, so
    a multiplier driven below `min_value` is set back to `min_value` (section
    2.2 of Miconi, 2016). All multipliers therefore stay strictly positive and
    every neuron keeps a small effect on the output, so its weights keep
    receiving gradient.

    Args:
        min_value: float >= 0, the floor.

    Example:

    ```python
    constraint = keras_grow.layers.MultiplierFloor(0.025)
    constraint(keras.ops.array([0.5, 0.01, -1.0]))  # [0.5, 0.025, 0.025]
    ```
    """

    def __init__(self, min_value=PAPER_MIN_MULTIPLIER):
        if min_value is None:
            raise ValueError("min_value=None is not allowed; expected a real number >= 0.")
        self.min_value = check_min_multiplier(min_value, "min_value")

    def __call__(self, w):
        return ops.maximum(w, ops.cast(self.min_value, w.dtype))

    def get_config(self):
        return {"min_value": self.min_value}


def check_multiplier_l1(value, name="multiplier_l1"):
    """Validate an L1 strength: a real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected a real number >= 0.")
    return float(value)


def check_min_multiplier(value, name="min_multiplier"):
    """Validate a multiplier floor: `None` (no floor) or a real number >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(
            f"{name}={value!r} is not allowed; expected None (no floor) or a real number >= 0."
        )
    return float(value)


def check_units(value, name="units"):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected an int >= 1.")
    return int(value)


def add_multiplier_weight(layer, shape, name="multiplier"):
    """Create `layer`'s multiplier variable with its L1 regulariser and floor.

    The L1 penalty `multiplier_l1 * sum(|m|)` is a weight regulariser, so it
    joins the model's loss through `layer.losses` like any other.
    """
    return layer.add_weight(
        shape=shape,
        name=name,
        initializer=layer.multiplier_initializer,
        regularizer=keras.regularizers.L1(layer.multiplier_l1) if layer.multiplier_l1 else None,
        constraint=None if layer.min_multiplier is None else MultiplierFloor(layer.min_multiplier),
    )


def set_multiplier_floor(layer, min_multiplier):
    """Change the floor of `layer`'s multipliers (recompile to take effect)."""
    layer.min_multiplier = check_min_multiplier(min_multiplier)
    variable = getattr(layer, "multiplier", None)
    if variable is not None:
        variable.constraint = (
            None if layer.min_multiplier is None else MultiplierFloor(layer.min_multiplier)
        )


@keras.saving.register_keras_serializable(package="keras_grow")
class MultiplierDense(keras.layers.Layer):
    """Densely-connected layer with a trainable scalar multiplier per neuron.

    Computes `output = activation(inputs @ kernel + bias) * multiplier`, where
    `multiplier` is a vector with one entry per unit. The multipliers are
    trained by backpropagation like the other weights, penalised by an L1
    term `multiplier_l1 * sum(|multiplier|)` (added to the model's loss through
    `layer.losses`), and clipped from below at `min_multiplier` after every
    update (a `MultiplierFloor` constraint). The L1 penalty concentrates the
    weight on few neurons: a neuron whose multiplier falls to the floor is
    "softly deleted", and `keras_grow.callbacks.MultiplierResize` turns such
    soft deletions into real ones (and adds neurons when the network runs out
    of spare ones).

    The layer is growable: its `unit_spec()` lists the kernel columns, bias and
    multiplier as produced axes, so `keras_grow.DynamicModel` can add and
    remove its neurons. With DynamicModel's default `ZeroFanOut` initializer a
    new neuron has zero outgoing weights, so adding it does not change the
    model's function; its multiplier starts at 0 and is lifted to
    `min_multiplier` by the first update.

    Inside a DynamicModel, free capacity slots have zero weights in and out
    (they are inert), but the floor also holds their multipliers at
    `min_multiplier`; each adds a constant `multiplier_l1 * min_multiplier`
    to the loss value (no gradient).

    Reference:
    - [Miconi, 2016](https://arxiv.org/abs/1606.06216), "Neural networks with
      differentiable structure", sections 2.1, 2.2 and 5.

    Args:
        units: int >= 1, number of neurons.
        activation: activation function (name or callable), applied before
            the multiplier. Default: `None` (linear).
        use_bias: whether the layer has a bias vector.
        multiplier_l1: float >= 0, strength of the L1 penalty on the
            multipliers (the paper's `A_L1reg = 3e-5`, there on a loss summed
            over the 40 characters of a sequence).
        min_multiplier: float >= 0 or `None`, the floor multipliers are clipped
            to after each update (the paper's `M_min = 0.025`); `None`: no
            floor.
        multiplier_initializer: initializer of the multipliers. Default:
            `"ones"`.
        kernel_initializer: initializer of the kernel.
        bias_initializer: initializer of the bias.
        kernel_regularizer: regulariser of the kernel.
        bias_regularizer: regulariser of the bias.
        activity_regularizer: regulariser of the output.
        kernel_constraint: constraint of the kernel.
        bias_constraint: constraint of the bias.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(..., input_dim)`.

    Input shape:
        N-D tensor `(batch_size, ..., input_dim)`, N >= 2.

    Output shape:
        N-D tensor `(batch_size, ..., units)`.

    Example:

    ```python
    layer = keras_grow.layers.MultiplierDense(
        8, activation="relu", multiplier_l1=3e-5, min_multiplier=0.025
    )
    y = layer(np.ones((2, 3), "float32"))  # (2, 8)
    layer.multiplier                        # (8,) variable, starts at 1
    layer.losses                            # [3e-5 * sum(|multiplier|)]
    ```
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        multiplier_l1=PAPER_MULTIPLIER_L1,
        min_multiplier=PAPER_MIN_MULTIPLIER,
        multiplier_initializer="ones",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = check_units(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.multiplier_l1 = check_multiplier_l1(multiplier_l1)
        self.min_multiplier = check_min_multiplier(min_multiplier)
        self.multiplier_initializer = keras.initializers.get(multiplier_initializer)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.multiplier = add_multiplier_weight(self, (self.units,))
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        outputs = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return ops.multiply(outputs, self.multiplier)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def unit_spec(self):
        """Kernel columns, bias and multiplier are indexed by this layer's units."""
        from keras_grow.structure import UnitSpec  # layers sit below structure

        return UnitSpec(
            produces=(("kernel", -1), ("bias", 0), ("multiplier", 0)),
            consumes=(("kernel", 0),),
            width_attribute="units",
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            multiplier_l1=self.multiplier_l1,
            min_multiplier=self.min_multiplier,
            multiplier_initializer=keras.initializers.serialize(self.multiplier_initializer),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
            kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
            bias_constraint=keras.constraints.serialize(self.bias_constraint),
        )
        return config
