"""Tests for tfp_nfvi.training.cde and the `python -m tfp_nfvi.cde` command, end to end."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tfp_nfvi import configs
from tfp_nfvi import training

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED_UCI = REPO_ROOT.parent / "shared" / "data" / "uci"


def _csv(path, n=120, seed=0):
    """A small CSV: y1 = x1 + noise, y2 = sign · |x2| + noise (named columns, header row)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = np.column_stack([x[:, 0] + 0.1 * rng.normal(size=n),
                         rng.choice([-1, 1], n) * np.abs(x[:, 1]) + 0.1 * rng.normal(size=n)])
    table = np.column_stack([x, y])
    np.savetxt(path, table, delimiter=",", header="a,b,c,y1,y2", comments="")
    return str(path)


def _config(**kwargs):
    settings = dict(flow="radial*2", epochs=4, patience=2, repeats=2, batch_size=32,
                    conditioner_units="8", hidden_units="8", verbose=0, jit_compile=False)
    settings.update(kwargs)
    return configs.CDEConfig(**settings)


def test_run_writes_results_figure_checkpoints_and_export(tmp_path):
    import keras  # pylint: disable=g-import-not-at-top
    csv = _csv(tmp_path / "toy.csv")
    out = tmp_path / "run"
    results = training.run_cde(_config(dataset=csv, targets="y1,y2", output_dir=str(out)))
    written = json.loads((out / "results.json").read_text())
    assert written["nll_std"] == results["nll_std"] and len(results["nll_std"]) == 2
    assert results["y_names"] == ["y1", "y2"] and results["x_names"] == ["a", "b", "c"]
    assert results["nll_std_mean"] == pytest.approx(np.mean(results["nll_std"]))
    assert results["nll_std_sd"] == pytest.approx(np.std(results["nll_std"], ddof=1))
    np.testing.assert_allclose(
        np.array(results["nll_orig"]) - results["nll_std"], results["y_log_scale"])
    assert all(1 <= b <= e <= 4 for b, e in zip(results["best_epoch"], results["epochs"]))
    assert (out / "density.png").stat().st_size > 0
    assert (out / "saved_model" / "saved_model.pb").exists()
    model = keras.saving.load_model(str(out / "checkpoints" / "repeat_1.keras"))
    assert model.flow_spec == "radial*2" and model.event_size == 2


def test_a_repeat_equals_a_fresh_model_on_its_split(tmp_path):
    # The run reuses one compiled model: before split 1 its weights and optimizer state are
    # reset, so split 1's result equals that of a new model trained on split 1 alone.
    import keras  # pylint: disable=g-import-not-at-top
    from tfp_nfvi.training import cde  # pylint: disable=g-import-not-at-top
    from tfp_nfvi.training import cde_protocol  # pylint: disable=g-import-not-at-top
    config = _config(dataset=_csv(tmp_path / "toy.csv"), targets="y1,y2")
    results = training.run_cde(config)
    table = cde.load_dataset(config)
    split = cde_protocol.split_and_standardize(table.x, table.y, 0, 1)
    model = cde._make_model(config, table, 1)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), jit_compile=False)
    cde._fit(model, split, config, 1)
    nll = -float(np.mean(model.log_prob(split.x_test, split.y_test).numpy()))
    assert results["nll_std"][1] == pytest.approx(nll, rel=1e-5)
    assert results["nll_std"][0] != pytest.approx(nll, rel=1e-3)


def test_noise_levels_are_chosen_per_split_by_validation_nll(tmp_path):
    # Each split keeps the candidate with the lowest validation NLL, and its test NLL is that
    # of a run with the chosen level alone (same initialization and data order).
    csv = _csv(tmp_path / "toy.csv")
    results = training.run_cde(_config(dataset=csv, targets="y1,y2", y_noise_grid="0.5,0.0"))
    assert results["noise_candidates"] == [[0.2, 0.5], [0.2, 0.0]]
    for r, scores in enumerate(results["candidate_validation_nll"]):
        chosen = int(np.argmin(scores))
        assert results["y_noise_selected"][r] == (0.5, 0.0)[chosen]
        assert results["x_noise_selected"][r] == 0.2
        assert results["validation_nll"][r] == min(scores)
        alone = training.run_cde(_config(dataset=csv, targets="y1,y2", repeats=r + 1,
                                         y_noise=(0.5, 0.0)[chosen]))
        assert alone["nll_std"][r] == pytest.approx(results["nll_std"][r], rel=1e-5)
        assert alone["validation_nll"][r] == pytest.approx(min(scores), rel=1e-5)


def test_dataset_errors_are_clear(tmp_path):
    csv = _csv(tmp_path / "toy.csv")
    with pytest.raises(ValueError, match="`targets` must name the y columns"):
        training.run_cde(_config(dataset=csv))
    with pytest.raises(ValueError, match="`dataset` must be one of"):
        training.run_cde(_config(dataset="nope"))
    with pytest.raises(ValueError, match="`targets` is for a CSV --dataset"):
        training.run_cde(_config(dataset="fish", targets="LC50"))
    with pytest.raises(ValueError, match="'realnvp' needs an event size of at least 2"):
        training.run_cde(_config(dataset=csv, targets="y1", flow="realnvp*2"))


@pytest.mark.slow  # Two Python processes with TensorFlow and a fit: ~30-80 s on 2 cores.
@pytest.mark.skipif(not SHARED_UCI.exists(), reason=f"{SHARED_UCI} not present")
def test_command_end_to_end_on_a_uci_set(tmp_path):
    # The command on Fish (908 rows, 1-D y), two short splits: progress, results.json, figure.
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    out = tmp_path / "fish"
    proc = subprocess.run(
        [sys.executable, "-m", "tfp_nfvi.cde", "--dataset=fish", f"--data_dir={SHARED_UCI}",
         "--flow=planar*2", "--direction=normalizing", "--epochs=3", "--repeats=2",
         "--conditioner_units=8", f"--output_dir={out}", "--export=false"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "split 2/2" in proc.stdout and "test NLL" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["rows"] == 908 and results["repeats"] == 2 and results["y_names"] == ["LC50"]
    assert results["direction"] == "normalizing" and results["saved_model"] is None
    assert (out / "density.png").exists() and not (out / "saved_model").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "tfp_nfvi.cde", "--dataset=nope", f"--output_dir={out}"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert bad.returncode == 1 and "Error: `dataset` must be one of" in bad.stderr
