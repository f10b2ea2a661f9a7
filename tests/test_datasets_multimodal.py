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
    # data_dir is accepted (and unused) so the CLI can pass it to any data set
    return load("digits", seed=0, data_dir="/nonexistent")


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


def test_digits_noise_in_audio_is_seeded_and_at_the_requested_snr(digits_raw):
    noisy = load_digits_multimodal(seed=0, features=False, text_noise=0.3, audio_snr_db=0.0)
    s, n = digits_raw["train"], noisy["train"]
    np.testing.assert_array_equal(s["meta"]["clip"], n["meta"]["clip"])  # same pairing
    lens = s["meta"]["length"]
    valid = np.arange(s["audio"].shape[1])[None, :] < lens[:, None]
    noise = (n["audio"] - s["audio"]) * valid
    p_sig = (s["audio"].astype(np.float64) ** 2).sum(1) / lens
    p_noise = (noise.astype(np.float64) ** 2).sum(1) / lens
    snr = 10 * np.log10(p_sig / p_noise)
    assert np.median(snr) == pytest.approx(0.0, abs=0.2)
    assert (n["audio"][~valid] == 0).all()  # padding stays silent


# ---------------------------------------------------------------------------- avmnist
@pytest.fixture(scope="module")
def avmnist_small(data_dir):
    from mmscratch.datasets.avmnist import load_avmnist

    return load_avmnist(data_dir, seed=0, n_train=200, n_test=50, pairs_per_clip=2)


def test_avmnist_shapes_keys_and_speaker_split(avmnist_small):
    d = avmnist_small
    assert d["info"]["modalities"] == ["image", "audio"]
    assert d["info"]["test_speaker"] == "yweweler"
    for name, n in (("train", 400), ("test", 100)):
        s = d[name]
        assert s["image"].shape == (n, 28, 28, 1) and s["image"].dtype == np.float32
        assert s["audio"].shape == (n, 101, 13) and s["audio"].dtype == np.float32
        assert s["label"].shape == (n,) and s["label"].dtype == np.int64
        np.testing.assert_array_equal(np.bincount(s["label"], minlength=10), n // 10)
    train_speakers = set(d["train"]["meta"]["speaker"])
    assert train_speakers == set(d["info"]["train_speakers"]) - {"yweweler"}
    assert "yweweler" not in train_speakers
    assert set(d["test"]["meta"]["speaker"]) == {"yweweler"}


def test_avmnist_pairs_agree_on_the_digit_and_images_keep_k_components(avmnist_small,
                                                                       data_dir):
    from mmscratch.datasets.fsdd import parse_name
    from mmscratch.datasets.mnist import load_mnist

    for name in ("train", "test"):
        s = avmnist_small[name]
        spoken = np.array([parse_name(f)[0] for f in s["meta"]["file"]])
        np.testing.assert_array_equal(spoken, s["label"])
        mnist_images, mnist_labels = load_mnist(data_dir, name)
        idx = s["meta"]["mnist_index"]
        np.testing.assert_array_equal(mnist_labels[idx], s["label"])
        # each clip appears pairs_per_clip = 2 times, each time with another image
        assert len(set(idx.tolist())) == len(s["label"])
        # the images are visibly degraded versions of the paired MNIST digits ...
        diff = np.abs(s["image"] - mnist_images[idx]).mean()
        assert 0.05 < diff < 0.3
    # ... of rank k around their mean (fitted on the training images)
    k = avmnist_small["info"]["image_pca_components"]
    flat = avmnist_small["train"]["image"].reshape(400, -1).astype(np.float64)
    sv = np.linalg.svd(flat - flat.mean(axis=0), compute_uv=False)
    assert sv[k] < 1e-3 * sv[0] < sv[k - 1]
    assert 0.1 < avmnist_small["info"]["image_variance_kept"] < 0.5


def test_avmnist_pairing_is_deterministic_for_a_seed(avmnist_small, data_dir):
    from mmscratch.datasets.avmnist import load_avmnist

    kw = dict(n_train=200, n_test=50, pairs_per_clip=2, features=False)
    again = load_avmnist(data_dir, seed=0, **kw)
    other = load_avmnist(data_dir, seed=1, **kw)
    for name in ("train", "test"):
        a, b = avmnist_small[name], again[name]
        for key in ("mnist_index", "file", "waveform"):
            np.testing.assert_array_equal(a["meta"][key], b["meta"][key])
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["meta"]["waveform"], b["audio"])
        assert not np.array_equal(a["meta"]["mnist_index"], other[name]["meta"]["mnist_index"])


def test_white_noise_is_mixed_at_the_requested_snr_inside_each_clip():
    from mmscratch.datasets._pairing import add_white_noise

    rng = np.random.default_rng(0)
    x = np.zeros((6, 4000), dtype=np.float32)
    lengths = np.array([4000, 3000, 2500, 2000, 1500, 1000])
    for i, n in enumerate(lengths):
        x[i, :n] = np.sin(np.arange(n) * 0.3) * (i + 1) * 0.1
    y = add_white_noise(x, 5.0, np.random.default_rng(1), lengths)
    noise = (y - x).astype(np.float64)
    p_sig = (x.astype(np.float64) ** 2).sum(1) / lengths
    p_noise = (noise**2).sum(1) / lengths
    # 1000+ Gaussian samples per clip: the measured SNR is within ~0.3 dB of 5 dB
    np.testing.assert_allclose(10 * np.log10(p_sig / p_noise), 5.0, atol=0.4)
    assert (y[np.arange(4000)[None, :] >= lengths[:, None]] == 0).all()
    np.testing.assert_array_equal(add_white_noise(x, 5.0, np.random.default_rng(1), lengths), y)
    assert add_white_noise(x, None, rng) is x


