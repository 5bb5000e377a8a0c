"""Argument checks with one error-message convention.

Every check raises `ValueError` naming the argument, the value received and what was expected,
e.g. "`num_samples` must be a positive integer, got 3.5.", and returns the value normalized to a
Python `int`/`float`/`tuple`.
"""

import math
import numbers

import numpy as np

__all__ = ["check_positive_int", "check_positive_float", "check_int_sequence"]


def check_positive_int(value, name, allow_zero=False):
    """Returns `int(value)` if `value` is an integer >= 1 (>= 0 with `allow_zero`).

    Python and NumPy integers are accepted; bools, floats (even 3.0), strings, `None` and
    tensors are not, so a flag typo or a float from arithmetic fails loudly.

    Raises:
      ValueError: "`name` must be a positive integer, got <value>." (or "non-negative").
    """
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (numbers.Integral, np.integer))
        or value < (0 if allow_zero else 1)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"`{name}` must be a {kind} integer, got {value!r}.")
    return int(value)


def check_positive_float(value, name, allow_zero=False):
    """Returns `float(value)` if `value` is a finite real number > 0 (>= 0 with `allow_zero`).

    Accepts Python/NumPy ints and floats; rejects bools, NaN, ±inf and non-numbers.

    Raises:
      ValueError: "`name` must be a positive finite number, got <value>." (or "non-negative").
    """
    ok = (
        not isinstance(value, (bool, np.bool_))
        and isinstance(value, (numbers.Real, np.integer, np.floating))
        and math.isfinite(float(value))
        and (float(value) >= 0 if allow_zero else float(value) > 0)
    )
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"`{name}` must be a {kind} finite number, got {value!r}.")
    return float(value)


def check_int_sequence(values, name):
    """Returns `tuple(int(v) for v in values)` if `values` is a sequence of positive integers.

    For layer sizes such as `hidden_units`. An empty sequence is allowed (no hidden layer); a
    bare int or a string is not a sequence here.

    Raises:
      ValueError: "`name` must be a sequence of positive integers, got <values>." or, for a
        bad element, "`name[i]` must be a positive integer, got <value>."
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, np.ndarray)):
        raise ValueError(f"`{name}` must be a sequence of positive integers, got {values!r}.")
    return tuple(check_positive_int(v, f"{name}[{i}]") for i, v in enumerate(values))
