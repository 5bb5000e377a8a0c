r"""Rezende & Mohamed (2015) Table 2 on the standard binarized MNIST: one row per posterior.

    python benchmarks/table2_benchmark.py                      # the whole table (hours)
    python benchmarks/table2_benchmark.py --rows=diag,planar*10
    python benchmarks/table2_benchmark.py --max_epochs=2 --train_digits=1000 \
        --valid_digits=500 --test_digits=200 --iw_samples=50 \
        --results=/tmp/t2/table2.json --work_dir=/tmp/t2/runs       # a check in a minute

Protocol (one `FlowVAE` per row, trained by `tfp_nfvi.training.train`):

* Data: the statically binarized MNIST of Larochelle & Murray (2011), official splits
  50,000 / 10,000 / 10,000 (`tfp_nfvi.data.load_binarized_mnist("binarized_mnist")`; by
  default read from ../shared/data/binarized_mnist.npz when it is there).
* Model: latent size 40; FlowVAE's default MLPs (encoder 784-512-256, decoder 40-256-512-784,
  ReLU), Bernoulli likelihood, amortized flow parameters from the encoder's 256 features.
* Training: Adam, learning rate 1e-3 decayed to 0 over the budget by a cosine
  (`--learning_rate_schedule=cosine`), batch 100; KL warm-up beta_t = min(1, 0.01 + t / T)
  with T = 10,000 steps (20 epochs), as in Rezende & Mohamed; early stopping on the
  validation ELBO (patience 20 epochs, best weights restored) within a budget of at most 100
  epochs (50,000 steps, a tenth of Rezende & Mohamed's 500,000 updates); each step's gradient
  clipped to global norm 500 (`--gradient_clip_norm`). Seed 0. Earlier tables, each compared
  row by row with the next (`--baseline`): `table2_constant_lr.json` kept the rate constant
  (the decay gained 2.4 nats of test -ELBO on the diagonal row), `table2_unclipped.json` did
  not clip (gradient spikes of norm 1e4-4e6 threw planar*20's run back to 96.50 / 90.22; rows
  whose gradients stay below 500 train identically).
* Evaluation on all 10,000 test digits: -ELBO, the mean of a single-sample ELBO per digit;
  NLL = -log p(x) by importance sampling with S = 5,000 samples from the flow posterior per
  digit (`FlowVAE.log_likelihood`, in chunks), as van den Berg et al. (2018).

Output: `benchmarks/results/table2.json` (a list of records, one per finished row, keys
`flow`, `test_neg_elbo`, `test_nll`, `iw_samples`, `num_test_digits`, `epochs`,
`train_seconds`, `timed_epochs`, `eval_seconds`, `steps_per_second`, ... and the protocol;
times are wall-clock on the machine as it was, another row or job beside it included), the Markdown
table `table2.md` beside it with the papers' figures in columns beside ours, and the figure
`table2.png` (-ELBO and NLL against the number of planar steps K, with the paper's points).

Cost on the 2-core CPU (batch 100, 500 steps per epoch, 100 epochs), from the records of
`table2_unclipped.json` (clipping costs nothing measurable): on a quiet machine iaf*2, realnvp*4 and householder*10 train in 420-480 s (137-158 steps/s),
nsf_coupling*4 in 770 s, sylvester_t*4 in 1,840 s (35 steps/s); the NLL with S = 5,000 over the
10,000 test digits takes 300-780 s. The first rows (diag, planar*, radial) ran while other jobs
loaded the machine 3-10x (850-3,650 s). The whole table is a few hours; run it in the background.

Resumable: a row whose record (same protocol) is in the JSON is skipped; an interrupted row
continues from its last epoch checkpoint in `--work_dir/<row>/` (`tfp_nfvi.train`'s
`resume`). A row's `train_seconds` and `steps_per_second` cover its `timed_epochs`: all its
epochs, those of interrupted sessions included (the timing is checkpointed), except for rows
resumed from checkpoints written before it was (they count from `resumed_from_epoch`).

Rows of an earlier step model (records without today's `STEP_MODELS`: planar steps started at
zero head output, with uncentered offsets, or centered on the base mean itself; radial steps
with uncentered centres) count as done; `--retrain_old_models` trains them again (the old run
folder is kept as `<row>.old_model`, the old record moves to `<results>_replaced.json`).

Several runners may share one `--results` file and `--work_dir` on one machine (e.g. two
processes on other rows): each reads the file again before it writes its row, and a row
that a live runner holds (its process id in `--work_dir/<row>.lock`) is skipped by the others.

Rows: `ROWS` below; a new posterior (e.g. `sylvester_o*16`, `householder*10`, `nsf*4`) is one
more entry there and, when a paper reports it, one entry in `PAPERS`.
"""

