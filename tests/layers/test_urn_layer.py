import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.interpolate import RegularGridInterpolator
from scipy.spatial.distance import cdist

from keras_grow.layers import URNGeometry, URNLayer
from keras_grow.layers.urn_geometry import linear_interpolation_matrix, tiled_length_penalty

RESIDUALS = [None, "output", "input"]


def reference(urn, x_embedded):
    """Numpy URN (eqs. 2-7): returns outputs, states N^(0..I) and the activity penalty."""
    kernel = urn.kernel.numpy().astype(np.float64)
    bias = urn.bias.numpy().astype(np.float64)
    size, d_in, d_out = urn.size, x_embedded.shape[1], urn.output_dim
    state = np.zeros((x_embedded.shape[0], size))
    state[:, :d_in] = x_embedded
    states, activity = [state], 0.0
    for _ in range(urn.iterations):
        new = np.maximum(state @ kernel + bias, 0.0)
        if urn.residual == "output":
            new[:, size - d_out :] += state[:, size - d_out :]
        if urn.residual == "input":
            new[:, :d_in] += x_embedded
        state = new
        states.append(state)
        batch = state.shape[0] if urn.activity_reduction == "mean" else 1
        activity += np.abs(state).sum() / batch
    return state[:, size - d_out :], states, urn.activity_l1 * activity


def make(size=40, d_in=5, **kwargs):
    kwargs.setdefault("iterations", 3)
    kwargs.setdefault("output_dim", 2)
    urn = URNLayer(size=size, **kwargs)
    model = keras.Sequential([keras.Input((d_in,)), urn])
    # a non-zero bias so that every branch of the update is exercised
    urn.bias.assign(np.random.default_rng(1).normal(scale=0.1, size=size).astype("float32"))
    return urn, model


