"""Helpers shared by the paired multimodal data sets (``digits`` and ``avmnist``).

Host-side (NumPy) bookkeeping for building a paired data set: stratified splits, pairing
samples of two modalities by label, padding clips to a fixed length, and the MFCC
matrices the audio branch reads. The MFCCs themselves are computed on the active
backend by :mod:`mmscratch.features.mfcc` and copied back to the host once.

Chapter: chapters/03-3-tasks.md (multimodal data), chapters/03-1-feature-extraction.md
(MFCC).
"""

from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["stratified_split", "pair_by_label", "pad_clips", "mfcc_features",
           "add_white_noise", "AUDIO_MFCC"]

#: MFCC settings of the audio branch at 8 kHz: 32 ms windows (256 samples), 10 ms hop,
#: 40 mel bands up to the Nyquist frequency, 13 coefficients, dB log with an 80 dB floor.
AUDIO_MFCC = dict(n_mfcc=13, n_fft=256, hop_length=80, n_mels=40, fmin=0.0, fmax=4000.0,
                  top_db=80.0)


def stratified_split(labels, test_size, rng):
    """Indices ``(train, test)`` with each class split in the same proportion.

    Class c with n_c samples puts ``round(test_size * n_c)`` of them, chosen by ``rng``,
    into the test set. Both index arrays are sorted.
    """
    labels = np.asarray(labels)
    test = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test.append(idx[: int(round(test_size * len(idx)))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def pair_by_label(labels, pool_labels, rng):
    """For each label, one index into a pool of samples with the same label.

    Within each class the pool is shuffled and then walked in order (wrapping around
    when the class has more samples than the pool), so pool items are reused as evenly
    as possible: no item is used twice before every item of its class was used once.

    Parameters
    ----------
    labels : (N,) int
        Labels of the samples that need a partner.
    pool_labels : (M,) int
        Labels of the pool to draw partners from.
    rng : numpy.random.Generator

    Returns
    -------
    (N,) int64 indices into the pool with ``pool_labels[result] == labels``.
    """
    labels = np.asarray(labels)
    pool_labels = np.asarray(pool_labels)
    out = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        want = np.flatnonzero(labels == c)
        pool = np.flatnonzero(pool_labels == c)
        if len(pool) == 0:
            raise ValueError(f"no sample of class {c} to pair with")
        reps = -(-len(want) // len(pool))  # ceil
        order = np.concatenate([rng.permutation(pool) for _ in range(reps)])
        out[rng.permutation(want)] = order[: len(want)]
    return out


def pad_clips(clips, length):
    """Clips (list of 1-D float arrays) -> ``(N, length)`` float32, cut or zero-padded at the end.

    Returns the padded batch and the kept length of each clip ``(N,)``.
    """
    lens = np.array([min(len(c), length) for c in clips], dtype=np.int64)
    out = np.zeros((len(clips), length), dtype=np.float32)
    mask = np.arange(length)[None, :] < lens[:, None]
    out[mask] = np.concatenate([np.asarray(c[:length], dtype=np.float32) for c in clips])
    return out, lens


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
    from ..features.mfcc import MFCC  # noqa: PLC0415 - keeps dataset import light

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


def standardize(train, *others):
    """Scale the last axis to zero mean, unit variance with statistics of ``train`` only.

    Returns the scaled arrays (float32) and ``(mean, std)`` of shape ``(D,)``.
    """
    axes = tuple(range(train.ndim - 1))
    mean = train.mean(axis=axes, dtype=np.float64)
    std = train.std(axis=axes, dtype=np.float64)
    std = np.where(std > 1e-8, std, 1.0)
    scaled = [((a - mean) / std).astype(np.float32) for a in (train, *others)]
    return scaled, (mean.astype(np.float32), std.astype(np.float32))
