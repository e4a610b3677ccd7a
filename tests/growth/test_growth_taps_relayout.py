import keras
import numpy as np
import pytest

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


def test_conv_taps_sample_many_positions_and_align_inputs_with_outputs():
    # 32 rows of 64 maps of 28 × 28: evenly spaced rows alone would all be the
    # top-left corner of every other image (all zero for MNIST-like inputs).
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="c1")(inputs)
    flat = keras.layers.Flatten()(outputs)
    model = keras_grow.DynamicModel(keras.Model(inputs, keras.layers.Dense(2)(flat)), seed=0)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    taps = keras_grow.growth.watch_layers(model, ["c1"], buffer_size=64, rows_per_step=32)
    images = np.zeros((64, 28, 28, 1), "float32")
    images[:, 4:24, 4:24] = np.random.default_rng(0).random((64, 20, 20, 1))
    model.fit(images, np.zeros((64, 2)), batch_size=64, epochs=2, verbose=0, shuffle=False)
    activations, patches = model.activations("c1"), taps.inputs("c1")
    assert activations.shape == (64, 4) and patches.shape == (64, 9)
    kernel = keras.ops.convert_to_numpy(model.get_layer("c1").kernel).reshape(9, 4)
    np.testing.assert_allclose(activations, patches @ kernel, atol=1e-5)
    assert len(np.unique(patches.round(6), axis=0)) > 32  # not one position over and over


@pytest.mark.parametrize(
    "strides, padding, dilation",
    [(2, "same", 1), (1, "same", 2), (2, "valid", 1), (1, "same", 1)],
)
def test_conv_input_patches_match_outputs_at_the_borders(strides, padding, dilation):
    # Nonzero up to the image edges, odd and even sizes: patches that reach
    # into the padding must read zeros there, everywhere else the input.
    inputs = keras.Input((9, 8, 2))
    outputs = keras.layers.Conv2D(
        3, 3, strides=strides, padding=padding, dilation_rate=dilation, use_bias=False, name="c"
    )(inputs)
    flat = keras.layers.Flatten()(outputs)
    model = keras_grow.DynamicModel(keras.Model(inputs, keras.layers.Dense(2)(flat)), seed=0)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    taps = keras_grow.growth.watch_layers(model, ["c"], buffer_size=400, rows_per_step=200)
    images = np.random.default_rng(1).normal(size=(8, 9, 8, 2)).astype("float32")
    model.fit(images, np.zeros((8, 2)), batch_size=8, epochs=2, verbose=0, shuffle=False)
    activations, patches = model.activations("c"), taps.inputs("c")
    kernel = keras.ops.convert_to_numpy(model.get_layer("c").kernel).reshape(-1, 3)
    positions = int(np.prod(model.get_layer("c").output.shape[1:3]))
    assert len(activations) == min(400, 2 * min(200, 8 * positions))
    np.testing.assert_allclose(activations, patches @ kernel, atol=1e-5)
    if padding == "valid":
        assert np.all(patches != 0)
    else:
        assert np.any(patches == 0)  # border patches read the zero padding


@pytest.mark.parametrize("storage", [True, False])
def test_input_rows_follow_a_reallocated_producer_that_is_not_watched(storage):
    # Only h2 is watched (with its inputs); h1, which h2 reads, outgrows its
    # capacity. The input rows of h2 must widen with it (before the fix, the
    # taps followed only reallocations of watched producers: the next step
    # failed with reassignable storage, and the inputs went stale otherwise).
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    x = keras.layers.Dense(3, activation="relu", name="h1")(inputs)
    x = keras.layers.Dense(4, activation="relu", name="h2")(x)
    base = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    model = keras_grow.DynamicModel(base, seed=0, reassignable_storage=storage)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    taps = keras_grow.growth.watch_layers(model, ["h2"], buffer_size=32, rows_per_step=16)
    data = np.random.default_rng(0).random((16, 5)).astype("float32")
    model.fit(data, np.zeros((16, 2)), batch_size=16, verbose=0)
    before = taps.inputs("h2")
    model.add_units("h1", 4)  # 3 -> 7 units: past the capacity, a reallocation
    capacity = model.capacities()["h1"]
    assert capacity >= 7
    after = taps.inputs("h2")
    assert after.shape == (16, capacity)
    np.testing.assert_array_equal(after[:, :3], before[:, :3])
    np.testing.assert_array_equal(after[:, 3:], 0.0)
    model.fit(data, np.zeros((16, 2)), batch_size=16, verbose=0)  # records at the new width
    rows = taps.inputs("h2")
    kernel = keras.ops.convert_to_numpy(model.get_layer("h2").kernel)
    bias = keras.ops.convert_to_numpy(model.get_layer("h2").bias)
    np.testing.assert_allclose(
        model.activations("h2"), np.maximum(rows @ kernel + bias, 0.0), atol=1e-5
    )
