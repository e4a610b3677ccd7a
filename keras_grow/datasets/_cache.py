"""A small on-disk cache for generated or parsed arrays.

Arrays are stored as uncompressed `.npz` files under `cache_dir()`: the folder
named by the `KERAS_GROW_CACHE` environment variable, else
`$XDG_CACHE_HOME/keras_grow`, else `~/.cache/keras_grow`. A cache that cannot
be written (read-only home, full disk) is skipped silently: the arrays are
rebuilt on the next call instead.
"""

import os
import pathlib
import tempfile

import numpy as np


def cache_dir():
    """Return the folder where `keras_grow.datasets` caches arrays."""
    explicit = os.environ.get("KERAS_GROW_CACHE")
    if explicit:
        return pathlib.Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return pathlib.Path(base).expanduser() / "keras_grow"


def load_or_build(filename, build, use_cache=True):
    """Return the arrays cached in `filename`, building and storing them if absent.

    Args:
        filename: file name (no folder) inside `cache_dir()`.
        build: zero-argument callable returning a `dict` of NumPy arrays.
        use_cache: when `False`, call `build` and touch no file.

    Returns:
        A `dict` mapping names to NumPy arrays.
    """
    if not use_cache:
        return build()
    path = cache_dir() / filename
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {key: stored[key] for key in stored.files}
        except (OSError, ValueError, EOFError):
            pass  # A truncated or foreign file: rebuild it below.
    arrays = build()
    _write_atomically(path, arrays)
    return arrays


def _write_atomically(path, arrays):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, **arrays)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    except OSError:
        pass  # Caching is an optimisation only.
