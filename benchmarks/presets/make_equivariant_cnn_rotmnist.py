"""Reproduces the preset `equivariant_cnn_rotmnist`: a small C4 EquivariantCNN on rotated MNIST-5k.

The backbone of tutorials/08_equinas_rotated_mnist.py (width 16 expanded channels instead
of the thesis' 128, 32 dense units) with the group C4, trained on MNIST-5k where every
image is rotated by a random angle (`keras_grow.datasets.rotated`). The model is exactly
invariant to rotations by multiples of 90 degrees.

Run from the repository root:

    PYTHONPATH=$PWD python benchmarks/presets/make_equivariant_cnn_rotmnist.py
"""

import pathlib
import sys
import time

import keras
import tensorflow as tf

import keras_grow
from keras_grow.applications.presets import save_preset

NAME = "equivariant_cnn_rotmnist"
SEED = 0
GROUP = "C4"
WIDTH = 16
DENSE = 32
EPOCHS = 8
BATCH = 64
LEARNING_RATE = 3e-3


def main(out_root):
    keras.utils.set_random_seed(SEED)
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0, test_size=1000)
    x_train, y_train = keras_grow.datasets.rotated(x_train, y_train, seed=0)
    x_test, y_test = keras_grow.datasets.rotated(x_test, y_test, seed=1)
    model = keras_grow.applications.EquivariantCNN(
        GROUP, input_shape=(28, 28, 1), width=WIDTH, dense_units=DENSE, name=NAME
    )
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stream = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=SEED, reshuffle_each_iteration=True)
        .batch(BATCH)
    )
    start = time.perf_counter()
    model.fit(stream, epochs=EPOCHS, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    widths = {
        layer.name: int(layer.compute_output_shape(layer.input.shape)[-1])
        for layer in model.layers
        if "conv" in layer.name or isinstance(layer, keras.layers.Dense)
    }
    metadata = {
        "name": NAME,
        "description": (
            f"Group-equivariant CNN (Maile's thesis, section 4.5) for the group {GROUP}, "
            f"{WIDTH} expanded channels in layers 1-4 and {2 * WIDTH} in 5-8, trained on "
            "rotated MNIST-5k; invariant to rotations by multiples of 90 degrees."
        ),
        "application": (
            f"EquivariantCNN({GROUP!r}, input_shape=(28, 28, 1), width={WIDTH}, "
            f"dense_units={DENSE})"
        ),
        "dataset": (
            "keras_grow.datasets.mnist_5k(seed=0, test_size=1000), every image rotated by "
            "keras_grow.datasets.rotated (train seed 0, test seed 1)"
        ),
        "training": f"{EPOCHS} epochs, batch {BATCH}, Adam({LEARNING_RATE}), seed {SEED}",
        "metrics": {"test_accuracy": round(accuracy, 4)},
        "widths": widths,
        "parameters": int(model.count_params()),
        "training_seconds": round(seconds, 1),
        "script": "benchmarks/presets/make_equivariant_cnn_rotmnist.py",
        "keras_grow_version": keras_grow.__version__,
    }
    folder = save_preset(model, pathlib.Path(out_root) / NAME, metadata, x_test[:16])
    print(folder, metadata["metrics"], widths, metadata["parameters"], f"{seconds:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else keras_grow.applications.presets.presets_dir())
