import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_grow
from keras_grow.search import DartsSearchModel

SMALL = ("none", "skip_connect", "avg_pool_3x3", "sep_conv_3x3")


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, n)


def search_model(activation="softmax", primitives=SMALL, layers=3, **compile_kwargs):
    model = DartsSearchModel(
        3, channels=4, layers=layers, nodes=2, primitives=primitives, activation=activation
    )
    compile_kwargs.setdefault("run_eagerly", True)  # no tracing: fast unit tests
    model.compile(
        weights_optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        arch_optimizer=keras.optimizers.Adam(0.05, beta_1=0.5),
        loss="sparse_categorical_crossentropy",
        **compile_kwargs,
    )
    return model


def alphas(model):
    return [v.numpy().copy() for v in model.arch_variables]


def test_alternating_schedule_takes_one_arch_step_per_weight_step():
    model = search_model(primitives=("none", "skip_connect", "avg_pool_3x3"))
    x, y = data(16)
    model.build((None, 8, 8, 1))
    before = alphas(model)
    history = model.fit(x, y, arch_data=data(8, seed=1), batch_size=8, epochs=2, verbose=0)
    assert history.history["arch_steps"] == [2.0, 2.0]
    assert int(model.optimizer.iterations) == 4 and int(model.arch_optimizer.iterations) == 4
    assert all(np.abs(a - b).max() > 1e-3 for a, b in zip(alphas(model), before))
    assert len(model.alpha_history) == 3  # before the search and after each epoch


def test_arch_steps_use_the_arch_batches_only():
    model = search_model(arch_schedule=2, layers=1)
    x, y = data()
    model.build((None, 8, 8, 1))
    before = alphas(model)
    xa, ya = data(seed=1)
    history = model.fit(
        x,
        y,
        arch_data=(xa, ya, np.zeros(32, "float32")),
        batch_size=8,
        validation_data=(xa[:8], ya[:8]),
        verbose=0,
    )
    assert history.history["arch_steps"] == [2.0]  # CS2: after weight steps 2 and 4
    assert "val_loss" in history.history and "val_arch_steps" not in history.history
    # zero-weighted architecture batches give zero α gradients: Adam leaves α in place
    for a, b in zip(alphas(model), before):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_frozen_schedule_trains_weights_without_arch_data():
    model = search_model(arch_schedule="frozen", layers=1)
    x, y = data(16)
    model.build((None, 8, 8, 1))
    before, kernel = alphas(model), model.stem_conv.kernel.numpy().copy()
    model.fit(x, y, batch_size=8, verbose=0)
    for a, b in zip(alphas(model), before):
        np.testing.assert_array_equal(a, b)
    assert np.abs(model.stem_conv.kernel.numpy() - kernel).max() > 1e-4


def test_darts_prime_inside_the_default_compiled_train_step():
    # jit_compile left to Keras' default ("auto": no XLA on CPU), graph mode
    model = search_model(primitives=("none", "skip_connect", "avg_pool_3x3"), run_eagerly=False)
    fisher = keras_grow.callbacks.FisherScheduler(initial_threshold=5.0, record=True)
    callbacks = [
        fisher,
        keras_grow.callbacks.ProximityRegularization(rho=0.1),
        keras_grow.callbacks.ADMMRegularization(update_every=2),
    ]
    x, y = data()
    history = model.fit(
        x, y, arch_data=data(seed=1), batch_size=8, epochs=2, verbose=0, callbacks=callbacks
    )
    logs = history.history
    assert model.arch_schedule is fisher.schedule and set(model.arch_regularizers) == {
        "proximity",
        "admm",
    }
    steps = [entry[3] for entry in fisher.history]
    assert sum(logs["arch_steps"]) == steps[-1] == int(model.arch_optimizer.iterations)
    assert logs["proximity_c"][-1] == pytest.approx(1.0)
    assert {"fimt", "fimt_threshold", "admm_residual", "arch_loss"} <= set(logs)
    threshold = [entry[2] for entry in fisher.history]
    ratios = np.array(threshold[1:]) / np.array(threshold[:-1])
    assert np.all(np.isclose(ratios, 1.05) | np.isclose(ratios, 1.05**-10, rtol=1e-4))


def test_second_order_gradient_tends_to_first_order_and_restores_weights():
    x, y = data(16)
    train, arch = (x[:8], y[:8]), (x[8:], y[8:])
    model = search_model(primitives=("skip_connect", "sep_conv_3x3"), layers=1, second_order=True)
    model(x[:2])
    weights = [v.numpy().copy() for v in model.weight_variables]
    model.unrolled_learning_rate = 1e-7
    tiny, _ = model._second_order_arch_gradients(train, arch)
    after = [v.numpy() for v in model.weight_variables]
    for a, b in zip(after, weights):
        np.testing.assert_array_equal(a, b)
    first, _ = model._first_order_arch_gradients(arch)
    np.testing.assert_allclose(tiny[1].numpy(), first[1].numpy(), rtol=1e-3, atol=1e-6)
    model.unrolled_learning_rate = 0.5
    large, _ = model._second_order_arch_gradients(train, arch)
    assert np.abs(large[1].numpy() - first[1].numpy()).max() > 1e-4
    assert tiny[0] is None  # one reduction cell: no normal cell, no gradient for its α


