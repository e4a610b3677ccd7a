"""One parametrised test of the keras.applications conventions across every application.

`SelfOrganizingHierarchy` / `soh_*` are left out: they return a search object (autoencoder
units trained layer-wise by their own loop), not a Keras model with a classifier.
"""

import inspect

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow.applications import (
    VGG11,
    DartsNetwork,
    DiffRNN,
    EquivariantCNN,
    GrowingMLP,
    URNClassifier,
    WideResNet28,
)
from keras_grow.search import DARTS_V2

CONVENTION_ARGUMENTS = (
    "include_top",
    "input_shape",
    "classes",
    "classifier_activation",
    "weights",
    "name",
)


def _vgg_parameters(multiplier, channels=3, classes=3, units=512):
    widths = [channels] + [
        max(1, int(np.floor(c * multiplier + 0.5))) for c in (64, 128, 256, 256, 512, 512, 512, 512)
    ]
    u = max(1, int(np.floor(units * multiplier + 0.5)))
    convs = sum(9 * widths[i] * widths[i + 1] + 4 * widths[i + 1] for i in range(8))
    return convs + (widths[8] + 1) * u + (u + 1) * u + (u + 1) * classes


def _ecnn_parameters(n, width, k, c0, u, classes):
    f1, f2 = width // n, 2 * width // n
    convs = k * k * (c0 * f1 + 3 * n * f1**2 + n * f1 * f2 + 3 * n * f2**2)
    return convs + 16 * (f1 + f2) + u * f2 + 4 * u + (u + 1) * classes


# name: (constructor, fixed arguments, batch input shape, classes, documented parameter
#        count, output shape without the top or None where include_top=False does not exist,
#        wrap in DynamicModel)
APPLICATIONS = {
    "GrowingMLP": (
        GrowingMLP,
        dict(input_shape=(20,), hidden=(5, 4)),
        (20,),
        3,
        20 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3,
        (None, 4),
        True,
    ),
    "VGG11": (
        VGG11,
        dict(input_shape=(32, 32, 3), width_multiplier=0.0625),
        (32, 32, 3),
        3,
        _vgg_parameters(0.0625),
        (None, 1, 1, 32),
        True,
    ),
    "WideResNet28": (
        WideResNet28,
        dict(k=1, input_shape=(32, 32, 3)),
        (32, 32, 3),
        10,
        "0.37 M",  # the docstring's "about 0.37 M parameters" for WRN-28-1
        (None, 8, 8, 64),
        True,
    ),
    "EquivariantCNN": (
        EquivariantCNN,
        dict(group="C4", input_shape=(16, 16, 1), width=8, dense_units=8),
        (16, 16, 1),
        3,
        _ecnn_parameters(4, 8, 3, 1, 8, 3),
        (None, 1, 1, 16),  # the last group feature map, 4 fields x |C4|
        False,
    ),
    "DartsNetwork": (
        lambda **kw: DartsNetwork(DARTS_V2, **kw),
        dict(channels=4, layers=3, input_shape=(8, 8, 1)),
        (8, 8, 1),
        10,
        2642,  # the docstring's figure (trainable, without the auxiliary head)
        (None, 64),
        False,
    ),
    "DiffRNN": (
        DiffRNN,
        dict(input_shape=(10, 4), units=3, capacity=None, seed=0),
        (10, 4),
        4,
        4 * 3 + 3 * 3 + 3 + 3 + 3 * 4 + 4,  # kernel, recurrent, bias, multipliers, head
        (None, 10, 3),
        False,  # already a DynamicModel
    ),
    "URNClassifier": (
        URNClassifier,
        dict(config="spheres", size=20),
        (10,),
        2,
        20 * 20 + 20,
        None,
        False,
    ),
}


def _build(app, **kwargs):
    constructor, fixed, _, classes, *_ = APPLICATIONS[app]
    arguments = {**fixed, "classes": classes, **kwargs}
    return constructor(**arguments)


def _count(model):
    if hasattr(model, "parameter_count"):
        return model.parameter_count()
    return model.count_params()


