"""SMO for the C-SVC dual, with libsvm's second-order working-set selection (host side).

The dual of the soft-margin SVM (Cortes & Vapnik 1995) over n training points with
labels y_i in {-1, +1} is

    min_a  f(a) = 1/2 a^T Q a - e^T a,   Q_ij = y_i y_j K(x_i, x_j),
    s.t.   0 <= a_i <= C,   y^T a = 0.

Sequential minimal optimization (Platt 1998) changes two multipliers a_i, a_j per
iteration, the smallest step that keeps y^T a = 0, and solves that two-variable problem
in closed form. Which pair matters: libsvm (Fan, Chen & Lin, "Working set selection
using second order information for training SVM", JMLR 6, 2005, "WSS 3") picks

    i = argmax_{t in I_up(a)}  -y_t G_t,
    j = argmin_{t in I_low(a), -y_t G_t < -y_i G_i}  -(b_it)^2 / a_it,
    b_it = -y_i G_i + y_t G_t > 0,  a_it = K_ii + K_tt - 2 K_it  (tau = 1e-12 if <= 0),

with G = Q a - e the gradient, I_up = {t: y_t = +1, a_t < C} U {t: y_t = -1, a_t > 0} and
I_low = {t: y_t = +1, a_t > 0} U {t: y_t = -1, a_t < C}. It stops when the maximal
violation m(a) - M(a) = max_{I_up} -y G - min_{I_low} -y G is below ``tol`` (libsvm's
``eps``). The update, its clipping to the box and the bias ``rho`` follow libsvm's
``Solver::Solve`` and ``Solver::calculate_rho`` line by line, so the iterates are the
same as libsvm's without shrinking (ties in the argmax/argmin go to the last index, as
libsvm's ``>=`` / ``<=`` comparisons do).

Host/device split: SMO is sequential over iterations and every iteration makes scalar
decisions (which i, which j, which clipping case). On a GPU each of them would be a
device->host synchronisation, so the solver runs on the host with NumPy: the kernel
matrix is computed on the active backend as matrix products (``svm.py``), copied to the
host once with ``backend.to_numpy`` and stored in float32 like libsvm's ``Qfloat``
cache; the gradient is float64. Each iteration is O(n) vector work on two kernel rows.

Chapter: chapters/05-future.md ("Support vector machines and the multimodal SVM").
"""

from __future__ import annotations

import numpy as np

__all__ = ["smo_solve", "smo_solve_reference", "TAU"]

#: libsvm's replacement for a non-positive curvature a_ij (non-PSD kernels: sigmoid).
TAU = 1e-12


def _last_argmax(v):
    """Index of the last maximum of ``v`` (libsvm compares with ``>=``)."""
    return v.size - 1 - int(np.argmax(v[::-1]))


def _update_pair(a, i, j, yi, yj, Kii, Kjj, Kij, Gi, Gj, C):
    """libsvm's analytic two-variable step with clipping; returns new (a_i, a_j)."""
    ai, aj = a[i], a[j]
    if yi != yj:
        quad = Kii + Kjj - 2.0 * Kij  # = QD_i + QD_j + 2 Q_ij with Q_ij = -K_ij
        if quad <= 0:
            quad = TAU
        delta = (-Gi - Gj) / quad
        diff = ai - aj
        ai += delta
        aj += delta
        if diff > 0:
            if aj < 0:
                aj, ai = 0.0, diff
        else:
            if ai < 0:
                ai, aj = 0.0, -diff
        if diff > 0:  # C_i - C_j = 0: equal costs for both classes
            if ai > C:
                ai, aj = C, C - diff
        else:
            if aj > C:
                aj, ai = C, C + diff
    else:
        quad = Kii + Kjj - 2.0 * Kij
        if quad <= 0:
            quad = TAU
        delta = (Gi - Gj) / quad
        total = ai + aj
        ai -= delta
        aj += delta
        if total > C:
            if ai > C:
                ai, aj = C, total - C
        else:
            if aj < 0:
                aj, ai = 0.0, total
        if total > C:
            if aj > C:
                aj, ai = C, total - C
        else:
            if ai < 0:
                ai, aj = 0.0, total
    return ai, aj


def _rho(a, y, G, C):
    """libsvm's ``calculate_rho``: mean of y_t G_t over free a_t, else the middle of the
    interval the bounded ones allow."""
    yG = y * G
    upper = a >= C
    lower = a <= 0
    free = ~(upper | lower)
    if free.any():
        return float(yG[free].mean())
    ub_mask = (upper & (y < 0)) | (lower & (y > 0))
    lb_mask = (upper & (y > 0)) | (lower & (y < 0))
    ub = yG[ub_mask].min() if ub_mask.any() else np.inf
    lb = yG[lb_mask].max() if lb_mask.any() else -np.inf
    return float((ub + lb) / 2)


