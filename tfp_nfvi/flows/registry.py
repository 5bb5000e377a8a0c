"""The step registry: spec name → step class. A new flow kind is one module and one line.

The order matters once: an amortized flow's parameter head lays out its parameterized steps
kind by kind in this order (planar before radial, as files saved by v0.1 expect).
"""

from tfp_nfvi.flows import householder
from tfp_nfvi.flows import iaf
from tfp_nfvi.flows import maf
from tfp_nfvi.flows import nsf_coupling
from tfp_nfvi.flows import nsf_iaf
from tfp_nfvi.flows import planar
from tfp_nfvi.flows import radial
from tfp_nfvi.flows import realnvp
from tfp_nfvi.flows import sylvester

__all__ = ["STEPS"]

STEPS = {
    "planar": planar.PlanarStep,
    "radial": radial.RadialStep,
    "maf": maf.MAFStep,
    "iaf": iaf.IAFStep,
    "realnvp": realnvp.RealNVPStep,
    "sylvester_o": sylvester.SylvesterOrthogonalStep,
    "sylvester_h": sylvester.SylvesterHouseholderStep,
    "sylvester_t": sylvester.SylvesterTriangularStep,
    "householder": householder.HouseholderStep,
    "nsf_coupling": nsf_coupling.SplineCouplingStep,
    "nsf_iaf": nsf_iaf.SplineIAFStep,
}
