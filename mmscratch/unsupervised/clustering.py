"""Multimodal clustering: per-modality features -> standardize -> PCA -> early fusion -> k-means.

The document (section 3.3.2) names clustering as the unsupervised multimodal task
and PCA as one of its tools. This module runs the simplest complete pipeline and
scores it against the true classes, so one can see whether fusing modalities helps:

    z_m = PCA_m(standardize(x_m)) / sqrt(tr Cov(PCA_m(.)))   for each modality m,
    z   = [z_1, z_2, ...]                                    (early fusion: concatenate),
    labels = KMeans(k).fit_predict(z),  scored by ARI and NMI.

Dividing each reduced block by the square root of its total variance gives every
modality the same weight in the squared distances k-means minimises, whatever its
number of features.

Chapter: chapters/03-3-tasks.md.
"""

from __future__ import annotations

import math

from .. import backend
from ..errors import check_count
from ..metrics import adjusted_rand_score, normalized_mutual_info_score
from ._common import check_data
from .kmeans import KMeans
from .pca import PCA

__all__ = ["standardize", "multimodal_clustering", "format_clustering_table"]


def standardize(X):
    """Zero mean, unit variance per column: ``(x - mean) / std`` (constant columns -> 0).

    Parameters
    ----------
    X : array (n, d) on the active backend

    Returns
    -------
    array (n, d), same dtype.

    Chapter: chapters/03-3-tasks.md.
    """
    xp = backend.xp()
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    # A constant column carries no information; dividing by 1 keeps it at 0, not NaN.
    return (X - mean[None, :]) / xp.where(std > 0, std, xp.ones_like(std))[None, :]


def _per_modality(value, name, default):
    if isinstance(value, dict):
        return value.get(name, default)
    return value


def _dense(X, name):
    """Backend dense array from a dense array or a sparse matrix (e.g. TF-IDF)."""
    if not backend.is_array(X) and hasattr(X, "toarray"):
        X = X.toarray()  # scipy.sparse -> numpy, cupyx.scipy.sparse -> cupy
        if backend.name() == "strict":
            X = backend.asarray(X)  # the strict backend keeps its sparse matrices in scipy
    return check_data(X, "multimodal_clustering", argument=f"features[{name!r}]")


def multimodal_clustering(features, labels, n_clusters=None, n_components=20,
                          random_state=0, *, standardize_features=True, n_init=10,
                          fuse=True):
    """Cluster each modality alone and all of them fused; ARI/NMI against ``labels``.

    Parameters
    ----------
    features : dict[str, array (n, d_m)]
        One feature matrix per modality, rows paired (row i of every matrix is the
        same example). Sparse matrices (TF-IDF) are densified.
    labels : array (n,)
        True classes, used only for scoring.
    n_clusters : int, optional
        Default: the number of distinct labels.
    n_components : int or dict[str, int]
        PCA dimension per modality (capped at ``min(n, d_m)``).
    random_state : int
        Seeds PCA (randomized solver) and k-means.
    standardize_features : bool or dict[str, bool]
        z-score the columns of a modality before its PCA.
    n_init : int
        k-means restarts.
    fuse : bool
        Also cluster the concatenation of all reduced, equally weighted modalities
        (only when there are at least two).

    Returns
    -------
    rows : list of dict
        One per row of the table, with the keys ``features`` (the name), ``n_features``
        (d), ``n_components`` (k), ``ari`` and ``nmi`` (floats); the fused row is named
        ``"fused (a + b)"``. :func:`format_clustering_table` renders it as Markdown.

    Chapter: chapters/03-3-tasks.md.
    """
    xp = backend.xp()
    if not isinstance(features, dict) or not features:
        raise ValueError("multimodal_clustering: 'features' must be a non-empty dict "
                         "{modality name: (n, d) array}")
    if isinstance(labels, (list, tuple)):
        labels = backend.asarray(labels)
    backend.check_backend(labels, "labels", "multimodal_clustering")
    n = labels.shape[0]
    if n_clusters is None:
        n_clusters = int(backend.to_numpy(xp.unique(labels)).size)
    n_clusters = check_count(n_clusters, "n_clusters", where="multimodal_clustering",
                             minimum=2)
    rows, blocks = [], []

    def score(name, d, k, Z):
        pred = KMeans(n_clusters, n_init=n_init, random_state=random_state).fit_predict(Z)
        rows.append({"features": name, "n_features": d, "n_components": k,
                     "ari": adjusted_rand_score(labels, pred),
                     "nmi": normalized_mutual_info_score(labels, pred)})

    for name, X in features.items():
        X = _dense(X, name)
        if X.shape[0] != n:
            raise ValueError(f"multimodal_clustering: features[{name!r}] has {X.shape[0]} "
                             f"rows but labels has {n}; modalities must be paired row by row")
        if _per_modality(standardize_features, name, True):
            X = standardize(X)
        k = min(int(_per_modality(n_components, name, 20)), *X.shape)
        Z = PCA(k, random_state=random_state).fit_transform(X)  # (n, k)
        score(name, X.shape[1], k, Z)
        total = float(backend.to_numpy(Z.var(axis=0).sum()))
        blocks.append(Z / math.sqrt(total) if total > 0 else Z)
    if fuse and len(features) > 1:
        Z = xp.concatenate(blocks, axis=1)
        score("fused (" + " + ".join(features) + ")", sum(r["n_features"] for r in rows),
              Z.shape[1], Z)
    return rows


def format_clustering_table(rows, title=None):
    """Markdown table of :func:`multimodal_clustering` rows (ARI and NMI to 3 decimals)."""
    lines = [f"**{title}**", ""] if title else []
    lines += ["| features | input dim | PCA dim | ARI | NMI |", "|---|---|---|---|---|"]
    lines += [f"| {r['features']} | {r['n_features']} | {r['n_components']} | "
              f"{r['ari']:.3f} | {r['nmi']:.3f} |" for r in rows]
    return "\n".join(lines)
