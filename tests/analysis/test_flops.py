import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.analysis import flops


def _cnn():
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(3, 3, padding="valid", use_bias=False, name="c2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5, activation="relu", name="d1")(x)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)


def test_dense_by_hand():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    assert flops(model) == (2 * 4 * 3 + 3) + (2 * 3 * 2 + 2)


def test_cnn_by_hand_per_layer():
    counts = flops(_cnn(), per_layer=True)
    # c1: 64 positions × (2·3·3·2·4 + 4); bn: 2·64·4; c2: 2×2 positions × 2·3·3·4·3 (no bias)
    # d1: 2·(4·3)·5 + 5; out: 2·5·3 + 3
    assert counts == {
        "c1": 64 * (144 + 4),
        "bn": 512,
        "c2": 4 * 216,
        "d1": 125,
        "out": 33,
    }
    assert flops(_cnn()) == sum(counts.values())


def test_dynamic_model_counts_active_units_only():
    model = keras_grow.DynamicModel(_cnn(), seed=0)
    static = flops(model, per_layer=True)
    assert static == flops(_cnn(), per_layer=True)
    model.remove_units("c1", [0])
    model.add_units("d1", 4)  # beyond capacity: capacity 10, width 9
    model.remove_units("c2", [2])
    counts = flops(model, per_layer=True)
    assert counts == {
        "c1": 64 * (2 * 9 * 2 * 3 + 3),
        "bn": 2 * 64 * 3,
        "c2": 4 * (2 * 9 * 3 * 2),
        "d1": 2 * (4 * 2) * 9 + 9,
        "out": 2 * 9 * 3 + 3,
    }
    # the compacted model computes the same, and a fresh plain model of these widths agrees
    model.compact()
    assert flops(model, per_layer=True) == counts


def test_bad_input():
    with pytest.raises(TypeError, match="model="):
        flops(np.zeros(3))
