import keras
import numpy as np
import pytest
from topologies import build

import keras_grow
from keras_grow.growth.draw_ahead import skip_float32_uniforms
from keras_grow.structure.initializers import NewUnits, draw_entries, uniform_draw_count


class _Use:
    """The two attributes of an axis use that `draw_entries` reads."""

    def __init__(self, shape, axis):
        self.variable = keras.Variable(np.zeros(shape, np.float32))
        self.axis = axis


@pytest.mark.parametrize(
    "initializer, mean, std, bound",
    [
        (keras.initializers.GlorotUniform(), 0.0, np.sqrt(2 / (300 + 100)), np.sqrt(6 / 400)),
        (keras.initializers.HeNormal(), 0.0, None, 2 * np.sqrt(2 / 300) / 0.8796256610342398),
        (keras.initializers.RandomUniform(-0.5, 1.5), 0.5, 2 / np.sqrt(12), None),
        (keras.initializers.RandomNormal(0.25, 0.1), 0.25, 0.1, None),
        (keras.initializers.TruncatedNormal(-1.0, 0.2), -1.0, None, None),
    ],
)
def test_draw_entries_is_float32_with_the_initializer_distribution(initializer, mean, std, bound):
    use = _Use((300, 100), axis=1)
    values = draw_entries(initializer, use, 400, np.random.default_rng(0))
    assert values.dtype == np.float32 and values.shape == (300, 400)
    assert values.flags.c_contiguous
    np.testing.assert_allclose(values.mean(), mean, atol=0.01)
    if std is not None:
        np.testing.assert_allclose(values.std(), std, rtol=0.02)
    if bound is not None:
        assert np.abs(values - mean).max() <= bound * (1 + 1e-6)
    if isinstance(initializer, keras.initializers.RandomUniform):
        assert values.min() >= -0.5 and values.max() < 1.5
    if isinstance(initializer, keras.initializers.TruncatedNormal):
        assert np.abs(values - mean).max() <= 2 * 0.2 * (1 + 1e-6)


def test_draw_entries_depends_only_on_the_generator_state():
    use = _Use((5, 3, 4), axis=2)
    first = draw_entries("he_uniform", use, 6, np.random.default_rng(7))
    again = draw_entries("he_uniform", use, 6, np.random.default_rng(7))
    other = draw_entries("he_uniform", use, 6, np.random.default_rng(8))
    assert first.shape == (5, 3, 6)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_unit_norms_equal_the_norms_of_the_unit_vectors_for_every_use():
    model = keras_grow.DynamicModel(build("conv_flatten_dense"), seed=0)
    group = model._group_of("c1")  # its fan-out: d1's kernel rows, 36 positions per unit
    request = NewUnits(group, 1, group.active_slots[:1], np.random.default_rng(0), {})
    assert any(use.layout.positions > 1 for use in group.axis_uses)
    for use in group.axis_uses:
        values = request.existing(use)
        expected = np.linalg.norm(request.unit_vectors(use, values).astype(np.float64), axis=1)
        np.testing.assert_allclose(request.unit_norms(use, values), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "initializer, expected",
    [
        ("glorot_uniform", 300 * 9),
        (keras.initializers.HeUniform(), 300 * 9),
        (keras.initializers.RandomUniform(-1.0, 2.0), 300 * 9),
        ("zeros", 0),
        ("he_normal", None),
        (keras.initializers.RandomNormal(), None),
        (keras.initializers.TruncatedNormal(), None),
        (keras.initializers.Orthogonal(), None),
    ],
)
def test_uniform_draw_count_is_what_draw_entries_takes(initializer, expected):
    use = _Use((300, 40), axis=1)
    assert uniform_draw_count(initializer, use, 9) == expected
    if expected is None:
        return
    drawing, skipping = np.random.default_rng(4), np.random.default_rng(4)
    draw_entries(initializer, use, 9, drawing)
    skip_float32_uniforms(skipping, expected)
    for dtype in (np.float32, np.float64):  # float32 first: it reads a buffered half first
        expected_next = drawing.random(3, dtype=dtype)
        np.testing.assert_array_equal(skipping.random(3, dtype=dtype), expected_next)
