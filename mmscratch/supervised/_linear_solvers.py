"""LinearSVC's solvers: Newton-CG for the squared hinge (dense or sparse X) and a
primal-dual interior-point method for the hinge dual.

Split from ``svm.py`` (which holds the estimator, :class:`mmscratch.supervised.LinearSVC`);
the formulas are in its docstring and in the functions below.

Chapter: chapters/05-future.md ("LinearSVC", "Sparse text features").
"""

from __future__ import annotations

from .. import backend
from ._common import sparse_dot, sparse_t_dot


class _DenseDesign:
    """The products Newton-CG needs with x~_i = [x_i, s]: the readable path, one dense
    (n, p) matrix X~ (p = d + 1 with an intercept, else d)."""

    def __init__(self, X, scale):
        xp = backend.xp()
        n = X.shape[0]
        self.X = X if scale is None else xp.concatenate([X, xp.full((n, 1), scale)], axis=1)
        self.X2 = self.X * self.X  # for the Jacobi preconditioner, squared once
        self.n_params = self.X.shape[1]

    def dot(self, W):
        """X~ W: (p, k) -> (n, k)."""
        return self.X @ W

    def tdot(self, V):
        """X~^T V: (n, k) -> (p, k)."""
        return self.X.T @ V

    def sq_tdot(self, A):
        """(X~ * X~)^T A: (n, k) -> (p, k)."""
        return self.X2.T @ A

    def hess_operator(self, A):
        """P -> X~^T (A * X~ P): the CG's product with the active set A (n, k) fixed."""
        return lambda P: self.tdot(A * self.dot(P))


class _SparseDesign:
    """The same products for a CSR X (n, d), never forming [X, s]: the bias column is
    handled on its own,

        X~ W = X W[:d] + s W[d],    X~^T V = [X^T V ; s 1^T V],
        (X~ * X~)^T A = [(X * X)^T A ; s^2 1^T A],

    so each costs O(nnz k) instead of O(n d k). Must equal ``_DenseDesign`` (tested)."""

    def __init__(self, X, scale):
        X.sum_duplicates()  # X is check_sparse's copy: squaring needs one entry per cell
        self.X = X
        self.X2 = X.copy()
        self.X2.data = X.data * X.data
        self.s = scale
        self.d = X.shape[1]
        self.n_params = self.d + (scale is not None)

    def dot(self, W):
        Z = sparse_dot(self.X, W[:self.d])  # (n, k)
        return Z if self.s is None else Z + self.s * W[self.d]

    def _tdot(self, M, V, s):
        G = sparse_t_dot(M, V)  # (d, k)
        if s is None:
            return G
        return backend.xp().concatenate([G, s * V.sum(axis=0, keepdims=True)])

    def tdot(self, V):
        return self._tdot(self.X, V, self.s)

    def sq_tdot(self, A):
        return self._tdot(self.X2, A, None if self.s is None else self.s * self.s)

    def hess_operator(self, A):
        """P -> X~^T (A * X~ P) on each column's active rows only (rows with A = 0 add
        nothing; about half the rows are inactive near the optimum, and liblinear's Hv
        skips them the same way): the rows are cut out once per Newton step, then each
        CG product costs O(nnz of the active rows) per column. Equals ``_DenseDesign``'s
        (tested)."""
        xp = backend.xp()
        d, s = self.d, self.s
        on_host = backend.name() != "cupy"  # SciPy indexes rows with host integers
        subs = []
        for c in range(A.shape[1]):
            mask = backend.to_numpy(A[:, c]) if on_host else A[:, c]
            subs.append(self.X[mask.nonzero()[0]])

        def apply(P):  # (p, k) -> (p, k)
            out = xp.empty_like(P)
            for c, Xc in enumerate(subs):
                v = sparse_dot(Xc, P[:d, c])  # (n_active,)
                if s is not None:
                    v = v + s * P[d, c]
                    out[d, c] = s * v.sum()
                out[:d, c] = sparse_t_dot(Xc, v)
            return out
        return apply


def _coldot(A, B):
    """Per column, sum_i A_ic B_ic: (p, k), (p, k) -> (k,). ``einsum`` rather than
    ``(A * B).sum(axis=0)``: no temporary, and a reduction along the long strided axis of
    a C-ordered (p, k) array is ~3x slower in NumPy (this is the CG's inner cost)."""
    return backend.xp().einsum("ik,ik->k", A, B)


def _colnorm(A):
    return backend.xp().sqrt(_coldot(A, A))


