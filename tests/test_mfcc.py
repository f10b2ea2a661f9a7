"""MFCC from scratch: each stage, both presets, batching, and parity with the references.

Parity targets (float64): coefficients within 1e-3 of librosa / python_speech_features,
mel filterbanks within 1e-6 of ``librosa.filters.mel`` / ``get_filterbanks``. librosa
builds its mel basis in float32 inside ``feature.mfcc``, which is why the coefficient
tolerance is looser than round-off. A stored golden array keeps the pipeline pinned
where neither library is installed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.features import MFCC, mfcc
from mmscratch.features.mfcc import (
    PRESETS,
    dct_matrix,
    deltas,
    document_mfcc,
    frame,
    get_window,
    hz_to_mel,
    lifter,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    num_frames,
    power_spectrum,
    power_to_db,
    preemphasis,
)

SR = 8000
COEF_TOL = 1e-3  # max |coefficient difference| against the reference libraries
FB_TOL = 1e-6  # max |filterbank weight difference|
GOLDEN = Path(__file__).with_name("data") / "mfcc_golden.npz"


def synthetic(kind, n=4000, sr=SR):
    """Test signals: pure tone, linear chirp, silence, one impulse, white noise."""
    t = np.arange(n) / sr
    if kind == "sine":
        return 0.5 * np.sin(2 * np.pi * 440.0 * t)
    if kind == "chirp":
        return 0.5 * np.sin(2 * np.pi * (100.0 * t + 0.5 * (3500.0 - 100.0) / t[-1] * t**2))
    if kind == "silence":
        return np.zeros(n)
    if kind == "impulse":
        x = np.zeros(n)
        x[n // 3] = 1.0
        return x
    if kind == "noise":
        return np.random.default_rng(0).standard_normal(n) * 0.1
    raise ValueError(kind)


SIGNALS = ["sine", "chirp", "silence", "impulse", "noise"]


def real_clips(data_dir, k=6):
    from mmscratch.datasets.fsdd import read_wav

    folder = data_dir / "fsdd" / "recordings"
    # shortest, longest and a few ordinary ones, each speaker represented
    names = ["6_yweweler_3.wav", "9_theo_16.wav", "0_george_0.wav", "3_jackson_12.wav",
             "5_lucas_40.wav", "8_nicolas_7.wav"][:k]
    return [read_wav(folder / n).astype(np.float64) / 32768.0 for n in names]


# --------------------------------------------------------------------------- librosa
LIBROSA_SETTINGS = [
    {},
    {"n_mels": 40, "n_mfcc": 13},
    {"fmin": 100.0, "fmax": 3000.0, "n_mels": 64},
    {"n_fft": 512, "hop_length": 128},
    {"n_fft": 256, "hop_length": 80, "win_length": 200, "window": "hamming"},
    {"htk": True, "n_mels": 40},
    {"mel_norm": None},
    {"norm": None},
    {"lifter": 22},
    {"pad_mode": "reflect", "n_fft": 512, "hop_length": 160},
    {"center": False, "n_fft": 512, "hop_length": 256},
    {"power": 1.0, "top_db": None},
]


def _librosa_mfcc(librosa, y, **kw):
    kw = dict(kw)
    top_db = kw.pop("top_db", 80.0)  # feature.mfcc has no top_db: build S ourselves
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_fft too large", empty filters
        S = None
        if top_db != 80.0:
            mel_kw = {k: v for k, v in kw.items() if k not in ("n_mfcc", "norm", "lifter")}
            mel_kw["norm"] = mel_kw.pop("mel_norm", "slaney")
            S = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR, **mel_kw),
                                    top_db=top_db)
            kw = {k: v for k, v in kw.items() if k in ("n_mfcc", "norm", "lifter")}
        return librosa.feature.mfcc(y=y, sr=SR, S=S, **kw)


@pytest.mark.parametrize("kind", SIGNALS)
@pytest.mark.parametrize("settings", LIBROSA_SETTINGS, ids=lambda s: ",".join(s) or "defaults")
def test_librosa_preset_matches_librosa_on_synthetic_signals(kind, settings):
    librosa = pytest.importorskip("librosa")
    y = synthetic(kind)
    ours = mfcc(y, SR, preset="librosa", **settings)
    ref = _librosa_mfcc(librosa, y, **settings)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < COEF_TOL


@pytest.mark.parametrize("settings", LIBROSA_SETTINGS[:6], ids=lambda s: ",".join(s) or "defaults")
def test_librosa_preset_matches_librosa_on_fsdd_clips(data_dir, settings):
    librosa = pytest.importorskip("librosa")
    for y in real_clips(data_dir):
        ref = _librosa_mfcc(librosa, y, **settings)
        assert np.abs(mfcc(y, SR, preset="librosa", **settings) - ref).max() < COEF_TOL


# --------------------------------------------------------------- python_speech_features
PSF_SETTINGS = [
    {},
    {"nfft": 256},
    {"nfilt": 40, "numcep": 20},
    {"lowfreq": 200, "highfreq": 3500},
    {"ceplifter": 0},
    {"appendEnergy": False},
    {"preemph": 0.0},
    {"winlen": 0.032, "winstep": 0.016},
    {"winfunc": np.hamming},
]


@pytest.mark.parametrize("kind", SIGNALS)
@pytest.mark.parametrize("settings", PSF_SETTINGS, ids=lambda s: ",".join(s) or "defaults")
def test_psf_preset_matches_python_speech_features(kind, settings):
    psf = pytest.importorskip("python_speech_features")
    y = synthetic(kind)
    ref = psf.mfcc(y, SR, **settings).T  # psf is (frames, n_mfcc)
    ours = mfcc(y, SR, preset="python_speech_features", **settings)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < COEF_TOL


def test_psf_preset_matches_python_speech_features_on_fsdd_clips(data_dir):
    psf = pytest.importorskip("python_speech_features")
    for y in real_clips(data_dir):
        for settings in ({}, {"nfilt": 40, "numcep": 20}, {"winfunc": np.hamming}):
            ref = psf.mfcc(y, SR, **settings).T
            ours = mfcc(y, SR, preset="python_speech_features", **settings)
            assert np.abs(ours - ref).max() < COEF_TOL


def test_psf_pow2_nfft_is_next_power_of_two_of_the_window():
    psf = pytest.importorskip("python_speech_features")
    y = synthetic("chirp")
    ex = MFCC(SR, preset="python_speech_features", nfft="pow2", winlen=0.025)
    assert ex.n_fft == 256  # 200-sample window -> 256
    assert np.abs(ex(y) - psf.mfcc(y, SR, nfft=256).T).max() < COEF_TOL
    assert MFCC(16000, preset="python_speech_features", n_fft="pow2").n_fft == 512


# --------------------------------------------------------------------------- stages
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", ["slaney", None, 2.0])
@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (8000, 2048, 128, 0.0, None), (8000, 512, 40, 100.0, 3800.0),
    (22050, 1024, 64, 0.0, 8000.0), (16000, 400, 26, 300.0, None)])
def test_mel_filterbank_matches_librosa(htk, norm, sr, n_fft, n_mels, fmin, fmax):
    librosa = pytest.importorskip("librosa")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                                  htk=htk, norm=norm, dtype=np.float64)
    ours = backend.to_numpy(mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm))
    assert ours.shape == (n_mels, 1 + n_fft // 2)
    assert np.abs(ours - ref).max() < FB_TOL


@pytest.mark.parametrize("nfilt,nfft,sr,low,high", [
    (26, 512, 8000, 0, None), (40, 256, 8000, 100, 3000), (20, 512, 16000, 0, 8000)])
def test_quantized_filterbank_matches_python_speech_features(nfilt, nfft, sr, low, high):
    psf = pytest.importorskip("python_speech_features")
    ref = psf.get_filterbanks(nfilt, nfft, sr, low, high)
    ours = mel_filterbank(sr, nfft, nfilt, low, high, htk=True, norm=None, quantize=True)
    assert np.abs(backend.to_numpy(ours) - ref).max() < FB_TOL


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_round_trip_and_librosa_values(htk):
    f = np.array([0.0, 200.0, 999.9, 1000.0, 1000.1, 4000.0, 11025.0])
    assert np.allclose(mel_to_hz(hz_to_mel(f, htk), htk), f, rtol=1e-12, atol=1e-9)
    if htk:  # the HTK formula written out
        assert np.allclose(hz_to_mel(f, True), 2595 * np.log10(1 + f / 700))
    librosa = pytest.importorskip("librosa")
    assert np.allclose(hz_to_mel(f, htk), librosa.hz_to_mel(f, htk=htk), rtol=1e-12)
    assert np.allclose(mel_frequencies(10, 50.0, 4000.0, htk),
                       librosa.mel_frequencies(10, fmin=50.0, fmax=4000.0, htk=htk))


@pytest.mark.parametrize("name", ["hann", "hamming"])
@pytest.mark.parametrize("fftbins", [True, False])
def test_windows_match_scipy(name, fftbins):
    from scipy.signal import get_window as scipy_window

    ours = backend.to_numpy(get_window(name, 200, fftbins=fftbins))
    assert np.allclose(ours, scipy_window(name, 200, fftbins=fftbins), atol=1e-15)
    padded = backend.to_numpy(get_window(name, 200, 256))  # centred in n_fft, like librosa
    assert padded.shape == (256,) and np.all(padded[:28] == 0) and np.all(padded[-28:] == 0)
    assert np.all(backend.to_numpy(get_window(None, 7)) == 1)


@pytest.mark.parametrize("norm", ["ortho", None])
def test_dct_matrix_is_scipy_dct_ii(norm):
    from scipy.fft import dct

    x = np.random.default_rng(1).standard_normal((5, 26))
    D = backend.to_numpy(dct_matrix(26, 13, norm=norm))
    assert np.allclose(x @ D.T, dct(x, type=2, norm=norm, axis=-1)[:, :13], atol=1e-12)
    if norm == "ortho":  # orthonormal rows: the full matrix is orthogonal
        F = backend.to_numpy(dct_matrix(26))
        assert np.allclose(F @ F.T, np.eye(26), atol=1e-12)


def naive_frames(x, frame_length, hop, pad):
    """Readable reference: pad, then one frame per loop step."""
    xp_ = np.pad(x, (pad, pad))
    count = 1 + (len(xp_) - frame_length) // hop
    return np.stack([xp_[t * hop:t * hop + frame_length] for t in range(count)])


def test_frame_matches_a_loop_and_counts(xp):
    x = np.random.default_rng(2).standard_normal(1000)
    frames, n = frame(backend.asarray(x), 256, 100, center=True)
    ref = naive_frames(x, 256, 100, 128)
    assert n == ref.shape[0] == num_frames(1000, 256, 100, center=True) == 1 + 1000 // 100
    assert np.allclose(backend.to_numpy(frames), ref)
    frames, n = frame(backend.asarray(x), 200, 80, pad_end=True)  # psf: ceil, zeros at end
    assert n == 1 + int(np.ceil((1000 - 200) / 80))
    assert np.all(backend.to_numpy(frames)[-1, 1000 - (n - 1) * 80:] == 0)


def test_frame_rejects_a_clip_shorter_than_one_uncentred_frame():
    with pytest.raises(ValueError, match="shorter than frame_length"):
        frame(np.zeros(100), 256, 64)


def test_preemphasis_and_power_spectrum_formulas(xp):
    x = np.random.default_rng(3).standard_normal(64)
    y = backend.to_numpy(preemphasis(backend.asarray(x), 0.97))
    assert y[0] == x[0] and np.allclose(y[1:], x[1:] - 0.97 * x[:-1])
    frames = x.reshape(4, 16)
    P = backend.to_numpy(power_spectrum(backend.asarray(frames), 32, scale="n_fft"))
    assert np.allclose(P, np.abs(np.fft.rfft(frames, 32)) ** 2 / 32)
    Pm = backend.to_numpy(power_spectrum(backend.asarray(frames), power=1.0))
    assert np.allclose(Pm, np.abs(np.fft.rfft(frames)))


def test_power_to_db_floors_and_clips_like_librosa():
    librosa = pytest.importorskip("librosa")
    S = np.abs(np.random.default_rng(4).standard_normal((30, 20))) ** 4
    S[3] = 0.0
    assert np.allclose(power_to_db(S, top_db=40.0), librosa.power_to_db(S, top_db=40.0))
    assert np.allclose(power_to_db(S, top_db=None), librosa.power_to_db(S, top_db=None))


def test_lifter_formula_htk_and_librosa_offsets():
    psf = pytest.importorskip("python_speech_features")
    c = np.random.default_rng(5).standard_normal((7, 13))
    assert np.allclose(lifter(c, 22), psf.base.lifter(c, 22))
    n = np.arange(13)
    assert np.allclose(lifter(c, 22, offset=1), c * (1 + 11 * np.sin(np.pi * (n + 1) / 22)))
    assert lifter(c, 0) is c


@pytest.mark.parametrize("width", [3, 5, 9])
@pytest.mark.parametrize("order", [1, 2])
def test_deltas_interp_match_librosa(width, order):
    librosa = pytest.importorskip("librosa")
    x = np.random.default_rng(6).standard_normal((2, 13, 40))
    ref = librosa.feature.delta(x, width=width, order=order)
    assert np.abs(deltas(x, width, order) - ref).max() < 1e-10


@pytest.mark.parametrize("N", [1, 2, 4])
def test_deltas_edge_match_python_speech_features(N):
    psf = pytest.importorskip("python_speech_features")
    x = np.random.default_rng(7).standard_normal((40, 13))  # psf: (frames, coefficients)
    ref = psf.delta(x, N)
    ours = deltas(x, 2 * N + 1, 1, mode="edge", axis=0)
    assert np.abs(ours - ref).max() < 1e-12
    ref2 = psf.delta(ref, N)
    assert np.abs(deltas(x, 2 * N + 1, 2, mode="edge", axis=0) - ref2).max() < 1e-12


def test_deltas_regression_formula_in_the_interior():
    x = np.random.default_rng(8).standard_normal((3, 30))
    N = 2
    d = deltas(x, 2 * N + 1, mode="edge")
    t = 10
    expect = sum(k * (x[:, t + k] - x[:, t - k]) for k in (1, 2)) / (2 * (1 + 4))
    assert np.allclose(d[:, t], expect)


def test_deltas_per_clip_lengths_equal_each_clip_alone(xp):
    x = np.random.default_rng(9).standard_normal((3, 4, 30))
    lens = np.array([30, 12, 20])
    for mode, width in (("interp", 9), ("edge", 5)):
        d = backend.to_numpy(deltas(backend.asarray(x), width, 1, mode, lengths=lens))
        for i, n in enumerate(lens):
            with backend.use("numpy"):
                alone = deltas(x[i, :, :n], width, 1, mode)
            assert np.allclose(d[i, :, :n], alone)
            assert np.all(d[i, :, n:] == 0)
    with pytest.raises(ValueError, match="at least width"):
        deltas(x[..., :5], 9)


def test_document_formula_is_the_log_ratio_of_neighbouring_bands():
    P = np.abs(np.random.default_rng(10).standard_normal((5, 26))) + 0.1
    c = document_mfcc(P)
    assert c.shape == (5, 25)
    assert np.allclose(c[:, 3], np.log10(P[:, 4] / P[:, 3]))
    assert np.all(np.isfinite(document_mfcc(np.zeros((2, 26)))))


# --------------------------------------------------------------------------- pipeline
@pytest.mark.parametrize("preset", [None, "librosa", "python_speech_features"])
def test_silence_gives_finite_output_on_every_backend(xp, preset):
    out = mfcc(backend.asarray(np.zeros((2, 3000))), SR, preset=preset, deltas=2,
               delta_mode="edge")
    assert np.all(np.isfinite(backend.to_numpy(out)))


@pytest.mark.parametrize("preset", ["librosa", "python_speech_features"])
def test_batch_equals_clip_by_clip(xp, preset):
    clips = np.stack([synthetic(k) for k in SIGNALS])  # (5, 4000)
    batch = backend.to_numpy(mfcc(backend.asarray(clips), SR, preset=preset))
    for i, y in enumerate(clips):
        with backend.use("numpy"):
            assert np.allclose(batch[i], mfcc(y, SR, preset=preset), atol=1e-9)
    assert batch.shape[:2] == (5, PRESETS[preset]["n_mfcc"])


@pytest.mark.parametrize("preset,pad_mode", [("librosa", "constant"), ("librosa", "reflect"),
                                              ("python_speech_features", "constant")])
def test_variable_length_clips_give_padded_features_and_frame_counts(xp, preset, pad_mode):
    rng = np.random.default_rng(11)
    clips = [rng.standard_normal(n) for n in (1500, 4100, 2222, 900, 3000)]
    ex = MFCC(SR, preset=preset, pad_mode=pad_mode, max_chunk=30_000, deltas=1,
              delta_mode="edge")
    feats, n = ex.ragged(clips)
    feats = backend.to_numpy(feats)
    assert feats.shape == (5, ex.n_features, n.max())
    assert list(n) == [ex.num_frames(len(c)) for c in clips]
    for i, c in enumerate(clips):
        with backend.use("numpy"):
            alone = ex(c)
        assert np.allclose(feats[i, :, :n[i]], alone, atol=1e-9)
        assert np.all(feats[i, :, n[i]:] == 0)
    # a zero-padded array with lengths gives the same
    padded = np.zeros((5, 4100))
    for i, c in enumerate(clips):
        padded[i, :len(c)] = c
    f2, n2 = ex.ragged(backend.asarray(padded), lengths=[len(c) for c in clips])
    assert np.array_equal(n2, n) and np.allclose(backend.to_numpy(f2), feats, atol=1e-9)


def test_stages_expose_every_intermediate_with_its_shape(xp):
    ex = MFCC(SR, preset="python_speech_features")
    s = ex.stages(backend.asarray(synthetic("chirp")[None]))
    T = s["n_frames"]
    assert s["frames"].shape == (1, T, 200)
    assert s["power"].shape == (1, T, 257)
    assert s["mel"].shape == (1, T, 26) and s["log_mel"].shape == (1, T, 26)
    assert s["mfcc"].shape == (1, 13, T)


def test_seconds_and_samples_and_overrides():
    y = synthetic("noise")
    a = mfcc(y, SR, preset="python_speech_features")
    b = mfcc(y, SR, preset="python_speech_features", win_length=200, hop_length=80)
    assert np.array_equal(a, b)
    assert MFCC(SR, preset="librosa", hop_length=0.016).hop_length == 128
    assert MFCC(SR, preset="librosa").n_mfcc == 20 and MFCC(SR).n_mfcc == 13
    ex = MFCC(SR, preset="librosa", n_mfcc=13, n_mels=40)  # explicit beats the preset
    assert ex.n_mfcc == 13 and ex.mel_host.shape[0] == 40
    assert mfcc(y, SR, preset="librosa", n_mfcc=7).shape[0] == 7


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="preset"):
        MFCC(SR, preset="kaldi")
    with pytest.raises(TypeError, match="unexpected keyword"):
        MFCC(SR, n_ffts=512)
    with pytest.raises(ValueError, match="cannot exceed n_mels"):
        MFCC(SR, n_mfcc=30, n_mels=20)
    with pytest.raises(ValueError, match="log must be"):
        MFCC(SR, log="log2")
    with pytest.raises(ValueError, match="shorter than"):
        mfcc(np.zeros(100), SR, center=False)


def test_float32_input_computes_in_float32(xp):
    y = backend.asarray(synthetic("chirp").astype(np.float32))
    out = mfcc(y, SR, preset="librosa")
    assert out.dtype == np.float32
    ref = mfcc(backend.asarray(synthetic("chirp")), SR, preset="librosa")
    assert np.abs(backend.to_numpy(out) - backend.to_numpy(ref)).max() < 1e-2


def test_golden_array(xp):
    """Pinned output (tests/data/make_mfcc_golden.py), valid without any reference library."""
    g = np.load(GOLDEN)
    for key in ("librosa", "python_speech_features"):
        out = mfcc(backend.asarray(g["signal"]), int(g["sample_rate"]), preset=key, deltas=1,
                   delta_mode="edge")
        assert np.abs(backend.to_numpy(out) - g[key]).max() < 1e-8


# --------------------------------------------------------------------------- the layer
# Tiny shapes: 2 clips of 200 samples, n_fft 64. The outputs are tens of dB, so at the
# checker's default eps=1e-6 round-off in f dominates; eps=1e-5 measures the gradient.
# Configurations keep eps * P_k small against every band energy E_i (the log's curvature):
# learnable filters use unit-peak weights (Slaney-normalised ones are ~1e-3, so eps would
# be a 1 % change) and strong pre-emphasis (which starves the low bands) is kept mild.
LAYER_CONFIGS = {
    "librosa-db-magnitude": dict(preset="librosa", n_fft=64, hop_length=16, n_mels=6,
                                 n_mfcc=5, top_db=None, power=1.0),
    "top_db-clip": dict(preset="librosa", n_fft=64, hop_length=16, n_mels=6, n_mfcc=5,
                        top_db=8.0),
    "reflect-hamming-lifter": dict(preset="librosa", n_fft=64, hop_length=12, win_length=48,
                                   window="hamming", pad_mode="reflect", lifter=6, n_mels=6,
                                   n_mfcc=5, top_db=None),
    "psf-learnable-mel": dict(preset="python_speech_features", n_fft=64, win_length=40,
                              hop_length=16, n_mels=6, n_mfcc=5, trainable_mel=True,
                              preemphasis=0.3),
    "uncentred-ln-energy-learnable-mel": dict(preset="librosa", n_fft=64, hop_length=16,
                                              n_mels=6, n_mfcc=5, center=False, log="ln",
                                              append_energy=True, trainable_mel=True,
                                              mel_norm=None, window=None),
}


@pytest.mark.parametrize("name", list(LAYER_CONFIGS))
def test_mfcc_layer_gradcheck_to_waveform_and_filterbank(xp, name):
    from mmscratch.gradcheck import assert_gradcheck, check_layer
    from mmscratch.nn import MFCCLayer

    cfg = LAYER_CONFIGS[name]
    x = backend.asarray(np.random.default_rng(0).standard_normal((2, 200)) * 0.3)
    layer = MFCCLayer(SR, **cfg)
    results = check_layer(layer, x, eps=1e-5)
    assert set(results) == ({"x", "mel"} if cfg.get("trainable_mel") else {"x"})
    assert_gradcheck(results, tol=1e-6)
    if name == "top_db-clip":  # the clip really is active in this check
        db = 10 * np.log10(backend.to_numpy(layer._cache[6]))  # (N, T, M) band energies
        clipped = db < db.max(axis=(1, 2), keepdims=True) - 8.0
        assert clipped.any(axis=(1, 2)).all()


def test_mfcc_layer_forward_equals_features_mfcc_transposed(xp):
    from mmscratch.nn import MFCCLayer

    x = backend.asarray(np.stack([synthetic("chirp"), synthetic("noise")]))
    for preset in ("librosa", "python_speech_features"):
        y = MFCCLayer(SR, preset=preset)(x)
        ref = mfcc(x, SR, preset=preset)
        assert np.allclose(backend.to_numpy(y), np.swapaxes(backend.to_numpy(ref), 1, 2),
                           atol=1e-8)


def test_mfcc_layer_config_round_trip_shapes_and_errors(xp):
    from mmscratch.nn import MFCCLayer

    layer = MFCCLayer(SR, preset="python_speech_features", n_mels=20, trainable_mel=True,
                      as_image=True)
    x = backend.asarray(np.random.default_rng(1).standard_normal((3, 1000)))
    y = layer(x)
    assert y.shape == (3, layer.extractor.num_frames(1000), 13, 1)
    assert layer.params["mel"].shape == (20, 257)
    twin = type(layer)(**layer.get_config())
    twin(x)
    twin.params["mel"] = layer.params["mel"]
    assert np.allclose(backend.to_numpy(twin(x)), backend.to_numpy(y))
    dx = layer.backward(xp.ones_like(y))
    assert dx.shape == x.shape
    with pytest.raises(ValueError, match="2 dimensions"):
        layer(backend.asarray(np.zeros(1000)))
    with pytest.raises(ValueError, match="deltas"):
        MFCCLayer(SR, deltas=1)
