"""Grown and pruned DynamicModels save, reload and resume exactly."""

import keras
import numpy as np
from topologies import build, sample_inputs

import keras_grow


def _grown_model(name="conv_bn_pool", seed=0):
    keras.utils.set_random_seed(seed)
    model = keras_grow.DynamicModel(build(name), seed=seed)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    x = sample_inputs(name, 48, seed=1)
    y = np.arange(48) % 3
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.add_units("c1", 5)
    model.remove_units("c1", [1, 4])
    model.add_units("c2", 3)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model, x, y


def test_keras_file_round_trip_restores_outputs_widths_and_history(tmp_path):
    model, x, y = _grown_model()
    path = tmp_path / "grown.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras_grow.DynamicModel)
    assert loaded.widths() == model.widths()
    assert loaded.capacities() == model.capacities()
    assert loaded.structure_history == model.structure_history
    assert loaded.initial_widths == model.initial_widths
    for training in (False, True):  # training mode updates both models' BN statistics alike
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded(x, training=training)),
            keras.ops.convert_to_numpy(model(x, training=training)),
        )
    # The optimizer state came back too: one more identical step on both.
    model.fit(x[:16], y[:16], batch_size=16, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x[:16], y[:16], batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # And it keeps growing.
    loaded.add_units("c1", 2)
    assert loaded.widths()["c1"] == model.widths()["c1"] + 2


def test_load_weights_resizes_a_fresh_model(tmp_path):
    model, x, _ = _grown_model()
    path = tmp_path / "grown.weights.h5"
    model.save_weights(path)
    keras.utils.set_random_seed(3)
    fresh = keras_grow.DynamicModel(build("conv_bn_pool"))
    fresh.load_weights(path)
    assert fresh.widths() == model.widths()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(fresh(x)), keras.ops.convert_to_numpy(model(x))
    )


class GrowEachEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.add_units("c1", 2, reason=f"epoch {epoch}")
        if epoch == 1:
            self.model.remove_units("c2", [0])


class InterruptAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _backup_run(backup_dir, interrupt):
    x = sample_inputs("conv_bn_pool", 48, seed=1)
    y = np.arange(48) % 3

    def fresh():
        keras.utils.set_random_seed(7)
        model = keras_grow.DynamicModel(build("conv_bn_pool"))
        model.compile(
            keras.optimizers.Adam(1e-2),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    callbacks = [GrowEachEpoch(), keras.callbacks.BackupAndRestore(str(backup_dir))]
    fit = dict(x=x, y=y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    model = fresh()
    if interrupt:
        try:
            model.fit(**fit, callbacks=callbacks + [InterruptAtEpoch(2)])
        except KeyboardInterrupt:
            pass
        model = fresh()
    model.fit(**fit, callbacks=callbacks)
    return model


def test_backup_and_restore_resumes_a_growing_run_exactly(tmp_path):
    uninterrupted = _backup_run(tmp_path / "a", interrupt=False)
    resumed = _backup_run(tmp_path / "b", interrupt=True)
    assert resumed.widths() == uninterrupted.widths()
    assert resumed.widths()["c1"] == 6 + 4 * 2
    for a, b in zip(uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
