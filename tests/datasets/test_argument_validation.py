"""Tests for keras_grow.datasets._validation (argument checks and messages)."""

import numpy as np
import pytest

from keras_grow.datasets._validation import (
    check_choice,
    check_int,
    check_real,
    check_same_length,
    check_seed,
    resolve_test_count,
)


def test_check_int_accepts_numpy_integers_and_returns_python_int():
    value = check_int("n", np.int32(5), minimum=1)
    assert value == 5 and type(value) is int


@pytest.mark.parametrize("value", [1.5, "3", True, None])
def test_check_int_rejects_non_integers_with_type_error(value):
    with pytest.raises(TypeError, match=r"n_train=.* expected an integer"):
        check_int("n_train", value, minimum=1)


def test_check_int_names_argument_value_and_bound():
    with pytest.raises(ValueError, match=r"n_train=0 is invalid; expected an integer >= 1\."):
        check_int("n_train", 0, minimum=1)
    with pytest.raises(ValueError, match=r"k=9 is invalid; expected an integer from 1 to 4\."):
        check_int("k", 9, minimum=1, maximum=4)


def test_check_seed_rejects_negative_seed():
    with pytest.raises(ValueError, match=r"seed=-1"):
        check_seed(-1)


def test_check_real_interval_bounds():
    assert check_real("p", 0.0, low=0.0, high=1.0, high_open=True) == 0.0
    with pytest.raises(ValueError, match=r"p=1\.0 is invalid; expected a number in \[0\.0, 1\.0\)"):
        check_real("p", 1.0, low=0.0, high=1.0, high_open=True)
    with pytest.raises(ValueError, match=r"p=nan"):
        check_real("p", float("nan"))
    with pytest.raises(TypeError, match=r"p='x'"):
        check_real("p", "x")


def test_check_choice_lists_allowed_values():
    expected = r"task='medium' is not supported; expected one of 'easy', 'hard', 'easy-hard-easy'\."
    with pytest.raises(ValueError, match=expected):
        check_choice("task", "medium", ("easy", "hard", "easy-hard-easy"))


@pytest.mark.parametrize(
    ("test_size", "expected"), [(0.2, 20), (0.001, 1), (0.999, 99), (30, 30), (np.int64(7), 7)]
)
def test_resolve_test_count_fractions_round_up_and_counts_pass_through(test_size, expected):
    assert resolve_test_count(test_size, 100) == expected


@pytest.mark.parametrize("test_size", [0.0, 1.0, -0.5, 0, 100, -3])
def test_resolve_test_count_out_of_range(test_size):
    with pytest.raises(ValueError, match=rf"test_size={test_size!r} is out of range; .*1 to 99"):
        resolve_test_count(test_size, 100)


def test_resolve_test_count_wrong_type():
    with pytest.raises(TypeError, match=r"test_size='half'"):
        resolve_test_count("half", 100)


def test_check_same_length_reports_both_lengths():
    with pytest.raises(ValueError, match=r"len\(x\)=3 and len\(y\)=2"):
        check_same_length("x", [1, 2, 3], "y", [1, 2])
