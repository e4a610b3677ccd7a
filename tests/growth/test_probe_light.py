import numpy as np
import pytest

import keras_grow
from keras_grow import growth
from keras_grow.callbacks import Neurogenesis


def _vgg_like():
    import keras

    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5, activation="relu", name="fc")(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(3, name="out")(x), seed=0)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(16, 8, 8, 2)).astype("float32"), rng.integers(0, 3, 16)


def test_trigger_probe_gives_the_same_gradients_as_the_full_probe():
    model, x, y = _vgg_like()
    probe = growth.GradientProbe(model, ["c1", "c2", "fc"])
    full, light = probe(x, y), probe(x, y, full=False)
    for layer in ("c1", "c2", "fc"):
        assert full[layer].full and not light[layer].full
        np.testing.assert_allclose(
            light[layer].auxiliary_gradient(), full[layer].auxiliary_gradient(), rtol=1e-5
        )
        np.testing.assert_allclose(
            light[layer].unit_gradient_norms, full[layer].unit_gradient_norms, rtol=1e-5
        )
        with pytest.raises(ValueError, match="full=False"):
            _ = light[layer].inputs
        with pytest.raises(ValueError, match="full=False"):
            light[layer].fan_out_gradients(np.zeros((16, 1, 1)))


def test_probe_is_traced_once_per_setting_and_capacity():
    model, x, y = _vgg_like()
    probe = growth.GradientProbe(model, ["c1", "fc"])
    for _ in range(3):
        probe(x, y, full=False)
    assert probe.traces == 1
    for _ in range(2):
        probe(x, y)
    assert probe.traces == 2
    probe(x[:8], y[:8], full=False)  # a new batch shape
    assert probe.traces == 3
    model.reserve("fc", 9)  # a new capacity
    probe(x, y, full=False)
    probe(x, y, full=False)
    assert probe.traces == 4


def test_neurogenesis_probes_light_for_triggers_and_full_for_gradmax(monkeypatch):
    model, x, y = _vgg_like()
    calls = []
    original = growth.GradientProbe.__call__

    def spy(self, x, y, sample_weight=None, full=True):
        calls.append((full, x.shape[0], float(np.sum(x))))
        return original(self, x, y, sample_weight, full=full)

    monkeypatch.setattr(growth.GradientProbe, "__call__", spy)
    callback = Neurogenesis(
        growth.GradientTrigger(scale=1e-9),  # every evaluation grows
        growth.GradMax(),
        layers=["fc"],
        max_units=7,
        every=2,
        data=(x, y),
        probe_size=8,
    )
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])
    assert model.widths()["fc"] == 7
    # evaluation at step 2: a light probe, then the same rows in full for GradMax
    assert [c[0] for c in calls[:2]] == [False, True]
    assert calls[0][1:] == calls[1][1:]
    assert len(calls) == 2  # that event reached max_units: no later evaluation