def smo_solve(K, y, C, tol=1e-3, max_iter=-1):
    """Solve the C-SVC dual for a host kernel matrix ``K (n, n)`` and labels ``y (n,)``.

    Parameters
    ----------
    K : numpy array (n, n), float32 or float64
        Kernel matrix of the training points (host memory).
    y : numpy array (n,), values +1 / -1
    C : float > 0
    tol : float > 0
        Stopping tolerance on the maximal KKT violation (libsvm's ``eps``).
    max_iter : int
        Iteration cap; -1 means libsvm's own cap ``max(10**7, 100 n)``.

    Returns
    -------
    alpha : (n,) float64 multipliers a_i in [0, C]
    rho : float, the decision function is ``f(x) = sum_i a_i y_i K(x_i, x) - rho``
    n_iter : int
    converged : bool (False when ``max_iter`` stopped it)

    Vectorised: each iteration is a handful of O(n) NumPy operations on the rows K_i, K_j.
    It keeps ``v = -y * G`` instead of G: with Q_i = y_i y K_i, the gradient update
    ``G += Q_i da_i + Q_j da_j`` becomes ``v -= y_i da_i K_i + y_j da_j K_j``.
    """
    n = y.shape[0]
    y = np.asarray(y, dtype=np.float64)
    diag = np.asarray(K.diagonal(), dtype=np.float64)  # QD: K_tt (y_t^2 = 1)
    a = np.zeros(n)
    v = y.copy()  # -y * G with G = -e at a = 0
    pos = y > 0
    cap = max(10_000_000, 100 * n) if max_iter < 0 else max_iter
    # I_up / I_low membership, updated for the two changed points only.
    up = pos.copy()  # y=+1 & a<C, or y=-1 & a>0
    low = ~pos  # y=+1 & a>0, or y=-1 & a<C
    neg_inf = -np.inf
    it = 0
    converged = False
    while it < cap:
        v_up = np.where(up, v, neg_inf)
        i = _last_argmax(v_up)
        gmax = v_up[i]
        if gmax == neg_inf:
            converged = True
            break
        v_low = np.where(low, v, np.inf)
        gmin = v_low.min()  # -Gmax2 in libsvm's notation
        if gmax - gmin < tol:
            converged = True
            break
        Ki = K[i]
        b = gmax - v_low  # > 0 where t could pair with i
        quad = diag[i] + diag - 2.0 * Ki
        quad = np.where(quad > 0, quad, TAU)
        obj = np.where(b > 0, -(b * b) / quad, np.inf)
        j = _last_argmax(-obj)
        if obj[j] == np.inf:
            converged = True
            break
        yi, yj = y[i], y[j]
        Gi, Gj = -yi * v[i], -yj * v[j]
        ai_old, aj_old = a[i], a[j]
        ai, aj = _update_pair(a, i, j, yi, yj, diag[i], diag[j], float(Ki[j]), Gi, Gj, C)
        a[i], a[j] = ai, aj
        dai, daj = ai - ai_old, aj - aj_old
        v -= (yi * dai) * Ki + (yj * daj) * K[j]
        for t in (i, j):
            up[t] = a[t] < C if pos[t] else a[t] > 0
            low[t] = a[t] > 0 if pos[t] else a[t] < C
        it += 1
    return a, _rho(a, y, -y * v, C), it, converged


def smo_solve_reference(K, y, C, tol=1e-3, max_iter=100000):
    """The same algorithm written as libsvm's loops over t (readable, slow; tests only).

    Returns ``(alpha, rho, n_iter)``.
    """
    n = len(y)
    y = [float(t) for t in y]
    a = [0.0] * n
    G = [-1.0] * n
    it = 0
    while it < max_iter:
        gmax, i = -np.inf, -1
        for t in range(n):
            if y[t] == 1:
                if a[t] < C and -G[t] >= gmax:
                    gmax, i = -G[t], t
            elif a[t] > 0 and G[t] >= gmax:
                gmax, i = G[t], t
        gmax2, j, obj_min = -np.inf, -1, np.inf
        for t in range(n):
            if y[t] == 1:
                if a[t] > 0:
                    grad_diff = gmax + G[t]
                    gmax2 = max(gmax2, G[t])
                else:
                    continue
            else:
                if a[t] < C:
                    grad_diff = gmax - G[t]
                    gmax2 = max(gmax2, -G[t])
                else:
                    continue
            if grad_diff > 0 and i >= 0:
                quad = K[i][i] + K[t][t] - 2.0 * K[i][t]
                obj = -(grad_diff ** 2) / (quad if quad > 0 else TAU)
                if obj <= obj_min:
                    obj_min, j = obj, t
        if gmax + gmax2 < tol or j == -1:
            break
        old_i, old_j = a[i], a[j]
        a[i], a[j] = _update_pair(a, i, j, y[i], y[j], K[i][i], K[j][j], K[i][j],
                                  G[i], G[j], C)
        di, dj = a[i] - old_i, a[j] - old_j
        for t in range(n):
            G[t] += y[t] * y[i] * K[i][t] * di + y[t] * y[j] * K[j][t] * dj
        it += 1
    a = np.array(a)
    yv = np.array(y)
    return a, _rho(a, yv, np.array(G), C), it
