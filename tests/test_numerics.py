"""Numerical edge cases: extreme inputs give finite, correct numbers (no overflow, no NaN).

Specification
-------------
Each case runs with NumPy's floating-point errors turned into exceptions
(``np.errstate(over/invalid/divide="raise")``), so "finite" also means "computed
without an overflow or a 0/0 on the way" -- not "overflowed and then clipped".

Covered elsewhere (not repeated here):

* softmax at logits +-1e4 (float64): tests/test_layers_basic.py
  ``test_softmax_is_stable_at_large_logits``; cross-entropy at +-1e4:
  tests/test_losses.py ``test_cross_entropy_finite_at_huge_logits``;
* sigmoid at +-1e3 (float64): tests/test_layers_basic.py
  ``test_sigmoid_is_stable_at_extremes``, tests/test_recurrent.py
  ``test_stable_sigmoid_does_not_overflow``;
* LSTM over 1,000 steps (float64, forward and backward): tests/test_recurrent.py
  ``test_lstm_over_1000_steps_stays_finite``;
* MFCC of silence on every backend and preset: tests/test_mfcc.py
  ``test_silence_gives_finite_output_on_every_backend``; a clip shorter than one
  uncentred frame is refused: ``test_frame_rejects_a_clip_shorter_than_one_uncentred_frame``;
* PCA of constant columns, rank-deficient data and all-constant data:
  tests/test_pca.py ``test_constant_columns_and_rank_deficiency_stay_finite``,
  ``test_all_constant_data_gives_zero_ratio_not_nan``.

Added here: the same extremes in float32 (the default dtype) and through backward,
the document's softmax + categorical cross-entropy pair, late fusion and attention at
huge logits, MFCC of a full-scale square wave and of a clip shorter than one frame,
k-means with fewer distinct points than clusters, TF-IDF of a word in every document.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.features import MFCC, TfidfVectorizer, mfcc
from mmscratch.multimodal.fusion import LateFusion
from mmscratch.unsupervised import ConvergenceWarning, KMeans

RAISE = dict(over="raise", invalid="raise", divide="raise")


def host(a):
    return backend.to_numpy(a)


def finite(a):
    return bool(np.isfinite(host(a)).all())


# ------------------------------------------------------------------ logits and gates
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_at_logits_1e4_forward_and_backward(xp, dtype):
    z = backend.asarray(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=dtype))
    y = backend.asarray(np.array([0, 0]))
    loss = nn.SoftmaxCrossEntropy()
    with np.errstate(**RAISE):
        value = loss.forward(z, y)
        dz = host(loss.backward())
    assert value == pytest.approx(1e4)  # (0 + 2e4) / 2
    # dL/dz = (softmax(z) - onehot) / N, exactly representable here
    np.testing.assert_array_equal(dz, np.array([[0, 0, 0], [-0.5, 0.5, 0]], dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_document_softmax_then_categorical_crossentropy_at_1e4(xp, dtype):
    """The document compiles softmax outputs with 'categorical_crossentropy' (Keras)."""
    z = backend.asarray(np.array([[1e4, -1e4, 0.0]], dtype=dtype))
    softmax, loss = nn.Softmax(), nn.CategoricalCrossentropy()
    with np.errstate(**RAISE):
        p = softmax.forward(z)
        right = loss.forward(p, backend.asarray(np.array([0])))
        wrong = loss.forward(p, backend.asarray(np.array([1])))
        dz = softmax.backward(loss.backward())
    assert finite(p) and finite(dz)
    assert right == pytest.approx(-np.log1p(-1e-7), abs=1e-6)
    # documented Keras behaviour: probabilities are clipped to [1e-7, 1 - 1e-7], so a
    # saturated wrong answer costs -log(1e-7) and passes no gradient (use logits to train)
    assert wrong == pytest.approx(-np.log(1e-7), rel=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_at_1e3_forward_and_backward(xp, dtype):
    x = backend.asarray(np.array([-1e3, -50.0, 0.0, 50.0, 1e3], dtype=dtype))
    for layer, expected in ((nn.Sigmoid(), [0, 0, 0.5, 1, 1]), (nn.Tanh(), [-1, -1, 0, 1, 1])):
        with np.errstate(**RAISE):
            y = layer.forward(x)
            dx = layer.backward(backend.xp().ones_like(x))
        np.testing.assert_allclose(host(y), expected, atol=1e-7)
        assert finite(dx) and host(dx)[0] == 0 and host(dx)[-1] == 0


def test_lstm_float32_1000_saturating_steps(xp):
    """float32 (the default) with inputs large enough to saturate every gate."""
    layer = nn.LSTM(4, return_sequences=True, seed=0)
    x = backend.asarray(100 * np.random.default_rng(1).standard_normal((2, 1000, 3))
                        .astype(np.float32))
    with np.errstate(**RAISE):
        y = layer.forward(x)
        dx = layer.backward(backend.xp().ones_like(y))
    assert y.dtype == np.float32 and finite(y) and finite(dx)
    assert float(np.abs(host(y)).max()) <= 1.0  # h = o * tanh(c) stays in [-1, 1]
    assert all(finite(g) for g in layer.grads.values())


def test_late_fusion_of_confident_disagreeing_logits_is_finite(xp):
    """log(mean_m softmax(z_m)) computed as a log-sum-exp: no log(0) at +-1e4."""
    z = {"a": backend.asarray(np.array([[1e4, -1e4], [1e4, -1e4]])),
         "b": backend.asarray(np.array([[1e4, -1e4], [-1e4, 1e4]]))}
    with np.errstate(**RAISE):
        out = host(LateFusion().forward(z))
    np.testing.assert_allclose(out, [[0.0, -2e4], [np.log(0.5), np.log(0.5)]])


def test_attention_with_huge_scores_is_finite(xp):
    x = backend.asarray(1e3 * np.random.default_rng(2).standard_normal((2, 5, 4)))
    layer = nn.Attention()
    with np.errstate(**RAISE):
        y = layer.forward(x)
        dx = layer.backward(backend.xp().ones_like(y))
    assert finite(y) and finite(dx)


# ------------------------------------------------------------------ MFCC
SR = 8000


def square_wave(n=SR, hz=500.0, dtype=np.float64):
    period = int(SR / hz)  # 16 samples: divides every preset's hop (512, 80)
    x = np.where(np.arange(n) % period < period // 2, 1.0, -1.0)
    return x.astype(dtype)  # full scale: every sample is +-1


@pytest.mark.parametrize("preset", [None, "librosa", "python_speech_features"])
def test_mfcc_of_a_full_scale_square_wave(xp, preset):
    x = square_wave()
    with np.errstate(**RAISE):
        c64 = host(mfcc(backend.asarray(x), SR, preset=preset))
        c32 = host(mfcc(backend.asarray(x.astype(np.float32)), SR, preset=preset))
    assert np.isfinite(c64).all() and np.isfinite(c32).all()
    # float32 loses nothing that matters at full scale (dB values of order 10..100)
    np.testing.assert_allclose(c32, c64, rtol=1e-3, atol=1e-2)
    # the hop is a whole number of periods: every frame away from the (padded) edges
    # sees the same samples, so the coefficients agree to rounding error
    inner = c64[..., 3:-3]
    np.testing.assert_allclose(inner, inner[..., :1] + 0 * inner, rtol=1e-9, atol=1e-9)


def test_mfcc_square_wave_matches_librosa(xp):
    librosa = pytest.importorskip("librosa")
    x = square_wave()
    ours = host(mfcc(backend.asarray(x), SR, preset="librosa"))
    ref = librosa.feature.mfcc(y=x, sr=SR)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("preset", [None, "librosa", "python_speech_features"])
def test_mfcc_of_a_clip_shorter_than_one_frame_gives_one_finite_frame(xp, preset):
    extractor = MFCC(SR, preset=preset)
    short = extractor.frame_length // 2
    x = np.random.default_rng(3).standard_normal(short)
    with np.errstate(**RAISE):
        out = host(extractor(backend.asarray(x)))
    frames = int(extractor.num_frames(short))  # 1 uncentred; 1 + len // hop centred
    assert frames >= 1
    assert out.shape == (extractor.n_mfcc, frames) and np.isfinite(out).all()


def test_mfcc_short_clip_matches_librosa(xp):
    librosa = pytest.importorskip("librosa")
    x = np.random.default_rng(4).standard_normal(300)  # < n_fft = 2048
    ours = host(mfcc(backend.asarray(x), SR, preset="librosa"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa warns that n_fft is too large
        ref = librosa.feature.mfcc(y=x, sr=SR)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-5)


# ------------------------------------------------------------------ k-means
def test_kmeans_with_fewer_distinct_points_than_clusters(xp):
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(2\).*n_clusters \(3\)"):
        km = KMeans(3, n_init=3, random_state=0).fit(backend.asarray(X))
    centers, labels = host(km.cluster_centers_), host(km.labels_)
    assert np.isfinite(centers).all() and centers.shape == (3, 2)
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)
    # every point sits on a centre equal to it; identical points share a label
    np.testing.assert_allclose(centers[labels], X, atol=1e-12)
    assert labels[0] == labels[1] and labels[2] == labels[3] == labels[4]
    np.testing.assert_array_equal(host(km.predict(backend.asarray(X))), labels)


def test_kmeans_of_identical_points(xp):
    X = np.ones((6, 3))
    with pytest.warns(ConvergenceWarning):
        km = KMeans(2, n_init=2, random_state=0).fit(backend.asarray(X))
    assert np.isfinite(host(km.cluster_centers_)).all()
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------ TF-IDF
@pytest.mark.parametrize("smooth_idf", [True, False])
def test_tfidf_of_a_word_in_every_document(xp, smooth_idf):
    docs = ["the cat", "the dog", "the the"]
    vec = TfidfVectorizer(smooth_idf=smooth_idf)
    with np.errstate(**RAISE):
        X = host(vec.fit_transform(docs).toarray())
    idf = dict(zip(vec.get_feature_names_out(), host(vec.idf_)))
    assert idf["the"] == 1.0  # ln(n / df) + 1 with df = n (smoothed or not)
    assert np.isfinite(X).all()
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0)
    np.testing.assert_allclose(X[2], [0.0, 0.0, 1.0])
    sk = pytest.importorskip("sklearn.feature_extraction.text")
    ref = sk.TfidfVectorizer(smooth_idf=smooth_idf).fit_transform(docs).toarray()
    np.testing.assert_allclose(X, ref, rtol=1e-12)


def test_tfidf_when_every_word_is_in_every_document_and_unknown_words(xp):
    vec = TfidfVectorizer()
    with np.errstate(**RAISE):
        X = host(vec.fit_transform(["ab cd", "cd ab", "ab cd ab cd"]).toarray())
        unseen = host(vec.transform(["zebra", ""]).toarray())
    np.testing.assert_allclose(X, np.full((3, 2), np.sqrt(0.5)))
    np.testing.assert_array_equal(unseen, 0.0)  # zero rows, not 0/0 = NaN
