"""Bad arguments across the public API: one clear message, or a documented behaviour.

Specification
-------------
Every public layer (each entry of ``mmscratch.nn.LAYER_REGISTRY``, fusion layers
included), the MFCC extractor, the text vectorizers and the estimators (PCA, KMeans,
TruncatedSVD), given

* the wrong rank, a wrong dtype (integers, booleans, object arrays), an empty batch,
* NaN or inf, or
* an array of another backend (strict vs numpy; cupy vs numpy on a GPU) or a list,

either raise ``ValueError``/``TypeError`` (``BackendError`` is both) whose message names
the argument, or show the documented behaviour tested here:

* element-wise layers (activations, Dropout, Flatten) accept any rank they can and pass
  an empty batch through as an empty batch;
* NaN *propagates* through layers that do not scan their input (documented in
  ``mmscratch.nn.layer``): NaN in gives NaN out, never a silently finite output; Dense,
  Model.fit/predict and the estimators reject NaN/inf with a message;
* MFCC takes integer PCM (cast to the float dtype) and propagates NaN to the clip that
  holds it, leaving the other clips of the batch unchanged (documented in ``MFCC``).

The messages come from one helper, :func:`mmscratch.errors.check_array`, so they read
alike: ``Layer(args): argument 'x' must have 3 dimensions, got shape (...)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend, nn
from mmscratch.features import MFCC, CountVectorizer, TfidfVectorizer, mfcc
from mmscratch.multimodal import adaptive as adaptive_mod
from mmscratch.multimodal import crossmodal as crossmodal_mod
from mmscratch.multimodal import fusion as fusion_mod
from mmscratch.multimodal import transformer_fusion as transformer_fusion_mod
from mmscratch.unsupervised import PCA, KMeans, TruncatedSVD

R = np.random.default_rng(0)


def f(*shape):
    return R.standard_normal(shape)


def mfcc_layer():
    from mmscratch.nn.mfcc_layer import MFCCLayer

    return MFCCLayer(8000, n_mfcc=5, n_fft=64, hop_length=32, n_mels=8)


# name: (factory, valid host input, rank policy, empty-batch policy, NaN policy)
#   rank:  "any" = element-wise, keeps the input's shape; an int = the required rank;
#          ">=2" = (N, ..., features) like Keras' Dense / Flatten
#   empty: "error" = ValueError naming 'x'; "pass" = an empty batch comes out
#   nan:   "error" = ValueError mentioning NaN; "propagate" = NaN comes out
LAYERS = {
    "ReLU": (nn.ReLU, f(2, 3), "any", "pass", "propagate"),
    "Tanh": (nn.Tanh, f(2, 3), "any", "pass", "propagate"),
    "Sigmoid": (nn.Sigmoid, f(2, 3), "any", "pass", "propagate"),
    "Linear": (nn.Linear, f(2, 3), "any", "pass", "propagate"),
    "Softmax": (nn.Softmax, f(2, 3), "any", "pass", "propagate"),
    "Dropout": (lambda: nn.Dropout(0.5, seed=0), f(2, 3), "any", "pass", "propagate"),
    "Flatten": (nn.Flatten, f(2, 3, 4), ">=2", "pass", "propagate"),
    "ExpandDims": (nn.ExpandDims, f(2, 3), ">=2", "pass", "propagate"),
    "Dense": (lambda: nn.Dense(3, seed=0), f(2, 4), ">=2", "error", "error"),
    "Conv2D": (lambda: nn.Conv2D(2, 3, seed=0), f(1, 5, 5, 1), 4, "error", "propagate"),
    "MaxPooling2D": (lambda: nn.MaxPooling2D(2), f(1, 4, 4, 1), 4, "error", "propagate"),
    "AveragePooling2D": (lambda: nn.AveragePooling2D(2), f(1, 4, 4, 1), 4, "error",
                         "propagate"),
    "GlobalAveragePooling2D": (nn.GlobalAveragePooling2D, f(1, 4, 4, 2), 4, "error",
                               "propagate"),
    "SimpleRNN": (lambda: nn.SimpleRNN(3, seed=0), f(2, 4, 2), 3, "error", "propagate"),
    "LSTM": (lambda: nn.LSTM(3, seed=0), f(2, 4, 2), 3, "error", "propagate"),
    "Embedding": (lambda: nn.Embedding(10, 3, seed=0), R.integers(0, 10, (2, 4)), "any",
                  "error", None),
    "Attention": (nn.Attention, f(2, 4, 3), 3, "error", "propagate"),
    "MultiHeadAttention": (lambda: nn.MultiHeadAttention(2, 2, seed=0), f(2, 4, 3), 3,
                           "error", "propagate"),
    "MFCCLayer": (mfcc_layer, f(2, 400), 2, "error", "propagate"),
    "GRU": (lambda: nn.GRU(3, seed=0), f(2, 4, 2), 3, "error", "propagate"),
    "LayerNormalization": (nn.LayerNormalization, f(2, 3), ">=2", "error", "propagate"),
    "BatchNormalization": (nn.BatchNormalization, f(2, 3), ">=2", "error", "propagate"),
    "PositionalEncoding": (nn.PositionalEncoding, f(2, 4, 3), 3, "error", "propagate"),
    # its Dense sublayers check their input, so NaN is refused with their message
    "TransformerEncoder": (lambda: nn.TransformerEncoder(2, 2, 4, seed=0), f(2, 4, 3), 3,
                           "error", "error"),
    "Tokens": (crossmodal_mod.Tokens, f(2, 4, 3, 2), 4, "error", "propagate"),
    "StackFrames": (lambda: transformer_fusion_mod.StackFrames(2), f(2, 5, 3), 3, "error",
                    "propagate"),
}

FUSIONS = {
    "ConcatFusion": fusion_mod.ConcatFusion,
    "LateFusion": fusion_mod.LateFusion,
    "AttentionFusion": lambda: fusion_mod.AttentionFusion(4, seed=0),
    "TensorFusion": fusion_mod.TensorFusion,
    "GatedFusion": lambda: adaptive_mod.GatedFusion(4, seed=0),
    "LowRankTensorFusion": lambda: adaptive_mod.LowRankTensorFusion(2, 4, seed=0),
}
#: Walked elsewhere: token-sequence fusion takes (N, T, D) per modality, not (N, D);
#: tests/test_crossmodal_attention.py and tests/test_transformer_fusion.py check their
#: bad-input messages.
SEQUENCE_FUSIONS = {"CrossModalAttentionFusion", "TransformerFusion"}
ABSTRACT = {"FusionLayer"}


def test_every_public_layer_is_walked_by_these_tests():
    public = {k for k in nn.LAYER_REGISTRY if not k.startswith("_")} - ABSTRACT
    missing = sorted(public - set(LAYERS) - set(FUSIONS) - SEQUENCE_FUSIONS)
    assert not missing, f"add {missing} to the tables of tests/test_validation.py"


def other_backend_array(host):
    """``host`` as an array of a backend that is *not* the active one."""
    if backend.name() == "numpy":
        with backend.use("strict"):
            return backend.asarray(host)
    return host  # a NumPy array under strict or cupy


def names_argument(exc, argument="'x'"):
    assert argument in str(exc), f"the message does not name {argument}: {exc}"


def run_layer(name, x):
    return LAYERS[name][0]().forward(x)


# ------------------------------------------------------------------------ layers
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_table_inputs_are_valid(xp, name):
    y = run_layer(name, backend.asarray(LAYERS[name][1]))
    assert backend.is_array(y)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("change", ["rank+1", "rank-1"])
def test_layer_wrong_rank(xp, name, change):
    _, x, rank, _, _ = LAYERS[name]
    bad = x[None] if change == "rank+1" else x[0]
    if rank == "any" or (rank == ">=2" and bad.ndim >= 2):
        y = run_layer(name, backend.asarray(bad))  # documented: works on any such rank
        if rank == "any" and name != "Embedding":
            assert tuple(y.shape) == bad.shape
        return
    with pytest.raises(ValueError, match="dimensions") as info:
        run_layer(name, backend.asarray(bad))
    names_argument(info.value)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", ["int", "bool", "object", "float"])
def test_layer_wrong_dtype(xp, name, dtype):
    x = LAYERS[name][1]
    wants_ints = x.dtype.kind == "i"
    if (dtype == "int") == wants_ints and dtype != "bool" and dtype != "object":
        return  # that is the layer's own dtype
    if dtype == "object" and backend.name() == "cupy":
        pytest.skip("CuPy has no object arrays")
    bad = {"int": (x * 3).astype(np.int64), "bool": x > 0, "object": x.astype(object),
           "float": x.astype(np.float64)}[dtype]
    with pytest.raises(ValueError, match="dtype") as info:
        run_layer(name, backend.asarray(bad))
    names_argument(info.value)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_empty_batch(xp, name):
    _, x, _, policy, _ = LAYERS[name]
    empty = backend.asarray(x[:0])
    if policy == "pass":
        assert run_layer(name, empty).shape[0] == 0
    else:
        with pytest.raises(ValueError, match="empty") as info:
            run_layer(name, empty)
        names_argument(info.value)


@pytest.mark.parametrize("name", sorted(k for k, v in LAYERS.items() if v[4]))
@pytest.mark.parametrize("value", [np.nan, np.inf])
# inf - inf and inf * 0 are NaN by IEEE 754; NumPy says so with a RuntimeWarning, which
# is the expected, propagated outcome here (the policy under test), not a failure.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_layer_nan_and_inf(xp, name, value):
    _, x, _, _, policy = LAYERS[name]
    bad = x.copy()
    bad.flat[1] = value
    if policy == "error":
        with pytest.raises(ValueError, match="NaN or inf") as info:
            run_layer(name, backend.asarray(bad))
        names_argument(info.value)
        return
    y = backend.to_numpy(run_layer(name, backend.asarray(bad)))
    if value is np.nan:  # propagation, never a silently finite answer
        assert np.isnan(y).any()
    # inf may have a finite limit (tanh(inf) = 1); it must not raise from inside NumPy


def test_the_nan_policy_is_documented_where_layers_live():
    doc = nn.Layer.__doc__ + (nn.layer.__doc__ or "")
    assert "propagates" in doc and "NaN" in doc


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_refuses_arrays_of_another_backend_and_lists(xp, name):
    x = LAYERS[name][1]
    with pytest.raises(backend.BackendError, match="backend") as info:
        run_layer(name, other_backend_array(x))
    names_argument(info.value)
    with pytest.raises(TypeError):  # BackendError is a TypeError too
        run_layer(name, x.tolist())


# ------------------------------------------------------------------------ fusion layers
def fusion_inputs(**override):
    inputs = {"a": f(2, 3), "b": f(2, 3)}
    inputs.update(override)
    return inputs


@pytest.mark.parametrize("name", sorted(FUSIONS))
@pytest.mark.parametrize("case,bad,match", [
    ("rank", f(1, 2, 3), "2 dimensions"),
    ("int", np.ones((2, 3), dtype=np.int64), "dtype"),
    ("bool", np.ones((2, 3), dtype=bool), "dtype"),
    ("empty", np.zeros((0, 3)), "empty"),
])
def test_fusion_refuses_bad_modalities_naming_them(xp, name, case, bad, match):
    inputs = fusion_inputs(a=bad)
    if case == "empty":
        inputs["b"] = np.zeros((0, 3))
    with pytest.raises(ValueError, match=match) as info:
        FUSIONS[name]().forward({k: backend.asarray(v) for k, v in inputs.items()})
    names_argument(info.value, "inputs[a]")


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_fusion_refuses_other_backend_and_mismatched_batches(xp, name):
    good = fusion_inputs()
    with pytest.raises(backend.BackendError) as info:
        FUSIONS[name]().forward({"a": other_backend_array(good["a"]),
                                 "b": backend.asarray(good["b"])})
    names_argument(info.value, "inputs[a]")
    with pytest.raises(ValueError, match="different batch sizes"):
        FUSIONS[name]().forward({"a": backend.asarray(good["a"][:1]),
                                 "b": backend.asarray(good["b"])})


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_fusion_propagates_nan(xp, name):
    a = f(2, 3)
    a[0, 0] = np.nan
    y = FUSIONS[name]().forward({"a": backend.asarray(a), "b": backend.asarray(f(2, 3))})
    assert np.isnan(backend.to_numpy(y)).any()


# ------------------------------------------------------------------------ models
def dense_model():
    model = nn.Sequential([nn.Dense(3, seed=0)])
    model.compile(optimizer="adam", loss=nn.SoftmaxCrossEntropy())
    return model


def test_model_entry_points_reject_bad_arguments(xp):
    model = dense_model()
    x, y = f(4, 5).astype(np.float32), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match="x has 4 samples but y has 3"):
        model.fit(x, y[:3], verbose=0)
    with pytest.raises(ValueError, match="'epochs' must be an int >= 1, got 0"):
        model.fit(x, y, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="'batch_size' must be an int >= 1, got 0"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(TypeError, match="'epochs' must be an int, got float 2.0"):
        model.fit(x, y, epochs=2.0, verbose=0)
    nan_x = x.copy()
    nan_x[1, 1] = np.nan
    with pytest.raises(ValueError, match="'x' contains NaN"):
        model.fit(nan_x, y, verbose=0)
    with pytest.raises(ValueError, match="'x' contains NaN"):
        model.predict(nan_x)
    model.predict(x)
    with pytest.raises(ValueError, match="last dimension 5"):
        model.predict(f(2, 6).astype(np.float32))
    if backend.name() == "numpy":  # host arrays are moved on other backends (documented)
        with pytest.raises(backend.BackendError):
            model.predict(other_backend_array(x))
    with pytest.raises(ValueError):
        nn.Sequential([nn.Dense(3)]).compile(optimizer="adamw")
    with pytest.raises(ValueError, match="unknown metrics"):
        nn.Sequential([nn.Dense(3)]).compile(metrics=["f1"])
    with pytest.raises(TypeError, match="expects a Layer"):
        nn.Sequential([nn.Dense(3), "relu"])


def test_model_fit_before_compile_says_so():
    with pytest.raises(RuntimeError, match="compile"):
        nn.Sequential([nn.Dense(3)]).fit(f(2, 4), np.array([0, 1]))


# ------------------------------------------------------------------------ MFCC
SIGNAL = f(2, 2000)


def test_mfcc_rejects_wrong_rank_empty_clips_and_other_backends(xp):
    with pytest.raises(ValueError, match="samples > 0"):
        mfcc(backend.asarray(np.float64(1.0)), 8000)
    with pytest.raises(ValueError, match="samples > 0"):
        mfcc(backend.asarray(SIGNAL[:, :0]), 8000)
    with pytest.raises(backend.BackendError) as info:
        mfcc(other_backend_array(SIGNAL), 8000)
    names_argument(info.value, "'signal'")


def test_mfcc_documented_shapes_for_batches_and_empty_batches(xp):
    out = mfcc(backend.asarray(SIGNAL[None]), 8000)  # any leading batch dimensions
    assert out.shape[:3] == (1, 2, 13)
    assert mfcc(backend.asarray(SIGNAL[:0]), 8000).shape[:2] == (0, 13)


def test_mfcc_takes_integer_pcm_as_documented(xp):
    pcm = (SIGNAL * 3000).astype(np.int16)
    ours = backend.to_numpy(mfcc(backend.asarray(pcm), 8000))
    ref = backend.to_numpy(mfcc(backend.asarray(pcm.astype(backend.floatx())), 8000))
    np.testing.assert_array_equal(ours, ref)
    assert "integers" in MFCC.__doc__


@pytest.mark.parametrize("dtype", ["bool", "object"])
def test_mfcc_rejects_boolean_and_object_signals(xp, dtype):
    if dtype == "object" and backend.name() == "cupy":
        pytest.skip("CuPy has no object arrays")
    with pytest.raises(ValueError, match="dtype") as info:
        mfcc(backend.asarray(SIGNAL.astype(dtype)), 8000)
    names_argument(info.value, "'signal'")


def test_mfcc_nan_stays_in_its_own_clip(xp):
    bad = SIGNAL.copy()
    bad[0, 500] = np.nan
    out = backend.to_numpy(mfcc(backend.asarray(bad), 8000))
    ref = backend.to_numpy(mfcc(backend.asarray(SIGNAL[1:]), 8000))
    assert np.isnan(out[0]).any()
    np.testing.assert_allclose(out[1], ref[0], rtol=1e-6, atol=1e-6)
    assert "NaN" in MFCC.__doc__


@pytest.mark.parametrize("kwargs,match", [
    (dict(sample_rate=0), "sample_rate"),
    (dict(sample_rate=-8000), "sample_rate"),
    (dict(sample_rate=float("nan")), "sample_rate"),
    (dict(n_mfcc=0), "n_mfcc"),
    (dict(n_fft=0), "n_fft"),
    (dict(hop_length=0), "hop_length"),
    (dict(n_mels=0), "n_mels"),
    (dict(n_fft_size=512), "unexpected keyword argument 'n_fft_size'"),
])
def test_mfcc_rejects_bad_settings_naming_them(kwargs, match):
    kwargs = {"sample_rate": 8000, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        MFCC(**kwargs)


# ------------------------------------------------------------------------ vectorizers
DOCS = ["the cat sat", "the dog ran", "a cat and a dog"]


@pytest.mark.parametrize("Vec", [CountVectorizer, TfidfVectorizer])
@pytest.mark.parametrize("bad,error,match", [
    ("the cat sat", ValueError, "string object received"),
    (None, TypeError, "iterable of str"),
    ([1, 2, 3], TypeError, "must be a str"),
    ([b"the cat", b"dog"], TypeError, "decode bytes"),
    (["a cat", float("nan")], TypeError, "must be a str"),
    (np.array([["a b"], ["c d"]]), TypeError, "must be a str"),  # 2-D: rows, not documents
    ([], ValueError, "empty vocabulary"),
])
def test_vectorizers_reject_what_is_not_a_list_of_documents(Vec, bad, error, match):
    with pytest.raises(error, match=match):
        Vec().fit_transform(bad)


@pytest.mark.parametrize("Vec", [CountVectorizer, TfidfVectorizer])
def test_vectorizers_check_their_settings_and_state(Vec):
    with pytest.raises(ValueError, match="max_features"):
        Vec(max_features=0).fit(DOCS)
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df"):
        Vec(min_df=2, max_df=1).fit(DOCS)
    with pytest.raises(ValueError, match="not fitted"):  # NotFittedError is a ValueError
        Vec().transform(DOCS)
    with pytest.raises(ValueError, match="string object received"):
        Vec().fit(DOCS).transform("cat")


# ------------------------------------------------------------------------ estimators
X = f(20, 5)


def estimators():
    return {"PCA": lambda: PCA(2), "KMeans": lambda: KMeans(2, n_init=1, random_state=0),
            "TruncatedSVD": lambda: TruncatedSVD(2, random_state=0)}


def apply(est, X_):
    return est.predict(X_) if isinstance(est, KMeans) else est.transform(X_)


@pytest.mark.parametrize("name", ["PCA", "KMeans", "TruncatedSVD"])
@pytest.mark.parametrize("case", ["rank1", "rank3", "object", "empty", "nan", "inf"])
def test_estimator_fit_rejects_bad_data_naming_x(xp, name, case):
    if case == "object" and backend.name() == "cupy":
        pytest.skip("CuPy has no object arrays")
    bad = {"rank1": X[0], "rank3": X[None], "object": X.astype(object), "empty": X[:0],
           "nan": np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X),
           "inf": np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X)}[case]
    match = {"rank1": "2-D", "rank3": "2-D", "object": "dtype", "empty": "empty",
             "nan": "NaN", "inf": "inf"}[case]
    with pytest.raises(ValueError, match=match) as info:
        estimators()[name]().fit(backend.asarray(bad))
    assert "X" in str(info.value)


@pytest.mark.parametrize("name", ["PCA", "KMeans", "TruncatedSVD"])
def test_estimators_take_integer_and_boolean_data_as_floats(xp, name):
    """scikit-learn's behaviour: int and bool matrices are cast to float64."""
    for data in ((X * 10).astype(np.int64), X > 0):
        est = estimators()[name]().fit(backend.asarray(data))
        ref = estimators()[name]().fit(backend.asarray(data.astype(np.float64)))
        np.testing.assert_allclose(backend.to_numpy(apply(est, backend.asarray(data))),
                                   backend.to_numpy(apply(ref, backend.asarray(data))),
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["PCA", "KMeans", "TruncatedSVD"])
def test_estimator_refuses_other_backends_unfitted_use_and_wrong_width(xp, name):
    with pytest.raises(backend.BackendError) as info:
        estimators()[name]().fit(other_backend_array(X))
    assert "'X'" in str(info.value)
    with pytest.raises(ValueError, match="fit"):
        apply(estimators()[name](), backend.asarray(X))
    est = estimators()[name]().fit(backend.asarray(X))
    with pytest.raises(ValueError, match="3 features"):
        apply(est, backend.asarray(X[:, :3]))


