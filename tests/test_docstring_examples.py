"""Every docstring example of the public objects in this file's scope runs.

Collected: the fenced ```python blocks and the `>>>` doctests of the module
docstrings, public classes, functions and methods of `SCOPE_PACKAGES` and
`SCOPE_MODULES` (underscore modules and names are private and skipped). Each
example is one test case, named after its object.

How an example runs: in a fresh namespace holding `keras`, `np`, `keras_grow`
and the documented object under its own name (what a reader of its docstring
has in mind), in a temporary working folder (examples that write files write
there), after `keras.utils.clear_session()` and a fixed seed. A fenced block is
executed; a doctest is run by `doctest` and its printed outputs must match.

Names an example uses without defining them get a default fixture (`DEFAULTS`:
a tiny `x`, `y` data set of 8 features and 4 classes, a small `base` MLP with a
"hidden1" layer, `model` = `DynamicModel(base)`), built only when the example
uses the name. An example that needs something else (a layer named "dense_1",
a DARTS search model, sequences...) has its own entry in `SPECIAL`, which says
what it adds and, for an expensive example, which literal text it shrinks
(e.g. `epochs=50` -> `epochs=1`); each replaced text must occur in the
example, so the table fails loudly when a docstring changes.
"""

import ast
import dataclasses
import doctest
import importlib
import inspect
import io
import pkgutil
import re

import keras
import matplotlib
import numpy as np
import pytest

import keras_grow

matplotlib.use("Agg")

SCOPE_PACKAGES = (
    "keras_grow.layers",
    "keras_grow.search",
    "keras_grow.analysis",
    "keras_grow.datasets",
    "keras_grow.applications",
    "keras_grow.callbacks",
    "keras_grow.structure",
)
SCOPE_MODULES = (
    "keras_grow",
    "keras_grow.demo",
    "keras_grow.growth",
    "keras_grow.growth.north_initializers",
    "keras_grow.growth.draw_ahead",
    "keras_grow.growth.context",
    "keras_grow.growth.taps",
    "keras_grow.growth.metrics",
    "keras_grow.growth.triggers",
    "keras_grow.growth.schedules",
    "keras_grow.growth.pruning",
    "keras_grow.growth.strategies",
    "keras_grow.growth.gradient_initializers",
    "keras_grow.growth.probe",
    "keras_grow.groups",
)
EXCLUDED_MODULES = ()

_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


# ----------------------------------------------------------------- collection


@dataclasses.dataclass(frozen=True)
class Example:
    id: str
    kind: str  # "fenced" or "doctest"
    source: str
    name: str | None  # the documented object's name, put into the namespace
    obj: object


def _scope_modules():
    names = []
    for package_name in SCOPE_PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            name = f"{package_name}.{info.name}"
            if not info.name.startswith("_") and name not in EXCLUDED_MODULES:
                names.append(name)
    return names + list(SCOPE_MODULES)


def _documented(module):
    """(qualified name, object name, object, docstring) of a module's public API."""
    short = module.__name__.removeprefix("keras_grow.")
    yield short, None, module, module.__doc__
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        yield f"{short}.{name}", name, obj, obj.__doc__
        if inspect.isclass(obj):
            for attr, member in sorted(vars(obj).items()):
                if attr.startswith("_"):
                    continue
                function = member.fget if isinstance(member, property) else member
                function = getattr(function, "__func__", function)
                if callable(function):
                    yield f"{short}.{name}.{attr}", name, obj, function.__doc__


def collect_examples():
    examples = []
    for module_name in _scope_modules():
        module = importlib.import_module(module_name)
        for qualified, name, obj, doc in _documented(module):
            if not doc:
                continue
            doc = inspect.cleandoc(doc)
            blocks = _FENCE.findall(doc)
            for i, block in enumerate(blocks):
                suffix = f"[{i + 1}]" if len(blocks) > 1 else ""
                examples.append(Example(qualified + suffix, "fenced", block, name, obj))
            if ">>>" in doc:
                examples.append(Example(qualified + "[doctest]", "doctest", doc, name, obj))
    return examples


EXAMPLES = collect_examples()


# ------------------------------------------------------------------- fixtures


def _xy(n=256, features=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (np.abs(x[:, :classes]).argmax(axis=1)).astype("int64")


def _mlp(features=8, hidden=16, classes=4, hidden_name="hidden1"):
    return keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(hidden, activation="relu", name=hidden_name),
            keras.layers.Dense(classes, activation="softmax", name="predictions"),
        ]
    )


