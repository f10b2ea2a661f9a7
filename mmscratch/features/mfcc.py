"""Mel-frequency cepstral coefficients (MFCC), built stage by stage from scratch.

The source document (section 3.1.3) writes the MFCC as ``c_i = log10(P_i / P_{i-1})``
with ``P_i`` the energy of mel band i. That is *not* how MFCCs are defined: it is a
log-ratio of neighbouring bands (a crude spectral slope). The standard pipeline,
implemented here, is

    x  --pre-emphasis-->  x'[n] = x[n] - a x[n-1]
       --framing------->  frames (hop, frame length; centred with padding or not)
       --window-------->  w[n] * frame[n]
       --rFFT---------->  P_k = |X_k|^power            (power spectrum, k = 0..n_fft/2)
       --mel matrix---->  P_i = sum_k H_ik P_k          (triangular filters on the mel scale)
       --log----------->  L_i = log P_i  (natural) or 10 log10 P_i (dB, with top_db)
       --DCT-II-------->  c_j = sum_i D_ji L_i          (orthonormal, as a matrix product)
       --lifter-------->  c_j (1 + (Q/2) sin(pi j / Q))
       [--deltas------>  regression over +-N frames]

Every stage is a public function, so a notebook can call and plot each one. The
:class:`MFCC` class precomputes window, filterbank, DCT matrix and lifter once and runs
whole batches through framing, FFT and two matrix products without a Python loop over
clips, frames or filters (it runs unchanged on CuPy through ``mmscratch.backend``).

Two presets reproduce the libraries people use, on the same input:

``preset="librosa"``
    ``librosa.feature.mfcc`` defaults: n_fft 2048, hop 512, periodic Hann window,
    centred frames with constant (zero) padding, power spectrum, 128 Slaney-scale,
    Slaney-normalised filters, ``power_to_db`` (amin 1e-10, top_db 80), 20 coefficients,
    DCT-II ortho, lifter ``1 + (Q/2) sin(pi (j+1) / Q)`` (librosa's index shift).
``preset="python_speech_features"``
    ``python_speech_features.mfcc`` (release 0.6) defaults: 25 ms / 10 ms frames, no
    window, pre-emphasis 0.97, nfft 512 (``nfft="pow2"`` gives the next power of two
    >= the window, as its later source does), zero padding at the end, power spectrum
    divided by nfft, 26 HTK-scale filters with edges snapped to FFT bins, natural log,
    13 coefficients, lifter 22, c0 replaced by the log frame energy.

Layouts: the stage functions work frame-major, ``(..., frames, features)`` (frames from
:func:`frame` are ``(..., n_frames, frame_length)``, as ``torch.Tensor.unfold``); the
final :func:`mfcc` / :class:`MFCC` output is ``(..., n_mfcc, frames)`` like librosa.

Chapter: chapters/03-1-feature-extraction.md.
"""

from __future__ import annotations

import decimal
import math

import numpy as np

from .. import backend
from ..errors import check_count

__all__ = [
    "PRESETS",
    "preemphasis",
    "frame",
    "num_frames",
    "get_window",
    "power_spectrum",
    "fft_frequencies",
    "hz_to_mel",
    "mel_to_hz",
    "mel_frequencies",
    "mel_filterbank",
    "apply_filterbank",
    "power_to_db",
    "log",
    "dct_matrix",
    "dct",
    "lifter",
    "deltas",
    "document_mfcc",
    "mfcc",
    "MFCC",
]

# --------------------------------------------------------------------------- presets
#: Settings of the two reference libraries. ``int`` sizes are samples, ``float`` sizes
#: are seconds. Explicit keyword arguments override these values.
PRESETS = {
    "librosa": dict(
        n_mfcc=20, n_fft=2048, hop_length=512, win_length=None, window="hann",
        center=True, pad_mode="constant", window_pad="center", pad_end=False,
        power=2.0, spectrum_scale=None, n_mels=128, fmin=0.0, fmax=None, htk=False,
        mel_norm="slaney", mel_quantize=False, log="db", amin=1e-10, top_db=80.0,
        norm="ortho", lifter=0, lifter_offset=1, preemphasis=0.0, append_energy=False,
    ),
    "python_speech_features": dict(
        n_mfcc=13, n_fft=512, hop_length=0.01, win_length=0.025, window=None,
        center=False, pad_mode="constant", window_pad="end", pad_end=True,
        power=2.0, spectrum_scale="n_fft", n_mels=26, fmin=0.0, fmax=None, htk=True,
        mel_norm=None, mel_quantize=True, log="ln", amin=float(np.finfo(np.float64).eps),
        top_db=None, norm="ortho", lifter=22, lifter_offset=0, preemphasis=0.97,
        append_energy=True,
    ),
}
#: ``preset=None``: librosa's pipeline with 13 coefficients.
_DEFAULT = dict(PRESETS["librosa"], n_mfcc=13)

