"""Adding units preserves the function; removing units equals a hand-built model."""

import keras
import numpy as np
import pytest
from topologies import (
    GROUP_AXES,
    INPUT_SHAPES,
    TESTED_LAYER,
    build,
    delete_units_by_hand,
    sample_inputs,
)

import keras_grow

TOPOLOGIES = sorted(INPUT_SHAPES)


def _trained(name, growth_factor=2.0, seed=0):
    """A DynamicModel of `name` after a few Adam steps (non-trivial BN statistics)."""
    keras.utils.set_random_seed(seed)
    model = keras_grow.DynamicModel(build(name), growth_factor=growth_factor, seed=seed)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x = sample_inputs(name, 32, seed=1)
    y = np.arange(32) % 3
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


def _outputs(model, x, training):
    """Outputs in the given mode, without the moving-statistics update of training mode."""
    saved = [keras.ops.convert_to_numpy(v) for v in model.non_trainable_variables]
    outputs = keras.ops.convert_to_numpy(model(x, training=training))
    for variable, value in zip(model.non_trainable_variables, saved):
        variable.assign(value)
    return outputs


def _modes(name):
    # Dropout is random in training mode: compare inference only there.
    return (False,) if name == "dropout" else (False, True)


@pytest.mark.parametrize("name", TOPOLOGIES)
@pytest.mark.parametrize("initializer", ["zero_fan_out", "zero_fan_in"])
def test_adding_units_preserves_outputs(name, initializer):
    model = _trained(name)
    x = sample_inputs(name, 16, seed=2)
    layer = TESTED_LAYER[name]
    before = {mode: _outputs(model, x, mode) for mode in _modes(name)}
    width = model.widths()[layer]
    # First growth reallocates (capacity doubles), the second fits in capacity.
    model.add_units(layer, 3, initializer=initializer)
    model.add_units(layer, 2, initializer=initializer)
    assert model.widths()[layer] == width + 5
    assert model.capacities()[layer] == 2 * width
    for mode, expected in before.items():
        np.testing.assert_allclose(_outputs(model, x, mode), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_new_units_are_not_trivial(name):
    """ZeroFanOut gives new units non-zero fan-in (ZeroFanIn: non-zero fan-out)."""
    model = _trained(name)
    layer = model.get_layer(TESTED_LAYER[name])
    slots_before = set(model.active_units(layer.name).tolist())
    model.add_units(layer.name, 2)
    new_slots = sorted(set(model.active_units(layer.name).tolist()) - slots_before)
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert np.all(np.abs(kernel[..., new_slots]).sum(axis=tuple(range(kernel.ndim - 1))) > 0)


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_removing_units_equals_model_built_without_them(name):
    model = _trained(name)
    layer = TESTED_LAYER[name]
    width = model.widths()[layer]
    removed = [0, width - 2]
    keep = [s for s in range(width) if s not in removed]
    capacity = model.capacities()[layer]
    reference = delete_units_by_hand(name, model, keep, capacity)
    model.remove_units(layer, removed)
    assert model.widths()[layer] == width - 2
    x = sample_inputs(name, 16, seed=3)
    for mode in _modes(name):
        np.testing.assert_allclose(
            _outputs(model, x, mode), _outputs(reference, x, mode), atol=1e-5, rtol=0
        )


@pytest.mark.parametrize("name", ["mlp", "conv_flatten_dense", "residual"])
def test_compact_keeps_function_and_drops_free_slots(name):
    model = _trained(name)
    layer = TESTED_LAYER[name]
    model.add_units(layer, 3)
    model.remove_units(layer, [1])
    x = sample_inputs(name, 16, seed=4)
    expected = _outputs(model, x, False)
    model.compact()
    assert model.capacities()[layer] == model.widths()[layer]
    width = model.widths()[layer]
    for layer_name, attribute, axis, positions, *_ in GROUP_AXES[name]:
        variable = getattr(model.get_layer(layer_name), attribute)
        assert variable.shape[axis] == positions * width, (layer_name, attribute)
    np.testing.assert_allclose(_outputs(model, x, False), expected, atol=1e-5, rtol=0)


def test_growth_factor_one_reallocates_to_exact_size():
    model = _trained("mlp", growth_factor=1.0)
    model.add_units("h1", 3)
    assert model.capacities()["h1"] == model.widths()["h1"] == 9
    assert model.get_layer("h1").kernel.shape == (12, 9)
    assert model.get_layer("h2").kernel.shape == (9, 5)


def test_reserve_allocates_ahead_without_changing_width():
    model = _trained("mlp")
    model.reserve("h1", 64)
    assert model.capacities()["h1"] == 64
    assert model.widths()["h1"] == 6
    train_function = model.train_function
    model.add_units("h1", 50)
    assert model.train_function is train_function, "growth within capacity must not retrace"


def test_summary_shows_allocated_width_after_growth():
    model = _trained("mlp")
    model.add_units("h1", 4)
    assert model.get_layer("h1").output.shape[-1] == model.capacities()["h1"]
    assert model.get_layer("h1").units == model.capacities()["h1"]