import argparse
import dataclasses
import inspect
import json
import math
import os
import pathlib
import sys
import time
from typing import Optional

_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # Run as a script from anywhere in the checkout.
    sys.path.insert(0, str(_ROOT))

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from tfp_nfvi import data  # pylint: disable=g-import-not-at-top,wrong-import-position
from tfp_nfvi import models  # pylint: disable=g-import-not-at-top,wrong-import-position
from tfp_nfvi.internal import validation  # pylint: disable=wrong-import-position

ROWS = ("diag", "planar*10", "planar*20", "planar*40", "planar*80", "radial*10", "iaf*2",
        "realnvp*4", "householder*10", "sylvester_o*4", "sylvester_h*4", "sylvester_t*4",
        "nsf_iaf*2", "nsf_coupling*4")
SHARED_DATA = _ROOT.parent / "shared" / "data" / "binarized_mnist.npz"
RESULTS = _ROOT / "benchmarks" / "results" / "table2.json"
WORK_DIR = _ROOT / "runs" / "table2"


@dataclasses.dataclass(frozen=True)
class Published:
    """A paper's figures for a row: -ELBO (a bound on -log p(x)) and/or NLL, in nats."""

    neg_elbo: Optional[float] = None
    nll: Optional[float] = None
    note: str = ""


# The papers' columns, in table order, each mapping our row's flow spec to its figure.
PAPERS = {
    "R&M 2015 −ELBO": dict(
        cite="Rezende & Mohamed (2015), Table 2: DLGM + NF, maxout MLPs (400 units), latent "
             "40; bounds on −ln p(x) (−ELBO)",
        rows={"diag": Published(89.9), "planar*10": Published(87.5),
              "planar*20": Published(86.5), "planar*40": Published(85.7),
              "planar*80": Published(85.1)}),
    "T&W 2016 −ELBO": dict(
        cite="Tomczak & Welling (2016): MLPs 300-300, latent 40; −ELBO",
        rows={"diag": Published(93.9), "householder*10": Published(87.7)}),
    "vdB 2018 −ELBO / NLL": dict(
        cite="van den Berg et al. (2018), Table 1: gated convolutional encoder/decoder; "
             "−ELBO / NLL (importance sampling, 5,000 samples)",
        rows={"diag": Published(86.55, 82.14), "planar": Published(86.06, 81.91),
              "iaf": Published(84.20, 80.79), "sylvester_o": Published(83.32, 80.22)}),
}
PLANAR_PAPER_POINTS = {0: 89.9, 10: 87.5, 20: 86.5, 40: 85.7, 80: 85.1}  # R&M 2015, Table 2.


def _published(paper, flow):
    """The paper's figure for `flow`: by exact spec, else by step kind (vdB's depths)."""
    rows = PAPERS[paper]["rows"]
    return rows.get(flow) or (rows.get(flow.split("*")[0]) if "*" in flow else None)


def _network_sizes():
    """FlowVAE's default MLP widths (what `tfp_nfvi.training.train` builds)."""
    defaults = inspect.signature(models.FlowVAE.__init__).parameters
    return (list(defaults["encoder_units"].default), list(defaults["decoder_units"].default))


def _slug(flow):
    return flow.replace("*", "x").replace(",", "_")


def _dataset(args, work_dir):
    """(dataset argument for train.run, digits per split); a sliced copy when asked."""
    splits = data.load_binarized_mnist(args.dataset)
    sizes = {"train": args.train_digits, "valid": args.valid_digits, "test": args.test_digits}
    arrays = {"train": splits.train, "valid": splits.validation, "test": splits.test}
    counts = {k: len(a) if sizes[k] is None else min(sizes[k], len(a)) for k, a in arrays.items()}
    if all(counts[k] == len(a) for k, a in arrays.items()):
        return args.dataset, counts
    path = work_dir / f"data_{counts['train']}_{counts['valid']}_{counts['test']}.npz"
    if not path.exists():
        work_dir.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{k: np.packbits(a[:counts[k]].astype(np.uint8), axis=1)
                                     for k, a in arrays.items()})
    return str(path), counts


def _protocol(args, counts):
    encoder, decoder = _network_sizes()
    dataset = str(args.dataset)
    if os.path.isabs(dataset):  # Relative to the checkout, so the record reads anywhere.
        dataset = os.path.relpath(dataset, _ROOT)
    return dict(dataset=dataset, num_train_digits=counts["train"],
                num_valid_digits=counts["valid"], num_test_digits=counts["test"],
                latent_dim=args.latent_dim, encoder_units=encoder, decoder_units=decoder,
                batch_size=args.batch_size, learning_rate=args.learning_rate,
                learning_rate_schedule=args.learning_rate_schedule,
                gradient_clip_norm=args.gradient_clip_norm,
                warmup_epochs=args.warmup_epochs, max_epochs=args.max_epochs,
                patience=args.patience, iw_samples=args.iw_samples, seed=args.seed)


