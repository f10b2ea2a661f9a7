"""k-means clustering (k-means++ seeding, Lloyd iterations) with scikit-learn's names.

The document's clustering objective (section 3.3.2) is

    min sum_{i=1}^{n} ||x_i - c_i||^2,

where c_i is the centre of the cluster that x_i belongs to. Lloyd's algorithm
alternates the two exact minimisations of that sum: assign every x_i to its
nearest centre (centres fixed), then move every centre to the mean of its points
(assignments fixed). Each step can only lower the sum, so it converges.

Chapter: chapters/03-3-tasks.md.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend
from ..base import BaseEstimator, ClusterMixin, TransformerMixin, check_n_features
from ..distances import euclidean, nearest, squared_euclidean
from ..errors import ConvergenceWarning, check_count, check_real
from ._common import check_data, host_rng

__all__ = ["KMeans", "ConvergenceWarning", "kmeans_plusplus"]

# Largest distance block (rows x clusters) computed at once; bounds memory for big N.
_BLOCK_ELEMENTS = 1 << 22
# Elements of a block of rows that stays in the CPU's cache (1 MiB of float32): the
# (rows, d) differences of the inertia and the rows of the centred transpose.
_CACHE_BLOCK_ELEMENTS = 1 << 18


def _row_chunks(n_rows, n_cols):
    step = max(1, _BLOCK_ELEMENTS // max(1, n_cols))
    return [(s, min(n_rows, s + step)) for s in range(0, n_rows, step)]


def _cache_chunks(n_rows, n_cols):
    """Row blocks of about ``_CACHE_BLOCK_ELEMENTS`` on the CPU; :func:`_row_chunks` on
    the GPU, where fewer and larger kernels are faster."""
    if backend.name() == "cupy":
        return _row_chunks(n_rows, n_cols)
    step = max(1, min(_CACHE_BLOCK_ELEMENTS, _BLOCK_ELEMENTS) // max(1, n_cols))
    return [(s, min(n_rows, s + step)) for s in range(0, n_rows, step)]


def _centred_transpose(X, x_mean):
    """``(X - mean)^T`` as a contiguous ``(d, n)`` array, written a block of rows at a time.

    The same numbers as ``xp.subtract(X.T, mean[:, None])`` (element-wise), but one such
    call reads X's rows far apart for every column it writes; blocks of rows that fit
    in cache make the transpose ~2.5x faster on the CPU (22 -> 9 ms for 10k MNIST rows).

    Shapes: X ``(n, d)``, x_mean ``(d,)`` -> ``(d, n)``.
    """
    xp = backend.xp()
    n, d = X.shape
    XT = xp.empty((d, n), dtype=X.dtype)
    for a, b in _cache_chunks(n, d):
        xp.subtract(X[a:b].T, x_mean[:, None], out=XT[:, a:b])
    return XT


def _assign(X, C):
    """Nearest centre of each row -> labels (n,).

    :func:`mmscratch.distances.nearest`: the expansion ``||x||^2 - 2 x.c + ||c||^2``
    after centring on the centres' mean and in float64 blocks, so float32 data far
    from the origin are still assigned correctly.
    """
    return nearest(X, C)[0]


def _assign_centred(XT, C, cross=True):
    """Nearest centre of each column of a *centred* ``X^T`` -> labels (n,) and the
    float64 sum of ``x_i . c_{labels_i}`` (None with ``cross=False``, which the Lloyd
    iterations pass: only the last E-step needs it): the fast E-step of :func:`_lloyd`.

    ``argmin_j ||x - c_j||^2 = argmin_j (||c_j||^2 - 2 x . c_j)``: ``||x||^2`` is the
    same for every j and drops out, so one product ``C X^T`` in X's own dtype does it,
    as scikit-learn's Lloyd loop. It is written ``(k, d) @ (d, n)`` on the transposed,
    contiguous data: with k ~ 10 output columns OpenBLAS runs ``X C^T`` far below
    its speed (the product reads X once either way; this form streams it).

    The cancellation that :mod:`mmscratch.distances` guards against comes from data
    far from the origin; ``KMeans.fit`` has already moved the data's mean to the
    origin, so the terms here are of the size of the data's spread (the "centre
    first" remedy). The distances reported to the user (``inertia_``, ``transform``,
    the final ``labels_``) still come from the accurate helpers. Tested against
    :func:`mmscratch.distances.nearest` (tests/test_speed_paths.py).

    Shapes: XT ``(d, n)``, C ``(k, d)`` -> labels ``(n,)``, a 0-d float64 sum.
    """
    xp = backend.xp()
    n = XT.shape[1]
    c_sq = (C * C).sum(axis=1)[:, None]  # (k, 1)
    labels, total = [], xp.zeros((), dtype=xp.float64)
    for a, b in _row_chunks(n, C.shape[0]):
        P = C @ XT[:, a:b]  # (k, rows): x . c_j
        if cross:
            lab = xp.argmin(c_sq - 2 * P, axis=0)
            total = total + P[lab, xp.arange(b - a)].sum(dtype=xp.float64)
        else:  # in place: no (k, rows) temporaries
            P *= -2
            P += c_sq
            lab = xp.argmin(P, axis=0)
        labels.append(lab)
    labels = labels[0] if len(labels) == 1 else xp.concatenate(labels)
    return labels, (total if cross else None)


def _assign_checked(X, XT, x_sq, C, centers, x_mean):
    """``_assign(X, centers)`` (the accurate labels ``predict`` gives), from the fast E-step.

    The fast labels of :func:`_assign_centred` (centred data ``XT``, centres ``C`` in
    the centred frame) can differ from the accurate ones only where the two nearest
    centres are closer than the round-off of the fast expansion. A generous bound on
    that round-off (dot products of d terms, the centring, the shift back of the
    centres) is ``16 d eps (||x - mean|| + max_j ||c_j|| + ||mean||)^2``; the rows whose
    gap between the nearest and second-nearest squared distance is within it are
    recomputed with :func:`mmscratch.distances.nearest`. On well-separated data that
    is a handful of rows; on data far from the origin in float32, all of them. The
    labels and the gaps come from the same product (one pass over X).
    """
    xp = backend.xp()
    n, d = X.shape
    k = C.shape[0]
    if k == 1 or n == 0:
        return xp.zeros(n, dtype=xp.int64)
    eps = float(np.finfo(X.dtype).eps)
    c_sq = (C * C).sum(axis=1)[:, None]  # (k, 1)
    reach = xp.sqrt(c_sq.max()) + xp.sqrt((x_mean * x_mean).sum())
    labels, unsure = [], []
    for a, b in _row_chunks(n, k):
        D = C @ XT[:, a:b]  # (k, rows)
        D *= -2
        D += c_sq  # ||c||^2 - 2 x.c: ||x - c||^2 up to the common ||x||^2
        labels.append(xp.argmin(D, axis=0))
        two = xp.partition(D, 1, axis=0)[:2]  # nearest and second nearest
        bound = 16 * d * eps * (xp.sqrt(x_sq[a:b]) + reach) ** 2
        unsure.append(two[1] - two[0] <= bound)
    labels = labels[0] if len(labels) == 1 else xp.concatenate(labels)
    unsure = unsure[0] if len(unsure) == 1 else xp.concatenate(unsure)
    rows = xp.nonzero(unsure)[0]
    if int(rows.shape[0]):
        labels[rows] = nearest(X[rows], centers)[0]
    return labels


def _sq_dist_to_assigned(X, C, labels):
    """``||x_i - c_{labels_i}||^2`` for every row, computed directly (no cancellation).

    Blocks of rows small enough that the ``(rows, d)`` difference stays in cache, and
    the row sums of squares without a squared copy (``einsum``).
    """
    xp = backend.xp()
    parts = []
    for a, b in _cache_chunks(X.shape[0], X.shape[1]):
        diff = X[a:b] - C[labels[a:b]]  # (rows, d)
        parts.append(xp.einsum("ij,ij->i", diff, diff))
    return parts[0] if len(parts) == 1 else xp.concatenate(parts)


def _cluster_sums(X, labels, k):
    """Per-cluster sums ``(k, d)`` and sizes ``(k,)`` through a one-hot matrix product.

    ``onehot^T X`` adds every row into its cluster in one BLAS call (a scatter-add
    over rows would be a slow unbuffered loop on the CPU). It is written
    ``(X^T onehot)^T``: OpenBLAS runs the (k, n) @ (n, d) form with tiny k ~25x
    slower than the same product as (d, n) @ (n, k).
    """
    xp = backend.xp()
    ids = xp.arange(k)
    sums = xp.zeros((k, X.shape[1]), dtype=X.dtype)
    counts = xp.zeros(k, dtype=X.dtype)
    for a, b in _row_chunks(X.shape[0], k):
        onehot = (labels[a:b, None] == ids[None, :]).astype(X.dtype)  # (rows, k)
        sums += (X[a:b].T @ onehot).T
        counts += onehot.sum(axis=0)
    return sums, counts


def kmeans_plusplus(X, n_clusters, random_state=None, n_local_trials=None, x_squared_norms=None):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, as in scikit-learn).

    The first centre is a uniformly random point. Each next one: draw
    ``2 + int(log k)`` candidates with probability proportional to
    ``D(x)^2 = min_j ||x - c_j||^2`` and keep the candidate that lowers the
    potential ``sum_i D(x_i)^2`` most.

    Parameters
    ----------
    X : array (n, d)
    n_clusters : int
    random_state : int, numpy Generator or None
        Host generator for the (few) random draws; the heavy work stays on the backend.
    n_local_trials : int, optional
    x_squared_norms : array (n,), optional
        ``||x_i||^2``. When given, the candidates' distances use the expansion
        ``||x||^2 - 2 x . c + ||c||^2`` with them, in X's dtype (fast; accurate only
        for data centred near the origin, which is what ``KMeans.fit`` passes). When
        None, they come from :func:`mmscratch.distances.squared_euclidean`
        (accurate for any data, slower).

    Returns
    -------
    centers : array (n_clusters, d)
    indices : array (n_clusters,) of row indices into X.

    Chapter: chapters/03-3-tasks.md.
    """
    xp = backend.xp()
    rng = host_rng(random_state)
    n = X.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    indices = xp.zeros(n_clusters, dtype=xp.int64)
    first = int(rng.integers(n))
    indices[0] = first

    if x_squared_norms is None:
        def sq_dist(rows):  # (t, n): accurate even for float32 far from the origin
            return squared_euclidean(X[rows], X)
    else:
        x_sq = x_squared_norms

        def sq_dist(rows):  # (t, n): the expansion, for centred X
            D = X[rows] @ X.T
            D *= -2
            D += x_sq[None, :]
            D += x_sq[rows][:, None]
            return xp.maximum(D, 0, out=D)

    closest = sq_dist(xp.asarray([first]))[0]  # (n,)
    pot = closest.sum()
    for c in range(1, n_clusters):
        draws = backend.asarray(rng.uniform(size=n_local_trials).astype(X.dtype))
        cand = xp.searchsorted(xp.cumsum(closest), draws * pot)  # (t,)
        cand = xp.minimum(cand, n - 1)  # round-off can run past the last point
        d = xp.minimum(closest[None, :], sq_dist(cand))  # (t, n)
        pots = d.sum(axis=1)
        best = xp.argmin(pots)
        pot = pots[best]
        closest = d[best]
        indices[c] = cand[best]
    return X[indices], indices