@pytest.mark.parametrize("residual", RESIDUALS)
@pytest.mark.parametrize("activity_l1", [0.0, 1e-3])
def test_forward_matches_numpy(residual, activity_l1):
    urn, model = make(residual=residual, activity_l1=activity_l1, iterations=4)
    x = np.random.default_rng(0).normal(size=(7, 5)).astype("float32")
    expected, states, _ = reference(urn, x.astype(np.float64))
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    got_states, phis = urn.compute_states(x)
    assert len(got_states) == urn.iterations + 1 and len(phis) == urn.iterations
    for got, want in zip(got_states, states, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_first_update_reads_only_the_input_neurons():
    urn, model = make(residual=None, iterations=1)
    x = np.ones((2, 5), "float32")
    before = model(x).numpy()
    kernel = urn.kernel.numpy()
    kernel[5:, :] = 123.0  # rows of neurons that start at zero (eq. 2)
    urn.kernel.assign(kernel)
    np.testing.assert_array_equal(model(x).numpy(), before)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("residual", RESIDUALS)
def test_regularisers_in_model_losses_match_numpy(residual, reduction):
    urn, model = make(
        residual=residual, weight_l1=1e-3, activity_l1=2e-2, activity_reduction=reduction
    )
    x = np.random.default_rng(0).normal(size=(9, 5)).astype("float32")
    model(x)
    losses = [float(v) for v in model.losses]
    assert len(losses) == 2
    _, _, activity = reference(urn, x.astype(np.float64))
    weight = 1e-3 * np.abs(urn.kernel.numpy().astype(np.float64)).sum()
    np.testing.assert_allclose(sorted(losses), sorted([weight, activity]), rtol=1e-5)
    terms = urn.regularization_terms(x)
    np.testing.assert_allclose(terms["weight_l1"], weight, rtol=1e-5)
    np.testing.assert_allclose(terms["activity"], activity, rtol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_regularisers_enter_the_training_loss(reduction):
    urn, model = make(weight_l1=1e-2, activity_l1=1e-2, activity_reduction=reduction)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    y = np.arange(8) % 2
    logits, _, activity = reference(urn, x.astype(np.float64))
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    xe = -logp[np.arange(8), y].mean()
    weight = 1e-2 * np.abs(urn.kernel.numpy().astype(np.float64)).sum()
    loss = model.evaluate(x, y, batch_size=8, verbose=0)
    np.testing.assert_allclose(loss, xe + weight + activity, rtol=1e-5)


def test_summed_activity_penalty_is_batch_size_times_the_mean():
    """Eq. 5 puts 1/N on the cross-entropy only: "sum" = batch size x "mean", gradient too."""
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    values, grads = {}, {}
    for reduction in ("mean", "sum"):
        keras.utils.set_random_seed(3)
        urn, model = make(activity_l1=1e-2, activity_reduction=reduction)
        with tf.GradientTape() as tape:
            model(x)
            penalty = model.losses[0]
        values[reduction] = float(penalty)
        grads[reduction] = tape.gradient(penalty, urn.kernel).numpy()
    assert values["mean"] > 0
    np.testing.assert_allclose(values["sum"], 6 * values["mean"], rtol=1e-6)
    np.testing.assert_allclose(grads["sum"], 6 * grads["mean"], rtol=1e-4, atol=1e-7)


def test_training_reduces_the_loss():
    urn, model = make(size=30, weight_l1=1e-4, activity_l1=1e-4)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = (x[:, 0] > 0).astype(int)
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0]


def test_config_round_trip_and_output_shape():
    geometry = URNGeometry((4, 3), depth=3, beta=2.0)
    urn = URNLayer(
        iterations=2,
        output_dim=3,
        residual="input",
        activation="tanh",
        weight_l1=1e-4,
        activity_l1=1e-3,
        activity_reduction="sum",
        geometry=geometry,
        synaptic_l1=1e-3,
        synaptic_power=2.0,
        synaptic_tile_rows=5,
        name="urn",
    )
    config = urn.get_config()
    clone = URNLayer.from_config(config)
    assert clone.get_config() == config
    assert clone.geometry == geometry and clone.size == 36
    assert clone.activity_reduction == "sum"
    assert urn.compute_output_shape((None, 4, 3, 1)) == (None, 3)
    serialized = keras.saving.serialize_keras_object(urn)
    assert serialized["registered_name"] == "keras_grow>URNLayer"


@pytest.mark.parametrize("residual", RESIDUALS)
def test_keras_file_round_trip(tmp_path, residual):
    urn, model = make(residual=residual, weight_l1=1e-4, activity_l1=1e-4)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    path = tmp_path / "urn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert loaded.layers[-1].get_config() == urn.get_config()
    assert len(loaded.losses) == 2


def test_keras_file_round_trip_with_geometry(tmp_path):
    geometry = URNGeometry(6, depth=3)
    urn = URNLayer(output_dim=2, iterations=3, geometry=geometry, synaptic_l1=1e-3)
    model = keras.Sequential([keras.Input((4, 1)), urn])
    x = np.random.default_rng(0).normal(size=(3, 4, 1)).astype("float32")
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    np.testing.assert_allclose(float(loaded.losses[0]), float(model.losses[0]), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"size": 6, "output_dim": 2}, ValueError, ["size", "6", "7"]),  # 5 inputs + 2 outputs
        ({"size": 40, "iterations": 0}, ValueError, ["iterations", "0", ">= 1"]),
        ({"size": 40, "iterations": 2.5}, TypeError, ["iterations", "2.5"]),
        ({"size": 40, "residual": "both"}, ValueError, ["residual", "both", "output"]),
        ({"size": 40, "weight_l1": -1e-3}, ValueError, ["weight_l1", "-0.001", ">= 0"]),
        ({"size": 40, "activity_l1": "big"}, TypeError, ["activity_l1", "big"]),
        (
            {"size": 40, "activity_reduction": "max"},
            ValueError,
            ["activity_reduction", "max", "sum"],
        ),
        ({"size": 40, "synaptic_l1": 1e-3}, ValueError, ["synaptic_l1", "geometry"]),
        ({"size": 40, "output_dim": 0}, ValueError, ["output_dim", "0"]),
        ({}, ValueError, ["size"]),
        ({"size": 40, "geometry": "grid"}, TypeError, ["geometry", "grid"]),
        ({"size": 10, "geometry": URNGeometry(3, 2)}, ValueError, ["size", "10", "6"]),
    ],
)
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error) as info:
        urn = URNLayer(**kwargs)
        urn.build((None, 5))
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"grid_shape": (2, 3, 4), "depth": 3}, ["grid_shape"]),
        ({"grid_shape": 0, "depth": 3}, ["grid_shape", "0"]),
        ({"grid_shape": 5, "depth": 1}, ["depth", "1", ">= 2"]),
        ({"grid_shape": 5, "depth": 3, "beta": -1.0}, ["beta", "-1.0"]),
    ],
)
def test_bad_geometry(kwargs, words):
    with pytest.raises(ValueError) as info:
        URNGeometry(**kwargs)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "input_shape", [(None, 5, 5, 3), (None, 7), (None, 5, 5, 2, 1), (None, None, 5)]
)
def test_geometry_that_does_not_fit_the_input(input_shape):
    urn = URNLayer(output_dim=2, geometry=URNGeometry((4, 4), depth=2))
    with pytest.raises(ValueError) as info:
        urn.build(input_shape)
    assert "input_shape" in str(info.value) and str(input_shape[1]) in str(info.value)


