import json
import pathlib

import keras
import numpy as np

import keras_grow

PRESETS = pathlib.Path(keras_grow.__file__).parent / "applications" / "presets"
FOLDER = PRESETS / "dyno_source_mnist04"
KEYS = {
    "name",
    "description",
    "application",
    "dataset",
    "training",
    "metrics",
    "widths",
    "parameters",
    "script",
    "keras_grow_version",
}


def test_preset_follows_the_format_and_reproduces_its_metric():
    metadata = json.loads((FOLDER / "metadata.json").read_text())
    assert set(metadata) == KEYS and metadata["name"] == FOLDER.name
    assert (FOLDER / "model.keras").stat().st_size < 1_000_000
    root = pathlib.Path(keras_grow.__file__).parent.parent
    assert (root / metadata["script"]).is_file()
    model = keras.saving.load_model(FOLDER / "model.keras")
    assert model.count_params() == metadata["parameters"]
    widths = {
        layer.name: int(layer.kernel.shape[-1])
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    }
    assert widths == metadata["widths"]
    _, (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0)
    keep = y_test < 5
    predictions = model.predict(x_test[keep], verbose=0, batch_size=250).argmax(axis=1)
    accuracy = float(np.mean(predictions == y_test[keep]))
    assert abs(accuracy - metadata["metrics"]["test_accuracy"]) < 1e-3
    # the tutorial's transfer model: backbone up to fc1, new head, growable
    head = keras.layers.Dense(5, name="head")(model.get_layer("fc1").output)
    dynamic = keras_grow.DynamicModel(keras.Model(model.inputs, head))
    assert set(dynamic.growable_layers()) >= {"conv1", "conv5", "fc1"}
