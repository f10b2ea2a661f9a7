"""Canonical correlation analysis (CCA) in closed form, with scikit-learn's names.

Two views of the same N samples, ``X (N, p)`` (say, image features) and ``Y (N, q)``
(audio features). CCA finds directions ``a_k`` and ``b_k`` whose projections
``u_k = X a_k`` and ``v_k = Y b_k`` are as correlated as possible, each pair
uncorrelated with the earlier ones (Hotelling 1936):

    max_{a, b}  corr(X a, Y b) = a^T C_xy b / sqrt(a^T C_xx a  b^T C_yy b).

Whitening each view turns this into an SVD: with ``K_x = C_xx^{-1/2}``,
``K_y = C_yy^{-1/2}`` and ``K_x C_xy K_y = U S V^T``, the directions are
``a_k = K_x u_k``, ``b_k = K_y v_k`` and the canonical correlations are the singular
values ``s_k``. It is the classic form of the document's first future direction,
cross-modal feature learning (section 5): a space where both modalities land together.

Chapter: chapters/05-future.md ("A first concrete form: CCA").
"""

from __future__ import annotations

from .. import backend
from ..base import BaseEstimator, TransformerMixin, check_is_fitted, check_X
from ..errors import check_count, check_real

__all__ = ["CCA", "whitening_matrix"]


def whitening_matrix(C, view, where):
    """``C^{-1/2}`` of a symmetric positive-definite covariance ``C (d, d)``.

    Through its eigendecomposition ``C = E diag(l) E^T``:
    ``C^{-1/2} = E diag(l^{-1/2}) E^T`` (symmetric, so ``K C K = I``).

    Raises ``ValueError`` naming the ``view`` when ``C`` is singular or nearly so
    (smallest eigenvalue below ``d * eps * largest``): the view has collinear features,
    and ``reg > 0`` (or fewer features, e.g. through PCA) is the fix.
    """
    xp = backend.xp()
    evals, evecs = xp.linalg.eigh(C)  # ascending
    lo, hi = backend.to_numpy(evals[0]).item(), backend.to_numpy(evals[-1]).item()
    tiny = C.shape[0] * 2.2e-16 * max(hi, 0.0)
    if not lo > tiny:
        raise ValueError(
            f"{where}: the covariance of {view} is singular (smallest eigenvalue {lo:.3g}, "
            f"largest {hi:.3g}): some of its features are linear combinations of others. "
            "Pass reg > 0 (ridge regularisation) or reduce its features (e.g. with PCA).")
    return (evecs * (1.0 / xp.sqrt(evals))[None, :]) @ evecs.T


