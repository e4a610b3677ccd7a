import fnmatch
import importlib.resources
import json
import pathlib

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.applications import from_preset, list_presets, preset_metadata
from keras_grow.applications import presets as presets_lib

REPO = pathlib.Path(__file__).resolve().parents[2]
REQUIRED = (
    "north_mlp_mnist5k",
    "equivariant_cnn_rotmnist",
    "urn_spheres",
    "urn_spheres_mlp",
    "darts_prime_digits",
    "dyno_source_mnist04",
)
PRESETS = list_presets()


def test_required_presets_ship():
    assert set(REQUIRED) <= set(PRESETS)


def test_presets_resolve_inside_the_installed_package():
    expected = importlib.resources.files("keras_grow.applications") / "presets"
    assert presets_lib.presets_dir() == pathlib.Path(str(expected))
    assert presets_lib.presets_dir().parent == pathlib.Path(keras_grow.applications.__file__).parent


def test_package_data_ships_every_preset_file():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["keras_grow"]
    package = pathlib.Path(keras_grow.__file__).parent
    for name in PRESETS:
        for path in (presets_lib.presets_dir() / name).iterdir():
            relative = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative


def test_unknown_preset_raises_listing_the_known_ones():
    with pytest.raises(ValueError, match="north_mlp_mnist5k") as info:
        from_preset("no_such_preset")
    assert "no_such_preset" in str(info.value)
    for name in PRESETS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="known presets"):
        preset_metadata(None)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_metadata_is_complete(name):
    metadata = preset_metadata(name)
    assert set(presets_lib.METADATA_KEYS) <= set(metadata)
    assert metadata["name"] == name
    assert (REPO / metadata["script"]).is_file(), metadata["script"]
    assert metadata["metrics"] and all(
        isinstance(v, (int, float)) for v in metadata["metrics"].values()
    )
    if "test_accuracy" in metadata["metrics"]:
        assert 0 < metadata["metrics"]["test_accuracy"] <= 1
    assert metadata["widths"] and all(
        isinstance(v, int) and v > 0 for v in metadata["widths"].values()
    )
    assert isinstance(metadata["parameters"], int) and metadata["parameters"] > 0
    assert isinstance(metadata["training"], str) and metadata["dataset"]
    size = sum(p.stat().st_size for p in (presets_lib.presets_dir() / name).iterdir())
    assert size < 1_100_000


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads_and_reproduces_its_probe_outputs(name):
    model = from_preset(name)
    metadata = preset_metadata(name)
    if isinstance(model, keras_grow.DynamicModel):
        model.compact()  # count the active units only, not spare capacity
    count = model.parameter_count() if hasattr(model, "parameter_count") else model.count_params()
    assert count == metadata["parameters"]
    probe = presets_lib.presets_dir() / name / "probe.npz"
    if not probe.exists():
        pytest.skip(f"{name} ships no probe batch")
    data = np.load(probe)
    outputs = keras.ops.convert_to_numpy(model(data["inputs"], training=False))
    np.testing.assert_allclose(outputs, data["outputs"], rtol=1e-4, atol=1e-5)


def test_grown_preset_is_a_dynamic_model_at_its_grown_widths():
    model = from_preset("north_mlp_mnist5k")
    metadata = preset_metadata("north_mlp_mnist5k")
    assert isinstance(model, keras_grow.DynamicModel)
    assert model.widths() == metadata["widths"]
    assert model.widths() != metadata["initial_widths"]
    model.add_units("hidden2", 3)  # it keeps growing
    assert model.widths()["hidden2"] == metadata["widths"]["hidden2"] + 3


def test_save_preset_rejects_incomplete_metadata(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    metadata = {key: "x" for key in presets_lib.METADATA_KEYS if key != "widths"}
    metadata["name"] = "tiny"
    with pytest.raises(ValueError, match="widths"):
        presets_lib.save_preset(model, tmp_path / "tiny", metadata, np.zeros((2, 3)))
    metadata["widths"] = {"dense": 2}
    with pytest.raises(ValueError, match="folder name"):
        presets_lib.save_preset(model, tmp_path / "other", metadata, np.zeros((2, 3)))
    folder = presets_lib.save_preset(model, tmp_path / "tiny", metadata, np.ones((2, 3)))
    assert json.loads((folder / "metadata.json").read_text())["widths"] == {"dense": 2}
    np.testing.assert_allclose(
        np.load(folder / "probe.npz")["outputs"], model.predict(np.ones((2, 3)), verbose=0)
    )


def _mnist_test(flatten=False):
    return keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=flatten)[1]


def _rotated_test():
    return keras_grow.datasets.rotated(*_mnist_test(), seed=1)


def _digits_14_test():
    x, y = _mnist_test()
    return x.reshape(len(x), 14, 2, 14, 2, 1).mean(axis=(2, 4)), y


def _digits_0_to_4_test():
    x, y = _mnist_test()
    return x[y < 5], y[y < 5]


def _spheres_test():
    return keras_grow.datasets.concentric_spheres(dim=10, n_train=4000, n_test=1000, seed=0)[1]


# the test split each preset's metadata states, rebuilt here
TEST_SPLITS = {
    "north_mlp_mnist5k": lambda: _mnist_test(flatten=True),
    "equivariant_cnn_rotmnist": _rotated_test,
    "darts_prime_digits": _digits_14_test,
    "urn_spheres": _spheres_test,
    "urn_spheres_mlp": _spheres_test,
    "dyno_source_mnist04": _digits_0_to_4_test,
}


@pytest.mark.parametrize("name", sorted(TEST_SPLITS))
def test_preset_reaches_its_stated_test_accuracy(name):
    x, y = TEST_SPLITS[name]()
    model = from_preset(name)
    predictions = keras.ops.convert_to_numpy(model.predict(x, verbose=0, batch_size=250))
    accuracy = float(np.mean(predictions.argmax(-1) == y))
    assert accuracy == pytest.approx(preset_metadata(name)["metrics"]["test_accuracy"], abs=2e-3)
