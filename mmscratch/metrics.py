"""Classification and clustering metrics with scikit-learn's names and definitions.

Counting happens on the active backend (``unique`` + ``bincount``); the small
tables that come out (one row per class, or the non-zero cells of a
contingency table) are copied to the host once, explicitly, and the final
formulas run there in float64 / exact integers, so every metric returns a plain
Python ``float`` and agrees with scikit-learn to round-off.

Clustering scores compare a clustering with the true classes. With the
contingency table ``n_ck`` (points of class c in cluster k), ``a_c = sum_k n_ck``,
``b_k = sum_c n_ck`` and ``n`` points:

- mutual information ``I(C; K) = sum_ck n_ck/n log(n n_ck / (a_c b_k))``,
  entropy ``H(C) = -sum_c a_c/n log(a_c/n)`` (natural log);
- ``NMI = I / mean(H(C), H(K))`` (arithmetic mean, scikit-learn's default);
- homogeneity ``1 - H(C|K)/H(C) = I/H(C)``, completeness ``I/H(K)``, V-measure
  their (beta-weighted) harmonic mean;
- adjusted Rand index from the pair-counting table (pairs together/apart in both);
- silhouette ``s_i = (b_i - a_i) / max(a_i, b_i)`` with ``a_i`` the mean distance
  to its own cluster and ``b_i`` the smallest mean distance to another cluster.

Chapter: chapters/03-3-tasks.md.
"""

from __future__ import annotations

import math

import numpy as np

from . import backend
from .distances import euclidean

__all__ = [
    "accuracy",
    "accuracy_score",
    "confusion_matrix",
    "contingency_matrix",
    "adjusted_rand_score",
    "mutual_info_score",
    "normalized_mutual_info_score",
    "homogeneity_score",
    "completeness_score",
    "v_measure_score",
    "homogeneity_completeness_v_measure",
    "silhouette_samples",
    "silhouette_score",
    "recall_at_k",
    "precision_at_k",
]

# Largest distance block (rows x n) the silhouette computes at once: 2**24 float64
# values = 128 MiB, so 10,000 points go through in chunks of 1,677 rows.
_SILHOUETTE_BLOCK = 1 << 24


def _labels(a, argument, where):
    """A 1-D label array on the active backend (lists and tuples are converted)."""
    if isinstance(a, (list, tuple)):
        a = backend.asarray(np.asarray(a))
    backend.check_backend(a, argument, where)
    if a.ndim != 1:
        raise ValueError(f"{where}: argument '{argument}' must be 1-D, got shape "
                         f"{tuple(a.shape)}")
    return a


def _pair(labels_true, labels_pred, where):
    t = _labels(labels_true, "labels_true", where)
    p = _labels(labels_pred, "labels_pred", where)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{where}: labels_true and labels_pred must have the same length, "
                         f"got {t.shape[0]} and {p.shape[0]}")
    return t, p


# ------------------------------------------------------------------- classification
def accuracy(y_true, y_pred):
    """Fraction of correct predictions: ``mean(y_true == y_pred)``.

    Parameters
    ----------
    y_true : array (n,) of labels, or (n, C) one-hot / scores (argmax is taken)
    y_pred : array (n,) of labels, or (n, C) scores / probabilities (argmax is taken)

    Returns
    -------
    float in [0, 1].

    Chapter: chapters/03-3-tasks.md.
    """
    xp = backend.xp()
    where = "accuracy"
    vals = []
    for a, name in ((y_true, "y_true"), (y_pred, "y_pred")):
        if isinstance(a, (list, tuple)):
            a = backend.asarray(np.asarray(a))
        backend.check_backend(a, name, where)
        if a.ndim == 2:
            a = xp.argmax(a, axis=1)
        elif a.ndim != 1:
            raise ValueError(f"{where}: argument '{name}' must be (n,) labels or (n, C) "
                             f"scores, got shape {tuple(a.shape)}")
        vals.append(a)
    t, p = vals
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{where}: y_true and y_pred must have the same length, "
                         f"got {t.shape[0]} and {p.shape[0]}")
    if t.shape[0] == 0:
        raise ValueError(f"{where}: empty input")
    return float(backend.to_numpy((t == p).mean()))


