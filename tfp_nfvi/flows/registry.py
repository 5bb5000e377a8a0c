"""The step registry: spec name → step class. A new flow kind is one module and one line."""

from tfp_nfvi.flows import iaf
from tfp_nfvi.flows import maf
from tfp_nfvi.flows import planar
from tfp_nfvi.flows import radial
from tfp_nfvi.flows import realnvp

__all__ = ["STEPS"]

STEPS = {
    "planar": planar.PlanarStep,
    "radial": radial.RadialStep,
    "maf": maf.MAFStep,
    "iaf": iaf.IAFStep,
    "realnvp": realnvp.RealNVPStep,
}
