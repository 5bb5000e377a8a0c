"""`load_binarized_mnist`: binarized MNIST as train / validation / test splits.

Sources:

* `"embedded"`: the 5,000 real digits shipped in the package (offline, static only);
  default split 4,000 / 500 / 500.
* `"mnist"`: full MNIST through keras's cache (`$KERAS_HOME/datasets/mnist.npz`, else
  `~/.keras/datasets/mnist.npz`), downloading with `keras.datasets.mnist.load_data` if the
  file is missing; the standard 50,000 / 10,000 / 10,000 split (validation = the last 10,000
  training digits, test = MNIST's official test set).
* `"binarized_mnist"`: the standard statically binarized MNIST of Larochelle & Murray
  (2011), 50,000 / 10,000 / 10,000 digits, the official splits unchanged (no labels). Read
  from keras's cache or downloaded once (`binarized_mnist.load_official`), or from `path`:
  a directory of the three `.amat` files or the packed `.npz`.
* a path, its format told by its content (not its name): an `.npz` in keras's mnist layout
  (`x_train`, `y_train`, `x_test`, `y_test`; split like `"mnist"`); an `.npz` with arrays
  `train`, `valid`, `test` (binarized MNIST, packed [N, 98] or unpacked [N, 784]; its splits
  as they are); a directory holding `binarized_mnist_{train,valid,test}.amat`; or a CSV
  (optionally gzipped) of rows "784 grey levels, label". A corrupt or truncated file gets an
  error that says so and names it.

Sources without an official test set (the embedded set, CSV files) are split
deterministically, without a random number generator: the rows are interleaved by class
(first digit of each class, then the second of each class, ...; file order within a class),
then the last `test_size` rows are the test set, the `validation_size` rows before them the
validation set and the rest the training set. Splits are disjoint and class-balanced when
the classes are.
"""

import dataclasses
import os
import pathlib
from typing import Optional

import numpy as np
import tensorflow as tf

from tfp_nfvi.data import binarized_mnist
from tfp_nfvi.data import cache
from tfp_nfvi.data.binarization import binarize_dynamic
from tfp_nfvi.data.binarization import binarize_static
from tfp_nfvi.data.binarization import dynamic_binarization_dataset
from tfp_nfvi.data.binarization import shuffled_batches
from tfp_nfvi.data.binarization import to_intensities
from tfp_nfvi.data.embedded import load_embedded
from tfp_nfvi.data.readers import check_labels
from tfp_nfvi.data.readers import check_pixels
from tfp_nfvi.data.readers import file_format
from tfp_nfvi.data.readers import read_mnist_csv
from tfp_nfvi.data.readers import read_mnist_npz
from tfp_nfvi.data.validation import validate_bernoulli_data

SOURCES = ("embedded", "mnist", "binarized_mnist")
BINARIZATIONS = ("static", "dynamic")
_VALID_SOURCES = (
    "'embedded', 'mnist', 'binarized_mnist', or a path to an existing .npz file (keras's "
    "mnist layout, or binarized MNIST's train/valid/test), CSV file (.csv or .csv.gz) or "
    "directory of binarized MNIST .amat files")


