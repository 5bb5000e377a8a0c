"""Runs a command: flags from its config, quiet logs, the library call, one-line errors.

    python -m tfp_nfvi.train --output_dir=runs/x      # or the console script tfp-nfvi-train

`run_command` defines the flags of a config dataclass (`tfp_nfvi.cli.flags`), parses them with
`absl.app.run`, and then calls the library function named by `target` with the config, printing
its results as JSON. By default the run is quiet: TensorFlow's C++ log lines and Python INFO
lines (checkpoint sharding, SavedModel signature renames) are not shown, only the progress bar,
the results and real warnings; `--verbosity=0` (INFO) or higher brings them back. TensorFlow's
C++ log level is read once when TensorFlow loads, so the library is imported only after the flags
are parsed (`target` is a "module:function" string, not a function).

A mistake on the command line is one line on stderr, not a traceback: flag values are checked
while parsing (absl's "FATAL Flags parsing error: ..."), and a `ValueError` or `OSError` raised by
the library (a batch larger than the data, a corrupt checkpoint, `--resume` with another flow)
is printed as "Error: <message>" with exit status 1 (`--verbosity=1` shows the traceback).
"""

import contextlib
import importlib
import json
import logging
import os
import sys

from absl import app
from absl import flags
from absl import logging as absl_logging

from tfp_nfvi.cli import flags as cli_flags

__all__ = ["configure_logging", "run_command"]

_QUIET_TF_CPP_LEVEL = "3"  # Only FATAL: errors reach the user as Python exceptions.


def configure_logging(verbosity):
    """Sets TensorFlow's C++ and Python log levels from absl's `--verbosity`.

    Below 0 (the commands' default) TensorFlow's C++ lines and Python INFO lines are hidden;
    0 (INFO) or more shows them. An explicit `TF_CPP_MIN_LOG_LEVEL` in the environment wins.
    Must run before TensorFlow is imported to affect its C++ lines.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", _QUIET_TF_CPP_LEVEL if verbosity < 0 else "0")
    level = absl_logging.converter.absl_to_standard(verbosity)
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _native_stderr_silenced(silence):
    """Sends file descriptor 2 to /dev/null inside the block when `silence` is true.

    TensorFlow's C++ library prints a few lines while it loads ("oneDNN custom operations are
    on", "Could not find cuda drivers") before its log settings apply, so TF_CPP_MIN_LOG_LEVEL
    does not hide them; a quiet command imports the library with the descriptor redirected.
    An import error is still raised, and printed once the descriptor is back.
    """
    if not silence:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _load(target, quiet):
    module, function = target.split(":")
    with _native_stderr_silenced(quiet):
        module = importlib.import_module(module)
    return getattr(module, function)


def run_command(config_cls, target, argv=None, required=()):
    """Runs a command-line program for `config_cls`; returns only through `sys.exit`.

    Args:
      config_cls: the command's config dataclass (`tfp_nfvi.configs`).
      target: "module:function" of the library call `function(config) -> results dict`.
      argv: the command line (default `sys.argv`).
      required: names of flags that must be given.
    """
    argv = sys.argv if argv is None else argv
    cli_flags.define_flags(config_cls, module_name=argv[0])  # `--helpshort` lists them.
    for name in required:
        flags.mark_flag_as_required(name)

    def main(args):
        if len(args) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(args[1:])}")
        verbosity = flags.FLAGS.verbosity
        configure_logging(verbosity)
        try:
            function = _load(target, quiet=verbosity < 0)
            results = function(cli_flags.config_from_flags(config_cls))
        except (ValueError, OSError) as error:
            if verbosity >= 1:
                raise
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            sys.exit(f"Error: {message} (--verbosity=1 shows the traceback)")
        if isinstance(results, tuple):
            results = results[0]
        print(json.dumps(results, indent=2))

    app.run(main, argv=argv, flags_parser=_parse_quietly)


def _parse_quietly(argv):
    """absl's flag parsing, with --verbosity defaulting to WARNING (-1) instead of INFO.

    (`app.run` raises an unset --verbosity to INFO after parsing; a value set here is kept.)
    """
    args = app.parse_flags_with_usage(argv)
    if flags.FLAGS["verbosity"].using_default_value:
        flags.FLAGS.verbosity = -1
    return args
