"""tfp_nfvi.data: binarized MNIST for Bernoulli-likelihood models.

Quick start (offline, nothing to download):

    from tfp_nfvi import data

    splits = data.load_binarized_mnist("embedded")   # 4000 / 500 / 500 real digits
    splits.train.shape, splits.train.dtype            # (4000, 784), float32, values {0, 1}
    splits.train_labels                               # int32 digits 0..9

Full MNIST (keras's cache `$KERAS_HOME/datasets/mnist.npz` or `~/.keras/...`, downloaded by
`keras.datasets.mnist.load_data` when missing; standard 50k / 10k / 10k split):

    splits = data.load_binarized_mnist("mnist", binarization="dynamic", seed=0)
    train_ds = splits.train_dataset(batch_size=100, seed=0)  # fresh Bernoulli draw per epoch

The standard statically binarized MNIST of Larochelle & Murray (2011), the benchmark of
the flow-VAE papers (official 50k / 10k / 10k splits, unchanged; no labels), from keras's
cache or downloaded once and kept as a compact .npz:

    splits = data.load_binarized_mnist("binarized_mnist")
    splits = data.load_binarized_mnist("binarized_mnist", path="dir/with/amat/files")

or a local file, told apart by content: `load_binarized_mnist("/path/mnist.npz")` (keras's
layout), a binarized MNIST .npz (arrays train / valid / test) or directory of its .amat
files, or `load_binarized_mnist("/path/digits.csv.gz")` (rows of 784 grey levels, label).

Binarization of grey levels g in 0..255, p = g / 255:
  static:  x = 1[p > 0.5] (fixed threshold, the usual convention).
  dynamic: x ~ Bernoulli(p), redrawn every epoch. Not possible for the embedded set, which
           is shipped already statically binarized (bit-packed, `mnist_5k_binarized.npz`,
           made from the shared mnist_5k.csv.gz by `python -m tfp_nfvi.data.embedded`).

Regression data for conditional density estimation p(y | x), as x, y arrays with names:

    d = data.load_uci("energy", data_dir="path/to/uci")   # fish, concrete, energy, skillcraft
    d.x.shape, d.y.shape, d.y_names                      # (768, 8), (768, 2), ('Y1', 'Y2')
    d = data.load_csv("my.csv", targets="col1,col2")

Before training, `validate_bernoulli_data(x, name)` rejects data a Bernoulli likelihood
cannot score (wrong rank or pixel count, NaN/inf, values outside [0, 1], non-binary values
with `binary=True`) with a ValueError naming the argument and what was found.

Public API:
  load_binarized_mnist(source="embedded", validation_size=None, test_size=None,
                       binarization="static", seed=0, path=None) -> MnistSplits
  MnistSplits: train / validation / test (float32 [N, 784] in {0, 1}), *_labels (int32),
               binarization, source, train_intensities, train_dataset(batch_size, seed, shuffle)
  validate_bernoulli_data(x, name="x", *, event_size=784, binary=False) -> float32 array
  binarize_static(intensities, threshold=0.5), binarize_dynamic(intensities, seed),
  dynamic_binarization_dataset(intensities, batch_size, seed=0, shuffle=True)
  load_embedded(path=EMBEDDED_PATH), make_embedded(csv_path, output_path=EMBEDDED_PATH)
  load_uci(name, path=None, data_dir=None), load_csv(path, targets, inputs=None)
      -> TabularData: x, y (float64), x_names, y_names, source, dropped_rows; UCI_DATASETS
"""

from tfp_nfvi.data.binarization import binarize_dynamic
from tfp_nfvi.data.binarization import binarize_static
from tfp_nfvi.data.binarization import dynamic_binarization_dataset
from tfp_nfvi.data.embedded import EMBEDDED_PATH
from tfp_nfvi.data.embedded import load_embedded
from tfp_nfvi.data.embedded import make_embedded
from tfp_nfvi.data.mnist import MnistSplits
from tfp_nfvi.data.mnist import load_binarized_mnist
from tfp_nfvi.data.uci import TabularData
from tfp_nfvi.data.uci import UCI_DATASETS
from tfp_nfvi.data.uci import load_csv
from tfp_nfvi.data.uci import load_uci
from tfp_nfvi.data.validation import validate_bernoulli_data

__all__ = [
    "EMBEDDED_PATH",
    "MnistSplits",
    "TabularData",
    "UCI_DATASETS",
    "binarize_dynamic",
    "binarize_static",
    "dynamic_binarization_dataset",
    "load_binarized_mnist",
    "load_csv",
    "load_embedded",
    "load_uci",
    "make_embedded",
    "validate_bernoulli_data",
]
