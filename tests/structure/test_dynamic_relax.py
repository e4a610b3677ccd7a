"""The equivariance relaxation morphism applied mid-training through DynamicModel."""

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.structure import optimizer_state


def _equivariant_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((9, 9, 1))
    x = keras_grow.layers.LiftingConv2D(2, 3, group="D4", name="lift")(inputs)
    x = keras_grow.layers.GroupBatchNormalization(group="D4")(x)
    x = keras.layers.ReLU()(x)
    x = keras_grow.layers.GroupConv2D(2, 3, group="D4", name="gconv")(x)
    x = keras_grow.layers.GroupPooling(group="D4")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(3, name="out")(x), seed=seed)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 9, 9, 1)).astype("float32"), np.arange(16) % 3


@pytest.mark.parametrize("subgroup, fields", [("C4", 4), ("D2", 4), ("D1", 8), ("C1", 16)])
def test_relax_keeps_outputs_and_multiplies_fields(subgroup, fields):
    model = _equivariant_model()
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    before = model.predict(x, verbose=0)
    model.relax("gconv", subgroup)
    layer = model.get_layer("gconv")
    assert layer.group.name == subgroup and layer.filters == fields
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-5)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    event = model.structure_history[-1]
    assert (event.layer, event.operation, event.count) == ("gconv", "relax", fields)


def test_optimizer_slots_follow_the_copied_parameters():
    model = _equivariant_model()
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    kernel = model.get_layer("gconv").kernel

    def slots():
        table = optimizer_state.slots_by_variable(model.optimizer)[id(kernel)]
        return {kind: keras.ops.convert_to_numpy(slot) for slot, kind in table}

    old_kernel, old_slots = keras.ops.convert_to_numpy(kernel).reshape(-1), slots()
    model.relax("gconv", "C2")
    new_kernel = keras.ops.convert_to_numpy(kernel).reshape(-1)
    # Each new parameter copies one old parameter; its slots copy that one's slots.
    for kind, new_slot in slots().items():
        for j, value in enumerate(new_kernel):
            (sources,) = np.nonzero(old_kernel == value)
            assert np.any(np.isclose(old_slots[kind].reshape(-1)[sources], new_slot.reshape(-1)[j]))


def test_relaxed_model_saves_and_load_weights_replays_the_relaxation(tmp_path):
    model = _equivariant_model()
    x, y = _data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.relax("lift", "C4")
    model.relax("gconv", "C1")
    model.save(tmp_path / "relaxed.keras")
    loaded = keras.saving.load_model(tmp_path / "relaxed.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save_weights(tmp_path / "relaxed.weights.h5")
    fresh = _equivariant_model(seed=1)
    fresh.load_weights(tmp_path / "relaxed.weights.h5")
    assert fresh.get_layer("gconv").group.name == "C1"
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize(
    "layer, subgroup, message",
    [
        ("out", "C4", "has no relaxation morphism"),
        ("nope", "C4", "is not a layer"),
        ("gconv", "C3", "C3"),
        ("gconv", "D4x", "D4x"),
    ],
)
def test_bad_relax_requests_change_nothing(layer, subgroup, message):
    model = _equivariant_model()
    model.relax("gconv", "C4")
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=message):
        model.relax(layer, subgroup)
    with pytest.raises(ValueError, match="D2"):
        model.relax("gconv", "D2")  # not a subgroup of C4
    assert model.get_layer("gconv").group.name == "C4"
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
