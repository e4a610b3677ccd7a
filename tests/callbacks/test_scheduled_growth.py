import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.callbacks import ScheduledGrowth


def _model(width=4):
    inputs = keras.Input((6,))
    x = keras.layers.Dense(width, activation="relu", name="h1")(inputs)
    x = keras.layers.Dense(width, activation="relu", name="h2")(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(2, name="out")(x), seed=0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _fit(model, callback, steps=10):
    x = np.random.default_rng(0).normal(size=(4 * steps, 6)).astype("float32")
    y = np.arange(4 * steps) % 2
    return model.fit(x, y, batch_size=4, epochs=1, callbacks=[callback], verbose=0)


def test_grows_every_k_steps_until_max_units():
    model = _model()
    _fit(model, ScheduledGrowth(every=3, units=2, max_units=9), steps=12)
    # Events at steps 3, 6, 9, 12: 4 -> 6 -> 8 -> 9 (capped) -> 9.
    assert model.widths() == {"h1": 9, "h2": 9, "out": 2}
    grown = [e for e in model.structure_history if e.operation == "add_units"]
    assert [(e.step, e.layer, e.count) for e in grown] == [
        (3, "h1", 2),
        (3, "h2", 2),
        (6, "h1", 2),
        (6, "h2", 2),
        (9, "h1", 1),
        (9, "h2", 1),
    ]


def test_reserve_allocates_max_units_up_front_so_growth_never_retraces():
    model = _model()
    functions = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            functions.append(self.model.train_function)

    x = np.zeros((40, 6), "float32")
    model.fit(
        x,
        np.zeros(40),
        batch_size=4,
        epochs=1,
        verbose=0,
        callbacks=[ScheduledGrowth(every=2, units=3, max_units=16), Watch()],
    )
    assert model.capacities()["h1"] == 16
    assert len(set(map(id, functions))) == 1


def test_selected_layers_stop_step_and_per_layer_limits():
    model = _model()
    _fit(model, ScheduledGrowth(every=2, units=1, layers=["h2"], max_units={"h2": 20}, stop_step=6))
    assert model.widths()["h1"] == 4
    assert model.widths()["h2"] == 6  # steps 2 and 4 only


def test_requires_a_dynamic_model():
    inputs = keras.Input((6,))
    plain = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    plain.compile("sgd", "mse")
    with pytest.raises(TypeError, match="must be a keras_grow.DynamicModel"):
        plain.fit(np.zeros((4, 6)), np.zeros((4, 2)), callbacks=[ScheduledGrowth(1, 1)], verbose=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"every": 0, "units": 1}, "every=0"),
        ({"every": 1, "units": -2}, "units=-2"),
        ({"every": 1.5, "units": 1}, "every=1.5"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScheduledGrowth(**kwargs)


def test_max_units_below_current_width_is_rejected_before_any_change():
    model = _model(width=8)
    with pytest.raises(ValueError, match="max_units=5 for layer 'h1'"):
        _fit(model, ScheduledGrowth(every=1, units=1, max_units=5))
    assert model.widths()["h1"] == 8 and model.capacities()["h1"] == 8