def _default_x(ns):
    return _xy()[0]


def _default_y(ns):
    return _xy()[1]


def _default_model(ns):
    return keras_grow.DynamicModel(_mlp())


DEFAULTS = {"x": _default_x, "y": _default_y, "base": lambda ns: _mlp(), "model": _default_model}


def _images(n=16, size=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, size, size, 1)).astype("float32"), rng.integers(0, classes, n)


def _batches(n, seed):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(_images(n, seed=seed)).batch(8)


def _tiny_search(activation="softmax"):
    """A 3-class DARTS search on 8x8 images, 2 nodes, 4 primitives; eager (no tracing)."""
    primitives = ("none", "skip_connect", "avg_pool_3x3", "sep_conv_3x3")
    if activation == "crb":
        primitives = primitives[1:]
    search = keras_grow.search.DartsSearchModel(
        3, channels=4, layers=3, nodes=2, primitives=primitives, activation=activation
    )
    search.compile(loss="sparse_categorical_crossentropy", run_eagerly=True)
    return search


def setup_darts_fit(ns):
    """A tiny compiled search and 16 + 16 images as `train`/`val` datasets (and arrays)."""
    x, y = _images(16)
    x_val, y_val = _images(16, seed=1)
    return {
        "search": _tiny_search(),
        "train": _batches(16, 0),
        "val": _batches(16, 1),
        "x": x,
        "y": y,
        "x_train": x,
        "y_train": y,
        "x_val": x_val,
        "y_val": y_val,
    }


def setup_built_search(ns):
    """A tiny compiled search, built for 8x8x1 images."""
    search = _tiny_search()
    search.build((None, 8, 8, 1))
    return {"search": search}


def setup_darts_datasets(ns):
    """`train_ds`/`val_ds`: 16 + 16 images of 8x8x1 in 3 classes, batches of 8."""
    return {"train_ds": _batches(16, 0), "val_ds": _batches(16, 1)}


def setup_darts_images(ns):
    """`x`, `y`: 16 images of 8x8x1, classes 0..9."""
    x, y = _images(16, classes=10)
    return {"x": x, "y": y}


def setup_dense_1(ns):
    """A `DynamicModel` whose hidden layer is "dense_1", watched and trained one epoch."""
    model = keras_grow.DynamicModel(_mlp(hidden_name="dense_1"))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.watch(["dense_1"])
    model.fit(*_xy(), batch_size=32, epochs=1, verbose=0)
    return {"model": model}


def _conv3_model():
    """A compiled `DynamicModel` CNN on 8x8x1 images with layers "conv1" and "conv3"."""
    model = keras_grow.DynamicModel(
        keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
                keras.layers.Conv2D(8, 3, activation="relu", name="conv3"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(3, activation="softmax", name="predictions"),
            ]
        )
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def setup_conv3(ns):
    """A small CNN with "conv3", watched and trained for one epoch (its activations exist)."""
    model = _conv3_model()
    model.watch(["conv3"])
    x, y = _images(32)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return {"model": model}


def setup_compiled_model(ns):
    """`model`: the default `DynamicModel`, compiled (Adam, sparse cross-entropy)."""
    model = _default_model(ns)
    model.compile("adam", "sparse_categorical_crossentropy")
    return {"model": model}


def setup_pretrained_backbone(ns):
    """`pretrained_backbone_with_new_head`: the default MLP; `ds`: its data in batches of 32."""
    import tensorflow as tf

    return {
        "pretrained_backbone_with_new_head": _mlp(),
        "ds": tf.data.Dataset.from_tensor_slices(_xy()).batch(32),
    }


def setup_rnn_model(ns):
    """`model`: a `DynamicModel` with a multiplier RNN layer named "rnn" (3 units)."""
    rnn = keras.layers.RNN(
        keras_grow.layers.MultiplierSimpleRNNCell(units=3), return_sequences=True, name="rnn"
    )
    model = keras_grow.DynamicModel(
        keras.Sequential([keras.Input((40, 4)), rnn, keras.layers.Dense(4)])
    )
    return {"model": model}


def setup_parentheses(ns):
    """`x`, `y`: 32 easy parenthesis sequences, one-hot (32, 40, 4), targets (32, 40)."""
    inputs, targets = keras_grow.datasets.parenthesis_sequences("easy", n_sequences=32)
    return {"x": keras_grow.datasets.parenthesis_one_hot(inputs), "y": targets}


