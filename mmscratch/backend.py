"""The one NumPy/CuPy switch of mmscratch (the only module that imports cupy).

Library code never writes ``import numpy as np`` for array math. It asks this
module for the active array module and writes ``xp = backend.xp()``, so the same
line runs on the CPU (NumPy) and on an NVIDIA GPU (CuPy)::

    from mmscratch import backend
    backend.use("cupy")              # switch for the rest of the program
    with backend.use("numpy"):       # or only inside a block
        ...

Three backends exist:

``"numpy"``
    the default, on the CPU.
``"cupy"``
    on a GPU; raises :class:`BackendError` with the reason when CuPy is missing
    or finds no device.
``"strict"``
    NumPy underneath, but its arrays behave like CuPy's at the host/device
    boundary: ``np.asarray(a)``, ``float(a)``, ``bool(a)``, ``a.item()`` and any
    ``np.<function>(a)`` called outside ``backend.xp()`` raise ``TypeError``.
    The test suite runs layers and features under it so that host copies a GPU
    would refuse (or pay for) are caught on a CPU-only machine.

The start-up default comes from the environment variable ``MMSCRATCH_BACKEND``.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = [
    "MMSCRATCH_BACKEND",
    "BackendError",
    "use",
    "xp",
    "name",
    "get_array_module",
    "to_numpy",
    "asarray",
    "is_array",
    "check_backend",
    "default_rng",
    "sparse",
    "scatter_add",
    "synchronize",
    "fused",
    "cupy_available",
    "floatx",
    "set_floatx",
]

#: Name of the environment variable read once at import time.
MMSCRATCH_BACKEND = "MMSCRATCH_BACKEND"

_BACKENDS = ("numpy", "cupy", "strict")


class BackendError(TypeError, ValueError):
    """An array lives on another backend than the active one, or a backend is unusable.

    It subclasses both ``TypeError`` (what CuPy raises for implicit host copies)
    and ``ValueError`` (what mmscratch raises for bad input), so either catches it.
    """


# --------------------------------------------------------------------------- cupy
_cupy = None
_cupy_error: str | None = None


def _load_cupy():
    """Import cupy lazily and check that a GPU is visible; cache the outcome."""
    global _cupy, _cupy_error
    if _cupy is not None or _cupy_error is not None:
        return _cupy
    try:
        import cupy  # noqa: PLC0415 - the one place cupy is imported

        n = cupy.cuda.runtime.getDeviceCount()
        if n < 1:
            raise RuntimeError("CUDA reports no device")
        _cupy = cupy
    except Exception as exc:  # ImportError, CUDARuntimeError, ...
        _cupy_error = f"{type(exc).__name__}: {exc}"
    return _cupy


def cupy_available() -> bool:
    """True when cupy imports and sees at least one GPU."""
    return _load_cupy() is not None


# ------------------------------------------------------------------ strict arrays
_strict_depth = threading.local()


def _inside_strict_call() -> bool:
    return getattr(_strict_depth, "n", 0) > 0


_IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed on the '{}' backend "
    "(CuPy raises the same). Use mmscratch.backend.to_numpy(a) for an explicit host copy."
)


def _unwrap(obj):
    if isinstance(obj, StrictArray):
        return obj._a
    if isinstance(obj, tuple):
        return tuple(_unwrap(o) for o in obj)
    if isinstance(obj, list):
        return [_unwrap(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap(obj):
    if isinstance(obj, np.ndarray):
        return StrictArray(obj)
    if isinstance(obj, np.generic):
        # CuPy reductions return 0-d arrays, never host scalars: mimic that.
        return StrictArray(np.asarray(obj))
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    if isinstance(obj, np.random.Generator):
        return _StrictObject(obj)
    return obj


def _strict_call(fn, args, kwargs):
    _strict_depth.n = getattr(_strict_depth, "n", 0) + 1
    try:
        return _wrap(fn(*_unwrap(args), **_unwrap(kwargs)))
    finally:
        _strict_depth.n -= 1


class StrictArray(NDArrayOperatorsMixin):
    """A NumPy array that refuses to leave the 'device' implicitly (see module doc)."""

    __slots__ = ("_a",)
    __array_priority__ = 1000

    def __init__(self, a):
        object.__setattr__(self, "_a", a)

    # -- the boundary
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT.format("strict"))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # Operators (a + b, a @ b) arrive here, as with CuPy; allowed.
        return _strict_call(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if not _inside_strict_call():
            raise TypeError(
                f"numpy.{func.__name__} was called on a strict-backend array; library code "
                "must call backend.xp()." + func.__name__ + " (or move data with to_numpy)."
            )
        return _strict_call(func, args, kwargs)

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            "Converting a strict-backend array to a Python scalar forces a device "
            "synchronisation; use mmscratch.backend.to_numpy(a) explicitly."
        )

    __float__ = __int__ = __complex__ = __bool__ = __index__ = _refuse
    item = tolist = _refuse

    # -- plain array behaviour
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)

    def __repr__(self):
        return "strict_" + repr(self._a)

    def __getattr__(self, attr):
        if attr.startswith("__array") or attr == "__dlpack__":
            # NumPy would use these to copy the buffer to the host without asking.
            raise AttributeError(attr)
        value = getattr(self._a, attr)
        if callable(value):
            return lambda *args, **kwargs: _strict_call(value, args, kwargs)
        return _wrap(value)

    def __setattr__(self, attr, value):
        setattr(self._a, attr, _unwrap(value))

    def get(self):
        """Explicit host copy, spelled as CuPy spells it."""
        return self._a.copy()

    # In-place operators must mutate the wrapped buffer, not rebind.
    def _inplace(op):  # noqa: N805 - helper used at class-creation time
        def method(self, other):
            op(self._a, _unwrap(other), out=self._a)
            return self

        return method

    __iadd__ = _inplace(np.add)
    __isub__ = _inplace(np.subtract)
    __imul__ = _inplace(np.multiply)
    __itruediv__ = _inplace(np.true_divide)
    del _inplace


class _StrictObject:
    """Wraps a NumPy helper object (e.g. a random Generator) so results stay strict."""

    def __init__(self, obj):
        self._obj = obj

    def __getattr__(self, attr):
        value = getattr(self._obj, attr)
        if callable(value):
            return lambda *args, **kwargs: _strict_call(value, args, kwargs)
        return _wrap(value)


class _StrictUfunc:
    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return _strict_call(self._uf, args, kwargs)

    def __getattr__(self, attr):  # .at, .reduce, .outer, ...
        value = getattr(self._uf, attr)
        if callable(value):
            return lambda *args, **kwargs: _strict_call(value, args, kwargs)
        return value


class _StrictModule:
    """``numpy`` seen through the strict boundary: results come back as StrictArray."""

    def __init__(self, module, name="numpy"):
        self._module = module
        self.__name__ = "strict:" + name

    def __getattr__(self, attr):
        value = getattr(self._module, attr)
        if isinstance(value, type) or isinstance(value, np.dtype):
            return value  # dtypes and classes (np.float32, np.ndarray) pass through
        if isinstance(value, np.ufunc):
            return _StrictUfunc(value)
        if type(value).__name__ == "module":
            return _StrictModule(value, attr)
        if callable(value):
            return lambda *args, **kwargs: _strict_call(value, args, kwargs)
        return value  # constants: pi, inf, newaxis


_strict_module = _StrictModule(np)


# ----------------------------------------------------------------- the switch
class _State:
    name = "numpy"
    module = np
    #: Why the start-up backend from $MMSCRATCH_BACKEND is unusable (module is None then).
    pending_error = ""


_state = _State()


def _module_for(name: str):
    if name == "numpy":
        return np
    if name == "strict":
        return _strict_module
    if name == "cupy":
        cp = _load_cupy()
        if cp is None:
            raise BackendError(
                "backend 'cupy' was requested but cannot be used here "
                f"({_cupy_error}). Install the 'gpu' extra (pip install -e .[gpu]) on a "
                "machine with an NVIDIA GPU, or use backend 'numpy'."
            )
        return cp
    raise ValueError(f"backend name must be one of {_BACKENDS}, got {name!r}")


class use:  # noqa: N801 - a function-like switch that is also a context manager
    """Switch the active backend: ``use("cupy")``, or ``with use("cupy"): ...``.

    Called plainly, the switch lasts until the next ``use``; as a context manager
    the previous backend comes back on exit.
    """

    def __init__(self, name: str):
        self._previous = (_state.name, _state.module)
        module = _module_for(name)
        _state.name, _state.module = name, module

    def __enter__(self):
        return _state.module

    def __exit__(self, *exc):
        _state.name, _state.module = self._previous
        return False

    def __repr__(self):
        return f"<mmscratch backend {_state.name!r}>"


def xp():
    """The active array module (``numpy``, ``cupy`` or the strict NumPy wrapper).

    Raises :class:`BackendError` when ``$MMSCRATCH_BACKEND`` asked at import time for
    a backend that cannot be used here (``import mmscratch`` itself still works).
    """
    module = _state.module
    if module is None:
        raise BackendError(_state.pending_error)
    return module


def name() -> str:
    """Name of the active backend: ``"numpy"``, ``"cupy"`` or ``"strict"``."""
    return _state.name


def _is_cupy_array(a) -> bool:
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def is_array(a) -> bool:
    """True for an ndarray of any backend."""
    return isinstance(a, (np.ndarray, StrictArray)) or _is_cupy_array(a)


def _array_backend(a) -> str | None:
    if isinstance(a, StrictArray):
        return "strict"
    if _is_cupy_array(a):
        return "cupy"
    if isinstance(a, np.ndarray):
        return "numpy"
    return None


def get_array_module(*arrays):
    """The module that owns ``arrays`` (as ``cupy.get_array_module``); numpy for plain data."""
    for a in arrays:
        which = _array_backend(a)
        if which == "cupy":
            return _cupy
        if which == "strict":
            return _strict_module
    return np


def to_numpy(a):
    """An explicit host copy as a ``numpy.ndarray`` (no copy for NumPy input)."""
    which = _array_backend(a)
    if which == "cupy":
        return _cupy.asnumpy(a)
    if which == "strict":
        return a._a
    return np.asarray(a)


def asarray(a, dtype=None):
    """``a`` on the active backend (an explicit, intended host<->device move)."""
    which = _array_backend(a)
    host = to_numpy(a) if which not in (None, _state.name) else a
    if _state.name == "numpy":
        return np.asarray(host, dtype=dtype)
    if _state.name == "strict":
        return StrictArray(np.asarray(_unwrap(host), dtype=dtype))
    return xp().asarray(host, dtype=dtype)  # xp() raises if cupy was requested but is missing


def check_backend(a, argument: str, where: str = ""):
    """Raise :class:`BackendError` unless ``a`` is an array of the active backend.

    mmscratch never copies between host and device behind your back: move data
    with :func:`asarray` (to the active backend) or :func:`to_numpy` (to the host).
    """
    which = _array_backend(a)
    if which == _state.name:
        return a
    prefix = f"{where}: " if where else ""
    if which is None:
        raise BackendError(
            f"{prefix}argument '{argument}' must be an array of the active '{_state.name}' "
            f"backend, got {type(a).__name__}. Convert it with mmscratch.backend.asarray()."
        )
    raise BackendError(
        f"{prefix}argument '{argument}' is a {which} array but the active backend is "
        f"'{_state.name}'; mmscratch does not copy between host and device silently. "
        "Move it with mmscratch.backend.asarray(x) or switch with backend.use(...)."
    )


_floatx = ["float32"]


def floatx() -> str:
    """Default float dtype for new parameters and data: ``"float32"`` unless changed."""
    return _floatx[0]


def set_floatx(dtype: str) -> None:
    """Set the default float dtype (``"float32"`` or ``"float64"``)."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    _floatx[0] = dtype


