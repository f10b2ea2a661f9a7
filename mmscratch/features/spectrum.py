"""MFCC stage 1: pre-emphasis, framing, window and power spectrum (librosa's
``core/spectrum.py`` and ``filters.get_window``, python_speech_features' ``sigproc``).

    x'[n] = x[n] - a x[n-1]                      (pre-emphasis)
    frame t = x'[t hop : t hop + frame_length]    (framing; centred with padding or not)
    P_k = |rfft(w * frame)_k|^power               (window, power spectrum, k = 0..n_fft/2)

Frame-major layout: frames are ``(..., n_frames, frame_length)`` (as ``torch.Tensor.unfold``),
spectra ``(..., n_frames, 1 + n_fft // 2)``. Every function runs on the active backend.

Chapter: chapters/03-1-feature-extraction.md. The pipeline: :mod:`mmscratch.features.mfcc`.
"""

from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["preemphasis", "num_frames", "frame", "get_window", "power_spectrum",
           "fft_frequencies"]

_PAD_MODES = ("constant", "reflect", "symmetric", "edge", "wrap")


def _xp_of(a):
    return backend.get_array_module(a) if backend.is_array(a) else backend.xp()


def preemphasis(x, coef=0.97, lengths=None):
    """First-order high-pass ``x'[n] = x[n] - a x[n-1]``, with ``x'[0] = x[0]``.

    Boosts high frequencies whose energy falls off in voiced speech. As in
    python_speech_features the first sample is kept as is.

    Parameters
    ----------
    x : array (..., samples)
    coef : float
        The coefficient ``a``; 0 returns ``x`` unchanged.
    lengths : array of int (N,), optional
        Valid samples per clip of a zero-padded ``(N, samples)`` batch; the output is
        zero beyond each length (so the filter does not leak ``-a x[len-1]`` into the
        padding).

    Returns
    -------
    array (..., samples)

    Chapter: chapters/03-1-feature-extraction.md.
    """
    xp = _xp_of(x)
    if coef == 0:
        return x
    y = xp.concatenate([x[..., :1], x[..., 1:] - coef * x[..., :-1]], axis=-1)
    if lengths is not None:
        mask = _sample_mask(lengths, x.shape[-1], xp)
        y = xp.where(mask, y, xp.zeros((), dtype=y.dtype))
    return y


def _sample_mask(lengths, n, xp):
    lens = backend.asarray(np.asarray(backend.to_numpy(lengths), dtype=np.int64))
    return xp.arange(n)[None, :] < lens[:, None]  # (N, n)


