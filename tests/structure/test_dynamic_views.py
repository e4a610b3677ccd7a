"""Public reads for growth strategies: per-unit weights and installed taps."""

import keras
import numpy as np
import pytest
from topologies import build, sample_inputs

import keras_grow
from keras_grow.structure.activation_taps import ActivationTaps


def test_unit_weights_are_the_active_units_kernel_columns_and_bias():
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("mlp"))
    model.add_units("h1", 3, initializer="zero_fan_out")  # reallocates: 6 -> 12 slots
    model.remove_units("h1", [1, 4])
    layer = model.get_layer("h1")
    slots = model.active_units("h1")
    kernel = keras.ops.convert_to_numpy(layer.kernel)[:, slots].T
    bias = keras.ops.convert_to_numpy(layer.bias)[slots]
    weights = model.unit_weights("h1")
    assert weights.shape == (7, 13)
    np.testing.assert_array_equal(weights, np.concatenate([kernel, bias[:, None]], axis=1))
    np.testing.assert_array_equal(model.unit_weights("h1", include_bias=False), kernel)
    # h2's rows span h1's capacity; entries reading h1's removed or free slots are zero
    h2 = model.unit_weights("h2", include_bias=False)
    expected = keras.ops.convert_to_numpy(model.get_layer("h2").kernel).T
    assert h2.shape == (5, 12)
    np.testing.assert_array_equal(h2, expected)
    inactive = np.setdiff1d(np.arange(12), slots)
    np.testing.assert_array_equal(h2[:, inactive], 0.0)


def test_unit_weights_of_a_convolution_flatten_each_filter():
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("conv_flatten_dense"))
    kernel = keras.ops.convert_to_numpy(model.get_layer("c1").kernel)
    weights = model.unit_weights("c1", include_bias=False)
    assert weights.shape == (kernel.shape[-1], int(np.prod(kernel.shape[:-1])))
    np.testing.assert_array_equal(weights[2], kernel[..., 2].ravel())
    flatten = next(layer.name for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    with pytest.raises(ValueError, match="does not produce units"):
        model.unit_weights(flatten)


def test_install_taps_replaces_the_recording_and_rejects_other_objects():
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("mlp"))
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    assert model.activation_taps is None
    taps = ActivationTaps(model, ["h2"], buffer_size=16, rows_per_step=8)
    model.install_taps(taps)
    assert model.activation_taps is taps
    x = sample_inputs("mlp", 16)
    model.fit(x, np.arange(16) % 3, batch_size=8, epochs=1, shuffle=False, verbose=0)
    probe = keras.Model(model.inputs[0], model.get_layer("h2").output)
    np.testing.assert_allclose(
        model.activations("h2"), keras.ops.convert_to_numpy(probe(x)), atol=1e-6
    )
    with pytest.raises(TypeError, match="taps=5"):
        model.install_taps(5)
    assert model.activation_taps is taps
    model.unwatch()
    assert model.activation_taps is None
