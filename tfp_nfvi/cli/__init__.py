"""tfp_nfvi.cli: the plumbing shared by the package's commands (no TensorFlow at import).

  flags.define_flags(config_cls, flag_values, exclude): absl flags from a config dataclass.
  flags.config_from_flags(config_cls, flag_values, **overrides): the config from parsed flags.
  command.run_command(config_cls, "module:function", argv, required): a whole command.
"""

from tfp_nfvi.cli.command import run_command
from tfp_nfvi.cli.flags import config_from_flags
from tfp_nfvi.cli.flags import define_flags

__all__ = ["config_from_flags", "define_flags", "run_command"]
