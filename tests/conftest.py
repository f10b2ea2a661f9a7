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


#: The one reason every cupy case gives when CuPy or a GPU is missing.
CUPY_SKIP = "cupy backend: CuPy is not installed or no GPU is visible"


@pytest.fixture
def backend_name(request):
    """Activate one backend for the test and restore the previous one afterwards."""
    name = request.param
    if name == "cupy" and not backend.cupy_available():
        pytest.skip(CUPY_SKIP)
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
    if selected_backends(config) == ("cupy",) and not backend.cupy_available():
        # Asking for the GPU run on a machine without one must not "pass" with every
        # test skipped.
        raise pytest.UsageError(
            "--backend cupy (or MMSCRATCH_BACKEND=cupy) was asked for, but CuPy is not "
            f"usable here: {backend._cupy_error or 'no GPU'}. Run on a machine with an "
            "NVIDIA GPU and CuPy, or drop the option.")
    config.addinivalue_line("markers", "gpu: needs CuPy and an NVIDIA GPU")
    config.addinivalue_line("markers", "slow: trains a model or reads a whole data set")
    config.addinivalue_line("markers", "torch: compares against PyTorch")


_SKIP_LINE = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Report every "no CuPy/GPU" skip at one place, so ``pytest -ra`` prints one line
    (``SKIPPED [250] tests/conftest.py:N: cupy backend: ...``) instead of one per test."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple) \
            and CUPY_SKIP in str(report.longrepr[2]):
        global _SKIP_LINE
        if _SKIP_LINE is None:  # the line of pytest.skip(CUPY_SKIP) in this file
            lines = Path(__file__).read_text().splitlines()
            _SKIP_LINE = next(i for i, t in enumerate(lines, 1) if "pytest.skip(CUPY_SKIP)" in t)
        report.longrepr = (str(Path(__file__)), _SKIP_LINE, f"Skipped: {CUPY_SKIP}")
