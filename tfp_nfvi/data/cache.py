"""Keras's dataset cache: where downloaded data sets live, and downloading into it.

Keras keeps downloaded data sets in `<keras home>/datasets/`, the keras home being
`$KERAS_HOME` when set, else `~/.keras`, and `/tmp/.keras` when that is not writable
(`keras.utils.get_file`'s rule). Our loaders look there first and download with
`keras.utils.get_file` (which verifies a file hash when one is given) only when a file is
missing, so a copy placed there by hand works offline.

`$KERAS_HOME` is read at call time (keras reads it once, at import), so a test or a user
can point the cache elsewhere after importing keras.
"""

import os

CACHE_SUBDIR = "datasets"


def keras_homes():
    """Candidate keras home directories, in the order keras would use them."""
    homes = [os.environ.get("KERAS_HOME"), os.path.join(os.path.expanduser("~"), ".keras"),
             os.path.join("/tmp", ".keras")]
    return [h for h in homes if h]


def cached_paths(*parts):
    """`<home>/datasets/<parts...>` for every candidate keras home (see `keras_homes`)."""
    return [os.path.join(home, CACHE_SUBDIR, *parts) for home in keras_homes()]


def find_cached(*parts):
    """The first existing `<home>/datasets/<parts...>`, or None."""
    for path in cached_paths(*parts):
        if os.path.exists(path):
            return path
    return None


def download(fname, origin, file_hash=None, subdir=None, what=None):
    """Downloads `origin` into the keras cache (unless there already), returns its path.

    Args:
        fname: the file's name in the cache.
        origin: its URL (`file://` URLs work too).
        file_hash: its sha256 (hex), verified after download and for a cached copy (a cached
            copy with another hash is downloaded again); None skips the check.
        subdir: a folder under `<home>/datasets/`, or None.
        what: a phrase naming the data set, for the error message.

    Raises:
        FileNotFoundError: the download failed (no network, a moved file, a hash mismatch);
            the message says where a copy placed by hand would be found.
    """
    import keras  # pylint: disable=g-import-not-at-top

    cache_subdir = os.path.join(CACHE_SUBDIR, subdir) if subdir else CACHE_SUBDIR
    try:  # get_file falls back to /tmp/.keras when the home does not exist yet.
        os.makedirs(keras_homes()[0], exist_ok=True)
    except OSError:
        pass  # Not creatable: get_file's /tmp/.keras fallback applies.
    try:
        return keras.utils.get_file(
            fname=fname, origin=origin, file_hash=file_hash, cache_subdir=cache_subdir,
            cache_dir=keras_homes()[0], hash_algorithm="sha256" if file_hash else "auto")
    except Exception as e:  # pylint: disable=broad-except  (get_file raises bare Exception)
        target = os.path.join(keras_homes()[0], cache_subdir, fname)
        raise FileNotFoundError(
            f"Could not download {what or fname} from {origin} ({type(e).__name__}: {e}). "
            f"Place a copy at {target} (or pass its path).") from e