# Protocol keys added after rows were recorded, with the value those rows were trained with.
_ADDED_PROTOCOL_KEYS = {"learning_rate_schedule": "constant", "gradient_clip_norm": None}


def _with_added_keys(protocol):
    """`protocol` with the keys added after it was recorded, at the value it was run with."""
    return {**_ADDED_PROTOCOL_KEYS, **protocol}


def _protocol_changes(before, after):
    """The sorted keys whose values differ between two protocols (added keys filled in)."""
    before, after = _with_added_keys(before), _with_added_keys(after)
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _same_protocol(recorded, protocol):
    """Whether a recorded protocol is `protocol` (keys added later count at their old value)."""
    return recorded is not None and not _protocol_changes(recorded, protocol)


def _load_records(path):
    if not path.exists():
        return []
    with open(path) as f:
        records = json.load(f)
    if not isinstance(records, list):
        raise ValueError(f"{path} must hold a JSON list of row records; got "
                         f"{type(records).__name__}.")
    return records


def _write_json(records, path):
    temporary = path.with_suffix(".json.tmp")
    with open(temporary, "w") as f:
        json.dump(records, f, indent=2)
    os.replace(temporary, path)


# Today's step models, by step kind. Planar: identity start (`identity_params`) and offsets
# relative to the base mean's path through the flow (`Flow(center_planar="mean_path")`);
# radial: centres relative to the same path (`Flow(center_radial="mean_path")`). A row's
# model (those of its kinds) is written into its run folder when it starts and copied into
# its record; rows recorded with less were trained by an earlier model.
STEP_MODELS = {
    "planar": {"planar_start": "identity", "planar_offset": "mean_path"},
    "radial": {"radial_center": "mean_path"},
}
# What a record with each earlier value (None: without the key) was trained with, for the notes.
_EARLIER_MODEL = {
    "planar_start": {
        None: "started at zero head output (wᵀû = m(0) = −0.31, a contraction by 0.69 per "
              "step)"},
    "planar_offset": {
        None: "took their offsets b from the head directly, not relative to the base mean "
              "(uncentered: trained, they saturate into per-example shifts)",
        "centered": "took their offsets relative to the base mean μ itself, not to μ's path "
                    "through the steps before each (`center_planar=\"base_mean\"`: at K = 80 "
                    "the later steps' inputs were far from μ and training was unstable)"},
    "radial_center": {
        None: "took their centres from the head in absolute coordinates, not relative to "
              "the base mean's path (uncentered: near 0, away from the posterior's mass)"},
}
_MODEL_MARKER = "planar_start.json"  # The name earlier run folders have.


def row_model(flow):
    """Today's model of the step kinds in a row's flow spec (see `STEP_MODELS`)."""
    kinds = {part.split("*")[0].split("(")[0].strip() for part in flow.split(",")}
    return {k: v for kind in sorted(kinds) for k, v in STEP_MODELS.get(kind, {}).items()}


def _old_model(record):
    """Whether a record's steps are an earlier model's (see `STEP_MODELS`)."""
    return any(record.get(k) != v for k, v in row_model(record["flow"]).items())


def _earlier_words(record):
    return " and ".join(_EARLIER_MODEL[k][record.get(k)]
                        for k, v in row_model(record["flow"]).items() if record.get(k) != v)


def _folder_model(run_dir):
    marker = run_dir / _MODEL_MARKER
    return json.loads(marker.read_text()) if marker.exists() else {}


def _row_lock(run_dir):
    return run_dir.with_name(run_dir.name + ".lock")


def _claim_row(run_dir):
    """Takes the row for this process; False if another live runner holds it.

    The lock is the holder's process id in `<row>.lock` beside the row folder; one of a
    process that has ended (an interrupted runner) is taken over. Processes of one machine
    only: the id is checked with `os.kill(pid, 0)`.
    """
    lock = _row_lock(run_dir)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        holder = int(lock.read_text())
    except (FileNotFoundError, ValueError):
        holder = None
    if holder is not None and holder != os.getpid():
        try:
            os.kill(holder, 0)
            return False
        except ProcessLookupError:
            pass  # The holder has ended.
        except PermissionError:
            return False  # Alive, another user's.
    lock.write_text(str(os.getpid()))
    return True


def _release_row(run_dir):
    lock = _row_lock(run_dir)
    if lock.exists() and lock.read_text().strip() == str(os.getpid()):
        lock.unlink()