def num_frames(length, frame_length, hop_length, center=False, pad_end=False):
    """Number of frames of a clip of ``length`` samples (host integers, vectorised).

    * ``center=True`` pads ``frame_length // 2`` on both sides first (librosa);
    * ``pad_end=False``: only whole frames, ``1 + (L - frame_length) // hop``
      (librosa ``center=False``; needs ``L >= frame_length``);
    * ``pad_end=True``: zero-pad the end so every sample is covered,
      ``1 + ceil((L - frame_length) / hop)``, at least 1 (python_speech_features).

    Returns a NumPy int array (or int for an int ``length``).
    """
    L = np.asarray(length, dtype=np.int64)
    if center:
        L = L + 2 * (frame_length // 2)
    if pad_end:
        n = np.where(L <= frame_length, 1, 1 + -((frame_length - L) // hop_length))
    else:
        n = 1 + (L - frame_length) // hop_length
    return int(n) if n.ndim == 0 else n


def _reflect_index(p, n, mode, xp):
    """Map positions ``p`` (any ints) into ``[0, n)`` like ``np.pad`` modes."""
    if mode == "edge":
        return xp.clip(p, 0, n - 1)
    if mode == "wrap":
        return p % n
    if mode == "reflect":
        period = xp.maximum(2 * (n - 1), 1)
        m = p % period
        return xp.where(m >= n, period - m, m)
    if mode == "symmetric":
        period = 2 * n
        m = p % period
        return xp.where(m >= n, period - 1 - m, m)
    raise ValueError(f"pad_mode must be one of {_PAD_MODES}, got {mode!r}")


def frame(x, frame_length, hop_length, *, center=False, pad_mode="constant", pad_end=False,
          lengths=None):
    """Cut signals into overlapping frames (one strided view, no loop over frames).

    Frame t of a clip covers samples ``t*hop - pad .. t*hop - pad + frame_length - 1``
    with ``pad = frame_length // 2`` when ``center`` (librosa) and 0 otherwise.

    Parameters
    ----------
    x : array (..., samples), or (N, samples) zero-padded clips when ``lengths`` is given
    frame_length, hop_length : int
        Samples per frame and between frame starts.
    center : bool
        Pad both ends by ``frame_length // 2`` with ``pad_mode`` so that frame t is
        centred on sample ``t * hop``.
    pad_mode : {"constant", "reflect", "symmetric", "edge", "wrap"}
        As ``np.pad``; each clip is padded at its own length.
    pad_end : bool
        Zero-pad the end so that the last samples get a frame (python_speech_features).
    lengths : array of int (N,), optional
        Valid samples per clip.

    Returns
    -------
    frames : array (..., n_frames_max, frame_length)
        A strided *view* of the padded signal (overlapping frames share memory: read it,
        do not write into it). Frames past a clip's own count are computed from padding;
        mask them with ``n_frames``.
    n_frames : numpy int array (N,) or int
        Frames per clip (host values: they are shapes, not data).

    Chapter: chapters/03-1-feature-extraction.md.
    """
    xp = _xp_of(x)
    L = x.shape[-1]
    pad = frame_length // 2 if center else 0
    if lengths is None:
        lens = np.asarray(L)
    else:
        lens = np.asarray(backend.to_numpy(lengths), dtype=np.int64).reshape(-1)
        if x.ndim != 2 or lens.shape[0] != x.shape[0]:
            raise ValueError(f"frame: lengths of shape {lens.shape} need x of shape (N, samples) "
                             f"with N = {lens.shape[0]}, got {tuple(x.shape)}")
        if lens.size and (lens.min() < 1 or lens.max() > L):
            raise ValueError(f"frame: lengths must lie in [1, {L}], got {lens.min()}..{lens.max()}")
    n = num_frames(lens, frame_length, hop_length, center=center, pad_end=pad_end)
    n_arr = np.asarray(n)
    if n_arr.size and n_arr.min() < 1:
        short = int(np.asarray(lens).reshape(-1)[np.argmin(n_arr.reshape(-1))])
        raise ValueError(f"frame: a clip of {short} samples is shorter than frame_length="
                         f"{frame_length} (use center=True or pad_end=True)")
    t_max = int(n_arr.max()) if n_arr.size else 0
    total = (t_max - 1) * hop_length + frame_length  # padded samples the frames touch
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"pad_mode must be one of {_PAD_MODES}, got {pad_mode!r}")
    if lengths is not None and pad_mode == "constant":
        # zero whatever lies past each clip, then one constant pad serves all clips
        x = xp.where(_sample_mask(lens, L, xp), x, xp.zeros((), dtype=x.dtype))
    if lengths is None or pad_mode == "constant":
        right = max(total - pad - L, 0)
        widths = [(0, 0)] * (x.ndim - 1) + [(pad, right)]
        if pad and pad_mode != "constant":
            # pad both ends with the mode (np.pad semantics), then zeros beyond
            y = xp.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode=pad_mode)
            y = xp.pad(y, [(0, 0)] * (x.ndim - 1) + [(0, max(total - L - 2 * pad, 0))])
        else:
            y = xp.pad(x, widths) if (pad or right) else x
    else:
        # variable lengths with a reflecting mode: one gather per clip's own length
        q = np.arange(max(total, L + 2 * pad)) - pad  # (Lp,) position in the clip
        lens_b = lens[:, None]
        idx = _reflect_index(q[None, :], lens_b, pad_mode, np)
        inside = q[None, :] < lens_b + pad
        idx = np.where(inside, idx, 0)
        rows = np.arange(x.shape[0])[:, None]
        y = x[backend.asarray(rows), backend.asarray(idx)]
        y = xp.where(backend.asarray(inside), y, xp.zeros((), dtype=x.dtype))
    y = xp.ascontiguousarray(y)
    step = y.strides[-1]
    # a strided view (no copy): frame t starts hop_length samples after frame t-1
    frames = xp.lib.stride_tricks.as_strided(
        y, shape=tuple(y.shape[:-1]) + (t_max, frame_length),
        strides=tuple(y.strides[:-1]) + (hop_length * step, step))  # (..., T, frame_length)
    return frames, (n if lengths is not None else int(n_arr))


def get_window(window, win_length, n_fft=None, *, fftbins=True, dtype=np.float64):
    """Analysis window of ``win_length`` samples, zero-padded (centred) to ``n_fft``.

    * ``"hann"``:    w[n] = 0.5 - 0.5 cos(2 pi n / M)
    * ``"hamming"``: w[n] = 0.54 - 0.46 cos(2 pi n / M)
    * ``None``, ``"none"``, ``"ones"``, ``"boxcar"``, ``"rectangular"``: w[n] = 1

    with ``M = win_length`` (periodic, ``fftbins=True``, as ``scipy.signal.get_window``
    and librosa) or ``M = win_length - 1`` (symmetric, ``numpy.hanning``). An array or a
    callable ``f(win_length)`` is accepted as is.

    Returns
    -------
    array (n_fft or win_length,) on the active backend.

    Chapter: chapters/03-1-feature-extraction.md.
    """
    M = int(win_length)
    if callable(window) and not isinstance(window, str):
        w = np.asarray(window(M), dtype=np.float64)
    elif window is None or (isinstance(window, str) and window.lower() in
                            ("none", "ones", "boxcar", "rectangular", "rect")):
        w = np.ones(M)
    elif isinstance(window, str):
        name = window.lower()
        denom = M if fftbins else max(M - 1, 1)
        phase = 2 * np.pi * np.arange(M) / denom
        if name in ("hann", "hanning"):
            w = 0.5 - 0.5 * np.cos(phase)
        elif name == "hamming":
            w = 0.54 - 0.46 * np.cos(phase)
        else:
            raise ValueError(f"window must be 'hann', 'hamming', None, an array or a callable, "
                             f"got {window!r}")
    else:
        w = np.asarray(backend.to_numpy(window), dtype=np.float64).reshape(-1)
    if w.shape != (M,):
        raise ValueError(f"window has {w.shape[0]} samples, expected win_length={M}")
    if n_fft is not None and n_fft != M:
        if M > n_fft:
            raise ValueError(f"win_length={M} must be <= n_fft={n_fft}")
        left = (n_fft - M) // 2  # librosa.util.pad_center
        w = np.pad(w, (left, n_fft - M - left))
    return backend.asarray(w.astype(dtype))


def power_spectrum(frames, n_fft=None, power=2.0, scale=None):
    """``P_k = |X_k|^power`` of each frame, with ``X = rfft(frame, n_fft)``.

    Parameters
    ----------
    frames : array (..., n_frames, frame_length)
        Windowed frames; shorter than ``n_fft`` -> zero-padded at the end, longer ->
        cropped (as ``numpy.fft.rfft(frames, n)``).
    n_fft : int, optional
        FFT size (default: frame length).
    power : float
        2 for power (default), 1 for magnitude.
    scale : None or "n_fft"
        ``"n_fft"`` divides by n_fft (python_speech_features' ``powspec``).

    Returns
    -------
    array (..., n_frames, 1 + n_fft // 2)

    Chapter: chapters/03-1-feature-extraction.md.
    """
    xp = _xp_of(frames)
    n_fft = frames.shape[-1] if n_fft is None else int(n_fft)
    X = xp.fft.rfft(frames, n=n_fft, axis=-1)
    if power == 2:
        P = xp.abs(X)  # |X|^2 as |X| * |X|: one fast vectorised hypot, as both references do
        P *= P  # in place: no second spectrum-sized array
    elif power == 1:
        P = xp.abs(X)
    else:
        P = xp.abs(X) ** power
    P = P.astype(frames.dtype, copy=False)
    if scale == "n_fft":
        P = P * (1.0 / n_fft)
    elif scale is not None:
        raise ValueError(f"scale must be None or 'n_fft', got {scale!r}")
    return P


def fft_frequencies(sample_rate, n_fft):
    """Centre frequency (Hz) of each rFFT bin: ``k * sr / n_fft``, k = 0..n_fft//2 (host)."""
    return np.fft.rfftfreq(n=int(n_fft), d=1.0 / sample_rate)


def _matmul_last(x, M):
    """``x @ M.T`` along the last axis (the feature axis of the stage layout)."""
    return _mm(x, M.T.astype(x.dtype, copy=False))


def _mm(x, M):
    """``x @ M`` for x (..., K) as one 2-D GEMM (stacked 3-D matmul runs one small GEMM per
    clip, several times slower)."""
    out = x.reshape((-1, x.shape[-1])) @ M
    return out.reshape(tuple(x.shape[:-1]) + (M.shape[-1],))
