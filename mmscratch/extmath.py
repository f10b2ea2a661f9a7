"""Shared numerical helpers: one home for the math several estimators need.

scikit-learn keeps these in ``sklearn/utils/extmath.py`` and ``validation.py``; here:

- :func:`svd_flip_rows`: deterministic SVD signs (PCA, TruncatedSVD, CCA...);
- :func:`randomized_range_finder`: Halko, Martinsson & Tropp's range finder (PCA's
  randomized solver, TruncatedSVD/LSA);
- :func:`host_rng`, :func:`legacy_random_state`, :func:`gaussian`: the host random
  generators every seeded estimator and initializer draws from, so one seed gives the
  same numbers on every backend (and, where scikit-learn draws with ``RandomState``, the
  same numbers as scikit-learn);
- :func:`column_sums`: ``a.sum(axis=0)`` of a tall matrix as one matrix-vector product
  (the bias gradients of every layer and fusion block);
- :func:`sha256_file`: the checksum of a file (data downloads, MNIST verification,
  the CLI's model fingerprint).

Every function takes arrays of any backend (it asks them for their module) and never
moves data between host and device except the explicit host draws of :func:`gaussian`.
Chapter: docs/ARCHITECTURE.md (shared math).
"""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

from . import backend

__all__ = ["svd_flip_rows", "randomized_range_finder", "host_rng", "legacy_random_state",
           "gaussian", "sha256_file", "column_sums"]


# ---------------------------------------------------------------- linear algebra
def column_sums(a):
    """Sum of the rows of a 2-D array, ``s[j] = sum_i a[i, j]``, as ``1^T a`` (a GEMV).

    Equal to ``a.sum(axis=0)`` up to rounding (both accumulate the rows in ``a.dtype``,
    neither pairwise). Why a product: NumPy reduces axis 0 of a C-ordered array one row at
    a time, a short inner loop per row; for the tall, narrow gradients of a layer's bias
    (``(N*H_o*W_o, F)`` with F = 16..64) that is 4-14x slower than the BLAS
    matrix-vector product over the same memory (benchmarks/RESULTS.md, "speed_notes").

    Parameters
    ----------
    a : array (M, F), float, any backend

    Returns
    -------
    s : array (F,), same dtype and backend
    """
    xp = backend.get_array_module(a)
    return xp.ones(a.shape[0], dtype=a.dtype) @ a


def svd_flip_rows(U, Vt):
    """Deterministic signs for an SVD: the largest-magnitude entry of each row of ``Vt`` > 0.

    This is ``sklearn.utils.extmath.svd_flip(U, Vt, u_based_decision=False)``, the
    convention scikit-learn's PCA (>= 1.5) and TruncatedSVD use, so components match it
    sign for sign.

    Parameters
    ----------
    U : array (n, k) or None
    Vt : array (k, d)

    Returns
    -------
    U, Vt : the same arrays with column j of ``U`` and row j of ``Vt`` multiplied by the
        same sign (so ``U S Vt`` is unchanged). A zero row keeps its sign.
    """
    xp = backend.get_array_module(Vt)
    rows = xp.arange(Vt.shape[0])
    pivot = Vt[rows, xp.argmax(xp.abs(Vt), axis=1)]  # (k,)
    signs = xp.where(pivot < 0, -1.0, 1.0).astype(Vt.dtype)
    Vt = Vt * signs[:, None]
    if U is not None:
        U = U * signs[None, :]
    return U, Vt


def _cholesky_orthonormalize(Y, xp):
    """Re-orthonormalise the columns of a tall ``Y (m, l)`` cheaply: ``Y L^{-T}``.

    ``Y^T Y = L L^T`` (Cholesky of the small Gram matrix, with a tiny diagonal shift so a
    rank-deficient Y still factorises). Power iterations only need the columns kept
    apart, not exactly orthonormal (scikit-learn uses an LU for the same purpose); this
    costs two (m, l) products instead of a Householder QR, several times slower on CPU.
    """
    G = Y.T @ Y  # (l, l)
    finfo = np.finfo(Y.dtype)
    shift = xp.trace(G) * (finfo.eps * Y.shape[1]) + finfo.tiny
    L = xp.linalg.cholesky(G + shift * xp.eye(G.shape[0], dtype=G.dtype))
    return Y @ xp.linalg.inv(L).T


