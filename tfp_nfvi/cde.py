r"""Conditional density estimation p(y | x) with a normalizing flow on tabular data.

    python -m tfp_nfvi.cde --dataset=concrete --data_dir=path/to/uci --output_dir=runs/concrete
    python -m tfp_nfvi.cde --dataset=energy --flow=nsf_coupling*4 --repeats=5 --output_dir=DIR
    python -m tfp_nfvi.cde --dataset=my.csv --targets=col1,col2 --output_dir=DIR

trains a `tfp_nfvi.models.ConditionalFlow` on `--repeats` random 70/30 train/test splits (early
stopping on a validation part of the training split, data standardized with training
statistics) and writes results.json (mean ± std test NLL per data point in standardized and
original units), density.png, checkpoints/ and a SavedModel to --output_dir; see
`tfp_nfvi.training.run_cde`. The flags are the fields of `tfp_nfvi.configs.CDEConfig`.
"""

from tfp_nfvi.cli import command
from tfp_nfvi.configs import CDEConfig


def main(argv=None):
    """The command (`python -m tfp_nfvi.cde`, console script `tfp-nfvi-cde`)."""
    command.run_command(CDEConfig, "tfp_nfvi.training:run_cde", argv, required=("output_dir",))


if __name__ == "__main__":
    main()
