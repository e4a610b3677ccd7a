"""Save/load round trips of the EquiNAS_D super-network and search model."""

import keras
import numpy as np

from keras_grow.layers import GroupBatchNormalization, GroupPooling, MixedEquivariantConv
from keras_grow.search import EquiNASD, MixedEquivariantCNN
from keras_grow.search.equinas_d import mixed_layers


def _tiny_search(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((9, 9, 1))
    x = MixedEquivariantConv(1, 3, groups=("C1", "C4"), lifting=True, name="mix1")(inputs)
    x = GroupBatchNormalization("C4", momentum=0.5)(x)
    x = keras.layers.ReLU()(x)
    x = MixedEquivariantConv(1, 3, groups=("C1", "C2", "C4"), name="mix2")(x)
    x = GroupPooling("C4", reduction="mean")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    net = EquiNASD(keras.Model(inputs, outputs), seed=3)
    net.compile(
        optimizer=keras.optimizers.Adam(0.01),
        arch_optimizer=keras.optimizers.Adam(0.05),
        loss="sparse_categorical_crossentropy",
    )
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(16, 9, 9, 1)).astype("float32"), np.arange(16) % 3
    net.fit(x, y, arch_data=(x, y), batch_size=8, epochs=1, verbose=0)
    return net, x, y


def test_equinas_d_keras_file_round_trip(tmp_path):
    net, x, y = _tiny_search()
    z = net.architecture_weights()
    assert z["mix2"]["C4"] != 1 / 3  # z has moved off uniform
    path = tmp_path / "equinas_d.keras"
    net.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, EquiNASD) and loaded.seed == 3
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), net.predict(x, verbose=0))
    assert loaded.architecture_weights() == z
    # Both optimizers come back with their state (steps taken, Adam moments).
    for old, new in (
        (net.optimizer, loaded.optimizer),
        (net.arch_optimizer, loaded.arch_optimizer),
    ):
        assert type(new) is type(old) and float(new.learning_rate) == float(old.learning_rate)
        assert int(new.iterations) == int(old.iterations) == 2
    for old, new in zip(net.arch_optimizer.variables, loaded.arch_optimizer.variables):
        np.testing.assert_array_equal(new.numpy(), old.numpy())
    # The reloaded search goes on: the z step still updates z.
    before = [v.numpy().copy() for v in loaded.arch_variables]
    loaded.fit(x, y, arch_data=(x, y), batch_size=8, epochs=1, verbose=0)
    assert all(not np.allclose(b, v.numpy()) for b, v in zip(before, loaded.arch_variables))


def test_equinas_d_weights_file_round_trip(tmp_path):
    net, x, _ = _tiny_search(seed=1)
    path = tmp_path / "equinas_d.weights.h5"
    net.save_weights(path)
    fresh, _, _ = _tiny_search(seed=2)
    assert fresh.architecture_weights() != net.architecture_weights()
    fresh.load_weights(path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), net.predict(x, verbose=0))
    assert fresh.architecture_weights() == net.architecture_weights()


def test_mixed_equivariant_cnn_keras_file_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    supernet = MixedEquivariantCNN(input_shape=(16, 16, 1), width=8, dense_units=8)
    rng = np.random.default_rng(0)
    for layer in mixed_layers(supernet):  # z off uniform, as after a search
        layer.architecture_logits.assign(rng.normal(size=layer.architecture_logits.shape))
    for layer in supernet.layers:
        if isinstance(layer, (GroupBatchNormalization, keras.layers.BatchNormalization)):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=layer.moving_variance.shape))
    x = rng.random((8, 16, 16, 1), dtype="float32")
    for model in (supernet, EquiNASD(supernet)):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        for old, new in zip(mixed_layers(model), mixed_layers(loaded), strict=True):
            assert [g.name for g in new.groups] == [g.name for g in old.groups]
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(new.architecture_weights),
                keras.ops.convert_to_numpy(old.architecture_weights),
            )