def _newton_squared_hinge(X, Y, C, tol, max_iter):
    """Newton-CG for f_c(w) = 1/2 ||w||^2 + C sum_i max(0, 1 - y_ic x~_i . w)^2, all c at once.

    X: a design (``_DenseDesign`` or ``_SparseDesign``) giving X~ W, X~^T V and
    (X~ * X~)^T A; Y (n, k) +-1. Returns W (p, k), iterations, converged. Per column:
    grad = w - 2C X~^T (A * y * (1 - y z)), H v = v + 2C X~^T (A * X~ v), A = [y z < 1],
    z = X~ w. z is kept up to date (z += step X~ d) rather than recomputed, so the line
    search and the gradient cost no product with X beyond X~ d and one X~^T. The columns
    are independent problems: a column that has converged (Newton) or whose CG residual
    is small enough (CG) stops moving while the others go on, so each column's solution
    is the one it would get alone, as liblinear solves one class at a time.
    """
    xp = backend.xp()
    p, k = X.n_params, Y.shape[1]
    W = xp.zeros((p, k))
    Z = xp.zeros(Y.shape)  # X~ W (n, k)

    def objective(W, Z, Y):
        m = xp.maximum(1.0 - Y * Z, 0.0)
        return 0.5 * _coldot(W, W) + C * _coldot(m, m)  # (k,)

    def grad(W, Z, Y):
        m = 1.0 - Y * Z
        A = (m > 0).astype(W.dtype)
        return W - 2.0 * C * X.tdot(A * Y * m), A

    g, A = grad(W, Z, Y)
    g0 = _colnorm(g)
    it, converged = 0, False
    f = objective(W, Z, Y)
    while it < max_iter:
        gn_all = _colnorm(g)
        live = backend.to_numpy(gn_all > tol * g0)
        if not live.any():
            converged = True
            break
        c = slice(None) if live.all() else backend.asarray(live.nonzero()[0])
        Wc, Zc, Yc, gc, Ac, fc = W[:, c], Z[:, c], Y[:, c], g[:, c], A[:, c], f[c]
        gn = gn_all[c]
        # Preconditioned conjugate gradients on H d = -g, every live column at once (each
        # its own alpha/beta), with the Jacobi preconditioner diag(H) = 1 + 2C sum_A x_ij^2
        # (liblinear's PCG, Hsia et al. 2018).
        Minv = 1.0 / (1.0 + 2.0 * C * X.sq_tdot(Ac))  # (p, k_live)
        D = xp.zeros_like(Wc)
        R = -gc
        Zr = Minv * R
        P = Zr.copy()
        rz = _coldot(R, Zr)
        # CG stops at ||r|| <= 0.1 ||g|| (liblinear's eps_cg): an inexact Newton step. A
        # forcing term shrinking with ||g|| (superlinear) saved no Newton iteration worth
        # its extra CG products on 20 Newsgroups (114 -> 96 products with X at 1000 words).
        cg_tol = (0.1 * gn) ** 2
        done = xp.zeros(gn.shape, dtype=bool)
        hess = X.hess_operator(Ac)  # P -> X~^T (A * X~ P)
        for _ in range(max(10, p)):
            HP = P + 2.0 * C * hess(P)
            pHp = _coldot(P, HP)
            alpha = xp.where(pHp > 0, rz / xp.where(pHp > 0, pHp, 1.0), 0.0)
            alpha = xp.where(done, 0.0, alpha)  # a solved column keeps its direction
            D = D + alpha * P
            R = R - alpha * HP
            done = done | (_coldot(R, R) <= cg_tol)
            if bool(backend.to_numpy(done.all())):
                break
            Zr = Minv * R
            rz_new = _coldot(R, Zr)
            beta = xp.where(rz > 0, rz_new / xp.where(rz > 0, rz, 1.0), 0.0)
            P = Zr + beta * P
            rz = rz_new
        # Backtracking (Armijo) line search per column, on z + step X~ d (no product).
        XD = X.dot(D)  # (n, k_live)
        step = xp.ones(gn.shape)
        gd = _coldot(gc, D)
        for _ in range(30):
            f_new = objective(Wc + step * D, Zc + step * XD, Yc)
            ok = f_new <= fc + 0.01 * step * gd
            if bool(backend.to_numpy(ok.all())):
                break
            step = xp.where(ok, step, 0.5 * step)
        Wc = Wc + step * D
        Zc = Zc + step * XD
        W[:, c], Z[:, c] = Wc, Zc
        f[c] = objective(Wc, Zc, Yc)
        g[:, c], A[:, c] = grad(Wc, Zc, Yc)
        it += 1
    return W, it, converged


