"""The test suite's own setup (issue 14 item 15): cupy skips are one line in ``pytest -ra``,
and asking for the GPU run on a machine without CuPy fails loudly instead of passing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmscratch import backend

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(backend.cupy_available(),
                                reason="CuPy works here; these cases are about a machine without")


def _pytest(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MMSCRATCH_BACKEND", None)
    env.pop("MMSCRATCH_BACKEND_TESTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def test_cupy_skips_are_summarised_in_one_line():
    # two files whose cupy cases skip at many different test lines
    r = _pytest("-ra", "-q", "tests/test_distances.py", "tests/test_kmeans_degenerate.py",
                "-k", "squared_euclidean_far or self_distances or six_points_six")
    assert r.returncode == 0, r.stdout[-2000:]
    cupy_lines = [ln for ln in r.stdout.splitlines()
                  if ln.startswith("SKIPPED") and "cupy" in ln.lower()]
    assert len(cupy_lines) == 1, cupy_lines
    assert "tests/conftest.py" in cupy_lines[0] and "SKIPPED [8]" in cupy_lines[0]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_backend_cupy_without_a_gpu_fails_loudly(how):
    if how == "option":
        r = _pytest("-q", "--backend", "cupy", "tests/test_distances.py", "-k", "bad_input")
    else:
        env = dict(os.environ, PYTHONPATH=str(ROOT), MMSCRATCH_BACKEND="cupy")
        r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                            "tests/test_distances.py", "-k", "bad_input"],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode not in (0, 5), r.stdout[-2000:]  # not "passed", not "no tests"
    assert "CuPy is not usable here" in r.stdout + r.stderr
