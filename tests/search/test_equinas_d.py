"""EquiNAS_D: alternating z / Psi updates inside fit, z on the simplex, z history."""

import keras
import numpy as np
import pytest

from keras_grow.layers import GroupBatchNormalization, GroupPooling, MixedEquivariantConv
from keras_grow.search import ArchitectureHistory, EquiNASD, MixedEquivariantCNN


def _tiny(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((9, 9, 1))
    x = MixedEquivariantConv(1, 3, groups=("C1", "C4"), lifting=True, name="mix1")(inputs)
    x = GroupBatchNormalization("C4")(x)
    x = keras.layers.ReLU()(x)
    x = MixedEquivariantConv(1, 3, groups=("C1", "C2", "C4"), name="mix2")(x)
    x = GroupPooling("C4", reduction="mean")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return EquiNASD(keras.Model(inputs, outputs))


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 9, 9, 1)).astype("float32"), np.arange(n) % 3


def _values(variables):
    return [keras.ops.convert_to_numpy(v).copy() for v in variables]


def _changed(before, variables):
    return [not np.allclose(b, keras.ops.convert_to_numpy(v)) for b, v in zip(before, variables)]


@pytest.mark.parametrize("frozen", ["arch", "weights"])
def test_each_optimizer_updates_only_its_own_variables(frozen):
    model = _tiny()
    arch_lr, weight_lr = (0.0, 0.05) if frozen == "arch" else (0.05, 0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(weight_lr),
        arch_optimizer=keras.optimizers.Adam(arch_lr),
        loss="sparse_categorical_crossentropy",
    )
    x, y = _data()
    assert len(model.arch_variables) == 2
    assert {v.name for v in model.arch_variables} == {"architecture_logits"}
    arch_before, weights_before = _values(model.arch_variables), _values(model.weight_variables)
    model.fit(x, y, arch_data=(x, y), batch_size=8, epochs=1, verbose=0)
    assert int(model.arch_optimizer.iterations) == int(model.optimizer.iterations) == 2
    arch_moved = _changed(arch_before, model.arch_variables)
    weights_moved = _changed(weights_before, model.weight_variables)
    if frozen == "arch":
        assert not any(arch_moved) and any(weights_moved)
    else:
        assert all(arch_moved) and not any(weights_moved)


def test_z_stays_on_the_simplex_and_history_has_one_row_per_step():
    model = _tiny()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        arch_optimizer=keras.optimizers.Adam(0.5),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x, y = _data()
    per_batch, per_epoch = ArchitectureHistory("batch"), ArchitectureHistory("epoch")
    history = model.fit(
        x,
        y,
        arch_data=(x[::-1], y[::-1]),
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[per_batch, per_epoch],
        validation_data=(x, y),
    )
    assert per_batch.steps == [0, 1, 2, 3, 4]  # initial row + 2 epochs x 2 steps
    assert per_epoch.steps == [0, 2, 4]
    assert per_batch.groups == {"mix1": ("C1", "C4"), "mix2": ("C1", "C2", "C4")}
    for recorder, rows in ((per_batch, 5), (per_epoch, 3)):
        for name, z in recorder.weights.items():
            assert z.shape == (rows, len(recorder.groups[name]))
            np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-6)
            assert (z >= 0).all()
        assert not np.allclose(recorder.weights["mix2"][0], recorder.weights["mix2"][-1])
    np.testing.assert_allclose(per_batch.weights["mix1"][-1], per_epoch.weights["mix1"][-1])
    assert len(history.history["z_mix2_C4"]) == 2 and len(history.history["arch_loss"]) == 2
    assert "val_arch_loss" not in history.history
    final = model.architecture_weights()["mix2"]
    assert history.history["z_mix2_C2"][-1] == pytest.approx(final["C2"], abs=1e-6)


def test_export_layers_compute_the_mixed_layers():
    model = _tiny()
    x, _ = _data(2)
    layer = model.get_layer("mix1")
    np.testing.assert_allclose(model.export_layers()["mix1"](x), layer(x), atol=1e-5)


def test_bad_input_names_the_argument():
    model = _tiny()
    x, y = _data()
    with pytest.raises(ValueError, match="arch_optimizer"):
        model.fit(x, y, arch_data=(x, y))  # not compiled
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="arch_optimizer"):
        model.compile(optimizer=optimizer, arch_optimizer=optimizer, loss="mse")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="arch_data"):
        model.fit(x, y, epochs=1)
    with pytest.raises(TypeError, match="arch_data"):
        model.fit(x, y, arch_data=x, epochs=1)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, arch_data=(x, y), validation_split=0.2)
    with pytest.raises(ValueError, match="MixedEquivariantConv"):
        EquiNASD(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="'C3'"):
        MixedEquivariantCNN(("C1", "C3"), input_shape=(9, 9, 1), width=8)
    with pytest.raises(ValueError, match="frequency"):
        ArchitectureHistory("step")


def test_supernet_is_the_thesis_backbone():
    net = MixedEquivariantCNN(("C1", "D4"), input_shape=(12, 12, 1), width=8, pool_after=(2, 4))
    mixed = [layer for layer in net.layers if isinstance(layer, MixedEquivariantConv)]
    assert len(mixed) == 8 and mixed[0].lifting and not mixed[1].lifting
    assert [layer.output_channels for layer in mixed] == [8] * 4 + [16] * 4


def test_supernet_normalises_per_channel_unless_asked_for_orbits():
    kwargs = dict(input_shape=(12, 12, 1), width=8, dense_units=4, pool_after=(2, 4))
    channel = MixedEquivariantCNN(("C1", "D4"), **kwargs)
    orbit = MixedEquivariantCNN(("C1", "D4"), normalization="orbit", **kwargs)
    # per channel: one statistic and one gamma per channel, the head reads all channels
    assert tuple(channel.get_layer("gbn1").gamma.shape) == (8,)
    assert channel.get_layer("fc1").kernel.shape[0] == 16
    # per orbit: one per D4 field (8 channels), the head reads one invariant per field
    assert tuple(orbit.get_layer("gbn1").gamma.shape) == (1,)
    assert orbit.get_layer("fc1").kernel.shape[0] == 2
    with pytest.raises(ValueError, match="`normalization`.*'batch'"):
        MixedEquivariantCNN(("C1", "D4"), normalization="batch", **kwargs)


@pytest.mark.parametrize("normalization", ["channel", "orbit"])
def test_channel_statistics_are_per_channel_in_training_mode(normalization):
    """After the first batch norm every channel is standardised only with per-channel stats.

    With orbit statistics and a C1 component the 8 channels of a D4 field
    share one mean, so single channels stay far from zero mean - the
    mis-normalisation that stalled the super-network on rotated digits.
    """
    keras.utils.set_random_seed(0)
    net = MixedEquivariantCNN(
        ("C1", "D4"),
        input_shape=(12, 12, 1),
        width=8,
        dense_units=4,
        pool_after=(2, 4),
        normalization=normalization,
    )
    probe = keras.Model(net.input, net.get_layer("gbn2").output)
    x = np.random.default_rng(0).normal(size=(16, 12, 12, 1)).astype("float32")
    channel_means = probe(x, training=True).numpy().mean(axis=(0, 1, 2))
    if normalization == "channel":
        np.testing.assert_allclose(channel_means, 0.0, atol=1e-4)
    else:
        assert np.abs(channel_means).max() > 0.05