def setup_neurogenesis_parts(ns):
    """`trigger`, `initializer`: from `keras_grow.growth.strategy("north_select")`."""
    trigger, initializer = keras_grow.growth.strategy("north_select")
    return {"trigger": trigger, "initializer": initializer}


def setup_train_arrays(ns):
    """`x_train`, `y_train`: the default tiny data set."""
    x, y = _xy()
    return {"x_train": x, "y_train": y}


def setup_mnist_like(ns):
    """`x`, `y`, `x_val`, `y_val`: 64 + 32 rows of 784 features, 10 classes."""
    x, y = _xy(64, features=784, classes=10)
    x_val, y_val = _xy(32, features=784, classes=10, seed=1)
    return {"x": x, "y": y, "x_val": x_val, "y_val": y_val}


def setup_preset_inputs(ns):
    """`model` = `from_preset("north_mlp_mnist5k")`, its metadata renamed "my_mlp", `x_test`."""
    presets = keras_grow.applications.presets
    metadata = dict(presets.preset_metadata("north_mlp_mnist5k"), name="my_mlp")
    model = presets.from_preset("north_mlp_mnist5k")
    x_test = np.random.default_rng(0).random((16,) + model.input_shape[1:], dtype="float32")
    return {"model": model, "metadata": metadata, "x_test": x_test}


def setup_tfds_mock(ns):
    """TFDS mock data (no network): `tfds` reads 8 generated examples per split."""
    import tensorflow_datasets
    from tensorflow_datasets.core.utils import gcs_utils

    ns["__monkeypatch__"].setattr(gcs_utils, "_is_gcs_disabled", True)
    context = tensorflow_datasets.testing.mock_data(num_examples=8)
    context.__enter__()
    ns["__cleanup__"].append(lambda: context.__exit__(None, None, None))
    return {}


def setup_probe_model(ns):
    """`model`: the default `DynamicModel` (hidden layer "hidden1"), compiled."""
    return setup_compiled_model(ns)


def setup_equinas_e(ns):
    """`EquivariantCNN`, and `train` (16 upright 16x16 images, batches of 8), `x_val`..."""
    import tensorflow as tf

    x, y = _images(16, size=16, classes=10)
    return {
        "EquivariantCNN": keras_grow.applications.EquivariantCNN,
        "train": tf.data.Dataset.from_tensor_slices((x, y)).batch(8),
        "half_epoch": 1,
        "x_val": x[:8],
        "y_val": y[:8],
    }


def setup_widths_history(ns):
    """`model`: the default `DynamicModel`, compiled; `x`, `y`: the default data."""
    return setup_compiled_model(ns)


def _hidden_model(features=8, hidden=16, hidden_name="hidden"):
    """The default MLP with its hidden layer renamed, as a compiled `DynamicModel`."""
    model = keras_grow.DynamicModel(_mlp(features, hidden, hidden_name=hidden_name))
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def setup_hidden(ns):
    """`model`: the default MLP with its hidden layer named "hidden", compiled."""
    return {"model": _hidden_model()}


def setup_hidden_784(ns):
    """`model`: an MLP of Dense(64) "hidden" on 784 inputs (the example's comment), compiled."""
    return {"model": _hidden_model(features=784, hidden=64)}


def setup_dense(ns):
    """`model`: the default MLP with its hidden layer named "dense", compiled."""
    return {"model": _hidden_model(hidden_name="dense")}


def setup_conv3_unwatched(ns):
    """`model`: the small CNN with "conv3", compiled, nothing watched yet."""
    return {"model": _conv3_model()}


def setup_hidden_base(ns):
    """`base`: the default MLP with its hidden layer named "hidden"; default `x`, `y`."""
    return {"base": _mlp(hidden_name="hidden")}


def setup_hidden_512_rows(ns):
    """`model`: the "hidden" MLP, compiled; `x`, `y`: 512 rows (16 steps of 32 rows)."""
    x, y = _xy(512)
    return {"model": _hidden_model(), "x": x, "y": y}


