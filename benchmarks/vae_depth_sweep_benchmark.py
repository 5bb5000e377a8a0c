r"""Quality of flow posteriors in a VAE: held-out ELBO and importance-sampled NLL vs depth.

Rezende & Mohamed (2015, Fig. 4 and Table 2) report that deeper planar flows give tighter
bounds on binarized MNIST. This sweep trains one `FlowVAE` per flow spec (default: diag,
planar*2, planar*8, planar*16, planar*32, radial*16, iaf*2) with `tfp_nfvi.training.train`: the
same data, seed, network sizes and budget (`--epochs` of `--max_train_examples` digits), and
tabulates the test ELBO and −log p(x) estimated with `--iw_samples` importance samples.

    python benchmarks/vae_depth_sweep_benchmark.py --output=/tmp/vae_depth_sweep.json
    python benchmarks/vae_depth_sweep_benchmark.py --dataset=mnist --epochs=50   # closer to the paper

With a short budget the deeper flows are also the less trained ones (more parameters per
step, the same number of steps), so the paper's ordering need not appear; the table says
what was measured.
"""

import json
import os
import tempfile

from absl import app
from absl import flags

from tfp_nfvi import configs
from tfp_nfvi import training
from tfp_nfvi.cli import flags as cli_flags

FLAGS = flags.FLAGS
flags.DEFINE_list("flows", ["diag", "planar*2", "planar*8", "planar*16", "planar*32",
                            "radial*16", "iaf*2"], "Flow specs to compare.")
# Every other setting (--dataset, --epochs, --max_train_examples, --latent_dim, --iw_samples,
# --seed, ...) is a field of `tfp_nfvi.configs.TrainConfig`, with its default.
cli_flags.define_flags(configs.TrainConfig,
                       exclude=("flow", "output_dir", "patience", "verbose", "resume"))
flags.DEFINE_string("work_dir", None, "Where the runs go (default: a temporary directory).")
flags.DEFINE_string("output", "vae_depth_sweep_benchmark.json", "Where to write the JSON.")


def main(argv):
    del argv
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="vae_depth_sweep_")
    rows = []
    for flow in FLAGS.flows:
        result = training.train(cli_flags.config_from_flags(
            configs.TrainConfig, flow=flow, patience=0, verbose=0,
            output_dir=os.path.join(work_dir, flow.replace("*", "x").replace(",", "_"))))
        result.pop("history", None)
        rows.append(result)
        print(json.dumps({k: result[k] for k in ("flow", "test_elbo", "test_nll")}), flush=True)
    with open(FLAGS.output, "w") as f:
        json.dump(dict(dataset=FLAGS.dataset, epochs=FLAGS.epochs, seed=FLAGS.seed,
                       iw_samples=FLAGS.iw_samples, rows=rows), f, indent=2)
    print(f"\nFlowVAE depth sweep: {FLAGS.dataset}, {FLAGS.epochs} epochs, seed {FLAGS.seed}, "
          f"latent {FLAGS.latent_dim}, NLL with {FLAGS.iw_samples} importance samples")
    print(f"{'flow':>12} {'test ELBO':>10} {'test NLL':>9} {'gap':>6} {'params':>9} {'s/epoch':>8}")
    for r in rows:
        print(f"{r['flow']:>12} {r['test_elbo']:>10.2f} {r['test_nll']:>9.2f} "
              f"{-r['test_elbo'] - r['test_nll']:>6.2f} {r['num_parameters']:>9} "
              f"{r['seconds_per_epoch']:>8.2f}")


if __name__ == "__main__":
    app.run(main)