def _set_aside_old_run(run_dir, flow):
    """Renames a run folder of an earlier step model to `<row>.old_model[<n>]`."""
    model = row_model(flow)
    if not run_dir.exists() or all(_folder_model(run_dir).get(k) == v for k, v in model.items()):
        return
    old, n = run_dir.with_name(run_dir.name + ".old_model"), 1
    while old.exists():
        old, n = run_dir.with_name(f"{run_dir.name}.old_model{n}"), n + 1
    run_dir.rename(old)
    print(f"{run_dir.name}: the run of an earlier step model moved to {old}.", flush=True)


def _check_run_dir(run_dir, protocol, flow):
    """A row's checkpoints may only be resumed under the protocol that wrote them."""
    marker = run_dir / "protocol.json"
    if marker.exists():
        with open(marker) as f:
            previous = json.load(f)
        changed = _protocol_changes(previous, protocol)
        if changed:
            raise SystemExit(
                f"{run_dir} holds an interrupted run with another protocol (differs in "
                f"{changed}); delete it or pass another --work_dir.")
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(marker, "w") as f:
            json.dump(protocol, f, indent=2)
        with open(run_dir / _MODEL_MARKER, "w") as f:
            json.dump(row_model(flow), f)


def run_row(flow, args, dataset, protocol, work_dir):
    """Trains and evaluates one row (resuming its checkpoint); returns its record."""
    from tfp_nfvi import training  # pylint: disable=g-import-not-at-top  (TensorFlow is heavy)
    from tfp_nfvi.configs import TrainConfig  # pylint: disable=g-import-not-at-top

    run_dir = work_dir / _slug(flow)
    _check_run_dir(run_dir, protocol, flow)
    start = time.perf_counter()
    # The one coupling to the training command: its config and library entry point.
    result = training.train(TrainConfig(
        flow=flow, latent_dim=args.latent_dim, epochs=args.max_epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        learning_rate_schedule=args.learning_rate_schedule,
        gradient_clip_norm=args.gradient_clip_norm,
        warmup_epochs=args.warmup_epochs, dataset=dataset, output_dir=str(run_dir),
        iw_samples=args.iw_samples, seed=args.seed, resume=True, patience=args.patience,
        iw_chunk_size=args.iw_chunk_size, verbose=args.verbose))
    wall = time.perf_counter() - start
    return dict(
        **_curves(run_dir, result["best_epoch"]),
        flow=flow,
        # The step model the run folder was started with (`row_model` for new folders).
        **_folder_model(run_dir),
        test_neg_elbo=-result["test_elbo"],
        test_nll=result["test_nll"],
        iw_samples=result["iw_samples"],
        num_test_digits=protocol["num_test_digits"],
        epochs=result["epochs_run"],
        best_epoch=result["best_epoch"],
        best_val_neg_elbo=-result["best_val_elbo"],
        train_seconds=result["train_seconds"],
        timed_epochs=result["timed_epochs"],
        eval_seconds=result.get("eval_seconds"),
        wall_seconds=wall,
        seconds_per_epoch=result["seconds_per_epoch"],
        steps_per_second=result["steps_per_second"],
        optimizer_steps=result["optimizer_steps"],
        num_parameters=result["num_parameters"],
        resumed_from_epoch=result["resumed_from_epoch"],
        warmup_steps_used=result["warmup_steps"],
        protocol=protocol,
    )


