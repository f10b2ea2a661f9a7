"""Audio feature helpers the data sets and the robustness tests share (host arrays in,
host arrays out): white noise at a given SNR, and the time-major MFCC matrices the
audio branches read. The MFCCs are computed on the active backend by
:class:`mmscratch.features.MFCC` and copied back to the host once.

They used to live in ``datasets/_pairing.py`` (which still re-exports them); here they
sit on the features floor, so :mod:`mmscratch.multimodal` can use them without
importing the data sets above it (docs/ARCHITECTURE.md).

Chapter: chapters/03-1-feature-extraction.md (MFCC), chapters/05-future.md (robustness).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .mfcc import MFCC

__all__ = ["AUDIO_MFCC", "add_white_noise", "mfcc_features"]

#: MFCC settings of the audio branch at 8 kHz: 32 ms windows (256 samples), 10 ms hop,
#: 40 mel bands up to the Nyquist frequency, 13 coefficients, dB log with an 80 dB floor.
AUDIO_MFCC = dict(n_mfcc=13, n_fft=256, hop_length=80, n_mels=40, fmin=0.0, fmax=4000.0,
                  top_db=80.0)


def add_white_noise(x, snr_db, rng, lengths=None):
    """Mix white Gaussian noise into each clip at a signal-to-noise ratio of ``snr_db``.

    For clip x with power P_x = mean(x^2) over its own samples, the noise is
    n ~ N(0, sigma^2) with sigma^2 = P_x / 10^(SNR/10), so 10 log10(P_x / sigma^2) = SNR.
    With ``lengths`` the noise covers only the first ``lengths[i]`` samples (the padding
    stays silent) and P_x is measured there.

    Parameters
    ----------
    x : (N, L) float32 host array
    snr_db : float or None (None returns ``x`` unchanged)
    rng : numpy.random.Generator
    lengths : (N,) int, optional
    """
    if snr_db is None:
        return x
    N, L = x.shape
    lengths = np.full(N, L) if lengths is None else np.asarray(lengths)
    valid = np.arange(L)[None, :] < lengths[:, None]  # (N, L)
    x = np.where(valid, x, 0).astype(np.float32)
    power = np.einsum("nl,nl->n", x, x, dtype=np.float64) / np.maximum(lengths, 1)
    sigma = np.sqrt(power / 10.0 ** (snr_db / 10.0)).astype(np.float32)  # (N,)
    noise = rng.standard_normal((N, L), dtype=np.float32)
    noise *= sigma[:, None]
    noise *= valid
    return x + noise


def mfcc_features(waves, sample_rate, lengths=None, **overrides):
    """MFCC matrices ``(N, T, n_mfcc)`` float32 (time-major, for an LSTM or a Conv1D).

    Runs :class:`mmscratch.features.MFCC` with :data:`AUDIO_MFCC` (keywords override
    it) on the active backend over the whole ``(N, L)`` host batch and returns a host
    array. The feature helper's output is ``(N, n_mfcc, T)`` like librosa's; it is
    transposed here so that the time axis comes second, as the layers expect.

    With ``lengths`` (valid samples per clip) only the frames of each clip's own
    samples are computed and the frames after them are 0 (before standardization);
    T is always the frame count of the full ``L`` samples, so train and test agree.
    The FFT runs in float64: NumPy's pocketfft is no faster in float32, and the result
    is cast to float32 at the end.
    """
    cfg = dict(AUDIO_MFCC, **overrides)
    extractor = MFCC(sample_rate, **cfg)
    x = backend.asarray(np.ascontiguousarray(waves, dtype=np.float64))
    T = int(extractor.num_frames(waves.shape[1]))
    if lengths is None:
        feats = backend.to_numpy(extractor(x))  # (N, n_mfcc, T)
    else:
        feats, _ = extractor.ragged(x, np.asarray(lengths, dtype=np.int64))
        feats = backend.to_numpy(feats)
        feats = np.pad(feats, ((0, 0), (0, 0), (0, T - feats.shape[2])))
    return np.ascontiguousarray(np.swapaxes(feats, 1, 2), dtype=np.float32), cfg
