"""Reproduces the presets `urn_spheres` and `urn_spheres_mlp` (Golkar's URN, section 2).

A `URNLayer` (S neurons, I = 4 updates, c_W = 5e-7, c_N = 2e-5, Adam 7e-4: the paper's
Fig. 3 setting, with S reduced from 5000 to 300, cf. tutorials/06_urn_spheres.py) trained on
two concentric 10-d spheres; then the layered MLP that emerged in it, read with
`keras_grow.analysis.extract_structure(...).to_keras()`, which reproduces the URN's
outputs exactly on the training sample. Both are saved as presets.

Run from the repository root:

    PYTHONPATH=$PWD python benchmarks/presets/make_urn_spheres.py
"""

import pathlib
import sys
import time

import keras
import numpy as np

import keras_grow
from keras_grow.analysis import extract_structure
from keras_grow.applications.presets import save_preset
from keras_grow.datasets import concentric_spheres
from keras_grow.layers import URNLayer

SEED = 0
SIZE = 300
EPOCHS = 200
N_TRAIN = 4000
BATCH = 32
DATASET = "keras_grow.datasets.concentric_spheres(dim=10, n_train=4000, n_test=1000, seed=0)"


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0).argmax(1) == y))


def main(out_root):
    keras.utils.set_random_seed(SEED)
    (x_train, y_train), (x_test, y_test) = concentric_spheres(
        dim=10, n_train=N_TRAIN, n_test=1000, seed=0
    )
    urn = URNLayer(
        size=SIZE, iterations=4, output_dim=2, weight_l1=5e-7, activity_l1=2e-5, name="urn"
    )
    model = keras.Sequential([keras.Input((10,)), urn], name="urn_spheres")
    model.compile(
        keras.optimizers.Adam(7e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    seconds = time.perf_counter() - start
    structure = extract_structure(urn, x_train)
    mlp = structure.to_keras(name="urn_spheres_mlp")
    gap = float(np.abs(mlp.predict(x_train, verbose=0) - model.predict(x_train, verbose=0)).max())
    training = (
        f"{EPOCHS} epochs, batch {BATCH}, Adam(7e-4), sparse cross-entropy on logits, "
        f"seed {SEED}; URNLayer(size={SIZE}, iterations=4, weight_l1=5e-7, activity_l1=2e-5)"
    )
    common = {
        "dataset": DATASET,
        "training": training,
        "keras_grow_version": keras_grow.__version__,
        "script": "benchmarks/presets/make_urn_spheres.py",
        "training_seconds": round(seconds, 1),
    }
    urn_metadata = {
        "name": "urn_spheres",
        "description": (
            "Unstructured recursive network (Golkar, section 2, Fig. 3) trained on two "
            "concentric 10-d spheres; outputs logits. A layered MLP emerged in it: see the "
            "preset urn_spheres_mlp."
        ),
        "application": f"URNClassifier('spheres', size={SIZE}) / layers.URNLayer",
        "metrics": {
            "test_accuracy": round(accuracy(model, x_test, y_test), 4),
            "active_neurons": int(structure.n_active),
        },
        "widths": {"urn": SIZE, "output": 2},
        "emergent_hidden_widths": [int(w) for w in structure.hidden_widths],
        "parameters": int(model.count_params()),
        **common,
    }
    mlp_widths = {layer.name: int(layer.units) for layer in mlp.layers if hasattr(layer, "units")}
    mlp_metadata = {
        "name": "urn_spheres_mlp",
        "description": (
            "The explicit MLP that emerged inside the URN of preset urn_spheres, from "
            "analysis.extract_structure(urn, x_train).to_keras(); equal to the URN on the "
            f"training sample (max |difference| {gap:.2e})."
        ),
        "application": "analysis.extract_structure(...).to_keras()",
        "metrics": {
            "test_accuracy": round(accuracy(mlp, x_test, y_test), 4),
            "max_gap_to_urn_on_train": gap,
        },
        "widths": mlp_widths,
        "parameters": int(mlp.count_params()),
        **common,
    }
    root = pathlib.Path(out_root)
    save_preset(model, root / "urn_spheres", urn_metadata, x_test[:32])
    save_preset(mlp, root / "urn_spheres_mlp", mlp_metadata, x_test[:32])
    print(urn_metadata["metrics"], mlp_metadata["metrics"], mlp_widths, f"{seconds:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else keras_grow.applications.presets.presets_dir())