@dataclasses.dataclass(frozen=True, eq=False)  # Arrays have no single truth value.
class MnistSplits:
    """Binarized MNIST splits.

    Attributes:
        train, validation, test: float32 [N, 784] arrays with values in {0, 1}.
        train_labels, validation_labels, test_labels: int32 [N] digits 0..9; None for
            binarized MNIST ("binarized_mnist", its .npz or .amat files), which has no labels.
        binarization: "static" or "dynamic".
        source: the source that was loaded ("embedded", "mnist" or the file path).
        train_intensities: float32 [N, 784] grey levels / 255 of the training digits when
            `binarization="dynamic"` (for redrawing every epoch), else None.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_labels: Optional[np.ndarray]
    validation_labels: Optional[np.ndarray]
    test_labels: Optional[np.ndarray]
    binarization: str
    source: str
    train_intensities: Optional[np.ndarray] = None

    def train_dataset(self, batch_size, seed=0, shuffle=True):
        """The training digits as a batched `tf.data.Dataset` of float32 [batch, 784].

        With dynamic binarization every epoch draws fresh x ~ Bernoulli(p)
        (`dynamic_binarization_dataset`); with static binarization the fixed binary images
        are (re)shuffled every epoch if `shuffle`. Deterministic given `seed`.
        """
        if self.train_intensities is not None:
            return dynamic_binarization_dataset(self.train_intensities, batch_size, seed, shuffle)
        return shuffled_batches(self.train, batch_size, seed, shuffle).prefetch(tf.data.AUTOTUNE)


def load_binarized_mnist(source="embedded", validation_size=None, test_size=None,
                         binarization="static", seed=0, path=None):
    """Loads binarized MNIST as disjoint train / validation / test splits.

    Example:

        from tfp_nfvi import data
        splits = data.load_binarized_mnist("embedded")        # offline, 4000/500/500
        splits.train.shape                                     # (4000, 784), float32 {0,1}
        splits = data.load_binarized_mnist("binarized_mnist")  # the standard 50k/10k/10k

    Args:
        source: "embedded", "mnist", "binarized_mnist", or a path (an `.npz`, a CSV or a
            directory of `.amat` files; see the module docstring).
        validation_size: number of validation digits, taken from the end of the training
            pool. Default: a sixth of `x_train` for "mnist"/.npz (10,000 for MNIST), a tenth
            of the rows for "embedded"/CSV (500 for the embedded set).
        test_size: number of test digits for sources without an official test set
            ("embedded", CSV). Default: a tenth of the rows. Must be None for "mnist"/.npz.
        binarization: "static" (x = 1[g/255 > 0.5]) or "dynamic" (x ~ Bernoulli(g/255); the
            returned arrays are one draw from `seed`, and `train_intensities` allows fresh
            draws per epoch). "dynamic" is impossible for "embedded" (stored binary).
        seed: seed of the dynamic draws (train, validation and test use independent
            streams spawned from it). Unused by static binarization and by the split.
        path: for source="binarized_mnist" only: a directory holding the three `.amat`
            files or the packed `.npz`, checked to be the official splits (sha256); None
            reads keras's cache or downloads.

    Returns:
        `MnistSplits`.

    Raises:
        ValueError: unknown source or binarization, sizes that do not fit, malformed files,
            dynamic binarization of the embedded set.
        FileNotFoundError: source="mnist" or "binarized_mnist" with no cached file and no
            way to download it.
    """
    if binarization not in BINARIZATIONS:
        raise ValueError(
            f"`binarization` must be one of {BINARIZATIONS}; got {binarization!r}.")
    if path is not None and source != "binarized_mnist":
        raise ValueError(
            f"`path` is only for source='binarized_mnist'; got source={source!r}, "
            f"path={path!r}. Pass a file or directory as `source` instead.")
    name, kind = _resolve_source(source)
    if kind in ("binarized_mnist", "binarized_npz", "amat_dir"):
        return _load_binarized(name, kind, path, validation_size, test_size, binarization)
    if kind == "embedded" and binarization == "dynamic":
        raise ValueError(
            "`binarization='dynamic'` is not possible with source='embedded': the embedded "
            "digits are stored already binarized (static threshold 0.5), so their grey "
            "levels are gone. Use binarization='static', or source='mnist' or a file path.")

    if kind in ("embedded", "csv"):
        if kind == "embedded":
            images, labels = load_embedded()  # Already binary: "intensities" in {0, 1}.
        else:
            pixels, labels = read_mnist_csv(name)
            images = to_intensities(pixels)
        order = _interleave_classes(labels)
        images, labels = images[order], labels[order]
        num = len(labels)
        test_size = num // 10 if test_size is None else test_size
        validation_size = num // 10 if validation_size is None else validation_size
        _check_size("test_size", test_size, num - 1)
        _check_size("validation_size", validation_size, num - 1 - test_size)
        end = num - test_size
        pools = (images[:end], labels[:end]), (images[end:], labels[end:])
    else:
        if test_size is not None:
            raise ValueError(
                f"`test_size` must be None for source={source!r}, which has an official test "
                f"set; got test_size={test_size!r}.")
        (x_train, y_train), (x_test, y_test) = (
            read_mnist_npz(name) if kind == "npz" else _load_keras_mnist())
        pools = (to_intensities(x_train), y_train), (to_intensities(x_test), y_test)
        validation_size = len(y_train) // 6 if validation_size is None else validation_size
        _check_size("validation_size", validation_size, len(y_train) - 1)

    (pool, pool_labels), (test, test_labels) = pools
    end = len(pool_labels) - validation_size
    parts = [pool[:end], pool[end:], test]
    streams = np.random.SeedSequence(seed).spawn(3)
    binary = []
    for part, stream, split in zip(parts, streams, ("train", "validation", "test")):
        if not len(part):  # An empty split (size 0) stays empty.
            binary.append(np.zeros((0, part.shape[1]), np.float32))
            continue
        x = binarize_static(part) if binarization == "static" else binarize_dynamic(part, stream)
        binary.append(validate_bernoulli_data(x, split, binary=True))
    return MnistSplits(
        train=binary[0], validation=binary[1], test=binary[2],
        train_labels=pool_labels[:end], validation_labels=pool_labels[end:],
        test_labels=test_labels, binarization=binarization, source=name,
        train_intensities=parts[0] if binarization == "dynamic" else None)


def _load_binarized(name, kind, path, validation_size, test_size, binarization):
    """The splits of binarized MNIST exactly as stored (see `binarized_mnist`)."""
    for arg, value in (("validation_size", validation_size), ("test_size", test_size)):
        if value is not None:
            raise ValueError(
                f"`{arg}` must be None for source={name!r}: binarized MNIST has official "
                f"train / valid / test splits, used unchanged; got {arg}={value!r}.")
    if binarization != "static":
        raise ValueError(
            f"`binarization` must be 'static' for source={name!r}: binarized MNIST is stored "
            f"as one fixed binarization (no grey levels to redraw from); got {binarization!r}.")
    if kind == "binarized_mnist":
        splits = binarized_mnist.load_official(path)
    elif kind == "binarized_npz":
        splits = binarized_mnist.read_binarized_npz(name)
    else:
        splits = binarized_mnist.read_amat_dir(name)
    train, validation, test = (
        validate_bernoulli_data(splits[split], split, binary=True)
        for split in binarized_mnist.SPLITS)
    return MnistSplits(
        train=train, validation=validation, test=test, train_labels=None,
        validation_labels=None, test_labels=None, binarization="static", source=name)


def _resolve_source(source):
    """Returns (name, kind), kind one of "embedded", "mnist", "binarized_mnist" (names),
    "npz" (keras's mnist layout), "binarized_npz", "amat_dir" or "csv" (told by content)."""
    if isinstance(source, str) and source in SOURCES:
        return source, source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"`source` must be {_VALID_SOURCES}; got {type(source).__name__} {source!r}.")
    path = pathlib.Path(source).expanduser()
    if not path.exists():
        if isinstance(source, str) and os.sep not in source and not path.suffix:
            raise ValueError(f"`source` must be {_VALID_SOURCES}; got {source!r}.")
        raise FileNotFoundError(
            f"`source` file {str(path)!r} does not exist; `source` must be {_VALID_SOURCES}.")
    name, kind = str(path), file_format(path)
    if kind == "directory":
        return name, "amat_dir"
    if kind == "zip":
        return name, "binarized_npz" if _npz_is_binarized(name) else "npz"
    return name, "csv"  # Text or gzip; the CSV reader says what is wrong with it.


