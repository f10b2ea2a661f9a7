"""k-means on degenerate data: duplicates terminate, no centre is left on no point, and the
fitted attributes always agree with each other (issue 14 item 4).

Specification: on data with fewer distinct points than clusters, Lloyd iterations stop
after a few steps with inertia 0 (as scikit-learn's do: 2 iterations on the example);
relocating an empty cluster never empties another one; after any relocation
``predict(X) == labels_``, ``-score(X) == inertia_`` and every centre of a non-empty
cluster is the mean of its points.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmscratch import backend
from mmscratch.unsupervised import ConvergenceWarning, KMeans

SIX = np.array([(100, 100), (100, 102), (106, 100), (107, 101), (107, 101), (108, 100)],
               dtype=np.float64)


def _fit(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return KMeans(**kw).fit(backend.asarray(X))


def _check_consistent(km, X):
    Xb = backend.asarray(X)
    labels = backend.to_numpy(km.labels_)
    centres = backend.to_numpy(km.cluster_centers_)
    np.testing.assert_array_equal(backend.to_numpy(km.predict(Xb)), labels)
    np.testing.assert_allclose(-km.score(Xb), km.inertia_, rtol=1e-9, atol=1e-9)
    exact = ((X - centres[labels]) ** 2).sum()
    np.testing.assert_allclose(km.inertia_, exact, rtol=1e-9, atol=1e-9)
    for j in np.unique(labels):
        np.testing.assert_allclose(centres[j], X[labels == j].mean(0), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_six_points_six_clusters_terminates_with_inertia_zero(xp, seed):
    km = _fit(SIX, n_clusters=6, n_init=1, random_state=seed)
    assert km.inertia_ == 0.0
    # scikit-learn takes 2 iterations; we ran to max_iter=300 before the fix.
    assert km.n_iter_ <= 3
    centres = backend.to_numpy(km.cluster_centers_)
    # every centre sits on a data point (none left on no point)
    d = ((centres[:, None, :] - SIX[None, :, :]) ** 2).sum(-1)
    assert (d.min(axis=1) == 0).all()
    # 5 distinct points -> 5 labels used (the duplicate's two centres coincide), as sklearn
    assert len(np.unique(backend.to_numpy(km.labels_))) == 5
    _check_consistent(km, SIX)


def test_six_points_like_scikit_learn():
    sk = pytest.importorskip("sklearn.cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk.KMeans(n_clusters=6, n_init=1, random_state=0).fit(SIX)
    ours = _fit(SIX, n_clusters=6, n_init=1, random_state=0)
    assert ours.inertia_ == ref.inertia_ == 0.0
    assert ours.n_iter_ <= ref.n_iter_ + 1
    assert len(np.unique(ours.labels_)) == len(np.unique(ref.labels_))


def test_duplicate_points_warn_like_scikit_learn():
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        KMeans(n_clusters=6, n_init=1, random_state=0).fit(SIX)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 6), st.integers(1, 4))
def test_attributes_agree_after_relocation(seed, k, n_distinct):
    # Few distinct points, many copies: relocations happen often.
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 5, size=(n_distinct, 2)).astype(np.float64)
    X = points[rng.integers(0, n_distinct, size=k + rng.integers(0, 6))]
    km = _fit(X, n_clusters=k, n_init=2, random_state=seed, max_iter=50)
    assert km.n_iter_ < 50
    _check_consistent(km, X)
