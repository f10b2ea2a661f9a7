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

from ..features.audio import AUDIO_MFCC, add_white_noise, mfcc_features

__all__ = ["stratified_split", "pair_by_label", "pad_clips", "mfcc_features",
           "add_white_noise", "AUDIO_MFCC"]

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
