"""Tests for the Table 2 runner: its table, figure and resume logic; end to end on a slice."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "table2_benchmark.py"
_SPEC = importlib.util.spec_from_file_location("table2_benchmark", _PATH)
table2 = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(table2)


def _record(flow, neg_elbo, nll, protocol):
    return dict(flow=flow, test_neg_elbo=neg_elbo, test_nll=nll, iw_samples=5000,
                num_test_digits=10000, epochs=100, best_epoch=90, train_seconds=600.0,
                eval_seconds=400.0, steps_per_second=50.0, protocol=protocol)


def test_every_row_is_a_valid_flow_spec():
    from tfp_nfvi.flows import spec  # pylint: disable=g-import-not-at-top

    for flow in table2.ROWS:
        spec.parse_flow_spec(flow)


def test_markdown_puts_the_papers_beside_our_rows(tmp_path):
    protocol = table2._protocol(table2.parse_args([]), dict(train=50000, valid=10000,
                                                             test=10000))
    records = [_record("diag", 95.0, 90.0, protocol), _record("planar*80", 90.0, 86.0, protocol),
               _record("iaf*2", 89.0, 85.0, protocol), _record("realnvp*4", 91.0, 87.0, protocol)]
    table2.write_markdown(records, tmp_path / "t.md", protocol)
    lines = (tmp_path / "t.md").read_text().splitlines()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in lines if line.startswith("| ") and "posterior" not in line}
    # Ours, then epochs, times, steps/s, then R&M, T&W, vdB.
    assert rows["diag"][:2] == ["95.00", "90.00"] and rows["diag"][-3:] == [
        "89.90", "93.90", "86.55 / 82.14"]
    assert rows["planar*80"][-3:] == ["85.10", "", "86.06 / 81.91"]
    assert rows["iaf*2"][-3:] == ["", "", "84.20 / 80.79"]
    assert rows["realnvp*4"][-3:] == ["", "", ""]
    text = "\n".join(lines)
    assert "S = 5,000" in text and "10,000 test digits" in text and "within 100 epochs" in text
    table2.write_figure(records, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_train_seconds_that_miss_epochs_are_marked(tmp_path):
    protocol = table2._protocol(table2.parse_args([]), dict(train=50000, valid=10000,
                                                             test=10000))
    timed = dict(_record("diag", 95.0, 90.0, protocol), resumed_from_epoch=40, timed_epochs=100)
    # Records of runs resumed from checkpoints without timing: only the last session counts.
    partly = dict(_record("planar*10", 94.0, 89.0, protocol), resumed_from_epoch=40)
    evaluated_only = dict(_record("iaf*2", 93.0, 88.0, protocol), resumed_from_epoch=100,
                          train_seconds=0.0)
    table2.write_markdown([timed, partly, evaluated_only], tmp_path / "t.md", protocol)
    cells = {line.split("|")[1].strip(): line.split("|")[6].strip()
             for line in (tmp_path / "t.md").read_text().splitlines()
             if line.startswith("| ") and "posterior" not in line}
    assert cells == {"diag": "600", "planar*10": "600 †", "iaf*2": "– †"}


def test_markdown_compares_rows_with_a_baseline_protocol(tmp_path):
    counts = dict(train=50000, valid=10000, test=10000)
    cosine = table2._protocol(table2.parse_args(["--learning_rate_schedule=cosine"]), counts)
    constant = {k: v for k, v in table2._protocol(
        table2.parse_args(["--learning_rate_schedule=constant"]), counts).items()
                if k != "learning_rate_schedule"}  # As rows recorded before the setting.
    records = [_record("diag", 95.5, 89.0, cosine), _record("planar*10", 94.0, 88.5, cosine)]
    baseline = [_record("diag", 97.0, 90.0, constant), _record("iaf*2", 96.0, 89.0, constant)]
    table2.write_markdown(records, tmp_path / "t.md", cosine, baseline=baseline)
    text = (tmp_path / "t.md").read_text()
    assert "it differs in: learning_rate_schedule constant → cosine)" in text
    assert "| diag | 95.50 | 97.00 | -1.50 | 89.00 | 90.00 | -1.00 |" in text
    assert "| planar*10 | 94.00 |" not in text.split("## Against the baseline protocol")[1]
    assert "cosine decay to 0 over the 100 epochs" in text
    assert "Not yet trained under this protocol (baseline −ELBO / NLL): iaf*2 96.00 / 89.00." in text
    table2.write_markdown(records, tmp_path / "u.md", cosine)  # No baseline: no section.
    assert "## Against" not in (tmp_path / "u.md").read_text()


def test_learning_curves_come_from_the_tensorboard_logs_of_every_session(tmp_path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    run = tmp_path / "planarx2"
    sessions = [dict(train=[120.0, 100.0], valid=[118.0, 101.0], epochs=[0, 1]),
                dict(train=[99.0, 95.0], valid=[100.0, 102.0], epochs=[1, 2])]  # Resumed.
    for k, session in enumerate(sessions):
        for split, key in (("train", "train"), ("validation", "valid")):
            with tf.summary.create_file_writer(str(run / "tensorboard" / split),
                                               filename_suffix=f".{k}").as_default():
                for epoch, value in zip(session["epochs"], session[key]):
                    tf.summary.scalar("epoch_elbo", -value, step=epoch)
                    tf.summary.scalar("epoch_kl", 1.0, step=epoch)  # Other tags: ignored.
    curves = table2._curves(run, best_epoch=2)
    # Epoch 1 was logged twice (before a crash and after the resume): the later value counts.
    assert curves["train_neg_elbo_curve"] == [120.0, 99.0, 95.0]
    assert curves["val_neg_elbo_curve"] == [118.0, 100.0, 102.0]
    assert curves["train_neg_elbo_at_best"] == 99.0  # Epochs count from 1.
    # Records written before curves were recorded get them from their row folders.
    old, missing = dict(flow="planar*2", best_epoch=3), dict(flow="diag", best_epoch=3)
    table2._backfill_curves([old, missing], tmp_path)
    assert old["train_neg_elbo_at_best"] == 95.0 and "train_neg_elbo_curve" not in missing
    table2.write_curves_figure([old, missing], tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_arguments_are_validated():
    with pytest.raises(SystemExit):
        table2.parse_args(["--iw_samples=0"])
    with pytest.raises(SystemExit):
        table2.parse_args(["--learning_rate=-1"])
    with pytest.raises(SystemExit):
        table2.parse_args(["--gradient_clip_norm=-1"])
    assert table2.parse_args([]).gradient_clip_norm == 500
    assert table2.parse_args(["--gradient_clip_norm=0"]).gradient_clip_norm is None  # Off.
    assert table2.parse_args(["--rows=diag, planar*10"]).rows == ["diag", "planar*10"]


def test_interrupted_row_with_another_protocol_is_refused(tmp_path):
    table2._check_run_dir(tmp_path / "row", dict(max_epochs=100), "diag")
    table2._check_run_dir(tmp_path / "row", dict(max_epochs=100), "diag")  # Same: resumes.
    with pytest.raises(SystemExit, match=r"another protocol \(differs in \['max_epochs'\]\)"):
        table2._check_run_dir(tmp_path / "row", dict(max_epochs=5), "diag")


def test_rows_recorded_before_the_schedule_was_a_setting_count_as_constant(tmp_path):
    constant = table2._protocol(table2.parse_args(["--learning_rate_schedule=constant"]),
                                dict(train=1, valid=1, test=1))
    cosine = table2._protocol(table2.parse_args([]), dict(train=1, valid=1, test=1))
    earlier = {k: v for k, v in constant.items() if k != "learning_rate_schedule"}
    assert table2._same_protocol(earlier, constant)
    assert not table2._same_protocol(earlier, cosine)
    assert not table2._same_protocol(None, constant)
    table2._check_run_dir(tmp_path / "row", earlier, "diag")
    table2._check_run_dir(tmp_path / "row", constant, "diag")  # An earlier run folder resumes.
    with pytest.raises(SystemExit, match=r"differs in \['learning_rate_schedule'\]"):
        table2._check_run_dir(tmp_path / "row", cosine, "diag")


def test_rows_recorded_before_clipping_was_a_setting_count_as_unclipped(tmp_path):
    counts = dict(train=1, valid=1, test=1)
    unclipped = table2._protocol(table2.parse_args(["--gradient_clip_norm=0"]), counts)
    clipped = table2._protocol(table2.parse_args([]), counts)
    earlier = {k: v for k, v in unclipped.items() if k != "gradient_clip_norm"}
    assert table2._same_protocol(earlier, unclipped)
    assert not table2._same_protocol(earlier, clipped)
    assert "gradients clipped to global norm 500" in table2._clip_words(clipped)
    assert table2._clip_words(earlier) == ""


def test_retrain_old_models_trains_rows_of_earlier_step_models_again(tmp_path, monkeypatch,
                                                                     capsys):
    args = ["--rows=diag,planar*2,planar*4,radial*2", f"--results={tmp_path}/table2.json",
            f"--work_dir={tmp_path}/runs", "--iw_samples=20"]
    counts = dict(train=400, valid=100, test=50)
    protocol = table2._protocol(table2.parse_args(args), counts)
    # planar*2: recorded before the identity start (no keys); planar*4: identity start, but
    # before centered offsets; radial*2: before centred radial steps (the folder's marker is
    # a planar model's, as earlier runners wrote for every row). Their run folders hold those
    # runs.
    old = [_record("diag", 95.0, 90.0, protocol), _record("planar*2", 94.0, 89.0, protocol),
           dict(_record("planar*4", 93.5, 88.5, protocol), planar_start="identity"),
           dict(_record("radial*2", 95.5, 90.5, protocol), planar_start="identity",
                planar_offset="mean_path")]
    (tmp_path / "table2.json").write_text(json.dumps(old))
    for row, model in (("planarx2", None), ("planarx4", {"planar_start": "identity"}),
                       ("radialx2", {"planar_start": "identity", "planar_offset": "mean_path"})):
        (tmp_path / "runs" / row).mkdir(parents=True)
        (tmp_path / "runs" / row / "ckpt").write_text("old run")
        if model:
            (tmp_path / "runs" / row / table2._MODEL_MARKER).write_text(json.dumps(model))
    trained = []

    def fake_row(flow, args, dataset, protocol, work_dir):  # Training, without TensorFlow.
        table2._check_run_dir(work_dir / table2._slug(flow), protocol, flow)
        trained.append(flow)
        return dict(_record(flow, 93.0, 88.0, protocol),
                    **table2._folder_model(work_dir / table2._slug(flow)))

    monkeypatch.setattr(table2, "_dataset", lambda args, work_dir: ("data", counts))
    monkeypatch.setattr(table2, "run_row", fake_row)
    table2.main(args)
    assert trained == []  # Without the flag, old rows count as done ...
    text = (tmp_path / "table2.md").read_text()
    assert ("- planar*2: an earlier step model's, with steps that started at zero head "
            "output") in text
    assert "- planar*4: an earlier step model's, with steps that took their offsets" in text
    assert ("- radial*2: an earlier step model's, with steps that took their centres from "
            "the head in absolute coordinates") in text
    assert table2._row_names(["a", "b", "c"]) == "a, b and c"  # Rows of one note: one line.
    table2.main(args + ["--retrain_old_models"])
    assert trained == ["planar*2", "planar*4", "radial*2"]  # diag has no such steps: kept.
    for row, flow in (("planarx2", "planar*2"), ("planarx4", "planar*4"),
                      ("radialx2", "radial*2")):
        assert (tmp_path / "runs" / f"{row}.old_model" / "ckpt").read_text() == "old run"
        assert table2._folder_model(tmp_path / "runs" / row) == table2.row_model(flow)
    assert table2.row_model("radial*2") == {"radial_center": "mean_path"}
    records = json.loads((tmp_path / "table2.json").read_text())
    assert [(r["flow"], r["test_nll"]) for r in records] == [
        ("diag", 90.0), ("planar*2", 88.0), ("planar*4", 88.0), ("radial*2", 88.0)]
    assert not any(table2._old_model(r) for r in records)
    replaced = json.loads((tmp_path / "table2_replaced.json").read_text())
    assert [(r["flow"], r["test_nll"]) for r in replaced] == [
        ("planar*2", 89.0), ("planar*4", 88.5), ("radial*2", 90.5)]
    text = (tmp_path / "table2.md").read_text()
    assert "their earlier runs gave −ELBO / NLL planar*2 94.00 / 89.00, planar*4 93.50" in text
    assert "trained with steps that started at zero head output" in text
    assert "an earlier step model's, with" not in text
    table2.main(args + ["--retrain_old_planar"])  # Today's model: done (the flag's old name).
    assert trained == ["planar*2", "planar*4", "radial*2"]
    # An interrupted run of an earlier model (no record yet) starts afresh, not resumed.
    (tmp_path / "runs" / "planarx8").mkdir()
    (tmp_path / "runs" / "planarx8" / table2._MODEL_MARKER).write_text(
        json.dumps({"planar_start": "identity"}))
    table2.main(args[:1] + ["--rows=planar*8"] + args[1:] + ["--retrain_old_models"])
    assert (tmp_path / "runs" / "planarx8.old_model").exists()
    assert table2._folder_model(tmp_path / "runs" / "planarx8") == table2.row_model("planar*8")


def test_earlier_step_models_are_named_by_what_they_were_trained_with():
    today = dict(_record("planar*8", 90.0, 86.0, {}), **table2.row_model("planar*8"))
    assert not table2._old_model(today)
    base_mean = dict(today, planar_offset="centered")
    assert table2._old_model(base_mean)
    assert "relative to the base mean μ itself" in table2._earlier_words(base_mean)
    uncentered = {k: v for k, v in today.items() if k != "planar_offset"}
    assert table2._earlier_words(uncentered).startswith("took their offsets b from the head")
    assert not table2._old_model(dict(_record("diag", 95.0, 90.0, {})))
    mixed = dict(_record("planar*2,radial*2", 90.0, 86.0, {}), **table2.row_model("planar*8"))
    assert table2._old_model(mixed)
    assert table2._earlier_words(mixed).startswith("took their centres from the head")
    assert not table2._old_model(dict(mixed, radial_center="mean_path"))


def test_the_unclipped_table_beside_the_results_is_the_default_baseline(tmp_path,
                                                                         monkeypatch):
    args = ["--rows=diag", f"--results={tmp_path}/table2.json", f"--work_dir={tmp_path}/runs"]
    counts = dict(train=400, valid=100, test=50)
    unclipped = table2._protocol(table2.parse_args(args + ["--gradient_clip_norm=0"]), counts)
    (tmp_path / "table2_unclipped.json").write_text(json.dumps(
        [_record("diag", 97.0, 90.0, unclipped)]))
    monkeypatch.setattr(table2, "_dataset", lambda args, work_dir: ("data", counts))
    monkeypatch.setattr(table2, "run_row", lambda flow, args, dataset, protocol, work_dir: dict(
        _record(flow, 95.0, 89.0, protocol), planar_start="identity"))
    table2.main(args)
    assert "| diag | 95.00 | 97.00 | -2.00 | 89.00 | 90.00 | -1.00 |" in (
        tmp_path / "table2.md").read_text()


def test_two_runners_share_one_results_file_and_skip_each_others_rows(tmp_path, monkeypatch,
                                                                      capsys):
    args = ["--rows=diag,planar*2,planar*4", f"--results={tmp_path}/table2.json",
            f"--work_dir={tmp_path}/runs"]
    counts = dict(train=400, valid=100, test=50)
    protocol = table2._protocol(table2.parse_args(args), counts)
    # planar*4 is held by another live process (this test's parent), as a second runner would.
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "planarx4.lock").write_text(str(os.getppid()))
    trained = []

    def fake_row(flow, args, dataset, protocol, work_dir):
        trained.append(flow)
        if flow == "diag":  # Meanwhile the other runner finishes a row of its own.
            other = json.loads((tmp_path / "table2.json").read_text()) if (
                tmp_path / "table2.json").exists() else []
            (tmp_path / "table2.json").write_text(json.dumps(
                other + [dict(_record("planar*8", 92.0, 87.0, protocol),
                              **table2.row_model("planar*8"))]))
        return dict(_record(flow, 95.0, 89.0, protocol), **table2.row_model(flow))

    monkeypatch.setattr(table2, "_dataset", lambda args, work_dir: ("data", counts))
    monkeypatch.setattr(table2, "run_row", fake_row)
    table2.main(args)
    assert trained == ["diag", "planar*2"]
    assert "planar*4: being trained by another runner" in capsys.readouterr().out
    records = json.loads((tmp_path / "table2.json").read_text())
    assert [(r["flow"], r["test_nll"]) for r in records] == [
        ("diag", 89.0), ("planar*2", 89.0), ("planar*8", 87.0)]
    assert not (tmp_path / "runs" / "diag.lock").exists()  # Released after the row.
    assert (tmp_path / "runs" / "planarx4.lock").exists()  # Another's: left alone.


def test_the_lock_of_a_runner_that_has_ended_is_taken_over(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    run_dir = tmp_path / "planarx2"
    table2._row_lock(run_dir).write_text(ended)
    assert table2._claim_row(run_dir)
    assert table2._row_lock(run_dir).read_text() == str(os.getpid())
    assert table2._claim_row(run_dir)  # Held by this process already.
    table2._release_row(run_dir)
    assert not table2._row_lock(run_dir).exists()


@pytest.mark.slow  # About a minute on a quiet 2-core machine (XLA compiles per row).
def test_end_to_end_on_a_slice_and_resume(tmp_path, capsys):
    args = ["--rows=diag,planar*2", "--max_epochs=2", "--train_digits=400",
            "--valid_digits=100", "--test_digits=50", "--iw_samples=20", "--iw_chunk_size=10",
            "--warmup_epochs=1", "--verbose=0", f"--results={tmp_path}/table2.json",
            f"--work_dir={tmp_path}/runs"]
    table2.main(args)
    records = json.loads((tmp_path / "table2.json").read_text())
    assert [r["flow"] for r in records] == ["diag", "planar*2"]
    for r in records:
        assert r["num_test_digits"] == 50 and r["iw_samples"] == 20 and r["epochs"] == 2
        assert r["test_neg_elbo"] > 0 and r["test_nll"] > 0 and r["train_seconds"] > 0
        # log p(x) >= ELBO in expectation; 50 digits, S = 20: allow 1 nat of noise.
        assert r["test_nll"] < r["test_neg_elbo"] + 1.0
        assert len(r["val_neg_elbo_curve"]) == 2 and r["train_neg_elbo_at_best"] > 0
    for name in ("table2.md", "table2.png", "table2_curves.png"):
        assert (tmp_path / name).exists()
    capsys.readouterr()
    # Rerun: finished rows are skipped; a row lost from the JSON resumes from its checkpoint.
    (tmp_path / "table2.json").write_text(json.dumps(records[:1]))
    table2.main(args)
    assert "diag: done" in capsys.readouterr().out
    again = json.loads((tmp_path / "table2.json").read_text())
    assert again[1]["resumed_from_epoch"] == 2 and again[1]["test_nll"] == records[1]["test_nll"]
    # Its training time is checkpointed: the record keeps it though nothing was trained.
    assert again[1]["timed_epochs"] == 2
    assert again[1]["train_seconds"] == pytest.approx(records[1]["train_seconds"])
