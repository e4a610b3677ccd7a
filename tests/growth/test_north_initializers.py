import keras
import numpy as np
import pytest

import keras_grow
from keras_grow import growth
from keras_grow.applications.growing_mlp import modified_relu
from keras_grow.growth import _model_access


def _data(shape, n=48, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)).astype("float32"), rng.integers(0, 3, n)


def _trained(model, shape, layers):
    for layer in layers:
        model.reserve(layer, 24)  # adding units below never reallocates
    growth.watch_layers(model, layers, buffer_size=64, rows_per_step=32)
    x, y = _data(shape)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model, x, y


@pytest.fixture(scope="module")
def mlp():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(5, activation=modified_relu, name="h1")(inputs)
    x = keras.layers.Dense(4, activation=modified_relu, name="h2")(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(3, name="out")(x), seed=0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return _trained(model, (6,), ["h1", "h2"])


@pytest.fixture(scope="module")
def cnn():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", use_bias=False, name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="r1")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(3, name="out")(x), seed=0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return _trained(model, (6, 6, 2), ["c1"])


def _grow(model, layer, initializer, x, y, count=2):
    probe = None
    if "gradients" in initializer.requires:
        probe = growth.GradientProbe(model, [layer])(x[:16], y[:16])[layer]
    context = growth.growth_context(model, layer, probe=probe)
    return model.add_units(layer, count, initializer=initializer, context=context)


def _outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_function_preserving_initializers_keep_outputs_dense(mlp):
    model, x, y = mlp
    initializers = [
        growth.NorthRandom(),
        growth.NorthSelect(candidates=20),
        growth.NorthSelect(candidates=20, scoring_rows=16),
        growth.NorthPre(candidates=20),
        growth.NorthWeight(),
        growth.GradMax(),
    ]
    for initializer in initializers:
        assert initializer.function_preserving
        before = _outputs(model, x)
        widths = model.widths()
        for layer in ("h1", "h2"):
            _grow(model, layer, initializer, x, y)
        assert model.widths()["h1"] == widths["h1"] + 2, type(initializer).__name__
        np.testing.assert_allclose(_outputs(model, x), before, atol=1e-5, err_msg=repr(initializer))


def test_function_preserving_initializers_keep_outputs_conv(cnn):
    model, x, y = cnn
    for initializer in [
        growth.NorthRandom(),
        growth.NorthSelect(candidates=10),
        growth.NorthSelect(candidates=10, scoring_rows=20),
        growth.NorthWeight(),
        growth.GradMax(),
    ]:
        before = _outputs(model, x)
        _grow(model, "c1", initializer, x, y)
        np.testing.assert_allclose(_outputs(model, x), before, atol=1e-5, err_msg=repr(initializer))


@pytest.mark.parametrize(
    "initializer", [growth.NorthRandom(), growth.NorthSelect(5), growth.NorthWeight()]
)
def test_new_fan_in_has_the_mean_existing_norm_and_zero_fan_out(mlp, initializer):
    model, x, y = mlp
    kernel, _ = _model_access.producer_uses(model, "h2")
    target = np.linalg.norm(_model_access.unit_rows(model, kernel), axis=1).mean()
    new = _grow(model, "h2", initializer, x, y)
    rows = _model_access.unit_rows(model, kernel)[new]
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), target, rtol=1e-5)
    slots = model.active_units("h2")[new]
    assert np.all(model.get_layer("out").kernel.numpy()[slots] == 0)
    assert np.all(model.get_layer("h2").bias.numpy()[slots] == 0)


def test_north_weight_fan_in_is_orthogonal_to_existing_fan_ins():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(3, name="h")(inputs)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(2)(hidden), seed=0)
    kernel, _ = _model_access.producer_uses(model, "h")
    existing = _model_access.unit_rows(model, kernel)
    new = model.add_units("h", 2, initializer=growth.NorthWeight())
    rows = _model_access.unit_rows(model, kernel)[new]
    np.testing.assert_allclose(existing @ rows.T, 0, atol=1e-5)
    np.testing.assert_allclose(rows[0] @ rows[1], 0, atol=1e-5)


def test_north_pre_pre_activations_are_orthogonal_to_existing_ones():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(5, activation=modified_relu, name="h1")(inputs)
    x = keras.layers.Dense(3, activation=modified_relu, name="h2")(x)
    model = keras_grow.DynamicModel(inputs, keras.layers.Dense(3)(x), seed=0)
    growth.watch_layers(model, ["h2"], buffer_size=64, rows_per_step=32)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*_data((6,)), batch_size=16, epochs=1, verbose=0)  # biases stay zero...
    for layer in ("h1", "h2"):  # ...almost: make pre-activations exactly X W^T
        model.get_layer(layer).bias.assign(np.zeros(model.get_layer(layer).bias.shape))
    context = growth.growth_context(model, "h2")
    kernel, _ = _model_access.producer_uses(model, "h2")
    existing = context["inputs"] @ _model_access.unit_rows(model, kernel).T
    new = model.add_units("h2", 2, initializer=growth.NorthPre(candidates=5), context=context)
    pre = context["inputs"] @ _model_access.unit_rows(model, kernel)[new].T
    cosine = (
        existing.T @ pre / np.linalg.norm(existing, axis=0)[:, None] / np.linalg.norm(pre, axis=0)
    )
    np.testing.assert_allclose(cosine, 0, atol=1e-4)


