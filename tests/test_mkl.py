"""MultiKernelSVC: the document's multimodal SVM (kernel fusion with alignment weights).

Specification: the combined kernel is sum_m mu_m K_m; "alignment" weights maximise the
centred kernel-target alignment of the combination (Cortes et al. 2012), checked against
a grid over the simplex and against the alignment written with explicit centring
matrices; the SVM on the combined kernel is scikit-learn's SVC on the same precomputed
kernel; bad input is refused with the argument named.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.errors import NotFittedError
from mmscratch.multimodal import MultiKernelSVC
from mmscratch.multimodal.mkl import alignf_weights, centered_alignment
from mmscratch.supervised import SVC

sklearn = pytest.importorskip("sklearn")
from sklearn import svm as sk_svm  # noqa: E402
from sklearn.metrics.pairwise import linear_kernel, rbf_kernel  # noqa: E402


def _views(n=240, seed=0):
    """Two noisy views of 3 classes: each view alone separates only some classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    a = np.c_[(y == 0) * 2.0, (y == 1) * 0.3] + rng.normal(size=(n, 2))  # knows class 0
    b = np.c_[(y == 1) * 2.0, (y == 2) * 0.3] + rng.normal(size=(n, 2))  # knows class 1
    noise = rng.normal(size=(n, 3))  # knows nothing
    return {"a": a, "b": b, "noise": noise}, y


def _naive_alignment(K, y):
    n = len(y)
    H = np.eye(n) - np.ones((n, n)) / n
    Y = (y[:, None] == np.unique(y)[None, :]).astype(float)
    Kc, Ky = H @ K @ H, H @ (Y @ Y.T) @ H
    return (Kc * Ky).sum() / (np.linalg.norm(Kc) * np.linalg.norm(Ky))


def test_centered_alignment_matches_the_formula_with_centring_matrices(xp):
    X, y = _views(60)
    K = rbf_kernel(X["a"], gamma=0.5)
    got = centered_alignment(backend.asarray(K), backend.asarray(y))
    assert got == pytest.approx(_naive_alignment(K, y), rel=1e-10)


def test_alignment_weights_maximise_the_combined_alignment():
    X, y = _views()
    Ks = [rbf_kernel(X[m], gamma=0.5) for m in ("a", "b", "noise")]
    model = MultiKernelSVC({m: {"kernel": "rbf", "gamma": 0.5} for m in ("a", "b", "noise")})
    model.fit(X, y)
    mu = np.array([model.kernel_weights_[m] for m in ("a", "b", "noise")])
    assert mu.sum() == pytest.approx(1.0) and (mu >= 0).all()
    best = _naive_alignment(sum(w * K for w, K in zip(mu, Ks)), y)
    grid = np.linspace(0, 1, 21)
    for w1 in grid:
        for w2 in grid[grid <= 1 - w1 + 1e-12]:
            w = (w1, w2, 1 - w1 - w2)
            assert _naive_alignment(sum(c * K for c, K in zip(w, Ks)), y) <= best + 1e-9
    assert mu[2] < min(mu[0], mu[1])  # the noise view gets the least weight
    for m, K in zip(("a", "b", "noise"), Ks):
        assert model.alignments_[m] == pytest.approx(_naive_alignment(K, y), rel=1e-9)


def test_alignf_qp_solution_satisfies_kkt():
    rng = np.random.default_rng(4)
    B = rng.normal(size=(4, 4))
    M = B @ B.T
    a = rng.normal(size=4)
    mu = alignf_weights(M, a)
    # v = mu * scale solves min v'Mv - 2v'a, v >= 0; KKT: grad >= 0, = 0 on the support
    v = mu * (mu @ a) / (mu @ M @ mu)
    g = M @ v - a
    assert (g >= -1e-9).all() and np.allclose(g[v > 0], 0, atol=1e-9)


def test_combined_kernel_svm_equals_sklearn_svc_on_the_same_kernel():
    X, y = _views()
    tr, te = slice(0, 180), slice(180, None)
    spec = {"a": {"kernel": "rbf", "gamma": 0.5}, "b": "linear"}
    model = MultiKernelSVC(spec, weights={"a": 0.7, "b": 0.3}, C=2.0)
    model.fit({m: X[m][tr] for m in spec}, y[tr])
    K = 0.7 * rbf_kernel(X["a"][tr], gamma=0.5) + 0.3 * linear_kernel(X["b"][tr])
    Kte = 0.7 * rbf_kernel(X["a"][te], X["a"][tr], gamma=0.5) \
        + 0.3 * linear_kernel(X["b"][te], X["b"][tr])
    ref = sk_svm.SVC(kernel="precomputed", C=2.0).fit(K, y[tr])
    pred = model.predict({m: X[m][te] for m in spec})
    assert (pred == ref.predict(Kte)).mean() >= 0.99
    d, d_ref = model.decision_function({m: X[m][te] for m in spec}), ref.decision_function(Kte)
    assert np.corrcoef(d.ravel(), d_ref.ravel())[0, 1] >= 0.999
    assert model.kernel_weights_ == {"a": 0.7, "b": 0.3}


