import keras
import numpy as np

import keras_grow


def test_growth_taps_keep_input_rows_when_a_producer_is_reallocated():
    # GrowthTaps.relayout must gather the *old* columns (conv patches and flattened
    # dense inputs) when a producer group grows beyond its capacity.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", name="c1", activation="relu")(inputs)
    x = keras.layers.Conv2D(3, 3, padding="same", name="c2", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(4, activation="relu", name="d1")(x)
    model = keras_grow.DynamicModel(keras.Model(inputs, keras.layers.Dense(2)(x)), seed=0)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    taps = keras_grow.growth.watch_layers(
        model, ["c1", "c2", "d1"], buffer_size=16, rows_per_step=16
    )
    data = np.random.default_rng(0).random((8, 6, 6, 1)).astype("float32")
    model.fit(data, np.zeros(8, "int64"), batch_size=8, verbose=0)
    c2_before, d1_before = taps.inputs("c2"), taps.inputs("d1")
    model.add_units("c1", 2)  # 3 -> 5 slots of c1: c2's patches widen
    model.add_units("c2", 2)  # d1's flattened input widens (36 positions)
    c2_after, d1_after = taps.inputs("c2"), taps.inputs("d1")
    c1, c2 = model.capacities()["c1"], model.capacities()["c2"]
    assert c1 >= 5 and c2 >= 5
    assert c2_after.shape == (16, 9 * c1) and d1_after.shape == (8, 36 * c2)
    patches = c2_after.reshape(16, 9, c1)
    np.testing.assert_array_equal(patches[:, :, :3], c2_before.reshape(16, 9, 3))
    np.testing.assert_array_equal(patches[:, :, 3:], 0.0)
    flat = d1_after.reshape(8, 36, c2)
    np.testing.assert_array_equal(flat[:, :, :3], d1_before.reshape(8, 36, 3))
    np.testing.assert_array_equal(flat[:, :, 3:], 0.0)
