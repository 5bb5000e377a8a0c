"""Tests for tfp_nfvi.cli.flags: absl flags generated from a config dataclass."""

from absl import flags
import pytest

from tfp_nfvi import configs
from tfp_nfvi.cli import flags as cli_flags


def _parse(config_cls, *argv, **kwargs):
    flag_values = flags.FlagValues()
    cli_flags.define_flags(config_cls, flag_values, **kwargs)
    flag_values(["prog", *argv])
    return flag_values


def test_flags_carry_the_config_defaults_and_round_trip():
    flag_values = _parse(configs.TrainConfig)
    assert cli_flags.config_from_flags(configs.TrainConfig, flag_values) == configs.TrainConfig()
    flag_values = _parse(configs.TrainConfig, "--flow=radial*8", "--nojit_compile",
                         "--max_train_examples=64", "--warmup_epochs=0", "--strategy=mirrored")
    config = cli_flags.config_from_flags(configs.TrainConfig, flag_values, epochs=3)
    assert config == configs.TrainConfig(flow="radial*8", jit_compile=False,
                                         max_train_examples=64, warmup_epochs=0.0,
                                         strategy="mirrored", epochs=3)
    assert flag_values["flow"].help == "Posterior flow spec, e.g. planar*16, radial*8, iaf*2, diag."


def test_bad_values_are_refused_while_parsing():
    for argv, message in ((["--learning_rate=-1"], "`learning_rate` must be a positive"),
                          (["--energy=U9"], "U9"), (["--grid_points=1"], "`grid_points`")):
        config_cls = configs.Fit2DConfig if "U9" in argv[0] or "grid" in argv[0] else (
            configs.TrainConfig)
        with pytest.raises(flags.IllegalFlagValueError, match=message):
            _parse(config_cls, *argv)


def test_define_is_idempotent_and_exclude_leaves_fields_out():
    flag_values = flags.FlagValues()
    cli_flags.define_flags(configs.Fit2DConfig, flag_values)
    names = cli_flags.define_flags(configs.Fit2DConfig, flag_values)  # No duplicate error.
    assert "energy" in names
    flag_values = _parse(configs.TrainConfig, exclude=("flow", "output_dir"))
    assert "flow" not in flag_values and "epochs" in flag_values
    config = cli_flags.config_from_flags(configs.TrainConfig, flag_values, flow="diag")
    assert config.flow == "diag" and config.output_dir == configs.TrainConfig().output_dir