def default_rng(seed=None):
    """A random Generator on the active backend (``cupy.random.default_rng`` on GPU).

    The same seed gives different streams on NumPy and CuPy; weights are therefore
    drawn on the host (see :mod:`mmscratch.nn.initializers`) and copied over, so a
    seeded model starts identical on both backends.
    """
    if _state.name == "cupy":
        return xp().random.default_rng(seed)
    rng = np.random.default_rng(seed)
    return _StrictObject(rng) if _state.name == "strict" else rng


def sparse():
    """``scipy.sparse`` on the CPU backends, ``cupyx.scipy.sparse`` on CuPy."""
    if _state.name == "cupy":
        xp()  # raises if cupy was requested but is missing
        import cupyx.scipy.sparse as cusparse  # noqa: PLC0415

        return cusparse
    import scipy.sparse  # noqa: PLC0415

    return scipy.sparse


def is_sparse(a) -> bool:
    """True for a sparse matrix or array (``scipy.sparse`` or ``cupyx.scipy.sparse``)."""
    return hasattr(a, "tocsr") and hasattr(a, "nnz")


def name_of_sparse(a) -> str:
    """``"cupy"`` for a ``cupyx.scipy.sparse`` matrix, ``"numpy"`` for a SciPy one."""
    return "cupy" if _is_cupy_array(a.data) else "numpy"


