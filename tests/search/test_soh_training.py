"""Base learning (Algorithm 1): feature map, settling, weight retention, determinism, bad input."""

import keras
import numpy as np
import pytest

from keras_grow.search import LogisticReadout, SelfOrganizingHierarchy

TINY = {"feature_map": (4, 8), "units": 3, "hidden": 4, "field": 2}


def _images(n=64, seed=0):
    return np.random.default_rng(seed).random((n, 4, 4, 1)).astype("float32")


def _weights(soh):
    return [keras.ops.convert_to_numpy(v).copy() for v in soh.network.weights]


def test_feature_map_places_image_and_codes():
    soh = SelfOrganizingHierarchy(layout="flat", seed=0, **TINY)
    assert soh.layout.code_locations == ((0, 4), (2, 4), (0, 6))
    images = np.arange(2 * 16, dtype="float32").reshape(2, 16)
    codes = [np.full((2, 4), 100.0 * (k + 1), "float32") + np.arange(4) for k in range(3)]
    fmap = keras.ops.convert_to_numpy(soh.network.feature_map(images, codes))
    np.testing.assert_array_equal(fmap[:, :4, :4], images.reshape(2, 4, 4))
    np.testing.assert_array_equal(fmap[0, 0:2, 4:6], [[100, 101], [102, 103]])  # row-major
    np.testing.assert_array_equal(fmap[0, 2:4, 4:6], [[200, 201], [202, 203]])
    np.testing.assert_array_equal(fmap[0, 0:2, 6:8], [[300, 301], [302, 303]])
    np.testing.assert_array_equal(fmap[:, 2:4, 6:8], 0)  # unused block


def test_settling_propagates_codes_and_changes_no_weights():
    # Unit 1 reads unit 3's code, unit 3 reads the image: one round is not enough.
    fields = [[(0, 6), (0, 6)], [(0, 0), (2, 2)], [(0, 0), (2, 0)]]
    soh = SelfOrganizingHierarchy(layout=fields, seed=0, **TINY)
    x = _images(8).reshape(8, 16)
    before, iterations = _weights(soh), int(soh.optimizer.iterations.numpy())
    net = soh.network
    one, two, five = (
        np.concatenate([keras.ops.convert_to_numpy(c) for c in net.settle(x, p)], axis=1)
        for p in (1, 2, 5)
    )
    assert not np.allclose(one[:, :4], two[:, :4])  # unit 1 sees unit 3's code only on round 2
    np.testing.assert_allclose(two, five, rtol=1e-6)  # a DAG of depth 2 has settled
    np.testing.assert_allclose(soh.encode(x), five, rtol=1e-6)
    for a, b in zip(before, _weights(soh), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(soh.optimizer.iterations.numpy()) == iterations


def test_fit_and_meta_moves_keep_out_of_field_weights_exactly():
    soh = SelfOrganizingHierarchy(layout="pyramidal", seed=0, batch_size=16, **TINY)
    x = _images()
    unit = soh.units[0]
    outside = unit.field_mask.reshape(-1) == 0
    enc0 = unit.encoder_kernel.numpy().copy()
    history = soh.fit(x, epochs=1)
    assert np.array(history["entropy"]).shape == (1, 3)
    enc1 = unit.encoder_kernel.numpy().copy()
    np.testing.assert_array_equal(enc1[outside], enc0[outside])
    assert not np.allclose(enc1[~outside], enc0[~outside])
    # Move unit 0's first field one cell right: the column it leaves is frozen from now on,
    # although Adam still holds momentum for it.
    moved = soh.layout.replace_field(0, 0, (0, 1))
    left = (soh.layout.field_mask(0) > 0) & (moved.field_mask(0) == 0)
    soh.set_layout(moved)
    soh.fit(x, epochs=1)
    enc2 = unit.encoder_kernel.numpy()
    np.testing.assert_array_equal(enc2[left.reshape(-1)], enc1[left.reshape(-1)])
    entered = ((moved.field_mask(0) > 0) & (soh.initial_layout.field_mask(0) == 0)).reshape(-1)
    assert not np.allclose(enc2[entered], enc1[entered])


def test_same_seed_same_run_and_reset_equals_a_fresh_hierarchy():
    x = _images()

    def run(soh):
        soh.fit(x, epochs=1)
        return soh.search(x, meta_steps=2, rule="annealing")

    a = SelfOrganizingHierarchy(layout="random", seed=5, batch_size=32, **TINY)
    trials_a = run(a)
    b = SelfOrganizingHierarchy(layout="random", seed=6, batch_size=32, **TINY)
    run(b)
    assert b.initial_layout != a.initial_layout  # the random layout follows the seed
    assert not all(np.array_equal(wa, wb) for wa, wb in zip(_weights(a), _weights(b), strict=True))
    # Same seed, same run: b restarted with seed 5 (no retrace) repeats a exactly.
    traces = b._train_step.experimental_get_tracing_count()
    trials_b = run(b.reset(seed=5))
    assert b._train_step.experimental_get_tracing_count() == traces
    assert b.initial_layout == a.initial_layout and b.layout == a.layout
    assert trials_b == trials_a and b.history == a.history
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)
    opt_a = [keras.ops.convert_to_numpy(v) for v in a.optimizer.variables]
    opt_b = [keras.ops.convert_to_numpy(v) for v in b.optimizer.variables]
    for va, vb in zip(opt_a, opt_b, strict=True):
        np.testing.assert_array_equal(va, vb)


