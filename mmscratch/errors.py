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
        # scikit-learn's wording for complex input, so its estimator checks recognise it.
        extra = " (Complex data not supported)" if x.dtype.kind == "c" else ""
        raise ValueError(f"{p}argument '{argument}' must have a {want} dtype, "
                         f"got {x.dtype}{extra}")
    if not allow_empty and x.size == 0:
        raise ValueError(f"{p}argument '{argument}' is empty (shape {tuple(x.shape)})")
    if finite and x.size and not bool(backend.to_numpy(backend.xp().isfinite(x).all())):
        raise ValueError(f"{p}argument '{argument}' contains NaN or inf")
    return x


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (scikit-learn's ``NotFittedError``).

    A ``ValueError`` and an ``AttributeError``, as in scikit-learn, so code written for
    either keeps working.
    """


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before it converged, or found a degenerate answer
    (k-means with fewer distinct points than clusters, SMO at ``max_iter``)."""


class InvalidParameterError(ValueError, TypeError):
    """A constructor or function argument has the wrong type or value.

    Both a ``ValueError`` and a ``TypeError``, as scikit-learn's
    ``InvalidParameterError``: ``except ValueError`` and ``except TypeError`` both catch
    it, so ``Dense(2.5)`` (a float where a count is meant) is refused whichever one the
    caller expects.
    """


def _count_phrase(minimum, allow_none):
    phrase = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
    return phrase + (" or None" if allow_none else "")


def check_count(value, argument, *, where="", minimum=1, allow_none=False):
    """Validate an argument that counts something and return it as a Python ``int``.

    The one rule for samples, components, clusters, units, epochs, iterations, FFT
    sizes...: Python and NumPy integers are accepted; ``bool`` is refused (``True`` is
    not a count); floats are refused, even ``512.0`` -- where a float means something
    else (seconds, a fraction of the variance) the caller handles it *before* calling
    this, and its docstring says so. This is scikit-learn's ``Interval(Integral, ...)``
    rule and librosa's ``n_fft`` rule.

    Parameters
    ----------
    value : object
        What the user passed.
    argument : str
        The argument's name, for the message.
    where : str
        The estimator, layer or function doing the check.
    minimum : int
        Smallest accepted value (``1`` by default; ``0`` for "may be zero").
    allow_none : bool
        Return ``None`` unchanged instead of refusing it.

    Raises
    ------
    InvalidParameterError
        A ``TypeError`` (and ``ValueError``): ``value`` is not an integer (a bool, a
        float, a string...); or a ``ValueError`` (and ``TypeError``): an integer below
        ``minimum``. The message names the argument, the value and the rule, e.g.
        ``Dense: argument 'units' must be an int, got float 3.0 (write 3 if you meant a
        count) (units must be a positive int)``.
    """
    import numbers

    if value is None and allow_none:
        return None
    p = _where(where)
    rule = f" ({argument} must be {_count_phrase(minimum, allow_none)})"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, numbers.Real) and not isinstance(value, bool) \
                and float(value).is_integer():
            hint = f" (write {int(value)} if you meant a count)"
        raise InvalidParameterError(f"{p}argument '{argument}' must be an int, got "
                                    f"{type(value).__name__} {value!r}{hint}{rule}")
    if value < minimum:
        raise InvalidParameterError(f"{p}argument '{argument}' must be an int >= {minimum}, "
                                    f"got {value!r}{rule}")
    return int(value)


def check_real(value, argument, *, where="", low=None, high=None, low_open=False,
               high_open=False):
    """Validate a real-valued hyperparameter (``C``, ``tol``, ``alpha``...) in an interval.

    Python and NumPy reals are accepted (integers too: ``C=1`` means ``1.0``); bools,
    NaN and strings are refused. ``low``/``high`` bound the interval, closed unless
    ``low_open``/``high_open``. Returns a Python ``float``.

    Raises
    ------
    TypeError
        Not a real number.
    ValueError
        NaN, or outside the interval.
    """
    import math
    import numbers

    p = _where(where)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{p}argument '{argument}' must be a real number, got "
                        f"{type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{p}argument '{argument}' must not be NaN")
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        interval = (f"{lo}{'-inf' if low is None else low}, "
                    f"{'inf' if high is None else high}{hi}")
        raise ValueError(f"{p}argument '{argument}' must be in {interval}, got {value!r}")
    return v
