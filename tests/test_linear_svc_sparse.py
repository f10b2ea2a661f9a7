"""LinearSVC on sparse X (CSR straight from the text vectorizers), issue 15.

Specification: the squared-hinge solver works on the sparse matrix without densifying it
and finds the same model as on the dense matrix (coef_/intercept_ to 1e-10, the same
Newton iterations), binary and multiclass, with and without intercept; its products with
x~ = [x, s] equal the dense augmented matrix's; it agrees with scikit-learn's LinearSVC
on the same CSR input; ``loss="hinge"`` densifies a narrow sparse X (same model as dense)
and refuses a wide one naming the argument; bad sparse input is refused as dense input.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from mmscratch import backend
from mmscratch.errors import NotFittedError
from mmscratch.supervised import LinearSVC, _linear_solvers, svm


def sparse_problem(n_classes, n=400, d=120, density=0.05, seed=0):
    """Sparse non-negative features (TF-IDF-like) and labels of a noisy linear rule."""
    rng = np.random.default_rng(seed)
    X = scipy.sparse.random(n, d, density=density, format="csr", random_state=seed,
                            data_rvs=lambda k: rng.uniform(0.1, 1.0, k))
    W = rng.normal(size=(d, n_classes))
    scores = X @ W + 0.3 * rng.normal(size=(n, n_classes))
    return X, np.argmax(scores, axis=1)


CASES = [dict(), dict(fit_intercept=False), dict(intercept_scaling=2.5), dict(C=10.0)]


@pytest.mark.parametrize("n_classes", [2, 4], ids=["binary", "multiclass"])
@pytest.mark.parametrize("kw", CASES, ids=["intercept", "no_intercept", "scaling", "C10"])
def test_sparse_fit_equals_dense_fit(n_classes, kw):
    X, y = sparse_problem(n_classes)
    Xte, _ = sparse_problem(n_classes, n=50, seed=1)
    dense = LinearSVC(tol=1e-8, **kw).fit(X.toarray(), y)
    sparse = LinearSVC(tol=1e-8, **kw).fit(X, y)
    assert sparse.n_iter_ == dense.n_iter_
    scale = float(np.abs(dense.coef_).max())
    # The products differ in rounding only (1e-16); CG amplifies that by H's condition
    # number: ~1e-10 relative, far below what tol guarantees about the optimum.
    close = 3e-10
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=close * scale)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=0,
                               atol=close * scale)
    if not kw.get("fit_intercept", True):
        np.testing.assert_array_equal(sparse.intercept_, 0.0)
    np.testing.assert_allclose(sparse.decision_function(Xte),
                               dense.decision_function(Xte.toarray()), rtol=0,
                               atol=10 * close * scale)
    np.testing.assert_array_equal(sparse.predict(Xte), dense.predict(Xte.toarray()))


def test_csc_and_coo_give_the_csr_model():
    X, y = sparse_problem(3)
    want = LinearSVC().fit(X, y)
    for fmt in ("csc", "coo"):
        got = LinearSVC().fit(X.asformat(fmt), y)
        np.testing.assert_allclose(got.coef_, want.coef_, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.decision_function(X.asformat(fmt)),
                                   want.decision_function(X), rtol=0, atol=1e-12)


def test_duplicate_entries_are_summed_as_scipy_does():
    """A CSR with two stored values in one cell means their sum (SciPy's convention);
    the preconditioner squares the entries, so they must be summed first."""
    X, y = sparse_problem(2, n=60, d=10, density=0.3)
    dup = scipy.sparse.csr_matrix((np.repeat(X.data / 2, 2), np.repeat(X.indices, 2),
                                   2 * X.indptr), shape=X.shape)  # every value in 2 halves
    assert dup.nnz == 2 * X.nnz and not dup.has_canonical_format
    want = LinearSVC().fit(X.toarray(), y)
    got = LinearSVC().fit(dup, y)
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=0, atol=1e-10)
    assert dup.nnz == 2 * X.nnz  # the caller's matrix is left as it was


@pytest.mark.parametrize("scale", [None, 1.0, 3.0], ids=["no_bias", "bias", "bias3"])
def test_sparse_design_products_equal_the_dense_augmented_matrix(xp, scale):
    """X~ W, X~^T V, (X~ * X~)^T A and X~^T (A * X~ W) (on the active rows only) with the
    bias column handled apart equal the products with the dense [X, s] the readable
    path builds."""
    X, _ = sparse_problem(3, n=80, d=30, density=0.2)
    rng = np.random.default_rng(3)
    p = 30 + (scale is not None)
    W = backend.asarray(rng.normal(size=(p, 3)))
    V = backend.asarray(rng.normal(size=(80, 3)))
    dense = _linear_solvers._DenseDesign(backend.asarray(X.toarray()), scale)
    sparse = _linear_solvers._SparseDesign(backend.sparse().csr_matrix(X), scale)
    assert sparse.n_params == dense.n_params == p
    for name, arg in [("dot", W), ("tdot", V), ("sq_tdot", V)]:
        got, want = getattr(sparse, name)(arg), getattr(dense, name)(arg)
        np.testing.assert_allclose(backend.to_numpy(got), backend.to_numpy(want),
                                   rtol=1e-13, atol=1e-13)
    # the CG's product on each column's active rows only; column 2 has none active
    A = (rng.random((80, 3)) < 0.5).astype(float)
    A[:, 2] = 0.0
    A = backend.asarray(A)
    got = backend.to_numpy(sparse.hess_operator(A)(W))
    want = backend.to_numpy(dense.tdot(A * dense.dot(W)))
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(got[:, 2], 0.0)


def test_sparse_backends_agree(xp):
    X, y = sparse_problem(3)
    with backend.use("numpy"):
        want = LinearSVC().fit(X, y).decision_function(X)
    Xb = backend.sparse().csr_matrix(X)
    got = LinearSVC().fit(Xb, backend.asarray(y)).decision_function(Xb)
    np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("n_classes", [2, 4], ids=["binary", "multiclass"])
def test_sparse_parity_with_sklearn(n_classes):
    sk_svm = pytest.importorskip("sklearn.svm")
    X, y = sparse_problem(n_classes)
    Xte, _ = sparse_problem(n_classes, n=100, seed=2)
    ref = sk_svm.LinearSVC(tol=1e-10, max_iter=100_000).fit(X, y)
    ours = LinearSVC(tol=1e-8).fit(X, y)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=2e-3 * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=2e-3 * scale)
    assert (ours.predict(Xte) == ref.predict(Xte)).mean() >= 0.99


# --------------------------------------------------------------------------- hinge
def test_hinge_densifies_a_narrow_sparse_x():
    X, y = sparse_problem(3, n=200, d=40, density=0.1)
    want = LinearSVC(loss="hinge").fit(X.toarray(), y)
    got = LinearSVC(loss="hinge").fit(X, y)
    assert got.n_iter_ == want.n_iter_
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.intercept_, want.intercept_, rtol=0, atol=1e-12)


def test_hinge_refuses_a_wide_sparse_x(monkeypatch):
    X, y = sparse_problem(2, n=50, d=40)
    monkeypatch.setattr(svm, "HINGE_SPARSE_MAX_FEATURES", 39)
    with pytest.raises(ValueError, match=r"'loss'='hinge'.*d=40.*loss='squared_hinge'"):
        LinearSVC(loss="hinge").fit(X, y)
    LinearSVC(loss="squared_hinge").fit(X, y)  # the suggested loss works on it
    monkeypatch.setattr(svm, "HINGE_SPARSE_MAX_FEATURES", 40)
    LinearSVC(loss="hinge").fit(X, y)  # at the limit: densified


# ---------------------------------------------------------------------- bad input
def test_bad_sparse_input_is_refused_as_dense_input():
    X, y = sparse_problem(2, n=50, d=20, density=0.2)
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        LinearSVC().fit(bad, y)
    bad.data[3] = np.inf
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        LinearSVC().fit(bad, y)
    with pytest.raises(ValueError, match="50 samples but y has 49"):
        LinearSVC().fit(X, y[:-1])
    with pytest.raises(ValueError, match="'y' must be 1-D"):
        LinearSVC().fit(X, y[:, None].repeat(2, axis=1))
    with pytest.raises(ValueError, match="single class"):
        LinearSVC().fit(X, np.zeros(50))
    with pytest.raises(ValueError, match="empty"):
        LinearSVC().fit(scipy.sparse.csr_matrix((50, 0)), y)
    with pytest.raises(NotFittedError):
        LinearSVC().predict(X)
    m = LinearSVC().fit(X, y)
    with pytest.raises(ValueError, match="X has 19 features, but LinearSVC is expecting 20"):
        m.predict(X[:, :19])
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        m.decision_function(bad)


def test_sparse_matrix_of_the_wrong_backend_is_refused():
    X, y = sparse_problem(2, n=50, d=20, density=0.2)
    with backend.use("strict"):  # scipy on a CPU backend is the right one: accepted
        m = LinearSVC().fit(X, backend.asarray(y))
        m.predict(X)
    if backend.cupy_available():
        with backend.use("cupy"), pytest.raises(backend.BackendError, match="'X'"):
            LinearSVC().fit(X, backend.asarray(y))
