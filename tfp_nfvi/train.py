r"""Trains a `FlowVAE` on binarized MNIST: the package's main job.

    python -m tfp_nfvi.train --output_dir=runs/quickstart            # or: tfp-nfvi-train ...
    python -m tfp_nfvi.train --flow=planar*32 --dataset=mnist --epochs=100 --output_dir=runs/p32
    python -m tfp_nfvi.train --output_dir=runs/p32 --epochs=200 --resume   # continue a run

With no flags it trains a planar*16 flow VAE briefly on the embedded digits and writes
checkpoints, TensorBoard logs, results.json, samples.png and a SavedModel to --output_dir
(see `tfp_nfvi.training.train`). The flags are the fields of `tfp_nfvi.configs.TrainConfig`;
--resume continues exactly where a run stopped (also after a crash) and refuses a checkpoint
written with another flow, latent size or training setting. The run is quiet by default;
--verbosity=0 shows TensorFlow's INFO logs.
"""

from tfp_nfvi.cli import command
from tfp_nfvi.configs import TrainConfig


def main(argv=None):
    """The command (`python -m tfp_nfvi.train`, console script `tfp-nfvi-train`)."""
    command.run_command(TrainConfig, "tfp_nfvi.training:train", argv)


if __name__ == "__main__":
    main()