def test_avmnist_missing_files_raise_data_error_naming_them(tmp_path):
    from mmscratch.datasets.avmnist import load_avmnist

    with pytest.raises(mmscratch.DataError) as err:
        load_avmnist(tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "fsdd" in msg and "fetch('fsdd'" in msg
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    with pytest.raises(mmscratch.DataError, match="no .wav files"):
        load_avmnist(tmp_path)


# --------------------------------------------------------------------------- download
@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/"served"; yields (base url, hits)."""
    import http.server
    import threading
    from functools import partial

    root = tmp_path / "served"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/", hits
    finally:
        server.shutdown()
        server.server_close()


def _sha(data):
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_download_good_file_is_written_and_not_fetched_twice(http_server, tmp_path):
    from mmscratch.datasets.download import download

    root, url, hits = http_server
    payload = bytes(range(256)) * 300
    (root / "a.bin").write_bytes(payload)
    dest = tmp_path / "out" / "a.bin"
    assert download(url + "a.bin", dest, _sha(payload).upper()) == dest
    assert dest.read_bytes() == payload
    download(url + "a.bin", dest, _sha(payload))
    assert hits == ["/a.bin"]  # the second call found the file intact
    assert list(dest.parent.iterdir()) == [dest]


def test_download_wrong_checksum_raises_and_leaves_nothing(http_server, tmp_path):
    from mmscratch.datasets.download import download

    root, url, _ = http_server
    (root / "a.bin").write_bytes(b"tampered bytes")
    dest = tmp_path / "out" / "a.bin"
    with pytest.raises(mmscratch.DataError, match="SHA-256 mismatch") as err:
        download(url + "a.bin", dest, _sha(b"the real bytes"))
    assert url + "a.bin" in str(err.value)
    assert list(dest.parent.iterdir()) == []  # no file, no temporary left behind


def test_download_wrong_checksum_keeps_an_existing_good_file(http_server, tmp_path):
    from mmscratch.datasets.download import download

    root, url, _ = http_server
    (root / "a.bin").write_bytes(b"new but corrupt")
    dest = tmp_path / "a.bin"
    dest.write_bytes(b"old")
    with pytest.raises(mmscratch.DataError):
        download(url + "a.bin", dest, _sha(b"expected"), overwrite=True)
    assert dest.read_bytes() == b"old"


def test_download_missing_url_raises_naming_it(http_server, tmp_path):
    from mmscratch.datasets.download import download

    _, url, _ = http_server
    with pytest.raises(mmscratch.DataError, match="nope.bin: download failed.*404"):
        download(url + "nope.bin", tmp_path / "nope.bin", "0" * 64)
    assert not any(tmp_path.glob("*nope*"))
    with pytest.raises(ValueError, match="64 hex digits"):
        download(url + "x", tmp_path / "x", "abc")


def test_fetch_real_files_from_a_local_mirror(http_server, tmp_path, data_dir):
    import shutil

    from mmscratch.datasets import load_fsdd
    from mmscratch.datasets.download import checksums, fetch

    root, url, _ = http_server
    shutil.copytree(data_dir / "fsdd" / "recordings", root / "recordings")
    shutil.copy(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", root)
    assert len(checksums("fsdd")) == 3000 and len(checksums("mnist")) == 4
    wanted = ["0_george_0.wav", "7_jackson_32.wav", "9_yweweler_49.wav"]
    dest = tmp_path / "data"
    folder = fetch("fsdd", dest, base_url=url + "recordings", files=wanted, progress=False)
    assert folder == dest / "fsdd" / "recordings"
    assert sorted(p.name for p in folder.iterdir()) == wanted
    fsdd = load_fsdd(dest, split="speaker", test_speaker="yweweler")
    assert list(fsdd.test.files) == ["9_yweweler_49.wav"]
    fetch("mnist", dest, base_url=url, files=["t10k-labels-idx1-ubyte.gz"], progress=False)
    assert (dest / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes() == \
        (data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    # a file the mirror lacks: DataError naming it, the others stay
    with pytest.raises(mmscratch.DataError, match="train-labels-idx1-ubyte.gz"):
        fetch("mnist", dest, base_url=url, files=["train-labels-idx1-ubyte.gz"],
              progress=False)
    assert not (dest / "mnist" / "train-labels-idx1-ubyte.gz").exists()


def test_missing_embedded_audio_raises_data_error_naming_it(monkeypatch):
    import mmscratch.datasets.digits as digits_module

    monkeypatch.setattr(digits_module, "EMBEDDED_AUDIO", "no_such_file.npz")
    with pytest.raises(mmscratch.DataError, match="no_such_file.npz.*make_digits_audio.py"):
        load_digits_audio()