accuracy_score = accuracy


def confusion_matrix(y_true, y_pred, labels=None):
    """Confusion matrix: ``M[i, j]`` samples of class ``labels[i]`` predicted as ``labels[j]``.

    Parameters
    ----------
    y_true, y_pred : arrays (n,)
    labels : sequence, optional
        Class order; default the sorted union of both label sets (scikit-learn's).
        Samples whose true or predicted label is not in ``labels`` are ignored.

    Returns
    -------
    numpy.ndarray (L, L) of int64, on the host (a small summary table).

    Chapter: chapters/03-3-tasks.md.
    """
    xp = backend.xp()
    t, p = _pair(y_true, y_pred, "confusion_matrix")
    if labels is None:
        classes = xp.unique(xp.concatenate([t, p]))
    else:
        classes = backend.asarray(np.asarray(labels))
        if classes.ndim != 1 or classes.shape[0] == 0:
            raise ValueError("confusion_matrix: 'labels' must be a non-empty 1-D sequence")
    L = classes.shape[0]
    # Position of each label in `classes` (sorted copy + searchsorted), -1 if absent.
    order = xp.argsort(classes)
    sorted_classes = classes[order]

    def index(a):
        pos = xp.minimum(xp.searchsorted(sorted_classes, a), L - 1)
        return xp.where(sorted_classes[pos] == a, order[pos], -1)

    ti, pi = index(t), index(p)
    keep = (ti >= 0) & (pi >= 0)
    counts = xp.bincount((ti * L + pi)[keep], minlength=L * L)
    return backend.to_numpy(counts).reshape(L, L).astype(np.int64)


# ----------------------------------------------------------------------- clustering
class _Contingency:
    """The non-zero cells of a contingency table, on the host.

    ``rows, cols, vals``: class index, cluster index and count of each non-zero
    cell; ``a`` class sizes, ``b`` cluster sizes, ``n`` total. Only the ``nnz``
    cells are built (at most n), never the dense ``C x K`` table.
    """

    def __init__(self, t, p):
        xp = backend.xp()
        _, ti = xp.unique(t, return_inverse=True)
        _, pi = xp.unique(p, return_inverse=True)
        ti, pi = ti.reshape(-1), pi.reshape(-1)
        K = int(backend.to_numpy(pi.max())) + 1 if pi.shape[0] else 0
        codes, vals = xp.unique(ti * max(K, 1) + pi, return_counts=True)
        codes = backend.to_numpy(codes).astype(np.int64)
        self.vals = backend.to_numpy(vals).astype(np.int64)
        self.rows, self.cols = codes // max(K, 1), codes % max(K, 1)
        C = int(self.rows.max()) + 1 if codes.size else 0
        self.a = np.bincount(self.rows, weights=self.vals, minlength=C).astype(np.int64)
        self.b = np.bincount(self.cols, weights=self.vals, minlength=K).astype(np.int64)
        self.n = int(self.vals.sum())


def contingency_matrix(labels_true, labels_pred):
    """Dense contingency table ``n_ck`` (classes sorted x clusters sorted), on the host.

    Returns
    -------
    numpy.ndarray (C, K) of int64.

    Chapter: chapters/03-3-tasks.md.
    """
    c = _Contingency(*_pair(labels_true, labels_pred, "contingency_matrix"))
    table = np.zeros((c.a.size, c.b.size), dtype=np.int64)
    table[c.rows, c.cols] = c.vals
    return table


def _entropy(counts):
    """``H = -sum p log p`` of a vector of cluster sizes (scikit-learn's ``_entropy``)."""
    pi = counts[counts > 0].astype(np.float64)
    if pi.size <= 1:
        return 0.0
    s = pi.sum()
    return float(-np.sum((pi / s) * (np.log(pi) - math.log(s))))