def test_too_many_outputs_for_one_plane():
    with pytest.raises(ValueError, match="output_dim"):
        URNLayer(output_dim=10, geometry=URNGeometry((3, 3), depth=2))


# ---------------------------------------------------------------- geometry


def test_linear_interpolation_matrix_1d():
    matrix = linear_interpolation_matrix(3, 5)
    x = np.array([1.0, 3.0, -1.0])
    np.testing.assert_allclose(x @ matrix, [1.0, 2.0, 3.0, 1.0, -1.0])
    np.testing.assert_allclose(matrix.sum(axis=0), 1.0)
    np.testing.assert_array_equal(linear_interpolation_matrix(4, 4), np.eye(4))


def test_2d_embedding_matches_scipy_bilinear_interpolation():
    geometry = URNGeometry((7, 9), depth=2)
    urn = URNLayer(output_dim=3, geometry=geometry)
    urn.build((None, 4, 5, 1))
    image = np.random.default_rng(0).normal(size=(4, 5))
    embedded = np.asarray(urn.embed(image[None, :, :, None].astype("float32")))[0]
    grid = np.stack(np.meshgrid(np.linspace(0, 3, 7), np.linspace(0, 4, 9), indexing="ij"), axis=-1)
    expected = RegularGridInterpolator((np.arange(4), np.arange(5)), image)(grid)
    np.testing.assert_allclose(embedded, expected.reshape(-1), rtol=1e-5, atol=1e-6)


