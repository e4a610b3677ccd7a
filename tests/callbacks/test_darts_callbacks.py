import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.callbacks import (
    AlphaHistory,
    DropPathScheduler,
    FisherScheduler,
    ProgressivePruning,
    ProximityRegularization,
)
from keras_grow.search import DartsSearchModel


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 6, 1)).astype("float32"), rng.integers(0, 2, n)


def tiny_search(activation="softmax"):
    primitives = ("skip_connect", "avg_pool_3x3")
    if activation == "softmax":
        primitives = ("none",) + primitives
    model = DartsSearchModel(
        2, channels=2, layers=1, nodes=2, primitives=primitives, activation=activation
    )
    model.compile(loss="sparse_categorical_crossentropy", run_eagerly=True)
    return model


class Probe(keras.callbacks.Callback):
    def __init__(self, regularizer_owner):
        super().__init__()
        self.owner = regularizer_owner
        self.values = []

    def on_train_batch_begin(self, batch, logs=None):
        self.values.append(float(self.owner.regularizer.strength))


def test_proximity_strength_rises_linearly_from_zero_to_one():
    model = tiny_search()
    proximity = ProximityRegularization(rho=0.1)
    probe = Probe(proximity)
    x, y = data()
    model.fit(
        x, y, arch_data=data(8, 1), batch_size=8, epochs=2, verbose=0, callbacks=[proximity, probe]
    )
    np.testing.assert_allclose(probe.values, np.linspace(0, 1, 6), atol=1e-6)
    assert model.arch_regularizers["proximity"] is proximity.regularizer


def test_fisher_scheduler_records_every_weight_step_and_alpha_history_every_batch():
    model = tiny_search()
    fisher = FisherScheduler(initial_threshold=1e6, record=True)
    x, y = data()
    history = model.fit(
        x, y, arch_data=data(8, 1), batch_size=8, verbose=0, callbacks=[fisher, AlphaHistory(1)]
    )
    assert [entry[0] for entry in fisher.history] == [1, 2, 3]
    assert [entry[3] for entry in fisher.history] == [1, 2, 3]  # FIMT far below h: every step
    assert history.history["fimt"][0] == pytest.approx(fisher.history[-1][1])
    assert [entry["epoch"] for entry in model.alpha_history] == pytest.approx([0, 1 / 3, 2 / 3, 1])


def test_progressive_pruning_every_n_batches_for_crb():
    model = tiny_search("crb")
    model.build((None, 6, 6, 1))
    model.arch_variables[1].assign(np.array([[-1.0, 0.5]] * 5, "float32"))
    x, y = data()
    history = model.fit(
        x, y, arch_data=data(8, 1), batch_size=8, verbose=0, callbacks=[ProgressivePruning(2)]
    )
    assert model.pruning_history == [(2, 5, 15)]  # 5 of 5 + 10 (normal, unused)
    assert history.history["active_ops"] == [15]


def test_drop_path_scheduler_raises_the_rate_per_epoch():
    net = keras_grow.applications.DartsNetwork(
        keras_grow.search.DARTS_V2, channels=2, layers=3, classes=2, input_shape=(6, 6, 1)
    )
    net.compile(loss="sparse_categorical_crossentropy", run_eagerly=True)
    x, y = data(4)
    history = net.fit(x, y, epochs=2, verbose=0, callbacks=[DropPathScheduler(0.2)])
    assert history.history["drop_path_rate"] == pytest.approx([0.0, 0.1])
    with pytest.raises(ValueError, match="`max_rate` must be a number in \\[0, 1\\); received 1.5"):
        DropPathScheduler(1.5)


def test_search_callbacks_refuse_other_models():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    for callback in (ProximityRegularization(), FisherScheduler()):
        with pytest.raises(TypeError, match="must be a keras_grow.search.DartsSearchModel"):
            callback.set_model(plain)
    with pytest.raises(ValueError, match="`every_n_batches` must be None"):
        AlphaHistory(every_n_batches=0)
