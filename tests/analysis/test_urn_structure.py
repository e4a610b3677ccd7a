import keras
import numpy as np
import pytest

from keras_grow.analysis import URNStructure, connectivity_summary, extract_structure
from keras_grow.layers import URNGeometry, URNLayer


def spheres(n=300, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return (x * np.where(y == 1, 1.3, 1.0)[:, None]).astype("float32"), y


def embed_mlp(widths, extra=7, residual=None, iterations=None, seed=0):
    """A URN whose W is the block sub-diagonal embedding of a random MLP (eq. 1).

    Hidden and output biases are negative so that a neuron is zero at every update but
    the one of its layer; `extra` unused neurons never activate.
    """
    rng = np.random.default_rng(seed)
    sizes = list(widths)
    starts = np.cumsum([0] + sizes[:-1])
    size = sum(sizes) + extra
    out_start = size - sizes[-1]
    starts[-1] = out_start  # output neurons are the last ones (eq. 4)
    kernel = np.zeros((size, size))  # kernel[j, i] = W_ij
    bias = np.zeros(size)
    bias[sum(sizes[:-1]) : out_start] = -1.0  # unused neurons stay off
    mlp = []
    for k in range(1, len(sizes)):
        w = rng.normal(size=(sizes[k - 1], sizes[k]))
        b = -np.abs(rng.normal(scale=0.1, size=sizes[k]))
        rows = slice(starts[k - 1], starts[k - 1] + sizes[k - 1])
        cols = slice(starts[k], starts[k] + sizes[k])
        kernel[rows, cols] = w
        bias[cols] = b
        mlp.append((w, b))
    urn = URNLayer(
        size=size,
        iterations=iterations or len(sizes) - 1,
        output_dim=sizes[-1],
        residual=residual,
    )
    urn.build((None, sizes[0]))
    urn.kernel.assign(kernel.astype("float32"))
    urn.bias.assign(bias.astype("float32"))
    return urn, mlp


def run_mlp(mlp, x):
    for w, b in mlp:
        x = np.maximum(x @ w + b, 0.0)
    return x


def test_embedded_mlp_is_recovered_exactly():
    urn, mlp = embed_mlp([4, 6, 5, 3])
    x = np.random.default_rng(1).normal(size=(500, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(urn(x)), run_mlp(mlp, x), rtol=1e-5, atol=1e-5)
    structure = extract_structure(urn, x)
    assert structure.hidden_widths == [6, 5]
    assert structure.n_active == 6 + 5 + 3
    np.testing.assert_array_equal(structure.first_activation[4:10], 1)
    np.testing.assert_array_equal(structure.first_activation[10:15], 2)
    np.testing.assert_array_equal(structure.first_activation[15:22], -1)  # unused
    model = structure.to_keras()
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [6, 5, 3]
    for layer, (w, b) in zip(dense, mlp, strict=True):
        np.testing.assert_allclose(layer.kernel.numpy(), w, rtol=1e-6)
        np.testing.assert_allclose(layer.bias.numpy(), b, rtol=1e-6)
    assert connectivity_summary(structure)["forward"] == pytest.approx(1.0)


def test_embedded_mlp_with_residual_outputs_keeps_one_hidden_layer():
    # 1 hidden layer but 4 updates: the outputs stop changing after update 2 (eq. 6)
    urn, mlp = embed_mlp([3, 8, 2], residual="output", iterations=4)
    x = np.random.default_rng(2).normal(size=(400, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(urn(x)), run_mlp(mlp, x), rtol=1e-5, atol=1e-5)
    structure = extract_structure(urn, x)
    assert structure.hidden_widths == [8]
    assert structure.output_updates == [2]
    model = structure.to_keras()
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [8, 2]
    np.testing.assert_allclose(model.predict(x, verbose=0), run_mlp(mlp, x), rtol=1e-5, atol=1e-5)


def test_weight_threshold_drops_tiny_synapses():
    urn, mlp = embed_mlp([4, 6, 3], extra=5)
    kernel = urn.kernel.numpy()
    noise = np.random.default_rng(3).uniform(-1e-6, 1e-6, kernel.shape)
    urn.kernel.assign(kernel + noise.astype("float32"))
    x = np.random.default_rng(1).normal(size=(300, 4)).astype("float32")
    exact = extract_structure(urn, x)
    pruned = extract_structure(urn, x, weight_threshold=1e-5)
    assert pruned.hidden_widths == [6]
    assert sum(pruned.unit_widths) <= sum(exact.unit_widths)
    np.testing.assert_allclose(
        pruned.to_keras().predict(x, verbose=0), np.asarray(urn(x)), rtol=1e-4, atol=1e-4
    )


def train(residual, size=48, epochs=12, seed=0):
    keras.utils.set_random_seed(seed)
    x, y = spheres()
    urn = URNLayer(
        size=size,
        iterations=4,
        output_dim=2,
        residual=residual,
        weight_l1=1e-3,
        activity_l1=1e-2,
    )
    model = keras.Sequential([keras.Input((5,)), urn])
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return urn, model, x


@pytest.mark.parametrize("residual", [None, "output", "input"])
def test_to_keras_equals_trained_urn(residual):
    urn, model, x = train(residual)
    structure = extract_structure(urn, x)
    assert isinstance(structure, URNStructure)
    mlp = structure.to_keras()
    assert all(isinstance(layer, keras.layers.Dense) for layer in mlp.layers), (
        "an explicit MLP of Dense layers"
    )
    np.testing.assert_allclose(
        mlp.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )
    # inactive neurons are dropped from the plot ordering
    order = structure.order
    assert order.size == urn.embed_dim + np.sum(structure.active & structure.hidden_mask) + 2
    levels = structure.first_activation[order[urn.embed_dim : -2]]
    assert np.all(np.diff(levels) >= 0) and np.all(levels >= 1)


@pytest.mark.parametrize("residual", [None, "output", "input"])
def test_to_keras_with_interpolated_2d_geometry(residual):
    keras.utils.set_random_seed(0)
    urn = URNLayer(
        iterations=3, output_dim=3, residual=residual, geometry=URNGeometry((5, 6), depth=3)
    )
    model = keras.Sequential([keras.Input((4, 4, 1)), urn])
    x = np.random.default_rng(0).normal(size=(50, 4, 4, 1)).astype("float32")
    mlp = extract_structure(urn, x).to_keras()
    assert isinstance(mlp.layers[0], keras.layers.Flatten)
    np.testing.assert_allclose(
        mlp.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("residual", [None, "output"])
def test_to_keras_of_a_dead_urn(residual):
    urn = URNLayer(size=20, iterations=3, output_dim=2, residual=residual)
    urn.build((None, 3))
    urn.bias.assign(np.full(20, -5.0, "float32"))
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    structure = extract_structure(urn, x)
    assert structure.n_active == 0 and structure.hidden_widths == []
    np.testing.assert_array_equal(structure.to_keras().predict(x, verbose=0), np.zeros((10, 2)))


def test_to_keras_needs_relu_for_residual_modes():
    urn = URNLayer(size=20, iterations=2, output_dim=2, residual="output", activation="tanh")
    urn.build((None, 3))
    structure = extract_structure(urn, np.ones((4, 3), "float32"))
    with pytest.raises(ValueError, match="activation"):
        structure.to_keras()


def test_to_keras_with_other_activation_without_residual():
    keras.utils.set_random_seed(0)
    urn = URNLayer(size=20, iterations=3, output_dim=2, activation="tanh")
    model = keras.Sequential([keras.Input((3,)), urn])
    x = np.random.default_rng(0).normal(size=(30, 3)).astype("float32")
    mlp = extract_structure(urn, x).to_keras()
    np.testing.assert_allclose(
        mlp.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )


def test_connectivity_by_plane_needs_geometry():
    urn, _ = embed_mlp([3, 4, 2])
    structure = extract_structure(urn, np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="geometry"):
        connectivity_summary(structure, by="plane")
    with pytest.raises(ValueError, match="by"):
        connectivity_summary(structure, by="depth")


def test_extract_structure_rejects_bad_arguments():
    urn = URNLayer(size=20, output_dim=2)
    with pytest.raises(ValueError, match="built"):
        extract_structure(urn, np.ones((2, 3)))
    urn.build((None, 3))
    with pytest.raises(ValueError, match="weight_threshold"):
        extract_structure(urn, np.ones((2, 3)), weight_threshold=-1.0)
    with pytest.raises(ValueError, match="x"):
        extract_structure(urn, np.ones(3))


def test_connectivity_by_plane_against_hand_computed_lengths():
    geometry = URNGeometry(6, depth=3, beta=4.0)
    urn = URNLayer(iterations=2, output_dim=1, geometry=geometry)
    urn.build((None, 6))
    coords = geometry.grid_coordinates(1)
    index = {(int(x), int(z)): k for k, (x, z) in enumerate(coords)}
    kernel = np.zeros((urn.size, urn.size), "float32")  # kernel[j, i]: synapse j -> i
    for x in range(6):
        kernel[index[(x, 0)], index[(x, 1)]] = 1.0  # forward, straight up one plane
    kernel[index[(4, 2)], index[(1, 1)]] = -2.0  # backward, 3 grid steps sideways
    urn.kernel.assign(kernel)
    urn.bias.assign(np.full(urn.size, 0.5, "float32"))
    structure = extract_structure(urn, np.ones((3, 6), "float32"))
    summary = connectivity_summary(structure, by="plane")
    assert summary["forward"] == pytest.approx(0.75)
    assert summary["backward"] == pytest.approx(0.25)
    assert summary["same"] == pytest.approx(0.0)
    assert summary["mean_length"] == pytest.approx((6 * 2.0 + 2 * np.sqrt(9 + 4)) / 8)
    assert summary["mean_lateral"] == pytest.approx(2 * 3 / 8)
