"""MFCC stage 2: the mel scale and the triangular mel filterbank (librosa's
``filters.mel`` and ``core/convert.py``; python_speech_features' ``get_filterbanks``).

    P_i = sum_k H_ik P_k          (mel-band energies from the power spectrum)

HTK (``2595 log10(1 + f / 700)``) and Slaney (linear below 1 kHz, logarithmic above)
scales; Slaney area normalisation (``norm="slaney"``) or none.

Chapter: chapters/03-1-feature-extraction.md. The pipeline: :mod:`mmscratch.features.mfcc`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from .spectrum import _matmul_last, _xp_of, fft_frequencies

__all__ = ["hz_to_mel", "mel_to_hz", "mel_frequencies", "mel_filterbank", "apply_filterbank"]

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


def apply_filterbank(P, H):
    """Mel-band energies ``P_i = sum_k H_ik P_k``: (..., frames, bins) -> (..., frames, n_mels)."""
    return _matmul_last(P, H)
