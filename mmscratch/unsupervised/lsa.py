r"""Latent semantic analysis (LSA): a truncated SVD of a (sparse) document-term matrix.

The document (section 2) names latent semantic analysis among the unsupervised methods
of multimodal learning. LSA factorises the ``(N, V)`` TF-IDF (or count) matrix X as

.. math::  X \approx U_k \Sigma_k V_k^T,

keeps the k largest singular values, and represents each document by
:math:`z = x V_k` (``(N, k)``): documents that use related words land close together
even when they share few exact words. Unlike PCA the matrix is **not** centred, so it
stays sparse.

This is scikit-learn's ``TruncatedSVD(algorithm="randomized")``, i.e. the randomized
range finder of Halko, Martinsson & Tropp (2011, algorithm 4.4) as written in
``sklearn.utils.extmath.randomized_svd``:

1. draw a Gaussian ``Omega (V, k + p)`` (``p = n_oversamples``) on the host with
   ``numpy.random.RandomState(random_state)``, the same draw scikit-learn makes;
2. ``n_iter`` power iterations ``Q <- orth(X Q)``, ``Q <- orth(X^T Q)`` so that the top
   singular directions dominate;
3. ``Q = orth(X Q)`` (QR), ``B = Q^T X`` (small), exact SVD of B, ``U = Q U_B``.

Chapter: chapters/03-3-tasks.md (LSA for text clustering).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..base import BaseEstimator, TransformerMixin, check_n_features, check_sparse
from ..errors import check_count
from ..extmath import randomized_range_finder, svd_flip_rows
from ._common import check_data

__all__ = ["TruncatedSVD"]

_NORMALIZERS = ("auto", "QR", "none")


class TruncatedSVD(TransformerMixin, BaseEstimator):
    r"""LSA: the k-term truncated SVD ``X ~ U_k S_k V_k^T`` of a sparse or dense matrix.

    Parameter names and defaults are scikit-learn's.

    Parameters
    ----------
    n_components : int, default 2
        k, the number of latent dimensions (< number of features).
    algorithm : "randomized"
        The only algorithm (scikit-learn's default); "arpack" is not implemented.
    n_iter : int, default 5
        Power iterations of the range finder.
    n_oversamples : int, default 10
        Extra random directions p; the range finder works with k + p columns.
    power_iteration_normalizer : "auto", "QR" or "none"
        Re-orthonormalise between power iterations ("auto" = QR when ``n_iter > 2``).
        scikit-learn's "auto" uses an LU factor instead; LU and QR span the same
        subspace, so the results agree to rounding (checked in tests/test_lsa.py).
    random_state : None, int or numpy RandomState
        Seeds the host Gaussian draw; an int gives scikit-learn's exact draw.

    Attributes
    ----------
    components_ : (k, V) array, the rows of :math:`V_k^T`
    singular_values_ : (k,) array, :math:`\sigma_1 \ge \dots \ge \sigma_k`
    explained_variance_ : (k,) array, variance of each column of ``z = X V_k``
    explained_variance_ratio_ : (k,) array, ``explained_variance_ / total variance of X``

    All attributes are arrays of the active backend. Input: a CSR/CSC matrix of
    ``backend.sparse()`` (SciPy on the CPU backends, cupyx on cupy) or a dense backend
    array, shape ``(N, V)``. Output of ``transform``: dense ``(N, k)`` backend array.

    Notes
    -----
    Signs follow scikit-learn (largest-magnitude entry of each component positive).
    Chapter: chapters/03-3-tasks.md.
    """

    def __init__(self, n_components=2, *, algorithm="randomized", n_iter=5, n_oversamples=10,
                 power_iteration_normalizer="auto", random_state=None):
        self.n_components = n_components
        self.algorithm = algorithm
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------ input
    def _prepare(self, X, where):
        """Return (X, m): X checked, and the array module its buffers live in."""
        if backend.is_sparse(X):
            X = check_sparse(X, where)
            m = backend.get_array_module(X.data)
            if X.dtype.kind != "f":
                X = X.astype(np.float64)
            return X, m
        # dense: the same checks (rank, dtype, empty, NaN/inf) and messages as PCA/KMeans
        return check_data(X, where), backend.xp()

    def _to(self, a, m):
        """An attribute (active backend array) in module m's arrays."""
        return backend.to_numpy(a) if m is np else a

    def _from(self, a, m):
        """Module-m array -> active backend array."""
        return backend.asarray(a) if m is np else a

    # ------------------------------------------------------------ fitting
    def fit_transform(self, X, y=None):
        r"""Fit to X and return ``z = X V_k``, shape ``(N, k)``.

        Parameters
        ----------
        X : (N, V) sparse matrix of ``backend.sparse()`` or dense backend array

        Returns
        -------
        Z : (N, k) dense array of the active backend
        """
        where = "TruncatedSVD.fit"
        if self.algorithm != "randomized":
            raise ValueError(f"{where}: algorithm must be 'randomized' (the only one "
                             f"implemented), got {self.algorithm!r}")
        if self.power_iteration_normalizer not in _NORMALIZERS:
            raise ValueError(f"{where}: power_iteration_normalizer must be one of "
                             f"{_NORMALIZERS}, got {self.power_iteration_normalizer!r}")
        X, m = self._prepare(X, where)
        n_samples, n_features = X.shape
        k = check_count(self.n_components, "n_components", where=where)
        if k > n_features:
            raise ValueError(f"{where}: n_components must be an int in [1, n_features="
                             f"{n_features}], got {k!r}")
        if n_features < 2:
            raise ValueError(f"{where}: X needs at least 2 features, got n_features={n_features}")
        n_iter = check_count(self.n_iter, "n_iter", where=where, minimum=0)
        normalizer = self.power_iteration_normalizer
        if normalizer == "auto":
            normalizer = "none" if n_iter <= 2 else "QR"
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        size = k + check_count(self.n_oversamples, "n_oversamples", where=where, minimum=0)

        # scikit-learn's transpose="auto": work on X^T when there are more columns
        # than rows (cheaper range finder); the factors swap back at the end.
        transpose = n_samples < n_features
        A = X.T if transpose else X
        At = X if transpose else X.T
        Q = randomized_range_finder(A, size, n_iter, self.random_state, normalizer=normalizer,
                                    At=At, xp=m, dtype=dtype)
        B = (At @ Q).T  # (size, n_cols(A)) = Q^T A, written so sparse @ dense is used
        Uhat, s, Vt = m.linalg.svd(B, full_matrices=False)
        U = Q @ Uhat
        if transpose:
            U, Vt = Vt[:k].T, U[:, :k].T
        else:
            U, Vt = U[:, :k], Vt[:k]
        s = s[:k]
        U, Vt = svd_flip_rows(U, Vt)

        Z = X @ Vt.T  # (N, k): as scikit-learn, the projection, not U S
        Z = m.asarray(Z)
        self.components_ = self._from(Vt, m)
        self.singular_values_ = self._from(s, m)
        exp_var = m.var(Z, axis=0)
        self.explained_variance_ = self._from(exp_var, m)
        self.explained_variance_ratio_ = self._from(exp_var / self._total_variance(X, m), m)
        self.n_features_in_ = n_features
        return self._from(Z, m)

    @staticmethod
    def _total_variance(X, m):
        """Sum of the column variances of X (without densifying a sparse X)."""
        if not backend.is_sparse(X):
            return m.var(X, axis=0).sum()
        n = X.shape[0]
        mean = m.bincount(X.indices, weights=X.data, minlength=X.shape[1]) / n
        nnz = m.bincount(X.indices, minlength=X.shape[1])
        # sum over stored entries of (x - mean)^2, plus (n - nnz) implicit zeros at mean^2
        dev = m.bincount(X.indices, weights=(X.data - mean[X.indices]) ** 2,
                         minlength=X.shape[1])
        return ((dev + (n - nnz) * mean ** 2) / n).sum()

    def fit(self, X, y=None):
        """Fit the model on X ``(N, V)``. Returns self."""
        self.fit_transform(X)
        return self

    def transform(self, X):
        """Project ``X (N, V)`` on the components: ``z = X V_k``, shape ``(N, k)``."""
        self._check_is_fitted("components_")
        X, m = self._prepare(X, "TruncatedSVD.transform")
        check_n_features(self, X, "TruncatedSVD.transform")
        comps = self._to(self.components_, m)
        return self._from(m.asarray(X @ comps.T), m)

    def inverse_transform(self, Z):
        """Back to feature space: ``X_hat = z V_k^T``, ``(N, k) -> (N, V)`` (dense)."""
        self._check_is_fitted("components_")
        backend.check_backend(Z, "Z", "TruncatedSVD.inverse_transform")
        return Z @ self.components_
