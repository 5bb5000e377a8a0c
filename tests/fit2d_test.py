"""Tests for the command `python -m tfp_nfvi.fit2d` (the library is tested in tests/vi/)."""

import json
import os
import pathlib
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _command(tmp_path, *flags):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # The command must be quiet on its own.
    return subprocess.run([sys.executable, "-m", "tfp_nfvi.fit2d", *flags], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def test_command_writes_results_and_figure_quietly(tmp_path):
    out = tmp_path / "u2"
    proc = _command(tmp_path, "--energy=U2", "--flow=planar*2", "--num_steps=20",
                    "--chunk_size=10", "--elbo_samples=1000", "--grid_points=16",
                    "--noprogress", f"--output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr[-3000:]  # No TensorFlow log lines, no warnings.
    results = json.loads((out / "results.json").read_text())
    assert json.loads(proc.stdout) == results
    assert (results["energy"], results["flow"], results["num_steps"]) == ("U2", "planar*2", 20)
    # The ELBO is a lower bound on log Z (4 standard errors of Monte Carlo slack).
    assert results["elbo"] <= results["log_z"] + 4 * results["elbo_stderr"]
    assert (out / "density.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_line_mistakes_are_one_line(tmp_path):
    for flags, expected in (
        (["--output_dir=x", "--energy=U9"], "--energy"),
        (["--output_dir=x", "--num_steps=0"], "`num_steps` must be a positive integer, got 0"),
        (["--output_dir=x", "--learning_rate=nan"], "`learning_rate` must be a positive finite"),
        ([], "--output_dir"),
    ):
        proc = _command(tmp_path, *flags)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr and expected in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
