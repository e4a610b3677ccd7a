"""Trained presets shipped with the package: `list_presets`, `preset_metadata`, `from_preset`.

A preset is a folder `keras_grow/applications/presets/<name>/` holding `model.keras`
(written by `model.save`) and `metadata.json` (see `METADATA_KEYS`). Presets are
discovered by listing that folder, so every folder present in the installed package is
available; the path is resolved with `importlib.resources`, which also works from a
wheel installed in `site-packages`.
"""

import importlib.resources
import json
import pathlib

METADATA_KEYS = (
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
)
"""Keys every preset's `metadata.json` holds."""

_MODEL_FILE = "model.keras"
_METADATA_FILE = "metadata.json"


def presets_dir():
    """The folder holding the presets, inside the installed package.

    Example:

    ```python
    keras_grow.applications.presets.presets_dir() / "north_mlp_mnist5k" / "metadata.json"
    ```
    """
    root = importlib.resources.files("keras_grow.applications") / "presets"
    return pathlib.Path(str(root))


def list_presets():
    """Names of the shipped presets, sorted.

    A name is listed when its folder holds both `model.keras` and `metadata.json`.

    Example:

    >>> "north_mlp_mnist5k" in list_presets()
    True
    """
    root = presets_dir()
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and (entry / _MODEL_FILE).is_file() and (entry / _METADATA_FILE).is_file()
    )


def _folder(name):
    known = list_presets()
    if not isinstance(name, str) or name not in known:
        raise ValueError(f"preset name={name!r} is unknown; known presets are {known}.")
    return presets_dir() / name


def preset_metadata(name):
    """The metadata of preset `name` as a dict (training data, accuracy, widths, script, ...).

    Raises:
        ValueError: `name` is not one of `list_presets()`.

    Example:

    >>> preset_metadata("north_mlp_mnist5k")["dataset"]
    'keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)'
    """
    return json.loads((_folder(name) / _METADATA_FILE).read_text())


def preset_path(name):
    """Path of the `model.keras` file of preset `name` (ValueError if unknown)."""
    return _folder(name) / _MODEL_FILE


def from_preset(name, compile=True):
    """Loads a trained preset model shipped with keras_grow.

    DynamicModels reload as DynamicModels (they keep growing with the
    structural callbacks); other presets reload as the Keras model they were
    saved as.

    Args:
        name: one of `list_presets()`.
        compile: restore the training configuration saved with the model.

    Returns:
        The `keras.Model`.

    Raises:
        ValueError: `name` is unknown; the message lists the known presets.

    Example:

    ```python
    model = keras_grow.applications.from_preset("north_mlp_mnist5k")
    model.widths()      # the widths it grew to, see preset_metadata(...)["widths"]
    ```
    """
    import warnings

    import keras

    import keras_grow  # noqa: F401  (registers the custom objects)

    path = str(preset_path(name))
    with warnings.catch_warnings():
        # presets are saved without optimizer state (see save_preset)
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.saving.load_model(path, compile=compile)


def save_preset(model, folder, metadata, probe_inputs):
    """Writes a preset folder: `model.keras`, `metadata.json` and `probe.npz`.

    Used by the `benchmarks/presets/make_*.py` scripts. The model is saved
    without its optimizer state (a preset is for inference and fine-tuning,
    and the state would triple the file), `metadata` must hold every key of
    `METADATA_KEYS`, and `probe.npz` stores `probe_inputs` with the model's
    outputs on them (`inputs`, `outputs`) so that a test can check the saved
    model reproduces them.

    Args:
        model: a built `keras.Model`.
        folder: the preset folder (created); its basename is the preset name.
        metadata: dict with the keys of `METADATA_KEYS`.
        probe_inputs: a small batch of inputs (numpy array).

    Returns:
        The folder, as a `pathlib.Path`.

    Example:

    ```python
    save_preset(model, "keras_grow/applications/presets/my_mlp", metadata, x_test[:16])
    ```
    """
    import keras
    import numpy as np

    missing = [key for key in METADATA_KEYS if key not in metadata]
    if missing:
        raise ValueError(f"metadata={sorted(metadata)} lacks the keys {missing}.")
    folder = pathlib.Path(folder)
    if metadata["name"] != folder.name:
        raise ValueError(
            f"metadata['name']={metadata['name']!r} must equal the folder name {folder.name!r}."
        )
    folder.mkdir(parents=True, exist_ok=True)
    probe_inputs = np.asarray(probe_inputs)
    outputs = keras.ops.convert_to_numpy(model(probe_inputs, training=False))
    optimizer = getattr(model, "optimizer", None)
    try:
        model.optimizer = None
        model.save(folder / _MODEL_FILE)
    finally:
        model.optimizer = optimizer
    np.savez(folder / "probe.npz", inputs=probe_inputs, outputs=outputs)
    (folder / _METADATA_FILE).write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return folder
