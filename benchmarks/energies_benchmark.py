"""The paper's Figure 3: flow surrogates fitted to the 2D energies U1-U4, by reverse KL.

Sweeps planar and radial flows with K ∈ {2, 8, 32} (and maf*4, iaf*4, realnvp*4 for
comparison), and the later families (`NEW_FAMILY_FLOWS`: Sylvester O/H/T, Householder,
neural spline coupling and IAF) over the four energies with `tfp_nfvi.vi.fit_energy` (annealed
ELBO, chunked XLA loop), and writes beside `--output`:

  * `<output>.json`: one record per (energy, flow): kl_gap = log Z − ELBO = KL(q ‖ p) (exact up
    to the ELBO's Monte Carlo error under the window convention of `tfp_nfvi.targets`), grid KL(p ‖ q),
    total variation, q's mass outside [−4, 4]², ELBO, steps/s and seconds;
  * `<output>.md`: the same as a Markdown table;
  * `<output>.png`: the grid of Figure 3: true densities in the first column, then each flow's
    density from `q.log_prob` on the grid (not a histogram of samples).

    python benchmarks/energies_benchmark.py --output=/tmp/energies.json

Defaults follow `python -m tfp_nfvi.fit2d`. Absolute steps/s depend on machine load; compare
flows within one run. `benchmarks/results/energies_benchmark.*` were written on 2 heavily loaded
CPU cores (load average 6-11) in 47 minutes by

    python benchmarks/energies_benchmark.py --num_steps=5000 --anneal_steps=1000 \
        --elbo_samples=20000 --grid_points=128 --output=benchmarks/results/energies_benchmark.json

and `benchmarks/results/energies_new_families.*` (with planar*8 as the in-run reference) by the
same command with `--flows=planar*8,sylvester_o*8,...` (the `NEW_FAMILY_FLOWS` below) and
`--output=benchmarks/results/energies_new_families.json`. On the command line `--flows` is a
comma-separated list, so write the commas inside one spec as "+": `planar*8+householder*8`.

In 2D a Householder step is a reflection, so `householder*8` alone maps the trainable diagonal
Gaussian base to a full-covariance Gaussian (Tomczak & Welling, 2016): it is the rotation-only
baseline; `planar*8,householder*8` puts the reflections after eight planar steps.
"""

import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top
from absl import app
from absl import flags
import tensorflow as tf

from tfp_nfvi import configs
from tfp_nfvi import targets
from tfp_nfvi import vi
from tfp_nfvi.cli import flags as cli_flags

NEW_FAMILY_FLOWS = ("sylvester_o*8", "sylvester_h*8", "sylvester_t*8", "householder*8",
                    "planar*8,householder*8", "nsf_coupling*4", "nsf_iaf*4")
FLOWS = ("planar*2", "planar*8", "planar*32", "radial*2", "radial*8", "radial*32",
         "maf*4", "iaf*4", "realnvp*4") + NEW_FAMILY_FLOWS

flags.DEFINE_list("energies", list(targets.ENERGY_NAMES), "Energies to fit.")
flags.DEFINE_list("flows", [f.replace(",", "+") for f in FLOWS],
                  'Flow specs to fit; "+" stands for "," inside one spec.')
# --num_steps, --anneal_steps, --batch_size, --learning_rate, --chunk_size, --elbo_samples,
# --grid_points and --seed: the fields of `tfp_nfvi.configs.Fit2DConfig`, with its defaults.
cli_flags.define_flags(configs.Fit2DConfig, exclude=("energy", "flow", "output_dir", "progress"))
flags.DEFINE_string("output", "energies_benchmark.json", "JSON path; .md and .png beside it.")
FLAGS = flags.FLAGS

_COLUMNS = ("energy", "flow", "kl_gap", "grid_kl", "grid_total_variation", "mass_outside_box",
            "elbo", "steps_per_second", "seconds")


def _markdown(records):
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for record in records:
        cells = []
        for column in _COLUMNS:
            value = record.get(column, "")
            cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv):
    del argv
    records, rows = [], []
    for energy in FLAGS.energies:
        row = [(f"{energy} (true)", targets.target_log_prob_fn(energy), tf.float64)]
        for flow in [f.replace("+", ",") for f in FLAGS.flows]:
            begin = time.perf_counter()
            results, q = vi.fit_energy(cli_flags.config_from_flags(
                configs.Fit2DConfig, energy=energy, flow=flow, progress=False))
            results["seconds"] = time.perf_counter() - begin
            records.append(results)
            row.append((f"{flow}: KL {results['kl_gap']:.3f}", q.log_prob, q.dtype))
            print(f"{energy} {flow}: kl_gap {results['kl_gap']:.4f} grid_kl "
                  f"{results['grid_kl']:.4f} steps/s {results['steps_per_second']:.0f} "
                  f"({results['seconds']:.0f} s)", flush=True)
        rows.append(row)
    stem = os.path.splitext(FLAGS.output)[0]
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
    with open(FLAGS.output, "w") as f:
        json.dump(records, f, indent=2)
    table = _markdown(records)
    with open(stem + ".md", "w") as f:
        f.write(table + "\n")
    vi.plot_densities(rows, path=stem + ".png", num_points=FLAGS.grid_points)
    print(table)


if __name__ == "__main__":
    app.run(main)
