"""Bad requests raise clear errors and change nothing."""

import keras
import numpy as np
import pytest
from topologies import build, sample_inputs

import keras_grow


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("conv_flatten_dense"))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(sample_inputs("conv_flatten_dense", 16), np.arange(16) % 3, epochs=1, verbose=0)
    return model


def _snapshot(model):
    return (
        [keras.ops.convert_to_numpy(v).copy() for v in model.variables],
        [keras.ops.convert_to_numpy(v).copy() for v in model.optimizer.variables],
        model.widths(),
        model.capacities(),
        len(model.structure_history),
    )


def _assert_unchanged(model, snapshot):
    weights, slots, widths, capacities, events = snapshot
    after = _snapshot(model)
    assert len(after[0]) == len(weights) and len(after[1]) == len(slots)
    for a, b in zip(after[0] + after[1], weights + slots):
        np.testing.assert_array_equal(a, b)
    assert after[2:] == (widths, capacities, events)


class BrokenInitializer:
    def __call__(self, request):
        (use, *_) = request.fan_in
        return {use: np.ones((1, 2, 3))}


CASES = [
    (lambda m: m.add_units("nope", 2), ValueError, "layer_name='nope' is not a layer"),
    (lambda m: m.add_units(3, 2), TypeError, "layer_name=3"),
    (lambda m: m.add_units("flatten", 2), ValueError, "does not produce units"),
    (lambda m: m.add_units("out", 2), ValueError, "feed a model output"),
    (lambda m: m.add_units("c1", 0), ValueError, "n=0 is not allowed"),
    (lambda m: m.add_units("c1", -3), ValueError, "n=-3 is not allowed"),
    (lambda m: m.add_units("c1", 2.5), TypeError, "n=2.5"),
    (
        lambda m: m.add_units("c1", 2, initializer="orthogonal"),
        ValueError,
        "initializer='orthogonal'",
    ),
    (lambda m: m.add_units("c1", 2, initializer=5), TypeError, "initializer=5"),
    (lambda m: m.add_units("c1", 20, initializer=BrokenInitializer()), ValueError, "expected"),
    (lambda m: m.remove_units("c1", [0, 1, 2, 3, 4]), ValueError, "would remove all 5 units"),
    (lambda m: m.remove_units("c1", [5]), ValueError, "out of range"),
    (lambda m: m.remove_units("c1", [-1]), ValueError, "out of range"),
    (lambda m: m.remove_units("c1", [1, 1]), ValueError, "duplicates"),
    (lambda m: m.remove_units("c1", []), ValueError, "empty"),
    (lambda m: m.remove_units("c1", [0.5]), TypeError, "indices="),
    (lambda m: m.remove_units("out", [0]), ValueError, "feed a model output"),
    (lambda m: m.reserve("c1", 0), ValueError, "capacity=0"),
    (lambda m: m.add_units("c1", 20, optimizer_state="zero"), ValueError, "optimizer_state='zero'"),
    (lambda m: m.record_event(3, "add_units", 1), TypeError, "layer_name=3"),
    (lambda m: m.record_event("c1", "", 1), ValueError, "operation=''"),
    (lambda m: m.record_event("c1", "add_units", -1), ValueError, "count=-1"),
    (lambda m: m.record_event("c1", "add_units", True), ValueError, "count=True"),
]


@pytest.mark.parametrize("action, error, message", CASES, ids=[c[2] for c in CASES])
def test_bad_requests_raise_and_leave_everything_untouched(trained, action, error, message):
    snapshot = _snapshot(trained)
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        action(trained)
    _assert_unchanged(trained, snapshot)


def test_growth_factor_must_be_at_least_one():
    with pytest.raises(ValueError, match="growth_factor=0.5"):
        keras_grow.DynamicModel(build("mlp"), growth_factor=0.5)


def test_unbuilt_sequential_is_rejected_with_advice():
    model = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="keras.Input"):
        keras_grow.DynamicModel(model)


def test_explain_says_why_a_layer_cannot_grow():
    model = keras_grow.DynamicModel(build("mlp"))
    assert "growable" in model.explain("h1")
    assert "model output" in model.explain("out")
