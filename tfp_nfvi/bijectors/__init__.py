"""tfp_nfvi.bijectors: normalizing-flow layers as TFP bijectors.

Planar and radial flows (Rezende & Mohamed, 2015; `PlanarStack` runs K planar flows as one),
Sylvester flows (van den Berg et al., 2018) with their three constructions of Q, and the
Householder flow (Tomczak & Welling, 2016).
"""

from tfp_nfvi.bijectors.householder import Householder
from tfp_nfvi.bijectors.householder import householder_product
from tfp_nfvi.bijectors.orthogonal import orthogonalize_bjorck
from tfp_nfvi.bijectors.orthogonal import orthonormality_error
from tfp_nfvi.bijectors.orthogonal import triangular_q
from tfp_nfvi.bijectors.planar import Planar
from tfp_nfvi.bijectors.planar import planar_constrain
from tfp_nfvi.bijectors.planar_stack import PlanarStack
from tfp_nfvi.bijectors.radial import Radial
from tfp_nfvi.bijectors.radial import radial_constrain
from tfp_nfvi.bijectors.sylvester import Sylvester
from tfp_nfvi.bijectors.sylvester import sylvester_constrain_diagonals

__all__ = [
    "Householder",
    "Planar",
    "PlanarStack",
    "Radial",
    "Sylvester",
    "householder_product",
    "orthogonalize_bjorck",
    "orthonormality_error",
    "planar_constrain",
    "radial_constrain",
    "sylvester_constrain_diagonals",
    "triangular_q",
]
