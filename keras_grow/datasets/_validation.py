"""Argument checks shared by the dataset loaders.

Every check raises `TypeError` for a value of the wrong type and `ValueError`
for a value of the right type but outside the allowed range. Messages name the
argument, repeat the value received and say what is allowed, for example
``ValueError: n_train=0 is invalid; expected an integer >= 1.``
"""

import numbers

import numpy as np


def check_int(name, value, *, minimum=None, maximum=None):
    """Return `value` as a Python `int`, or raise if it is not one in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} has type {type(value).__name__}; expected an integer.")
    value = int(value)
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise ValueError(
            f"{name}={value!r} is invalid; expected an integer from {minimum} to {maximum}."
        )
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r} is invalid; expected an integer >= {minimum}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r} is invalid; expected an integer <= {maximum}.")
    return value


def check_seed(value, name="seed"):
    """Return a seed usable by `numpy.random.default_rng` (an integer >= 0)."""
    return check_int(name, value, minimum=0)


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Return `value` as a Python `float`, or raise if it is not a number in range.

    `low`/`high` bound the interval; `low_open`/`high_open` exclude the bound.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} has type {type(value).__name__}; expected a number.")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high or not np.isfinite(value):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = (
            f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        )
        raise ValueError(f"{name}={value!r} is invalid; expected a number in {interval}.")
    return value


def check_choice(name, value, choices):
    """Return `value` if it is one of `choices`, else raise `ValueError`."""
    if value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name}={value!r} is not supported; expected one of {allowed}.")
    return value


def resolve_test_count(test_size, total, name="test_size"):
    """Turn a test fraction in (0, 1) or a test count into a number of samples.

    A fraction is rounded up, so at least one sample is held out. The result
    always leaves at least one training sample.
    """
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(
            f"{name}={test_size!r} has type {type(test_size).__name__}; "
            f"expected a fraction in (0, 1) or an integer count."
        )
    allowed = f"expected a fraction in (0, 1) or a count from 1 to {total - 1}"
    if isinstance(test_size, numbers.Integral):
        count = int(test_size)
        if not 1 <= count <= total - 1:
            raise ValueError(f"{name}={test_size!r} is out of range; {allowed}.")
        return count
    fraction = float(test_size)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{name}={test_size!r} is out of range; {allowed}.")
    return min(max(int(np.ceil(fraction * total)), 1), total - 1)


def check_same_length(x_name, x, y_name, y):
    """Raise `ValueError` unless `x` and `y` have the same number of samples."""
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of samples; "
            f"received len({x_name})={len(x)} and len({y_name})={len(y)}."
        )
