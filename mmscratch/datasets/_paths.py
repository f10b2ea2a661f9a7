"""Where the real data sets live: ``--data-dir``, else ``$MMSCRATCH_DATA``, else a cache.

The layout under that folder is the one of the shared data folder: ``mnist/*-ubyte.gz``,
``fsdd/recordings/*.wav``, ``text/...`` (see DESIGN.md, "Data").
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MMSCRATCH_DATA", "data_dir"]

#: Environment variable naming the data folder.
MMSCRATCH_DATA = "MMSCRATCH_DATA"


def data_dir(path=None) -> Path:
    """The data folder: ``path`` if given, else ``$MMSCRATCH_DATA``, else ``~/.cache/mmscratch``.

    The folder is not required to exist; loaders report exactly which file is missing.
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(MMSCRATCH_DATA, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "mmscratch"
