"""Helpers shared by the notebook builders: cells from strings, a kernel bound to this
interpreter, and execution with nbclient.

Usage (from the repository root)::

    python notebooks/_build/build_01_basics.py            # write, then execute (full mode)
    QUICK=1 python notebooks/_build/build_01_basics.py    # execute in quick mode
    python notebooks/_build/build_01_basics.py --no-execute
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

#: The first code cell of every notebook: backend and QUICK switch from the environment.
SETUP = '''\
import os

QUICK = os.environ.get("QUICK", "0") not in ("", "0", "false", "False")
BACKEND = os.environ.get("MMSCRATCH_BACKEND", "numpy").strip() or "numpy"

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from mmscratch import backend

backend.use(BACKEND)
%matplotlib inline
matplotlib.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})  # small committed images
np.set_printoptions(precision=4, suppress=True)
print(f"backend {backend.name()!r}, QUICK={QUICK}")'''


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip("\n"))


def kernel_manager():
    """A KernelManager whose kernel runs *this* interpreter (``sys.executable``).

    A ``python3`` kernelspec found on the machine may point at another Python (a user
    install, a system Jupyter); a private spec in a temporary folder cannot.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    folder = Path(tempfile.mkdtemp(prefix="mmscratch-kernels-"))
    spec = folder / "mmscratch-python3"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (mmscratch)", "language": "python"}))
    ksm = KernelSpecManager(kernel_dirs=[str(folder)])
    return KernelManager(kernel_name="mmscratch-python3", kernel_spec_manager=ksm)


def execute(nb, cwd: Path, timeout: int = 1800):
    """Run every cell of ``nb`` in place (raises CellExecutionError on the first error)."""
    from nbclient import NotebookClient

    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    client = NotebookClient(nb, km=kernel_manager(), timeout=timeout,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def build(name: str, cells: list) -> Path:
    """Write ``notebooks/<name>.ipynb``; execute it unless ``--no-execute`` is given."""
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    path = NOTEBOOKS / f"{name}.ipynb"
    if "--no-execute" not in sys.argv:
        t0 = time.time()
        execute(nb, NOTEBOOKS)
        # the private kernel name must not leak into the committed file
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        print(f"executed {path.name} in {time.time() - t0:.1f} s "
              f"(QUICK={os.environ.get('QUICK', '0')})")
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return path
