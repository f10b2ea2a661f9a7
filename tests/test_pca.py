"""PCA: the centred-SVD definition, scikit-learn parity, solvers, and bad input.

Specification (chapters/03-3-tasks.md): ``X - mean = U S V^T``, components are the
rows of ``V^T`` (sign fixed so the largest |entry| of each row is positive, as
scikit-learn's PCA does), ``explained_variance_ = s^2 / (n - 1)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.unsupervised import PCA

RTOL = 1e-5  # relative tolerance of the scikit-learn parity checks (issue 7)


def _digits():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    return sklearn_datasets.load_digits().data  # (1797, 64) float64, rank-deficient


def _host(a):
    return backend.to_numpy(a)


def _wide(seed=0):
    """(60, 300): fewer samples than features, low-rank signal plus noise."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(60, 5)) @ rng.normal(size=(5, 300)) * 3 + rng.normal(size=(60, 300))


def _align_signs(A, B):
    """Flip rows of A to agree in sign with rows of B (for 'equal up to sign')."""
    s = np.sign(np.sum(A * B, axis=1, keepdims=True))
    return A * np.where(s == 0, 1, s)


def _reconstruction_error(X, Xr):
    return float(np.sum((X - Xr) ** 2))


# ------------------------------------------------------------------ definition
def test_explained_variance_equals_covariance_eigenvalues(xp):
    """Naive reference: eigenvalues/vectors of np.cov, no reference library needed."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    pca = PCA(4, svd_solver="full").fit(backend.asarray(X))
    w, V = np.linalg.eigh(np.cov(X, rowvar=False))
    order = np.argsort(w)[::-1][:4]
    np.testing.assert_allclose(_host(pca.explained_variance_), w[order], rtol=1e-10)
    np.testing.assert_allclose(_host(pca.explained_variance_ratio_), w[order] / w.sum(),
                               rtol=1e-10)
    comps = _host(pca.components_)
    np.testing.assert_allclose(_align_signs(comps, V[:, order].T), V[:, order].T, atol=1e-10)
    # Sign convention: the largest-magnitude entry of every component is positive.
    assert np.all(comps[np.arange(4), np.abs(comps).argmax(axis=1)] > 0)
    np.testing.assert_allclose(_host(pca.mean_), X.mean(axis=0), rtol=1e-12)


def test_transform_projects_centred_data_and_inverse_reconstructs(xp):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 8))
    pca = PCA(8).fit(backend.asarray(X))
    Z = pca.transform(backend.asarray(X))
    np.testing.assert_allclose(_host(Z), (X - X.mean(0)) @ _host(pca.components_).T,
                               atol=1e-12)
    # With every component kept the round trip is exact.
    np.testing.assert_allclose(_host(pca.inverse_transform(Z)), X, atol=1e-12)
    np.testing.assert_allclose(_host(pca.fit_transform(backend.asarray(X))), _host(Z),
                               atol=1e-10)


def test_whiten_gives_unit_variance_and_exact_inverse(xp):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5])
    pca = PCA(3, whiten=True).fit(backend.asarray(X))
    Z = _host(pca.transform(backend.asarray(X)))
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), np.ones(3), rtol=1e-10)
    np.testing.assert_allclose(_host(pca.fit_transform(backend.asarray(X))), Z, atol=1e-10)
    back = _host(pca.inverse_transform(backend.asarray(Z)))
    plain = PCA(3).fit(backend.asarray(X))
    expected = _host(plain.inverse_transform(plain.transform(backend.asarray(X))))
    np.testing.assert_allclose(back, expected, atol=1e-10)


def test_variance_fraction_picks_smallest_k_exceeding_it(xp):
    X = _digits()
    pca = PCA(0.9, svd_solver="full").fit(backend.asarray(X))
    full = PCA(None, svd_solver="full").fit(backend.asarray(X))
    cum = np.cumsum(_host(full.explained_variance_ratio_))
    k = pca.n_components_
    assert cum[k - 1] > 0.9 >= cum[k - 2]
    assert _host(pca.components_).shape == (k, 64)


# ---------------------------------------------------------- scikit-learn parity
@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "auto"])
@pytest.mark.parametrize("data", ["digits", "wide"])
def test_matches_sklearn(xp, solver, data):
    decomposition = pytest.importorskip("sklearn.decomposition")
    X = _digits() if data == "digits" else _wide()
    k = 10
    ours = PCA(k, svd_solver=solver, random_state=0).fit(backend.asarray(X))
    ref = decomposition.PCA(k, svd_solver=solver, random_state=0).fit(X)
    np.testing.assert_allclose(_host(ours.explained_variance_ratio_),
                               ref.explained_variance_ratio_, rtol=RTOL)
    np.testing.assert_allclose(_host(ours.explained_variance_), ref.explained_variance_,
                               rtol=RTOL)
    np.testing.assert_allclose(_host(ours.singular_values_), ref.singular_values_, rtol=RTOL)
    comps = _host(ours.components_)
    np.testing.assert_allclose(_align_signs(comps, ref.components_), ref.components_,
                               atol=1e-6)
    np.testing.assert_allclose(float(_host(ours.noise_variance_)), ref.noise_variance_,
                               rtol=RTOL)
    err_ours = _reconstruction_error(
        X, _host(ours.inverse_transform(ours.transform(backend.asarray(X)))))
    err_ref = _reconstruction_error(X, ref.inverse_transform(ref.transform(X)))
    assert err_ours == pytest.approx(err_ref, rel=RTOL)


def test_full_solver_signs_equal_sklearn_exactly(xp):
    """Same svd_flip convention, so no sign alignment is needed."""
    decomposition = pytest.importorskip("sklearn.decomposition")
    X = _digits()
    ours = PCA(12, svd_solver="full").fit(backend.asarray(X))
    ref = decomposition.PCA(12, svd_solver="full").fit(X)
    np.testing.assert_allclose(_host(ours.components_), ref.components_, atol=1e-8)
    np.testing.assert_allclose(_host(ours.transform(backend.asarray(X))), ref.transform(X),
                               atol=1e-6)


def test_variance_fraction_matches_sklearn(xp):
    decomposition = pytest.importorskip("sklearn.decomposition")
    X = _digits()
    for frac in (0.5, 0.8, 0.95):
        assert (PCA(frac).fit(backend.asarray(X)).n_components_
                == decomposition.PCA(frac).fit(X).n_components_)


def test_float32_input_stays_float32(xp):
    X = _digits().astype(np.float32)
    pca = PCA(5).fit(backend.asarray(X))
    assert pca.components_.dtype == np.float32
    assert pca.transform(backend.asarray(X)).dtype == np.float32


def test_integer_input_is_cast_to_float64(xp):
    X = (np.arange(60).reshape(20, 3) ** 2 % 7).astype(np.int64)
    pca = PCA(2).fit(backend.asarray(X))
    assert pca.components_.dtype == np.float64


# ------------------------------------------------------------- degenerate data
def test_constant_columns_and_rank_deficiency_stay_finite(xp):
    rng = np.random.default_rng(4)
    base = rng.normal(size=(40, 2))
    # Columns: 2 informative, their sum (rank 2 in total), and two constants.
    X = np.column_stack([base, base.sum(1), np.full(40, 7.0), np.zeros(40)])
    for solver in ("full", "covariance_eigh", "randomized"):
        pca = PCA(5, whiten=True, svd_solver=solver, random_state=0).fit(backend.asarray(X))
        Z = _host(pca.transform(backend.asarray(X)))
        assert np.all(np.isfinite(Z))
        assert np.all(np.isfinite(_host(pca.explained_variance_ratio_)))
        assert _host(pca.explained_variance_)[2:] == pytest.approx(0, abs=1e-10)
        assert np.all(np.isfinite(_host(pca.inverse_transform(backend.asarray(Z)))))


def test_all_constant_data_gives_zero_ratio_not_nan(xp):
    X = np.ones((10, 3))
    pca = PCA(2).fit(backend.asarray(X))
    np.testing.assert_array_equal(_host(pca.explained_variance_ratio_), [0.0, 0.0])


# -------------------------------------------------------------------- bad input
def test_too_many_components_is_a_clear_error(xp):
    X = backend.asarray(np.random.default_rng(0).normal(size=(5, 8)))
    with pytest.raises(ValueError, match=r"n_components=6 must be between 1 and "
                                         r"min\(n_samples, n_features\)=5"):
        PCA(6).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        PCA(0).fit(X)
    with pytest.raises(ValueError, match=r"fraction.*\(0, 1\)"):
        PCA(1.5).fit(X)
    with pytest.raises(ValueError, match="randomized"):
        PCA(0.5, svd_solver="randomized").fit(X)
    with pytest.raises(ValueError, match="svd_solver"):
        PCA(2, svd_solver="arpackish").fit(X)


def test_nan_one_d_and_single_sample_are_clear_errors(xp):
    X = np.random.default_rng(0).normal(size=(6, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PCA(2).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="2-D.*reshape"):
        PCA(1).fit(backend.asarray(np.arange(5.0)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        PCA(1).fit(backend.asarray(np.ones((1, 3))))


def test_transform_checks_feature_count_and_fit(xp):
    X = backend.asarray(np.random.default_rng(0).normal(size=(6, 3)))
    with pytest.raises(ValueError, match="fit"):
        PCA(2).transform(X)
    pca = PCA(2).fit(X)
    with pytest.raises(ValueError, match="3"):
        pca.transform(backend.asarray(np.ones((2, 4))))
    with pytest.raises(ValueError, match="2 columns"):
        pca.inverse_transform(backend.asarray(np.ones((2, 3))))


def test_array_of_another_backend_is_refused(backend_name):
    if backend_name == "numpy":
        pytest.skip("numpy input is the native array type here")
    with pytest.raises(backend.BackendError):
        PCA(1).fit(np.ones((4, 2)))


def test_config_round_trip():
    pca = PCA(3, whiten=True, svd_solver="randomized", random_state=5)
    again = type(pca)(**pca.get_config())
    assert again.get_config() == pca.get_config()


# -------------------------------------------------------------------- real data
@pytest.mark.parametrize("solver,power", [("full", "auto"), ("randomized", 15)])
def test_mnist_pca_matches_sklearn(data_dir, solver, power):
    """2000 MNIST digits, 784 pixels. The randomized solvers differ in their power-
    iteration normaliser (Cholesky-QR here, LU in scikit-learn), so they agree to
    1e-5 only once both have converged: 15 power iterations instead of 7."""
    decomposition = pytest.importorskip("sklearn.decomposition")
    from mmscratch.datasets import load_mnist

    images, _ = load_mnist(data_dir, kind="test")
    X = images[:2000].reshape(2000, -1).astype(np.float64)
    with backend.use("numpy"):
        ours = PCA(50, svd_solver=solver, iterated_power=power, random_state=0).fit(X)
    ref = decomposition.PCA(50, svd_solver=solver, iterated_power=power,
                            random_state=0).fit(X)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=RTOL)
    np.testing.assert_allclose(_align_signs(ours.components_, ref.components_),
                               ref.components_, atol=1e-4)
