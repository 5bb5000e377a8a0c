"""Tests for tfp_nfvi.cli.command: a whole command, quiet, with one-line errors."""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

# A stand-in library function: reports its config and logs at INFO and WARNING; "fail" raises.
_PROGRAM = """
import logging, sys
from tfp_nfvi import configs
from tfp_nfvi.cli import command

def target(config):
    logging.getLogger("tensorflow").info("an INFO line")
    logging.getLogger("tensorflow").warning("a real warning")
    if config.flow == "fail":
        raise ValueError("flow 'fail' is not a flow spec\\nsecond line")
    return {"flow": config.flow, "epochs": config.epochs}

sys.modules["fake_library"] = sys.modules[__name__]
command.run_command(configs.TrainConfig, "fake_library:target")
"""


def _run(*flags):
    """Runs `_PROGRAM` as a console script (a file named `tfp-nfvi-*`) with `flags`."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    with tempfile.TemporaryDirectory() as work:
        script = pathlib.Path(work) / "tfp-nfvi-fake"
        script.write_text(_PROGRAM)
        return subprocess.run([sys.executable, str(script), *flags], env=env,
                              capture_output=True, text=True, timeout=120, check=False)


def test_results_are_printed_and_info_is_hidden_by_default():
    proc = _run("--epochs=3")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"flow": "planar*16", "epochs": 3}
    assert "a real warning" in proc.stderr and "an INFO line" not in proc.stderr


def test_verbosity_brings_info_back():
    proc = _run("--verbosity=0")
    assert proc.returncode == 0 and "an INFO line" in proc.stderr


def test_library_errors_are_one_line_and_verbosity_shows_the_traceback():
    proc = _run("--flow=fail")
    assert proc.returncode == 1
    lines = [l for l in proc.stderr.splitlines() if "a real warning" not in l]
    assert lines == ["Error: flow 'fail' is not a flow spec (--verbosity=1 shows the traceback)"]
    proc = _run("--flow=fail", "--verbosity=1")
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_unexpected_arguments_are_refused():
    proc = _run("stray")
    assert proc.returncode == 1 and "Unexpected arguments: stray" in proc.stderr
