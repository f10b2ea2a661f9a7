"""CCA: parity with scikit-learn's CCA, the defining properties, and clear errors.

CCA has no gradient; the specification is (1) scikit-learn's ``CCA`` run to convergence
gives the same canonical correlations (to 1e-6) and the same scores up to sign and
scale, and (2) the properties that define canonical variates: each view's scores have
unit variance and are mutually uncorrelated, pair k correlates with ``rho_k`` and
different pairs do not correlate across the views.
"""

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.errors import NotFittedError
from mmscratch.unsupervised import CCA


def two_views(n=200, seed=0):
    """Two views sharing a 3-dimensional latent signal, plus noise."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3))
    X = np.hstack([Z, rng.normal(size=(n, 5))]) @ rng.normal(size=(8, 8))
    Y = np.hstack([Z[:, :2], rng.normal(size=(n, 4))]) @ rng.normal(size=(6, 6))
    X += 0.5 * rng.normal(size=X.shape)
    Y += 0.5 * rng.normal(size=Y.shape) + 3.0  # a mean to remove
    return X, Y


@pytest.mark.parametrize("scale", [True, False])
def test_matches_scikit_learn(xp, scale):
    sk = pytest.importorskip("sklearn.cross_decomposition")
    X, Y = two_views()
    k = 4
    ours = CCA(n_components=k, scale=scale).fit(backend.asarray(X), backend.asarray(Y))
    u, v = (backend.to_numpy(a) for a in ours.transform(backend.asarray(X),
                                                        backend.asarray(Y)))
    ref = sk.CCA(n_components=k, scale=scale, max_iter=100_000, tol=1e-15).fit(X, Y)
    ru, rv = ref.transform(X, Y)
    ref_rho = np.array([np.corrcoef(ru[:, j], rv[:, j])[0, 1] for j in range(k)])
    np.testing.assert_allclose(backend.to_numpy(ours.canonical_correlations_), ref_rho,
                               atol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(ours.x_mean_), ref._x_mean, atol=1e-12)
    # scikit-learn normalises its weights, ours its scores: compare standardised scores.
    for ours_s, ref_s in ((u, ru), (v, rv)):
        ref_s = ref_s / ref_s.std(axis=0, ddof=1)
        sign = np.sign((ours_s * ref_s).sum(axis=0))
        np.testing.assert_allclose(ours_s, ref_s * sign, atol=1e-5)


def test_defining_properties(xp):
    X, Y = two_views(seed=1)
    k = 5
    cca = CCA(n_components=k).fit(backend.asarray(X), backend.asarray(Y))
    u, v = (backend.to_numpy(a) for a in cca.transform(backend.asarray(X),
                                                       backend.asarray(Y)))
    rho = backend.to_numpy(cca.canonical_correlations_)
    eye = np.eye(k)
    np.testing.assert_allclose(np.cov(u.T), eye, atol=1e-10)  # unit variance, uncorrelated
    np.testing.assert_allclose(np.cov(v.T), eye, atol=1e-10)
    np.testing.assert_allclose(np.cov(u.T, v.T)[:k, k:], np.diag(rho), atol=1e-10)
    assert np.all(np.diff(rho) <= 0) and np.all(rho >= 0) and np.all(rho <= 1)
    # No direction pair beats the first: random directions correlate less.
    rng = np.random.default_rng(2)
    for _ in range(20):
        a, b = rng.normal(size=X.shape[1]), rng.normal(size=Y.shape[1])
        assert abs(np.corrcoef(X @ a, Y @ b)[0, 1]) <= rho[0] + 1e-12


def test_first_correlation_of_a_shared_signal_is_close_to_one(xp):
    # One shared coordinate, copied with tiny noise into both views: rho_1 ~ 1 and the
    # first scores recover it.
    rng = np.random.default_rng(3)
    s = rng.normal(size=300)
    X = np.column_stack([s + 1e-4 * rng.normal(size=300), rng.normal(size=(300, 3))])
    Y = np.column_stack([rng.normal(size=(300, 2)), -2 * s + 1e-4 * rng.normal(size=300)])
    cca = CCA(n_components=1).fit(backend.asarray(X), backend.asarray(Y))
    assert backend.to_numpy(cca.canonical_correlations_)[0] > 1 - 1e-6
    u = backend.to_numpy(cca.transform(backend.asarray(X)))[:, 0]
    assert abs(np.corrcoef(u, s)[0, 1]) > 1 - 1e-6


def test_transform_of_new_data_uses_training_statistics(xp):
    X, Y = two_views(seed=4)
    cca = CCA(n_components=2).fit(backend.asarray(X[:150]), backend.asarray(Y[:150]))
    u = backend.to_numpy(cca.transform(backend.asarray(X[150:])))
    mean, std = X[:150].mean(0), X[:150].std(0, ddof=1)
    naive = ((X[150:] - mean) / std) @ backend.to_numpy(cca.x_weights_)
    np.testing.assert_allclose(u, naive, atol=1e-12)
    assert cca.x_rotations_ is cca.x_weights_ and cca.y_rotations_ is cca.y_weights_
    assert cca.x_weights_.shape == (8, 2) and cca.y_weights_.shape == (6, 2)


def test_fit_transform_and_float32(xp):
    X, Y = two_views(seed=5)
    a = CCA(3).fit_transform(backend.asarray(X), backend.asarray(Y))
    b = CCA(3).fit(backend.asarray(X), backend.asarray(Y)).transform(
        backend.asarray(X), backend.asarray(Y))
    for p, q in zip(a, b):
        np.testing.assert_allclose(backend.to_numpy(p), backend.to_numpy(q), atol=1e-12)
    c = CCA(3).fit(backend.asarray(X.astype(np.float32)), backend.asarray(Y.astype(np.float32)))
    np.testing.assert_allclose(backend.to_numpy(c.canonical_correlations_),
                               backend.to_numpy(CCA(3).fit(backend.asarray(X), backend.asarray(Y))
                                                .canonical_correlations_), atol=1e-5)


def test_regularisation_handles_more_features_than_samples(xp):
    rng = np.random.default_rng(6)
    s = rng.normal(size=(30, 1))
    X = s @ rng.normal(size=(1, 50)) + 0.1 * rng.normal(size=(30, 50))
    Y = s @ rng.normal(size=(1, 40)) + 0.1 * rng.normal(size=(30, 40))
    with pytest.raises(ValueError, match="X has 50 features but only 30 samples"):
        CCA(2).fit(backend.asarray(X), backend.asarray(Y))
    cca = CCA(2, reg=0.1).fit(backend.asarray(X), backend.asarray(Y))
    rho = backend.to_numpy(cca.canonical_correlations_)
    u, v = (backend.to_numpy(a) for a in cca.transform(backend.asarray(X), backend.asarray(Y)))
    np.testing.assert_allclose(rho, [np.corrcoef(u[:, j], v[:, j])[0, 1] for j in range(2)],
                               atol=1e-10)
    assert rho[0] > 0.9


def test_errors(xp):
    X, Y = two_views(n=40)
    Xb, Yb = backend.asarray(X), backend.asarray(Y)
    with pytest.raises(NotFittedError):
        CCA().transform(Xb)
    with pytest.raises(ValueError, match="X has 40 samples but Y has 39"):
        CCA().fit(Xb, backend.asarray(Y[:39]))
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="'X' contains NaN"):
        CCA().fit(backend.asarray(Xn), Yb)
    Yc = Y.copy()
    Yc[:, 4] = 7.0
    with pytest.raises(ValueError, match=r"Y has constant column\(s\) \[4\]"):
        CCA().fit(Xb, backend.asarray(Yc))
    Xs = np.column_stack([X, X[:, 0] + X[:, 1]])  # collinear: singular covariance
    with pytest.raises(ValueError, match="covariance of X is singular.*reg > 0"):
        CCA().fit(backend.asarray(Xs), Yb)
    with pytest.raises(ValueError, match=r"n_components.*min\(8, 6\) = 6, got 7"):
        CCA(7).fit(Xb, Yb)
    with pytest.raises(TypeError, match="n_components"):
        CCA(2.0).fit(Xb, Yb)
    with pytest.raises(ValueError, match="reg"):
        CCA(reg=-1.0).fit(Xb, Yb)
    cca = CCA().fit(Xb, Yb)
    with pytest.raises(ValueError, match="Y has 5 features, but CCA is expecting 6 features"):
        cca.transform(Xb, backend.asarray(Y[:, :5]))
    with pytest.raises(ValueError, match="2-D"):
        cca.transform(backend.asarray(X[0]))


def test_estimator_contract():
    cca = CCA(n_components=3, reg=0.5)
    assert cca.get_params() == {"n_components": 3, "reg": 0.5, "scale": True}
    assert repr(cca) == "CCA(n_components=3, reg=0.5)"
    X, Y = two_views()
    assert cca.fit(X, Y) is cca  # host arrays are accepted
