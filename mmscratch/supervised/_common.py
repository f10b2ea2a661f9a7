"""Shared pieces of the classical learners: labels, sample weights, sparse input, log-sum-exp.

Everything here runs on the active backend (``backend.xp()``); sparse matrices live in
``backend.sparse()`` (``scipy.sparse`` with host buffers on the CPU backends,
``cupyx.scipy.sparse`` on CuPy), as the text vectorizers produce them.

Chapter: chapters/03-4-classical.md.
"""

from __future__ import annotations

from .. import backend
from ..base import as_backend_array, check_discrete_labels, check_n_features, check_X
from ..base import check_sparse as _base_check_sparse


# ------------------------------------------------------------------ labels
def encode_labels(y, where, classes=None):
    """Class labels ``classes_`` (sorted, as given) and each sample's class index.

    ``y`` is a 1-D backend array of labels (numbers, or strings on the CPU backends).
    With ``classes`` (``partial_fit``'s first call) the label set is fixed up front and
    every label of ``y`` must be one of them.

    Returns ``(classes_ (K,), y_idx (N,) int)``.

    Raises ``ValueError`` when ``y`` holds a single class (and ``classes`` is not given)
    or a label outside ``classes``.
    """
    xp = backend.xp()
    check_discrete_labels(y, where)
    if classes is None:
        classes_, y_idx = xp.unique(y, return_inverse=True)
        if classes_.shape[0] < 2:
            raise ValueError(f"{where}: y holds a single class (1 class, label "
                             f"{_first(classes_)!r}); a classifier needs at least 2 classes")
        return classes_, y_idx.reshape(-1)
    classes_ = classes
    y_idx = xp.searchsorted(classes_, y)
    known = classes_[xp.clip(y_idx, 0, classes_.shape[0] - 1)] == y
    if not bool(backend.to_numpy(known.all())):
        bad = backend.to_numpy(xp.unique(y[~known]))[:5].tolist()
        raise ValueError(f"{where}: y holds labels {bad} that are not in classes "
                         f"{backend.to_numpy(classes_).tolist()}")
    return classes_, y_idx


def check_classes(classes, where):
    """``partial_fit``'s ``classes=`` argument: 1-D, unique labels, at least 2 of them."""
    xp = backend.xp()
    classes = as_backend_array(classes, "classes", where)
    if classes.ndim != 1:
        raise ValueError(f"{where}: argument 'classes' must be 1-D, got shape "
                         f"{tuple(classes.shape)}")
    uniq = xp.unique(classes)
    if uniq.shape[0] != classes.shape[0]:
        raise ValueError(f"{where}: argument 'classes' holds repeated labels")
    if uniq.shape[0] < 2:
        raise ValueError(f"{where}: argument 'classes' must hold at least 2 labels, got "
                         f"{uniq.shape[0]}")
    return uniq


def _first(a):
    return backend.to_numpy(a)[:1].tolist()[0]


def one_hot(y_idx, n_classes, dtype=None):
    """``(N,)`` class indices -> ``(N, K)`` indicator matrix (float64 unless ``dtype``)."""
    xp = backend.xp()
    return (y_idx[:, None] == xp.arange(n_classes)[None, :]).astype(dtype or xp.float64)


def check_sample_weight(sample_weight, n_samples, where):
    """``None`` -> ``None``; else a finite, non-negative float64 ``(N,)`` backend array."""
    if sample_weight is None:
        return None
    xp = backend.xp()
    w = as_backend_array(sample_weight, "sample_weight", where)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(f"{where}: argument 'sample_weight' must have shape ({n_samples},), "
                         f"got {tuple(w.shape)}")
    if w.dtype.kind not in "fiub":
        raise ValueError(f"{where}: argument 'sample_weight' must be numeric, got {w.dtype}")
    w = w.astype(xp.float64)
    if not bool(backend.to_numpy((xp.isfinite(w) & (w >= 0)).all())):
        raise ValueError(f"{where}: argument 'sample_weight' must be finite and >= 0")
    if n_samples and not bool(backend.to_numpy((w > 0).any())):
        raise ValueError(f"{where}: argument 'sample_weight' is zero for every sample; "
                         "at least one weight must be positive")
    return w


# ------------------------------------------------------------------ log-sum-exp
def logsumexp(a, axis=-1):
    """``log sum_j exp(a_j)`` along ``axis``, shifted by the maximum so nothing
    overflows (the largest term becomes ``exp(0) = 1``). Rows that are all ``-inf``
    give ``-inf``, as ``scipy.special.logsumexp``."""
    xp = backend.xp()
    m = a.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    out = xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out.squeeze(axis)


# ------------------------------------------------------------------ sparse input
#: One home for these checks: ``backend.is_sparse`` and ``base.check_sparse``.
is_sparse = backend.is_sparse


def check_sparse(X, where, argument="X"):
    """A finite CSR matrix of the active backend's sparse module, float64
    (:func:`mmscratch.base.check_sparse`, then cast to float64).

    Raises :class:`backend.BackendError` for a SciPy matrix on the cupy backend (or a
    cupyx one on a CPU backend): host/device copies are the caller's decision.
    """
    X = _base_check_sparse(X, where, argument)
    return X.astype(backend.get_array_module(X.data).float64)


def sparse_min(X):
    """Smallest stored value of a sparse matrix (0 when it has no stored entries)."""
    if X.nnz == 0:
        return 0.0
    return float(backend.to_numpy(X.data.min()))


def sparse_dot(X, W):
    """``X @ W`` for a sparse ``X (N, D)`` and a dense backend ``W (D, K)`` -> backend
    ``(N, K)``. On the CPU backends SciPy multiplies host buffers; on CuPy cuSPARSE."""
    if backend.name() == "cupy":
        return X @ W
    return backend.asarray(X @ backend.to_numpy(W))


def sparse_t_dot(X, Y):
    """``X^T @ Y`` for a sparse ``X (N, D)`` and a dense backend ``Y (N, K)`` -> ``(D, K)``."""
    if backend.name() == "cupy":
        return X.T @ Y
    return backend.asarray(X.T @ backend.to_numpy(Y))


def check_tree_input(estimator, X):
    """``X`` for a fitted tree model's prediction: fitted check, a finite 2-D matrix of
    the fitted width (scikit-learn's message), rounded to float32 as the trees saw it."""
    estimator._check_is_fitted()
    X = check_n_features(estimator, check_X(X, estimator._where()))
    return X.astype(backend.xp().float32)


class ProbabilisticClassifierMixin:
    """``predict`` and ``predict_log_proba`` from a classifier's ``predict_proba``.

    predict(X) = classes_[argmax_k p_k(X)];  log p with ``-inf`` where p = 0 (a class the
    model gives no chance: a leaf without it, or no tree voting for it).
    """

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, ``-inf`` where the probability is 0: ``(N, K)``."""
        xp = backend.xp()
        p = self.predict_proba(X)
        return xp.where(p > 0, xp.log(xp.where(p > 0, p, 1.0)), -xp.inf)

    def predict(self, X):
        """The most probable class of each sample, as a label of ``classes_``: ``(N,)``."""
        self._check_is_fitted()
        return self.classes_[backend.xp().argmax(self.predict_proba(X), axis=1)]
