import keras

import keras_grow


def test_dyno_source_preset_becomes_a_growable_transfer_model():
    """Tutorial 05's transfer model: the backbone up to fc1 with a new head, in a DynamicModel."""
    source = keras_grow.applications.from_preset("dyno_source_mnist04")
    assert (
        source.count_params()
        == keras_grow.applications.preset_metadata("dyno_source_mnist04")["parameters"]
    )
    head = keras.layers.Dense(5, name="head")(source.get_layer("fc1").output)
    dynamic = keras_grow.DynamicModel(keras.Model(source.inputs, head))
    assert set(dynamic.growable_layers()) >= {"conv1", "conv5", "fc1"}
