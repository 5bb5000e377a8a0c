"""tfp_nfvi: normalizing-flow variational inference for TensorFlow Probability.

Subpackages (attributes of `tfp_nfvi` after `import tfp_nfvi`, as `tfp.bijectors` is of
`tensorflow_probability`):
  bijectors: `Planar`, `Radial` as `tfp.bijectors.Bijector` subclasses.
  flows: flow specs, Keras 3 MADE/coupling networks, amortized and global posteriors.
  models: `FlowVAE`, a Keras 3 VAE with a flow posterior.
  targets: the 2D energies U1-U4 of Rezende & Mohamed (2015) and quadrature for log Z.
  data: binarized MNIST loaders and a small embedded set of real digits.
  serving: SavedModel export that loads without this package.
  distribute: running the models under `tf.distribute`.

Importing the package imports the subpackages, which registers every Keras-serializable class
(package "tfp_nfvi"), so `keras.saving.load_model("vae.keras")` works right after
`import tfp_nfvi`. The subpackages are imported eagerly, not lazily: registration needs the
classes defined, and they import Keras, TensorFlow and TFP, which is almost all of the cost
(`python -c "import tfp_nfvi"`: ~4.0 s, of which `import keras` alone is ~3.2 s).

One exception: in a process started as one of the package's own commands
(`python -m tfp_nfvi.<command>`, or a `tfp-nfvi-*` console script) the subpackages load on
first access instead. The command imports TensorFlow itself, after parsing its flags and with
TensorFlow's start-up lines (printed before its log level applies) silenced; eager imports
here would print them first.
"""

import importlib
import os
import sys

# Keras 3 picks its backend at import time; this package is TensorFlow-only, so make
# that the default for users who did not choose (an explicit choice is respected).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tfp_nfvi.version import __version__  # pylint: disable=g-import-not-at-top

_SUBPACKAGES = ("bijectors", "data", "distribute", "flows", "models", "serving", "targets")


def _started_as_own_command():
    """Whether this process runs `python -m tfp_nfvi.<name>` or a `tfp-nfvi-*` script."""
    argv = list(getattr(sys, "orig_argv", ()))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1].startswith(__name__ + "."):
        return True
    return os.path.basename(sys.argv[0] if sys.argv else "").startswith("tfp-nfvi-")


def __getattr__(name):
    """Imports a subpackage on first access (the commands' path; see the module docstring)."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if not _started_as_own_command():
    # pylint: disable=g-import-not-at-top
    from tfp_nfvi import bijectors
    from tfp_nfvi import data
    from tfp_nfvi import distribute
    from tfp_nfvi import flows
    from tfp_nfvi import models
    from tfp_nfvi import serving
    from tfp_nfvi import targets
    # pylint: enable=g-import-not-at-top

__all__ = [
    "__version__",
    "bijectors",
    "data",
    "distribute",
    "flows",
    "models",
    "serving",
    "targets",
]
