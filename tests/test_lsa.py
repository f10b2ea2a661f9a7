"""LSA (TruncatedSVD): a randomized truncated SVD equal to scikit-learn's, on sparse input.

Specification:
* on a matrix with a clear spectral gap the result equals the exact SVD (a dense
  ``numpy.linalg.svd`` reference): singular values, components up to sign, U S V^T;
* with the same ``random_state`` it reproduces scikit-learn's ``TruncatedSVD``
  (explained variance to 1e-6 relative on the top components; with the QR normalizer,
  which both implement, components and projections too);
* sparse and dense input give the same answer; results are arrays of the active backend.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.unsupervised import TruncatedSVD


def low_rank_sparse(n=60, d=40, rank=4, seed=0):
    """Sparse-ish host matrix = rank-4 signal with well separated singular values + noise."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, rank)))
    V, _ = np.linalg.qr(rng.normal(size=(d, rank)))
    X = (U * [40.0, 20.0, 10.0, 5.0]) @ V.T + 0.01 * rng.normal(size=(n, d))
    X[np.abs(X) < 0.3] = 0.0  # make it sparse; the spectrum keeps its gap
    return X


def to_backend_sparse(X_host):
    sp = backend.sparse()
    return sp.csr_matrix(backend.asarray(X_host)) if backend.name() == "cupy" \
        else sp.csr_matrix(X_host)


def test_matches_exact_svd_on_a_matrix_with_a_gap(xp):
    X = low_rank_sparse()
    svd = TruncatedSVD(3, n_iter=7, random_state=0)
    Z = svd.fit_transform(to_backend_sparse(X))
    assert backend.get_array_module(Z) is xp and Z.shape == (60, 3)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)  # exact reference
    np.testing.assert_allclose(backend.to_numpy(svd.singular_values_), s[:3], rtol=1e-10)
    comps = backend.to_numpy(svd.components_)
    # same directions (signs are fixed by the largest-|entry| rule, not by numpy)
    np.testing.assert_allclose(np.abs(np.sum(comps * Vt[:3], axis=1)), 1.0, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(Z), X @ comps.T, atol=1e-10)
    biggest = np.abs(comps).argmax(axis=1)
    assert (comps[np.arange(3), biggest] > 0).all()


def test_sparse_and_dense_input_agree_and_transform_is_projection(xp):
    X = low_rank_sparse(seed=1)
    a = TruncatedSVD(4, random_state=3)
    Za = a.fit_transform(to_backend_sparse(X))
    b = TruncatedSVD(4, random_state=3)
    Zb = b.fit_transform(xp.asarray(X))
    np.testing.assert_allclose(backend.to_numpy(Za), backend.to_numpy(Zb), atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(a.explained_variance_),
                               backend.to_numpy(b.explained_variance_), rtol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(a.transform(to_backend_sparse(X[:7]))),
                               backend.to_numpy(Za)[:7], atol=1e-10)
    ratio = backend.to_numpy(a.explained_variance_ratio_)
    total = X.var(axis=0).sum()
    np.testing.assert_allclose(ratio, backend.to_numpy(a.explained_variance_) / total,
                               rtol=1e-12)
    assert ratio.sum() < 1.0
    back = backend.to_numpy(a.inverse_transform(Zb))
    assert back.shape == X.shape


def test_bad_arguments_give_clear_errors(xp):
    X = to_backend_sparse(low_rank_sparse())
    with pytest.raises(ValueError, match="n_components"):
        TruncatedSVD(41).fit(X)
    with pytest.raises(ValueError, match="algorithm"):
        TruncatedSVD(2, algorithm="arpack").fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        TruncatedSVD(2).transform(X)
    svd = TruncatedSVD(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        svd.transform(xp.ones((2, 5)))


@pytest.mark.parametrize("normalizer", ["auto", "QR", "none"])
def test_equals_sklearn_on_small_matrix(normalizer):
    decomposition = pytest.importorskip("sklearn.decomposition")
    X = low_rank_sparse(80, 50)
    import scipy.sparse as sp

    kw = {"n_iter": 5, "random_state": 42, "power_iteration_normalizer": normalizer}
    ref = decomposition.TruncatedSVD(6, **kw).fit(sp.csr_matrix(X))
    ours = TruncatedSVD(6, **kw).fit(sp.csr_matrix(X))
    # the 4 signal components; the 2 noise ones are not resolved by 5 unnormalised
    # power iterations, and differ with the BLAS build (seen: 5e-5 with numpy 2.5)
    top = slice(0, 4)
    np.testing.assert_allclose(ours.explained_variance_[top], ref.explained_variance_[top],
                               rtol=1e-6)
    np.testing.assert_allclose(ours.singular_values_[top], ref.singular_values_[top], rtol=1e-6)


@pytest.mark.slow
def test_real_corpus_tfidf_explained_variance_equals_sklearn(data_dir):
    """LSA of the 20 Newsgroups TF-IDF matrix: same spectrum as scikit-learn's."""
    decomposition = pytest.importorskip("sklearn.decomposition")
    from mmscratch.datasets.text import load_text
    from mmscratch.features import TfidfVectorizer

    with backend.use("numpy"):
        docs = load_text(data_dir, strip_headers=True).train_texts
        # 2000 terms keep the test fast on a busy 2-core CI machine
        X = TfidfVectorizer(max_df=0.5, min_df=5, stop_words="english",
                            max_features=2000).fit_transform(docs)
        k = 20
        ref = decomposition.TruncatedSVD(k, random_state=0).fit(X)  # LU normalizer
        ours = TruncatedSVD(k, random_state=0).fit(X)               # QR normalizer
        top = slice(0, 10)
        rel = np.abs(ours.explained_variance_ - ref.explained_variance_) / ref.explained_variance_
        assert rel[top].max() < 1e-6
        np.testing.assert_allclose(ours.explained_variance_ratio_[top],
                                   ref.explained_variance_ratio_[top], rtol=1e-6)
        np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-6)
        # with the QR normalizer on both sides the whole factorisation agrees
        ref_qr = decomposition.TruncatedSVD(k, random_state=0,
                                            power_iteration_normalizer="QR").fit(X)
        np.testing.assert_allclose(ours.components_, ref_qr.components_, atol=1e-10)
        np.testing.assert_allclose(ours.explained_variance_, ref_qr.explained_variance_,
                                   rtol=1e-10)
