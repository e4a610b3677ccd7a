"""A resize inside fit under MirroredStrategy (two logical CPUs) matches one device."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import keras_grow

class Grow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            self.model.add_units("h1", 3)
            self.model.remove_units("h2", [0])

def run(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        inputs = keras.Input((6,))
        x = keras.layers.Dense(4, activation="relu", name="h1")(inputs)
        x = keras.layers.Dense(4, activation="relu", name="h2")(x)
        model = keras_grow.DynamicModel(inputs, keras.layers.Dense(2, name="out")(x), seed=0)
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=(64, 2)).astype("float32")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, callbacks=[Grow()], verbose=0)
    return model

single = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
mirrored = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
diff = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), mirrored.get_weights()))
print(json.dumps({"single": single.widths(), "mirrored": mirrored.widths(), "diff": diff,
                  "replicas": mirrored.distribute_strategy.num_replicas_in_sync}))
"""


def test_mirrored_strategy_resize_matches_single_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    if result.returncode != 0:
        pytest.fail(result.stderr[-3000:])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["single"] == report["mirrored"] == {"h1": 10, "h2": 2, "out": 2}
    assert report["diff"] < 1e-5
