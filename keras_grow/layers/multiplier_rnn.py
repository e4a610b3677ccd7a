"""A fully-connected recurrent cell whose neurons have output multipliers (Miconi)."""

import keras
from keras import ops

from keras_grow.layers.multiplier_dense import (
    PAPER_MIN_MULTIPLIER,
    PAPER_MULTIPLIER_L1,
    add_multiplier_weight,
    check_min_multiplier,
    check_multiplier_l1,
    check_units,
)


@keras.saving.register_keras_serializable(package="keras_grow")
class MultiplierSimpleRNNCell(keras.layers.SimpleRNNCell):
    """`SimpleRNNCell` with a trainable scalar multiplier on every neuron.

    Each neuron's activation is scaled by its multiplier before it leaves the
    neuron, towards the other neurons (recurrent connections) and towards the
    next layer alike:

    ```
    s_t = multiplier * activation(x_t @ kernel + s_{t-1} @ recurrent_kernel + bias)
    ```

    `s_t` is both the cell's output and its state. This is the network of
    Miconi (2016), section 2.1: the multipliers are trained by
    backpropagation through time, penalised by an L1 term
    `multiplier_l1 * sum(|multiplier|)` (through `layer.losses`), and clipped
    from below at `min_multiplier` after every update (`MultiplierFloor`).

    Wrapped in `keras.layers.RNN`, the cell is growable: its `unit_spec()`
    lists the kernel columns, recurrent-kernel columns, bias and multiplier
    as produced axes and the recurrent-kernel rows as the units' recurrent
    fan-out, so `keras_grow.DynamicModel` can add and remove neurons, and
    `keras_grow.callbacks.MultiplierResize` applies the paper's add/delete
    rule. As for `MultiplierDense`, free capacity slots of a DynamicModel are
    inert but their multipliers sit at the floor, adding a constant
    `multiplier_l1 * min_multiplier` each to the loss value (no gradient).

    Reference:
    - [Miconi, 2016](https://arxiv.org/abs/1606.06216), "Neural networks with
      differentiable structure".

    Args:
        units: int >= 1, number of neurons (the paper starts from 1).
        activation: activation function. Default: `"tanh"`.
        use_bias: whether the cell has a bias vector.
        multiplier_l1: float >= 0, strength of the L1 penalty on the
            multipliers (the paper's `A_L1reg = 3e-5`).
        min_multiplier: float >= 0 or `None`, floor of the multipliers after
            each update (the paper's `M_min = 0.025`).
        multiplier_initializer: initializer of the multipliers. Default:
            `"ones"` (the paper's starting neuron has multiplier 1).
        kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed: as for `keras.layers.SimpleRNNCell`.
        **kwargs: base layer arguments.

    Call arguments:
        sequence: tensor of shape `(batch, features)`, one time step.
        states: list with one tensor of shape `(batch, units)`, the previous
            (multiplied) outputs.
        training: Python bool, relevant only with dropout.

    Input shape:
        `(batch, features)` per step; `(batch, timesteps, features)` for the
        wrapping `keras.layers.RNN`.

    Output shape:
        `(batch, units)` per step.

    Example:

    ```python
    cell = keras_grow.layers.MultiplierSimpleRNNCell(units=1)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    model = keras_grow.DynamicModel(
        keras.Sequential([keras.Input((40, 4)), rnn, keras.layers.Dense(4)])
    )
    model.add_units(rnn.name, 2)    # three neurons now
    ```
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        multiplier_l1=PAPER_MULTIPLIER_L1,
        min_multiplier=PAPER_MIN_MULTIPLIER,
        multiplier_initializer="ones",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(
            check_units(units),
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.multiplier_l1 = check_multiplier_l1(multiplier_l1)
        self.min_multiplier = check_min_multiplier(min_multiplier)
        self.multiplier_initializer = keras.initializers.get(multiplier_initializer)

    def build(self, input_shape):
        super().build(input_shape)
        self.multiplier = add_multiplier_weight(self, (self.units,))

    def call(self, sequence, states, training=False):
        output, _ = super().call(sequence, states, training=training)
        output = ops.multiply(output, self.multiplier)
        new_state = [output] if isinstance(states, (list, tuple)) else output
        return output, new_state

    def unit_spec(self):
        """Units index kernel, recurrent-kernel and bias columns, the
        multiplier, and (as recurrent fan-out) the recurrent-kernel rows."""
        from keras_grow.structure import UnitSpec  # layers sit below structure

        return UnitSpec(
            produces=(
                ("kernel", -1),
                ("recurrent_kernel", -1),
                ("bias", 0),
                ("multiplier", 0),
            ),
            consumes=(("kernel", 0),),
            recurrent=(("recurrent_kernel", 0),),
            width_attribute=("units", "state_size", "output_size"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            multiplier_l1=self.multiplier_l1,
            min_multiplier=self.min_multiplier,
            multiplier_initializer=keras.initializers.serialize(self.multiplier_initializer),
        )
        return config