def _ratio(v, dv):
    """Per column, the largest step keeping v + step dv > 0 (inf where dv >= 0)."""
    xp = backend.xp()
    neg = dv < 0
    return xp.where(neg, -v / xp.where(neg, dv, -1.0), xp.inf).min(axis=0)


def _ipm_newton(state, rc_s, rc_t):
    """One Newton direction of the interior-point method (see ``_ipm_hinge``).

    Solves (Q + D) da = r, r = -r_d + rc_s / a - rc_t / u, by the Woodbury identity
    D^-1 r - D^-1 Z (I + Z^T D^-1 Z)^-1 Z^T D^-1 r, then ds and dt from the linearised
    complementarity a ds + s da = rc_s, u dt - t da = rc_t.
    """
    xp = backend.xp()
    X, Y, M, D, r_d, a, u, s, t = state
    r = -r_d + rc_s / a - rc_t / u
    Dinv_r = r / D
    rhs = (X.T @ (Y * Dinv_r)).T[..., None]  # (k, p, 1)
    sol = xp.linalg.solve(M, rhs)[..., 0].T  # (p, k)
    da = Dinv_r - (Y * (X @ sol)) / D
    return da, (rc_s - s * da) / a, (rc_t + t * da) / u


def _ipm_max_step(state, da, ds, dt):
    """Largest step in (0, 1] per column keeping a, u = C - a, s and t positive."""
    xp = backend.xp()
    _, _, _, _, _, a, u, s, t = state
    ratios = [_ratio(a, da), _ratio(u, -da), _ratio(s, ds), _ratio(t, dt)]
    return xp.minimum(1.0, xp.min(xp.stack(ratios), axis=0))  # (k,)


def _ipm_hinge(X, Y, C, tol, max_iter):
    """Primal-dual interior-point method on the hinge dual, all columns at once.

    min_a 1/2 a^T Q a - e^T a, 0 <= a <= C, Q = Z Z^T, Z = y * X (n, p); w = Z^T a.
    With multipliers s >= 0 (a >= 0) and t >= 0 (a <= C), u = C - a, the KKT conditions
    are Q a - e - s + t = 0, a s = mu, u t = mu, mu -> 0. Each Newton step solves
    (Q + D) da = r, D = s / a + t / u, by the Woodbury identity through the (p, p) matrix
    I + X^T D^-1 X (Ferris & Munson, "Interior-point methods for massive support vector
    machines", SIAM J. Optim. 2002): O(n p^2) per step, a few dozen steps whatever the
    conditioning. Returns W (p, k), iterations, converged (KKT residual and mean
    complementarity below ``tol``).
    """
    xp = backend.xp()
    n, p = X.shape
    k = Y.shape[1]
    a = xp.full((n, k), 0.5 * C)
    u = xp.full((n, k), 0.5 * C)  # C - a, kept as its own variable: C - a cancels near C
    s = xp.ones((n, k))
    t = xp.ones((n, k))
    eye = xp.eye(p)
    it, converged = 0, False
    while it < max_iter:
        W = X.T @ (Y * a)  # (p, k) = Z^T a per column
        r_d = Y * (X @ W) - 1.0 - s + t  # (n, k)
        gap = ((a * s).sum(axis=0) + (u * t).sum(axis=0)) / (2 * n)  # (k,)
        done = (xp.abs(r_d).max(axis=0) <= tol) & (gap <= tol * 1e-2)
        if bool(backend.to_numpy(done.all())):
            converged = True
            break
        D = s / a + t / u
        M = xp.stack([eye + X.T @ (X / D[:, c:c + 1]) for c in range(k)])  # (k, p, p)

        # Mehrotra predictor-corrector: an affine step (mu = 0) sets the centring sigma
        # and a second-order correction of the complementarity products.
        state = (X, Y, M, D, r_d, a, u, s, t)
        da, ds, dt = _ipm_newton(state, -a * s, -u * t)
        st = _ipm_max_step(state, da, ds, dt)
        gap_aff = (((a + st * da) * (s + st * ds)).sum(axis=0)
                   + ((u - st * da) * (t + st * dt)).sum(axis=0)) / (2 * n)
        mu = (gap_aff / gap) ** 3 * gap
        da, ds, dt = _ipm_newton(state, mu - a * s - da * ds, mu - u * t + da * dt)
        step = 0.995 * _ipm_max_step(state, da, ds, dt)
        a = a + step * da
        u = u - step * da
        s = s + step * ds
        t = t + step * dt
        it += 1
    W = X.T @ (Y * a)
    return W, it, converged