def test_classifier_reads_the_codes():
    soh = SelfOrganizingHierarchy(layout="flat", seed=0, **TINY)
    x = _images(40)
    codes = soh.encode(x)
    clf = soh.classifier(num_classes=2, epochs=2)
    assert isinstance(clf, LogisticReadout)
    clf.fit(codes, np.arange(40) % 2)
    assert clf.predict(codes, verbose=0).shape == (40, 2)
    assert 0.0 <= clf.score(codes, np.arange(40) % 2) <= 1.0


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"bins": 1}, ValueError, ["bins=1", ">= 2"]),
        ({"units": 0}, ValueError, ["units=0", ">= 1"]),
        ({"layout": "tree"}, ValueError, ["layout='tree'", "columnar"]),
        ({"batch_size": 0}, ValueError, ["batch_size=0"]),
        ({"seed": -1}, ValueError, ["seed=-1"]),
    ],
)
def test_bad_constructor_arguments(kwargs, error, words):
    arguments = dict(TINY, layout="flat")
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        SelfOrganizingHierarchy(**arguments)
    for word in words:
        assert word in str(info.value)


def test_bad_call_arguments():
    soh = SelfOrganizingHierarchy(layout="flat", seed=0, **TINY)
    with pytest.raises(ValueError, match=r"x has shape \(3, 5, 5\).*\(n, 4, 4\)"):
        soh.fit(np.zeros((3, 5, 5)))
    with pytest.raises(ValueError, match="epochs=0"):
        soh.fit(_images(4), epochs=0)
    with pytest.raises(ValueError, match="rule='greedy'"):
        soh.search(_images(4), rule="greedy")
    with pytest.raises(ValueError, match="meta_steps=0"):
        soh.search(_images(4), meta_steps=0)


def test_network_save_load_round_trip(tmp_path):
    soh = SelfOrganizingHierarchy(layout="columnar", seed=0, **TINY)
    soh.set_layout(soh.layout.replace_field(0, 1, (1, 1)))
    x = _images(8)
    path = tmp_path / "hierarchy.keras"
    soh.network.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layout == soh.layout
    assert [u.fields for u in loaded.autoencoders] == [u.fields for u in soh.units]
    np.testing.assert_allclose(loaded(x), soh.encode(x), rtol=1e-6)


def test_set_layout_moves_fields_only():
    soh = SelfOrganizingHierarchy(layout="flat", seed=0, **TINY)
    other = SelfOrganizingHierarchy(
        layout="flat", seed=0, code_locations=[(0, 4), (0, 6), (2, 4)], **TINY
    ).layout
    with pytest.raises(ValueError, match="only fields can move"):
        soh.set_layout(other)
    with pytest.raises(ValueError, match=r"fields\[2\]\[0\]=\(3, 0\)"):
        soh.set_layout([[(0, 0), (0, 0)], [(0, 0), (0, 0)], [(3, 0), (0, 0)]])
    assert soh.layout.name == "flat"
    soh.set_layout([[(0, 0), (0, 0)], [(0, 0), (0, 0)], [(2, 6), (0, 0)]])
    assert soh.units[2].fields == ((2, 6), (0, 0))
