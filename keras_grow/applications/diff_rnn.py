"""DiffRNN: Miconi's self-sizing recurrent network, keras.applications style."""

import numbers

import keras

from keras_grow.applications import _conventions
from keras_grow.layers.multiplier_dense import PAPER_MIN_MULTIPLIER
from keras_grow.layers.multiplier_rnn import MultiplierSimpleRNNCell
from keras_grow.structure import DynamicModel

PAPER_RULE = {
    "deletion_threshold": 0.05,
    "reserve": 1,
    "min_multiplier": PAPER_MIN_MULTIPLIER,
    "p_add": 0.05,
    "p_del": 0.25,
}
"""The add/delete rule's parameters in Miconi (2016), section 2.2, as
`keras_grow.callbacks.MultiplierResize` arguments."""

MULTIPLIER_L1 = 3e-4
"""The paper's `A_L1reg = 3e-5` as an effective strength on Keras' per-character mean loss
against the exact gradient (see `DiffRNN`)."""


def DiffRNN(
    input_shape=(40, 4),
    classes=4,
    units=1,
    multiplier_l1=MULTIPLIER_L1,
    min_multiplier=PAPER_MIN_MULTIPLIER,
    weight_stddev=0.01,
    classifier_activation="softmax",
    return_sequences=True,
    capacity=8,
    seed=None,
    weights=None,
    name="diff_rnn",
    include_top=True,
):
    """Instantiates Miconi's differentiable-structure recurrent network.

    A fully-connected recurrent layer of `MultiplierSimpleRNNCell` neurons
    (tanh, each with a trainable output multiplier under an L1 penalty and a
    floor) feeding a dense output layer, wrapped in a
    `keras_grow.DynamicModel` so that
    `keras_grow.callbacks.MultiplierResize` can add and delete neurons while
    it trains. With the defaults it is the paper's next-character predictor
    for the parenthesis tasks: 40-character windows of a 4-letter alphabet,
    one-hot encoded, one starting neuron with multiplier 1, weights drawn
    from `N(0, 0.01^2)` as in `min-char-rnn`, one prediction per character.

    Pair it with `MultiplierResize(**PAPER_RULE)` for the paper's rule
    (`T_D = 0.05, k = 1, M_min = 0.025, P_add = 0.05, P_del = 0.25`).

    Scale of the L1 penalty. In the author's code for the paper's
    experiments (Adagrad, learning rate 0.1, gradients clipped to +-5, one
    40-character window per update), the penalty's gradient
    `A_L1reg * sign(m)` is added once per character, next to an error term
    summed over the 40 characters, so on a per-character *mean* loss the
    same balance is `A_L1reg = 3e-5` itself. Two details of that code make
    the effective pressure stronger: its error term for a multiplier is
    `dL/d(m h_t) * m` (the exact derivative has `h_t` where it has `m`), so
    for a neuron near the deletion threshold (`m = 0.05`, `|h_t|` of order
    0.5) it is about 10 times smaller than the exact gradient; and a later
    variant in the same repository scales the exact error term by 0.1. Both
    amount to a penalty about 10 times the literal one against the exact
    gradient, hence the default here, `multiplier_l1 = 3e-4` on Keras' mean
    cross-entropy. (The layers' own default, `3e-5`, is the paper's number
    taken literally.) Adaptive optimizers are invariant to a common factor
    of both terms, so only their ratio matters.

    Reference:
    - [Miconi, 2016](https://arxiv.org/abs/1606.06216), "Neural networks with
      differentiable structure".

    Args:
        input_shape: `(timesteps, features)`; `timesteps` may be `None`.
            Default: `(40, 4)`.
        classes: int >= 1, the number of output classes (characters).
        units: int >= 1, the initial number of recurrent neurons (paper: 1).
        multiplier_l1: float >= 0, strength of the multipliers' L1 penalty
            on a per-character mean loss (default: the paper's, converted).
        min_multiplier: float >= 0 or `None`, the multipliers' floor.
        weight_stddev: float > 0, standard deviation of the normal initial
            weights (input, recurrent and output kernels); `None`: Keras'
            defaults (Glorot / orthogonal).
        classifier_activation: activation of the output layer; `None` returns
            logits. Default: `"softmax"`.
        return_sequences: predict at every time step (`True`, the paper) or
            only after the last one.
        capacity: `None` or int >= `units`: recurrent unit slots allocated up
            front (free slots are inert). Growth within the capacity costs no
            reallocation or retrace (which matters most under XLA); beyond
            it, DynamicModel reallocates geometrically. Default: 8.
        seed: int or `None`, seeds the initial weights and DynamicModel's
            draws.
        weights: `None` (random initialisation) or the path of a
            `.weights.h5` file saved from a DiffRNN of the same widths.
        name: the model's name.
        include_top: add the dense output layer (`False`: the model outputs
            the recurrent neurons' states).

    Returns:
        A `keras_grow.DynamicModel` with layers `"recurrent"` (the growable
        `keras.layers.RNN`) and `"predictions"`.

    Example:

    ```python
    inputs, targets = keras_grow.datasets.parenthesis_sequences("hard", 3000)
    x = keras_grow.datasets.parenthesis_one_hot(inputs)
    model = keras_grow.applications.DiffRNN(seed=0)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, targets, batch_size=16, callbacks=[
        keras_grow.callbacks.MultiplierResize(**keras_grow.applications.diff_rnn.PAPER_RULE, seed=0)
    ])
    model.widths()["recurrent"]
    ```
    """
    _conventions.check_weights(weights, "DiffRNN")
    _conventions.check_classifier_activation(classifier_activation)
    _conventions.check_name(name)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
        raise ValueError(
            f"input_shape={input_shape!r} is not allowed; expected (timesteps, features)."
        )
    if weight_stddev is not None and (
        isinstance(weight_stddev, bool)
        or not isinstance(weight_stddev, numbers.Real)
        or not weight_stddev > 0
    ):
        raise ValueError(
            f"weight_stddev={weight_stddev!r} is not allowed; expected None or a number > 0."
        )
    _conventions.check_classes(classes, include_top)

    def initializer(offset):
        if weight_stddev is None:
            return None
        return keras.initializers.RandomNormal(
            stddev=weight_stddev, seed=None if seed is None else int(seed) + offset
        )

    kernels = {}
    if weight_stddev is not None:
        kernels = {"kernel_initializer": initializer(0), "recurrent_initializer": initializer(1)}
    cell = MultiplierSimpleRNNCell(
        units, multiplier_l1=multiplier_l1, min_multiplier=min_multiplier, **kernels
    )
    recurrent = keras.layers.RNN(cell, return_sequences=return_sequences, name="recurrent")
    head = keras.layers.Dense(
        classes,
        activation=classifier_activation,
        kernel_initializer=initializer(2) or "glorot_uniform",
        name="predictions",
    )
    layers = [keras.Input(tuple(input_shape)), recurrent] + ([head] if include_top else [])
    base = keras.Sequential(layers, name=name)
    model = DynamicModel(base, seed=seed, name=name)
    if capacity is not None:
        if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral) or capacity < 1:
            raise ValueError(f"capacity={capacity!r} is not allowed; expected None or an int >= 1.")
        if capacity > units and include_top:
            model.reserve("recurrent", int(capacity), reason="DiffRNN initial capacity")
    return _conventions.load_weights(model, weights, "DiffRNN")
