"""Reproduces the preset `darts_prime_digits`: a DartsNetwork from a short DARTS-PRIME search.

A small DARTS-PRIME search (`DartsSearchModel` with `callbacks.FisherScheduler` and
`callbacks.ProximityRegularization`, the settings of tutorials/09_darts_prime.py at a
smaller scale) on MNIST-5k digits downsampled to 14x14, then a small `DartsNetwork`
stacked from the derived genotype and trained briefly from scratch on the same images.
The genotype is stored in the metadata.

Run from the repository root:

    PYTHONPATH=$PWD python benchmarks/presets/make_darts_prime_digits.py
"""

import pathlib
import sys
import time

import keras
import numpy as np

import keras_grow
from keras_grow.applications import DartsNetwork
from keras_grow.applications.presets import save_preset
from keras_grow.callbacks import DropPathScheduler, FisherScheduler, ProximityRegularization
from keras_grow.search import DartsSearchModel

NAME = "darts_prime_digits"
SEED = 0
SIZE = 14
TRAIN = 2000
BATCH = 64
SEARCH = dict(channels=4, layers=3, nodes=4)
SEARCH_EPOCHS = 3
ARCH_LR = 0.03
EVAL = dict(channels=8, layers=3)
EVAL_EPOCHS = 6


def downsample(x):
    return x.reshape(len(x), SIZE, 2, SIZE, 2, 1).mean(axis=(2, 4)).astype("float32")


def main(out_root):
    keras.utils.set_random_seed(SEED)
    (x_all, y_all), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0, test_size=1000)
    x_all, y_all, x_test = downsample(x_all[:TRAIN]), y_all[:TRAIN], downsample(x_test)
    eleventh = len(x_all) * 10 // 11  # DARTS-PRIME's 10:1 weights / architecture split

    start = time.perf_counter()
    steps = SEARCH_EPOCHS * int(np.ceil(eleventh / BATCH))
    search = DartsSearchModel(10, **SEARCH)
    search.compile(
        weights_optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(0.025, steps, alpha=0.04),
            momentum=0.9,
            weight_decay=3e-4,
            clipnorm=5.0,
        ),
        arch_optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(ARCH_LR, steps),
            beta_1=0.5,
            weight_decay=1e-3,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    search.fit(
        x_all[:eleventh],
        y_all[:eleventh],
        arch_data=(x_all[eleventh:], y_all[eleventh:]),
        batch_size=BATCH,
        epochs=SEARCH_EPOCHS,
        verbose=0,
        callbacks=[
            FisherScheduler(initial_threshold=1.0, increase=1.05, ratio=10, decay=0.2),
            ProximityRegularization(rho=0.1),
        ],
    )
    search_seconds = time.perf_counter() - start
    genotype = search.genotype()
    print(genotype, f"search {search_seconds:.0f} s", flush=True)

    keras.utils.set_random_seed(SEED)
    net = DartsNetwork(
        genotype, classes=10, input_shape=(SIZE, SIZE, 1), seed=SEED, name=NAME, **EVAL
    )
    steps = EVAL_EPOCHS * int(np.ceil(len(x_all) / BATCH))
    net.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(0.025, steps), momentum=0.9, weight_decay=3e-4
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    net.fit(
        x_all,
        y_all,
        batch_size=BATCH,
        epochs=EVAL_EPOCHS,
        verbose=0,
        callbacks=[DropPathScheduler(0.2)],
    )
    train_seconds = time.perf_counter() - start
    accuracy = float(net.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"])
    widths = {"stem_conv": net.stem_multiplier * net.channels}
    widths.update({cell.name: int(cell.channels) for cell in net.cells})
    widths["classifier"] = net.classes
    metadata = {
        "name": NAME,
        "description": (
            "DARTS evaluation network stacked from the genotype of a short DARTS-PRIME search "
            "(Maile's thesis, chapter 5: Fisher-information schedule + proximity "
            "regularisation) on 14x14 MNIST-5k digits, then trained from scratch."
        ),
        "application": (
            f"DartsNetwork(genotype, channels={EVAL['channels']}, layers={EVAL['layers']}, "
            f"input_shape=({SIZE}, {SIZE}, 1))"
        ),
        "dataset": (
            f"keras_grow.datasets.mnist_5k(seed=0, test_size=1000), first {TRAIN} training "
            f"images, averaged 2x2 to {SIZE}x{SIZE}; search split 10:1 (weights : alpha)"
        ),
        "training": (
            f"search: DartsSearchModel(10, channels={SEARCH['channels']}, layers="
            f"{SEARCH['layers']}, nodes={SEARCH['nodes']}) {SEARCH_EPOCHS} epochs, SGD 0.025 "
            f"cosine + Adam({ARCH_LR}) alpha, FisherScheduler(1.0, 1.05, 10, 0.2) + "
            f"ProximityRegularization(0.1); network: {EVAL_EPOCHS} epochs, batch {BATCH}, "
            f"SGD(0.025 cosine, momentum 0.9), DropPathScheduler(0.2), seed {SEED}"
        ),
        "metrics": {"test_accuracy": round(accuracy, 4)},
        "widths": widths,
        "parameters": int(net.parameter_count()),
        "genotype": genotype.to_dict(),
        "search_seconds": round(search_seconds, 1),
        "training_seconds": round(train_seconds, 1),
        "script": "benchmarks/presets/make_darts_prime_digits.py",
        "keras_grow_version": keras_grow.__version__,
    }
    folder = save_preset(net, pathlib.Path(out_root) / NAME, metadata, x_test[:16])
    print(folder, metadata["metrics"], metadata["parameters"], f"{train_seconds:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else keras_grow.applications.presets.presets_dir())
