"""The standard statically binarized MNIST of Larochelle & Murray (2011).

One fixed stochastic binarization of MNIST (each pixel drawn once, x ~ Bernoulli(g / 255)),
split into 50,000 training, 10,000 validation and 10,000 test digits: the benchmark of
Rezende & Mohamed (2015, Table 2), Tomczak & Welling (2016) and van den Berg et al. (2018).
It has no labels.

Forms it comes in, all read here:

* the public text files `binarized_mnist_{train,valid,test}.amat`: one digit per line, 784
  values 0/1 separated by single spaces (row-major 28 x 28);
* a packed .npz with arrays `train`, `valid`, `test`, each uint8 [N, 98] (784 bits packed 8
  per byte along axis 1, `np.packbits(x, axis=1)`), or the same keys unpacked, [N, 784];
* our compact cache, `<keras home>/datasets/binarized_mnist/binarized_mnist.npz`: the packed
  form (2.3 MB against 110 MB of text), written once after a download.

`load_official` returns the splits only when they are the official ones: every split's
sha256 (of its unpacked uint8 [N, 784] array, C order) must equal `SPLIT_SHA256`. The three
.amat files have the sha256 in `AMAT_SHA256`; `keras.utils.get_file` checks them on download.
"""

import hashlib
import os

import numpy as np

from tfp_nfvi.data import cache
from tfp_nfvi.data.readers import file_format
from tfp_nfvi.data.readers import read_npz
from tfp_nfvi.data.validation import MNIST_EVENT_SIZE

SPLITS = ("train", "valid", "test")
SPLIT_SIZES = {"train": 50_000, "valid": 10_000, "test": 10_000}
AMAT_URL = ("http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
            "binarized_mnist_{split}.amat")
AMAT_FILES = {split: f"binarized_mnist_{split}.amat" for split in SPLITS}
# sha256 of the public .amat files (78,400,000 / 15,680,000 / 15,680,000 bytes).
AMAT_SHA256 = {
    "train": "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d",
    "valid": "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2",
    "test": "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c",
}
# sha256 of each split as a uint8 [N, 784] array of 0/1 (C order): the official content,
# whatever the form it was read from.
SPLIT_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}
CACHE_SUBDIR = "binarized_mnist"
CACHE_FILE = "binarized_mnist.npz"
_PACKED_SIZE = MNIST_EVENT_SIZE // 8  # 98 bytes hold the 784 bits exactly.