class CCA(TransformerMixin, BaseEstimator):
    """Canonical correlation analysis by whitening and one SVD (no iterations).

    .. math::

        C_{xx} = \\frac{X_c^T X_c}{N-1} + r I, \\quad
        C_{yy} = \\frac{Y_c^T Y_c}{N-1} + r I, \\quad
        C_{xy} = \\frac{X_c^T Y_c}{N-1},

        C_{xx}^{-1/2} C_{xy} C_{yy}^{-1/2} = U S V^T, \\quad
        A = C_{xx}^{-1/2} U_k, \\quad B = C_{yy}^{-1/2} V_k,

    where ``X_c``, ``Y_c`` are the centred (and, with ``scale``, unit-variance) views and
    ``r = reg``. The scores ``X_c A`` and ``Y_c B`` have unit variance (with ``reg = 0``),
    the k-th pair has correlation ``s_k``, and different pairs are uncorrelated, within
    and across the views.

    scikit-learn's ``CCA`` reaches the same directions by NIPALS power iterations with
    deflation; this closed form needs no ``max_iter``/``tol``. Its scores are the same as
    scikit-learn's up to sign and scale (scikit-learn normalises the weights, not the
    scores); the canonical correlations are the same numbers.

    Parameters
    ----------
    n_components : int
        Number of canonical pairs k, ``1 <= k <= min(p, q)``.
    scale : bool
        Divide each column by its standard deviation (ddof 1) before the analysis, as
        scikit-learn does.
    reg : float >= 0
        Ridge ``r`` added to the diagonal of both (scaled) covariances: regularised CCA
        (Vinod 1976), needed when a view has at least as many features as samples or
        collinear features. With ``reg > 0`` the scores' variances drop below 1 and the
        reported correlations are those of the scores.

    Attributes
    ----------
    x_weights_ : array (p, k)
        Maps the centred, scaled X to its scores: ``x_scores = ((X - x_mean_) / x_std_)
        @ x_weights_`` (scikit-learn's ``x_rotations_``; ``x_rotations_`` is the same
        array). Signs: the largest-magnitude entry of each column of ``x_weights_`` is
        positive, and ``y_weights_`` follows so that each pair correlates positively.
    y_weights_ : array (q, k)
        The same for Y (``y_rotations_``).
    x_mean_, x_std_ : arrays (p,); y_mean_, y_std_ : arrays (q,)
        Column means and standard deviations (all ones without ``scale``).
    canonical_correlations_ : array (k,)
        The correlation of each pair of training scores, in decreasing order.
    n_features_in_ : int
        p.

    Raises
    ------
    ValueError
        NaN/inf, non-2-D views, different numbers of samples, a constant column, ``N <=
        p`` or ``N <= q`` without ``reg``, a singular covariance without ``reg``,
        ``n_components > min(p, q)``.

    Notes
    -----
    Computed in float64 whatever the input dtype (the covariances of pixels in float32
    lose the small canonical directions); outputs are float64.
    References: H. Hotelling, "Relations between two sets of variates", Biometrika 1936;
    scikit-learn ``sklearn/cross_decomposition/_pls.py``.
    Chapter: chapters/05-future.md.

    Examples
    --------
    >>> cca = CCA(n_components=2).fit(X_image, X_audio)       # doctest: +SKIP
    >>> u, v = cca.transform(X_image, X_audio)                  # doctest: +SKIP
    """

    def __init__(self, n_components=2, scale=True, reg=0.0):
        self.n_components = n_components
        self.scale = scale
        self.reg = reg

    # ------------------------------------------------------------------ fit
    def _standardize_stats(self, X, view):
        """Column means and standard deviations (ddof 1) of one view; refuses constant
        columns, which have no direction to correlate."""
        xp = backend.xp()
        mean = X.mean(axis=0)
        std = xp.sqrt(((X - mean) ** 2).sum(axis=0) / (X.shape[0] - 1))
        # A column is constant when its spread is at round-off level of its values.
        scale_ref = xp.maximum(xp.abs(mean), 1.0)
        const = backend.to_numpy(std <= 1e-12 * scale_ref)
        if const.any():
            cols = [int(i) for i in const.nonzero()[0][:10]]
            raise ValueError(
                f"{self._where()}: {view} has constant column(s) {cols}"
                f"{' ...' if const.sum() > 10 else ''} (of {X.shape[1]}); a constant "
                "feature has no variance to correlate. Drop it before fitting.")
        if not self.scale:
            std = xp.ones_like(std)
        return mean, std

    @staticmethod
    def _as_columns(Y, where):
        """The second view ``Y (N, q)``; a 1-D ``Y (N,)`` is one column, ``(N, 1)``, as
        in scikit-learn's ``CCA`` (a single target)."""
        if Y is None:
            raise ValueError(f"{where}: requires y to be passed, but the target y is None "
                             "(CCA needs the second view Y)")
        Y = check_X(Y, where, "Y", allow_1d=True)
        return Y[:, None] if Y.ndim == 1 else Y

    def fit(self, X, Y):
        """Fit the canonical pairs of ``X (N, p)`` and ``Y (N, q)`` (or ``(N,)``, one
        column); returns ``self``."""
        xp = backend.xp()
        where = self._where()
        X = check_X(X, where, "X").astype(xp.float64)
        Y = self._as_columns(Y, where).astype(xp.float64)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"{where}: X has {X.shape[0]} samples but Y has {Y.shape[0]}; "
                             "the two views must hold the same samples, row by row")
        n, p = X.shape
        q = Y.shape[1]
        k = check_count(self.n_components, "n_components", where=where)
        if k > min(p, q):
            raise ValueError(f"{where}: argument 'n_components' must be <= min(n_features "
                             f"of X, n_features of Y) = min({p}, {q}) = {min(p, q)}, got {k}")
        if not isinstance(self.scale, bool):
            raise TypeError(f"{where}: argument 'scale' must be a bool, got "
                            f"{type(self.scale).__name__} {self.scale!r}")
        reg = check_real(self.reg, "reg", where=where, low=0.0)
        if n < 2:
            raise ValueError(f"{where}: CCA needs at least 2 samples, got n_samples = {n}")
        if reg == 0.0:
            for view, d in (("X", p), ("Y", q)):
                if n <= d:
                    raise ValueError(
                        f"{where}: {view} has {d} features but only {n} samples; without "
                        "regularisation the centred covariance is singular (rank <= "
                        f"{n - 1}). Pass reg > 0, or reduce {view}'s features (e.g. PCA to "
                        f"fewer than {n - 1}).")

        x_mean, x_std = self._standardize_stats(X, "X")
        y_mean, y_std = self._standardize_stats(Y, "Y")
        Xc = (X - x_mean) / x_std  # (N, p)
        Yc = (Y - y_mean) / y_std  # (N, q)
        Cxx = Xc.T @ Xc / (n - 1) + reg * xp.eye(p)
        Cyy = Yc.T @ Yc / (n - 1) + reg * xp.eye(q)
        Cxy = Xc.T @ Yc / (n - 1)  # (p, q)
        Kx = whitening_matrix(Cxx, "X", where)
        Ky = whitening_matrix(Cyy, "Y", where)
        U, s, Vt = xp.linalg.svd(Kx @ Cxy @ Ky, full_matrices=False)
        A = Kx @ U[:, :k]  # (p, k)
        B = Ky @ Vt[:k].T  # (q, k)

        # Deterministic signs (an SVD's are arbitrary): the largest |entry| of each
        # column of A is positive; B gets the same flip, keeping each pair's correlation
        # positive (the flip acts on u_j and v_j together).
        pivot = A[xp.argmax(xp.abs(A), axis=0), xp.arange(k)]
        signs = xp.where(pivot < 0, -1.0, 1.0)
        A, B = A * signs, B * signs

        self.x_mean_, self.x_std_ = x_mean, x_std
        self.y_mean_, self.y_std_ = y_mean, y_std
        self.x_weights_, self.y_weights_ = A, B
        u, v = Xc @ A, Yc @ B
        # With reg = 0 these equal s[:k]; with reg > 0 they are the scores' true
        # correlations, which is what the attribute promises.
        uc, vc = u - u.mean(axis=0), v - v.mean(axis=0)
        self.canonical_correlations_ = (uc * vc).sum(axis=0) / xp.sqrt(
            (uc * uc).sum(axis=0) * (vc * vc).sum(axis=0))
        self.n_features_in_ = p
        self._n_features_y = q
        return self

    # scikit-learn's names for the same maps (DESIGN.md: x_rotations_ is x_weights_).
    @property
    def x_rotations_(self):
        check_is_fitted(self, "x_weights_")
        return self.x_weights_

    @property
    def y_rotations_(self):
        check_is_fitted(self, "y_weights_")
        return self.y_weights_

    # ------------------------------------------------------------------ transform
    def _scores(self, Z, argument, mean, std, W, d):
        where = self._where()
        Z = self._as_columns(Z, where) if argument == "Y" else check_X(Z, where, argument)
        if Z.shape[1] != d:
            raise ValueError(f"{where}: {argument} has {Z.shape[1]} features, but CCA is "
                             f"expecting {d} features as input")
        return ((Z.astype(backend.xp().float64) - mean) / std) @ W

    def transform(self, X, Y=None):
        """Canonical scores: ``x_scores (N, k)``, or ``(x_scores, y_scores)`` when ``Y``
        is given. ``x_scores = ((X - x_mean_) / x_std_) @ x_weights_``."""
        check_is_fitted(self, "x_weights_")
        u = self._scores(X, "X", self.x_mean_, self.x_std_, self.x_weights_,
                         self.n_features_in_)
        if Y is None:
            return u
        v = self._scores(Y, "Y", self.y_mean_, self.y_std_, self.y_weights_,
                         self._n_features_y)
        if u.shape[0] != v.shape[0]:
            raise ValueError(f"{self._where()}: X has {u.shape[0]} samples but Y has "
                             f"{v.shape[0]}; they must match")
        return u, v

    def fit_transform(self, X, Y=None, *, y=None):
        """``fit(X, Y).transform(X, Y)``: the pair of training scores. ``y`` is
        scikit-learn's keyword for the same second view (``Pipeline`` and its estimator
        checks pass ``y=``); give one of them, not both."""
        if y is not None:
            if Y is not None:
                raise TypeError(f"{self._where()}: give the second view as Y or as y, "
                                "not both")
            Y = y
        return self.fit(X, Y).transform(X, Y)
