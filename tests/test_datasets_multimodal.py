"""The paired multimodal data sets: ``digits`` (embedded), ``avmnist`` (data folder), downloads.

What they promise: the documented keys, shapes and dtypes; the same arrays for the same
seed; classes balanced across the split; test voices/speakers never heard in training;
paired modalities that agree on the label; caption noise at the requested rate; and
clear errors naming what is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mmscratch
from mmscratch.datasets import DATASETS, load
from mmscratch.datasets.digits import (
    EMBEDDED_AUDIO,
    WORDS,
    load_digits_audio,
    load_digits_multimodal,
    make_captions,
)

EMBEDDED = Path(mmscratch.__file__).parent / "datasets" / "embedded"


# ----------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits():
    return load("digits", seed=0)


@pytest.fixture(scope="module")
def digits_raw():
    return load_digits_multimodal(seed=0, features=False, text_noise=0.3)


def test_registry_names_both_sets_and_rejects_others():
    assert set(DATASETS) == {"digits", "avmnist"}
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load("cifar")


def test_embedded_audio_is_small_and_complete():
    assert (EMBEDDED / EMBEDDED_AUDIO).stat().st_size <= 5_000_000
    audio = load_digits_audio()
    n = len(audio["clips"])
    assert n == len(audio["digit"]) == len(audio["voice"]) == 2400
    assert audio["sample_rate"] == 8000
    assert len(audio["voices"]) == 80
    # every voice says every digit 3 times
    counts = np.zeros((80, 10), dtype=int)
    np.add.at(counts, (audio["voice"], audio["digit"]), 1)
    assert (counts == 3).all()
    lengths = np.array([len(c) for c in audio["clips"]])
    assert lengths.min() > 0.15 * 8000 and lengths.max() < 1.0 * 8000
    peaks = np.array([np.abs(c).max() for c in audio["clips"]])
    np.testing.assert_allclose(peaks, 0.95, atol=0.01)


def test_digits_keys_shapes_dtypes(digits):
    assert set(digits) == {"train", "test", "info"}
    info = digits["info"]
    assert info["modalities"] == ["image", "audio", "text"]
    assert "synthetic" in info["synthetic"] and "espeak" in info["synthetic"]
    V = len(info["vocabulary"])
    n_total = 0
    for name in ("train", "test"):
        s = digits[name]
        N = len(s["label"])
        n_total += N
        assert s["image"].shape == (N, 8, 8, 1) and s["image"].dtype == np.float32
        assert s["audio"].shape == (N, 101, 13) and s["audio"].dtype == np.float32
        assert s["text"].shape == (N, V) and s["text"].dtype == np.float32
        assert s["label"].shape == (N,) and s["label"].dtype == np.int64
        assert 0.0 <= s["image"].min() and s["image"].max() <= 1.0
        assert np.isfinite(s["audio"]).all()
        assert len(s["meta"]["caption"]) == N
    assert n_total == 1797
    assert len(digits["test"]["label"]) == pytest.approx(0.25 * 1797, abs=10)


def test_digits_audio_features_are_standardized_on_train(digits):
    a = digits["train"]["audio"]
    np.testing.assert_allclose(a.mean(axis=(0, 1)), 0.0, atol=1e-4)
    np.testing.assert_allclose(a.std(axis=(0, 1)), 1.0, atol=1e-3)


def test_digits_text_is_tfidf_that_keeps_numerals(digits):
    vocab = digits["info"]["vocabulary"]
    assert {"7", "seven", "after"} <= set(vocab)
    t = digits["train"]["text"]
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)  # l2 rows
    vec = digits["info"]["vectorizer"]
    one = mmscratch.backend.to_numpy(vec.transform(["the digit 7"]))
    assert one[0, vocab.index("7")] > 0 and one[0, vocab.index("seven")] == 0


def test_digits_classes_balanced_across_split(digits):
    tr = np.bincount(digits["train"]["label"], minlength=10)
    te = np.bincount(digits["test"]["label"], minlength=10)
    share = te / (tr + te)
    np.testing.assert_allclose(share, 0.25, atol=0.01)


def test_digits_reproducible_for_a_seed_and_different_across_seeds(digits_raw):
    again = load_digits_multimodal(seed=0, features=False, text_noise=0.3)
    other = load_digits_multimodal(seed=1, features=False, text_noise=0.3)
    for name in ("train", "test"):
        for key in ("image", "audio", "label"):
            np.testing.assert_array_equal(digits_raw[name][key], again[name][key])
        np.testing.assert_array_equal(digits_raw[name]["text"], again[name]["text"])
    assert not np.array_equal(digits_raw["train"]["meta"]["image_index"],
                              other["train"]["meta"]["image_index"])
    assert digits_raw["info"]["test_voices"] != other["info"]["test_voices"]


def test_digits_test_voices_never_heard_in_training(digits_raw):
    info = digits_raw["info"]
    assert not set(info["train_voices"]) & set(info["test_voices"])
    assert len(info["test_voices"]) == 20
    assert set(digits_raw["train"]["meta"]["voice"]) <= set(info["train_voices"])
    assert set(digits_raw["test"]["meta"]["voice"]) <= set(info["test_voices"])


def test_digits_paired_audio_says_the_images_digit(digits_raw):
    audio = load_digits_audio()
    from sklearn.datasets import load_digits

    sk_labels = load_digits().target
    for name in ("train", "test"):
        s = digits_raw[name]
        np.testing.assert_array_equal(audio["digit"][s["meta"]["clip"]], s["label"])
        np.testing.assert_array_equal(sk_labels[s["meta"]["image_index"]], s["label"])
        # the waveform is the clip, zero-padded to 1 s
        i = 3
        clip = audio["clips"][s["meta"]["clip"][i]]
        np.testing.assert_array_equal(s["audio"][i, : len(clip)], clip)
        assert (s["audio"][i, len(clip):] == 0).all()


def test_digits_caption_noise_rate_is_the_requested_one(digits_raw):
    described = np.concatenate([digits_raw[s]["meta"]["caption_digit"] for s in ("train", "test")])
    labels = np.concatenate([digits_raw[s]["label"] for s in ("train", "test")])
    # Bernoulli(0.3) over 1797 captions: std 0.011, so +-0.04 is a 3.7-sigma band
    assert np.mean(described != labels) == pytest.approx(0.3, abs=0.04)


@pytest.mark.parametrize("noise", [0.0, 0.5, 1.0])
def test_make_captions_noise_and_hint_rates(noise):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 4000)
    captions, described, kind = make_captions(labels, rng, text_noise=noise, hint_rate=0.4)
    wrong = described != labels
    # +-0.03 is > 3.8 sigma of a Bernoulli(0.5) mean over 4000 draws
    assert wrong.mean() == pytest.approx(noise, abs=0.03)
    assert np.mean(kind != "name") == pytest.approx(0.4, abs=0.03)
    assert ((described >= 0) & (described <= 9)).all()
    named = kind == "name"
    for c, d in zip(np.array(captions)[named][:200], described[named][:200]):
        words = c.split()
        assert WORDS[d] in words or str(d) in words, c
    for c, d in zip(np.array(captions)[~named][:200], described[~named][:200]):
        assert WORDS[d] not in c.split() and str(d) not in c.split(), c


def test_make_captions_rejects_rates_outside_0_1():
    with pytest.raises(ValueError, match="text_noise must be in"):
        make_captions([1, 2], np.random.default_rng(0), text_noise=1.5)


def test_digits_noise_in_audio_is_seeded_and_at_the_requested_snr():
    clean = load_digits_multimodal(seed=2, features=False)
    noisy = load_digits_multimodal(seed=2, features=False, audio_snr_db=0.0)
    s, n = clean["train"], noisy["train"]
    lens = s["meta"]["length"]
    valid = np.arange(s["audio"].shape[1])[None, :] < lens[:, None]
    noise = (n["audio"] - s["audio"]) * valid
    p_sig = (s["audio"].astype(np.float64) ** 2).sum(1) / lens
    p_noise = (noise.astype(np.float64) ** 2).sum(1) / lens
    snr = 10 * np.log10(p_sig / p_noise)
    assert np.median(snr) == pytest.approx(0.0, abs=0.2)
    assert (n["audio"][~valid] == 0).all()  # padding stays silent