#: python_speech_features' argument names, accepted as aliases.
_ALIASES = {
    "winlen": "win_length", "winstep": "hop_length", "nfft": "n_fft", "nfilt": "n_mels",
    "numcep": "n_mfcc", "lowfreq": "fmin", "highfreq": "fmax", "preemph": "preemphasis",
    "ceplifter": "lifter", "appendEnergy": "append_energy", "winfunc": "window",
}
_SECONDS_ALIASES = ("winlen", "winstep")
_PAD_MODES = ("constant", "reflect", "symmetric", "edge", "wrap")
_EPS = float(np.finfo(np.float64).eps)  # python_speech_features' floor before ln


def _round_half_up(v: float) -> int:
    # python_speech_features rounds frame sizes this way (decimal, not banker's rounding).
    return int(decimal.Decimal(v).quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP))


def _to_samples(v, sample_rate, name):
    """``int`` -> samples (:func:`mmscratch.errors.check_count`); ``float`` -> seconds
    converted with round-half-up (documented for ``hop_length``/``win_length`` only)."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        n = _round_half_up(float(v) * sample_rate)
        if n < 1:
            raise ValueError(f"MFCC: {name} must be at least one sample, got {v!r} seconds "
                             f"({n} samples at {sample_rate:g} Hz)")
        return n
    return check_count(v, name, where="MFCC")


def _xp_of(a):
    return backend.get_array_module(a) if backend.is_array(a) else backend.xp()


def _float_dtype(a):
    return a.dtype if a.dtype.kind == "f" else np.dtype(backend.floatx())


# --------------------------------------------------------------------------- stages
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
        A = xp.abs(X)  # |X|^2 as |X| * |X|: one fast vectorised hypot, as both references do
        P = A * A
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


_F_SP = 200.0 / 3  # Slaney: 66.67 Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f, htk=False):
    """Hertz to mel.

    HTK: ``m = 2595 log10(1 + f / 700)``. Slaney (Auditory Toolbox, librosa's default):
    linear ``m = f / (200/3)`` below 1 kHz, logarithmic ``m = 15 + ln(f / 1000) / (ln 6.4 / 27)``
    above. Works on floats, NumPy arrays and backend arrays.

    Chapter: chapters/03-1-feature-extraction.md.
    """
    m = _xp_of(f) if backend.is_array(f) else np
    f = m.asarray(f, dtype=np.float64) if not backend.is_array(f) else f
    if htk:
        return 2595.0 * m.log10(1.0 + f / 700.0)
    safe = m.maximum(f, _MIN_LOG_HZ)  # log of >= 1 kHz only; the where picks the branch
    return m.where(f >= _MIN_LOG_HZ, _MIN_LOG_MEL + m.log(safe / _MIN_LOG_HZ) / _LOGSTEP,
                   f / _F_SP)


def mel_to_hz(mel, htk=False):
    """Mel to hertz, the inverse of :func:`hz_to_mel` (HTK or Slaney scale).

    HTK: ``f = 700 (10^(m / 2595) - 1)``; Slaney: ``f = (200/3) m`` below 15 mel,
    ``f = 1000 exp((ln 6.4 / 27)(m - 15))`` above.

    Chapter: chapters/03-1-feature-extraction.md.
    """
    m = _xp_of(mel) if backend.is_array(mel) else np
    mel = m.asarray(mel, dtype=np.float64) if not backend.is_array(mel) else mel
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    return m.where(mel >= _MIN_LOG_MEL,
                   _MIN_LOG_HZ * m.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), _F_SP * mel)


def mel_frequencies(n_mels=128, fmin=0.0, fmax=11025.0, htk=False):
    """``n_mels`` frequencies (Hz) equally spaced on the mel scale from fmin to fmax (host)."""
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
    return mel_to_hz(mels, htk=htk)


def _mel_filterbank_host(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm, quantize):
    fmax = float(sample_rate) / 2 if fmax is None else float(fmax)
    n_bins = 1 + int(n_fft) // 2
    if quantize:
        # python_speech_features: band edges snapped to FFT bin numbers, triangles in bins
        if fmax > sample_rate / 2:
            raise ValueError(f"fmax={fmax} exceeds the Nyquist frequency {sample_rate / 2}")
        mel_pts = np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2)
        edges = np.floor((n_fft + 1) * mel_to_hz(mel_pts, htk) / sample_rate)
        lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        i = np.arange(n_bins)[None, :].astype(np.float64)
        up = (i >= lo) & (i < mid)
        down = (i >= mid) & (i < hi)
        weights = (np.where(up, (i - lo) / np.where(mid > lo, mid - lo, 1), 0.0)
                   + np.where(down, (hi - i) / np.where(hi > mid, hi - mid, 1), 0.0))
    else:
        # librosa.filters.mel: triangles between neighbouring mel points, in Hz
        fftfreqs = fft_frequencies(sample_rate, n_fft)
        mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
        fdiff = np.diff(mel_f)
        ramps = mel_f[:, None] - fftfreqs[None, :]  # (n_mels + 2, n_bins)
        lower = -ramps[:-2] / fdiff[:-1, None]
        upper = ramps[2:] / fdiff[1:, None]
        weights = np.maximum(0.0, np.minimum(lower, upper))
        if norm == "slaney":
            weights = weights * (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    if norm is not None and norm != "slaney":
        if not isinstance(norm, (int, float)) or isinstance(norm, bool):
            raise ValueError(f"mel_norm must be None, 'slaney' or a number (p-norm), got {norm!r}")
        length = (np.max(np.abs(weights), axis=1, keepdims=True) if np.isinf(norm)
                  else np.sum(np.abs(weights) ** norm, axis=1, keepdims=True) ** (1.0 / norm))
        tiny = np.finfo(np.float64).tiny
        weights = weights / np.where(length < tiny, 1.0, length)
    elif norm == "slaney" and quantize:
        raise ValueError("mel_norm='slaney' is not defined for bin-quantised (python_speech_"
                         "features) filters; use mel_norm=None")
    return weights


def mel_filterbank(sample_rate, n_fft, n_mels=128, fmin=0.0, fmax=None, htk=False,
                   norm="slaney", *, quantize=False, dtype=np.float64):
    """Triangular mel filterbank ``H`` (n_mels, 1 + n_fft // 2), as ``librosa.filters.mel``.

    Filter i rises linearly from mel point f_{i} to f_{i+1} and falls to f_{i+2}, the
    ``n_mels + 2`` points being equally spaced on the mel scale (HTK or Slaney) between
    ``fmin`` and ``fmax`` (default sr/2):

        H_ik = max(0, min((f_k - f_i) / (f_{i+1} - f_i), (f_{i+2} - f_k) / (f_{i+2} - f_{i+1})))

    ``norm="slaney"`` scales filter i by ``2 / (f_{i+2} - f_i)`` (equal area); a number
    p divides each row by its p-norm; None leaves peaks at 1. ``quantize=True`` snaps the
    edges to FFT bins ``floor((n_fft + 1) f / sr)`` and draws the triangles in bin units,
    as python_speech_features' ``get_filterbanks``.

    Returns
    -------
    array (n_mels, 1 + n_fft // 2) on the active backend (built on the host).

    Chapter: chapters/03-1-feature-extraction.md.
    """
    w = _mel_filterbank_host(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm, quantize)
    return backend.asarray(w.astype(dtype))


def _matmul_last(x, M):
    """``x @ M.T`` along the last axis (the feature axis of the stage layout)."""
    return _mm(x, M.T.astype(x.dtype, copy=False))


def _mm(x, M):
    """``x @ M`` for x (..., K) as one 2-D GEMM (stacked 3-D matmul runs one small GEMM per
    clip, several times slower)."""
    out = x.reshape((-1, x.shape[-1])) @ M
    return out.reshape(tuple(x.shape[:-1]) + (M.shape[-1],))


def apply_filterbank(P, H):
    """Mel-band energies ``P_i = sum_k H_ik P_k``: (..., frames, bins) -> (..., frames, n_mels)."""
    return _matmul_last(P, H)


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


# --------------------------------------------------------------------------- pipeline
def _resolve(sample_rate, n_mfcc, preset, kwargs):
    if preset is None:
        cfg = dict(_DEFAULT)
    elif preset in PRESETS:
        cfg = dict(PRESETS[preset])
    else:
        raise ValueError(f"preset must be None, 'librosa' or 'python_speech_features', "
                         f"got {preset!r}")
    extra = dict(deltas=0, delta_width=9, delta_mode="interp", dtype=None)
    cfg.update(extra)
    explicit = {}
    for key, value in kwargs.items():
        name = _ALIASES.get(key, key)
        if key in _SECONDS_ALIASES and isinstance(value, (int, np.integer)):
            value = float(value)  # winlen / winstep are seconds even when written as 1
        if name not in cfg:
            raise TypeError(f"MFCC got an unexpected keyword argument {key!r}")
        if name in explicit:
            raise TypeError(f"MFCC got {name!r} twice (through an alias)")
        explicit[name] = value
    if n_mfcc is not None:
        explicit["n_mfcc"] = n_mfcc
    cfg.update(explicit)
    if cfg["log"] not in ("db", "ln"):
        raise ValueError(f"log must be 'db' or 'ln', got {cfg['log']!r}")
    if cfg["log"] == "ln" and "amin" not in explicit and preset != "python_speech_features":
        cfg["amin"] = float(np.finfo(np.float64).eps)
    sr = float(sample_rate)
    if not (math.isfinite(sr) and sr > 0):
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate!r}")
    # Counts follow librosa's rule: ints only, a float n_fft (2048.0) is refused at once
    # instead of being read as something else. Only hop_length/win_length take floats,
    # documented as seconds (python_speech_features' winstep/winlen).
    for key, minimum in (("n_mfcc", 1), ("n_mels", 1), ("deltas", 0), ("delta_width", 3)):
        cfg[key] = check_count(cfg[key], key, where="MFCC", minimum=minimum)
    if cfg["deltas"] > 2:
        raise ValueError(f"MFCC: deltas must be 0, 1 or 2, got {cfg['deltas']}")
    win = _to_samples(cfg["win_length"], sr, "win_length")
    hop = _to_samples(cfg["hop_length"], sr, "hop_length")
    n_fft = cfg["n_fft"]
    if isinstance(n_fft, str) and n_fft == "pow2":
        base = win if win is not None else 1
        n_fft = 1 << max(int(base - 1).bit_length(), 0)
    else:
        n_fft = check_count(n_fft, "n_fft", where="MFCC")
    if win is None:
        win = n_fft
    if hop is None:
        hop = win // 4
    cfg.update(n_fft=n_fft, win_length=win, hop_length=hop)
    if cfg["window_pad"] not in ("center", "end"):
        raise ValueError(f"window_pad must be 'center' or 'end', got {cfg['window_pad']!r}")
    if cfg["window_pad"] == "center" and win > n_fft:
        raise ValueError(f"win_length={win} must be <= n_fft={n_fft}")
    if int(cfg["n_mfcc"]) > int(cfg["n_mels"]):
        raise ValueError(f"n_mfcc={cfg['n_mfcc']} cannot exceed n_mels={cfg['n_mels']}")
    return cfg


class MFCC:
    """MFCC extractor that precomputes window, mel filterbank, DCT matrix and lifter once.

    ``MFCC(sample_rate, n_mfcc=None, preset=None, **kwargs)(signal)`` computes

        c = lift * (D @ log(H @ |rfft(w * frame(preemphasis(x)))|^power))

    for a whole batch at once. See the module docstring for the stages and presets.

    Parameters
    ----------
    sample_rate : float
    n_mfcc : int, optional
        Coefficients kept (default 13; 20 with ``preset="librosa"``).
    preset : None, "librosa" or "python_speech_features"
        Starting values; explicit keywords override them. ``None`` is librosa's
        pipeline with 13 coefficients.
    n_fft : int or "pow2"
        FFT size in samples; ``"pow2"`` = next power of two >= win_length. A float
        (``2048.0``) raises ``TypeError`` at once, as in librosa (counts are ints:
        :func:`mmscratch.errors.check_count`); so do ``n_mfcc``, ``n_mels``, ``deltas``.
    hop_length, win_length : int (samples) or float (seconds)
        ``winstep`` / ``winlen`` (seconds, python_speech_features' names) are aliases.
    window : "hann", "hamming", None, array or callable
    center, pad_mode : librosa's centred framing and its padding mode.
    window_pad : "center" or "end"
        librosa frames ``n_fft`` samples with the window zero-padded in the middle;
        python_speech_features frames ``win_length`` samples and zero-pads the end of
        each frame to ``n_fft`` in the FFT.
    pad_end : bool
        Zero-pad the signal end so that no sample is dropped (python_speech_features).
    power : float
        2 power spectrum, 1 magnitude.
    spectrum_scale : None or "n_fft"
        Divide the power spectrum by n_fft (python_speech_features).
    n_mels, fmin, fmax, htk, mel_norm, mel_quantize : the mel filterbank
        (:func:`mel_filterbank`; ``mel_norm`` is its ``norm``).
    log : "db" or "ln"
        ``10 log10`` with ``top_db`` clipping, or natural log.
    amin : float
        Floor applied before the log (1e-10 for dB, machine epsilon for ln), so silence
        gives finite coefficients.
    top_db : float or None
        Dynamic range kept below each clip's peak (in dB; scaled for ln).
    norm : "ortho" or None
        The DCT-II scaling, as in ``librosa.feature.mfcc``.
    lifter : float
        Cepstral lifter Q (0 = off); ``lifter_offset`` 0 = HTK, 1 = librosa indexing.
    preemphasis : float
        Coefficient a of ``x[n] - a x[n-1]`` (0 = off).
    append_energy : bool
        Replace c0 by the log of the frame's total spectral energy (same log and floor).
    deltas : 0, 1 or 2
        Append delta (and delta-delta) coefficients along the coefficient axis;
        ``delta_width`` (default 9) and ``delta_mode`` ("interp" = librosa, "edge" =
        python_speech_features) as in :func:`deltas`.
    dtype : None or dtype
        Compute dtype; default: the signal's float dtype (integers -> ``floatx()``).

    Call
    ----
    ``extractor(signal, lengths=None)`` with ``signal``:

    * an array ``(..., samples)`` of the active backend -> ``(..., n_mfcc, frames)``;
    * with ``lengths`` (N,) for a zero-padded ``(N, samples)`` batch, or a list of 1-D
      clips of different lengths (host arrays, padded and moved once) ->
      ``(features (N, n_mfcc, frames_max), n_frames (N,))``; frames past a clip's own
      count are 0. Clips are processed in length-sorted chunks of at most
      ``max_chunk`` frame samples, so memory stays bounded.

    Integer PCM is cast to the float dtype; boolean or object signals raise
    ``ValueError``. Samples are not scanned for NaN/inf (that would cost a device
    sync): a NaN or inf in a clip makes that clip's coefficients NaN and leaves the
    other clips of the batch unchanged (tests/test_validation.py).

    Chapter: chapters/03-1-feature-extraction.md.
    """

    def __init__(self, sample_rate, n_mfcc=None, preset=None, *, max_chunk=1 << 21, **kwargs):
        self.sample_rate = float(sample_rate)
        self.preset = preset
        self.max_chunk = check_count(max_chunk, "max_chunk", where="MFCC")
        self.kwargs = dict(kwargs)
        cfg = _resolve(sample_rate, n_mfcc, preset, kwargs)
        self.config = cfg
        self.n_mfcc = int(cfg["n_mfcc"])
        self.n_fft = cfg["n_fft"]
        self.hop_length = cfg["hop_length"]
        self.win_length = cfg["win_length"]
        self.frame_length = self.n_fft if cfg["window_pad"] == "center" else self.win_length
        pad_to = self.n_fft if cfg["window_pad"] == "center" else None
        # host copies; moved to the backend (and dtype) lazily, once per backend/dtype
        self.window_host = backend.to_numpy(get_window(cfg["window"], self.win_length, pad_to))
        self.mel_host = _mel_filterbank_host(self.sample_rate, self.n_fft, int(cfg["n_mels"]),
                                             cfg["fmin"], cfg["fmax"], cfg["htk"],
                                             cfg["mel_norm"], cfg["mel_quantize"])
        self.dct_host = _dct_host(int(cfg["n_mels"]), self.n_mfcc, cfg["norm"])
        self.lifter_host = _lifter_host(self.n_mfcc, cfg["lifter"], cfg["lifter_offset"])
        self._device = {}

    # ------------------------------------------------------------------ helpers
    def _constants(self, dtype):
        key = (backend.name(), np.dtype(dtype).str)
        if key not in self._device:
            w = self.window_host
            is_ones = bool(np.all(w == 1.0))
            self._device[key] = dict(
                window=None if is_ones else backend.asarray(w.astype(dtype)),
                mel_T=backend.asarray(np.ascontiguousarray(self.mel_host.T).astype(dtype)),
                dct_T=backend.asarray(np.ascontiguousarray(self.dct_host.T).astype(dtype)),
                lift=None if self.lifter_host is None
                else backend.asarray(self.lifter_host.astype(dtype)),
            )
        return self._device[key]

    def num_frames(self, length):
        """Frames produced for a clip of ``length`` samples (int or host int array)."""
        c = self.config
        return num_frames(length, self.frame_length, self.hop_length, center=c["center"],
                          pad_end=c["pad_end"])

    @property
    def n_features(self):
        """Coefficients per frame in the output: n_mfcc * (1 + deltas)."""
        return self.n_mfcc * (1 + int(self.config["deltas"]))

    # ------------------------------------------------------------------ stages
    def stages(self, x, lengths=None):
        """All intermediate arrays of the pipeline for a (N, samples) batch (for plots).

        Returns a dict with ``emphasized`` (N, L), ``frames`` (N, T, frame_length),
        ``windowed``, ``power`` (N, T, bins), ``mel`` (N, T, n_mels), ``log_mel``,
        ``cepstrum`` (N, T, n_mfcc, before lifter/energy), ``mfcc`` (N, n_mfcc, T) and
        ``n_frames``.
        """
        return self._run(x, lengths, keep=True)

    def _run(self, x, lengths, keep=False):
        xp = backend.xp()
        c = self.config
        dtype = np.dtype(c["dtype"]) if c["dtype"] is not None else _float_dtype(x)
        if x.dtype != dtype:
            x = x.astype(dtype)
        k = self._constants(dtype)
        out = {}
        emph = preemphasis(x, c["preemphasis"], lengths) if c["preemphasis"] else x
        frames, n = frame(emph, self.frame_length, self.hop_length, center=c["center"],
                          pad_mode=c["pad_mode"], pad_end=c["pad_end"], lengths=lengths)
        windowed = frames if k["window"] is None else frames * k["window"]
        P = power_spectrum(windowed, self.n_fft, c["power"], c["spectrum_scale"])  # (N,T,K)
        mel = _mm(P, k["mel_T"])  # (N, T, M)
        T = frames.shape[-2]
        valid = None
        if lengths is not None:
            valid = backend.asarray(np.arange(T)[None, :] < np.asarray(n)[:, None])
        if c["log"] == "db":
            logmel = power_to_db(mel, c["amin"], c["top_db"], valid=valid)
        else:
            logmel = log(mel, c["amin"])
            if c["top_db"] is not None:
                logmel = _clip_top(logmel, c["top_db"] * math.log(10.0) / 10.0, valid, xp)
        cep = _mm(logmel, k["dct_T"])  # (N, T, C)
        coeffs = cep if k["lift"] is None else cep * k["lift"]
        if c["append_energy"]:
            energy = P.sum(axis=-1, keepdims=True)  # (N, T, 1)
            e = (10.0 * xp.log10(xp.maximum(energy, c["amin"])) if c["log"] == "db"
                 else xp.log(xp.maximum(energy, c["amin"])))
            coeffs = xp.concatenate([e, coeffs[..., 1:]], axis=-1)
        if valid is not None:
            coeffs = xp.where(valid[..., None], coeffs, xp.zeros((), dtype=coeffs.dtype))
        result = xp.swapaxes(coeffs, -1, -2)  # (N, C, T) like librosa
        if c["deltas"]:
            parts = [result]
            for order in range(1, int(c["deltas"]) + 1):
                parts.append(deltas(result, c["delta_width"], order, c["delta_mode"], axis=-1,
                                    lengths=n if lengths is not None else None))
            result = xp.concatenate(parts, axis=-2)
        if keep:
            out.update(emphasized=emph, frames=frames, windowed=windowed, power=P, mel=mel,
                       log_mel=logmel, cepstrum=cep, mfcc=result, n_frames=n)
            return out
        return result, n

    def __call__(self, signal, lengths=None):
        if isinstance(signal, (list, tuple)):
            return self._variable(signal)
        backend.check_backend(signal, "signal", "MFCC")
        if signal.dtype.kind not in "fiu":
            raise ValueError(f"MFCC: argument 'signal' must have a floating or integer "
                             f"dtype, got {signal.dtype}")
        if signal.ndim < 1 or signal.shape[-1] == 0:
            raise ValueError(f"MFCC: signal must have shape (..., samples) with samples > 0, "
                             f"got {tuple(signal.shape)}")
        if lengths is not None:
            if signal.ndim != 2:
                raise ValueError(f"MFCC: lengths need a (N, samples) signal, got "
                                 f"{tuple(signal.shape)}")
            return self._chunked(signal, np.asarray(backend.to_numpy(lengths), dtype=np.int64))
        lead = signal.shape[:-1]
        x = signal.reshape((-1, signal.shape[-1]))
        res, _ = self._run(x, None)
        return res.reshape(lead + res.shape[-2:])

    def _variable(self, clips):
        hosts = [np.asarray(backend.to_numpy(c)).reshape(-1) for c in clips]
        if not hosts:
            raise ValueError("MFCC: empty list of clips")
        lens = np.array([h.shape[0] for h in hosts], dtype=np.int64)
        if lens.min() == 0:
            raise ValueError(f"MFCC: clip {int(np.argmin(lens))} is empty")
        dtype = np.result_type(*[h.dtype for h in hosts])
        if dtype.kind != "f":
            dtype = np.dtype(backend.floatx())
        buf = np.zeros((len(hosts), int(lens.max())), dtype=dtype)
        mask = np.arange(buf.shape[1])[None, :] < lens[:, None]
        buf[mask] = np.concatenate(hosts)
        return self._chunked(buf, lens, host=True)

    def _chunked(self, x, lens, host=False):
        """Length-sorted chunks so that short clips are not padded to the longest one."""
        xp = backend.xp()
        n_all = np.asarray(self.num_frames(lens)).reshape(-1)
        if n_all.min() < 1:
            raise ValueError(f"MFCC: clip {int(np.argmin(n_all))} ({lens[np.argmin(n_all)]} "
                             f"samples) is shorter than one frame of {self.frame_length}")
        T_max = int(n_all.max())
        order = np.argsort(lens, kind="stable")
        per_frame = self.frame_length
        out = None
        start = 0
        N = len(lens)
        while start < N:
            # grow the chunk while (clips x longest frames x frame length) fits max_chunk
            stop = start + 1
            while (stop < N and (stop + 1 - start) * n_all[order[stop]] * per_frame
                   <= self.max_chunk):
                stop += 1
            idx = order[start:stop]
            L = int(lens[idx].max())
            sub = x[idx, :L] if host else x[backend.asarray(idx), :L]
            sub = backend.asarray(sub) if host else sub
            res, n = self._run(sub, lens[idx])
            if out is None:
                out = xp.zeros((N, res.shape[-2], T_max), dtype=res.dtype)
            out[backend.asarray(idx), :, :res.shape[-1]] = res
            start = stop
        return out, n_all

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return (f"MFCC(sample_rate={self.sample_rate:g}, n_mfcc={self.n_mfcc}, "
                f"preset={self.preset!r}{', ' + args if args else ''})")


def mfcc(signal, sample_rate, n_mfcc=None, preset=None, lengths=None, **kwargs):
    """MFCCs of one clip, a batch ``(N, samples)`` or a list of variable-length clips.

    ``mfcc(x, sr, preset="librosa")`` equals ``librosa.feature.mfcc(y=x, sr=sr)`` and
    ``mfcc(x, sr, preset="python_speech_features")`` equals
    ``python_speech_features.mfcc(x, sr).T``, to float64 round-off. Keywords as in
    :class:`MFCC` (librosa's names, plus python_speech_features' aliases).

    Silence is safe: every log takes ``max(., amin)`` first, so the output is finite.

    Parameters
    ----------
    signal : array (..., samples), or list of 1-D clips
    sample_rate : float
    n_mfcc : int, optional (default 13; 20 with ``preset="librosa"``)
    preset : None, "librosa" or "python_speech_features"
    lengths : array of int (N,), optional
        Valid samples per clip of a zero-padded (N, samples) batch.

    Returns
    -------
    array (..., n_mfcc, frames); with ``lengths`` or a list:
    ``(features (N, n_mfcc, frames_max), n_frames (N,))``.

    Chapter: chapters/03-1-feature-extraction.md.
    """
    return MFCC(sample_rate, n_mfcc, preset, **kwargs)(signal, lengths)
