"""Config fields that carry their default, their help text and their check in one place.

A command's settings are a frozen dataclass whose fields are made with `option`; the command
line (`tfp_nfvi.cli.flags`) and the library read the same fields, so each default, help line
and check is written once. `validate` runs every field's check and stores the normalized
value (e.g. `int` for a NumPy integer).
"""

import dataclasses
import functools

from tfp_nfvi.internal import validation

__all__ = [
    "check_bool",
    "check_nonempty_str",
    "check_non_negative_float",
    "check_non_negative_int",
    "check_positive_float",
    "check_positive_int",
    "option",
    "validate",
    "validate_field",
]

check_positive_int = validation.check_positive_int
check_positive_float = validation.check_positive_float
check_non_negative_int = functools.partial(validation.check_positive_int, allow_zero=True)
check_non_negative_float = functools.partial(validation.check_positive_float, allow_zero=True)


def check_bool(value, name):
    """Returns `value` if it is a bool; ValueError naming `name` otherwise."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    return value


def check_nonempty_str(value, name):
    """Returns `value` if it is a non-empty string; ValueError naming `name` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{name}` must be a non-empty string, got {value!r}.")
    return value


def option(default, help, check=None, choices=None):  # pylint: disable=redefined-builtin
    """A dataclass field with its help text and check (`check(value, name) -> value`).

    Args:
      default: the default value. `None` makes the field optional: `None` is then accepted
        and `check` applies only to other values.
      help: one line for `--help`.
      check: a function `(value, name) -> normalized value` raising `ValueError`.
      choices: the allowed values (a tuple), checked before `check`.
    """
    return dataclasses.field(
        default=default, metadata={"help": help, "check": check, "choices": choices})


def validate_field(field, value):
    """Checks `value` for `field` (a `dataclasses.Field` made by `option`); returns it normalized."""
    if value is None and field.default is None:
        return None
    choices = field.metadata.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(
            f"`{field.name}` must be one of {', '.join(map(repr, choices))}, got {value!r}.")
    check = field.metadata.get("check")
    return check(value, field.name) if check is not None else value


def validate(config):
    """Runs every field's check on a (frozen) dataclass instance and stores normalized values.

    Call it from the dataclass's `__post_init__`.
    """
    for field in dataclasses.fields(config):
        value = validate_field(field, getattr(config, field.name))
        object.__setattr__(config, field.name, value)
