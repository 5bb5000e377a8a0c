"""The embedded set: 5,000 real MNIST digits, statically binarized, shipped in the package.

`mnist_5k_binarized.npz` (about 140 KB) lets every command run offline on a fresh machine.
It is made from the shared `mnist_5k.csv.gz` (5,000 real MNIST digits, 500 per class) by
`make_embedded`:

    x = 1[g / 255 > 0.5]                    (static binarization, fixed threshold 0.5)
    packed_images = np.packbits(x, axis=1)  # uint8 [5000, 98], 8 pixels per byte
    labels                                  # uint8 [5000], digits 0..9, CSV row order

Because the digits are stored binary, the grey levels are gone: **dynamic binarization is
not possible for the embedded set** (use `source="mnist"` or a file for that).

Regenerate (reproducibly, from the repository root):

    python -m tfp_nfvi.data.embedded --csv ../shared/data/mnist_5k.csv.gz
"""

import argparse
import os
import pathlib

import numpy as np

from tfp_nfvi.data.binarization import STATIC_THRESHOLD
from tfp_nfvi.data.binarization import binarize_static
from tfp_nfvi.data.binarization import to_intensities
from tfp_nfvi.data.readers import read_mnist_csv
from tfp_nfvi.data.readers import read_npz
from tfp_nfvi.data.validation import MNIST_EVENT_SIZE

EMBEDDED_PATH = pathlib.Path(__file__).resolve().parent / "mnist_5k_binarized.npz"


def make_embedded(csv_path, output_path=EMBEDDED_PATH):
    """Writes the embedded file from a CSV of MNIST digits (see the module docstring).

    Args:
        csv_path: CSV (optionally .gz) with 784 grey levels then the label per row.
        output_path: where to write the compressed .npz.

    Returns:
        dict with the arrays written: `packed_images` uint8 [N, 98], `labels` uint8 [N],
        `threshold` float32 scalar.
    """
    pixels, labels = read_mnist_csv(csv_path)
    binary = binarize_static(to_intensities(pixels), STATIC_THRESHOLD).astype(np.uint8)
    arrays = {
        "packed_images": np.packbits(binary, axis=1),
        "labels": labels.astype(np.uint8),
        "threshold": np.float32(STATIC_THRESHOLD),
    }
    np.savez_compressed(os.fspath(output_path), **arrays)
    return arrays


def load_embedded(path=EMBEDDED_PATH):
    """Reads the embedded set.

    Returns:
        (images, labels): float32 [N, 784] with values in {0, 1}, int32 [N] digits 0..9,
        in the order of the source CSV (sorted by class for the shipped file).
    """
    arrays = read_npz(path)
    packed, labels = arrays["packed_images"], arrays["labels"]
    images = np.unpackbits(packed, axis=1, count=MNIST_EVENT_SIZE).astype(np.float32)
    return images, labels.astype(np.int32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="MNIST CSV, e.g. mnist_5k.csv.gz")
    parser.add_argument("--output", default=str(EMBEDDED_PATH), help="the .npz to write")
    args = parser.parse_args(argv)
    arrays = make_embedded(args.csv, args.output)
    size = os.path.getsize(args.output)
    print(f"wrote {args.output}: {len(arrays['labels'])} digits, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
