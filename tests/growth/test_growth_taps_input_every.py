"""`watch_layers(..., input_every=k)`: inputs of every k-th buffer slot only."""

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow import growth


def _conv_model():
    inputs = keras.Input((9, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", use_bias=False, name="c")(inputs)
    flat = keras.layers.Flatten()(x)
    model = keras_grow.DynamicModel(keras.Model(inputs, keras.layers.Dense(2)(flat)), seed=0)
    model.compile(keras.optimizers.SGD(0.0), "mse")  # weights fixed: outputs checkable
    return model


@pytest.mark.parametrize("every", [2, 4, 5])
def test_conv_patches_of_every_kth_slot_produce_its_activations(every):
    model = _conv_model()
    taps = growth.watch_layers(model, ["c"], buffer_size=100, rows_per_step=30, input_every=every)
    images = np.random.default_rng(1).normal(size=(8, 9, 8, 2)).astype("float32")
    # 30 rows per step into 100 slots: the ring wraps at varying offsets.
    model.fit(images, np.zeros((8, 2)), batch_size=4, epochs=3, verbose=0, shuffle=False)
    activations, patches = model.activations("c"), taps.inputs("c")
    assert activations.shape == (100, 3) and patches.shape == (100 // every, 9 * 2)
    aligned = taps.aligned_activations(activations)
    kernel = keras.ops.convert_to_numpy(model.get_layer("c").kernel).reshape(-1, 3)
    np.testing.assert_allclose(aligned, patches @ kernel, atol=1e-5)


def test_dense_inputs_stay_aligned_with_a_short_last_batch_and_growth():
    keras.utils.set_random_seed(0)
    base = keras_grow.applications.GrowingMLP(input_shape=(8,), hidden=(3, 3), classes=2)
    model = keras_grow.DynamicModel(base, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    taps = growth.watch_layers(
        model, ["hidden1", "hidden2"], buffer_size=32, rows_per_step=16, input_every=4
    )
    x = np.random.default_rng(0).normal(size=(118, 8)).astype("float32")  # last batch: 6
    y = (x[:, 0] > 0).astype(int)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.add_units("hidden1", 6)  # beyond capacity: hidden2's input rows are reallocated
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    inputs = taps.inputs("hidden2")
    active = model.active_units("hidden1")
    # hidden2 reads hidden1's post-activations, recorded in the same steps.
    expected = taps.aligned_activations(model.activations("hidden1"))
    assert inputs.shape == (8, model.capacities()["hidden1"])
    np.testing.assert_array_equal(inputs[:, active], expected)
    context = growth.growth_context(model, "hidden2")
    assert len(context["inputs"]) == len(context["activations"]) == 8


@pytest.mark.parametrize("every", [0, 3, 2.0, True])
def test_input_every_must_divide_the_buffer(every):
    model = _conv_model()
    with pytest.raises(ValueError, match=r"input_every=.*divides buffer_size=100"):
        growth.watch_layers(model, ["c"], buffer_size=100, input_every=every)
    assert model.activation_taps is None


def test_neurogenesis_records_the_inputs_north_select_reads():
    base = keras_grow.applications.GrowingMLP(input_shape=(8,), hidden=(3,), classes=2)
    model = keras_grow.DynamicModel(base, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    seen = {}

    class Inspect(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            seen["every"] = self.model.activation_taps.input_every

    callback = keras_grow.callbacks.Neurogenesis(
        growth.ActivationTrigger(),
        growth.NorthSelect(candidates=10, scoring_rows=64),
        max_units=20,
        buffer_size=256,
        rows_per_step=32,
    )
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    model.fit(x, (x[:, 0] > 0).astype(int), epochs=1, verbose=0, callbacks=[Inspect(), callback])
    assert seen["every"] == 4  # 64 of 256 rows
    assert growth.NorthPre().input_rows_needed(256, 20) == 256
    assert growth.NorthSelect().input_rows_needed(1568, 784) == 1568
    assert growth.NorthSelect().input_rows_needed(2048, 256) == 512
