"""One fused kernel per time step: the LSTM's and GRU's gate arithmetic as plain functions.

Specification:
* ``backend.fused(fn)`` is ``fn`` itself on NumPy and the strict backend, and a cached
  ``cupy.fuse`` kernel on CuPy that computes what ``fn`` computes unfused;
* the layers' kernel paths (``step_kernels=True``: the step functions, one call per
  step) give the same outputs, gradients and initial-state gradients as the readable
  step loops, in float64, with and without masks and initial states, on every backend;
* they pass the float64 central-difference gradient check on their own.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CUPY_SKIP

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_layer, to_float64
from mmscratch.nn import GRU, LSTM
from mmscratch.nn.gru import gru_step_backward, gru_step_forward
from mmscratch.nn.lstm_steps import lstm_step_backward, lstm_step_forward

N, T, D, H = 3, 5, 4, 6
MASK = np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]], dtype=bool)
EPS = 1e-5  # see tests/test_recurrent.py


def _layer(cls, return_sequences, seed=21, **kwargs):
    """A built float64 layer with O(1) random weights: no saturated gate hides a mistake."""
    layer = cls(H, return_sequences=return_sequences, seed=seed, **kwargs)
    rng = np.random.default_rng(seed)
    layer.forward(backend.asarray(rng.standard_normal((N, T, D))))
    for k, v in layer.params.items():
        layer.params[k] = backend.asarray(0.7 * rng.standard_normal(tuple(v.shape)))
    return to_float64(layer)


def _run(layer, x, dy, mask, init):
    y = layer.forward(x, mask=mask, initial_state=init)
    dx = layer.backward(dy)
    ds = layer.d_initial_state
    ds = [] if ds is None else (ds if isinstance(ds, list) else [ds])
    return [backend.to_numpy(a) for a in (y, dx, *layer.grads.values(), *ds)]


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("state", [None, "h", "pair"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_lstm_step_kernels_equal_the_readable_loops(xp, masked, state, return_sequences,
                                                    monkeypatch):
    rng = np.random.default_rng(22)
    x = backend.asarray(rng.standard_normal((N, T, D)))
    mask = backend.asarray(MASK) if masked else None
    h0, c0 = (backend.asarray(rng.standard_normal((N, H))) for _ in range(2))
    init = {None: None, "h": h0, "pair": [h0, c0]}[state]
    dy = backend.asarray(rng.standard_normal((N, T, H) if return_sequences else (N, H)))
    layer = _layer(LSTM, return_sequences)
    monkeypatch.setattr(LSTM, "use_fast_path", False)
    readable = _run(layer, x, dy, mask, init)
    monkeypatch.setattr(LSTM, "use_fast_path", True)
    monkeypatch.setattr(LSTM, "step_kernels", True)
    kernels = _run(layer, x, dy, mask, init)
    assert len(kernels) == len(readable) == 5 + {None: 0, "h": 1, "pair": 2}[state]
    for a, b in zip(kernels, readable):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_gru_step_kernels_equal_the_readable_loops(xp, masked, state, return_sequences,
                                                   monkeypatch):
    rng = np.random.default_rng(23)
    x = backend.asarray(rng.standard_normal((N, T, D)))
    mask = backend.asarray(MASK) if masked else None
    init = backend.asarray(rng.standard_normal((N, H))) if state else None
    dy = backend.asarray(rng.standard_normal((N, T, H) if return_sequences else (N, H)))
    layer = _layer(GRU, return_sequences)
    monkeypatch.setattr(GRU, "step_kernels", False)
    readable = _run(layer, x, dy, mask, init)
    monkeypatch.setattr(GRU, "step_kernels", True)
    kernels = _run(layer, x, dy, mask, init)
    assert isinstance(layer._saved()[0], str)  # the kernel path did run
    assert len(kernels) == len(readable) == 5 + state
    for a, b in zip(kernels, readable):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_step_kernel_paths_pass_the_gradient_check(xp, cls, masked, monkeypatch):
    monkeypatch.setattr(cls, "step_kernels", True)
    layer = _layer(cls, return_sequences=True)
    x = backend.asarray(np.random.default_rng(24).standard_normal((N, T, D)))
    fwd = {"mask": backend.asarray(MASK)} if masked else {}
    results = check_layer(layer, x, forward_kwargs=fwd, eps=EPS)
    assert set(results) == {"x", "W", "U", "b"}
    assert_gradcheck(results, tol=1e-6)


def test_fused_is_the_function_itself_off_the_gpu(xp):
    if backend.name() == "cupy":
        pytest.skip("on CuPy fused() compiles a kernel: see the cupy test below")
    assert backend.fused(lstm_step_forward) is lstm_step_forward
    assert backend.fused(gru_step_backward) is gru_step_backward


STEP_FUNCTIONS = {
    "lstm_forward": (lstm_step_forward, 11),
    "lstm_backward": (lstm_step_backward, 11),
    "gru_forward": (gru_step_forward, 9),
    "gru_backward": (gru_step_backward, 9),
}


@pytest.mark.gpu
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(STEP_FUNCTIONS))
def test_cupy_fused_kernel_equals_the_unfused_function(name, dtype, masked):
    """On CuPy: the one-kernel version of each step function equals the same function run
    operation by operation (CuPy ufuncs, unfused), and is built once per function."""
    if not backend.cupy_available():
        pytest.skip(CUPY_SKIP)
    with backend.use("cupy"):
        _compare_fused(name, dtype, masked)


def _compare_fused(name, dtype, masked):
    fn, n_args = STEP_FUNCTIONS[name]
    rng = np.random.default_rng(25)
    args = [backend.asarray(rng.uniform(-0.9, 0.9, (N, H)).astype(dtype))
            for _ in range(n_args - 1)]
    if name == "gru_forward":  # b_hh is a bias row (H,)
        args[6] = backend.asarray(rng.standard_normal(H).astype(dtype))
    m = backend.asarray(MASK[:, :1].astype(dtype) if masked else np.ones((), dtype))
    kernel = backend.fused(fn)
    assert kernel is not fn and backend.fused(fn) is kernel
    got = kernel(*args, m)
    want = fn(*args, m)
    assert len(got) == len(want)
    tol = 1e-6 if dtype == "float32" else 1e-13
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_allclose(backend.to_numpy(a), backend.to_numpy(b), rtol=tol, atol=tol)
