"""Widths reach every place Keras shows training progress."""

import csv
import glob

import keras
import numpy as np
import tensorflow as tf
from topologies import build, sample_inputs

import keras_grow


class GrowEachEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.add_units("h1", 2)


def _fit_with(callbacks, epochs=3):
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("mlp"))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = sample_inputs("mlp", 32)
    y = np.arange(32) % 3
    # Growth callback first, so the loggers after it see the epoch's final widths.
    history = model.fit(x, y, batch_size=8, epochs=epochs, callbacks=callbacks, verbose=0)
    return model, history


def test_history_and_csv_logger_record_widths(tmp_path):
    path = tmp_path / "log.csv"
    _, history = _fit_with([GrowEachEpoch(), keras.callbacks.CSVLogger(str(path))])
    # Logged by the train step: the width during the epoch's last step.
    assert history.history["width_h1"] == [6.0, 8.0, 10.0]
    assert history.history["width_h2"] == [5.0, 5.0, 5.0]
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["width_h1"]) for r in rows] == [6.0, 8.0, 10.0]


def test_tensorboard_writes_width_scalars(tmp_path):
    _fit_with([GrowEachEpoch(), keras.callbacks.TensorBoard(str(tmp_path))], epochs=2)
    values = []
    for event_file in glob.glob(str(tmp_path / "train" / "events.out.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                if value.tag == "epoch_width_h1":
                    values.append(float(tf.make_ndarray(value.tensor)))
    assert values == [6.0, 8.0]


def test_progress_bar_shows_widths(capsys):
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("mlp"))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(sample_inputs("mlp", 16), np.arange(16) % 3, epochs=1, verbose=2)
    assert "width_h1: 6.0" in capsys.readouterr().out


def test_log_widths_can_be_turned_off():
    keras.utils.set_random_seed(0)
    model = keras_grow.DynamicModel(build("mlp"), log_widths=False)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(sample_inputs("mlp", 16), np.arange(16) % 3, epochs=1, verbose=0)
    assert not any(key.startswith("width_") for key in history.history)
