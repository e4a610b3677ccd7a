"""Layouts: handcrafted fields sit where documented, random ones are seeded, bad geometry fails."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from keras_grow.search import Layout, draw_layout, make_layout
from keras_grow.search.soh_layouts import INPUT

PAPER = {"feature_map": (20, 40), "units": 3, "hidden": 100, "field": 10}


def test_paper_geometry_codes_right_of_image():
    layout = make_layout("flat", **PAPER)
    assert layout.input_region == (0, 0, 20, 20)
    assert layout.code_shape == (10, 10)
    assert layout.code_locations == ((0, 20), (10, 20), (0, 30))


@pytest.mark.parametrize(
    "name, fields, sources, levels",
    [
        # A1: left half, top half, right half of the image.
        ("flat", [((0, 0), (10, 0)), ((0, 0), (0, 10)), ((0, 10), (10, 10))],
         [[INPUT], [INPUT], [INPUT]], [1, 1, 1]),
        # A2: centre column of the image, then a chain through the codes.
        ("columnar", [((0, 5), (10, 5)), ((0, 20), (0, 20)), ((10, 20), (10, 20))],
         [[INPUT], [0], [1]], [1, 2, 3]),
        # A3: two image halves, then both codes.
        ("pyramidal", [((0, 0), (10, 0)), ((0, 10), (10, 10)), ((0, 20), (10, 20))],
         [[INPUT], [INPUT], [0, 1]], [1, 1, 2]),
    ],
)  # fmt: skip
def test_handcrafted_layouts_match_the_paper(name, fields, sources, levels):
    layout = make_layout(name, **PAPER)
    assert [list(f) for f in layout.fields] == [list(f) for f in fields]
    assert [layout.sources(k) for k in range(3)] == sources
    assert layout.levels() == levels


def test_pyramidal_is_a_binary_tree_for_more_units():
    layout = make_layout("pyramidal", feature_map=(20, 60), units=7, hidden=100, field=10)
    sources = [layout.sources(k) for k in range(7)]
    assert sources[:4] == [[INPUT]] * 4
    assert sources[4:] == [[0, 1], [2, 3], [4, 5]]
    assert layout.levels() == [1, 1, 1, 1, 2, 2, 3]


def test_field_mask_is_union_of_fields():
    layout = make_layout("columnar", **PAPER)
    mask = layout.field_mask(1)
    assert mask.sum() == 100  # both fields on unit 1's code
    assert mask[0:10, 20:30].all()


def test_random_layout_is_seeded_and_reads_adjacent_pairs():
    a = make_layout("random", seed=3, **PAPER)
    b = make_layout("random", seed=3, **PAPER)
    c = make_layout("random", seed=4, **PAPER)
    assert a == b and a != c
    for (r1, c1), (r2, c2) in a.fields:
        assert (r2 - r1, c2 - c1) in {(10, 0), (0, 10)}


def test_explicit_fields_and_replace_field():
    layout = make_layout(
        [[(0, 0), (5, 5)], [(1, 1), (2, 2)]], units=2, feature_map=(10, 20), hidden=25, field=5
    )
    assert layout.name == "custom"
    moved = layout.replace_field(1, 0, (1, 2))
    assert moved.fields[1] == ((1, 2), (2, 2)) and layout.fields[1] == ((1, 1), (2, 2))
    assert Layout.from_config(moved.get_config()) == moved


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"layout": [[(0, 0), (11, 0)], [(0, 0), (0, 0)], [(0, 0), (0, 0)]]}, ValueError,
         ["fields[0][1]=(11, 0)", "rows are 0..10"]),
        ({"layout": [[(0, 0), (0, 31)], [(0, 0), (0, 0)], [(0, 0), (0, 0)]]}, ValueError,
         ["fields[0][1]=(0, 31)", "columns 0..30"]),
        ({"layout": [[(0, 0)]]}, ValueError, ["fields has 1 entries", "3 units"]),
        ({"code_locations": [(0, 20), (5, 25), (0, 30)]}, ValueError,
         ["code_locations[1]=(5, 25)", "overlaps code_locations[0]"]),
        ({"code_locations": [(0, 15), (10, 20), (0, 30)]}, ValueError,
         ["code_locations[0]=(0, 15)", "overlaps the input"]),
        ({"code_locations": [(0, 20), (10, 20), (15, 30)]}, ValueError,
         ["code_locations[2]=(15, 30)", "outside"]),
        ({"units": 0}, ValueError, ["units=0", ">= 1"]),
        ({"units": "3"}, TypeError, ["units='3'"]),
        ({"layout": "spiral"}, ValueError, ["layout='spiral'", "flat", "pyramidal"]),
        ({"layout": 5}, TypeError, ["layout=5"]),
        ({"hidden": 99}, ValueError, ["hidden=99", "code_shape"]),
        ({"field": 25}, ValueError, ["field=25", "between 1 and 20"]),
        ({"units": 5}, ValueError, ["units=5", "do not fit"]),
    ],
)  # fmt: skip
def test_bad_geometry_is_rejected(kwargs, error, words):
    arguments = dict(PAPER, layout="flat")
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        make_layout(**arguments)
    for word in words:
        assert word in str(info.value)


def test_draw_layout_returns_figure_and_saves_png(tmp_path):
    layout = make_layout("pyramidal", **PAPER)
    path = tmp_path / "pyramidal.png"
    image = np.random.default_rng(0).random((20, 20))
    figure = draw_layout(layout, path=path, image=image)
    assert figure.axes and path.stat().st_size > 1000
    assert "u3<-u1,u2" in figure.axes[0].get_title()
    import matplotlib.pyplot as plt

    plt.close(figure)
