"""Principal component analysis (PCA) from scratch, with scikit-learn's names and behaviour.

The document (section 3.3.2) lists dimensionality reduction with PCA among the
unsupervised tasks of multimodal learning. PCA finds the orthonormal directions
``w_1, ..., w_k`` of largest variance of the centred data:

    X_c = X - mean(X),   X_c = U S V^T (thin SVD),   components_ = first k rows of V^T,
    explained_variance_j = s_j^2 / (n - 1),   z = (x - mean) V_k.

Chapter: chapters/03-3-tasks.md.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..base import BaseEstimator, TransformerMixin, check_n_features
from ..errors import InvalidParameterError, check_count
from ..extmath import randomized_range_finder, svd_flip_rows
from ._common import check_data

__all__ = ["PCA", "svd_flip_rows"]

_SOLVERS = ("auto", "full", "covariance_eigh", "randomized")


class PCA(TransformerMixin, BaseEstimator):
    """Principal component analysis (scikit-learn's ``PCA`` for dense data).

    Centres the data, factorises it with an SVD and keeps the ``k`` directions of
    largest variance:

    .. math::

        X - \\bar{x} = U S V^T, \\qquad
        \\lambda_j = s_j^2 / (n - 1), \\qquad
        z = (x - \\bar{x}) V_k \\; (\\text{divided by } \\sqrt{\\lambda} \\text{ if whiten}).

    Parameters
    ----------
    n_components : int, float in (0, 1) or None
        int: number of components (1 <= k <= min(n_samples, n_features)).
        float in (0, 1): the smallest k whose cumulative explained variance ratio
        exceeds it (needs the full spectrum: solver "full" or "covariance_eigh").
        None: min(n_samples, n_features).
    whiten : bool
        Scale the projections to unit variance (``z / sqrt(explained_variance_)``).
    svd_solver : {"auto", "full", "covariance_eigh", "randomized"}
        "full": LAPACK thin SVD of the centred data. "covariance_eigh": eigen-
        decomposition of the ``(d, d)`` covariance (fast when n >> d). "randomized":
        Halko et al. range finder with ``iterated_power`` QR-normalised power
        iterations and ``n_oversamples`` extra columns. "auto" picks as
        scikit-learn 1.5+ does: covariance_eigh if d <= 1000 and n >= 10 d; else
        full if max(n, d) <= 500; else randomized if k < 0.8 min(n, d); else full.
    iterated_power : int or "auto"
        Power iterations of the randomized solver ("auto": 7 if k < 0.1 min(n, d), else 4).
    n_oversamples : int
        Extra random directions of the randomized solver.
    random_state : int, numpy Generator or None
        Seeds the randomized solver's Gaussian test matrix; an int draws the same
        matrix as scikit-learn (``RandomState(seed).normal``).

    Attributes
    ----------
    components_ : array (k, d)
        Principal axes (rows of V^T), sign-fixed with :func:`svd_flip_rows`.
    explained_variance_ : array (k,)
        ``s_j^2 / (n - 1)``, the variance along each axis.
    explained_variance_ratio_ : array (k,)
        ``explained_variance_ / total variance`` (0 for all-constant data).
    singular_values_ : array (k,)
    mean_ : array (d,)
    n_components_ : int
    noise_variance_ : 0-d array
        Mean of the discarded eigenvalues (probabilistic-PCA noise, 0 if none dropped).
    n_samples_, n_features_in_ : int

    Notes
    -----
    Shapes: ``fit(X (n, d))``, ``transform -> (n, k)``, ``inverse_transform -> (n, d)``.
    Integer input is cast to float64; float32 input is computed in float32.
    Chapter: chapters/03-3-tasks.md.
    """

    def __init__(self, n_components=None, *, whiten=False, svd_solver="auto",
                 iterated_power="auto", n_oversamples=10, random_state=None):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _resolve(self, n_samples, n_features):
        """Check n_components and pick the solver; returns (k or fraction, solver)."""
        where = self._where()
        if self.svd_solver not in _SOLVERS:
            raise ValueError(f"{where}: svd_solver must be one of {_SOLVERS}, "
                             f"got {self.svd_solver!r}")
        if n_samples < 2:
            raise ValueError(f"{where}: needs at least 2 samples to estimate a variance, "
                             f"got n_samples={n_samples}")
        limit = min(n_samples, n_features)
        k = self.n_components
        if k is None:
            k = limit
        elif isinstance(k, numbers.Real) and not isinstance(k, (bool, numbers.Integral)):
            # A float is a fraction of the variance (scikit-learn's rule); 3.0 is not a count.
            if not 0 < float(k) < 1:
                hint = (f" (write {int(k)} for {int(k)} components)"
                        if float(k).is_integer() else "")
                raise InvalidParameterError(
                    f"{where}: a float n_components is a fraction of the variance and must "
                    f"lie in (0, 1), got {k!r}{hint}")
        else:
            k = check_count(k, "n_components", where=where, minimum=0)
            if not 1 <= k <= limit:
                raise ValueError(
                    f"{where}: n_components={k} must be between 1 and "
                    f"min(n_samples, n_features)={limit} (X has shape "
                    f"({n_samples}, {n_features}))")
        check_count(self.n_oversamples, "n_oversamples", where=where, minimum=0)
        if self.iterated_power != "auto":
            check_count(self.iterated_power, "iterated_power", where=where, minimum=0)
        solver = self.svd_solver
        if solver == "auto":
            if n_features <= 1000 and n_samples >= 10 * n_features:
                solver = "covariance_eigh"
            elif max(n_samples, n_features) <= 500:
                solver = "full"
            elif isinstance(k, int) and k < 0.8 * limit:
                solver = "randomized"
            else:
                solver = "full"
        if solver == "randomized" and not isinstance(k, int):
            raise ValueError(f"{where}: svd_solver='randomized' needs an int n_components "
                             f"(the variance fraction needs the full spectrum), got {k!r}")
        return k, solver

    def fit(self, X, y=None):
        """Fit the principal axes on ``X (n_samples, n_features)``; returns ``self``."""
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit and return the projections ``(n_samples, n_components_)`` (``U_k S_k``)."""
        U, X = self._fit(X)
        if U is None:
            return self._project(X)
        U = U[:, : self.n_components_]
        if self.whiten:
            return U * math.sqrt(X.shape[0] - 1)
        return U * self.singular_values_[None, :]

    def _fit(self, X):
        xp = backend.xp()
        X = check_data(X, self._where())
        n, d = X.shape
        k, solver = self._resolve(n, d)
        self.mean_ = X.mean(axis=0)  # (d,)
        limit = min(n, d)
        U = None
        if solver == "full":
            Xc = X - self.mean_[None, :]
            U, S, Vt = xp.linalg.svd(Xc, full_matrices=False)
            U, Vt = svd_flip_rows(U, Vt)
            ev = S**2 / (n - 1)
            total = ev.sum()
        elif solver == "covariance_eigh":
            # Centred Gram matrix, a block of rows at a time (no full centred copy of X).
            # Not X^T X - n mean mean^T: that difference cancels for data far from
            # the origin (the same trap as ||x||^2 - 2 x.c + ||c||^2, mmscratch.distances).
            C = _centred_gram(X, self.mean_)  # (d, d)
            C /= n - 1
            w, V = xp.linalg.eigh(C)
            ev = xp.maximum(w[::-1], 0)  # eigh is ascending; round-off can go < 0
            Vt = xp.ascontiguousarray(V[:, ::-1].T)
            _, Vt = svd_flip_rows(None, Vt)
            S = xp.sqrt(ev * (n - 1))
            total = ev.sum()
        else:
            Xc = X - self.mean_[None, :]
            U, S, Vt = _randomized_svd(Xc, k, self.n_oversamples, self.iterated_power,
                                       self.random_state)
            U, Vt = svd_flip_rows(U, Vt)
            ev = S**2 / (n - 1)
            total = (Xc * Xc).sum() / (n - 1)
        # All-constant data has zero total variance: report ratio 0, not NaN.
        ratio = ev / xp.where(total > 0, total, xp.ones_like(total))
        if not isinstance(k, int):
            # Smallest k with cumulative ratio > fraction (scikit-learn's side="right").
            cum = backend.to_numpy(xp.cumsum(ratio))
            k = min(int(np.searchsorted(cum, float(k), side="right")) + 1, limit)
        if k < limit:
            if solver == "randomized":
                self.noise_variance_ = (total - ev.sum()) / (limit - k)
            else:
                self.noise_variance_ = ev[k:].mean()
        else:
            self.noise_variance_ = xp.zeros((), dtype=X.dtype)
        self.n_samples_, self.n_features_in_ = n, d
        self.n_components_ = k
        self.svd_solver_ = solver
        self.components_ = xp.ascontiguousarray(Vt[:k])  # (k, d)
        self.explained_variance_ = ev[:k].copy()
        self.explained_variance_ratio_ = ratio[:k].copy()
        self.singular_values_ = S[:k].copy()
        return U, X

    # --------------------------------------------------------------- projecting
    def _check_fitted(self):
        self._check_is_fitted("components_")

    def _project(self, X):
        # (X - mean) W^T, not X W^T - mean W^T: the difference of two large products
        # cancels for data far from the origin.
        Z = (X - self.mean_[None, :]) @ self.components_.T  # (n, k)
        if self.whiten:
            xp = backend.xp()
            scale = xp.sqrt(self.explained_variance_)
            # Rank-deficient data: a zero-variance axis would divide by zero.
            scale = xp.maximum(scale, np.finfo(scale.dtype).eps)
            Z = Z / scale[None, :]
        return Z

    def transform(self, X):
        """Project ``X (n, d)`` onto the principal axes: ``(X - mean_) components_^T`` -> (n, k)."""
        self._check_fitted()
        X = check_data(X, self._where())
        check_n_features(self, X)
        return self._project(X)

    def inverse_transform(self, Z):
        """Map projections ``Z (n, k)`` back to data space: ``Z components_ + mean_`` -> (n, d)."""
        self._check_fitted()
        Z = check_data(Z, self._where(), argument="Z")
        if Z.shape[1] != self.n_components_:
            raise ValueError(f"{self._where()}: Z must have {self.n_components_} columns, "
                             f"got shape {tuple(Z.shape)}")
        W = self.components_
        if self.whiten:
            W = backend.xp().sqrt(self.explained_variance_)[:, None] * W
        return Z @ W + self.mean_[None, :]


def _randomized_svd(M, k, n_oversamples, n_iter, random_state):
    """Rank-``k`` SVD of ``M (n, d)`` by a randomized range finder (Halko et al. 2011).

    ``Q = orth((M M^T)^q M G)`` with ``G (d, k + p)`` Gaussian, the columns
    re-orthonormalised after every product (stable power iterations), then the exact
    SVD of the small ``Q^T M``. Works on the transpose when n < d, like scikit-learn.
    """
    xp = backend.xp()
    transpose = M.shape[0] < M.shape[1]
    if transpose:
        M = M.T
    size = k + n_oversamples
    if n_iter == "auto":
        n_iter = 7 if k < 0.1 * min(M.shape) else 4
    Q = randomized_range_finder(M, size, n_iter, random_state, normalizer="cholesky",
                                xp=xp)  # (n, k+p)
    B = (M.T @ Q).T  # (k+p, d); OpenBLAS is slow on the (small, n) @ (n, d) form
    Uh, S, Vt = xp.linalg.svd(B, full_matrices=False)
    U = Q @ Uh
    if transpose:
        return xp.ascontiguousarray(Vt[:k].T), S[:k], xp.ascontiguousarray(U[:, :k].T)
    return U[:, :k], S[:k], Vt[:k]


def _centred_gram(X, mean, block_rows=4096):
    """``sum_i (x_i - mean)(x_i - mean)^T`` -> (d, d), centring one block of rows at a time."""
    C = None
    for a in range(0, X.shape[0], block_rows):
        B = X[a:a + block_rows] - mean[None, :]  # (rows, d)
        C = B.T @ B if C is None else C + B.T @ B
    return C