def test_geometric_forward_matches_numpy():
    geometry = URNGeometry(8, depth=3)
    urn = URNLayer(output_dim=2, iterations=3, residual="output", geometry=geometry)
    model = keras.Sequential([keras.Input((5,)), urn])
    x = np.random.default_rng(0).normal(size=(4, 5))
    embedded = x @ linear_interpolation_matrix(5, 8)
    expected, _, _ = reference(urn, embedded)
    np.testing.assert_allclose(model(x.astype("float32")).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_neuron_layout_and_distances():
    geometry = URNGeometry((5, 4), depth=3, beta=2.5)
    coords = geometry.grid_coordinates(output_dim=4)
    # plane 0 holds the input, in row-major grid order (eq. 2)
    np.testing.assert_array_equal(coords[:20, 2], 0)
    np.testing.assert_array_equal(coords[:20, :2], np.argwhere(np.ones((5, 4))))
    # output nodes: last plane, the 4 grid points closest to the centre (2, 1.5)
    outputs = coords[-4:]
    np.testing.assert_array_equal(outputs[:, 2], 2)
    # (2, 1), (2, 2) at distance 0.5; ties at sqrt(1.25) go to the lower grid index
    assert sorted(map(tuple, outputs[:, :2].astype(int))) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # every volume position exactly once
    assert len({tuple(c) for c in coords}) == geometry.size
    # ds^2 = dx^2 + dy^2 + beta dz^2 (eq. 8)
    expected = cdist(coords, coords, metric="mahalanobis", VI=np.diag([1.0, 1.0, 2.5]))
    np.testing.assert_allclose(geometry.distance_matrix(4), expected, rtol=1e-12)


@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
@pytest.mark.parametrize("tile_rows", [1, 7, 64])
def test_tiled_penalty_equals_dense_reference(power, tile_rows):
    geometry = URNGeometry((4, 3), depth=4, beta=3.0)
    coords = geometry.coordinates(output_dim=2)
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(geometry.size, geometry.size))
    dense = cdist(coords, coords) ** power
    expected = np.sum(np.abs(kernel) * dense)
    w = tf.Variable(kernel.astype("float32"))
    with tf.GradientTape() as tape:
        value = tiled_length_penalty(w, tf.constant(coords, tf.float32), power, tile_rows)
    grad = tape.gradient(value, w).numpy()
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)
    np.testing.assert_allclose(grad, np.sign(kernel) * dense, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tile_rows", [None, 10])
def test_synaptic_regulariser_in_model_losses(tile_rows):
    geometry = URNGeometry((3, 4), depth=3, beta=0.5)
    urn = URNLayer(
        output_dim=2,
        geometry=geometry,
        weight_l1=1e-3,
        synaptic_l1=2e-3,
        synaptic_power=1.5,
        synaptic_tile_rows=tile_rows,
    )
    model = keras.Sequential([keras.Input((3, 4)), urn])
    kernel = urn.kernel.numpy().astype(np.float64)
    coords = geometry.coordinates(2)
    # kernel[j, i] is the synapse j -> i; d is symmetric so the orientation does not matter
    lengths = cdist(coords, coords) ** 1.5
    expected = 1e-3 * np.abs(kernel).sum() + 2e-3 * np.sum(np.abs(kernel) * lengths)
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)
    with tf.GradientTape() as tape:
        loss = urn.kernel.regularizer(urn.kernel)
    grad = tape.gradient(loss, urn.kernel).numpy()
    expected_grad = np.sign(kernel) * (1e-3 + 2e-3 * lengths)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-7)


def test_large_geometry_uses_the_tiled_penalty(monkeypatch):
    """Above the dense-cache limit no S x S length matrix is built; the value is the same."""
    geometry = URNGeometry((6, 5), depth=3, beta=2.0)  # S = 90, S^2 = 8100
    x = np.random.default_rng(0).normal(size=(2, 6, 5)).astype("float32")
    losses = {}
    for limit in (2**24, 8099):
        monkeypatch.setattr("keras_grow.layers.urn_layer.DENSE_LENGTH_LIMIT", limit)
        keras.utils.set_random_seed(0)
        urn = URNLayer(output_dim=4, geometry=geometry, synaptic_l1=1e-3, synaptic_power=2.0)
        model = keras.Sequential([keras.Input((6, 5)), urn])
        regularizer = urn.kernel.regularizer
        model(x)
        losses[limit] = float(model.losses[0])
        if limit == 8099:
            assert regularizer.lengths is None and regularizer.tile_rows == 8099 // 90
        else:
            assert regularizer.lengths.shape == (90, 90) and regularizer.tile_rows is None
    np.testing.assert_allclose(losses[8099], losses[2**24], rtol=1e-5)