def read_amat(path):
    """Reads one .amat file: one digit per line, 784 whitespace-separated values 0 or 1.

    Blank lines are skipped. Returns uint8 [N, 784] with values in {0, 1}.

    Raises:
        ValueError: a line without exactly 784 values (a truncated file ends with one), a
            value other than 0 or 1, or no digits at all; the message names the file and
            the line.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        text = f.read()
    rows = []
    for number, line in enumerate(text.split(b"\n"), start=1):
        tokens = line.split()
        if not tokens:
            continue
        row = b"".join(tokens)
        if len(tokens) != MNIST_EVENT_SIZE or len(row) != MNIST_EVENT_SIZE or (
                row.strip(b"01")):
            bad = [t for t in tokens if t not in (b"0", b"1")][:3]
            raise ValueError(
                f"{path}, line {number}: expected {MNIST_EVENT_SIZE} values 0 or 1 separated "
                f"by spaces (one binarized digit); got {len(tokens)} values"
                f"{', including ' + repr(bad) if bad else ''}. The file is corrupt or "
                f"truncated, or not a binarized MNIST .amat file.")
        rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no digits (an empty or blank .amat file).")
    return np.frombuffer(b"".join(rows), np.uint8).reshape(-1, MNIST_EVENT_SIZE) - ord("0")


def read_amat_dir(directory):
    """Reads `binarized_mnist_{train,valid,test}.amat` from `directory` into a dict."""
    directory = os.fspath(directory)
    missing = [name for name in AMAT_FILES.values()
               if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise FileNotFoundError(
            f"Directory {directory} must hold the binarized MNIST files "
            f"{list(AMAT_FILES.values())}; missing {missing}.")
    return {split: read_amat(os.path.join(directory, name)) for split, name in AMAT_FILES.items()}


def is_binarized_npz(keys):
    """Whether an .npz with these array names is binarized MNIST (train, valid, test)."""
    return set(SPLITS) <= set(keys)


def read_binarized_npz(path):
    """Reads an .npz with arrays train / valid / test, packed [N, 98] or unpacked [N, 784].

    Returns:
        dict split -> uint8 [N, 784] with values in {0, 1}.

    Raises:
        ValueError: a corrupt or truncated file, missing arrays, or arrays of another shape,
            dtype or value range; the message names the file and the array.
    """
    path = os.fspath(path)
    arrays = read_npz(path)
    if not is_binarized_npz(arrays):
        raise ValueError(
            f"{path} is not binarized MNIST: it must hold arrays {list(SPLITS)}; found "
            f"{sorted(arrays)}.")
    splits = {}
    for split in SPLITS:
        a = arrays[split]
        if a.ndim == 2 and a.shape[1] == _PACKED_SIZE and a.dtype == np.uint8:
            a = np.unpackbits(a, axis=1, count=MNIST_EVENT_SIZE)
        elif not (a.ndim == 2 and a.shape[1] == MNIST_EVENT_SIZE and (
                np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)
                or a.dtype == bool) and np.isin(a, (0, 1)).all()):
            raise ValueError(
                f"{path}: array `{split}` must be uint8 [N, {_PACKED_SIZE}] (784 bits packed "
                f"8 per byte) or 0/1 values [N, {MNIST_EVENT_SIZE}]; got dtype {a.dtype} and "
                f"shape {a.shape}.")
        if not len(a):
            raise ValueError(f"{path}: array `{split}` holds no digits (shape {a.shape}).")
        splits[split] = np.ascontiguousarray(a, np.uint8)
    return splits


def write_packed_npz(splits, path):
    """Writes `splits` (split -> 0/1 [N, 784]) as a packed .npz, atomically."""
    path = os.fspath(path)
    temporary = f"{path}.{os.getpid()}.tmp.npz"
    np.savez_compressed(temporary, **{
        split: np.packbits(np.asarray(splits[split], np.uint8), axis=1) for split in SPLITS})
    os.replace(temporary, path)


def check_official(splits, where):
    """Raises ValueError unless `splits` are the official ones (sizes, then sha256)."""
    for split in SPLITS:
        size = len(splits[split])
        if size != SPLIT_SIZES[split]:
            raise ValueError(
                f"{where}: split `{split}` has {size:,} digits; the standard binarized MNIST "
                f"has {SPLIT_SIZES[split]:,}. The data is truncated or not the standard set.")
        digest = hashlib.sha256(np.ascontiguousarray(splits[split], np.uint8)).hexdigest()
        if digest != SPLIT_SHA256[split]:
            raise ValueError(
                f"{where}: split `{split}` differs from the standard binarized MNIST (sha256 "
                f"of its unpacked uint8 array {digest[:16]}..., expected "
                f"{SPLIT_SHA256[split][:16]}...). The file is corrupt or another data set.")


def load_official(path=None):
    """The official splits as a dict split -> uint8 [N, 784] ("train", "valid", "test").

    Args:
        path: None: the compact cache in keras's data set cache if there, else the three
            .amat files from the keras cache or downloaded from `AMAT_URL` (hash-checked by
            `keras.utils.get_file`), converted once to the compact cache (and the text files
            deleted). Or a directory holding the three .amat files, or a .npz (packed or
            unpacked) with arrays train / valid / test.

    Raises:
        ValueError: the data read is not the official set (truncated, corrupt, other data).
        FileNotFoundError: nothing cached and the download failed, or a bad `path`.
    """
    if path is not None:
        path = os.path.expanduser(os.fspath(path))
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"`path` {path!r} does not exist; expected a directory holding "
                f"{list(AMAT_FILES.values())} or an .npz with arrays {list(SPLITS)}.")
        kind = file_format(path)
        if kind == "directory":
            splits = read_amat_dir(path)
        elif kind == "zip":
            splits = read_binarized_npz(path)
        else:
            raise ValueError(
                f"`path` {path!r} must be a directory holding {list(AMAT_FILES.values())} or "
                f"an .npz with arrays {list(SPLITS)}; got a {kind} file.")
        check_official(splits, path)
        return splits

    cached = cache.find_cached(CACHE_SUBDIR, CACHE_FILE)
    if cached is not None:
        splits = read_binarized_npz(cached)
        check_official(splits, f"{cached} (delete it to download the data again)")
        return splits
    files = {split: cache.download(
        name, AMAT_URL.format(split=split), AMAT_SHA256[split], subdir=CACHE_SUBDIR,
        what=f"binarized MNIST ({split})") for split, name in AMAT_FILES.items()}
    splits = {split: read_amat(name) for split, name in files.items()}
    check_official(splits, os.path.dirname(files["train"]))
    write_packed_npz(splits, os.path.join(os.path.dirname(files["train"]), CACHE_FILE))
    for name in files.values():  # The compact cache replaces the 110 MB of text.
        os.remove(name)
    return splits
