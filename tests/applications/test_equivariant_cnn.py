import keras
import numpy as np
import pytest

from keras_grow import groups
from keras_grow.applications import EquivariantCNN
from keras_grow.layers import GroupBatchNormalization, GroupConv2D, LiftingConv2D


def random_array(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def expected_parameters(order, width=128, k=3, c0=1, dense=64, classes=10):
    f1, f2 = width // order, 2 * width // order
    convolutions = k * k * (c0 * f1 + 3 * order * f1 * f1 + order * f1 * f2 + 3 * order * f2 * f2)
    batch_norms = 16 * (f1 + f2)
    head = dense * f2 + 4 * dense + (dense + 1) * classes
    return convolutions + batch_norms + head


@pytest.mark.parametrize("name", groups.GROUP_NAMES)
def test_thesis_backbone_structure_and_parameter_count(name):
    model = EquivariantCNN(name)
    order = groups.get(name).order
    assert model.name == f"equivariant_cnn_{name.lower()}"
    assert model.output_shape == (None, 10)
    convs = [layer for layer in model.layers if isinstance(layer, (LiftingConv2D, GroupConv2D))]
    assert len(convs) == 8 and isinstance(convs[0], LiftingConv2D)
    # constant expanded width: 16 D4 fields = 128 channels, doubled after 4 layers
    assert [c.output_channels for c in convs] == [128] * 4 + [256] * 4
    assert [c.filters for c in convs] == [128 // order] * 4 + [256 // order] * 4
    assert sum(isinstance(layer, GroupBatchNormalization) for layer in model.layers) == 8
    pools = [
        layer.name for layer in model.layers if isinstance(layer, keras.layers.AveragePooling2D)
    ]
    assert pools == ["pool2", "pool4", "pool6", "pool8"]
    assert model.count_params() == expected_parameters(order)


def test_d4_parameter_count_value():
    assert EquivariantCNN("D4").count_params() == 317_210


@pytest.mark.parametrize("name", ["D4", "C4"])
def test_model_is_invariant_in_inference_mode(name):
    group = groups.get(name)
    model = EquivariantCNN(name, input_shape=(16, 16, 1), width=16, classifier_activation=None)
    # non-trivial batch-norm statistics so that the check is not vacuous
    model.predict(random_array((8, 16, 16, 1), seed=1), verbose=0)
    for layer in model.layers:
        if isinstance(layer, GroupBatchNormalization):
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 0.05, "float32"))
    x = random_array((2, 16, 16, 1))
    logits = model(x, training=False).numpy()
    assert np.abs(logits).max() > 1e-2
    for g in range(group.order):
        moved = model(group.act_on_grid(g, x, axes=(1, 2)), training=False).numpy()
        np.testing.assert_allclose(moved, logits, atol=1e-5 * np.abs(logits).max())
    if name == "C4":  # a mirror is not a symmetry of a C4 network
        mirrored = model(x[:, :, ::-1], training=False).numpy()
        assert np.abs(mirrored - logits).max() > 1e-3 * np.abs(logits).max()


def test_one_training_step_and_keras_file_round_trip(tmp_path):
    model = EquivariantCNN("D2", input_shape=(16, 16, 1), classes=3, width=8)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    kernel_before = model.get_layer("gconv2").kernel.numpy().copy()
    x, y = random_array((8, 16, 16, 1)), np.arange(8) % 3
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert not np.allclose(model.get_layer("gconv2").kernel.numpy(), kernel_before)
    assert np.any(model.get_layer("gbn1").moving_mean.numpy() != 0)
    path = str(tmp_path / "ecnn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_weights_file_and_headless_variants(tmp_path):
    model = EquivariantCNN("C4", input_shape=(16, 16, 1), width=8)
    path = str(tmp_path / "ecnn.weights.h5")
    model.save_weights(path)
    reloaded = EquivariantCNN("C4", input_shape=(16, 16, 1), width=8, weights=path)
    x = random_array((2, 16, 16, 1))
    np.testing.assert_allclose(reloaded(x).numpy(), model(x).numpy(), atol=1e-6)
    base = EquivariantCNN("C4", input_shape=(16, 16, 1), width=8, include_top=False)
    assert base.output_shape == (None, 1, 1, 16)
    pooled = EquivariantCNN(
        "C4", input_shape=(16, 16, 1), width=8, include_top=False, pooling="max"
    )
    assert pooled.output_shape == (None, 4)
    wide = EquivariantCNN("D4", input_shape=(64, 64, 3), width=8, pool_after=(2, 4, 5, 6, 7, 8))
    assert wide.get_layer("pool8").output.shape[1] == 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(group="D5"), "Unknown group name: 'D5'"),
        (dict(width=12), r"`width` must be a multiple of \|D4\|=8; received 12"),
        (dict(pooling="sum"), "`pooling` must be None, 'avg' or 'max'; received 'sum'"),
        (dict(weights="imagenet"), "`weights` must be None.*received 'imagenet'"),
        (dict(input_shape=(8, 8, 1)), r"`input_shape`=\(8, 8, 1\) is too small"),
        (dict(input_shape=(28, 28)), r"`input_shape` must be \(height, width, channels\)"),
        (dict(pool_after=(0, 2)), "`pool_after` entries must be in 1..8"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EquivariantCNN(**kwargs)