@pytest.mark.parametrize("name", ["PCA", "KMeans", "TruncatedSVD"])
def test_estimator_transform_rejects_nan(xp, name):
    est = estimators()[name]().fit(backend.asarray(X))
    bad = X.copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        apply(est, backend.asarray(bad))


def test_estimators_check_their_settings(xp):
    with pytest.raises(ValueError, match="n_components=0 must be between 1"):
        PCA(0).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="n_components=9 must be between 1"):
        PCA(9).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="n_clusters must be a positive int"):
        KMeans(0).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="n_samples=20 should be >= n_clusters=30"):
        KMeans(30).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="n_components must be an int"):
        TruncatedSVD(9).fit(backend.asarray(X))


def test_truncated_svd_checks_sparse_input_too(xp):
    def csr(host):  # scipy.sparse holds host arrays on the CPU backends
        a = backend.asarray(host) if backend.name() == "cupy" else host
        return backend.sparse().csr_matrix(a)

    X_ = np.abs(f(6, 4))
    with pytest.raises(ValueError, match="empty"):
        TruncatedSVD(2).fit(csr(np.zeros((0, 4))))
    X_[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        TruncatedSVD(2).fit(csr(X_))


# ------------------------------------------------------------------------ command line
def _cli(*args, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "MMSCRATCH_BACKEND": "numpy"}
    env.pop("MMSCRATCH_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "mmscratch", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_reports_missing_data_in_one_line_without_a_traceback(tmp_path):
    out = _cli("train", "--data", "avmnist", "--data-dir", str(tmp_path / "nothing"),
               "--epochs", "1", "--out", str(tmp_path / "run"), tmp_path=tmp_path)
    assert out.returncode != 0
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert str(tmp_path / "nothing") in out.stderr and "fsdd/recordings" in out.stderr


def test_cli_evaluate_of_a_damaged_checkpoint_names_it(tmp_path):
    (tmp_path / "metrics.json").write_text('{"data": "digits", "seed": 0, "test_accuracy": 0,'
                                           ' "modalities": ["image"]}')
    (tmp_path / "model.npz").write_bytes(b"PK\x03\x04 not really a zip")
    out = _cli("evaluate", "--model", str(tmp_path / "model.npz"), tmp_path=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert f"error: {tmp_path / 'model.npz'}: not a readable" in out.stderr


# ------------------------------------------------------------------------ losses, optimizers
@pytest.mark.parametrize("Loss", [nn.SoftmaxCrossEntropy, nn.CategoricalCrossentropy,
                                  nn.MeanSquaredError])
def test_losses_name_the_bad_argument(xp, Loss):
    pred = np.full((3, 4), 0.25)
    cases = [(pred[:0], np.array([], dtype=np.int64), "'pred' is empty"),
             ((pred * 4).astype(np.int64), np.array([0, 1, 2]), "'pred' must have a floating"),
             (np.where(np.eye(3, 4) > 0, np.nan, pred), np.array([0, 1, 2]), "'pred' contains"),
             (pred, np.eye(3), "'target' must have shape")]
    for p, t, match in cases:
        with pytest.raises(ValueError, match=match):
            Loss().forward(backend.asarray(p), backend.asarray(t))
    with pytest.raises(backend.BackendError, match="'pred'"):
        Loss().forward(other_backend_array(pred), backend.asarray(np.eye(3, 4)))
    with pytest.raises(RuntimeError, match="before forward"):
        Loss().backward()


def test_integer_labels_out_of_range_are_refused(xp):
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\]"):
        nn.SoftmaxCrossEntropy().forward(backend.asarray(f(3, 4)),
                                         backend.asarray(np.array([0, -1, 2])))


@pytest.mark.parametrize("make,match", [
    (lambda: nn.SGD(lr=-1), "lr must be positive"),
    (lambda: nn.SGD(lr=0.1, momentum=1.5), "momentum must be in"),
    (lambda: nn.SGD(lr=0.1, momentum=-0.1), "momentum must be in"),
    (lambda: nn.Adam(lr=0), "lr must be positive"),
    (lambda: nn.Adam(beta_1=1.0), "beta_1 must be in"),  # bias correction 1 - 1^t = 0
    (lambda: nn.Adam(beta_2=-0.5), "beta_2 must be in"),
    (lambda: nn.Adam(epsilon=-1e-7), "epsilon must be"),
    (lambda: nn.Adam(clipnorm=0), "clipnorm must be positive"),
    (lambda: nn.Dense(0), "units must be a positive int"),
    (lambda: nn.Dense(2.5), "units must be a positive int"),
    (lambda: nn.Conv2D(2, 0), "kernel_size must be a positive int"),
    (lambda: nn.Conv2D(2, 3, padding="full"), "padding must be 'valid' or 'same'"),
    (lambda: nn.LSTM(0), "units must be a positive int"),
    (lambda: nn.Embedding(0, 3), "vocab must be a positive int"),
    (lambda: nn.MultiHeadAttention(0, 2), "num_heads must be a positive int"),
    (lambda: nn.Dropout(1.0), r"rate must be in \[0, 1\)"),
    (lambda: nn.Dense(3, activation="relux"), "unknown activation 'relux'"),
    (lambda: nn.MaxPooling2D(0), "pool_size must be a positive int"),
])
def test_constructors_refuse_bad_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()
