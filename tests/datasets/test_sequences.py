"""Tests for keras_grow.datasets.sequences (Miconi's parenthesis tasks)."""

import re

import numpy as np
import pytest

from keras_grow.datasets import (
    PARENTHESIS_ALPHABET,
    parenthesis_one_hot,
    parenthesis_sequences,
    parenthesis_text,
)

EASY_GROUP = re.compile(r"\((ab)+\)")


def stream_text(inputs, targets):
    """Rebuild the character stream a block of consecutive windows was cut from."""
    assert np.array_equal(targets[:-1, -1], inputs[1:, 0]), "rows must continue one another"
    return parenthesis_text(np.concatenate([inputs.ravel(), targets[-1, -1:]]))


def complete_groups(text):
    """Split a stream into its complete groups; check nothing else is in it."""
    complete = text[: text.rfind(")") + 1]
    groups = re.findall(r"\([^()]*\)", complete)
    assert "".join(groups) == complete, "stray characters between groups"
    assert text[0] == "(" and len(text) - len(complete) < 60
    return groups


def assert_hard_grammar(groups, size=5):
    letters = [group[1:-1] for group in groups]
    assert all(len(word) == size and set(word) <= {"a", "b"} for word in letters)
    changed_positions = set()
    for previous, current in zip(letters, letters[1:], strict=False):
        pairs = zip(previous[::-1], current, strict=True)
        differences = [i for i, (p, c) in enumerate(pairs) if p != c]
        assert len(differences) == 1, f"{current} is not reverse({previous}) with one change"
        changed_positions.add(differences[0])
    return changed_positions


def test_shapes_dtypes_alphabet_and_shift():
    inputs, targets = parenthesis_sequences("easy")
    assert inputs.shape == targets.shape == (3000, 40)
    assert inputs.dtype == targets.dtype == np.int64
    assert set(np.unique(inputs)) == {0, 1, 2, 3}
    assert PARENTHESIS_ALPHABET == ("a", "b", "(", ")")
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])


def test_easy_groups_match_the_grammar_with_geometric_lengths():
    inputs, targets = parenthesis_sequences("easy", n_sequences=2000, seed=1)
    groups = complete_groups(stream_text(inputs, targets))
    assert all(EASY_GROUP.fullmatch(group) for group in groups)
    digraphs = np.array([(len(group) - 2) // 2 for group in groups])
    # continue_prob=0.6: P(k digraphs) = 0.6**(k-1) * 0.4, mean 2.5.
    assert abs(digraphs.mean() - 2.5) < 0.1 and abs((digraphs == 1).mean() - 0.4) < 0.03
    inputs, targets = parenthesis_sequences("easy", n_sequences=200, continue_prob=0.0)
    assert set(complete_groups(stream_text(inputs, targets))) == {"(ab)"}


def test_hard_groups_reverse_the_previous_with_one_letter_changed():
    inputs, targets = parenthesis_sequences("hard", n_sequences=500, seed=2)
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
    groups = complete_groups(stream_text(inputs, targets))
    assert len(groups) > 2800
    assert assert_hard_grammar(groups) == {0, 1, 2, 3, 4}  # every position gets changed
    inputs, targets = parenthesis_sequences("hard", n_sequences=50, hard_group_size=6)
    assert_hard_grammar(complete_groups(stream_text(inputs, targets)), size=6)


def test_easy_hard_easy_schedule():
    inputs, targets, phases = parenthesis_sequences(
        "easy-hard-easy", n_sequences=301, seed=3, return_phases=True
    )
    assert inputs.shape == (301, 40) and phases.dtype == np.int64
    np.testing.assert_array_equal(phases, np.repeat([0, 1, 0], [100, 100, 101]))
    np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
    blocks = [slice(0, 100), slice(100, 200), slice(200, 301)]
    first, hard, last = (complete_groups(stream_text(inputs[b], targets[b])) for b in blocks)
    assert all(EASY_GROUP.fullmatch(group) for group in first + last)
    assert_hard_grammar(hard)
    assert parenthesis_text(inputs[0]) != parenthesis_text(inputs[200])  # a fresh easy stream


def test_return_phases_for_single_tasks():
    _, _, easy = parenthesis_sequences("easy", n_sequences=4, return_phases=True)
    _, _, hard = parenthesis_sequences("hard", n_sequences=4, return_phases=True)
    assert easy.tolist() == [0] * 4 and hard.tolist() == [1] * 4


@pytest.mark.parametrize("task", ["easy", "hard", "easy-hard-easy"])
def test_seed_determinism(task):
    first = parenthesis_sequences(task, n_sequences=30, seed=4)
    again = parenthesis_sequences(task, n_sequences=30, seed=4)
    other = parenthesis_sequences(task, n_sequences=30, seed=5)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_text_and_one_hot_helpers():
    assert parenthesis_text([2, 0, 1, 3]) == "(ab)"
    assert parenthesis_text(np.array([[2, 0], [1, 3]])) == ["(a", "b)"]
    encoded = parenthesis_one_hot(np.array([[2, 0, 1, 3]]))
    assert encoded.shape == (1, 4, 4) and encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded[0], np.eye(4)[[2, 0, 1, 3]])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (
            {"task": "medium"},
            ValueError,
            r"task='medium' is not supported; expected one of 'easy', 'hard', 'easy-hard-easy'\.",
        ),
        ({"n_sequences": 0}, ValueError, r"n_sequences=0 is invalid"),
        ({"task": "easy-hard-easy", "n_sequences": 2}, ValueError, r"n_sequences=2 .* >= 3"),
        ({"length": 0}, ValueError, r"length=0"),
        ({"continue_prob": 1.0}, ValueError, r"continue_prob=1\.0 .* \[0\.0, 1\.0\)"),
        ({"hard_group_size": 0}, ValueError, r"hard_group_size=0"),
        ({"n_sequences": 2.5}, TypeError, r"n_sequences=2\.5"),
    ],
)
def test_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        parenthesis_sequences(**kwargs)


def test_helpers_reject_bad_tokens():
    with pytest.raises(ValueError, match=r"tokens contains values from 0 to 4"):
        parenthesis_text([0, 4])
    with pytest.raises(TypeError, match=r"tokens has dtype float64"):
        parenthesis_one_hot(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"tokens has shape \(1, 1, 1\)"):
        parenthesis_text(np.zeros((1, 1, 1), dtype=int))