def setup_north_candidates(ns):
    """`x` (256 input rows of 8), `h` (ReLU post-activations of 16 units on them),
    `fan_ins` (32 random candidate fan-ins of 8)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    h = np.maximum(x @ rng.normal(size=(8, 16)).astype("float32"), 0)
    return {"x": x, "h": h, "fan_ins": rng.normal(size=(32, 8)).astype("float32")}


def setup_mnist_like_train(ns):
    """`x`, `y`: 256 rows of 784 features, 10 classes."""
    x, y = _xy(256, features=784, classes=10)
    return {"x": x, "y": y}


TINY_DARTS = "channels=4, layers=3, nodes=2"
_SPARSE_CE = 'loss="sparse_categorical_crossentropy")'
_SPARSE_CE_EAGER = 'loss="sparse_categorical_crossentropy", run_eagerly=True)'


@dataclasses.dataclass(frozen=True)
class Case:
    """How one example runs beyond the defaults; `how` says what was done and why."""

    how: str
    setup: object = None
    replace: tuple = ()
    marks: tuple = ()


SPECIAL = {
    # DARTS: a tiny search (3 classes, 8x8 images, 3 cells of 2 nodes); 1 epoch.
    "search.darts_regularizers.ProximityRegularizer": Case(
        "on a tiny compiled DartsSearchModel, built", setup_built_search
    ),
    "search.darts_regularizers.ADMMRegularizer": Case(
        "tiny search and data; 1 epoch instead of 50",
        setup_darts_fit,
        replace=(("epochs=50", "epochs=1"),),
    ),
    "search.darts_schedules.FrozenSchedule": Case(
        "tiny search and data; 1 epoch instead of 5, eager",
        setup_darts_fit,
        replace=(("epochs=5", "epochs=1"), (_SPARSE_CE, _SPARSE_CE_EAGER)),
    ),
    "search.darts_search.DartsSearchModel": Case(
        "3 classes, 4 channels, 3 cells of 2 nodes on 8x8 images, 1 epoch (the example's "
        "sizes: 10 classes, 16 channels, 8 cells, 50 epochs)",
        setup_darts_datasets,
        replace=(
            ("num_classes=10, channels=16, layers=8", f"num_classes=3, {TINY_DARTS}"),
            ('metrics=["accuracy"])', 'metrics=["accuracy"], run_eagerly=True)'),
            ("epochs=50", "epochs=1"),
        ),
    ),
    "analysis.darts_plots.plot_alpha_history": Case(
        "tiny search and data; 1 epoch instead of 50",
        setup_darts_fit,
        replace=(("epochs=50", "epochs=1"),),
    ),
    "callbacks.darts.FisherScheduler": Case(
        "tiny search and data; 1 epoch instead of 50",
        setup_darts_fit,
        replace=(("epochs=50", "epochs=1"),),
    ),
    "callbacks.darts.ProximityRegularization": Case(
        "tiny search and data; 1 epoch instead of 50",
        setup_darts_fit,
        replace=(("epochs=50", "epochs=1"),),
    ),
    "callbacks.darts.ADMMRegularization": Case(
        "tiny search and data; 1 epoch instead of 50",
        setup_darts_fit,
        replace=(("epochs=50", "epochs=1"),),
    ),
    "callbacks.darts.AlphaHistory": Case(
        "tiny search and data (2 batches); 1 epoch, a record every batch",
        setup_darts_fit,
        replace=(("epochs=10", "epochs=1"), ("every_n_batches=20", "every_n_batches=1")),
    ),
    "callbacks.darts.ProgressivePruning": Case(
        "CRB search shrunk to 3 classes, 4 channels, 3 cells of 2 nodes, eager; 1 epoch, a "
        "pruning every 2 batches (there are 2), so pruning_history is filled",
        setup_darts_fit,
        replace=(
            ("DartsSearchModel(10, ", f"DartsSearchModel(3, {TINY_DARTS}, "),
            (_SPARSE_CE, _SPARSE_CE_EAGER),
            ("epochs=50", "epochs=1"),
            ("every_n_batches=100", "every_n_batches=2"),
        ),
    ),
    "callbacks.darts.DropPathScheduler": Case(
        "DARTS_V2 network shrunk to 4 channels, 3 cells on 8x8x1 images; 2 epochs instead of 600",
        setup_darts_images,
        replace=(
            ("auxiliary=True)", "auxiliary=True, channels=4, layers=3, input_shape=(8, 8, 1))"),
            ("epochs=600", "epochs=2"),
        ),
    ),
    # Models with particular layers.
    "growth.metrics": Case(
        "an MLP whose hidden layer is 'dense_1', watched and fitted 1 epoch", setup_dense_1
    ),
    "growth.pruning": Case("a small CNN with 'conv3', watched and fitted 1 epoch", setup_conv3),
    "growth.probe.GradientProbe": Case("the default MLP ('hidden1'), compiled", setup_probe_model),
    "callbacks.surgical_fine_tuning.SurgicalFineTuning": Case(
        "the default DynamicModel (the example compiles it)", None
    ),
    "callbacks.grow_and_prune.GrowAndPrune": Case(
        "the default MLP as the backbone, its data in batches of 32; 1 epoch instead of 5, every=4",
        setup_pretrained_backbone,
        replace=(("epochs=5", "epochs=1"), ("every=50", "every=4")),
    ),
    "callbacks.multiplier_resize.NewNeuronAtThreshold": Case(
        "a DynamicModel with a multiplier RNN named 'rnn'", setup_rnn_model
    ),
    "callbacks.multiplier_resize.MultiplierResize": Case(
        "32 easy parenthesis sequences as x, y", setup_parentheses
    ),
    "callbacks.scheduled_growth.ScheduledGrowth": Case(
        "the default base and data (256 rows, 8 batches an epoch): 40 steps, 2 growths"
    ),
    "analysis.widths.plot_widths": Case(
        "the default DynamicModel, compiled; the default data", setup_widths_history
    ),
    # Fragments: the constructor call evaluates.
    "callbacks.structural.StructuralCallback": Case(
        "fragment: the constructor with the north_select trigger and initializer",
        setup_neurogenesis_parts,
    ),
    "growth.gradient_initializers.GradMax": Case(
        "fragment: the constructor call evaluates", setup_train_arrays
    ),
    "growth.gradient_initializers.Firefly": Case(
        "fragment: the constructor call evaluates", setup_train_arrays
    ),
    "growth.gradient_initializers.NeST": Case(
        "fragment: the constructor call evaluates", setup_train_arrays
    ),
    # Data and applications.
    "datasets.tfds_bridge.tfds": Case("TFDS mock data, never the network", setup_tfds_mock),
    "datasets.pipelines.as_dataset": Case(
        "a compiled MLP for mnist1d's 40 features and 10 classes; 1 epoch instead of 5",
        lambda ns: {"model": _compiled_mnist1d_mlp()},
        replace=(("epochs=5", "epochs=1"),),
    ),
    "applications.diff_rnn.DiffRNN": Case(
        "64 sequences instead of 3000", replace=(('"hard", 3000', '"hard", 64'),)
    ),
    "applications.hypermodels.HyperGrowingMLP": Case(
        "64 + 32 rows of 784 features; 1 trial of 1 epoch instead of 8 of 5",
        setup_mnist_like,
        replace=(("max_trials=8", "max_trials=1"), ("epochs=5", "epochs=1")),
    ),
    "applications.presets.save_preset": Case(
        "the bundled north_mlp_mnist5k preset re-saved as 'my_mlp' (in the temporary folder)",
        setup_preset_inputs,
    ),
    "search.equinas_d.EquiNASD": Case(
        "compiled with run_eagerly=True (the 2-step fit would otherwise trace for ~8 s)",
        replace=((_SPARSE_CE, _SPARSE_CE_EAGER),),
    ),
    "search.equinas_e.EquiNASE": Case(
        "width 8 on 16 images of 16x16, 1 generation, population 2",
        setup_equinas_e,
        marks=(pytest.mark.slow(reason="keras_tuner search: 2 trials each trace a fit (~7 s)"),),
        replace=(
            ("width=128", "input_shape=(16, 16, 1), width=8"),
            ("generations=50", "generations=1, population_size=2"),
        ),
    ),
    # Part 2: structure, NORTH* initialisers, growth context and taps, Neurogenesis.
    "structure.activation_taps.ActivationTaps": Case(
        "a small compiled CNN with 'conv3' (8x8x1 images)", setup_conv3_unwatched
    ),
    "structure.dynamic_model.DynamicModel.add_units": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "structure.dynamic_model.DynamicModel.unit_weights": Case(
        "the comment's model: Dense(64) 'hidden' on 784 inputs", setup_hidden_784
    ),
    "structure.initializers": Case("an MLP whose hidden layer is 'dense', compiled", setup_dense),
    "structure.dynamic_model.DynamicModel.explain": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "structure.dynamic_model.DynamicModel.remove_units": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "structure.dynamic_model.DynamicModel.reserve": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "structure.dynamic_model.DynamicModel.compact": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "structure.dynamic_model.DynamicModel.watch": Case(
        "an MLP whose hidden layer is 'hidden', compiled; the default data (256 rows)",
        setup_hidden,
    ),
    "structure.initializers.ZeroFanOut": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "structure.initializers.ZeroFanIn": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "growth.north_initializers.NorthRandom": Case(
        "an MLP whose hidden layer is 'hidden', compiled", setup_hidden
    ),
    "growth.north_initializers.select_candidates": Case(
        "random inputs, ReLU activations of 16 units, 32 candidate fan-ins",
        setup_north_candidates,
    ),
    "growth.north_initializers.ScoringRows": Case(
        "random inputs, ReLU activations of 16 units, 32 candidate fan-ins",
        setup_north_candidates,
    ),
    "growth.north_initializers.NorthSelect": Case("fragment: the constructor call evaluates"),
    "growth.north_initializers.NorthPre": Case("fragment: the constructor call evaluates"),
    "growth.north_initializers.NorthWeight": Case("fragment: the constructor call evaluates"),
    "growth.context": Case(
        "the default MLP with its hidden layer named 'hidden'; the default data",
        setup_hidden_base,
    ),
    "growth.taps": Case(
        "the 'hidden' MLP, compiled; 512 rows so that the ring fills", setup_hidden_512_rows
    ),
    "callbacks.neurogenesis.Neurogenesis": Case(
        "256 rows of 784 features; 2 epochs of batches of 64 instead of 20 of 512, "
        "max_units 96 and buffer_size 192 instead of 784 and 1568",
        setup_mnist_like_train,
        replace=(
            ("epochs=20, batch_size=512", "epochs=2, batch_size=64"),
            ("max_units=784, buffer_size=1568", "max_units=96, buffer_size=192"),
        ),
    ),
}


def _compiled_mnist1d_mlp():
    model = keras.Sequential(
        [
            keras.Input((40,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def _free_names(source):
    """Names the source reads without ever binding them (doctest prompts stripped)."""
    if ">>>" in source:
        source = "\n".join(e.source for e in doctest.DocTestParser().get_examples(source))
    tree = ast.parse(source)
    loaded, stored = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stored.update((a.asname or a.name).split(".")[0] for a in node.names)
    return loaded - stored


def _param(example):
    case = SPECIAL.get(example.id.removesuffix("[doctest]"))
    marks = case.marks if case is not None else ()
    return pytest.param(example, case, id=example.id, marks=marks)


def test_the_scope_has_examples_and_the_table_names_real_ones():
    ids = {e.id.removesuffix("[doctest]") for e in EXAMPLES}
    assert len(EXAMPLES) >= 130
    assert sorted(set(SPECIAL) - ids) == []


@pytest.fixture(scope="module")
def dataset_cache(tmp_path_factory):
    """One dataset cache for all examples (mnist_5k is built once), never the user's."""
    return tmp_path_factory.mktemp("keras_grow_cache")


