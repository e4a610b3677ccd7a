import copy
import threading

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow import growth
from keras_grow.growth import draw_ahead as ahead
from keras_grow.growth import north_initializers as north
from keras_grow.structure.initializers import NewUnits


def next_numbers(rng):
    """What a generator gives next, in several of the ways NorthSelect draws."""
    return (
        rng.random(3, dtype=np.float32),
        rng.random(),
        rng.choice(1568, 16, replace=False),
        rng.standard_normal(2),
    )


def assert_same_stream(first, second):
    for a, b in zip(next_numbers(first), next_numbers(second)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 7, 784 * 1001, 197 * 1003])
@pytest.mark.parametrize("primed", [0, 1, 2, 3])
def test_skip_hands_over_the_numbers_and_leaves_the_generator_past_them(count, primed):
    # `primed` float32 draws before: an odd number leaves half an output buffered.
    sequential = np.random.default_rng([5, primed])
    sequential.random(primed, dtype=np.float32)
    skipping = copy.deepcopy(sequential)

    before = ahead.skip_float32_uniforms(skipping, count)

    np.testing.assert_array_equal(
        before.random(count, dtype=np.float32), sequential.random(count, dtype=np.float32)
    )
    assert_same_stream(skipping, sequential)


def test_skip_leaves_a_generator_it_cannot_skip_unchanged():
    rng = np.random.Generator(np.random.MT19937(3))
    state = copy.deepcopy(rng.bit_generator.state)
    assert ahead.skip_float32_uniforms(rng, 10) is None
    assert rng.bit_generator.state["state"]["pos"] == state["state"]["pos"]
    np.testing.assert_array_equal(rng.bit_generator.state["state"]["key"], state["state"]["key"])


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_draw_ahead_gives_the_sequential_draws_and_stream(bit_generator):
    sequential = np.random.Generator(bit_generator(11))
    expected = sequential.random((300, 7), dtype=np.float32)
    rng = np.random.Generator(bit_generator(11))
    threads = []

    def draw(generator):
        threads.append(threading.current_thread())
        return generator.random((300, 7), dtype=np.float32)

    future = ahead.draw_ahead(draw, rng, 300 * 7)
    following = next_numbers(rng)  # drawn while (or after) the worker draws

    np.testing.assert_array_equal(future.result(), expected)
    # PCG64 can be skipped, so its draw runs on the worker; MT19937's runs at once.
    assert (threads[0] is not threading.main_thread()) == (bit_generator is np.random.PCG64)
    for a, b in zip(following, next_numbers(sequential)):
        np.testing.assert_array_equal(a, b)


def test_draw_ahead_with_an_unknown_count_draws_at_once_from_the_generator():
    rng = np.random.default_rng(2)
    sequential = np.random.default_rng(2)
    future = ahead.draw_ahead(lambda g: g.standard_normal(5), rng, None)
    assert future.done()
    np.testing.assert_array_equal(future.result(), sequential.standard_normal(5))
    assert_same_stream(rng, sequential)


@pytest.mark.parametrize("uniforms", [4, None])  # on the worker, and at once
def test_draw_ahead_passes_the_draws_error_on_from_result(uniforms):
    def failing(generator):
        raise ArithmeticError("no draw")

    future = ahead.draw_ahead(failing, np.random.default_rng(0), uniforms)
    with pytest.raises(ArithmeticError, match="no draw"):
        future.result()


def _north_request(model, rng_seed):
    context = growth.growth_context(model, "hidden")
    group = model._group_of("hidden")
    slots = np.flatnonzero(~group.active)[:3]
    return NewUnits(group, 3, slots, np.random.default_rng(rng_seed), context)


@pytest.mark.parametrize("kernel_initializer", ["glorot_uniform", "he_normal"])
def test_north_select_drawing_ahead_selects_what_drawing_first_selects(
    kernel_initializer, monkeypatch
):
    inputs = keras.Input((20,))
    hidden = keras.layers.Dense(
        8, activation="relu", name="hidden", kernel_initializer=kernel_initializer
    )(inputs)
    outputs = keras.layers.Dense(2, name="out")(hidden)
    model = keras_grow.DynamicModel(keras.Model(inputs, outputs), seed=0)
    model.reserve("hidden", 16)
    growth.watch_layers(model, ["hidden"], buffer_size=64, rows_per_step=64)
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(64, 20)).astype(np.float32)
    model.fit(x, np.zeros((64, 2)), batch_size=64, epochs=1, verbose=0)
    initializer = growth.NorthSelect(candidates=50, scoring_rows=32)

    drawn_ahead = _north_request(model, 9)
    use = north.measured_kernel_use(drawn_ahead)
    uniforms = north.uniform_draw_count(north.kernel_initializer(use), use, 53)
    assert (uniforms is not None) == (kernel_initializer == "glorot_uniform")  # drawn ahead
    values_ahead = initializer(drawn_ahead)
    with monkeypatch.context() as patch:  # what the code did before: draw, then score
        patch.setattr(north, "uniform_draw_count", lambda *args: None)
        drawn_first = _north_request(model, 9)
        values_first = initializer(drawn_first)

    assert values_ahead.keys() == values_first.keys()
    for use in values_ahead:
        np.testing.assert_array_equal(values_ahead[use], values_first[use])
    assert_same_stream(drawn_ahead.rng, drawn_first.rng)
