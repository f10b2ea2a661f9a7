"""Perturbations of one modality and MultiBench's robustness summaries."""

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.datasets._pairing import AUDIO_MFCC, mfcc_features
from mmscratch.multimodal.robustness import (
    audio_at_snr,
    effective_robustness,
    gaussian_noise,
    occlude,
    relative_robustness,
)


def test_occlusion_hides_one_square_of_the_stated_area(xp):
    images = backend.asarray(np.ones((6, 28, 28, 1), dtype=np.float32))
    out = backend.to_numpy(occlude(images, 0.25, seed=1))
    hidden = (out == 0).reshape(6, -1).sum(axis=1)
    assert (hidden == 14 * 14).all()  # side round(0.5 * 28) = 14
    for img in out[..., 0]:  # one contiguous square: its rows and columns are runs
        rows, cols = np.flatnonzero((img == 0).any(1)), np.flatnonzero((img == 0).any(0))
        assert np.ptp(rows) == np.ptp(cols) == 13
    np.testing.assert_array_equal(backend.to_numpy(occlude(images, 0.0)), 1.0)


def test_gaussian_noise_has_the_stated_spread_and_is_seeded(xp):
    x = backend.asarray(np.zeros((200, 28, 28, 1), dtype=np.float32))
    a = backend.to_numpy(gaussian_noise(x, 0.5, seed=3))
    assert a.std() == pytest.approx(0.5, rel=0.01) and abs(a.mean()) < 0.01
    np.testing.assert_array_equal(a, backend.to_numpy(gaussian_noise(x, 0.5, seed=3)))
    np.testing.assert_array_equal(backend.to_numpy(gaussian_noise(x, 0.0)), 0.0)


def test_relative_robustness_is_the_trapezoid_area():
    assert relative_robustness([1.0] * 10) == pytest.approx(0.9)  # MultiBench's maximum
    acc = [0.9, 0.8, 0.5, 0.1]
    naive = sum(0.1 * (acc[i] + acc[i + 1]) / 2 for i in range(3))
    assert relative_robustness(acc) == pytest.approx(naive)
    assert relative_robustness(acc) == pytest.approx(np.trapezoid(acc, dx=0.1))


def test_effective_robustness_against_the_reference_curve():
    ref = [0.8, 0.6, 0.4]
    assert effective_robustness(ref, ref) == 0.0
    # same drops from a higher start: nothing gained
    assert effective_robustness([0.9, 0.7, 0.5], ref) == pytest.approx(0.0)
    # degrading more slowly than the reference is positive
    assert effective_robustness([0.9, 0.85, 0.8], ref) == pytest.approx(0.15 + 0.3)
    with pytest.raises(ValueError, match="same levels"):
        effective_robustness([0.9, 0.8], ref)


def test_audio_at_snr_recomputes_features_like_the_data_set():
    rng = np.random.default_rng(0)
    waves = (0.3 * rng.standard_normal((4, 2000))).astype(np.float32)
    lengths = np.array([2000, 1500, 1800, 900])
    feats, cfg = mfcc_features(waves, 8000, lengths)
    mean, std = feats.mean(axis=(0, 1)), feats.std(axis=(0, 1))
    info = {"mfcc": dict(AUDIO_MFCC, sample_rate=8000, mean=mean, std=std)}
    split = {"audio": (feats - mean) / std, "meta": {"waveform": waves, "length": lengths}}
    assert audio_at_snr(split, info, None) is split["audio"]
    # 120 dB of extra SNR changes nothing visible: the same features
    np.testing.assert_allclose(audio_at_snr(split, info, 120.0), split["audio"], atol=1e-3)
    noisy = audio_at_snr(split, info, -10.0, seed=1)
    assert noisy.shape == split["audio"].shape
    assert np.abs(noisy - split["audio"]).mean() > 0.1
