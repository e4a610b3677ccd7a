import keras
import numpy as np
import pytest

from keras_grow.applications import DartsNetwork
from keras_grow.search import DARTS_V2


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n)


def small(**kwargs):
    kwargs.setdefault("auxiliary", True)
    return DartsNetwork(DARTS_V2, channels=4, layers=3, classes=3, input_shape=(8, 8, 1), **kwargs)


def test_darts_v2_cifar10_network_has_3_3_million_parameters():
    net = DartsNetwork(DARTS_V2, channels=36, layers=20, auxiliary=True, classes=10)
    assert abs(net.parameter_count() - 3.3e6) <= 0.1e6
    assert net.parameter_count() == 3_349_342  # the DARTS paper's count, auxiliary head excluded
    assert net.parameter_count(include_auxiliary=True) - net.parameter_count() > 400_000
    assert [i for i, c in enumerate(net.cells) if c.reduction] == [6, 13]


def test_auxiliary_loss_is_added_with_its_weight_in_training_only():
    net = small(auxiliary_weight=0.4)
    net.compile(loss="sparse_categorical_crossentropy")
    x, y = data()
    y_pred = net(x, training=True)
    auxiliary = net._auxiliary_output
    assert tuple(auxiliary.shape) == (8, 3)
    total = float(net.compute_loss(x, y, y_pred, training=True))
    cross_entropy = keras.losses.SparseCategoricalCrossentropy()
    expected = float(cross_entropy(y, y_pred)) + 0.4 * float(cross_entropy(y, auxiliary))
    assert total == pytest.approx(expected, rel=1e-5)
    y_pred = net(x, training=False)
    assert net._auxiliary_output is None
    assert float(net.compute_loss(x, y, y_pred, training=False)) == pytest.approx(
        float(cross_entropy(y, y_pred)), rel=1e-5
    )


def test_drop_path_is_random_in_training_and_off_at_inference():
    net = small(auxiliary=False, drop_path_rate=0.5, seed=0)
    x, _ = data()
    assert not np.allclose(net(x, training=True).numpy(), net(x, training=True).numpy())
    np.testing.assert_allclose(net(x).numpy(), net(x).numpy())
    net.drop_path_rate.assign(0.0)
    np.testing.assert_allclose(
        net(x, training=True).numpy(), net(x, training=True).numpy(), atol=1e-6
    )


def test_fit_and_saving_round_trip(tmp_path):
    net = small()
    net.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        run_eagerly=True,
    )
    x, y = data(16)
    history = net.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = tmp_path / "net.keras"
    net.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.genotype == DARTS_V2 and loaded.auxiliary
    np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), atol=1e-5)


def test_bad_arguments():
    with pytest.raises(TypeError, match="`genotype` must be a keras_grow.search.Genotype"):
        DartsNetwork("darts")
    bad = DARTS_V2._replace(normal=DARTS_V2.normal[:-1] + (("dil_conv_3x3", 6),))
    with pytest.raises(ValueError, match="genotype.normal`: operation 7 .* states 0..4"):
        DartsNetwork(bad, channels=4, layers=3)
    with pytest.raises(ValueError, match="weights='imagenet' is not available"):
        DartsNetwork(DARTS_V2, weights="imagenet")
    with pytest.raises(ValueError, match="`input_shape`=\\(32, 32\\) is not allowed"):
        DartsNetwork(DARTS_V2, input_shape=(32, 32))
