"""Reproduces the preset `north_mlp_mnist5k`: a GrowingMLP grown by NORTH-Select on MNIST-5k.

The configuration of tutorials/04_north_mnist.py (64-64 start, Adam 3e-4, batch 128,
NORTH-Select with gamma=0.97, buffer 1568, fresh optimizer state for new units), with
the maximum width lowered to 256 and 200 candidates so that the run takes a few
minutes on CPU and the preset stays well under 1 MB.

Run from the repository root:

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/presets/make_north_mlp_mnist5k.py
"""

import os
import pathlib
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import keras  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow import growth  # noqa: E402
from keras_grow.applications.presets import save_preset  # noqa: E402

NAME = "north_mlp_mnist5k"
SEED = 1
EPOCHS = 20
BATCH = 128
LEARNING_RATE = 3e-4
MAX_UNITS = 256
BUFFER = 1568
CANDIDATES = 200
GAMMA = 0.97


def main(out_root):
    keras.utils.set_random_seed(SEED)
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k(
        seed=0, test_size=1000, flatten=True
    )
    model = keras_grow.DynamicModel(
        keras_grow.applications.GrowingMLP(input_shape=(784,), hidden=(64, 64), classes=10),
        seed=SEED,
    )
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    trigger, initializer = growth.strategy("north_select", gamma=GAMMA, candidates=CANDIDATES)
    callback = keras_grow.callbacks.Neurogenesis(
        trigger,
        initializer,
        max_units=MAX_UNITS,
        buffer_size=BUFFER,
        rows_per_step=BATCH,
        reserve=False,
        data=(x_train, y_train),
        probe_size=BATCH,
        seed=SEED,
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH, verbose=0, callbacks=[callback])
    seconds = time.perf_counter() - start
    model.compact()
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    train_accuracy = float(model.evaluate(x_train, y_train, verbose=0)[1])
    widths = {k: int(v) for k, v in model.widths().items()}
    metadata = {
        "name": NAME,
        "description": (
            "Two-hidden-layer MLP that started at 64-64 neurons and grew with NORTH-Select "
            "(Maile's thesis, section 6.3.3) while training on MNIST-5k; a DynamicModel that "
            "can keep growing."
        ),
        "application": "GrowingMLP (in keras_grow.DynamicModel)",
        "dataset": "keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)",
        "training": (
            f"{EPOCHS} epochs, batch {BATCH}, Adam({LEARNING_RATE}), seed {SEED}, "
            f"callbacks.Neurogenesis(growth.strategy('north_select', gamma={GAMMA}, "
            f"candidates={CANDIDATES}), max_units={MAX_UNITS}, buffer_size={BUFFER})"
        ),
        "metrics": {
            "test_accuracy": round(accuracy, 4),
            "train_accuracy": round(train_accuracy, 4),
        },
        "widths": widths,
        "initial_widths": {"hidden1": 64, "hidden2": 64, "predictions": 10},
        "parameters": int(model.count_params()),
        "training_seconds": round(seconds, 1),
        "script": "benchmarks/presets/make_north_mlp_mnist5k.py",
        "keras_grow_version": keras_grow.__version__,
    }
    folder = save_preset(model, pathlib.Path(out_root) / NAME, metadata, x_test[:16])
    print(folder, metadata["metrics"], widths, metadata["parameters"], f"{seconds:.0f} s")


if __name__ == "__main__":
    default = pathlib.Path(keras_grow.applications.presets.presets_dir())
    main(sys.argv[1] if len(sys.argv) > 1 else default)
