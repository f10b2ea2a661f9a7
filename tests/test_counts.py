"""One rule for every argument that counts something (issue 14, kind 2).

Specification
-------------
Every count in the library (units, filters, kernel and pool sizes, heads, vocabulary
sizes, FFT sizes, mel bands, coefficients, components, clusters, iterations, epochs,
batch sizes, data-set sizes, k) goes through :func:`mmscratch.errors.check_count`:

* Python and NumPy integers are accepted (``np.int64(3)`` works like ``3``, and the
  stored value is a plain ``int``, so configs stay JSON);
* ``True`` is refused (it is not a count);
* ``3.0`` is refused, even though it is integral, except where the docstring gives
  floats a meaning (MFCC's hop_length/win_length in seconds, PCA's n_components as a
  fraction of the variance in (0, 1));
* the error is an ``InvalidParameterError``, both a ``TypeError`` and a ``ValueError``
  (as scikit-learn's), and names the argument.

The issue's example: ``MFCC(8000, preset="librosa", n_fft=2048.0)`` read the float as
seconds and tried to allocate 7.9 GiB; it now raises ``TypeError`` at once.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmscratch import metrics, nn
from mmscratch.datasets import load_avmnist, load_fsdd
from mmscratch.errors import InvalidParameterError
from mmscratch.features import MFCC, CountVectorizer, mfcc
from mmscratch.multimodal import AttentionFusion, GatedFusion, LowRankTensorFusion
from mmscratch.unsupervised import PCA, KMeans, TruncatedSVD, multimodal_clustering

X = np.random.default_rng(0).normal(size=(12, 4))


def fit_model(**kwargs):
    model = nn.Sequential([nn.Dense(2, seed=0)])
    model.compile(optimizer="adam", loss=nn.SoftmaxCrossEntropy())
    return model.fit(X.astype(np.float32), np.arange(12) % 2, verbose=0, **kwargs)


# name -> (call with the count v, argument name[, a valid count, default 3]). Each call
# is cheap: construction, or a fit on 12 samples.
CASES = {
    "Dense.units": (lambda v: nn.Dense(v), "units"),
    "Conv2D.filters": (lambda v: nn.Conv2D(v, 3), "filters"),
    "Conv2D.kernel_size": (lambda v: nn.Conv2D(2, v), "kernel_size"),
    "Conv2D.kernel_size pair": (lambda v: nn.Conv2D(2, (3, v)), "kernel_size[1]"),
    "Conv2D.strides": (lambda v: nn.Conv2D(2, 3, strides=v), "strides"),
    "MaxPooling2D.pool_size": (lambda v: nn.MaxPooling2D(v), "pool_size"),
    "SimpleRNN.units": (lambda v: nn.SimpleRNN(v), "units"),
    "LSTM.units": (lambda v: nn.LSTM(v), "units"),
    "GRU.units": (lambda v: nn.GRU(v), "units"),
    "Embedding.vocab": (lambda v: nn.Embedding(v, 4), "vocab"),
    "Embedding.dim": (lambda v: nn.Embedding(10, v), "dim"),
    "MultiHeadAttention.num_heads": (lambda v: nn.MultiHeadAttention(v, 4), "num_heads"),
    "MultiHeadAttention.key_dim": (lambda v: nn.MultiHeadAttention(2, v), "key_dim"),
    "TransformerEncoder.ff_dim": (lambda v: nn.TransformerEncoder(2, 4, v), "ff_dim"),
    "AttentionFusion.d_model": (lambda v: AttentionFusion(v), "d_model"),
    "GatedFusion.units": (lambda v: GatedFusion(v), "units"),
    "LowRankTensorFusion.rank": (lambda v: LowRankTensorFusion(v, 4), "rank"),
    "MFCC.n_fft": (lambda v: MFCC(8000, n_fft=v), "n_fft", 256),
    "MFCC.n_mels": (lambda v: MFCC(8000, n_mels=v), "n_mels", 40),
    "MFCC.n_mfcc": (lambda v: MFCC(8000, n_mfcc=v), "n_mfcc"),
    "MFCC.deltas": (lambda v: MFCC(8000, deltas=v), "deltas", 1),
    "PCA.n_components": (lambda v: PCA(v).fit(X), "n_components"),
    "PCA.n_oversamples": (lambda v: PCA(2, n_oversamples=v).fit(X), "n_oversamples"),
    "KMeans.n_clusters": (lambda v: KMeans(v, n_init=1).fit(X), "n_clusters"),
    "KMeans.n_init": (lambda v: KMeans(2, n_init=v).fit(X), "n_init"),
    "KMeans.max_iter": (lambda v: KMeans(2, max_iter=v).fit(X), "max_iter"),
    "TruncatedSVD.n_components": (lambda v: TruncatedSVD(v).fit(X), "n_components"),
    "TruncatedSVD.n_iter": (lambda v: TruncatedSVD(2, n_iter=v).fit(X), "n_iter"),
    "CountVectorizer.max_features": (
        lambda v: CountVectorizer(max_features=v).fit(["aa bb cc", "aa dd"]), "max_features"),
    "fit.epochs": (lambda v: fit_model(epochs=v), "epochs"),
    "fit.batch_size": (lambda v: fit_model(batch_size=v), "batch_size"),
    "recall_at_k.k": (lambda v: metrics.recall_at_k(np.eye(4), v), "k"),
    "multimodal_clustering.n_clusters": (
        lambda v: multimodal_clustering({"a": X}, np.arange(12) % 3, n_clusters=v),
        "n_clusters"),
    "load_fsdd.max_len": (lambda v: load_fsdd("/nonexistent", max_len=v), "max_len"),
    "load_avmnist.pairs_per_clip": (
        lambda v: load_avmnist("/nonexistent", pairs_per_clip=v), "pairs_per_clip"),
}
#: These read data after the count check: with a valid count they fail on the folder.
NEEDS_DATA = {"load_fsdd.max_len", "load_avmnist.pairs_per_clip"}


def case(name):
    make, argument, *good = CASES[name]
    return make, argument, (good[0] if good else 3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_integers_are_counts(name):
    make, _, good = case(name)
    if name in NEEDS_DATA:  # the count passed; the missing folder is reported next
        with pytest.raises(Exception) as info:
            make(np.int64(good))
        assert not isinstance(info.value, InvalidParameterError), info.value
        return
    make(np.int64(good))
    make(good)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("bad", ["True", "float"])
def test_bools_and_floats_are_refused_naming_the_argument(name, bad):
    make, argument, good = case(name)
    with pytest.raises(InvalidParameterError) as info:
        make(True if bad == "True" else float(good))
    assert argument in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_stored_counts_are_plain_ints():
    layer = nn.Dense(np.int64(3))
    assert type(layer.units) is int and layer.get_config()["units"] == 3
    assert nn.Conv2D(np.int32(2), np.int64(3)).kernel_size == (3, 3)
    assert type(nn.MultiHeadAttention(np.int64(2), np.int64(4)).num_heads) is int


def test_mfcc_float_n_fft_is_refused_at_once():
    """The issue's example: librosa's rule, n_fft must be an int."""
    start = time.perf_counter()
    with pytest.raises(TypeError, match=r"n_fft.*got float 2048\.0 \(write 2048"):
        MFCC(8000, preset="librosa", n_fft=2048.0)
    with pytest.raises(TypeError, match="n_fft"):
        mfcc(np.zeros(800), 8000, n_fft=512.0)
    # nothing was allocated or computed: far below the 100 s the old path took
    assert time.perf_counter() - start < 5.0


def test_mfcc_seconds_stay_floats_where_documented():
    """hop_length/win_length as floats are seconds (python_speech_features' winstep)."""
    ex = MFCC(8000, hop_length=0.01, win_length=0.025, n_fft=256)
    assert (ex.hop_length, ex.win_length) == (80, 200)
    with pytest.raises(TypeError, match="hop_length"):
        MFCC(8000, hop_length=True)


def test_pca_float_components_are_a_fraction_only_below_one():
    assert PCA(0.5).fit(X).n_components_ >= 1
    with pytest.raises(ValueError, match=r"fraction.*got 3\.0 \(write 3"):
        PCA(3.0).fit(X)


def test_below_minimum_is_a_value_error_naming_the_rule():
    with pytest.raises(ValueError, match="units must be a positive int"):
        nn.Dense(0)
    with pytest.raises(ValueError, match=r"n_clusters must be an int >= 2"):
        multimodal_clustering({"a": X}, np.arange(12) % 3, n_clusters=1)
