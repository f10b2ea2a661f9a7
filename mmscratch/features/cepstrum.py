"""MFCC stage 3: log, DCT-II, liftering and deltas (librosa's ``power_to_db``,
``scipy.fft.dct`` as a matrix, ``feature.delta``; python_speech_features' ``lifter``
and ``delta``), and the document's own log-ratio "MFCC".

    L_i = 10 log10 max(P_i, amin)  or  ln max(P_i, amin)        (log)
    c_j = sum_i D_ji L_i                                        (DCT-II, orthonormal)
    c_j <- c_j (1 + (Q/2) sin(pi (j + offset) / Q))             (lifter)
    d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2)           (deltas, Savitzky-Golay)

Chapter: chapters/03-1-feature-extraction.md. The pipeline: :mod:`mmscratch.features.mfcc`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from .spectrum import _matmul_last, _xp_of

__all__ = ["power_to_db", "log", "dct_matrix", "dct", "lifter", "deltas", "document_mfcc"]

_EPS = float(np.finfo(np.float64).eps)  # python_speech_features' floor before ln


def power_to_db(S, amin=1e-10, top_db=80.0, ref=1.0, *, valid=None):
    """Decibels ``10 log10(max(S, amin) / ref)``, clipped to ``top_db`` below the peak.

    The floor ``amin`` comes *before* the log, so silence gives ``10 log10(amin)``
    (-100 dB), never -inf. The peak is taken per clip over its last two axes (frames and
    bands), which is librosa's ``power_to_db`` applied to one clip at a time.

    Parameters
    ----------
    S : array (..., frames, bands), non-negative
    amin : float > 0
    top_db : float or None
    ref : float
    valid : bool array (..., frames), optional
        Frames that count for the peak (padding of variable-length batches does not).

    Returns
    -------
    array like ``S``

    Chapter: chapters/03-1-feature-extraction.md.
    """
    xp = _xp_of(S)
    if amin <= 0:
        raise ValueError(f"amin must be > 0, got {amin}")
    out = 10.0 * xp.log10(xp.maximum(S, amin))
    out = out - 10.0 * math.log10(max(amin, abs(ref)))
    return _clip_top(out, top_db, valid, xp)


def _clip_top(out, top_db, valid, xp):
    if top_db is None:
        return out
    if top_db < 0:
        raise ValueError(f"top_db must be >= 0, got {top_db}")
    masked = out if valid is None else xp.where(valid[..., None], out, -xp.inf)
    peak = masked.max(axis=(-2, -1), keepdims=True)
    return xp.maximum(out, peak - top_db)


def log(S, amin=_EPS):
    """Natural log ``ln(max(S, amin))``; the floor keeps silence finite (ln eps = -36)."""
    xp = _xp_of(S)
    return xp.log(xp.maximum(S, amin))


def dct_matrix(n_input, n_output=None, norm="ortho", dtype=np.float64):
    """DCT-II as a matrix ``D`` (n_output, n_input), so that ``c = D @ L``.

        D_ji = s_j cos(pi j (2 i + 1) / (2 N)),  N = n_input

    ``norm="ortho"``: ``s_0 = sqrt(1/N)``, ``s_j = sqrt(2/N)`` (orthonormal rows, as
    ``scipy.fft.dct(norm="ortho")``); ``norm=None``: ``s_j = 2`` (scipy's unnormalised).
    Keeping the first ``n_output`` rows truncates the cepstrum.

    Returns
    -------
    array (n_output, n_input) on the active backend.

    Chapter: chapters/03-1-feature-extraction.md.
    """
    return backend.asarray(_dct_host(n_input, n_output, norm).astype(dtype))


def _dct_host(n_input, n_output=None, norm="ortho"):
    N = int(n_input)
    K = N if n_output is None else int(n_output)
    if K > N:
        raise ValueError(f"n_mfcc={K} cannot exceed the number of mel bands {N}")
    j = np.arange(K)[:, None]
    i = np.arange(N)[None, :]
    D = np.cos(np.pi * j * (2 * i + 1) / (2 * N))
    if norm == "ortho":
        s = np.full((K, 1), math.sqrt(2.0 / N))
        s[0] = math.sqrt(1.0 / N)
        return D * s
    if norm is None:
        return 2.0 * D
    raise ValueError(f"norm must be 'ortho' or None, got {norm!r}")


def dct(L, D):
    """Cepstrum ``c_j = sum_i D_ji L_i``: (..., frames, n_mels) -> (..., frames, n_mfcc)."""
    return _matmul_last(L, D)


def _lifter_host(n, Q, offset):
    if not Q:
        return None
    if Q < 0:
        raise ValueError(f"lifter must be >= 0, got {Q}")
    return 1.0 + (Q / 2.0) * np.sin(np.pi * (np.arange(n) + offset) / Q)


def lifter(c, Q=22, offset=0, axis=-1):
    """Cepstral liftering ``c_j <- (1 + (Q/2) sin(pi (j + offset) / Q)) c_j``.

    ``offset=0`` is HTK / python_speech_features (c0 unchanged); librosa indexes from 1
    (``offset=1``). ``Q=0`` returns ``c`` unchanged. ``axis`` is the coefficient axis.

    Chapter: chapters/03-1-feature-extraction.md.
    """
    lift = _lifter_host(c.shape[axis], Q, offset)
    if lift is None:
        return c
    shape = [1] * c.ndim
    shape[axis] = -1
    return c * backend.asarray(lift.reshape(shape).astype(c.dtype))


def _savgol_host(width, order):
    """Savitzky-Golay weights for derivative ``order`` of a degree-``order`` local fit.

    Returns interior weights (W,), and the (h, W) maps from the first / last W frames
    to the first / last h = W // 2 outputs (scipy's ``mode="interp"``).
    """
    h = width // 2
    x = np.arange(width) - h
    A = x[:, None] ** np.arange(order + 1)[None, :]  # (W, p+1) Vandermonde
    pinv = np.linalg.pinv(A)  # polynomial coefficients = pinv @ y
    interior = math.factorial(order) * pinv[order]

    def deriv_rows(pos):
        # d^order/dx^order of sum_p a_p x^p at pos = sum_{p>=order} a_p p!/(p-order)! x^(p-order)
        rows = np.zeros((len(pos), width))
        for p in range(order, A.shape[1]):
            coef = math.factorial(p) / math.factorial(p - order)
            rows += coef * (pos[:, None] ** (p - order)) * pinv[p][None, :]
        return rows

    first = deriv_rows(np.arange(h) - h)  # outputs 0..h-1
    last = deriv_rows(np.arange(1, h + 1).astype(np.float64))  # outputs n-h..n-1
    return interior, first, last


def deltas(feat, width=9, order=1, mode="interp", axis=-1, lengths=None):
    """Delta features: the local slope of each coefficient over time.

    Regression over +-N frames (N = width // 2):

        d_t = sum_{k=1}^{N} k (c_{t+k} - c_{t-k}) / (2 sum_{k=1}^{N} k^2)

    ``mode="interp"`` (default) reproduces ``librosa.feature.delta`` (a Savitzky-Golay
    filter of polynomial order ``order``, ``scipy.signal.savgol_filter(mode="interp")``):
    the interior is the formula above for order 1 (for order 2 the second derivative of
    a local quadratic fit); the first and last N frames take the derivative of a
    polynomial fitted to the first/last ``width`` frames. Needs at least ``width`` frames.
    ``mode="edge"`` is python_speech_features' ``delta(feat, N)``: the formula above with
    the edge frames repeated; ``order=2`` there applies it twice (delta of delta).

    Parameters
    ----------
    feat : array (..., frames) along ``axis``; e.g. MFCC (..., n_mfcc, frames)
    width : odd int >= 3
    order : 1 or 2
    lengths : array of int (N,), optional
        Valid frames per clip of a padded (N, ..., frames) batch; each clip's edges are
        handled at its own length and the padding stays 0.

    Returns
    -------
    array like ``feat``

    Chapter: chapters/03-1-feature-extraction.md.
    """
    xp = _xp_of(feat)
    if width < 3 or width % 2 != 1:
        raise ValueError(f"width must be an odd integer >= 3, got {width}")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    if mode not in ("interp", "edge"):
        raise ValueError(f"mode must be 'interp' or 'edge', got {mode!r}")
    moved = xp.moveaxis(feat, axis, -1)
    T = moved.shape[-1]
    if lengths is None:
        n = np.full((1, 1), T, dtype=np.int64)  # (1, 1): one length for every row
        x = moved.reshape((1, -1, T))
    else:
        n = np.asarray(backend.to_numpy(lengths), dtype=np.int64).reshape(-1, 1)
        if n.shape[0] != moved.shape[0]:
            raise ValueError(f"deltas: {n.shape[0]} lengths for a batch of {moved.shape[0]}")
        x = moved.reshape((moved.shape[0], -1, T))  # (N, R, T)
    if mode == "interp" and n.min() < width:
        raise ValueError(f"deltas(mode='interp') needs at least width={width} frames, got "
                         f"{n.min()}; use a smaller width or mode='edge'")
    h = width // 2
    t = np.arange(T)[None, :]  # (1, T)
    k = np.arange(-h, h + 1)
    window_idx = np.clip(t[..., None] + k, 0, n[..., None] - 1)  # (N|1, T, W)
    if mode == "edge":
        w = k / (2.0 * np.sum(np.arange(1, h + 1) ** 2))
        out = _take(x, window_idx) @ backend.asarray(w.astype(x.dtype))  # (N, R, T)
    else:
        interior_w, first_w, last_w = _savgol_host(width, order)
        out = _take(x, window_idx) @ backend.asarray(interior_w.astype(x.dtype))
        head = x[..., :width] @ backend.asarray(first_w.T.astype(x.dtype))  # (N, R, h)
        tail = _take(x, n - width + np.arange(width)) @ backend.asarray(
            last_w.T.astype(x.dtype))  # (N, R, h)
        head_full = head[..., backend.asarray(np.minimum(np.arange(T), h - 1))]
        tail_full = _take(tail, np.clip(t - (n - h), 0, h - 1))
        out = xp.where(backend.asarray(t < h)[:, None, :], head_full, out)
        out = xp.where(backend.asarray(t >= n - h)[:, None, :], tail_full, out)
    if lengths is not None:
        out = xp.where(backend.asarray(t < n)[:, None, :], out, xp.zeros((), dtype=out.dtype))
    out = out.reshape(moved.shape)
    if mode == "edge" and order == 2:
        return deltas(xp.moveaxis(out, -1, axis), width, 1, "edge", axis, lengths)
    return xp.moveaxis(out, -1, axis)


def _take(x, idx):
    """``x[n, r, idx[n]]`` for x (N, R, T) and host ints idx (N or 1, ...) -> (N, R, ...)."""
    idx = np.asarray(idx)
    if idx.shape[0] == 1:
        return x[..., backend.asarray(idx[0])]
    extra = (1,) * (idx.ndim - 1)
    rows = np.arange(x.shape[0]).reshape((-1, 1) + extra)  # (N, 1, 1..)
    cols = np.arange(x.shape[1]).reshape((1, -1) + extra)  # (1, R, 1..)
    return x[backend.asarray(rows), backend.asarray(cols), backend.asarray(idx[:, None])]


def document_mfcc(P, amin=1e-10):
    """The source document's formula ``c_i = log10(P_i / P_{i-1})`` (NOT the MFCC).

    Kept only to compare with the standard definition: it is the log-ratio of
    neighbouring mel-band energies (a discrete spectral slope), with no DCT, so it
    neither decorrelates the bands nor compacts the envelope into a few coefficients.
    Floors before the log keep silence finite.

    Parameters
    ----------
    P : array (..., frames, n_mels) mel-band energies

    Returns
    -------
    array (..., frames, n_mels - 1), c_i for i = 1 .. n_mels - 1

    Chapter: chapters/03-1-feature-extraction.md.
    """
    xp = _xp_of(P)
    Pf = xp.maximum(P, amin)
    return xp.log10(Pf[..., 1:] / Pf[..., :-1])
