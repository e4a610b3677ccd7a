import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_grow

keras_tuner = pytest.importorskip("keras_tuner")
from keras_grow.applications import HyperGrowingMLP  # noqa: E402


def test_import_keras_grow_works_without_keras_tuner():
    code = (
        "import sys; sys.modules['keras_tuner'] = None\n"
        "import keras_grow\n"
        "assert 'keras_grow.applications.hypermodels' not in sys.modules\n"
        "try:\n"
        "    keras_grow.applications.HyperGrowingMLP\n"
        "except ImportError:\n"
        "    print('lazy')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert result.stdout.strip() == "lazy"


def test_build_declares_the_structural_hyperparameters():
    hypermodel = HyperGrowingMLP(input_shape=(12,), classes=3, initial_hidden=(4,))
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert isinstance(model, keras_grow.DynamicModel)
    assert model.widths() == {"hidden1": 4, "predictions": 3}
    assert set(hp.values) == {"initializer", "gamma", "max_units"}
    hp.values["initializer"] = "gradmax"
    assert not hp.is_active("gamma")
    hp.values["max_units"] = 128
    callback = hypermodel.neurogenesis(hp, data=(np.zeros((4, 12)), np.zeros(4)), batch_size=16)
    assert callback.max_units == 128
    assert callback.buffer_size == 256  # twice the maximum width, as in the thesis
    assert callback.rows_per_step == callback.probe_size == 16


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initializers": ("north_select", "magic")},
        {"gammas": (0.5, 1.5)},
        {"max_widths": (32,), "initial_hidden": (64,)},
        {"initializers": "north_select"},
        {"buffer_size": 100, "max_widths": (128,)},
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs):
    name = next(iter(k for k in kwargs if k != "initial_hidden"))
    with pytest.raises(ValueError, match=name):
        HyperGrowingMLP(**kwargs)


def test_random_search_tunes_growth_on_mnist_5k(tmp_path):
    (x, y), (x_test, y_test) = keras_grow.datasets.mnist_5k(seed=0, test_size=1000, flatten=True)
    x, y, x_val, y_val = x[:384], y[:384], x_test[:128], y_test[:128]
    hypermodel = HyperGrowingMLP(
        input_shape=(784,),
        classes=10,
        initial_hidden=(16, 16),
        initializers=("north_select", "north_random"),
        gammas=(0.9, 0.99),
        max_widths=(48, 96),
        batch_size=32,
        candidates=20,
    )
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=2,
        seed=3,
        directory=str(tmp_path),
        project_name="growing",
    )
    tuner.search(x, y, epochs=1, batch_size=32, validation_data=(x_val, y_val), verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2
    values = [trial.hyperparameters.values for trial in trials]
    assert values[0] != values[1]
    best_hp = tuner.get_best_hyperparameters()[0]
    best = tuner.get_best_models()[0]
    assert isinstance(best, keras_grow.DynamicModel)
    widths = best.widths()
    # the trial grew (NORTH* with a buffer of 2 * max_units fills in a few steps)
    # and stayed within its own maximum width
    assert max(widths["hidden1"], widths["hidden2"]) > 16
    assert max(widths["hidden1"], widths["hidden2"]) <= best_hp.values["max_units"]
    grown = [e for e in best.structure_history if e.operation == "add_units"]
    assert grown and all("Neurogenesis" in e.reason for e in grown)
    path = tmp_path / "best.keras"
    best.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, keras_grow.DynamicModel)
    assert restored.widths() == widths
    np.testing.assert_allclose(
        restored.predict(x_val, verbose=0), best.predict(x_val, verbose=0), atol=1e-6
    )


def test_vgg11_hypermodel_limits_every_layer_by_the_tuned_multiplier():
    from keras_grow.applications import HyperGrowingVGG11

    with pytest.raises(ValueError, match="max_width_multipliers"):
        HyperGrowingVGG11(width_multiplier=0.25, max_width_multipliers=(0.125,))
    hypermodel = HyperGrowingVGG11(
        classes=3,
        width_multiplier=0.125,
        max_width_multipliers=(0.25,),
        dense_units=64,
        initializers=("north_random",),
        batch_size=16,
    )
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert isinstance(model, keras_grow.DynamicModel)
    start = model.widths()
    assert start["conv1"] == 8 and start["conv8"] == 64 and start["fc1"] == 8
    callback = hypermodel.neurogenesis(hp)
    assert callback.max_units["conv1"] == 16 and callback.max_units["conv8"] == 128
    assert callback.max_units["fc2"] == 16
    assert callback.buffer_size == 256
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, size=48)
    history = hypermodel.fit(hp, model, x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for layer, width in model.widths().items():
        if layer in callback.max_units:
            assert start[layer] <= width <= callback.max_units[layer]
