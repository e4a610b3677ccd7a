"""DiffRNN: the paper's network, growable, with the paper's rule."""

import keras
import numpy as np
import pytest

from keras_grow.applications import DiffRNN
from keras_grow.applications.diff_rnn import PAPER_RULE
from keras_grow.callbacks import MultiplierResize
from keras_grow.datasets import parenthesis_one_hot, parenthesis_sequences


def test_defaults_are_the_papers():
    model = DiffRNN(seed=0)
    assert model.name == "diff_rnn"
    assert model.input_shape == (None, 40, 4) and model.output_shape == (None, 40, 4)
    assert model.widths()["recurrent"] == 1 and model.growable_layers() == ["recurrent"]
    assert model.capacities()["recurrent"] == 8  # free slots: growth to 8 needs no retrace
    cell = model.get_layer("recurrent").cell
    assert cell.min_multiplier == 0.025 and cell.multiplier_l1 == pytest.approx(3e-4)
    assert keras.ops.convert_to_numpy(cell.multiplier)[
        model.active_units("recurrent")
    ].tolist() == [1.0]
    assert PAPER_RULE == dict(
        deletion_threshold=0.05, reserve=1, min_multiplier=0.025, p_add=0.05, p_del=0.25
    )


def test_trains_and_grows_with_the_paper_rule():
    inputs, targets = parenthesis_sequences("easy", n_sequences=48, length=10, seed=0)
    model = DiffRNN(input_shape=(10, 4), classifier_activation=None, seed=0)
    model.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    callback = MultiplierResize(**{**PAPER_RULE, "p_add": 1.0}, seed=0)
    history = model.fit(
        parenthesis_one_hot(inputs), targets, batch_size=8, verbose=0, callbacks=[callback]
    )
    assert history.history["width_recurrent"][-1] == model.widths()["recurrent"] > 1
    assert np.isfinite(history.history["loss"][-1])


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"weights": "imagenet"}, "weights"),
        ({"input_shape": (40,)}, "input_shape"),
        ({"classes": 0}, "classes"),
        ({"weight_stddev": 0.0}, "weight_stddev"),
        ({"units": 0}, "units"),
        ({"capacity": 0}, "capacity"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        DiffRNN(**kwargs)