def test_crb_prunes_non_positive_alphas_without_changing_outputs():
    model = search_model(
        activation="crb", primitives=("skip_connect", "avg_pool_3x3", "sep_conv_3x3")
    )
    x, y = data(8)
    model(x)
    normal, reduce = model.arch_variables
    values = normal.numpy()
    values[0, 2] = values[3, 0] = -0.1
    normal.assign(values)
    expected = model(x, training=False).numpy()
    count = model.active_op_count()["normal"]
    assert model.prune_inactive_ops() == 2 and model.prune_inactive_ops() == 0
    assert model.active_op_count()["normal"] == count - 2
    assert model.pruned["normal"] == [[0, "sep_conv_3x3"], [3, "skip_connect"]]
    assert model.cells[0].edges[0].pruned == ("sep_conv_3x3",)
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, atol=1e-5)
    clone = DartsSearchModel.from_config(model.get_config())
    assert clone.pruned == model.pruned and clone.cells[0].edges[3].pruned == ("skip_connect",)


def test_crb_fit_prunes_at_epoch_ends():
    model = search_model(activation="crb", primitives=("skip_connect", "avg_pool_3x3"))
    model.build((None, 8, 8, 1))
    model.arch_variables[1].assign(np.where(np.eye(5, 2) > 0, -0.2, 0.5).astype("float32"))
    x, y = data()
    history = model.fit(x, y, arch_data=data(seed=1), batch_size=16, verbose=0)
    assert model.pruning_history[0][1] >= 2
    assert history.history["active_ops"] == [sum(model.active_op_count().values())]


def test_genotype_and_saving_round_trip(tmp_path):
    model = search_model(primitives=("none", "skip_connect", "avg_pool_3x3"))
    x, y = data(8)
    model.fit(x, y, arch_data=(x, y), batch_size=8, verbose=0)
    genotype = model.genotype()
    assert genotype.normal_concat == (2, 3) and len(genotype.normal) == 4
    assert all(name != "none" for name, _ in genotype.normal + genotype.reduce)
    path = tmp_path / "search.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, DartsSearchModel) and loaded.genotype() == genotype
    assert loaded.arch_schedule.name == "alternating" and loaded.arch_optimizer is not None
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-5)


