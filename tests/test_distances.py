"""Squared Euclidean distances that stay accurate in float32 far from the origin.

Specification (mmscratch/distances.py, issue 14 item 3): ``squared_euclidean(X, Y)``
equals ``||x_i - y_j||^2`` computed exactly (a float64 difference loop on the same
input values) to float32 round-off, also when the points sit at 1e4 from the origin,
where the plain expansion ``||x||^2 - 2 x.y + ||y||^2`` in float32 is off by units.
Every user of distances (k-means assign/transform/k-means++, the silhouette) gets
that accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mmscratch import backend, distances, metrics
from mmscratch.unsupervised import KMeans


def _blobs_far(seed=0, shift=1e4, dtype=np.float32):
    """Issue 14 item 3: three Gaussian blobs in 2-D shifted by 1e4."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 8.0]])
    X = np.concatenate([rng.normal(size=(100, 2)) + c for c in centres]) + shift
    return X.astype(dtype)


def _exact_sq(X, Y):
    """Readable reference: float64 differences, no expansion."""
    X = np.asarray(X, np.float64)
    Y = np.asarray(Y, np.float64)
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


def test_naive_expansion_in_float32_really_cancels():
    # The premise of the module: without care the float32 expansion is off by units.
    X = _blobs_far()
    C = X[[0, 100, 200]]
    naive = (X * X).sum(1)[:, None] - 2 * X @ C.T + (C * C).sum(1)[None, :]
    assert np.abs(naive - _exact_sq(X, C)).max() > 1.0


def test_squared_euclidean_far_from_origin_float32(xp):
    X = _blobs_far()
    C = X[[0, 100, 200]] + np.float32(0.25)
    D = distances.squared_euclidean(backend.asarray(X), backend.asarray(C))
    assert D.dtype == xp.float32 and D.shape == (300, 3)
    ref = _exact_sq(X, C)
    np.testing.assert_allclose(backend.to_numpy(D), ref, rtol=1e-6, atol=1e-6)
    idx, dist = distances.nearest(backend.asarray(X), backend.asarray(C))
    np.testing.assert_array_equal(backend.to_numpy(idx), ref.argmin(1))
    np.testing.assert_allclose(backend.to_numpy(dist), ref.min(1), rtol=1e-6, atol=1e-6)


def test_matches_scikit_learn_euclidean_distances(xp):
    sk = pytest.importorskip("sklearn.metrics.pairwise")
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        X = (rng.normal(size=(50, 7)) * 3 + 100).astype(dtype)
        Y = (rng.normal(size=(20, 7)) * 3 + 100).astype(dtype)
        ours = backend.to_numpy(distances.euclidean(backend.asarray(X), backend.asarray(Y)))
        ref = sk.euclidean_distances(X, Y)
        assert ours.dtype == ref.dtype
        # sklearn's float64 path does not centre: agreement to its round-off only
        np.testing.assert_allclose(ours, ref, rtol=1e-5 if dtype == np.float32 else 1e-10)


def test_self_distances_zero_diagonal_and_integers(xp):
    X = np.array([[1, 2], [4, 6], [1, 2]])  # integers -> float64
    D = backend.to_numpy(distances.squared_euclidean(backend.asarray(X)))
    assert D.dtype == np.float64
    np.testing.assert_array_equal(D, _exact_sq(X, X))
    assert (np.diag(D) == 0).all()


def test_blocks_agree_with_one_block(monkeypatch):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(37, 5)), rng.normal(size=(11, 5))
    whole = distances.squared_euclidean(X, Y)
    idx_whole, d_whole = distances.nearest(X, Y)
    monkeypatch.setattr(distances, "_BLOCK_ELEMENTS", 30)  # 2 rows per block
    np.testing.assert_allclose(distances.squared_euclidean(X, Y), whole, rtol=1e-13, atol=1e-13)
    idx, d = distances.nearest(X, Y)
    np.testing.assert_array_equal(idx, idx_whole)
    np.testing.assert_allclose(d, d_whole, rtol=1e-13, atol=1e-13)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="features"):
        distances.squared_euclidean(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        distances.squared_euclidean(np.zeros(3))
    with pytest.raises(ValueError, match="no rows"):
        distances.nearest(np.zeros((2, 3)), np.zeros((0, 3)))


def test_kmeans_transform_float32_far_from_origin(xp):
    # Issue 14 item 3: distances were wrong by up to 6 (true range 0.01-11).
    X = _blobs_far()
    km = KMeans(3, n_init=1, random_state=0).fit(backend.asarray(X))
    T = backend.to_numpy(km.transform(backend.asarray(X)))
    C = backend.to_numpy(km.cluster_centers_)
    ref = np.sqrt(_exact_sq(X, C))
    assert T.dtype == np.float32
    np.testing.assert_allclose(T, ref, rtol=1e-3)
    # predict and score use the same accurate distances
    np.testing.assert_array_equal(backend.to_numpy(km.predict(backend.asarray(X))),
                                  ref.argmin(1))
    np.testing.assert_allclose(-km.score(backend.asarray(X)), (ref.min(1) ** 2).sum(),
                               rtol=1e-4)


def test_kmeans_far_from_origin_matches_float64_fit():
    # The fitted clustering of float32 data far away equals the float64 one.
    X = _blobs_far()
    init = X[[0, 100, 200]]
    a = KMeans(3, init=init, n_init=1).fit(X)
    b = KMeans(3, init=init.astype(np.float64), n_init=1).fit(X.astype(np.float64))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-4)


def test_silhouette_float32_far_from_origin_matches_scikit_learn():
    skm = pytest.importorskip("sklearn.metrics")
    X = _blobs_far()
    labels = np.repeat(np.arange(3), 100)
    ours = metrics.silhouette_samples(X, labels)
    ref = skm.silhouette_samples(X.astype(np.float64), labels)  # exact on the same values
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_kmeans_plusplus_far_from_origin_same_as_centred():
    # k-means++ seeding draws from D(x)^2: the shift by 1e4 must not change the picks.
    from mmscratch.unsupervised import kmeans_plusplus

    X = _blobs_far()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, far = kmeans_plusplus(X, 3, random_state=0)
        _, near = kmeans_plusplus(X - np.float32(1e4), 3, random_state=0)  # exact in float32
    np.testing.assert_array_equal(far, near)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_pca_float32_far_from_origin(solver):
    # Same kind in PCA: X^T X - n mean mean^T (covariance_eigh) and X W^T - mean W^T
    # (transform) cancel for float32 data at 1e4; the covariance was off by ~90 for
    # variances of 0.01-9. Reference: scikit-learn in float64 on the same values.
    skd = pytest.importorskip("sklearn.decomposition")
    from mmscratch.unsupervised import PCA

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(500, 5)) * [3, 2, 1, 0.5, 0.1] + 1e4).astype(np.float32)
    ref = skd.PCA(3, svd_solver="full").fit(X.astype(np.float64))
    ours = PCA(3, svd_solver=solver, random_state=0).fit(X)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)
    # transform against the exact projection with our own (float32) mean and axes
    W = np.asarray(ours.components_, np.float64)
    exact = (X.astype(np.float64) - np.asarray(ours.mean_, np.float64)) @ W.T
    np.testing.assert_allclose(ours.transform(X), exact, atol=1e-5)