@pytest.mark.parametrize(("example", "case"), [_param(e) for e in EXAMPLES])
def test_docstring_example_runs(example, case, tmp_path, monkeypatch, dataset_cache):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_GROW_CACHE", str(dataset_cache))
    keras.utils.clear_session(free_memory=False)  # gc.collect would cost ~0.3 s a case
    keras.utils.set_random_seed(0)
    source = example.source
    for old, new in case.replace if case else ():
        assert old in source, f"SPECIAL[{example.id!r}] replaces {old!r}, not in the example"
        source = source.replace(old, new)
    ns = {"keras": keras, "np": np, "keras_grow": keras_grow}
    if example.name is not None:
        ns[example.name] = example.obj
    ns["__monkeypatch__"], ns["__cleanup__"] = monkeypatch, []
    try:
        if case is not None and case.setup is not None:
            ns.update(case.setup(ns))
        for name in sorted(_free_names(source) - set(ns)):
            if name in DEFAULTS:
                ns[name] = DEFAULTS[name](ns)
        del ns["__monkeypatch__"]
        if example.kind == "fenced":
            exec(compile(source, f"<{example.id}>", "exec"), ns)
        else:
            test = doctest.DocTestParser().get_doctest(source, ns, example.id, None, 0)
            runner = doctest.DocTestRunner(
                optionflags=doctest.ELLIPSIS
                | doctest.NORMALIZE_WHITESPACE
                | doctest.REPORT_ONLY_FIRST_FAILURE
            )
            report = io.StringIO()
            result = runner.run(test, out=report.write, clear_globs=False)
            assert result.failed == 0, report.getvalue()
    finally:
        for cleanup in ns.get("__cleanup__", []):
            cleanup()
        import matplotlib.pyplot as plt

        plt.close("all")