def test_select_orthogonal_prefers_new_directions_and_avoids_duplicates():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(50, 5)))
    existing = basis[:, :2] * 7
    candidates = np.stack(
        [
            basis[:, 0],
            basis[:, 0] + 0.5 * basis[:, 2],
            2 * basis[:, 3],
            2 * basis[:, 3] + 1e-3 * basis[:, 4],
        ],
        axis=1,
    )
    first, second = growth.select_orthogonal(existing, candidates, 2)
    assert first in (2, 3)  # the largest new direction
    assert second == 1  # not the near-copy of the first pick


def _greedy_reference(existing, candidates, count, epsilon):
    """Plain greedy selection: re-project every candidate onto the complement of
    the existing significant span and the chosen candidates at every pick."""
    n = len(existing)
    values, vectors = np.linalg.eigh(existing.T @ existing / n)
    span = existing @ vectors[:, values > epsilon**2]
    chosen = []
    for _ in range(count):
        basis = np.linalg.qr(np.concatenate([span, candidates[:, chosen]], axis=1))[0]
        residual = candidates - basis @ (basis.T @ candidates)
        norms = np.linalg.norm(residual, axis=0)
        norms[chosen] = -1
        chosen.append(int(np.argmax(norms)))
    return chosen


def test_select_orthogonal_matches_a_plain_greedy_selection():
    rng = np.random.default_rng(3)
    for n, width, total, count in [(200, 12, 60, 7), (90, 30, 40, 12), (64, 0, 25, 5)]:
        mixing = rng.normal(size=(8, width))
        existing = np.maximum(rng.normal(size=(n, 8)) @ mixing, 0).astype(np.float64)
        candidates = np.maximum(rng.normal(size=(n, total)), 0) * rng.uniform(0.2, 2, total)
        chosen = growth.select_orthogonal(existing, candidates, count, epsilon=0.01)
        assert list(chosen) == _greedy_reference(existing, candidates, count, 0.01)
        assert len(set(chosen)) == count


def test_scoring_row_count():
    from keras_grow.growth.north_initializers import AUTO_SCORING_ROWS, scoring_row_count

    assert AUTO_SCORING_ROWS == 512
    assert scoring_row_count(1568, 64, 3, "auto") == 512
    assert scoring_row_count(1568, 300, 20, "auto") == 640
    assert scoring_row_count(1568, 780, 4, "auto") == 1568
    assert scoring_row_count(300, 64, 3, "auto") == 300
    assert scoring_row_count(1568, 64, 3, None) == 1568
    assert scoring_row_count(1568, 64, 3, 100) == 100
    assert scoring_row_count(50, 64, 3, 100) == 50


def test_select_candidates_scores_on_the_drawn_rows_only():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(120, 10)).astype(np.float32)
    existing = np.maximum(inputs @ rng.normal(size=(10, 4)), 0).astype(np.float32)
    fan_ins = rng.normal(size=(30, 10)).astype(np.float32)

    def relu(z):
        return np.maximum(z, 0)

    everything = growth.select_candidates(inputs, existing, fan_ins, 3, post=relu)
    assert list(everything) == list(growth.select_orthogonal(existing, relu(inputs @ fan_ins.T), 3))
    assert list(
        growth.select_candidates(inputs, existing, fan_ins, 3, post=relu, rows=120)
    ) == list(everything)
    kept = np.sort(np.random.default_rng(5).choice(120, size=40, replace=False))
    expected = growth.select_orthogonal(existing[kept], relu(inputs[kept] @ fan_ins.T), 3)
    chosen = growth.select_candidates(
        inputs, existing, fan_ins, 3, post=relu, rows=40, rng=np.random.default_rng(5)
    )
    assert list(chosen) == list(expected)
    active = np.arange(10) < 6  # inputs 6.. read inactive slots: their weights are ignored
    masked = fan_ins * active
    assert list(
        growth.select_candidates(inputs, existing, fan_ins, 3, post=relu, active=active)
    ) == list(growth.select_orthogonal(existing, relu(inputs @ masked.T), 3))


