"""Exception types and the one argument-checking helper used across mmscratch."""

from __future__ import annotations

from . import backend


class DataError(ValueError):
    """A data file is missing, truncated, corrupt or of the wrong format.

    The message always names the file and what is wrong with it.
    """


def _where(where):
    return f"{where}: " if where else ""


def check_array(x, argument, *, where="", ndim=None, min_ndim=None, shape=None,
                dtype_kind="f", allow_empty=False, finite=False):
    """Validate one array argument and raise a clear error naming it.

    Parameters
    ----------
    x : array of the active backend
    argument : str
        Name of the argument as the user wrote it (``"x"``, ``"y_true"``).
    where : str
        The layer or function doing the check, e.g. ``"Dense(units=10)"``.
    ndim, min_ndim : int, optional
        Exact or minimum rank.
    shape : tuple, optional
        Expected shape; ``None`` entries match any size.
    dtype_kind : str or None
        Allowed ``dtype.kind`` letters: ``"f"`` floats, ``"iu"`` integers,
        ``"b"`` booleans; ``None`` skips the check.
    allow_empty : bool
        Whether a zero-size array is acceptable.
    finite : bool
        Reject NaN and inf (costs one reduction and a device sync).

    Raises
    ------
    BackendError
        ``x`` is not an array of the active backend.
    ValueError
        Wrong rank, shape, dtype, an empty batch, or non-finite values.
    """
    backend.check_backend(x, argument, where)
    p = _where(where)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{p}argument '{argument}' must have {ndim} dimensions, "
                         f"got shape {tuple(x.shape)} ({x.ndim} dimensions)")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{p}argument '{argument}' must have at least {min_ndim} dimensions, "
                         f"got shape {tuple(x.shape)}")
    if shape is not None:
        ok = len(shape) == x.ndim and all(s is None or s == t for s, t in zip(shape, x.shape))
        if not ok:
            want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{p}argument '{argument}' must have shape {want}, "
                             f"got {tuple(x.shape)}")
    if dtype_kind is not None and x.dtype.kind not in dtype_kind:
        kinds = {"f": "floating", "i": "signed integer", "u": "unsigned integer", "b": "boolean"}
        want = " or ".join(kinds.get(k, k) for k in dtype_kind)
        raise ValueError(f"{p}argument '{argument}' must have a {want} dtype, got {x.dtype}")
    if not allow_empty and x.size == 0:
        raise ValueError(f"{p}argument '{argument}' is empty (shape {tuple(x.shape)})")
    if finite and x.size and not bool(backend.to_numpy(backend.xp().isfinite(x).all())):
        raise ValueError(f"{p}argument '{argument}' contains NaN or inf")
    return x
