"""Pretrain the DYNO source model and save it as preset `dyno_source_mnist04`.

A small VGG-style CNN (five 3×3 convolutions with ReLU, 2×2
max pooling after convolutions 2, 4 and 5, one hidden dense layer) trained
on the MNIST-5k digits 0-4 (about 2 000 training images). The preset uses
`--width 2`: 32, 32, 64, 64 and 128 channels and 64 dense units (97.8 %
test accuracy, 0.9 MB). DYNO prunes where a pretrained network is
over-parameterised for its target task (the thesis starts from VGG-11); at
width 1 (16-64 channels) one unit is 1.5-6 % of φ_ED, few evaluations
leave the ±δ band, and the far-task FLOPs ended at 94-102 % of the
pretrained model (measured). VGG-11 needs at
least 32×32 inputs (five poolings), so this is the CPU-scale stand-in for
the ImageNet-pretrained VGG-11 of Maile's thesis section 7.3. Tutorial 05
fine-tunes it on digits 5-9 (near task) and rotated digits 5-9 (far task).

Deterministic for its seed (`keras.utils.set_random_seed` and TensorFlow op
determinism); about a minute on two CPU cores.

No batch normalisation, like the plain VGG-11: φ_ED compares singular values
with an absolute ε (1e-2), and batch norm rescales every channel to unit
variance, which keeps φ_ED of every convolution at exactly 1 (measured:
DYNO then never triggers in the conv layers).

Usage:

    PYTHONPATH=$PWD python benchmarks/presets/make_dyno_source.py [--epochs 6] [--width 2]
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_grow  # noqa: E402
from keras_grow.applications.presets import save_preset  # noqa: E402

NAME = "dyno_source_mnist04"
SOURCE_CLASSES = (0, 1, 2, 3, 4)
CHANNELS = (16, 16, "M", 32, 32, "M", 64, "M")
DENSE_UNITS = 64


def small_vgg(input_shape=(28, 28, 1), classes=5, name="dyno_vgg", width=1):
    """The VGG-style source network: `conv1`…`conv5`, `fc1`, `predictions` (logits).

    `width` multiplies the channels of every convolution (not the dense units).
    """
    inputs = keras.Input(input_shape)
    x = inputs
    index = 0
    for entry in CHANNELS:
        if entry == "M":
            x = keras.layers.MaxPooling2D(2, name=f"pool{index}")(x)
            continue
        index += 1
        x = keras.layers.Conv2D(entry * width, 3, padding="same", name=f"conv{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(DENSE_UNITS, activation="relu", name="fc1")(x)
    outputs = keras.layers.Dense(classes, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def source_data(seed=0):
    """MNIST-5k digits 0-4: `(x_train, y_train), (x_test, y_test)`."""
    (x_train, y_train), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=seed)
    keep_train = np.isin(y_train, SOURCE_CLASSES)
    keep_test = np.isin(y_test, SOURCE_CLASSES)
    return (x_train[keep_train], y_train[keep_train]), (x_test[keep_test], y_test[keep_test])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--width", type=int, default=2, help="multiplies the conv channels")
    parser.add_argument(
        "--out",
        default=str(pathlib.Path(keras_grow.__file__).parent / "applications" / "presets" / NAME),
    )
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()
    (x_train, y_train), (x_test, y_test) = source_data(seed=0)
    model = small_vgg(width=args.width)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, verbose=2, shuffle=True)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    widths = {
        layer.name: int(layer.kernel.shape[-1])
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    }
    metadata = {
        "name": NAME,
        "description": (
            "Small VGG-style CNN (5 conv + 1 hidden dense) pretrained on MNIST-5k digits 0-4: "
            "the source model of the DYNO transfer tutorial (tutorials/05_dyno_transfer.py)."
        ),
        "application": f"small_vgg(width={args.width}) (benchmarks/presets/make_dyno_source.py)",
        "dataset": "keras_grow.datasets.mnist_5k(seed=0), digits 0-4 "
        f"({len(y_train)} train / {len(y_test)} test images)",
        "training": f"{args.epochs} epochs, batch 64, Adam(1e-3), no callbacks, seed {args.seed}",
        "metrics": {"test_accuracy": round(float(accuracy), 4)},
        "widths": widths,
        "parameters": int(model.count_params()),
        "script": "benchmarks/presets/make_dyno_source.py",
        "keras_grow_version": keras_grow.__version__,
    }
    # Saved uncompiled-equivalent (no optimizer state), with a probe batch for the tests.
    out = save_preset(model, args.out, metadata, x_test[:8])
    print(f"saved {out} in {seconds:.1f} s of training: test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