def _normalize(Y, normalizer, xp):
    if normalizer == "QR":
        return xp.linalg.qr(Y)[0]
    if normalizer == "cholesky":
        return _cholesky_orthonormalize(Y, xp)
    return Y  # "none"


def randomized_range_finder(A, size, n_iter, random_state, *, normalizer="QR", At=None,
                            xp=None, dtype=None):
    """Orthonormal ``Q (n_rows, size)`` whose span approximates the range of ``A``.

    Halko, Martinsson & Tropp (2011), algorithm 4.4: with a Gaussian ``Omega (n_cols,
    size)``, ``Q = orth((A A^T)^q A Omega)``, the columns re-normalised after every
    product (``normalizer``: ``"QR"``, ``"cholesky"`` (cheap, see
    :func:`_cholesky_orthonormalize`) or ``"none"``), then one exact QR. The draw is
    :func:`gaussian` (scikit-learn's own matrix for an int seed).

    Parameters
    ----------
    A : array or sparse matrix (n_rows, n_cols)
    size : int
        Columns of Q (components + oversamples).
    n_iter : int
        Power iterations q.
    random_state : None, int, RandomState or Generator
    At : the transpose of A, when the caller has it in a faster layout (sparse CSR/CSC).
    xp : array module of A's buffers (default: ``backend.get_array_module(A)``).
    dtype : dtype of the draw (default: A's).
    """
    xp = backend.get_array_module(A) if xp is None else xp
    At = A.T if At is None else At
    omega = gaussian(random_state, (A.shape[1], size), dtype or A.dtype, xp)  # (n_cols, l)
    Q = omega
    for _ in range(n_iter):
        Q = _normalize(A @ Q, normalizer, xp)  # (n_rows, l)
        Q = _normalize(At @ Q, normalizer, xp)  # (n_cols, l)
    Q, _ = xp.linalg.qr(A @ Q)  # (n_rows, l): one exact QR for the final basis
    return Q


# ---------------------------------------------------------------- random numbers
def host_rng(random_state, argument="random_state"):
    """A host ``numpy.random.Generator`` from ``None``, an int or a Generator.

    Draws (initial weights, shuffles, k-means++ seeds, bootstrap samples) are made on
    the host, so one seed gives the same numbers on every backend. A ``SeedSequence`` or
    a sequence of ints is passed to ``numpy.random.default_rng`` too. Raises
    ``TypeError`` for a bool, a float or a string.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (bool, float, str, bytes)) or (
            isinstance(random_state, numbers.Number)
            and not isinstance(random_state, numbers.Integral)):
        raise TypeError(f"argument '{argument}' must be None, an int or a "
                        f"numpy.random.Generator, got {random_state!r}")
    return np.random.default_rng(random_state)


def legacy_random_state(random_state, argument="random_state"):
    """scikit-learn's ``check_random_state``: ``RandomState`` from ``None``/an int, a given
    ``RandomState`` or ``Generator`` as is (for draws that must equal scikit-learn's)."""
    if random_state is None or (isinstance(random_state, numbers.Integral)
                                and not isinstance(random_state, bool)):
        return np.random.RandomState(random_state)
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    raise TypeError(f"argument '{argument}' must be None, an int, a numpy RandomState or "
                    f"Generator, got {type(random_state).__name__}")


def gaussian(random_state, shape, dtype, xp=None):
    """A standard-normal ``shape`` matrix drawn on the host, then moved to ``xp``.

    An int seed (or None) draws with ``RandomState(seed).normal``, scikit-learn's own
    test matrix for its randomized SVDs; a ``Generator`` draws ``standard_normal``.
    ``xp`` defaults to the active backend.
    """
    rng = legacy_random_state(random_state)
    g = rng.standard_normal(shape) if isinstance(rng, np.random.Generator) \
        else rng.normal(size=shape)
    g = g.astype(dtype, copy=False)
    if xp is None:
        return backend.asarray(g)
    return g if xp is np else xp.asarray(g)


# ---------------------------------------------------------------- files
def sha256_file(path, chunk=1 << 20):
    """Hex SHA-256 of a file, read in ``chunk``-byte pieces (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