def _is_same_clustering(a, b, k):
    """True when labeling ``a`` maps onto ``b`` by a function (scikit-learn's test)."""
    xp = backend.xp()
    table = xp.bincount(a * k + b, minlength=k * k).reshape(k, k)
    return bool(backend.to_numpy(((table > 0).sum(axis=1) <= 1).all()))


class KMeans(TransformerMixin, ClusterMixin, BaseEstimator):
    """k-means clustering: k-means++ seeding and Lloyd iterations (scikit-learn's ``KMeans``).

    Minimises the document's objective (the inertia)

    .. math::

        \\min_{c_1..c_k} \\sum_{i=1}^{n} \\| x_i - c_{l(i)} \\|^2,\\qquad
        l(i) = \\arg\\min_j \\| x_i - c_j \\|^2 .

    One Lloyd step: labels from ``argmin_j ||c_j||^2 - 2 x_i . c_j`` (one matrix
    product), then every centre moves to the mean of its points (a one-hot matrix
    product). A cluster that loses all its points is re-seeded with the points
    farthest from their current centres (as scikit-learn does). The loop stops when
    no label changes ("strict convergence") or when the squared centre shift
    ``sum_j ||c_j^new - c_j||^2`` falls to ``tol * mean_d var(X[:, d])``.

    Parameters
    ----------
    n_clusters : int
    init : "k-means++", "random" or array (n_clusters, n_features)
        Seeding. An explicit array means a single run (a warning is given if
        ``n_init`` is not 1, as scikit-learn does).
    n_init : int or "auto"
        Number of seedings; the run with the lowest inertia is kept. Default 10
        (scikit-learn >= 1.4 defaults to "auto", which is 1 for k-means++ and 10
        for random; "auto" is accepted with that meaning).
    max_iter : int
        Lloyd iterations per run.
    tol : float
        Relative tolerance on the centre shift (multiplied by the mean feature variance).
    random_state : int, numpy Generator or None
        Seeds the host generator used for seeding (same seed -> same result on
        numpy and cupy; streams differ from scikit-learn's).

    Attributes
    ----------
    cluster_centers_ : array (n_clusters, n_features)
    labels_ : array (n_samples,) of int64
    inertia_ : float
        Sum of squared distances of the points to their centres.
    n_iter_ : int
        Lloyd iterations of the kept run.

    Notes
    -----
    Fewer distinct points than ``n_clusters``: the fit still succeeds, some centres
    coincide, ``labels_`` uses fewer than ``n_clusters`` values and a
    :class:`ConvergenceWarning` says so (scikit-learn's behaviour).
    Integer input is cast to float64. The data are centred before fitting (a
    shift that changes nothing mathematically) for more accurate distances.
    Chapter: chapters/03-3-tasks.md.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init=10, max_iter=300, tol=1e-4,
                 random_state=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    # --------------------------------------------------------------- checking
    def _check_params(self, X):
        where = self._where()
        n, d = X.shape
        k = check_count(self.n_clusters, "n_clusters", where=where)
        if n < k:
            raise ValueError(f"{where}: n_samples={n} should be >= n_clusters={k}")
        check_count(self.max_iter, "max_iter", where=where)
        check_real(self.tol, "tol", where=where, low=0)
        init = self.init
        if isinstance(init, str):
            if init not in ("k-means++", "random"):
                raise ValueError(f"{where}: init must be 'k-means++', 'random' or an array of "
                                 f"shape ({k}, {d}), got {init!r}")
        else:
            if isinstance(init, (list, tuple)):
                init = backend.asarray(np.asarray(init, dtype=np.float64))
            init = check_data(init, where, argument="init")
            if tuple(init.shape) != (k, d):
                raise ValueError(f"{where}: init array must have shape ({k}, {d}), "
                                 f"got {tuple(init.shape)}")
            init = init.astype(X.dtype)
        n_init = self.n_init
        if isinstance(n_init, str) and n_init == "auto":
            n_init = 10 if isinstance(init, str) and init == "random" else 1
        n_init = check_count(n_init, "n_init", where=where)
        if not isinstance(init, str) and n_init != 1:
            warnings.warn(f"{where}: explicit initial centres passed; performing only one "
                          f"init instead of n_init={n_init}.", RuntimeWarning, stacklevel=3)
            n_init = 1
        return init, int(n_init)

    # ---------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Cluster ``X (n_samples, n_features)``; returns ``self``."""
        xp = backend.xp()
        X = check_data(X, self._where())
        init, n_init = self._check_params(X)
        k = self.n_clusters
        x_mean = X.mean(axis=0)  # (d,)
        # The centred data, stored transposed (d, n) and contiguous for the E-step's
        # product; Xc is the (n, d) view of the same memory (no second copy).
        XT = _centred_transpose(X, x_mean)
        Xc = XT.T

        def centred_rows(idx):  # Xc[idx], read from X's contiguous rows (same numbers)
            return X[idx] - x_mean[None, :]

        rng = host_rng(self.random_state)
        x_sq = xp.einsum("ij,ij->j", XT, XT)  # (n,) ||x_i||^2 of the centred rows
        # scikit-learn's tolerance: tol times the mean per-feature variance, which is
        # sum_i ||x_i - mean||^2 / (n d).
        tol = float(backend.to_numpy(x_sq.sum(dtype=xp.float64))) / X.size * self.tol
        best = None
        for _ in range(n_init):
            if isinstance(init, str) and init == "k-means++":
                centers, _ = kmeans_plusplus(Xc, k, rng, x_squared_norms=x_sq)
            elif isinstance(init, str):
                seeds = rng.choice(X.shape[0], size=k, replace=False)
                centers = Xc[backend.asarray(seeds)]
            else:
                centers = init - x_mean[None, :]
            # With one run, its inertia picks nothing: fit computes the stored one.
            labels, inertia, centers, n_iter = _lloyd(Xc, centers, self.max_iter, tol,
                                                      XT, x_sq, rows=centred_rows,
                                                      final_estep=n_init > 1)
            # Keep a lower inertia only if it is a different clustering (not a relabelling
            # of the same one that differs by round-off), as scikit-learn does.
            if best is None or (inertia < best[1]
                                and not _is_same_clustering(labels, best[0], k)):
                best = (labels, inertia, centers, n_iter)
        _, _, centers, n_iter = best
        centers = centers + x_mean[None, :]
        # Labels and inertia exactly as predict/score compute them, on the centres
        # we store: shifting back by x_mean rounds, and coinciding centres (duplicate
        # points) could then break a tie the other way than in the centred frame.
        labels = _assign_checked(X, XT, x_sq, centers - x_mean[None, :], centers, x_mean)
        inertia = float(backend.to_numpy(_sq_dist_to_assigned(X, centers, labels).sum()))
        distinct = int(backend.to_numpy((xp.bincount(labels, minlength=k) > 0).sum()))
        if distinct < k:
            warnings.warn(f"{self._where()}: number of distinct clusters ({distinct}) found "
                          f"smaller than n_clusters ({k}); possibly due to duplicate points "
                          "in X. Some centres coincide.", ConvergenceWarning, stacklevel=2)
        self.cluster_centers_ = centers
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self.n_features_in_ = X.shape[1]
        return self

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_`` (n_samples,)."""
        return self.fit(X).labels_

    def _checked(self, X):
        self._check_is_fitted("cluster_centers_")
        X = check_data(X, self._where())
        return check_n_features(self, X)

    def predict(self, X):
        """Index of the nearest centre for every row of ``X (n, d)`` -> (n,)."""
        X = self._checked(X)
        return _assign(X, self.cluster_centers_.astype(X.dtype))

    def transform(self, X):
        """Euclidean distances ``||x_i - c_j||`` to every centre -> (n, n_clusters)."""
        X = self._checked(X)
        # Not ||x||^2 - 2 x.c + ||c||^2 in the input dtype: that cancels for float32
        # data far from the origin (see mmscratch.distances).
        return euclidean(X, self.cluster_centers_.astype(X.dtype))  # (n, k)

    def fit_transform(self, X, y=None):
        """Fit, then return :meth:`transform` of ``X``."""
        return self.fit(X).transform(X)

    def score(self, X, y=None):
        """Opposite of the inertia of ``X`` under the fitted centres (higher is better)."""
        X = self._checked(X)
        C = self.cluster_centers_.astype(X.dtype)
        d = _sq_dist_to_assigned(X, C, _assign(X, C))
        return -float(backend.to_numpy(d.sum()))


def _lloyd(X, centers, max_iter, tol, XT=None, x_sq=None, rows=None, final_estep=True):
    """One k-means run from ``centers (k, d)``; returns labels, inertia, centres, n_iter.

    ``X`` must be centred (``KMeans.fit`` passes ``X - mean``, with ``XT`` its
    contiguous transpose and ``x_sq`` its squared row norms): the E-step is
    :func:`_assign_centred`. The returned inertia, used to pick the best of the
    ``n_init`` runs, is ``sum ||x||^2 - 2 sum x . c + sum ||c||^2`` from the last
    E-step's products, summed in float64; ``fit`` recomputes the stored one exactly.
    ``rows(idx)`` gives ``X[idx]`` (``fit`` reads them from the row-major input: ``X``
    here is a transposed view, whose rows are scattered in memory). With
    ``final_estep=False`` the closing E-step is skipped: labels are those of the last
    iteration and the inertia is None (``fit`` with one run recomputes both anyway).

    Mirrors scikit-learn's ``_kmeans_single_lloyd``: E-step and M-step per
    iteration, stop on unchanged labels or on squared centre shift <= tol, and a
    final E-step when the stop was on the shift.

    The per-cluster sums are updated, not recomputed, once few labels change: only
    the ``m`` points that moved are subtracted from their old cluster and added to
    the new one (``X[moved]^T (onehot_new - onehot_old)``), an ``m/n`` fraction of
    the full product. Late iterations move a handful of points, so each step then
    costs about one matrix product (the distances), as scikit-learn's fused loop.
    Two host syncs per iteration (the number of moved points and the flags).
    """
    xp = backend.xp()
    n, k = X.shape[0], centers.shape[0]
    if XT is None:
        XT = xp.ascontiguousarray(X.T)
    if x_sq is None:
        x_sq = (XT * XT).sum(axis=0)
    if rows is None:
        def rows(idx):
            return X[idx]
    ids = xp.arange(k)
    labels_old = None
    sums = counts = None
    it = 0
    for it in range(max_iter):  # noqa: B007 - n_iter is read after the loop
        labels, _ = _assign_centred(XT, centers, cross=False)  # (n,); X is centred by fit
        if labels_old is None:
            sums, counts = _cluster_sums(X, labels, k)
            n_moved = n
        else:
            moved = xp.nonzero(labels != labels_old)[0]  # (m,)
            n_moved = int(moved.shape[0])
            if 4 * n_moved > n:  # many moves: a fresh product is cheaper and exact
                sums, counts = _cluster_sums(X, labels, k)
            elif n_moved:
                delta = ((labels[moved][:, None] == ids[None, :]).astype(X.dtype)
                         - (labels_old[moved][:, None] == ids[None, :]).astype(X.dtype))
                sums = sums + (rows(moved).T @ delta).T  # (k, d)
                counts = counts + delta.sum(axis=0)
        new = sums / xp.maximum(counts, 1)[:, None]
        shift = ((new - centers) ** 2).sum()
        flags = backend.to_numpy(xp.stack([(counts == 0).sum().astype(xp.float64),
                                           shift.astype(xp.float64)]))
        n_empty, shift_tot = int(flags[0]), float(flags[1])
        if n_empty:
            # Relocation changes the centres only; sums/counts stay those of `labels`.
            new = _relocate_empty(X, centers, labels, sums, counts, n_empty)
            shift_tot = float(backend.to_numpy(((new - centers) ** 2).sum()))
        centers = new
        if n_moved == 0:
            break
        if shift_tot <= tol:
            break
        labels_old = labels
    if not final_estep:
        return labels, None, centers, it + 1
    # One more E-step: the centres may have moved after `labels` were computed (a
    # shift stop or a relocation), and it gives the cross terms of the inertia.
    labels, cross = _assign_centred(XT, centers)
    c_sq = (centers * centers).sum(axis=1).astype(xp.float64)
    inertia = x_sq.sum(dtype=xp.float64) - 2 * cross + c_sq[labels].sum()
    inertia = max(float(backend.to_numpy(inertia)), 0.0)
    return labels, inertia, centers, it + 1


def _relocate_empty(X, centers, labels, sums, counts, n_empty):
    """Re-seed empty clusters with far-away points; returns the new centres ``(k, d)``.

    As in scikit-learn's ``_relocate_empty_clusters``, a re-seeding point leaves its
    old cluster (its sum and size shrink) and becomes the sole member of the empty
    one. The points are picked greedily, one per empty cluster: the point farthest
    from its assigned centre, then the one farthest from both that and the points
    already picked. Only points whose cluster keeps at least one other member are
    candidates: taking the sole member of a cluster would just move the hole (on
    duplicated data the same point then swaps between two clusters until
    ``max_iter``, with a centre left on no point). Such a point always exists,
    since ``n_samples >= n_clusters``. (scikit-learn takes the top distances at
    once, which can pick copies of one duplicated point.) The loop runs over the
    few empty clusters only, never over points.
    """
    xp = backend.xp()
    empty = xp.nonzero(counts == 0)[0]  # (e,)
    dist = _sq_dist_to_assigned(X, centers, labels)  # (n,)
    left = counts.copy()  # sizes after the picks so far
    picks = []
    for _ in range(n_empty):
        # -1 marks rows that may not move: their cluster would be emptied.
        f = xp.argmax(xp.where(left[labels] > 1, dist, -1.0))
        picks.append(f)
        left[labels[f]] -= 1
        diff = X - X[f][None, :]
        dist = xp.minimum(dist, (diff * diff).sum(axis=1))
        dist[f] = -1.0  # never pick the same row twice (all-duplicate data)
    far = xp.stack(picks)  # (e,)
    old = labels[far]
    sums = sums.copy()
    counts = counts.copy()
    backend.scatter_add(sums, old, -X[far])
    backend.scatter_add(counts, old, -xp.ones(n_empty, dtype=counts.dtype))
    sums[empty] = X[far]
    counts[empty] = 1
    return sums / xp.maximum(counts, 1)[:, None]