def _mutual_info(c: _Contingency) -> float:
    """``I(C; K)`` in nats from the non-zero cells (scikit-learn's ``mutual_info_score``)."""
    if c.a.size == 1 or c.b.size == 1:
        return 0.0
    nz = c.vals.astype(np.float64)
    total = float(c.n)
    p_nm = nz / total
    outer = c.a[c.rows].astype(np.int64) * c.b[c.cols].astype(np.int64)
    log_outer = -np.log(outer.astype(np.float64)) + math.log(c.a.sum()) + math.log(c.b.sum())
    mi = p_nm * (np.log(nz) - math.log(total)) + p_nm * log_outer
    mi = np.where(np.abs(mi) < np.finfo(mi.dtype).eps, 0.0, mi)
    return float(max(mi.sum(), 0.0))


def mutual_info_score(labels_true, labels_pred):
    """Mutual information ``I(C; K) = sum_ck (n_ck/n) log(n n_ck / (a_c b_k))`` (nats).

    Chapter: chapters/03-3-tasks.md.
    """
    return _mutual_info(_Contingency(*_pair(labels_true, labels_pred, "mutual_info_score")))


def normalized_mutual_info_score(labels_true, labels_pred, average_method="arithmetic"):
    """NMI ``= I(C; K) / mean(H(C), H(K))`` in [0, 1].

    Parameters
    ----------
    labels_true, labels_pred : arrays (n,)
    average_method : {"arithmetic", "geometric", "min", "max"}
        How the two entropies are averaged (scikit-learn's default: arithmetic).

    Returns
    -------
    float. 1.0 when both labelings have a single cluster (scikit-learn's convention).

    Chapter: chapters/03-3-tasks.md.
    """
    c = _Contingency(*_pair(labels_true, labels_pred, "normalized_mutual_info_score"))
    if (c.a.size == c.b.size == 1) or (c.a.size == c.b.size == 0):
        return 1.0
    mi = _mutual_info(c)
    if mi == 0:
        return 0.0
    h_true, h_pred = _entropy(c.a), _entropy(c.b)
    if average_method == "arithmetic":
        norm = (h_true + h_pred) / 2
    elif average_method == "geometric":
        norm = math.sqrt(h_true * h_pred)
    elif average_method == "min":
        norm = min(h_true, h_pred)
    elif average_method == "max":
        norm = max(h_true, h_pred)
    else:
        raise ValueError("normalized_mutual_info_score: average_method must be 'arithmetic', "
                         f"'geometric', 'min' or 'max', got {average_method!r}")
    return float(mi / norm)


def homogeneity_completeness_v_measure(labels_true, labels_pred, beta=1.0):
    """Homogeneity ``I/H(C)``, completeness ``I/H(K)`` and V-measure.

    ``V = (1 + beta) h c / (beta h + c)``; a zero entropy gives a score of 1
    (scikit-learn's convention).

    Returns
    -------
    (homogeneity, completeness, v_measure) : tuple of floats.

    Chapter: chapters/03-3-tasks.md.
    """
    t, p = _pair(labels_true, labels_pred, "homogeneity_completeness_v_measure")
    if t.shape[0] == 0:
        return 1.0, 1.0, 1.0
    c = _Contingency(t, p)
    h_c, h_k = _entropy(c.a), _entropy(c.b)
    mi = _mutual_info(c)
    hom = mi / h_c if h_c else 1.0
    com = mi / h_k if h_k else 1.0
    if hom + com == 0.0:
        return float(hom), float(com), 0.0
    v = (1 + beta) * hom * com / (beta * hom + com)
    return float(hom), float(com), float(v)


def homogeneity_score(labels_true, labels_pred):
    """Homogeneity ``I(C; K) / H(C)``: each cluster holds one class.

    Chapter: chapters/03-3-tasks.md.
    """
    return homogeneity_completeness_v_measure(labels_true, labels_pred)[0]


