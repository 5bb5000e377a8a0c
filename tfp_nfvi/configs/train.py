"""`TrainConfig`: every setting of the FlowVAE training job (`python -m tfp_nfvi.train`).

One frozen dataclass is the single source of each default, help line and check: the command's
flags are generated from it (`tfp_nfvi.cli.flags`), and `tfp_nfvi.training.train(config)` runs
it, so a benchmark or a notebook builds a config and calls the library:

    from tfp_nfvi import configs, training
    results = training.train(configs.TrainConfig(flow="radial*8", epochs=5, output_dir="/tmp/r8"))
"""

import dataclasses
from typing import ClassVar, Optional

from tfp_nfvi.configs import fields

__all__ = ["PRECISIONS", "STRATEGIES", "TrainConfig"]

# The names `tfp_nfvi.distribute.make_strategy` accepts (this module imports no TensorFlow, so
# that the command can set TensorFlow's log level first; tests check the two lists agree).
STRATEGIES = ("default", "mirrored", "multi_worker")
# `tfp_nfvi.models.flow_vae.PRECISIONS`, restated for the same reason.
PRECISIONS = ("float32", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one FlowVAE training run; see `tfp_nfvi.training.train`."""

    flow: str = fields.option(
        "planar*16", "Posterior flow spec, e.g. planar*16, radial*8, iaf*2, diag.",
        fields.check_nonempty_str)
    latent_dim: int = fields.option(40, "Size of the latent z.", fields.check_positive_int)
    epochs: int = fields.option(
        30, "Number of training epochs (total, including resumed ones).",
        fields.check_positive_int)
    batch_size: int = fields.option(128, "Training batch size.", fields.check_positive_int)
    learning_rate: float = fields.option(
        1e-3, "Adam learning rate.", fields.check_positive_float)
    learning_rate_schedule: str = fields.option(
        "constant", "constant: --learning_rate throughout; cosine: from --learning_rate down "
        "to 0 over the --epochs budget (lr_t = lr (1 + cos(pi t / T)) / 2, T = epochs x steps "
        "per epoch), which removes the parameter noise of the last epochs.",
        choices=("constant", "cosine"))
    gradient_clip_norm: Optional[float] = fields.option(
        None, "Rescale each step's gradient to this global norm (over all variables) when it "
        "is larger, before Adam (Keras's `global_clipnorm`); default: no clipping. Deep planar "
        "flows can take rare gradient spikes of 100-10,000x the typical norm. Under a "
        "multi-replica --strategy Keras clips each replica's share before they are summed.",
        fields.check_positive_float)
    warmup_epochs: float = fields.option(
        15.0, "KL warm-up length in epochs: beta_t = min(1, 0.01 + t/T), T = warmup_epochs x "
        "steps per epoch optimizer steps; 0: no warm-up.", fields.check_non_negative_float)
    dataset: str = fields.option(
        "embedded", "'embedded' (shipped digits), 'mnist' or a file path.",
        fields.check_nonempty_str)
    binarization: str = fields.option(
        "static", "static: fixed threshold; dynamic: training digits redrawn x ~ Bernoulli(grey "
        "level) every epoch (needs grey levels: not the embedded digits).",
        choices=("static", "dynamic"))
    output_dir: str = fields.option(
        "runs/flow_vae", "Where checkpoints, logs and results go.", fields.check_nonempty_str)
    export_dir: Optional[str] = fields.option(
        None, "Where the SavedModel goes; default <output_dir>/saved_model.",
        fields.check_nonempty_str)
    jit_compile: bool = fields.option(True, "Compile train/eval steps with XLA.", fields.check_bool)
    iw_samples: int = fields.option(
        1000, "Importance samples per test digit for test_nll.", fields.check_positive_int)
    iw_chunk_size: int = fields.option(
        100, "Importance samples per compiled chunk.", fields.check_positive_int)
    seed: int = fields.option(
        0, "Seed of initialization, data order and posterior samples.",
        fields.check_non_negative_int)
    resume: bool = fields.option(
        False, "Continue from the latest checkpoint in --output_dir.", fields.check_bool)
    patience: int = fields.option(
        10, "Early stopping: epochs without a better validation ELBO (0: never stop early).",
        fields.check_non_negative_int)
    steps_per_execution: int = fields.option(
        8, "Training steps per compiled call.", fields.check_positive_int)
    num_samples: int = fields.option(
        1, "Posterior samples per example in the training bound.", fields.check_positive_int)
    max_train_examples: Optional[int] = fields.option(
        None, "Use only the first N training digits.", fields.check_positive_int)
    verbose: int = fields.option(
        1, "Keras progress output: 0 none, 1 progress bar, 2 one line per epoch.",
        choices=(0, 1, 2))
    precision: str = fields.option(
        "float32", "float32, or mixed_bfloat16: encoder/decoder matrix products in bfloat16 "
        "(float32 weights; the flow, log-dets and ELBO stay float32). Pays on CPUs with "
        "AMX/AVX512-BF16 without XLA (--jit_compile=false) and on GPUs; see FlowVAE.",
        choices=PRECISIONS)
    strategy: str = fields.option(
        "default", "tf.distribute strategy: default (one device), mirrored (all GPUs of this "
        "host), multi_worker (one process per host, each with its TF_CONFIG). --batch_size is "
        "global.", choices=STRATEGIES)

    # Settings that decide the model or its training trajectory: `--resume` refuses a run whose
    # checkpoint was written with other values (the others may change between sessions).
    RESUME_FIXED: ClassVar[tuple] = (
        "flow", "latent_dim", "batch_size", "learning_rate", "learning_rate_schedule",
        "gradient_clip_norm", "warmup_epochs", "dataset", "binarization", "seed", "num_samples",
        "max_train_examples", "precision")

    @property
    def resume_fixed(self):
        """`RESUME_FIXED`, and `epochs` when the learning rate's schedule spans the budget."""
        return self.RESUME_FIXED + (("epochs",) if self.learning_rate_schedule == "cosine" else ())

    def __post_init__(self):
        fields.validate(self)
