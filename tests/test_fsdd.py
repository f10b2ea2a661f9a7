"""FSDD loading: splits, labels from names, padding with lengths, and clear errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from scipy.io import wavfile

from mmscratch import DataError
from mmscratch.datasets import load_fsdd
from mmscratch.datasets.fsdd import parse_name, read_wav


# --------------------------------------------------------------------------- real data
def test_official_split_has_index_0_to_4_as_test(data_dir):
    d = load_fsdd(data_dir)
    assert d.sample_rate == 8000
    assert d.train.waveforms.shape[0] == 2700 and d.test.waveforms.shape[0] == 300
    assert np.bincount(d.test.labels).tolist() == [30] * 10
    assert all(parse_name(f)[2] <= 4 for f in d.test.files)
    assert all(parse_name(f)[2] >= 5 for f in d.train.files)
    assert set(d.train.speakers) == set(d.test.speakers) and len(set(d.test.speakers)) == 6
    # labels and speakers come from the names
    assert all(int(f[0]) == y for f, y in zip(d.train.files, d.train.labels))
    assert all(f.split("_")[1] == s for f, s in zip(d.test.files, d.test.speakers))
    # default length is the longest clip (9_theo_16.wav, 18,262 samples); lengths kept
    assert d.train.waveforms.shape[1] == 18262 and d.train.waveforms.dtype == np.float32
    assert d.test.lengths.min() >= 1148
    # peak normalisation per clip, zeros past each length
    w, n = d.test.waveforms, d.test.lengths
    assert np.allclose(np.abs(w).max(axis=1), 1.0)
    assert all(np.all(w[i, n[i]:] == 0) for i in range(0, 300, 37))


def test_speaker_split_holds_out_one_speaker_and_trims(data_dir):
    d = load_fsdd(data_dir, split="speaker", test_speaker="theo", max_len=4000,
                  normalize="rms")
    assert set(d.test.speakers) == {"theo"} and "theo" not in set(d.train.speakers)
    assert d.train.waveforms.shape == (2500, 4000) and d.test.waveforms.shape == (500, 4000)
    assert d.train.lengths.max() == 4000  # trimmed clips report the kept length
    i = int(np.argmin(d.train.lengths))
    rms = np.sqrt(np.mean(d.train.waveforms[i, :d.train.lengths[i]].astype(np.float64) ** 2))
    assert rms == pytest.approx(1.0, rel=1e-4)  # short clip: nothing trimmed, unit RMS
    with pytest.raises(ValueError, match="test_speaker"):
        load_fsdd(data_dir, split="speaker", test_speaker="nobody")


def test_read_wav_returns_int16_mono(data_dir):
    x = read_wav(data_dir / "fsdd" / "recordings" / "6_yweweler_3.wav")
    assert x.dtype == np.int16 and x.shape == (1148,)


# --------------------------------------------------------------------------- bad files
def make_folder(tmp_path, n_good=3):
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n_good):
        wavfile.write(rec / f"{i}_alice_{i}.wav", 8000,
                      (rng.standard_normal(800 + 100 * i) * 1000).astype(np.int16))
    return rec


def test_synthetic_folder_loads(tmp_path):
    make_folder(tmp_path)
    d = load_fsdd(tmp_path, normalize=None)
    assert d.test.waveforms.shape == (3, 1000) and list(d.test.lengths) == [800, 900, 1000]
    assert list(d.test.labels) == [0, 1, 2] and d.train.waveforms.shape[0] == 0


def test_missing_folder_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DataError, match="recordings folder not found"):
        load_fsdd(tmp_path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nope.wav: file not found"):
        read_wav(tmp_path / "nope.wav")


def _riff(fmt_channels=1, rate=8000, data=b"\x01\x00\x02\x00", claim_extra=0):
    fmt = struct.pack("<HHIIHH", 1, fmt_channels, rate, rate * 2 * fmt_channels,
                      2 * fmt_channels, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data) + claim_extra) + data
    return b"RIFF" + struct.pack("<I", len(body) + claim_extra) + body


@pytest.mark.parametrize("content,message", [
    (b"", "file is empty"),
    (b"this is not audio at all, just text", "not a WAV file"),
    (_riff(data=b""), "no samples"),
    (_riff(claim_extra=1000), "truncated"),
], ids=["empty", "not-wav", "no-samples", "truncated"])
def test_bad_wav_files_raise_data_error_naming_the_file(tmp_path, content, message):
    rec = make_folder(tmp_path)
    (rec / "4_alice_4.wav").write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        load_fsdd(tmp_path)
    assert "4_alice_4.wav" in str(err.value)


def test_stereo_file_is_rejected(tmp_path):
    rec = make_folder(tmp_path)
    wavfile.write(rec / "5_alice_5.wav", 8000, np.zeros((100, 2), dtype=np.int16))
    with pytest.raises(DataError, match=r"5_alice_5.wav: expected a mono WAV file, got 2"):
        load_fsdd(tmp_path)


def test_other_sample_rate_is_rejected(tmp_path):
    rec = make_folder(tmp_path)
    wavfile.write(rec / "6_alice_6.wav", 16000, np.zeros(100, dtype=np.int16))
    with pytest.raises(DataError, match=r"6_alice_6.wav: sample rate 16000 Hz, expected 8000"):
        load_fsdd(tmp_path)


def test_bad_file_name_is_rejected(tmp_path):
    rec = make_folder(tmp_path)
    wavfile.write(rec / "seven.wav", 8000, np.zeros(100, dtype=np.int16))
    with pytest.raises(DataError, match="seven.wav: not an FSDD file name"):
        load_fsdd(tmp_path)


def test_bad_arguments(tmp_path):
    make_folder(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_fsdd(tmp_path, split="random")
    with pytest.raises(ValueError, match="normalize"):
        load_fsdd(tmp_path, normalize="max")