def completeness_score(labels_true, labels_pred):
    """Completeness ``I(C; K) / H(K)``: each class lies in one cluster.

    Chapter: chapters/03-3-tasks.md.
    """
    return homogeneity_completeness_v_measure(labels_true, labels_pred)[1]


def v_measure_score(labels_true, labels_pred, beta=1.0):
    """V-measure ``(1 + beta) h c / (beta h + c)``. Chapter: chapters/03-3-tasks.md."""
    return homogeneity_completeness_v_measure(labels_true, labels_pred, beta=beta)[2]


def adjusted_rand_score(labels_true, labels_pred):
    """Adjusted Rand index: pair agreement corrected for chance, in [-0.5, 1].

    With the pair-counting table (tn, fp, fn, tp) of pairs split/joined by each
    labeling: ``ARI = 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))``,
    computed in exact integers.

    Chapter: chapters/03-3-tasks.md.
    """
    c = _Contingency(*_pair(labels_true, labels_pred, "adjusted_rand_score"))
    n = c.n
    vals = [int(v) for v in c.vals]
    sum_sq = sum(v * v for v in vals)
    # sum_ck n_ck b_k and sum_ck n_ck a_c, as Python ints (no overflow).
    n_b = sum(v * int(c.b[k]) for v, k in zip(vals, c.cols))
    n_a = sum(v * int(c.a[r]) for v, r in zip(vals, c.rows))
    tp = sum_sq - n
    fp = n_b - sum_sq
    fn = n_a - sum_sq
    tn = n * n - fp - fn - sum_sq
    if fn == 0 and fp == 0:
        return 1.0
    return float(2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


# ----------------------------------------------------------------------- silhouette
def silhouette_samples(X, labels):
    """Silhouette coefficient of every sample, Euclidean distance.

    ``s_i = (b_i - a_i) / max(a_i, b_i)``: ``a_i`` mean distance to the other
    members of its cluster, ``b_i`` the smallest mean distance to another cluster;
    0 for a sample alone in its cluster. The ``(n, n)`` distance matrix is never
    held whole: blocks of rows are computed with
    :func:`mmscratch.distances.euclidean` (centred, float64 accumulation, so
    float32 data far from the origin keep their small distances) and reduced to
    per-cluster sums with a one-hot matrix product.

    Parameters
    ----------
    X : array (n, d)
    labels : array (n,)

    Returns
    -------
    array (n,) on the active backend.

    Chapter: chapters/03-3-tasks.md.
    """
    xp = backend.xp()
    where = "silhouette_samples"
    backend.check_backend(X, "X", where)
    if X.ndim != 2:
        raise ValueError(f"{where}: argument 'X' must be 2-D (n_samples, n_features), "
                         f"got shape {tuple(X.shape)}")
    labels = _labels(labels, "labels", where)
    n = X.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"{where}: X has {n} rows but labels has {labels.shape[0]}")
    _, idx = xp.unique(labels, return_inverse=True)
    idx = idx.reshape(-1)
    k = int(backend.to_numpy(idx.max())) + 1 if n else 0
    if not 2 <= k <= n - 1:
        raise ValueError(f"{where}: number of labels is {k}; valid values are 2 to "
                         f"n_samples - 1 = {n - 1} (inclusive)")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    onehot = (idx[:, None] == xp.arange(k)[None, :]).astype(X.dtype)  # (n, k)
    sizes = onehot.sum(axis=0)  # (k,)
    step = max(1, _SILHOUETTE_BLOCK // max(n, 1))
    out = []
    for a in range(0, n, step):
        b = min(n, a + step)
        D = euclidean(X[a:b], X)  # (rows, n)
        rows = xp.arange(b - a)
        D[rows, rows + a] = 0  # exact zero self-distance
        sums = D @ onehot  # (rows, k)
        own = idx[a:b]
        own_size = sizes[own]
        intra = sums[rows, own] / xp.maximum(own_size - 1, 1)
        mean_other = sums / sizes[None, :]
        mean_other[rows, own] = xp.inf
        inter = mean_other.min(axis=1)
        s = (inter - intra) / xp.maximum(xp.maximum(intra, inter), np.finfo(X.dtype).tiny)
        out.append(xp.where(own_size > 1, s, 0))
    return out[0] if len(out) == 1 else xp.concatenate(out)


def silhouette_score(X, labels):
    """Mean silhouette coefficient over all samples (see :func:`silhouette_samples`).

    Returns
    -------
    float in [-1, 1].

    Chapter: chapters/03-3-tasks.md.
    """
    return float(backend.to_numpy(silhouette_samples(X, labels).mean()))


# ---------------------------------------------------------------- retrieval
def _similarity(similarity, where, square):
    backend.check_backend(similarity, "similarity", where)
    if similarity.ndim != 2 or similarity.dtype.kind not in "fiu":
        raise ValueError(f"{where}: argument 'similarity' must be a 2-D numeric (queries, "
                         f"gallery) array, got shape {tuple(similarity.shape)} and dtype "
                         f"{similarity.dtype}")
    n, m = similarity.shape
    if n == 0 or (square and n != m):
        raise ValueError(f"{where}: argument 'similarity' must be square (row i matches "
                         f"column i) and non-empty, got shape {(n, m)}")
    return n, m


def _check_k(k, m, where):
    from .errors import check_count  # noqa: PLC0415 - keeps this module's imports light

    k = check_count(k, "k", where=where)
    if k > m:
        raise ValueError(f"{where}: argument 'k' must be at most the gallery size {m}, got {k}")
    return k


def recall_at_k(similarity, k):
    """Recall@k of paired retrieval: the share of queries whose match is in their top k.

    Row i of ``similarity (N, N)`` scores query i against every gallery item; its match
    is column i (the image and the recording of the same pair). Query i counts when its
    match is among the k largest entries of its row; with ties it counts when fewer than
    k entries are strictly larger:

        R@k = (1/N) sum_i [ #{j : S_ij > S_ii} < k ]

    (so a tie with the match is resolved in the match's favour, and R@k never depends on
    the order of the columns). Retrieval the other way round is ``recall_at_k(S.T, k)``.

    Returns a Python float in [0, 1]. Raises ``ValueError`` for a non-square or empty
    ``similarity``, ``k`` < 1 or ``k`` > N (``TypeError`` for a non-integer ``k``).

    Source: CLIP's and the retrieval literature's R@k (Radford et al. 2021).
    Chapter: chapters/05-future.md.
    """
    where = "recall_at_k"
    n, m = _similarity(similarity, where, square=True)
    k = _check_k(k, m, where)
    xp = backend.xp()
    diag = xp.diagonal(similarity)[:, None]  # (N, 1) score of each query's match
    rank = (similarity > diag).sum(axis=1)  # entries strictly above the match
    return float(backend.to_numpy((rank < k).mean()))


def precision_at_k(similarity, query_labels, gallery_labels, k):
    """Precision@k of class retrieval: the mean share of the top k items of the query's class.

        P@k = (1/N) sum_i (1/k) #{j in top_k(S_i) : gallery_labels[j] = query_labels[i]}

    ``similarity (N, M)``; ``query_labels (N,)``, ``gallery_labels (M,)``. The top k of a
    row are its k largest entries; ties are broken by the lower column index (a stable
    sort of -S_i). Returns a Python float in [0, 1].

    Chapter: chapters/05-future.md.
    """
    where = "precision_at_k"
    n, m = _similarity(similarity, where, square=False)
    k = _check_k(k, m, where)
    q = _labels(query_labels, "query_labels", where)
    g = _labels(gallery_labels, "gallery_labels", where)
    if q.shape[0] != n or g.shape[0] != m:
        raise ValueError(f"{where}: similarity has shape {(n, m)}, so query_labels needs {n} "
                         f"and gallery_labels {m} entries; got {q.shape[0]} and {g.shape[0]}")
    xp = backend.xp()
    top = xp.argsort(-similarity, axis=1, kind="stable")[:, :k]  # (N, k)
    return float(backend.to_numpy((g[top] == q[:, None]).mean()))
