"""Readers for raw MNIST files: keras's mnist.npz layout and the CSV layout.

Both return 8-bit grey levels, never binarized data: binarization is a separate step
(`binarization.py`). Every reader checks what it read (784 pixels, integer grey levels in
0..255, labels in 0..9) and says which file and which array is wrong.

Also the file-level helpers every data reader shares: `file_format` tells a file's format
from its first bytes (not its name), and `read_npz` reads every array of an .npz and turns
the errors of a corrupt or truncated archive into one that says so and names the file.
"""

import gzip
import os
import zipfile
import zlib

import numpy as np

from tfp_nfvi.data.validation import MNIST_EVENT_SIZE

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # A local file header; an empty archive.
_GZIP_MAGIC = b"\x1f\x8b"
# What NumPy and zipfile raise on a damaged archive: a bad central directory (BadZipFile), a
# short member (EOFError), a damaged deflate stream (zlib.error), a bad .npy header (ValueError).
_NPZ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, ValueError, OSError)


def file_format(path):
    """The format of `path` told by its content: "directory", "zip", "gzip" or "text".

    "zip" is an .npz (NumPy's archive), "gzip" a compressed text file; "text" is anything
    whose first 4 KiB decode as UTF-8 without control characters other than whitespace.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: none of these (binary data: a corrupt file, or one of another kind).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return "directory"
    with open(path, "rb") as f:
        head = f.read(4096)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at 4096 bytes is still text.
        try:
            text = head[:-3].decode("utf-8") if len(head) == 4096 else None
        except UnicodeDecodeError:
            text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return "text"
    hint = " (its name says .npz, but it is not a zip archive)" if path.endswith(".npz") else ""
    raise ValueError(
        f"{path} is not a data file this package reads{hint}: it is neither an .npz (zip) "
        f"archive, a gzip file nor text. It may be corrupt or truncated; its first bytes are "
        f"{head[:16]!r}.")


def read_npz(path):
    """Reads every array of the .npz at `path` into a dict (no pickled objects).

    Raises:
        ValueError: the file is not an .npz, or it is corrupt or truncated; the message
            names the file and gives NumPy's or zipfile's reason.
    """
    path = os.fspath(path)
    if file_format(path) != "zip":
        raise ValueError(
            f"{path} is not an .npz file (NumPy's zip archive): it is corrupt, truncated or "
            f"of another format.")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {key: f[key] for key in f.files}
    except _NPZ_ERRORS as e:
        raise ValueError(
            f"{path} is a corrupt or truncated .npz file ({type(e).__name__}: {e}).") from e


def check_pixels(pixels, name):
    """Returns `pixels` ([N, 28, 28] or [N, 784] grey levels 0..255) as uint8 [N, 784]."""
    pixels = np.asarray(pixels)
    if pixels.shape[1:] not in ((28, 28), (MNIST_EVENT_SIZE,)):
        raise ValueError(
            f"`{name}` must hold 28x28 = {MNIST_EVENT_SIZE}-pixel images, shape [N, 28, 28] or "
            f"[N, {MNIST_EVENT_SIZE}]; got shape {pixels.shape}.")
    pixels = pixels.reshape(len(pixels), MNIST_EVENT_SIZE)
    if len(pixels) == 0:
        raise ValueError(f"`{name}` must hold at least one image; got shape {pixels.shape}.")
    if not (np.issubdtype(pixels.dtype, np.integer) or np.issubdtype(pixels.dtype, np.floating)):
        raise TypeError(f"`{name}` must be numeric grey levels; got dtype {pixels.dtype}.")
    if pixels.dtype != np.uint8:
        if not np.isfinite(pixels).all():
            raise ValueError(f"`{name}` must be finite grey levels 0..255; found NaN or inf.")
        lo, hi = float(pixels.min()), float(pixels.max())
        if lo < 0 or hi > 255 or not np.array_equal(pixels, np.round(pixels)):
            raise ValueError(
                f"`{name}` must be integer grey levels in 0..255 (as in MNIST); got values in "
                f"[{lo}, {hi}]{'' if np.array_equal(pixels, np.round(pixels)) else ', not all integers'}.")
        pixels = pixels.astype(np.uint8)
    return pixels


def check_labels(labels, num_examples, name):
    """Returns `labels` (digits 0..9, one per example) as int32 [N]."""
    labels = np.asarray(labels)
    if labels.shape != (num_examples,):
        raise ValueError(
            f"`{name}` must have shape ({num_examples},), one label per image; "
            f"got shape {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.number) or np.any(labels != np.round(labels)) or (
            labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"`{name}` must be digits 0..9; got values in [{labels.min()}, {labels.max()}].")
    return labels.astype(np.int32)


def read_mnist_npz(path):
    """Reads an mnist.npz in keras's layout (`keras.datasets.mnist.load_data`).

    Args:
        path: file with arrays `x_train` [N, 28, 28], `y_train` [N], `x_test` [M, 28, 28],
            `y_test` [M]; grey levels 0..255 (any integer or integral float dtype).

    Returns:
        ((x_train, y_train), (x_test, y_test)): uint8 [N, 784] grey levels, int32 labels.
    """
    arrays = read_npz(path)
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise ValueError(
            f"{path} is not an mnist.npz in keras's layout: it lacks arrays {missing} "
            f"(found {sorted(arrays)}; expected {list(NPZ_KEYS)}).")
    x_train = check_pixels(arrays["x_train"], f"{path}: x_train")
    x_test = check_pixels(arrays["x_test"], f"{path}: x_test")
    y_train = check_labels(arrays["y_train"], len(x_train), f"{path}: y_train")
    y_test = check_labels(arrays["y_test"], len(x_test), f"{path}: y_test")
    return (x_train, y_train), (x_test, y_test)


def read_mnist_csv(path):
    """Reads MNIST digits from a CSV (optionally gzipped: name ending in .gz).

    The layout is that of the shared `mnist_5k.csv.gz`: no header, one digit per row,
    784 grey levels 0..255 (row-major 28x28) followed by the label 0..9.

    Returns:
        (pixels, labels): uint8 [N, 784] grey levels and int32 [N] labels.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        try:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError as e:
            raise ValueError(
                f"{path} is not a CSV of MNIST digits (no header; {MNIST_EVENT_SIZE} grey "
                f"levels then the label on each row): {e}") from e
        except (EOFError, OSError, zlib.error) as e:  # A damaged gzip stream.
            raise ValueError(
                f"{path} is a corrupt or truncated file ({type(e).__name__}: {e}).") from e
    if table.shape[1] != MNIST_EVENT_SIZE + 1:
        raise ValueError(
            f"{path} must have {MNIST_EVENT_SIZE + 1} columns ({MNIST_EVENT_SIZE} pixels then "
            f"the label); got {table.shape[1]} columns.")
    pixels = check_pixels(table[:, :-1], f"{path}: pixels")
    labels = check_labels(table[:, -1], len(pixels), f"{path}: labels")
    return pixels, labels
