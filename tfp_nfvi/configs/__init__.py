"""tfp_nfvi.configs: the settings of the package's commands, one frozen dataclass each.

Each field carries its default, its help line and its check (`fields.option`); the commands
generate their absl flags from these classes (`tfp_nfvi.cli.flags`), and the library functions
take them, so a default is written once. Importing this package imports no TensorFlow.

  TrainConfig: `python -m tfp_nfvi.train`, run by `tfp_nfvi.training.train(config)`.
  CDEConfig: `python -m tfp_nfvi.cde`, run by `tfp_nfvi.training.run_cde(config)`.
  Fit2DConfig: `python -m tfp_nfvi.fit2d`, run by `tfp_nfvi.vi.fit_energy(config)`.
"""

from tfp_nfvi.configs.cde import CDEConfig
from tfp_nfvi.configs.fit2d import Fit2DConfig
from tfp_nfvi.configs.train import TrainConfig

__all__ = ["CDEConfig", "Fit2DConfig", "TrainConfig"]
