r"""Fits a flow surrogate to one of the paper's 2D energies (Rezende & Mohamed 2015, Figure 3).

    python -m tfp_nfvi.fit2d --energy=U1 --flow=planar*32 --output_dir=DIR   # or: tfp-nfvi-fit2d

maximizes the annealed ELBO of the global flow surrogate for the energy and writes
DIR/results.json (ELBO, log Z by quadrature, KL(q ‖ p) = log Z − ELBO, grid divergences, speed)
and DIR/density.png; see `tfp_nfvi.vi.fit_energy`. The flags are the fields of
`tfp_nfvi.configs.Fit2DConfig`. The run is quiet by default; --verbosity=0 shows TensorFlow's
INFO logs.
"""

from tfp_nfvi.cli import command
from tfp_nfvi.configs import Fit2DConfig


def main(argv=None):
    """The command (`python -m tfp_nfvi.fit2d`, console script `tfp-nfvi-fit2d`)."""
    command.run_command(Fit2DConfig, "tfp_nfvi.vi:fit_energy", argv, required=("output_dir",))


if __name__ == "__main__":
    main()
