"""absl flags generated from a config dataclass (`tfp_nfvi.configs`), and the config read back.

Each field of the dataclass becomes one flag with the field's default and help; its type picks
the flag kind (bool, int, float, str; `Optional[...]` of those), `choices` on a string field
make an enum flag, and the field's own check (`configs.fields.option`) is registered as the
flag's validator, so a bad value is refused while the command line is parsed, with absl's
one-line "FATAL Flags parsing error: flag --learning_rate=-1.0: ..." and no traceback.
"""

import dataclasses
import typing

from absl import flags

from tfp_nfvi.configs import fields as config_fields

__all__ = ["config_from_flags", "define_flags"]

_DEFINE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
}


def _flag_type(config_cls, field):
    kind = typing.get_type_hints(config_cls)[field.name]
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is typing.Union and len(args) == 1:
        kind = args[0]  # Optional[T].
    if kind not in _DEFINE:
        raise TypeError(f"{config_cls.__name__}.{field.name}: no flag kind for type {kind!r}.")
    return kind


def define_flags(config_cls, flag_values=flags.FLAGS, exclude=(), module_name=None):
    """Defines one flag per field of `config_cls` in `flag_values` (skips names already there).

    Args:
      config_cls: a dataclass whose fields were made with `configs.fields.option`.
      flag_values: the `absl.flags.FlagValues` to define them in.
      exclude: field names to leave out (e.g. those a benchmark sets itself).
      module_name: the module the flags are listed under in `--helpshort` (absl lists the
        main module's, named `sys.argv[0]`); default: this module.

    Returns:
      The names of the flags of `config_cls` now in `flag_values`.
    """
    names = []
    for field in dataclasses.fields(config_cls):
        if field.name in exclude:
            continue
        names.append(field.name)
        if field.name in flag_values:
            continue
        kind = _flag_type(config_cls, field)
        help_text = field.metadata["help"]
        choices = field.metadata.get("choices")
        if choices is not None and kind is str:
            flags.DEFINE_enum(field.name, field.default, list(choices), help_text,
                              flag_values=flag_values, module_name=module_name)
        else:
            _DEFINE[kind](field.name, field.default, help_text, flag_values=flag_values,
                          module_name=module_name)
        flags.register_validator(field.name, _validator(field), flag_values=flag_values)
    return names


def _validator(field):
    def check(value):
        try:
            config_fields.validate_field(field, value)
        except ValueError as error:
            raise flags.ValidationError(str(error)) from None
        return True

    return check


def config_from_flags(config_cls, flag_values=flags.FLAGS, **overrides):
    """A `config_cls` from the parsed flags of its fields; `overrides` set fields directly.

    Fields with no flag in `flag_values` (see `define_flags(exclude=...)`) keep their defaults.
    """
    values = {
        field.name: flag_values[field.name].value
        for field in dataclasses.fields(config_cls) if field.name in flag_values
    }
    values.update(overrides)
    return config_cls(**values)