def _epoch_scalars(log_dir, tag):
    """`{epoch: value}` of a Keras TensorBoard scalar (a resumed run's files all count)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top  (TensorFlow is heavy)

    values = {}
    for path in sorted(pathlib.Path(log_dir).glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == tag:  # A repeated epoch (crash, resume): the last one wins.
                    values[int(event.step)] = float(tf.make_ndarray(value.tensor))
    return values


def _curves(run_dir, best_epoch):
    """Per-epoch training and validation -ELBO, and the training -ELBO at the best epoch.

    Read from the row's TensorBoard logs, which span every resumed session of the row. The
    gap between the two curves says whether a row is limited by its epoch budget (both still
    falling) or by overfitting (validation flat while training falls).
    """
    board = pathlib.Path(run_dir) / "tensorboard"
    train = _epoch_scalars(board / "train", "epoch_elbo")
    valid = _epoch_scalars(board / "validation", "epoch_elbo")
    epochs = sorted(set(train) & set(valid))
    if not epochs or best_epoch - 1 not in train:
        return {}
    return dict(train_neg_elbo_curve=[-train[e] for e in epochs],
                val_neg_elbo_curve=[-valid[e] for e in epochs],
                train_neg_elbo_at_best=-train[best_epoch - 1])


def _backfill_curves(records, work_dir):
    """Adds the curves to records written before they were recorded, from the row folders."""
    for record in records:
        if "train_neg_elbo_curve" not in record:
            record.update(_curves(work_dir / _slug(record["flow"]), record["best_epoch"]))
    return records


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def write_markdown(records, path, protocol, replaced=(), baseline=()):
    """The table with the papers' figures beside ours, and the protocol differences.

    `replaced`: earlier records of rows trained again (`--retrain_old_models`), for the notes.
    `baseline`: records of the same rows under another protocol (`--baseline`), compared row
    by row in a section of their own.
    """
    papers = list(PAPERS)
    lines = [
        "# Table 2: flow posteriors on statically binarized MNIST",
        "",
        "Ours: test −ELBO (single-sample mean) and NLL (importance sampling, "
        f"S = {protocol['iw_samples']:,}) over {protocol['num_test_digits']:,} test digits, "
        "nats; lower is better. The papers' figures are in the columns to the right. "
        "*train −ELBO*: the training digits' mean −ELBO in the best epoch (as `fit` logs it), "
        "for the gap between fitting and generalizing (learning curves: `table2_curves.png`).",
        "",
        "| posterior | −ELBO | NLL | train −ELBO | epochs (best) | train s | eval s | steps/s | "
        + " | ".join(papers) + " |",
        "|---|---|---|---|---|---|---|---|" + "---|" * len(papers),
    ]
    for r in records:
        cells = []
        for paper in papers:
            p = _published(paper, r["flow"])
            cells.append("" if p is None else " / ".join(
                _fmt(v) for v in (p.neg_elbo, p.nll) if v is not None))
        lines.append(
            f"| {r['flow']} | {_fmt(r['test_neg_elbo'])} | {_fmt(r['test_nll'])} | "
            f"{_fmt(r.get('train_neg_elbo_at_best'))} | {r['epochs']} ({r['best_epoch']}) | "
            f"{_train_seconds_cell(r)} | "
            f"{_fmt(r['eval_seconds'], 0)} | {_fmt(r['steps_per_second'], 1)} | "
            + " | ".join(cells) + " |")
    encoder, decoder = protocol["encoder_units"], protocol["decoder_units"]
    lines += [
        "",
        "Sources: " + "; ".join(f"**{k}**: {v['cite']}" for k, v in PAPERS.items()) + ". "
        "vdB's planar, IAF and O-SNF figures are shown beside our rows of the same kind, "
        "whatever their depth.",
        "",
        "## Protocol, and how it differs from the papers'",
        "",
        f"- Data: {protocol['dataset']}, {protocol['num_train_digits']:,} / "
        f"{protocol['num_valid_digits']:,} / {protocol['num_test_digits']:,} digits "
        "(train / validation / test), the fixed binarization of Larochelle & Murray (2011), "
        "as in all three papers.",
        f"- Networks: MLP encoder 784-{'-'.join(map(str, encoder))}, decoder "
        f"{protocol['latent_dim']}-{'-'.join(map(str, decoder))}-784, ReLU; latent "
        f"{protocol['latent_dim']}. R&M used maxout MLPs (400 units), T&W 300-300 MLPs, vdB "
        "gated convolutional networks (stronger: their plain VAE's −ELBO, 86.55, is 3.4 nats "
        "below R&M's diagonal row).",
        f"- Training: Adam (lr {protocol['learning_rate']}"
        f"{_schedule_words(protocol)}{_clip_words(protocol)}), "
        f"batch {protocol['batch_size']}, "
        f"KL warm-up over {protocol['warmup_epochs']} epochs "
        f"({protocol['warmup_epochs'] * 50000 // protocol['batch_size']:,} steps), "
        f"early stopping on the validation ELBO (patience {protocol['patience']} "
        f"epochs) within {protocol['max_epochs']} epochs, seed {protocol['seed']}, one run "
        "per row. R&M trained for 500,000 updates with mini-batches of 100 and the same "
        "warm-up schedule (T = 10,000); the budgets of T&W and vdB are in their papers.",
        f"- Evaluation: our −ELBO and NLL are measured on the test digits; NLL uses "
        f"S = {protocol['iw_samples']:,} importance samples like vdB. R&M and T&W report "
        "only bounds (−ELBO), so compare their columns with our −ELBO column.",
        "- Times (train s, eval s, steps/s) are wall-clock on the machine as it was: a row "
        "trained beside another row or job took longer. Speed is measured in "
        "`benchmarks/vae_speed_benchmark.py`, not here.",
        "- † The row was resumed from a checkpoint written before the timing was "
        "checkpointed: its train s and steps/s count only the epochs trained by the session "
        "that finished it (from `resumed_from_epoch` on; – where that session only evaluated).",
        *_step_model_notes(records, replaced, path.stem + "_replaced.json"),
        "",
        *_baseline_section(records, baseline, protocol),
        *_gap_section(records),
    ]
    path.write_text("\n".join(lines))


def _baseline_section(records, baseline, protocol):
    """Each row beside the same row of `baseline`, and the settings in which they differ."""
    pairs = [(r, b) for r in records for b in baseline if b["flow"] == r["flow"]]
    if not pairs:
        return []
    other = _with_added_keys(pairs[0][1]["protocol"])
    differ = ", ".join(f"{k} {other.get(k)} → {protocol.get(k)}"
                       for k in _protocol_changes(other, protocol)) or "nothing"
    lines = [
        "## Against the baseline protocol",
        "",
        f"The same rows trained under the baseline protocol (it differs in: {differ}); "
        "Δ = this table − baseline, nats (negative: this protocol is better).",
        "",
        "| posterior | −ELBO | baseline | Δ | NLL | baseline | Δ |",
        "|---|---|---|---|---|---|---|",
    ]
    for r, b in pairs:
        lines.append(
            f"| {r['flow']} | {_fmt(r['test_neg_elbo'])} | {_fmt(b['test_neg_elbo'])} | "
            f"{r['test_neg_elbo'] - b['test_neg_elbo']:+.2f} | {_fmt(r['test_nll'])} | "
            f"{_fmt(b['test_nll'])} | {r['test_nll'] - b['test_nll']:+.2f} |")
    earlier = _rows_by_earlier_model(b for r, b in pairs if _old_model(b) and not _old_model(r))
    if earlier:
        lines += ["", "Some baseline rows are also an earlier step model's: " + "; ".join(
            f"{_row_names(rows)}: steps that {words}" for words, rows in earlier.items()) + "."]
    ours = {r["flow"] for r in records}
    missing = [b for b in baseline if b["flow"] not in ours]
    if missing:
        lines += ["", "Not yet trained under this protocol (baseline −ELBO / NLL): " + ", ".join(
            f"{b['flow']} {_fmt(b['test_neg_elbo'])} / {_fmt(b['test_nll'])}"
            for b in missing) + "."]
    return lines + [""]


def _schedule_words(protocol):
    if _with_added_keys(protocol)["learning_rate_schedule"] == "cosine":
        return f", cosine decay to 0 over the {protocol['max_epochs']} epochs"
    return ", constant"


def _clip_words(protocol):
    clip = _with_added_keys(protocol)["gradient_clip_norm"]
    return "" if clip is None else f", gradients clipped to global norm {clip:g}"


def _gap_section(records, window=40):
    """Per row with a R&M figure: how far off, and whether fitting or generalizing limits it."""
    lines = []
    for r in records:
        paper = _published("R&M 2015 −ELBO", r["flow"])
        valid = r.get("val_neg_elbo_curve")
        if paper is None or not valid or len(valid) <= window:
            continue
        recent = min(valid[-window:])
        earlier = min(valid[:-window])
        lines.append(
            f"- {r['flow']}: test −ELBO {r['test_neg_elbo']:.2f} is "
            f"{r['test_neg_elbo'] - paper.neg_elbo:+.2f} nats from R&M's {paper.neg_elbo:.1f}; "
            f"training −ELBO at the best epoch {r['train_neg_elbo_at_best']:.2f} "
            f"({r['test_neg_elbo'] - r['train_neg_elbo_at_best']:.2f} below the test figure); "
            f"the best validation −ELBO of the last {window} epochs is "
            f"{earlier - recent:.2f} nats better than before them.")
    if not lines:
        return []
    return [
        "## Where the budget falls short",
        "",
        "The gap to the paper splits into fitting (training −ELBO) and generalizing (test − "
        "training); a validation curve still falling at the end of the budget means more "
        "epochs would pay (`table2_curves.png`).",
        "",
        *lines,
        "",
    ]


def _step_model_notes(records, replaced=(), replaced_name="table2_replaced.json"):
    """Names the rows trained again, and those still of an earlier step model."""
    lines = []
    if replaced:
        lines.append(
            "- Rows trained again; their earlier runs gave −ELBO / NLL " + ", ".join(
                f"{r['flow']} {_fmt(r['test_neg_elbo'])} / {_fmt(r['test_nll'])}"
                for r in replaced) + f" (`{replaced_name}`), trained with steps that "
            + "; ".join(sorted({_earlier_words(r) for r in replaced})) + ".")
    lines += [f"- {_row_names(rows)}: an earlier step model's, with steps that {words}; "
              "the comparison with today's rows is not controlled."
              for words, rows in _rows_by_earlier_model(r for r in records if _old_model(r)).items()]
    return lines


def _rows_by_earlier_model(records):
    """`{words for the earlier step model: [flows]}`, in the records' order."""
    rows = {}
    for r in records:
        rows.setdefault(_earlier_words(r), []).append(r["flow"])
    return rows


