"""Accurate squared Euclidean distances: the one helper every distance in mmscratch uses.

The fast way to get all squared distances between the rows of ``X (n, d)`` and
``Y (m, d)`` is the expansion

    ||x_i - y_j||^2 = ||x_i||^2 - 2 x_i . y_j + ||y_j||^2,

one matrix product for all the cross terms. It is also a textbook case of
catastrophic cancellation: when the points sit far from the origin, the three
terms are huge and nearly cancel. Three Gaussian blobs of spread ~1 shifted by
1e4 have ``||x||^2 ~ 2e8``; float32 keeps about 7 digits, so every distance is
wrong by tens of units (scikit-learn issue #9354, fixed there in 0.22 by
upcasting float32 blocks to float64). This module does two things before the
expansion, both of which leave the exact distances unchanged:

1. **Centre on a common offset.** ``||x - y|| = ||(x - o) - (y - o)||`` for
   any ``o``; with ``o`` the mean of ``Y``, the norms in the expansion are of the
   size of the data's spread, not of its distance from the origin.
2. **Accumulate in float64.** float32 (and integer) inputs are cast to float64 a
   block of rows at a time (the memory cost stays bounded), the expansion is
   computed there, and the result is cast back to the input's float dtype. This
   is scikit-learn's ``_euclidean_distances_upcast``.

The result is clipped at 0 (round-off can leave tiny negatives) and, when
``Y`` is ``X``, the diagonal is exactly 0.

Chapter: chapters/03-3-tasks.md (k-means); also used by the silhouette
coefficient, kernels and nearest-neighbour searches.
"""

from __future__ import annotations

from . import backend

__all__ = ["squared_euclidean", "euclidean", "nearest"]

# Elements (rows x columns) of one float64 working block; bounds memory for big inputs.
_BLOCK_ELEMENTS = 1 << 22


def _row_chunks(n_rows, n_cols):
    step = max(1, _BLOCK_ELEMENTS // max(1, n_cols))
    return [(s, min(n_rows, s + step)) for s in range(0, n_rows, step)]


def _prepare(X, Y, where):
    """Validate, pick the output dtype and the centred float64 copy of ``Y``."""
    xp = backend.get_array_module(X) if Y is None else backend.get_array_module(X, Y)
    same = Y is None
    if same:
        Y = X
    for name, a in (("X", X), ("Y", Y)):
        if a.ndim != 2:
            raise ValueError(f"{where}: argument '{name}' must be 2-D (n_samples, n_features), "
                             f"got shape {tuple(a.shape)}")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"{where}: X has {X.shape[1]} features but Y has {Y.shape[1]}; "
                         "they must match")
    kinds = {X.dtype.kind, Y.dtype.kind}
    if not kinds <= set("fiub"):
        raise ValueError(f"{where}: X and Y must be numeric, got dtypes {X.dtype} and {Y.dtype}")
    out_dtype = xp.result_type(X.dtype, Y.dtype) if "f" in kinds else xp.dtype(xp.float64)
    if out_dtype.kind != "f":
        out_dtype = xp.dtype(xp.float64)
    Yw = Y.astype(xp.float64)  # (m, d)
    offset = Yw.mean(axis=0) if Y.shape[0] else xp.zeros(Y.shape[1], dtype=xp.float64)
    Yw = Yw - offset[None, :]
    y_sq = (Yw * Yw).sum(axis=1)  # (m,)
    return xp, same, Y, out_dtype, offset, Yw, y_sq


def _block(X, a, b, offset, Yw, y_sq, xp):
    """float64 squared distances of rows ``X[a:b]`` to all of ``Yw`` -> (b - a, m)."""
    Xw = X[a:b].astype(xp.float64)  # (rows, d), a fresh copy (astype copies)
    Xw -= offset[None, :]  # in place: no second (rows, d) temporary
    D = Xw @ Yw.T  # (rows, m)
    D *= -2.0
    D += xp.einsum("ij,ij->i", Xw, Xw)[:, None]  # row norms without a squared copy
    D += y_sq[None, :]
    return xp.maximum(D, 0.0, out=D)


def squared_euclidean(X, Y=None):
    """All squared Euclidean distances ``D[i, j] = ||x_i - y_j||^2``, accurate in float32.

    .. math::

        D_{ij} = \\|\\tilde x_i\\|^2 - 2\\,\\tilde x_i\\cdot\\tilde y_j + \\|\\tilde y_j\\|^2,
        \\qquad \\tilde x = x - o,\\ \\tilde y = y - o,\\ o = \\operatorname{mean}_j y_j,

    evaluated in float64 blocks of rows (see the module docstring for why).

    Parameters
    ----------
    X : array (n, d), float or integer, on the active backend
    Y : array (m, d) or None
        ``None`` means ``Y = X`` (then the diagonal is exactly 0).

    Returns
    -------
    D : array (n, m), dtype of the inputs (float32 stays float32; integers give
        float64), every entry >= 0.

    Raises
    ------
    ValueError
        Non-2-D input, a different number of features, a non-numeric dtype.

    Reference: scikit-learn ``sklearn.metrics.pairwise.euclidean_distances``
    (float32 upcast), whose values this reproduces (tests/test_distances.py).
    Chapter: chapters/03-3-tasks.md.
    """
    xp, same, Y, out_dtype, offset, Yw, y_sq = _prepare(X, Y, "squared_euclidean")
    n, m = X.shape[0], Y.shape[0]
    out = xp.empty((n, m), dtype=out_dtype)
    for a, b in _row_chunks(n, max(m, X.shape[1])):  # bounds the float64 copy of X too
        out[a:b] = _block(X, a, b, offset, Yw, y_sq, xp)
    if same and n:
        rows = xp.arange(n)
        out[rows, rows] = 0
    return out


def euclidean(X, Y=None):
    """Euclidean distances ``||x_i - y_j||`` -> (n, m): the square root of
    :func:`squared_euclidean` (same arguments, dtype and errors)."""
    return backend.get_array_module(X).sqrt(squared_euclidean(X, Y))


def nearest(X, Y):
    """Index of and squared distance to the nearest row of ``Y`` for every row of ``X``.

    ``idx[i] = argmin_j ||x_i - y_j||^2`` (first index on ties, as ``argmin``) and
    ``dist[i] = ||x_i - y_{idx[i]}||^2``, computed block by block as in
    :func:`squared_euclidean` so the ``(n, m)`` matrix is never held whole. This
    is k-means' assignment step and a self-organising map's best-matching unit.

    Parameters
    ----------
    X : array (n, d)
    Y : array (m, d), m >= 1

    Returns
    -------
    idx : int64 array (n,)
    dist : array (n,), dtype of the inputs, >= 0.

    Chapter: chapters/03-3-tasks.md.
    """
    xp, _, Y, out_dtype, offset, Yw, y_sq = _prepare(X, Y, "nearest")
    if Y.shape[0] == 0:
        raise ValueError("nearest: argument 'Y' has no rows; need at least one")
    idx, dist = [], []
    rows_all = xp.arange(X.shape[0])
    for a, b in _row_chunks(X.shape[0], max(Y.shape[0], X.shape[1])):
        D = _block(X, a, b, offset, Yw, y_sq, xp)  # (rows, m)
        j = xp.argmin(D, axis=1)
        idx.append(j.astype(xp.int64))
        dist.append(D[rows_all[: b - a], j].astype(out_dtype))
    if not idx:
        return xp.zeros(0, dtype=xp.int64), xp.zeros(0, dtype=out_dtype)
    if len(idx) == 1:
        return idx[0], dist[0]
    return xp.concatenate(idx), xp.concatenate(dist)
