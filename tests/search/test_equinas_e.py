"""EquiNAS_E: Pareto selection, valid relaxations, inherited weights through keras-tuner."""

import itertools

import keras
import numpy as np
import pytest

import keras_grow
from keras_grow import groups
from keras_grow.search import (
    EquiNASE,
    EquiNASEOracle,
    pareto_front,
    select_population,
    valid_mutations,
)


def test_pareto_front_on_hand_made_points():
    acc = [0.90, 0.80, 0.95, 0.70, 0.85, 0.90, 0.80]
    params = [100, 50, 300, 60, 400, 100, 50]
    # 3 is dominated by 1 (worse acc, more params); 4 by 0; ties 0/5 and 1/6 are all kept.
    assert pareto_front(acc, params) == [0, 1, 2, 5, 6]
    assert pareto_front([0.5], [10]) == [0]
    assert pareto_front([0.9, 0.9], [10, 20]) == [0]
    assert pareto_front([0.9, 0.8], [10, 10]) == [0]
    # the whole front is kept, then the most accurate others fill up to `size`
    assert select_population([0.9, 0.8, 0.95, 0.7, 0.85], [100, 50, 300, 60, 400], 4) == [
        0,
        1,
        2,
        4,
    ]
    assert select_population([0.9, 0.8, 0.95], [100, 50, 300], 1) == [0, 1, 2]
    with pytest.raises(ValueError, match="param_counts"):
        pareto_front([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="size"):
        select_population([0.1], [1], 0)


def test_every_mutation_keeps_equivariance_non_increasing_with_depth():
    seen = 0
    for chain in itertools.product(groups.GROUP_NAMES, repeat=3):
        try:
            moves = valid_mutations(chain)
        except ValueError:
            continue
        for position, subgroup in moves:
            child = list(chain)
            child[position] = subgroup
            assert (
                groups.get(subgroup).is_subgroup_of(chain[position]) and subgroup != chain[position]
            )
            for before, after in zip(child, child[1:]):
                assert groups.get(after).is_subgroup_of(before)
            seen += 1
    assert seen > 50
    # D4, C4, C4: the middle C4 may only become C4 subgroups containing the last C4: none
    assert [m for m in valid_mutations(["D4", "C4", "C4"]) if m[0] == 1] == []
    assert (0, "C4") in valid_mutations(["D4", "C4", "C4"])
    assert (0, "D2") not in valid_mutations(["D4", "C4", "C4"])
    with pytest.raises(ValueError, match="C4"):
        valid_mutations(["C1", "C4"])
    with pytest.raises(ValueError, match="'Z5'"):
        valid_mutations(["D4", "Z5"])


def _build(hp):
    inputs = keras.Input((9, 9, 1))
    x = keras_grow.layers.LiftingConv2D(1, 3, group="D4", use_bias=False, name="lift")(inputs)
    x = keras_grow.layers.GroupBatchNormalization(group="D4", name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras_grow.layers.GroupConv2D(1, 3, group="D4", name="gconv")(x)
    x = keras_grow.layers.GroupPooling(group="D4", reduction="mean")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(x))


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 9, 9, 1)).astype("float32"), np.arange(n) % 3


def test_tiny_search_relaxes_with_inherited_weights(tmp_path):
    x, y = _data()
    tuner = EquiNASE(
        _build, generations=2, population_size=1, directory=tmp_path, project_name="p", seed=3
    )
    tuner.search(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y))
    oracle = tuner.oracle
    trials = [oracle.get_trial(t) for t in sorted(oracle.trials)]
    assert len(trials) == 4  # root + child, then the selected parent + its child
    assert all(t.status == "COMPLETED" for t in trials)
    assert oracle.layer_names == ["lift", "gconv"]
    for trial in trials:
        values = trial.hyperparameters.values
        chain = values["architecture"].split(",")
        for before, after in zip(chain, chain[1:]):
            assert groups.get(after).is_subgroup_of(before)
        assert trial.metrics.get_last_value("mutation_error") < 1e-5
        if values["mutation"]:
            layer, subgroup = values["mutation"].split(":")
            assert chain[oracle.layer_names.index(layer)] == subgroup
        if values["parent_trial"]:
            parent = oracle.get_trial(values["parent_trial"]).hyperparameters.values
            changed = [a != b for a, b in zip(chain, parent["architecture"].split(","))]
            assert sum(changed) == (1 if values["mutation"] else 0)
    assert len(oracle.selection_history) == 2
    assert tuner.population() == oracle.selection_history[-1]["selected"]

    # a child starts from its parent's final weights, relaxed, with the same function
    child = next(t for t in trials[2:] if t.hyperparameters.values["mutation"])
    parent = oracle.get_trial(child.hyperparameters.values["parent_trial"])
    parent_model = tuner.load_model(parent)
    parent_out = parent_model.predict(x, verbose=0)
    parent_lift = keras.ops.convert_to_numpy(parent_model.get_layer("lift").expanded_kernel())
    start = tuner.build_individual(child)
    np.testing.assert_allclose(start.predict(x, verbose=0), parent_out, atol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(start.get_layer("lift").expanded_kernel()), parent_lift
    )
    layer, subgroup = child.hyperparameters.values["mutation"].split(":")
    assert start.get_layer(layer).group.name == subgroup
    # load_model restores the trained, relaxed network
    loaded = tuner.load_model(child)
    assert [g for _, g in EquiNASE.searched_layers(loaded)] == child.hyperparameters.values[
        "architecture"
    ].split(",")


def test_bad_input(tmp_path):
    x, y = _data()
    tuner = EquiNASE(_build, generations=1, directory=tmp_path, project_name="q")
    with pytest.raises(ValueError, match="validation_data"):
        tuner.search(x, y, epochs=1)
    with pytest.raises(ValueError, match="generations"):
        EquiNASEOracle(generations=0)
    oracle = EquiNASEOracle()
    with pytest.raises(ValueError, match="configure"):
        oracle.populate_space("0")
    with pytest.raises(ValueError, match="subgroup"):
        oracle.configure(["a", "b"], ["C4", "D4"])
