"""MultiplierResidualStack: active blocks only, deletion semantics, no retrace on change."""

import warnings

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.layers import MultiplierResidualStack


def _numpy(value):
    return keras.ops.convert_to_numpy(value)


def _block_term(stack, slot, x):
    weights = {key: _numpy(v) for key, v in stack.blocks[slot].items()}
    hidden = np.maximum(x @ weights["kernel_in"] + weights["bias_in"], 0)
    return hidden @ weights["kernel_out"] + weights["bias_out"]


def _reference(stack, x):
    multipliers = _numpy(stack.multiplier)
    for slot in stack.active_blocks():
        x = x + multipliers[slot] * _block_term(stack, slot, x)
    return x


def _inputs(n=6, features=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, features)).astype("float32")


def _built(**kwargs):
    keras.utils.set_random_seed(0)
    stack = MultiplierResidualStack(
        **{"max_blocks": 4, "initial_blocks": 2, "block_units": 7, **kwargs}
    )
    stack.build((None, 5))
    for block in stack.blocks:  # non-zero biases make every term visible
        block["bias_out"].assign(np.full(5, 0.3, "float32"))
    return stack


def test_only_active_blocks_compute():
    stack = _built()
    x = _inputs()
    assert stack.depth == 2 and list(stack.active_blocks()) == [0, 1]
    np.testing.assert_allclose(_numpy(stack(x)), _reference(stack, x), atol=1e-5)
    # Weights of inactive blocks do not matter; their multipliers are exactly 0.
    stack.blocks[3]["kernel_in"].assign(np.full((5, 7), 100.0, "float32"))
    np.testing.assert_allclose(_numpy(stack(x)), _reference(stack, x), atol=1e-5)
    np.testing.assert_array_equal(_numpy(stack.multiplier)[2:], 0.0)
    assert stack.compute_output_shape((None, 3, 5)) == (None, 3, 5)


def test_deleted_blocks_are_not_computed():
    stack = _built()
    stack.remove_blocks([0])
    calls = []
    compute = stack._block
    stack._block = lambda x, index: calls.append(index) or compute(x, index)
    stack(_inputs())
    assert calls == [1]  # only the active block runs; slots 0, 2, 3 cost nothing


def test_deleting_a_block_at_the_floor_removes_exactly_its_term():
    stack = _built(min_multiplier=0.025)
    x = _inputs()
    stack.multiplier.assign([1.0, 0.025, 0.0, 0.0])
    before = _numpy(stack(x))
    after_first = x + 1.0 * _block_term(stack, 0, x)
    removed_term = 0.025 * _block_term(stack, 1, after_first)
    stack.remove_blocks([1])
    assert stack.depth == 1
    np.testing.assert_allclose(_numpy(stack(x)), before - removed_term, atol=1e-5)
    assert np.abs(removed_term).max() > 0  # a non-zero floor moves the output a little


def test_deleting_a_block_with_zero_multiplier_keeps_the_function():
    stack = _built(min_multiplier=0.0)
    x = _inputs()
    stack.multiplier.assign([0.7, 0.0, 0.0, 0.0])
    before = _numpy(stack(x))
    stack.remove_blocks([1])
    np.testing.assert_allclose(_numpy(stack(x)), before, atol=1e-6)


def test_l1_counts_active_blocks_and_config_round_trips():
    stack = _built(multiplier_l1=0.1)
    stack.multiplier.assign([1.0, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(float(sum(_numpy(v) for v in stack.losses)), 0.15, rtol=1e-6)
    config = stack.get_config()
    assert MultiplierResidualStack.from_config(config).get_config() == config


def test_structural_change_retraces_once_and_trains_only_active_blocks(tmp_path):
    keras.utils.set_random_seed(0)
    stack = MultiplierResidualStack(
        max_blocks=4, initial_blocks=1, min_multiplier=0.025, name="stack"
    )
    model = keras_grow.DynamicModel(
        keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(6, name="stem"), stack, keras.layers.Dense(2)]
        )
    )
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    x, y = _inputs(16), np.zeros((16, 2), "float32")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    train_function = model.train_function
    slot = stack.add_block(multiplier=0.05, rng=np.random.default_rng(0), model=model)
    assert slot == 1 and stack.depth == 2 and _numpy(stack.multiplier)[1] == np.float32(0.05)
    assert model.train_function is not train_function  # rebuilt once, with the new block
    idle = {key: _numpy(v).copy() for key, v in stack.blocks[3].items()}
    new = _numpy(stack.blocks[1]["kernel_in"]).copy()
    with warnings.catch_warnings(record=True) as caught:
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]
    assert not np.allclose(_numpy(stack.blocks[1]["kernel_in"]), new)  # the new block learns
    for key, value in idle.items():  # inactive blocks: no gradient, no update
        np.testing.assert_array_equal(_numpy(stack.blocks[3][key]), value)
    assert _numpy(stack.multiplier)[3] == 0.0
    # Depth survives saving.
    path = tmp_path / "stack.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("stack").depth == 2
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), atol=1e-6)


def test_bad_arguments_and_full_stack():
    with pytest.raises(ValueError, match="max_blocks"):
        MultiplierResidualStack(max_blocks=0)
    with pytest.raises(ValueError, match="initial_blocks"):
        MultiplierResidualStack(max_blocks=2, initial_blocks=3)
    with pytest.raises(ValueError, match="multiplier_l1"):
        MultiplierResidualStack(multiplier_l1=-1.0)
    stack = _built()
    stack.add_block()
    stack.add_block()
    with pytest.raises(ValueError, match="max_blocks=4"):
        stack.add_block()
    with pytest.raises(ValueError, match="positions"):
        stack.remove_blocks([4])
