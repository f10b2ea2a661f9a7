"""Every notebook runs, in quick mode, from top to bottom without an error.

Each ``notebooks/*.ipynb`` is executed with nbclient under ``QUICK=1`` (smaller data,
fewer epochs) with a per-cell timeout of 180 s, in a temporary folder: the outputs go to
a copy there, the committed file is never modified. The kernel is this interpreter
(``sys.executable``) through a private kernelspec, so a ``python3`` kernel installed
elsewhere on the machine (another Python, another environment) cannot be picked up by
mistake.

The cheap checks (committed with outputs, no error outputs, the first code cell reads
``MMSCRATCH_BACKEND`` and ``QUICK``, all notebooks together under 8 MB) run without a
kernel.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]

CELL_TIMEOUT = 180  # seconds; QUICK mode must finish well within this on 2 CPU cores
MAX_TOTAL_BYTES = 8 * 1024 * 1024


def _cells(path, kind):
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == kind]


def _source(cell):
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb file"


def test_notebooks_together_stay_small():
    total = sum(p.stat().st_size for p in NOTEBOOKS)
    sizes = {p.name: p.stat().st_size for p in NOTEBOOKS}
    assert total < MAX_TOTAL_BYTES, f"notebooks take {total / 2**20:.1f} MiB: {sizes}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_picks_backend_and_quick_mode(path):
    first = _source(_cells(path, "code")[0])
    assert "MMSCRATCH_BACKEND" in first and "QUICK" in first, \
        f"{path.name}: the first code cell must read MMSCRATCH_BACKEND and QUICK"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_with_outputs_and_without_errors(path):
    cells = _cells(path, "code")
    assert any(c.get("outputs") for c in cells), f"{path.name}: committed without outputs"
    errors = [o.get("ename") for c in cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: committed with error outputs {errors}"


def _kernel_manager(tmp_path):
    """A KernelManager for a private kernelspec that runs ``sys.executable``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "kernels" / "mmscratch-test-python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test)", "language": "python"}))
    ksm = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    return KernelManager(kernel_name=spec.name, kernel_spec_manager=ksm)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks switch to inline themselves
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    workdir = tmp_path / "run"
    workdir.mkdir()
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, km=_kernel_manager(tmp_path), timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, tmp_path / path.name)  # the executed copy, for inspection
    errors = [o.get("ename") for c in nb.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {errors}"
