"""Conventions shared by every tutorial script.

- ``KERAS_GROW_SMOKE=1`` asks for a run of about a minute (CI runs every tutorial so).
- ``KERAS_GROW_OUTPUT_DIR`` is the folder figures and tables are written to.
"""

import os
import pathlib

SMOKE = os.environ.get("KERAS_GROW_SMOKE", "0") not in ("", "0", "false", "False")


def output_dir(tutorial: str) -> pathlib.Path:
    """Return (and create) the folder where `tutorial` writes its figures."""
    root = pathlib.Path(os.environ.get("KERAS_GROW_OUTPUT_DIR", "outputs/tutorials"))
    path = root / tutorial
    path.mkdir(parents=True, exist_ok=True)
    return path


def scale(full, smoke):
    """Pick the full-scale value, or the smoke-test value under KERAS_GROW_SMOKE=1."""
    return smoke if SMOKE else full
