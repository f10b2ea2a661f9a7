"""Shared pytest fixtures: the backend switch and the data folder.

Every test that touches arrays takes the ``xp`` fixture (or ``backend_name``), so it
runs once per backend: ``numpy``, ``strict`` (NumPy arrays that refuse implicit host
copies like CuPy's) and ``cupy`` (marked ``gpu``; skipped with a reason where CuPy or a
GPU is missing). ``pytest --backend cupy`` or ``MMSCRATCH_BACKEND=cupy pytest`` runs
the suite on the GPU only.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmscratch import backend

ALL_BACKENDS = ("numpy", "strict", "cupy")


def pytest_addoption(parser):
    parser.addoption("--backend", action="store", default=None,
                     help="run array tests on one backend only: numpy, strict or cupy")


def selected_backends(config):
    chosen = config.getoption("--backend") or os.environ.get("MMSCRATCH_BACKEND_TESTS")
    if not chosen and os.environ.get(backend.MMSCRATCH_BACKEND, "").strip() == "cupy":
        chosen = "cupy"
    return (chosen,) if chosen else ALL_BACKENDS


def pytest_generate_tests(metafunc):
    for fixture in ("backend_name", "xp"):
        if fixture in metafunc.fixturenames:
            params = [pytest.param(b, marks=pytest.mark.gpu, id=b) if b == "cupy"
                      else pytest.param(b, id=b) for b in selected_backends(metafunc.config)]
            metafunc.parametrize("backend_name", params, indirect=True)
            return


@pytest.fixture
def backend_name(request):
    """Activate one backend for the test and restore the previous one afterwards."""
    name = request.param
    if name == "cupy" and not backend.cupy_available():
        pytest.skip("cupy backend: CuPy is not installed or no GPU is visible")
    with backend.use(name):
        yield name


@pytest.fixture
def xp(backend_name):
    """The active array module for this test's backend."""
    return backend.xp()


@pytest.fixture(scope="session")
def data_dir():
    """The shared data folder ($MMSCRATCH_DATA); tests needing it skip when absent."""
    path = os.environ.get("MMSCRATCH_DATA")
    if not path or not Path(path).is_dir():
        pytest.skip("real data not available: set MMSCRATCH_DATA to the shared data folder")
    return Path(path)


try:  # the long fuzz run: HYPOTHESIS_PROFILE=fuzz pytest tests/test_fuzz_files.py
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile(
        "fuzz", deadline=None, database=None,
        max_examples=int(os.environ.get("MMSCRATCH_FUZZ_EXAMPLES", "2000")))
    if os.environ.get("HYPOTHESIS_PROFILE"):
        _hypothesis_settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
except ImportError:  # hypothesis is a test extra; its tests skip without it
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs CuPy and an NVIDIA GPU")
    config.addinivalue_line("markers", "slow: trains a model or reads a whole data set")
    config.addinivalue_line("markers", "torch: compares against PyTorch")
