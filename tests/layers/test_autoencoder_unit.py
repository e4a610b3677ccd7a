"""AutoencoderUnit: masks select exactly the fields, outside weights are kept but unused."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_grow.layers import AutoencoderUnit

SHAPE = (6, 8)


def _unit(fields=((0, 0), (2, 5)), **kwargs):
    unit = AutoencoderUnit(
        4, feature_map_shape=SHAPE, fields=list(fields), field_size=2, seed=0, **kwargs
    )
    unit.build((None, *SHAPE))
    return unit


def _maps(n=5, seed=0):
    return np.random.default_rng(seed).random((n, *SHAPE)).astype("float32")


def test_mask_selects_exactly_the_fields():
    unit = _unit()
    expected = np.zeros(SHAPE, "float32")
    expected[0:2, 0:2] = 1
    expected[2:4, 5:7] = 1
    np.testing.assert_array_equal(unit.field_mask, expected)
    np.testing.assert_array_equal(unit.delta.numpy().reshape(SHAPE), expected)
    # The code depends on in-field cells only, and on every one of them.
    x = _maps()
    base = unit.encode(x).numpy()
    outside = x.copy()
    outside[:, expected == 0] = 123.0
    np.testing.assert_allclose(unit.encode(outside).numpy(), base, rtol=1e-6)
    kernel = unit.encoder_kernel.numpy().reshape(*SHAPE, 4)
    assert np.all(np.abs(kernel[expected == 1]).sum(axis=-1) > 0)


def test_weights_outside_fields_are_kept_but_unused():
    unit = _unit(dropout=0.0)
    x = _maps()
    code, reconstruction = (t.numpy() for t in unit(x))
    outside = unit.field_mask.reshape(-1) == 0
    enc = unit.encoder_kernel.numpy()
    dec = unit.decoder_kernel.numpy()
    bias = unit.decoder_bias.numpy()
    enc[outside] = 7.0
    dec[:, outside] = -3.0
    bias[outside] = 5.0
    unit.encoder_kernel.assign(enc)
    unit.decoder_kernel.assign(dec)
    unit.decoder_bias.assign(bias)
    code2, reconstruction2 = (t.numpy() for t in unit(x))
    np.testing.assert_allclose(code2, code, rtol=1e-6)
    np.testing.assert_allclose(reconstruction2, reconstruction, rtol=1e-6)
    assert np.all(reconstruction2.reshape(len(x), -1)[:, outside] == 0)
    # They are still there: moving a field over them uses them.
    unit.set_fields([(0, 0), (4, 6)])
    assert not np.allclose(unit.encode(x).numpy(), code)
    np.testing.assert_array_equal(unit.encoder_kernel.numpy()[outside], 7.0)


def test_gradients_and_l2_vanish_outside_fields():
    unit = _unit(l2=0.1)
    x = _maps()
    with tf.GradientTape() as tape:
        code, reconstruction = unit(x, training=True)
        loss = unit.reconstruction_loss(x, reconstruction) + unit.regularization_loss()
    names = [v.name for v in unit.trainable_variables]
    grads = dict(zip(names, tape.gradient(loss, unit.trainable_variables), strict=True))
    outside = unit.field_mask.reshape(-1) == 0
    assert np.all(grads["encoder_kernel"].numpy()[outside] == 0)
    assert np.all(grads["decoder_kernel"].numpy()[:, outside] == 0)
    assert np.all(grads["decoder_bias"].numpy()[outside] == 0)
    assert np.any(grads["encoder_kernel"].numpy()[~outside] != 0)


def test_reconstruction_loss_is_mse_over_field_cells():
    unit = _unit()
    x = _maps()
    _, reconstruction = unit(x)
    mask = unit.field_mask.astype(bool)
    expected = np.mean((reconstruction.numpy()[:, mask] - x[:, mask]) ** 2)
    np.testing.assert_allclose(
        float(unit.reconstruction_loss(x, reconstruction)), expected, rtol=1e-5
    )


def test_save_load_round_trip(tmp_path):
    inputs = keras.Input(SHAPE)
    code, reconstruction = AutoencoderUnit(
        3, SHAPE, fields=[(1, 1), (3, 4)], field_size=3, dropout=0.2, l2=1e-3, seed=4
    )(inputs)
    model = keras.Model(inputs, [code, reconstruction])
    x = _maps()
    path = tmp_path / "unit.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    unit = loaded.layers[-1]
    assert isinstance(unit, AutoencoderUnit)
    assert unit.fields == ((1, 1), (3, 4))
    assert (unit.units, unit.field_size, unit.dropout, unit.l2, unit.seed) == (3, 3, 0.2, 1e-3, 4)
    for a, b in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    clone = AutoencoderUnit.from_config(unit.get_config())
    assert clone.get_config() == unit.get_config()


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"fields": [(5, 0)]}, ValueError, ["fields[0]", "(5, 0)", "0..4"]),
        ({"fields": [(0, -1)]}, ValueError, ["fields[0]", "0..6"]),
        ({"fields": [(0, 1.5)]}, TypeError, ["fields[0]"]),
        ({"fields": "ab"}, TypeError, ["fields"]),
        ({"units": 0}, ValueError, ["units=0", ">= 1"]),
        ({"units": 2.0}, TypeError, ["units=2.0"]),
        ({"field_size": 9}, ValueError, ["field_size=9", "between 1 and 6"]),
        ({"dropout": 1.0}, ValueError, ["dropout=1.0", "[0, 1)"]),
        ({"l2": -1.0}, ValueError, ["l2=-1.0"]),
    ],
)
def test_bad_arguments(kwargs, error, words):
    arguments = {"units": 4, "feature_map_shape": SHAPE, "fields": [(0, 0)], "field_size": 2}
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        AutoencoderUnit(**arguments)
    for word in words:
        assert word in str(info.value)


def test_set_fields_validates():
    unit = _unit()
    with pytest.raises(ValueError, match=r"fields\[1\]=\(0, 7\)"):
        unit.set_fields([(0, 0), (0, 7)])
    assert unit.fields == ((0, 0), (2, 5))