def test_bad_input_names_the_argument():
    x, y = data(8)
    model = search_model()
    with pytest.raises(ValueError, match="`arch_data`=None, but the AlternatingSchedule"):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="`class_weight`=.* not supported with `arch_data`"):
        model.fit(x, y, arch_data=(x, y), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(TypeError, match="`arch_data` must be a batched tf.data.Dataset or arrays"):
        model.fit(x, y, arch_data="validation", verbose=0)
    with pytest.raises(ValueError, match="`nodes` must be an int >= 2"):
        DartsSearchModel(3, nodes=1)
    with pytest.raises(ValueError, match="Unknown primitive 'conv_3x3'"):
        DartsSearchModel(3, primitives=("skip_connect", "conv_3x3"))
    with pytest.raises(ValueError, match="contains 'none'"):
        DartsSearchModel(3, activation="crb", primitives=("none", "skip_connect"))
    with pytest.raises(ValueError, match="prune_inactive_ops\\(\\) needs activation='crb'"):
        model.prune_inactive_ops()
    with pytest.raises(ValueError, match="different optimizer object"):
        optimizer = keras.optimizers.SGD()
        model.compile(weights_optimizer=optimizer, arch_optimizer=optimizer)
    with pytest.raises(TypeError, match="DartsSearchModel"):
        plain = keras.Sequential([keras.layers.Dense(1)])
        keras_grow.callbacks.FisherScheduler().set_model(plain)


def test_datasets_are_accepted_for_both_splits():
    x, y = data()
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    arch = tf.data.Dataset.from_tensor_slices((x[:8], y[:8])).batch(8)
    model = search_model(layers=1)
    history = model.fit(train, arch_data=arch, epochs=1, verbose=0)
    assert history.history["arch_steps"] == [2.0]


@pytest.mark.slow
def test_darts_prime_under_xla():
    """`jit_compile=True` (the default on GPUs): the schedule's tf.cond compiles with XLA."""
    model = search_model(
        primitives=("none", "skip_connect", "sep_conv_3x3"),
        layers=1,
        run_eagerly=False,
        jit_compile=True,
    )
    callbacks = [
        keras_grow.callbacks.FisherScheduler(initial_threshold=100.0),
        keras_grow.callbacks.ProximityRegularization(),
        keras_grow.callbacks.ADMMRegularization(update_every=2),
    ]
    x, y = data()
    history = model.fit(x, y, arch_data=data(seed=1), batch_size=8, verbose=0, callbacks=callbacks)
    assert history.history["arch_steps"][0] > 0 and np.isfinite(history.history["loss"][0])


def count_graph_ops(model, x, op_type):
    """Operations of `op_type` in the traced training-mode forward pass."""
    function = tf.function(lambda inputs: model(inputs, training=True))
    graph = function.get_concrete_function(tf.TensorSpec(x.shape, tf.float32)).graph
    return sum(op.type == op_type for op in graph.get_operations())


def test_crb_pruned_operations_leave_the_compiled_train_step():
    # one (reduction) cell: only alphas_reduce is used
    primitives = ("skip_connect", "avg_pool_3x3", "sep_conv_3x3")
    model = DartsSearchModel(
        3, channels=4, layers=1, nodes=2, primitives=primitives, activation="crb"
    )
    model.compile(
        # weight decay would shrink every kernel that receives a gradient, even a zero one
        weights_optimizer=keras.optimizers.SGD(0.05, weight_decay=0.1),
        arch_optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        arch_schedule="frozen",
    )
    x, y = data(16)
    model.build((None, 8, 8, 1))
    depthwise = count_graph_ops(model, x, "DepthwiseConv2dNative")
    assert depthwise == 5 * 2  # a SepConv is two depthwise convolutions per edge
    values = model.arch_variables[1].numpy()
    values[:, 2] = -0.5  # every sep_conv_3x3
    values[1, 1] = -0.5  # and avg_pool_3x3 of edge 1
    model.arch_variables[1].assign(values)
    assert model.prune_inactive_ops() == 6
    assert count_graph_ops(model, x, "DepthwiseConv2dNative") == 0
    assert count_graph_ops(model, x, "AvgPool") == 4

    def kernels(edge, name):
        return [v.numpy().copy() for v in model.cells[0].edges[edge].operation(name).weights]

    pruned = kernels(3, "sep_conv_3x3")
    kept = model.cells[0].preprocess1.weights[0].numpy().copy()
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert model.train_function is not None and np.isfinite(history.history["loss"][0])
    for before, after in zip(pruned, kernels(3, "sep_conv_3x3")):
        np.testing.assert_array_equal(before, after)  # no gradient, no update, no decay
    assert np.abs(model.cells[0].preprocess1.weights[0].numpy() - kept).max() > 1e-5


def test_second_order_inside_the_compiled_train_step_matches_the_eager_formula():
    primitives = ("skip_connect", "avg_pool_3x3", "sep_conv_3x3")
    model = DartsSearchModel(3, channels=4, layers=1, nodes=2, primitives=primitives)
    model.compile(
        # learning rate 0: the weight step leaves w unchanged, so the α step sees w_0
        weights_optimizer=keras.optimizers.SGD(0.0),
        arch_optimizer=keras.optimizers.SGD(1.0),
        loss="sparse_categorical_crossentropy",
        second_order=True,
        unrolled_learning_rate=0.5,
    )
    x, y = data(16)
    train, arch = (x[:8], y[:8]), (x[8:], y[8:])
    model.build((None, 8, 8, 1))
    start = model.arch_variables[1].numpy().copy()
    gradients, _ = model._second_order_arch_gradients(train, arch)
    first, _ = model._first_order_arch_gradients(arch)
    expected = start - gradients[1].numpy()
    assert np.abs(gradients[1].numpy() - first[1].numpy()).max() > 1e-4
    history = model.fit(*train, arch_data=arch, batch_size=8, verbose=0, shuffle=False)
    assert history.history["arch_steps"] == [1.0] and not model.run_eagerly
    np.testing.assert_allclose(model.arch_variables[1].numpy(), expected, rtol=1e-4, atol=1e-6)


def test_a_refused_fit_leaves_schedule_and_regularizers_as_they_were():
    x, y = data(8)
    model = search_model(arch_schedule=3)
    schedule = model.arch_schedule
    callbacks = [
        keras_grow.callbacks.FisherScheduler(),
        keras_grow.callbacks.ProximityRegularization(),
    ]
    with pytest.raises(ValueError, match="`arch_data`=None, but the FisherSchedule"):
        model.fit(x, y, verbose=0, callbacks=callbacks)
    assert model.arch_schedule is schedule and not model.arch_regularizers
    with pytest.raises(ValueError, match="`validation_split`=0.5 is not supported"):
        model.fit(x, y, arch_data=(x, y), validation_split=0.5, verbose=0, callbacks=callbacks)
    assert model.arch_schedule is schedule and not model.arch_regularizers
    assert not model.built  # nothing was built either