def scatter_add(target, indices, values):
    """``target[indices] += values`` with repeated indices accumulated (in place).

    ``np.add.at`` on NumPy and the strict backend, ``cupy.add.at`` (atomic adds) on CuPy;
    plain fancy-index ``+=`` keeps only one write per repeated index on both. On the GPU
    the order of the atomic adds varies, so float sums may differ in the last bits
    between runs (see docs/RELIABILITY.md).
    """
    xp().add.at(target, indices, values)
    return target


def synchronize():
    """Wait for queued GPU work (a no-op on the CPU); use before reading a timer."""
    if _state.name == "cupy":
        xp().cuda.runtime.deviceSynchronize()  # exists in every CuPy release


_fused_kernels: dict = {}


def fused(fn):
    """``fn`` compiled into one GPU kernel on CuPy (``cupy.fuse``), ``fn`` itself elsewhere.

    ``fn`` must be a plain function of arrays (and Python scalars) that uses only
    element-wise operations: operators and ``backend.xp()`` ufuncs (``tanh``, ``exp``,
    ``maximum``...), no slicing, reductions, ``out=`` or Python control flow on values.
    On NumPy and the strict backend it runs as written, one pass per operation, so the
    same function is the readable, CPU-testable definition of what the GPU kernel
    computes. On CuPy, ``cupy.fuse`` traces it once per input dtype/ndim and emits one
    CUDA kernel that reads each input and writes each output once: for the small
    per-step arrays of a recurrent layer, where every separate kernel launch costs
    more than its arithmetic, that is the difference between ~15 launches a step and
    one. The fused wrapper is built once per function and cached (``cupy.fuse``'s own
    advice: reuse the decorated function).

    Returns a callable with ``fn``'s signature (a tuple of arrays when ``fn`` returns a
    tuple). Used by :mod:`mmscratch.nn.recurrent` and :mod:`mmscratch.nn.gru` (the gate
    arithmetic of one time step); chapter: chapters/03-2-models.md.
    """
    if _state.name != "cupy":
        return fn
    kernel = _fused_kernels.get(fn)
    if kernel is None:
        kernel = _fused_kernels[fn] = xp().fuse(kernel_name=fn.__name__)(fn)
    return kernel


def _initial():
    """Start-up backend from ``$MMSCRATCH_BACKEND``.

    A bad value or a missing CuPy must not break ``import mmscratch`` (a user could
    not even reach ``--backend numpy`` or read the docs): the error is kept and raised
    as one :class:`BackendError` line at the first use, ``xp()``; ``use(...)``
    replaces it.
    """
    requested = os.environ.get(MMSCRATCH_BACKEND, "numpy").strip().lower() or "numpy"
    if requested not in _BACKENDS:
        error = (f"{MMSCRATCH_BACKEND}={requested!r} is not a backend; use one of "
                 f"{_BACKENDS} (or unset it)")
    else:
        try:
            use(requested)
            return
        except BackendError as exc:
            error = f"{MMSCRATCH_BACKEND}={requested}: {exc}"
    _state.name, _state.module, _state.pending_error = requested, None, error


_initial()