def _npz_is_binarized(path):
    """Whether the .npz at `path` holds binarized MNIST's arrays (train, valid, test)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return binarized_mnist.is_binarized_npz(f.files)
    except Exception:  # pylint: disable=broad-except  (the reader reports a corrupt file)
        return False


def _interleave_classes(labels):
    """Stable order: the k-th digit of each class (class order) before the (k+1)-th."""
    rank = np.empty(len(labels), dtype=np.int64)
    for digit in np.unique(labels):
        members = np.flatnonzero(labels == digit)
        rank[members] = np.arange(len(members))
    return np.lexsort((labels, rank))


def _check_size(name, value, maximum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not (
            0 <= value <= maximum):
        raise ValueError(
            f"`{name}` must be an int in [0, {maximum}] (at least one training digit must "
            f"remain); got {value!r}.")


def _keras_mnist_candidates():
    return cache.cached_paths("mnist.npz")


def _load_keras_mnist():
    """Full MNIST from keras's cache, or via `keras.datasets.mnist.load_data` (download).

    A cached file is read directly (no hash check), so a local copy works offline even when
    keras would consider it outdated and try to download a new one.
    """
    candidates = _keras_mnist_candidates()
    for candidate in candidates:
        if os.path.isfile(candidate):
            return read_mnist_npz(candidate)
    import keras  # pylint: disable=g-import-not-at-top

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:  # pylint: disable=broad-except  (keras raises bare Exception)
        raise FileNotFoundError(
            f"source='mnist' needs MNIST: no cached file at {candidates} and "
            f"keras.datasets.mnist.load_data() could not download it ({type(e).__name__}: "
            f"{e}). Put keras's mnist.npz (https://storage.googleapis.com/tensorflow/"
            f"tf-keras-datasets/mnist.npz) at {candidates[0]}, or pass its path as "
            f"`source`, or use source='embedded' offline.") from e
    x_train, x_test = check_pixels(x_train, "x_train"), check_pixels(x_test, "x_test")
    return ((x_train, check_labels(y_train, len(x_train), "y_train")),
            (x_test, check_labels(y_test, len(x_test), "y_test")))