@pytest.mark.parametrize("scoring_rows", [0, -5, 2.5, True, "all"])
def test_bad_scoring_rows_are_rejected(scoring_rows):
    with pytest.raises(ValueError, match="scoring_rows=.* is not allowed; expected 'auto', None"):
        growth.NorthSelect(10, scoring_rows=scoring_rows)
    with pytest.raises(ValueError, match="scoring_rows="):
        growth.NorthPre(10, scoring_rows=scoring_rows)


def test_activation_based_initializers_need_a_context():
    inputs = keras.Input((6,))
    model = keras_grow.DynamicModel(
        inputs, keras.layers.Dense(2)(keras.layers.Dense(3, name="h")(inputs))
    )
    with pytest.raises(ValueError, match="context\\['inputs'\\]"):
        model.add_units("h", 1, initializer=growth.NorthSelect(5))
    with pytest.raises(ValueError, match="context\\['probe'\\]"):
        model.add_units("h", 1, initializer=growth.GradMax())
    assert model.widths()["h"] == 3 and model.capacities()["h"] == 3


def test_north_pre_is_dense_only(cnn):
    model, _, _ = cnn
    width = model.widths()["c1"]
    with pytest.raises(ValueError, match="NorthPre supports Dense layers only"):
        model.add_units(
            "c1", 1, initializer=growth.NorthPre(5), context=growth.growth_context(model, "c1")
        )
    assert model.widths()["c1"] == width


@pytest.mark.parametrize(
    "build",
    [
        lambda: growth.NorthSelect(0),
        lambda: growth.NorthPre(-3),
        lambda: growth.Firefly(0),
        lambda: growth.NeST(candidates=0),
    ],
)
def test_candidates_below_one_are_rejected(build):
    with pytest.raises(ValueError, match="candidates=(0|-3) is not allowed; expected an int >= 1"):
        build()


def _eigh_projection(existing, epsilon):
    from keras_grow.growth import north_initializers as north

    existing = np.asarray(existing, np.float32)
    gram = (existing.T @ existing).astype(np.float64) / len(existing)
    basis = north._eigh_basis(existing, gram, epsilon).astype(np.float64)
    return basis @ basis.T


def test_significant_basis_fast_path_spans_what_the_eigendecomposition_spans():
    from keras_grow.growth import north_initializers as north

    rng = np.random.default_rng(1)
    existing = np.maximum(rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40)), 0)
    existing = existing.astype(np.float32)
    gram = (existing.T @ existing).astype(np.float64) / len(existing)
    fast = north._cholesky_basis(existing, gram, 0.01)
    assert fast is not None and fast.shape == (300, 40)  # full rank: the fast path
    fast = fast.astype(np.float64)
    np.testing.assert_allclose(fast.T @ fast, np.eye(40), atol=1e-4)
    np.testing.assert_allclose(fast @ fast.T, _eigh_projection(existing, 0.01), atol=1e-5)
    basis = north._significant_basis(existing, 0.01).astype(np.float64)
    np.testing.assert_allclose(basis @ basis.T, fast @ fast.T, atol=1e-6)


@pytest.mark.parametrize("defect", ["duplicate", "zero", "weak"])
def test_significant_basis_falls_back_to_the_eigendecomposition(defect):
    from keras_grow.growth import north_initializers as north

    rng = np.random.default_rng(2)
    existing = rng.normal(size=(200, 12)).astype(np.float32)
    if defect == "duplicate":
        existing[:, 5] = existing[:, 2]
    elif defect == "zero":
        existing[:, 7] = 0
    else:  # a direction with singular value below epsilon
        existing[:, 3] = existing[:, 0] + 1e-3 * existing[:, 3]
    gram = (existing.T @ existing).astype(np.float64) / len(existing)
    assert north._cholesky_basis(existing, gram, 0.01) is None
    basis = north._significant_basis(existing, 0.01).astype(np.float64)
    assert basis.shape == (200, 11)
    np.testing.assert_allclose(basis @ basis.T, _eigh_projection(existing, 0.01), atol=1e-6)


def test_select_candidate_columns_scales_pre_activations_like_rescaled_fan_ins():
    from keras_grow.growth.north_initializers import select_candidate_columns

    rng = np.random.default_rng(4)
    inputs = np.maximum(rng.normal(size=(150, 20)), 0).astype(np.float32)
    inputs[:, 3] = 0  # skipped input
    existing = np.maximum(inputs @ rng.normal(size=(20, 6)), 0).astype(np.float32)
    columns = rng.uniform(-1, 1, size=(20, 40)).astype(np.float32)
    factors = rng.uniform(0.1, 3, size=40).astype(np.float32)

    def relu(z):
        return np.maximum(z, 0)

    chosen = select_candidate_columns(inputs, existing, columns, 5, post=relu, factors=factors)
    rescaled = (columns * factors).T
    assert list(chosen) == list(growth.select_candidates(inputs, existing, rescaled, 5, post=relu))
    assert len(set(chosen)) == 5