def _row_names(flows):
    return flows[0] if len(flows) == 1 else ", ".join(flows[:-1]) + " and " + flows[-1]


def write_figure(records, path):
    """-ELBO and NLL against the number of planar steps K (diag = K 0), R&M's points."""
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

    points = sorted((0 if r["flow"] == "diag" else int(r["flow"].split("*")[1]), r)
                    for r in records if r["flow"] == "diag" or (
                        r["flow"].startswith("planar*") and "," not in r["flow"]))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    if points:
        ks = [k for k, _ in points]
        ax.plot(ks, [r["test_neg_elbo"] for _, r in points], "o-", label="ours: −ELBO")
        ax.plot(ks, [r["test_nll"] for _, r in points], "s-",
                label=f"ours: NLL (S = {points[0][1]['iw_samples']:,})")
    ax.plot(list(PLANAR_PAPER_POINTS), list(PLANAR_PAPER_POINTS.values()), "k^--",
            label="Rezende & Mohamed 2015: −ELBO")
    ax.set_xlabel("planar steps K (0 = diagonal Gaussian)")
    ax.set_ylabel("nats (lower is better)")
    ax.set_title("Binarized MNIST: planar flow depth")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_curves_figure(records, path):
    """Training and validation -ELBO per epoch for each row (the budget-vs-overfitting view)."""
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, r in enumerate(r for r in records if "val_neg_elbo_curve" in r):
        color = f"C{i % 10}"
        epochs = np.arange(1, len(r["val_neg_elbo_curve"]) + 1)
        ax.plot(epochs, r["train_neg_elbo_curve"], "--", color=color, lw=1)
        ax.plot(epochs, r["val_neg_elbo_curve"], "-", color=color, lw=1.2, label=r["flow"])
    ax.set_ylim(88, 110)
    ax.set_xlabel("epoch (500 steps)")
    ax.set_ylabel("−ELBO, nats (solid: validation, dashed: training)")
    ax.set_title("Binarized MNIST: learning curves per row")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # Records without curves draw none.
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _replaced_path(results):
    return results.with_name(results.stem + "_replaced.json")


