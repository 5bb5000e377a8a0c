"""tfp_nfvi.serving: SavedModel export whose signatures run without tfp_nfvi or TFP."""

from tfp_nfvi.serving.conditional import export_conditional_saved_model
from tfp_nfvi.serving.saved_model import export_saved_model
from tfp_nfvi.serving.saved_model import export_surrogate_saved_model
from tfp_nfvi.serving.requests import SEED_DEFAULT
from tfp_nfvi.serving.requests import stateless_seed

__all__ = [
    "SEED_DEFAULT",
    "export_conditional_saved_model",
    "export_saved_model",
    "export_surrogate_saved_model",
    "stateless_seed",
]
