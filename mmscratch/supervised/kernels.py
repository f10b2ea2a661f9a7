"""Kernel functions of the support vector machines, computed as matrix products.

A kernel k(x, z) = <phi(x), phi(z)> is an inner product in a feature space that is never
built. The four kernels of libsvm (Chang & Lin, "LIBSVM: a library for support vector
machines", 2011, section 2) and scikit-learn's ``sklearn.metrics.pairwise``:

=========== ==========================================
``linear``  k(x, z) = x . z
``poly``    k(x, z) = (gamma x . z + coef0) ** degree
``rbf``     k(x, z) = exp(-gamma ||x - z||^2)
``sigmoid`` k(x, z) = tanh(gamma x . z + coef0)
=========== ==========================================

Every function takes ``X (n, d)`` and ``Z (m, d)`` (``Z=None`` means ``Z = X``) on the
active backend and returns the Gram matrix ``K (n, m)`` with ``K[i, j] = k(x_i, z_j)``:
one matrix product ``X Z^T`` for all pairs, never a Python loop over samples.

Chapter: chapters/05-future.md ("Support vector machines and the multimodal SVM").
"""

from __future__ import annotations

import numbers

from .. import backend
from ..distances import squared_euclidean

__all__ = ["KERNELS", "linear_kernel", "polynomial_kernel", "rbf_kernel", "sigmoid_kernel",
           "squared_euclidean", "self_squared_distances", "pairwise_kernel",
           "resolve_gamma"]

#: Kernel names accepted by :class:`mmscratch.supervised.SVC` (besides ``"precomputed"``).
KERNELS = ("linear", "poly", "rbf", "sigmoid")


def _pair(X, Z):
    return X, (X if Z is None else Z)


def linear_kernel(X, Z=None):
    """``K = X Z^T``: k(x, z) = x . z. Shapes (n, d), (m, d) -> (n, m)."""
    X, Z = _pair(X, Z)
    return X @ Z.T


def polynomial_kernel(X, Z=None, degree=3, gamma=1.0, coef0=0.0):
    """``K = (gamma X Z^T + coef0) ** degree``. Shapes (n, d), (m, d) -> (n, m)."""
    X, Z = _pair(X, Z)
    return (gamma * (X @ Z.T) + coef0) ** degree


#: Largest n * n for which the self-kernel K(X, X) is computed as one symmetric product.
SELF_GRAM_ELEMENTS = 1 << 26


def self_squared_distances(X):
    """Fast path of ``mmscratch.distances.squared_euclidean(X)`` for ``n * n <=
    SELF_GRAM_ELEMENTS``: the same centring on the mean and float64 arithmetic, but the
    cross terms as one product ``X_c X_c^T`` of an array with its own transpose, which
    NumPy hands to BLAS as a symmetric rank-k update (``syrk``: half the flops of a
    general product; ~1.8x faster for 5,000 MNIST images). ``||x_i||^2`` is read off the
    diagonal of the same product. (n, d) -> (n, n) float64, >= 0, zero diagonal.
    Agreement with the block version: ``tests/test_svm.py``.
    """
    xp = backend.xp()
    Xc = X.astype(xp.float64)
    Xc = Xc - Xc.mean(axis=0)[None, :]  # (n, d)
    D = Xc @ Xc.T  # (n, n), symmetric
    sq = xp.diagonal(D).copy()  # (n,) = ||x_i - mean||^2
    # in place: a fresh n x n temporary per step costs more (page faults) than the math
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :]
    xp.maximum(D, 0.0, out=D)
    idx = xp.arange(X.shape[0])
    D[idx, idx] = 0.0
    return D


def rbf_kernel(X, Z=None, gamma=1.0):
    """``K = exp(-gamma ||x_i - z_j||^2)`` (Gaussian kernel). (n, d), (m, d) -> (n, m).

    The squared distances come from :func:`mmscratch.distances.squared_euclidean`: the
    expansion ``||x||^2 + ||z||^2 - 2 x . z`` (one matrix product) after centring on a
    common offset and in float64 blocks, so float32 data far from the origin keeps its
    small distances (the plain expansion would cancel them away); the diagonal of
    ``K(X, X)`` is exactly 1. ``K(X, X)`` of moderate size takes the symmetric fast path
    :func:`self_squared_distances`.
    """
    if Z is None and X.shape[0] * X.shape[0] <= SELF_GRAM_ELEMENTS:
        D = self_squared_distances(X)
    else:
        D = squared_euclidean(X, Z)
    D *= -gamma  # D is ours: exponentiate in place
    return backend.xp().exp(D, out=D)


def sigmoid_kernel(X, Z=None, gamma=1.0, coef0=0.0):
    """``K = tanh(gamma X Z^T + coef0)``. Shapes (n, d), (m, d) -> (n, m)."""
    X, Z = _pair(X, Z)
    return backend.xp().tanh(gamma * (X @ Z.T) + coef0)


def pairwise_kernel(X, Z, kernel, *, gamma=1.0, degree=3, coef0=0.0):
    """The Gram matrix of one of :data:`KERNELS` with numeric ``gamma`` (already resolved).

    Shapes ``X (n, d)``, ``Z (m, d)`` or None -> ``(n, m)``.
    """
    if kernel == "linear":
        return linear_kernel(X, Z)
    if kernel == "poly":
        return polynomial_kernel(X, Z, degree=degree, gamma=gamma, coef0=coef0)
    if kernel == "rbf":
        return rbf_kernel(X, Z, gamma=gamma)
    if kernel == "sigmoid":
        return sigmoid_kernel(X, Z, gamma=gamma, coef0=coef0)
    raise ValueError(f"pairwise_kernel: argument 'kernel' must be one of {KERNELS}, "
                     f"got {kernel!r}")


def resolve_gamma(gamma, X, where=""):
    """scikit-learn's rule for ``gamma``: a positive float, or

    * ``"scale"``: ``1 / (n_features * X.var())`` (the variance over all entries of X;
      1.0 when X is constant),
    * ``"auto"``: ``1 / n_features``.

    Returns a Python float. Raises ``ValueError`` naming ``gamma`` otherwise.
    """
    p = f"{where}: " if where else ""
    if isinstance(gamma, str):
        if gamma == "scale":
            var = float(backend.to_numpy(X.var()))
            return 1.0 / (X.shape[1] * var) if var != 0.0 else 1.0
        if gamma == "auto":
            return 1.0 / X.shape[1]
        raise ValueError(f"{p}argument 'gamma' must be 'scale', 'auto' or a positive "
                         f"float, got {gamma!r}")
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma > 0:
        raise ValueError(f"{p}argument 'gamma' must be 'scale', 'auto' or a positive "
                         f"float, got {gamma!r}")
    return float(gamma)