def _write_outputs(records, results, protocol, baseline=()):
    _write_json(records, results)
    write_markdown(records, results.with_suffix(".md"), protocol,
                   _load_records(_replaced_path(results)), baseline)
    write_figure(records, results.with_suffix(".png"))
    write_curves_figure(records, results.with_name(results.stem + "_curves.png"))


def _timed_epochs(record):
    """The epochs a record's train_seconds cover (older records: those after the resume)."""
    return record.get("timed_epochs", record["epochs"] - record.get("resumed_from_epoch", 0))


def _train_seconds_cell(record):
    timed = _timed_epochs(record)
    if timed <= 0:
        return "– †"
    return _fmt(record["train_seconds"], 0) + (" †" if timed < record["epochs"] else "")


def _table(records):
    head = (f"{'flow':>12} {'-ELBO':>8} {'NLL':>8} {'epochs':>6} {'train s':>8} "
            f"{'eval s':>7} {'steps/s':>8}")
    rows = [f"{r['flow']:>12} {_fmt(r['test_neg_elbo']):>8} {_fmt(r['test_nll']):>8} "
            f"{r['epochs']:>6} {_fmt(r['train_seconds'], 0):>8} {_fmt(r['eval_seconds'], 0):>7} "
            f"{_fmt(r['steps_per_second'], 1):>8}" for r in records]
    return "\n".join([head] + rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS),
                        help="Comma-separated flow specs (default: every row of ROWS).")
    parser.add_argument("--dataset", default=str(SHARED_DATA) if SHARED_DATA.exists()
                        else "binarized_mnist",
                        help="'binarized_mnist' (keras cache / download) or a path.")
    parser.add_argument("--max_epochs", type=int, default=100, help="Epoch budget per row.")
    parser.add_argument("--patience", type=int, default=20,
                        help="Early stopping: epochs without a better validation ELBO.")
    parser.add_argument("--train_digits", type=int, default=None, help="First N train digits.")
    parser.add_argument("--valid_digits", type=int, default=None, help="First N valid digits.")
    parser.add_argument("--test_digits", type=int, default=None, help="First N test digits.")
    parser.add_argument("--iw_samples", type=int, default=5000,
                        help="Importance samples per test digit for the NLL.")
    parser.add_argument("--iw_chunk_size", type=int, default=100,
                        help="Importance samples per compiled chunk.")
    parser.add_argument("--latent_dim", type=int, default=40)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--learning_rate_schedule", default="cosine",
                        choices=("constant", "cosine"),
                        help="cosine: decayed to 0 over --max_epochs; or constant.")
    parser.add_argument("--gradient_clip_norm", type=float, default=500.0,
                        help="Clip each step's gradient to this global norm (0: no clipping).")
    parser.add_argument("--warmup_epochs", type=float, default=20,
                        help="KL warm-up length in epochs (20 epochs of 500 batches of 100: "
                        "T = 10,000 steps, the paper's).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default=str(RESULTS),
                        help="The JSON list of records; table2.md and table2.png go beside it.")
    parser.add_argument("--work_dir", default=str(WORK_DIR),
                        help="Checkpoints and run outputs, one folder per row.")
    parser.add_argument("--verbose", type=int, default=2, help="Keras verbosity.")
    parser.add_argument("--baseline", default=None,
                        help="Another results JSON whose rows are compared with ours in the "
                        "Markdown table (default: <results>_unclipped.json beside --results, "
                        "the previous protocol's table, when it exists).")
    parser.add_argument("--retrain_old_models", "--retrain_old_planar", action="store_true",
                        help="Train again the rows of an earlier step model (see STEP_MODELS; "
                        "their old records go to <results>_replaced.json).")
    args = parser.parse_args(argv)
    for name in ("max_epochs", "iw_samples", "iw_chunk_size", "latent_dim", "batch_size",
                 "train_digits", "valid_digits", "test_digits"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer; got {value}.")
    if args.patience < 0 or not args.learning_rate > 0:
        parser.error(f"--patience must be >= 0 and --learning_rate > 0; got "
                     f"{args.patience}, {args.learning_rate}.")
    if args.gradient_clip_norm == 0:
        args.gradient_clip_norm = None  # The protocol's value for "not clipped".
    if args.gradient_clip_norm is not None:  # The check TrainConfig makes, before any work.
        try:
            validation.check_positive_float(args.gradient_clip_norm, "gradient_clip_norm")
        except ValueError as e:
            parser.error(str(e))
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    return args


def main(argv=None):
    args = parse_args(argv)
    results = pathlib.Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    work_dir = pathlib.Path(args.work_dir)
    dataset, counts = _dataset(args, work_dir)
    protocol = _protocol(args, counts)
    records = _backfill_curves(_load_records(results), work_dir)
    baseline = _load_records(pathlib.Path(args.baseline) if args.baseline else
                             results.with_name(results.stem + "_unclipped.json"))
    for flow in args.rows:
        done = [r for r in records
                if r["flow"] == flow and _same_protocol(r.get("protocol"), protocol)]
        retrain = args.retrain_old_models and any(_old_model(r) for r in done)
        if done and not retrain:
            print(f"{flow}: done (in {results}); skipped.", flush=True)
            continue
        run_dir = work_dir / _slug(flow)
        if not _claim_row(run_dir):
            print(f"{flow}: being trained by another runner ({_row_lock(run_dir)}); "
                  "skipped.", flush=True)
            continue
        try:
            if args.retrain_old_models:  # Also an interrupted earlier run.
                _set_aside_old_run(run_dir, flow)
            print(f"{flow}: training (checkpoints in {run_dir}).", flush=True)
            record = run_row(flow, args, dataset, protocol, work_dir)
        finally:
            _release_row(run_dir)
        if retrain:
            replaced = _replaced_path(results)
            _write_json(_load_records(replaced) + done, replaced)
        # Read again: another runner on other rows may have written the file meanwhile.
        records = _backfill_curves(_load_records(results), work_dir)
        records = [r for r in records if r["flow"] != flow] + [record]
        order = {f: i for i, f in reversed(list(enumerate(ROWS + tuple(args.rows))))}
        records.sort(key=lambda r: order.get(r["flow"], len(order)))  # The table's order.
        _write_outputs(records, results, protocol, baseline)
        print(json.dumps({k: record[k] for k in ("flow", "test_neg_elbo", "test_nll",
                                                 "epochs", "train_seconds", "eval_seconds")}),
              flush=True)
    records = _backfill_curves(_load_records(results), work_dir)
    _write_outputs(records, results, protocol, baseline)
    print(f"\nTable 2 ({counts['test']:,} test digits, S = {args.iw_samples:,}); "
          f"{results}, {results.with_suffix('.md').name}, {results.with_suffix('.png').name}")
    print(_table(records))
    return records


if __name__ == "__main__":
    main()