def test_one_modality_is_the_plain_svc_and_fusion_helps():
    X, y = _views()
    tr, te = slice(0, 180), slice(180, None)
    single = MultiKernelSVC({"a": "rbf"}).fit({"a": X["a"][tr]}, y[tr])
    svc = SVC().fit(X["a"][tr], y[tr])
    np.testing.assert_array_equal(single.predict({"a": X["a"][te]}), svc.predict(X["a"][te]))
    both = MultiKernelSVC({"a": "rbf", "b": "rbf"}).fit({m: X[m][tr] for m in "ab"}, y[tr])
    acc_both = both.score({m: X[m][te] for m in "ab"}, y[te])
    acc_a = svc.score(X["a"][te], y[te])
    assert acc_both > acc_a


def test_backends_agree_and_images_are_flattened(xp):
    rng = np.random.default_rng(5)
    img = rng.normal(size=(50, 4, 4, 1))
    aud = rng.normal(size=(50, 6, 3))
    y = (img[:, 0, 0, 0] + aud[:, 0, 0] > 0).astype(int)
    with backend.use("numpy"):
        want = MultiKernelSVC({"image": "rbf", "audio": "rbf"}).fit(
            {"image": img, "audio": aud}, y).decision_function({"image": img, "audio": aud})
    m = MultiKernelSVC({"image": "rbf", "audio": "rbf"}).fit(
        {"image": backend.asarray(img), "audio": backend.asarray(aud)}, backend.asarray(y))
    got = m.decision_function({"image": backend.asarray(img), "audio": backend.asarray(aud)})
    np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-9, atol=1e-9)


def test_bad_input_is_refused():
    X, y = _views(60)
    ab = {m: X[m] for m in "ab"}
    spec = {"a": "rbf", "b": "rbf"}
    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        MultiKernelSVC(spec).fit({"a": X["a"]}, y)
    with pytest.raises(ValueError, match="not in 'kernels' \\['noise'\\]"):
        MultiKernelSVC(spec).fit(X, y)
    with pytest.raises(ValueError, match="different numbers of samples"):
        MultiKernelSVC(spec).fit({"a": X["a"], "b": X["b"][:-1]}, y)
    with pytest.raises(ValueError, match="60 samples but y has 59"):
        MultiKernelSVC(spec).fit(ab, y[:-1])
    bad = X["a"].copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="X\\['a'\\]' contains NaN or inf"):
        MultiKernelSVC(spec).fit({"a": bad, "b": X["b"]}, y)
    with pytest.raises(ValueError, match="single class"):
        MultiKernelSVC(spec).fit(ab, np.zeros(60))
    with pytest.raises(ValueError, match="'weights'"):
        MultiKernelSVC(spec, weights="best").fit(ab, y)
    with pytest.raises(ValueError, match="'weights'"):
        MultiKernelSVC(spec, weights={"a": 1.0}).fit(ab, y)
    with pytest.raises(ValueError, match="weights\\['a'\\]"):
        MultiKernelSVC(spec, weights={"a": -1.0, "b": 1.0}).fit(ab, y)
    with pytest.raises(ValueError, match="kernels\\['a'\\]"):
        MultiKernelSVC({"a": "cubic", "b": "rbf"}).fit(ab, y)
    with pytest.raises(ValueError, match="kernels\\['a'\\]"):
        MultiKernelSVC({"a": {"kernel": "rbf", "width": 2}, "b": "rbf"}).fit(ab, y)
    with pytest.raises(ValueError, match="'kernels'"):
        MultiKernelSVC({}).fit(ab, y)
    with pytest.raises(ValueError, match="'C'"):
        MultiKernelSVC(spec, C=-1).fit(ab, y)
    with pytest.raises(NotFittedError):
        MultiKernelSVC(spec).predict(ab)
    m = MultiKernelSVC(spec).fit(ab, y)
    with pytest.raises(ValueError, match="X\\['b'\\] has 1 features"):
        m.predict({"a": X["a"], "b": X["b"][:, :1]})
