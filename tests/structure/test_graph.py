import keras
import pytest
from topologies import build

from keras_grow.structure import analyze


def _group_members(graph, layer):
    return sorted(layer.name for layer in graph.group_of_layer[layer].producers)


def _uses(graph, layer_name, role):
    return [
        (use.variable.path.split("/")[-1], use.axis, use.layout.positions)
        for use in graph.axis_uses
        if use.layer.name == layer_name and use.role == role
    ]


def test_dense_chain_groups_and_output_frozen():
    graph = analyze(build("mlp"))
    assert graph.group_of_layer["h1"].growable
    assert graph.group_of_layer["h2"].growable
    out = graph.group_of_layer["out"]
    assert not out.growable
    assert "model output" in out.frozen_reasons[0]
    # h2 consumes h1's units through its kernel rows.
    assert _uses(graph, "h2", "consumer") == [("kernel", 0, 1)]
    assert sorted(_uses(graph, "h1", "producer")) == [("bias", 0, 1), ("kernel", 1, 1)]


def test_conv_batchnorm_pool_conv_carries_batchnorm():
    graph = analyze(build("conv_bn_pool"))
    group = graph.group_of_layer["c1"]
    carriers = sorted(
        use.variable.path.split("/")[-1] for use in group.axis_uses if use.role == "carrier"
    )
    assert carriers == ["beta", "gamma", "moving_mean", "moving_variance"]
    assert _uses(graph, "c2", "consumer") == [("kernel", 2, 1)]


def test_flatten_fan_out_covers_every_spatial_position():
    graph = analyze(build("conv_flatten_dense"))
    assert _uses(graph, "d1", "consumer") == [("kernel", 0, 36)]


def test_residual_add_merges_producers_into_one_group():
    graph = analyze(build("residual"))
    assert _group_members(graph, "stem") == ["outer", "stem"]
    assert graph.group_of_layer["outer"] is graph.group_of_layer["stem"]
    assert graph.group_of_layer["inner"] is not graph.group_of_layer["stem"]
    assert graph.group_of_layer["stem"].growable


def test_concatenate_lays_out_segments_in_order():
    graph = analyze(build("concat"))
    (mix_use,) = [u for u in graph.axis_uses if u.layer.name == "mix" and u.role == "consumer"]
    assert [s.group.name for s in mix_use.layout.segments] == ["a", "b"]


def test_dropout_passes_units_through():
    graph = analyze(build("dropout"))
    assert graph.group_of_layer["h1"].growable
    assert _uses(graph, "out", "consumer") == [("kernel", 0, 1)]


@pytest.mark.parametrize(
    "blocker, expected",
    [
        (lambda: keras.layers.Reshape((2, 3)), "mixes or reshapes"),
        (lambda: keras.layers.LayerNormalization(), "mixes or reshapes"),
        (lambda: keras.layers.Activation("softmax"), "normalises across units"),
    ],
)
def test_layers_that_mix_units_freeze_the_group_with_a_reason(blocker, expected):
    inputs = keras.Input((5,))
    x = keras.layers.Dense(6, name="hidden")(inputs)
    x = blocker()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(2, name="out")(x)
    graph = analyze(keras.Model(inputs, outputs))
    reasons = graph.group_of_layer["hidden"].frozen_reasons
    assert any(expected in reason for reason in reasons), reasons


def test_nested_model_is_opaque():
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)], name="inner_model")
    inputs = keras.Input((5,))
    x = keras.layers.Dense(6, name="hidden")(inputs)
    outputs = inner(x)
    graph = analyze(keras.Model(inputs, outputs))
    assert any("nested model" in r for r in graph.group_of_layer["hidden"].frozen_reasons)


def test_add_with_fixed_width_tensor_freezes_the_group():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(4, name="hidden")(inputs)
    x = keras.layers.Add()([inputs, x])
    outputs = keras.layers.Dense(2, name="out")(x)
    graph = analyze(keras.Model(inputs, outputs))
    assert any("fixed-width" in r for r in graph.group_of_layer["hidden"].frozen_reasons)
