"""k-means: Lloyd's algorithm, k-means++ seeding, scikit-learn parity and degenerate data.

Specification (chapters/03-3-tasks.md): minimise the document's
``sum_i ||x_i - c_i||^2``; from the same initial centres every step is
deterministic, so labels, centres, inertia and the iteration count must equal
scikit-learn's ``KMeans(algorithm="lloyd", n_init=1)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.unsupervised import ConvergenceWarning, KMeans, kmeans_plusplus
from mmscratch.unsupervised import kmeans as kmeans_module


def _host(a):
    return backend.to_numpy(a)


def _digits():
    return pytest.importorskip("sklearn.datasets").load_digits().data  # (1797, 64)


def _blobs(n=300, k=4, d=2, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k, d))
    return centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))


def _naive_lloyd(X, C, n_iter):
    """Readable reference: explicit loops over clusters, exact squared distances."""
    for _ in range(n_iter):
        D = np.stack([((X - c) ** 2).sum(1) for c in C], axis=1)
        labels = D.argmin(1)
        C = np.stack([X[labels == j].mean(0) for j in range(len(C))])
    return labels, C


# ------------------------------------------------------------------- definition
def test_lloyd_steps_match_a_naive_loop(xp):
    X = _blobs()
    C0 = X[[0, 1, 2, 3]]
    for steps in (1, 2, 5):
        km = KMeans(4, init=backend.asarray(C0), n_init=1, max_iter=steps, tol=0).fit(
            backend.asarray(X))
        ref_labels, ref_C = _naive_lloyd(X, C0, steps)
        np.testing.assert_allclose(_host(km.cluster_centers_), ref_C, atol=1e-10)
        # labels_ are those of the final centres (one more assignment step).
        D = ((X[:, None, :] - ref_C[None]) ** 2).sum(-1)
        np.testing.assert_array_equal(_host(km.labels_), D.argmin(1))
        assert km.inertia_ == pytest.approx(D.min(1).sum(), rel=1e-12)


def test_predict_transform_and_fit_predict(xp):
    X = backend.asarray(_blobs())
    km = KMeans(4, n_init=2, random_state=0)
    labels = km.fit_predict(X)
    np.testing.assert_array_equal(_host(km.predict(X)), _host(labels))
    D = _host(km.transform(X))  # (n, 4) Euclidean distances
    C = _host(km.cluster_centers_)
    np.testing.assert_allclose(D, np.sqrt(((_host(X)[:, None] - C[None]) ** 2).sum(-1)),
                               atol=1e-8)
    np.testing.assert_array_equal(D.argmin(1), _host(labels))
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-10)
    assert isinstance(km.inertia_, float) and isinstance(km.n_iter_, int)


def test_same_seed_gives_the_same_result_on_every_backend(xp):
    X = _digits()[:400]
    with backend.use("numpy"):
        ref = KMeans(5, n_init=3, random_state=7).fit(X)
    ours = KMeans(5, n_init=3, random_state=7).fit(backend.asarray(X))
    np.testing.assert_array_equal(_host(ours.labels_), ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)


def test_kmeans_plusplus_returns_distinct_data_points(xp):
    X = _blobs(200, k=5)
    centers, idx = kmeans_plusplus(backend.asarray(X), 5, random_state=0)
    idx = _host(idx)
    assert len(set(idx.tolist())) == 5
    np.testing.assert_array_equal(_host(centers), X[idx])


# ---------------------------------------------------------- scikit-learn parity
@pytest.mark.parametrize("data", ["digits", "blobs"])
def test_same_initial_centres_give_sklearn_lloyd_result(xp, data):
    cluster = pytest.importorskip("sklearn.cluster")
    X = _digits() if data == "digits" else _blobs(500, k=6, d=3)
    k = 10 if data == "digits" else 6
    C0 = X[np.random.default_rng(1).choice(len(X), k, replace=False)]
    ours = KMeans(k, init=backend.asarray(C0), n_init=1).fit(backend.asarray(X))
    ref = cluster.KMeans(k, init=C0, n_init=1, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(_host(ours.labels_), ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(_host(ours.cluster_centers_), ref.cluster_centers_, atol=1e-8)


def test_empty_cluster_is_reseeded_like_sklearn(xp):
    """A centre far from all data gets no points; it is moved to the farthest point."""
    cluster = pytest.importorskip("sklearn.cluster")
    X = _blobs(300, k=3)
    C0 = np.vstack([X[:2], [[1e3, 1e3]]])
    ours = KMeans(3, init=backend.asarray(C0), n_init=1).fit(backend.asarray(X))
    ref = cluster.KMeans(3, init=C0, n_init=1, algorithm="lloyd").fit(X)
    assert np.all(np.bincount(_host(ours.labels_), minlength=3) > 0)
    np.testing.assert_array_equal(_host(ours.labels_), ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)


@pytest.mark.parametrize("data", ["digits", "blobs"])
def test_kmeanspp_inertia_within_one_percent_of_sklearn(xp, data):
    cluster = pytest.importorskip("sklearn.cluster")
    X = _digits() if data == "digits" else _blobs(600, k=8, d=4, seed=3)
    k = 10 if data == "digits" else 8
    ours = KMeans(k, n_init=10, random_state=0).fit(backend.asarray(X))
    ref = cluster.KMeans(k, n_init=10, random_state=0).fit(X)
    assert ours.inertia_ <= 1.01 * ref.inertia_


def test_random_init_converges_too(xp):
    cluster = pytest.importorskip("sklearn.cluster")
    X = _blobs(400, k=5, d=3, seed=4)
    ours = KMeans(5, init="random", n_init=10, random_state=0).fit(backend.asarray(X))
    ref = cluster.KMeans(5, init="random", n_init=10, random_state=0).fit(X)
    assert ours.inertia_ <= 1.01 * ref.inertia_


def test_large_n_is_chunked_with_identical_result(xp, monkeypatch):
    X = backend.asarray(_blobs(500, k=4))
    whole = KMeans(4, n_init=2, random_state=1).fit(X)
    monkeypatch.setattr(kmeans_module, "_BLOCK_ELEMENTS", 64)  # 16 rows per block
    chunked = KMeans(4, n_init=2, random_state=1).fit(X)
    np.testing.assert_array_equal(_host(chunked.labels_), _host(whole.labels_))
    assert chunked.inertia_ == pytest.approx(whole.inertia_, rel=1e-12)


# ------------------------------------------------------------- degenerate data
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_many_duplicate_points_terminate_with_no_empty_cluster(xp, init):
    rng = np.random.default_rng(5)
    X = np.repeat(rng.normal(size=(8, 3)), 60, axis=0)  # 480 rows, 8 distinct
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        km = KMeans(8, init=init, n_init=5, random_state=0).fit(backend.asarray(X))
    counts = np.bincount(_host(km.labels_), minlength=8)
    assert np.all(counts == 60)
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)
    assert km.n_iter_ < 300


def test_fewer_distinct_points_than_clusters_warns_and_reuses_centres(xp):
    """Documented behaviour (as scikit-learn): fit succeeds, a ConvergenceWarning says
    how many distinct clusters were found, some centres coincide, inertia is 0."""
    rng = np.random.default_rng(6)
    X = np.repeat(rng.normal(size=(3, 2)), 20, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(3\).*n_clusters \(5\)"):
        km = KMeans(5, n_init=2, random_state=0).fit(backend.asarray(X))
    assert len(np.unique(_host(km.labels_))) == 3
    C = _host(km.cluster_centers_)
    assert C.shape == (5, 2) and np.all(np.isfinite(C))
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)


def test_single_cluster_is_the_mean(xp):
    X = _blobs(50)
    km = KMeans(1, n_init=1, random_state=0).fit(backend.asarray(X))
    np.testing.assert_allclose(_host(km.cluster_centers_)[0], X.mean(0), atol=1e-12)


# -------------------------------------------------------------------- bad input
def test_bad_input_is_a_clear_error(xp):
    X = _blobs(10)
    with pytest.raises(ValueError, match=r"n_samples=10 should be >= n_clusters=11"):
        KMeans(11).fit(backend.asarray(X))
    bad = X.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(backend.asarray(bad))
    with pytest.raises(ValueError, match="2-D.*reshape"):
        KMeans(2).fit(backend.asarray(X[:, 0]))
    with pytest.raises(ValueError, match=r"init array must have shape \(2, 2\)"):
        KMeans(2, init=backend.asarray(np.zeros((3, 2))), n_init=1).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="init must be"):
        KMeans(2, init="kmeans").fit(backend.asarray(X))
    with pytest.raises(ValueError, match="n_init"):
        KMeans(2, n_init=0).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="n_clusters"):
        KMeans(0).fit(backend.asarray(X))
    with pytest.raises(ValueError, match="fit"):
        KMeans(2).predict(backend.asarray(X))


def test_explicit_init_with_n_init_warns_and_runs_once(xp):
    X = _blobs(40)
    with pytest.warns(RuntimeWarning, match="only one init"):
        KMeans(2, init=backend.asarray(X[:2]), n_init=4).fit(backend.asarray(X))


def test_n_init_auto_follows_sklearn(xp):
    X = backend.asarray(_blobs(40))
    assert KMeans(2, n_init="auto")._check_params(X)[1] == 1
    assert KMeans(2, init="random", n_init="auto")._check_params(X)[1] == 10


def test_config_round_trip():
    km = KMeans(3, init="random", n_init=4, max_iter=50, tol=1e-3, random_state=2)
    assert type(km)(**km.get_config()).get_config() == km.get_config()


# -------------------------------------------------------------------- real data
def test_mnist_kmeans_close_to_sklearn(data_dir):
    cluster = pytest.importorskip("sklearn.cluster")
    from mmscratch.datasets import load_mnist

    images, _ = load_mnist(data_dir, kind="test")
    X = images[:2000].reshape(2000, -1)
    with backend.use("numpy"):
        ours = KMeans(10, n_init=3, random_state=0).fit(X)
    ref = cluster.KMeans(10, n_init=3, random_state=0).fit(X)
    assert ours.inertia_ <= 1.01 * ref.inertia_