def _data(name, n=4):
    _, _, shape, classes, *_ = APPLICATIONS[name]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n,) + shape).astype("float32")
    if name == "DiffRNN":
        return x, rng.integers(0, classes, size=(n, shape[0]))
    return x, rng.integers(0, classes, size=n)


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_constructor_takes_the_keras_applications_arguments(name):
    constructor = {
        "DartsNetwork": DartsNetwork.__init__,
    }.get(name, APPLICATIONS[name][0])
    parameters = inspect.signature(constructor).parameters
    for argument in CONVENTION_ARGUMENTS:
        if argument == "name" and name == "DartsNetwork":
            continue  # a keras.Model subclass: `name` goes through **kwargs
        assert argument in parameters, argument
        doc = DartsNetwork.__doc__ if name == "DartsNetwork" else constructor.__doc__
        assert f"{argument}:" in doc, argument


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_build_train_step_save_load_and_parameter_count(name, tmp_path):
    model = _build(name, name=f"my_{name.lower()}")
    assert model.name == f"my_{name.lower()}"
    documented = APPLICATIONS[name][4]
    if isinstance(documented, str):
        assert f"{_count(model) / 1e6:.2f} M" == documented
    else:
        assert _count(model) == documented
    if APPLICATIONS[name][6]:
        model = keras_grow.DynamicModel(model)
        assert model.growable_layers()
    x, y = _data(name)
    classes = APPLICATIONS[name][3]
    outputs = keras.ops.convert_to_numpy(model(x, training=False))
    assert outputs.shape[-1] == classes
    if name != "URNClassifier":  # URN outputs logits by default (paper's convention)
        np.testing.assert_allclose(outputs.sum(-1), 1.0, rtol=1e-5)
    from_logits = name == "URNClassifier"
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
    )
    before = [np.array(v) for v in model.trainable_variables]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [np.array(v) for v in model.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_classifier_activation_none_gives_logits(name):
    x, _ = _data(name)
    keras.utils.set_random_seed(0)
    logits = keras.ops.convert_to_numpy(_build(name, classifier_activation=None)(x))
    keras.utils.set_random_seed(0)
    probabilities = keras.ops.convert_to_numpy(_build(name, classifier_activation="softmax")(x))
    np.testing.assert_allclose(
        probabilities, keras.ops.convert_to_numpy(keras.ops.softmax(logits)), rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_include_top_false(name):
    expected = APPLICATIONS[name][5]
    if expected is None:
        with pytest.raises(ValueError, match="include_top=False"):
            _build(name, include_top=False)
        return
    model = _build(name, include_top=False)
    x, _ = _data(name)
    assert tuple(model(x).shape)[1:] == expected[1:]
    assert "predictions" not in [layer.name for layer in model.layers]
    assert "classifier" not in [layer.name for layer in model.layers]


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
@pytest.mark.parametrize(
    "argument, value",
    [
        ("weights", "imagenet"),
        ("weights", "north_mlp_mnist5k_typo"),
        ("classes", 0),
        ("classifier_activation", "no_such_activation"),
    ],
)
def test_bad_arguments_raise_naming_argument_and_value(name, argument, value):
    with pytest.raises(ValueError, match=f"{argument}={value!r}"):
        _build(name, **{argument: value})


def test_weights_file_round_trip_through_the_constructor(tmp_path):
    model = _build("GrowingMLP")
    path = str(tmp_path / "mlp.weights.h5")
    model.save_weights(path)
    again = _build("GrowingMLP", weights=path)
    x, _ = _data("GrowingMLP")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))


def _mlp_like_preset(widths, **kwargs):
    return GrowingMLP(hidden=(widths["hidden1"], widths["hidden2"]), **kwargs)


def _ecnn_like_preset(widths, **kwargs):
    return EquivariantCNN("C4", width=widths["lift_conv1"], dense_units=widths["fc1"], **kwargs)


def _darts_like_preset(widths, **kwargs):
    genotype = keras_grow.applications.preset_metadata("darts_prime_digits")["genotype"]
    cells = [name for name in widths if name.startswith("cell_")]
    return DartsNetwork(
        genotype,
        channels=widths["stem_conv"] // 3,
        layers=len(cells),
        input_shape=(14, 14, 1),
        **kwargs,
    )


def _urn_like_preset(widths, **kwargs):
    return URNClassifier("spheres", size=widths["urn"], **kwargs)


@pytest.mark.parametrize(
    "preset, build",
    [
        ("north_mlp_mnist5k", _mlp_like_preset),
        ("equivariant_cnn_rotmnist", _ecnn_like_preset),
        ("darts_prime_digits", _darts_like_preset),
        ("urn_spheres", _urn_like_preset),
    ],
)
def test_weights_accepts_a_preset_name(preset, build):
    widths = keras_grow.applications.preset_metadata(preset)["widths"]
    probe = np.load(keras_grow.applications.presets.presets_dir() / preset / "probe.npz")
    model = build(widths, weights=preset)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(probe["inputs"], training=False)),
        probe["outputs"],
        rtol=1e-4,
        atol=1e-5,
    )
    narrower = {key: max(4, value // 2) for key, value in widths.items()}
    with pytest.raises(ValueError, match="does not fit this model"):
        build(narrower, weights=preset)
