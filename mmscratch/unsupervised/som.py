"""Self-organizing map (Kohonen), with MiniSom's model, names and defaults.

The document lists self-organizing maps among the unsupervised methods of multimodal
learning (section 3.3.2). A SOM is a grid of ``m x n`` units, each with a weight vector
``w_u`` in the data space. For every sample ``x`` (online rule, Kohonen 1982):

    c = argmin_u ||x - w_u||                      (best-matching unit, the "winner")
    w_u <- w_u + eta(t) h_{c,u}(sigma(t)) (x - w_u)   for every unit u,

where ``h`` is a neighbourhood on the grid (a Gaussian of the grid distance between u
and c by default) and the learning rate ``eta`` and spread ``sigma`` decay with t. It is
k-means with a neighbourhood: units close on the grid are pulled together, so the grid
becomes a 2-D picture of the data (the U-matrix shows where the clusters are).

The batch rule (Kohonen 2013, "Essentials of the self-organizing map") uses every sample
per step: all winners at once, then each unit moves to the neighbourhood-weighted mean

    w_u <- (1 - eta) w_u + eta * sum_i h_{c_i,u} x_i / sum_i h_{c_i,u},

which is one matrix product (the distances of all samples to all units) per step.

Reference implementation: MiniSom (G. Vettigli, ``minisom.py``); same initial weights
and sample order give the same map (see tests/test_som.py).

Chapter: chapters/03-3-tasks.md ("Self-organizing maps").
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import backend, distances
from ..base import BaseEstimator, TransformerMixin, as_backend_array, check_is_fitted, check_X
from ..errors import check_count, check_real

__all__ = ["SOM", "DECAY_FUNCTIONS", "SIGMA_DECAY_FUNCTIONS", "NEIGHBORHOOD_FUNCTIONS",
           "ACTIVATION_DISTANCES", "TOPOLOGIES"]

# Y spacing of rows on a hexagonal grid: sqrt(3)/2, so neighbours are 1 apart (MiniSom).
_Y_HEX = 1.5 / np.sqrt(3.0)

# Largest (samples x units) distance block computed at once; bounds memory for big N.
_BLOCK_ELEMENTS = 1 << 22


# ---------------------------------------------------------------- decays (host, vectorized)
def inverse_decay_to_zero(learning_rate, t, max_iter):
    """``eta(t) = eta0 * C / (C + t)``, ``C = max_iter / 100``."""
    c = max_iter / 100.0
    return learning_rate * c / (c + t)


def linear_decay_to_zero(learning_rate, t, max_iter):
    """``eta(t) = eta0 * (1 - t / max_iter)``."""
    return learning_rate * (1 - t / max_iter)


def asymptotic_decay(value, t, max_iter):
    """``v(t) = v0 / (1 + t / (max_iter / 2))``: down to v0 / 3 at the end (MiniSom's
    default for both the learning rate and sigma)."""
    return value / (1 + t / (max_iter / 2))


def inverse_decay_to_one(sigma, t, max_iter):
    """``sigma(t) = sigma0 / (1 + t (sigma0 - 1) / max_iter)``."""
    c = (sigma - 1) / max_iter
    return sigma / (1 + (t * c))


def linear_decay_to_one(sigma, t, max_iter):
    """``sigma(t) = sigma0 + t (1 - sigma0) / max_iter``."""
    return sigma + (t * (1 - sigma) / max_iter)


DECAY_FUNCTIONS = {"inverse_decay_to_zero": inverse_decay_to_zero,
                   "linear_decay_to_zero": linear_decay_to_zero,
                   "asymptotic_decay": asymptotic_decay}
SIGMA_DECAY_FUNCTIONS = {"inverse_decay_to_one": inverse_decay_to_one,
                         "linear_decay_to_one": linear_decay_to_one,
                         "asymptotic_decay": asymptotic_decay}
NEIGHBORHOOD_FUNCTIONS = ("gaussian", "mexican_hat", "bubble", "triangle")
ACTIVATION_DISTANCES = ("euclidean", "cosine", "manhattan", "chebyshev")
TOPOLOGIES = ("rectangular", "hexagonal")


def _schedule(fn, value, steps, max_iter):
    """``fn(value, t, max_iter)`` for t = 0..steps-1 as host float64 ``(steps,)``."""
    t = np.arange(steps, dtype=np.float64)
    out = np.asarray(fn(value, t, max_iter), dtype=np.float64)
    if out.shape != (steps,):  # a user callable written for scalars only
        out = np.array([fn(value, int(s), max_iter) for s in range(steps)], dtype=np.float64)
    return out


def _unit_sums(X, bmu, k):
    """``S_c = sum_{i: bmu_i = c} x_i``, ``(k, D)``: a sparse ``(k, N)`` one-hot matrix
    times X. A dense one-hot product costs N k D multiply-adds, a scatter-add (``add.at``)
    is an unbuffered loop on the CPU; the sparse product costs N D and runs on both
    (SciPy on the host, cupyx on the GPU)."""
    xp = backend.xp()
    sp = backend.sparse()
    n = X.shape[0]
    if backend.name() == "cupy":
        ones = xp.ones(n, dtype=X.dtype)
        onehot = sp.coo_matrix((ones, (bmu, xp.arange(n))), shape=(k, n)).tocsr()
        return onehot @ X
    # SciPy takes host arrays: explicit copies on the strict backend, views on numpy.
    rows = backend.to_numpy(bmu)
    Xh = backend.to_numpy(X)
    onehot = sp.csr_matrix((np.ones(n, dtype=Xh.dtype), rows, np.arange(n + 1)),
                           shape=(n, k)).T.tocsr()
    return backend.asarray(np.asarray(onehot @ Xh))


class SOM(TransformerMixin, BaseEstimator):
    """Self-organizing map on an ``m x n`` grid (MiniSom's ``MiniSom``, as an estimator).

    .. math::

        c = \\arg\\min_u d(x, w_u), \\qquad
        w_u \\leftarrow w_u + \\eta(t)\\, h_{c,u}(\\sigma(t))\\, (x - w_u).

    Parameter names and defaults are MiniSom's.

    Parameters
    ----------
    m, n : int
        Grid size (MiniSom's ``x``, ``y``): ``weights_`` is ``(m, n, D)``.
    sigma : float > 0
        Spread of the neighbourhood at t = 0, in grid units.
    learning_rate : float > 0
        eta at t = 0.
    neighborhood_function : {"gaussian", "mexican_hat", "bubble", "triangle"}
        With ``p = ||r_u - r_c||^2`` on the grid (hexagonal coordinates for the first
        two) and ``d = 2 sigma^2``: gaussian ``exp(-p / d)``; mexican_hat
        ``exp(-p / d) (1 - 2 p / d)``; bubble ``1`` when ``|i_u - i_c| < sigma`` and
        ``|j_u - j_c| < sigma``, else 0; triangle ``max(sigma - |i_u - i_c|, 0)
        max(sigma - |j_u - j_c|, 0)``.
    topology : {"rectangular", "hexagonal"}
        Unit ``(i, j)`` sits at ``(i, j)``; hexagonal: at ``(i - 1/2, j sqrt(3)/2)`` for
        the rows j with ``n - 1 - j`` even, ``(i, j sqrt(3)/2)`` otherwise (MiniSom's
        offsets), so each unit has six neighbours at distance 1.
    decay_function : str or callable
        ``"asymptotic_decay"``, ``"linear_decay_to_zero"``, ``"inverse_decay_to_zero"``
        or a callable: eta(t) from ``(learning_rate, t, max_iter)``.
    sigma_decay_function : {"asymptotic_decay", "linear_decay_to_one", "inverse_decay_to_one"}
        sigma(t) from ``(sigma, t, max_iter)``.
    activation_distance : {"euclidean", "cosine", "manhattan", "chebyshev"}
        d(x, w) used to pick the winner. ``chebyshev`` is ``max_k |x_k - w_k|``
        (MiniSom 2.3.5 leaves out the absolute value, a bug not copied here).
    random_state : int, numpy RandomState or None
        Seeds MiniSom's stream: a ``numpy.random.RandomState`` that first draws the
        default initial weights (uniform in [-1, 1], each unit scaled to norm 1), then
        the sample order and ``random_weights_init``'s picks. With the same seed the
        map equals ``MiniSom(m, n, D, ..., random_seed=seed)`` trained the same way.
    num_iteration : int or None
        The step count ``fit`` uses when it is called without one, as scikit-learn's
        ``Pipeline`` and ``GridSearchCV`` call it (``fit(X, None)``): set it here to put
        a SOM in a pipeline or to search over it. ``fit(X, num_iteration)`` overrides it.

    Attributes
    ----------
    weights_ : array (m, n, D)
        The units' weights. Settable before ``fit`` to start from given weights;
        ``fit`` continues from the current ones (MiniSom's ``train`` does too).
    n_features_in_ : int

    Raises
    ------
    ValueError / TypeError
        Unknown option names, non-positive sizes or rates, bad data (via ``check_X``),
        data whose width differs from ``weights_``.

    Notes
    -----
    The online rule is sequential by nature (each step needs the previous weights): one
    Python step per sample, each vectorized over the whole map, on the host or the GPU.
    ``fit(..., method="batch")`` is the fast path.
    Chapter: chapters/03-3-tasks.md.
    """

    def __init__(self, m, n, sigma=1.0, learning_rate=0.5, neighborhood_function="gaussian",
                 topology="rectangular", decay_function="asymptotic_decay",
                 sigma_decay_function="asymptotic_decay", activation_distance="euclidean",
                 random_state=None, *, num_iteration=None):
        self.m = m
        self.n = n
        self.sigma = sigma
        self.learning_rate = learning_rate
        self.neighborhood_function = neighborhood_function
        self.topology = topology
        self.decay_function = decay_function
        self.sigma_decay_function = sigma_decay_function
        self.activation_distance = activation_distance
        self.random_state = random_state
        self.num_iteration = num_iteration

    # ------------------------------------------------------------ options and grid
    def _check_params(self):
        where = self._where()
        m = check_count(self.m, "m", where=where)
        n = check_count(self.n, "n", where=where)
        check_real(self.sigma, "sigma", where=where, low=0.0, low_open=True)
        check_real(self.learning_rate, "learning_rate", where=where, low=0.0, low_open=True)
        for arg, value, allowed in (
                ("neighborhood_function", self.neighborhood_function, NEIGHBORHOOD_FUNCTIONS),
                ("topology", self.topology, TOPOLOGIES),
                ("sigma_decay_function", self.sigma_decay_function, SIGMA_DECAY_FUNCTIONS),
                ("activation_distance", self.activation_distance, ACTIVATION_DISTANCES)):
            if not isinstance(value, str) or value not in allowed:
                raise ValueError(f"{where}: argument '{arg}' must be one of "
                                 f"{sorted(allowed)}, got {value!r}")
        if not callable(self.decay_function) and self.decay_function not in DECAY_FUNCTIONS:
            raise ValueError(f"{where}: argument 'decay_function' must be one of "
                             f"{sorted(DECAY_FUNCTIONS)} or a callable (learning_rate, t, "
                             f"max_iter), got {self.decay_function!r}")
        return m, n

    def _lr_decay(self):
        f = self.decay_function
        return f if callable(f) else DECAY_FUNCTIONS[f]

    def _grid(self):
        """Host tables of the grid: integer indices ``(mn,)`` and euclidean coordinates."""
        m, n = self._check_params()
        gi, gj = np.divmod(np.arange(m * n), n)  # unit u = i * n + j (C order)
        px, py = gi.astype(np.float64), gj.astype(np.float64)
        if self.topology == "hexagonal":
            px = px - 0.5 * ((n - 1 - gj) % 2 == 0)  # MiniSom: _xx[::-2] -= 0.5
            py = py * _Y_HEX
        return gi, gj, px, py

    def _device_grid(self, dtype):
        gi, gj, px, py = self._grid()
        return tuple(backend.asarray(a.astype(dtype)) for a in (gi, gj, px, py))

    def _neighborhood(self, grid, c, sigma):
        """``h_{c,u}(sigma)`` for winners ``c`` (backend ints, any shape S) -> ``S + (mn,)``.

        The four functions of MiniSom; gaussian and mexican hat use the euclidean unit
        positions (hexagonal aware), bubble and triangle the integer grid indices.
        """
        xp = backend.xp()
        gi, gj, px, py = grid
        c = c[..., None]
        f = self.neighborhood_function
        if f in ("gaussian", "mexican_hat"):
            p = (px - px[c]) ** 2 + (py - py[c]) ** 2  # squared grid distance
            d = 2.0 * sigma * sigma
            h = xp.exp(-p / d)
            return h if f == "gaussian" else h * (1.0 - 2.0 / d * p)
        di, dj = gi - gi[c], gj - gj[c]
        if f == "bubble":
            inside = (di > -sigma) & (di < sigma) & (dj > -sigma) & (dj < sigma)
            return inside.astype(px.dtype)
        return xp.maximum(sigma - xp.abs(di), 0.0) * xp.maximum(sigma - xp.abs(dj), 0.0)

    def neighborhood(self, c, sigma):
        """``h_{c,u}(sigma)`` of every unit u around the grid position ``c = (i, j)``, as
        an ``(m, n)`` array (MiniSom's ``neighborhood(c, sigma)``); see the class
        docstring for the four functions."""
        m, n = self._check_params()
        i, j = (check_count(v, "c", where=self._where(), minimum=0) for v in c)
        if i >= m or j >= n:
            raise ValueError(f"{self._where()}: argument 'c' must be a grid position "
                             f"inside ({m}, {n}), got {tuple(c)!r}")
        sigma = check_real(sigma, "sigma", where=self._where(), low=0.0, low_open=True)
        xp = backend.xp()
        h = self._neighborhood(self._device_grid(xp.float64), xp.asarray(i * n + j), sigma)
        return h.reshape(m, n)

    # ------------------------------------------------------------ distances
    def _distances(self, X, W):
        """Activation distances ``(N, mn)`` of rows of X to the units ``W (mn, D)``.

        Euclidean: ``||x||^2 - 2 x.w + ||w||^2`` as one matrix product (clipped at 0,
        square root taken, as MiniSom does). The others are formed directly, in blocks of
        rows to bound memory.
        """
        xp = backend.xp()
        kind = self.activation_distance
        if kind == "euclidean":
            return self._euclidean(X, W)
        if kind == "cosine":
            num = X @ W.T
            den = xp.sqrt((X * X).sum(axis=1))[:, None] * xp.sqrt((W * W).sum(axis=1))[None, :]
            return 1.0 - num / (den + 1e-8)
        step = max(1, _BLOCK_ELEMENTS // max(1, W.shape[0] * W.shape[1]))
        parts = []
        for a in range(0, X.shape[0], step):
            diff = xp.abs(X[a:a + step, None, :] - W[None, :, :])  # (rows, mn, D)
            parts.append(diff.sum(axis=2) if kind == "manhattan" else diff.max(axis=2))
        return parts[0] if len(parts) == 1 else xp.concatenate(parts)

    @staticmethod
    def _euclidean(X, W):
        """``||x - w||`` for all pairs ``(N, mn)``: :func:`mmscratch.distances.euclidean`
        (the expansion on centred data in float64 blocks, so float32 input loses
        nothing to cancellation)."""
        return distances.euclidean(X, W)

    def _bmu(self, X, W, second=False, euclidean=False):
        """Index of the best-matching unit of every row (and the second best), blocked.
        ``euclidean`` overrides ``activation_distance`` (MiniSom's errors do)."""
        xp = backend.xp()
        dist = self._euclidean if euclidean else self._distances
        step = max(1, _BLOCK_ELEMENTS // max(1, W.shape[0]))
        first, runner = [], []
        for a in range(0, X.shape[0], step):
            d = dist(X[a:a + step], W)  # (rows, mn)
            b = xp.argmin(d, axis=1)
            first.append(b)
            if second:
                rows = xp.arange(d.shape[0])
                d[rows, b] = xp.inf
                runner.append(xp.argmin(d, axis=1))

        def cat(p):
            return p[0] if len(p) == 1 else xp.concatenate(p)

        return (cat(first), cat(runner)) if second else cat(first)

    def _step_distance(self, diff, x, W):
        """Activation distance of one sample to every unit, ``diff = x - W (mn, D)``.
        Euclidean returns the squared distance (same argmin, no square root)."""
        xp = backend.xp()
        kind = self.activation_distance
        if kind == "euclidean":
            return xp.einsum("ij,ij->i", diff, diff)
        if kind == "manhattan":
            return xp.abs(diff).sum(axis=1)
        if kind == "chebyshev":
            return xp.abs(diff).max(axis=1)
        num = W @ x
        den = xp.sqrt((W * W).sum(axis=1)) * xp.sqrt((x * x).sum())
        return 1.0 - num / (den + 1e-8)

    # ------------------------------------------------------------ data and weights
    def _check_data(self, X, argument="X"):
        X = check_X(X, self._where(), argument)
        if hasattr(self, "weights_") and X.shape[1] != self.weights_.shape[2]:
            raise ValueError(f"{self._where()}: argument '{argument}' has {X.shape[1]} "
                             f"features, but weights_ has shape {tuple(self.weights_.shape)} "
                             f"(D = {self.weights_.shape[2]}): {argument} has {X.shape[1]} "
                             f"features, but SOM is expecting {self.weights_.shape[2]} "
                             "features as input")
        return X

    def _generator(self, n_features):
        """MiniSom's RandomState, after its first draw (the default initial weights)."""
        if getattr(self, "_rng_key", None) != (self.random_state, n_features):
            m, n = self._check_params()
            rs = self.random_state
            if rs is not None and not isinstance(rs, (numbers.Integral, np.random.RandomState)):
                raise TypeError(f"{self._where()}: argument 'random_state' must be None, an "
                                f"int or a numpy RandomState, got {type(rs).__name__}")
            rng = rs if isinstance(rs, np.random.RandomState) else np.random.RandomState(rs)
            w = rng.rand(m, n, n_features) * 2 - 1
            self._default_weights = w / np.linalg.norm(w, axis=-1, keepdims=True)
            self._rng = rng
            self._rng_key = (self.random_state, n_features)
        return self._rng

    def _set_weights(self, W):
        self.weights_ = W
        self.n_features_in_ = int(W.shape[2])

    def random_weights_init(self, X):
        """Start from ``m * n`` samples drawn with replacement from ``X`` (MiniSom's
        ``random_weights_init``: the same draws from the same seed). Returns ``self``."""
        X = check_X(X, self._where())
        m, n = self._check_params()
        picks = self._generator(X.shape[1]).randint(X.shape[0], size=m * n)
        self._set_weights(X[backend.asarray(picks)].reshape(m, n, X.shape[1]))
        return self

    def pca_weights_init(self, X):
        """Start on the plane of the first two principal components (MiniSom's
        ``pca_weights_init``): ``w_ij = mean + a_i pc_1 + b_j pc_2`` with ``a``, ``b``
        evenly spaced in [-1, 1] and ``pc_1``, ``pc_2`` unit eigenvectors of the
        covariance (ddof 1), each signed so its largest-magnitude entry is positive.
        Returns ``self``. Raises ``ValueError`` for data with fewer than 2 features."""
        xp = backend.xp()
        X = check_X(X, self._where())
        m, n = self._check_params()
        if X.shape[1] < 2:
            raise ValueError(f"{self._where()}: pca_weights_init needs at least 2 features, "
                             f"got X of shape {tuple(X.shape)}")
        if X.shape[0] < 2:
            raise ValueError(f"{self._where()}: pca_weights_init needs at least 2 samples")
        mean = X.mean(axis=0)
        Xc = X - mean
        evals, evecs = xp.linalg.eigh(Xc.T @ Xc / (X.shape[0] - 1))  # ascending
        pcs = evecs[:, ::-1][:, :2]  # (D, 2), largest first
        pivot = pcs[xp.argmax(xp.abs(pcs), axis=0), xp.arange(2)]
        pcs = pcs * xp.where(pivot < 0, -1.0, 1.0)
        a = backend.asarray(np.linspace(-1, 1, m).astype(X.dtype))
        b = backend.asarray(np.linspace(-1, 1, n).astype(X.dtype))
        W = (mean + a[:, None, None] * pcs[:, 0] + b[None, :, None] * pcs[:, 1])
        self._set_weights(W.astype(X.dtype))
        return self

    # ------------------------------------------------------------ training
    def fit(self, X, num_iteration=None, random_order=True, method="online"):
        """Train the map on ``X (N, D)``; returns ``self``.

        method="online" (MiniSom's ``train``): ``num_iteration`` single-sample steps;
        sample ``t`` is ``t mod N`` in order, or that list shuffled by the seeded
        RandomState when ``random_order``. eta and sigma decay with t over
        ``max_iter = num_iteration``.

        method="batch" (MiniSom's ``train_batch_offline``, Kohonen's batch SOM):
        ``num_iteration`` epochs over all samples; in epoch e every unit with
        neighbourhood mass moves to ``(1 - eta_e) w_u + eta_e sum_i h_{c_i,u} x_i /
        sum_i h_{c_i,u}`` (``learning_rate=1`` is Kohonen's pure batch rule).
        ``random_order`` is ignored there.

        ``num_iteration=None`` takes the constructor's ``num_iteration`` (scikit-learn's
        ``Pipeline``/``GridSearchCV`` call ``fit(X, None)``); one of the two is required.
        """
        where = self._where()
        X = self._check_data(X)
        if num_iteration is None:
            if self.num_iteration is None:
                raise TypeError(f"{where}: fit needs num_iteration (a positive int): pass "
                                "fit(X, num_iteration) or SOM(..., num_iteration=...)")
            num_iteration = self.num_iteration
        T = check_count(num_iteration, "num_iteration", where=where)
        if not isinstance(random_order, (bool, np.bool_)):
            raise TypeError(f"{where}: argument 'random_order' must be a bool, got "
                            f"{type(random_order).__name__} {random_order!r}")
        if method not in ("online", "batch"):
            raise ValueError(f"{where}: argument 'method' must be 'online' or 'batch', "
                             f"got {method!r}")
        m, n = self._check_params()
        rng = self._generator(X.shape[1])
        if not hasattr(self, "weights_"):
            self._set_weights(backend.asarray(self._default_weights.astype(X.dtype)))
        W = as_backend_array(self.weights_, "weights_", where)
        if tuple(W.shape) != (m, n, X.shape[1]):
            raise ValueError(f"{where}: weights_ must have shape (m, n, D) = "
                             f"({m}, {n}, {X.shape[1]}), got {tuple(W.shape)}")
        if W.dtype.kind != "f":
            W = W.astype(X.dtype)
        if self.neighborhood_function in ("bubble", "triangle") and \
                (float(self.sigma) % 1 != 0 or self.sigma < 1):
            warnings.warn(f"{where}: sigma should be an integer >= 1 with the "
                          f"{self.neighborhood_function} neighbourhood", stacklevel=2)
        W = W.reshape(m * n, X.shape[1]).astype(X.dtype, copy=True)  # (mn, D), our copy
        if method == "online":
            order = np.arange(T) % X.shape[0]
            if random_order:
                rng.shuffle(order)
            W = self._train_online(X, W, order, T)
        else:
            W = self._train_batch(X, W, T)
        self._set_weights(W.reshape(m, n, X.shape[1]))
        return self

    def _train_online(self, X, W, order, T):
        """The online rule, one sample per step, each step vectorized over the map."""
        xp = backend.xp()
        eta = _schedule(self._lr_decay(), float(self.learning_rate), T, T)
        sig = _schedule(SIGMA_DECAY_FUNCTIONS[self.sigma_decay_function],
                        float(self.sigma), T, T)
        grid = self._device_grid(W.dtype)
        diff = xp.empty_like(W)  # reused: a fresh (mn, D) array per step costs page faults
        for t in range(T):  # sequential: step t needs the weights after step t-1
            x = X[int(order[t])]  # (D,)
            xp.subtract(x, W, out=diff)  # x - w_u, (mn, D)
            c = xp.argmin(self._step_distance(diff, x, W))
            h = self._neighborhood(grid, c, float(sig[t])) * float(eta[t])  # (mn,)
            xp.multiply(diff, h[:, None], out=diff)
            W += diff
        return W

    def _train_batch(self, X, W, T):
        """Kohonen's batch rule: per epoch, all winners, then weighted means."""
        xp = backend.xp()
        eta = _schedule(self._lr_decay(), float(self.learning_rate), T, T)
        sig = _schedule(SIGMA_DECAY_FUNCTIONS[self.sigma_decay_function],
                        float(self.sigma), T, T)
        grid = self._device_grid(W.dtype)
        units = xp.arange(W.shape[0])
        # Train in coordinates centred on the data mean: distances do not change, the
        # update (weighted means, convex mixing) commutes with the shift, and the
        # expansion ||w||^2 - 2 x.w behind the winners no longer cancels catastrophically
        # for data far from the origin (distances.py's first remedy; its float64 upcast
        # would double the cost of the one product per epoch).
        offset = X.mean(axis=0)  # (D,)
        Xc, W = X - offset, W - offset
        for e in range(T):
            bmu = self._bmu_fast(Xc, W)  # (N,)
            # Samples summed per winning unit, then spread by the neighbourhood:
            # sum_i h[c_i, u] x_i = sum_c h[c, u] S_c, with S_c the sum of c's samples.
            S = _unit_sums(Xc, bmu, W.shape[0])  # (mn, D)
            counts = xp.bincount(bmu, minlength=W.shape[0]).astype(W.dtype)  # (mn,)
            H = self._neighborhood(grid, units, float(sig[e]))  # (mn winners, mn units)
            num = H.T @ S  # (mn, D)
            den = H.T @ counts  # (mn,)
            has = den > 0
            new = num / xp.where(has, den, 1.0)[:, None]
            W = xp.where(has[:, None], (1 - float(eta[e])) * W + float(eta[e]) * new, W)
        return W + offset

    def _bmu_fast(self, X, W):
        """Best-matching units of all rows for training, ``(N,)``. Euclidean:
        ``argmin_u ||w_u||^2 - 2 x.w_u`` (``||x||^2`` is the same for every u; no square
        root) in the input's dtype, one matrix product per block of rows; the caller
        centres the data first. The other distances through :meth:`_bmu`."""
        xp = backend.xp()
        if self.activation_distance != "euclidean":
            return self._bmu(X, W)
        w_sq = (W * W).sum(axis=1)  # (mn,)
        step = max(1, _BLOCK_ELEMENTS // max(1, W.shape[0]))
        parts = [xp.argmin(w_sq[None, :] - 2.0 * (X[a:a + step] @ W.T), axis=1)
                 for a in range(0, X.shape[0], step)]
        return parts[0] if len(parts) == 1 else xp.concatenate(parts)

    # ------------------------------------------------------------ using the map
    def _fitted_weights(self):
        check_is_fitted(self, "weights_")
        W = self.weights_
        return W.reshape(-1, W.shape[2])

    def winner(self, x):
        """Grid position ``(i, j)`` (Python ints) of the best-matching unit of one
        sample ``x (D,)``."""
        W = self._fitted_weights()
        x = check_X(x, self._where(), "x", allow_1d=True)
        if x.ndim != 1 or x.shape[0] != W.shape[1]:
            raise ValueError(f"{self._where()}: argument 'x' must have shape "
                             f"({W.shape[1]},), got {tuple(x.shape)}")
        u = int(backend.to_numpy(self._bmu(x[None, :], W))[0])
        return divmod(u, self.weights_.shape[1])

    def predict(self, X):
        """Grid positions of the best-matching units, ``(N, 2)`` ints ``(i, j)``."""
        xp = backend.xp()
        W = self._fitted_weights()
        u = self._bmu(self._check_data(X), W)
        return xp.stack([u // self.weights_.shape[1], u % self.weights_.shape[1]], axis=1)

    def transform(self, X):
        """Activation distances of every sample to every unit, ``(N, m, n)``."""
        W = self._fitted_weights()
        d = self._distances(self._check_data(X), W)
        return d.reshape(-1, self.weights_.shape[0], self.weights_.shape[1])

    def fit_transform(self, X, num_iteration=None, **fit_params):
        """``fit(X, num_iteration).transform(X)``; without any step count (here or in
        the constructor) 1000 steps, as before."""
        if num_iteration is None and self.num_iteration is None:
            num_iteration = 1000
        return self.fit(X, num_iteration, **fit_params).transform(X)

    def quantization(self, X):
        """The weights of each sample's euclidean best-matching unit, ``(N, D)``
        (euclidean whatever ``activation_distance``, as MiniSom's ``quantization``)."""
        W = self._fitted_weights()
        return W[self._bmu(self._check_data(X), W, euclidean=True)]

    def quantization_error(self, X):
        """Mean ``||x_i - w_{c_i}||`` over the samples (a Python float), ``c_i`` the
        euclidean best-matching unit (as MiniSom, whatever ``activation_distance``);
        the distance formed directly, not through the expansion."""
        X = self._check_data(X)
        diff = X - self.quantization(X)
        return float(backend.to_numpy(backend.xp().sqrt((diff * diff).sum(axis=1)).mean()))

    def activation_response(self, X):
        """How many samples each unit wins, ``(m, n)``."""
        xp = backend.xp()
        W = self._fitted_weights()
        u = self._bmu(self._check_data(X), W)
        return xp.bincount(u, minlength=W.shape[0]).reshape(self.weights_.shape[:2])

    def topographic_error(self, X):
        """Fraction of samples whose best and second-best units are not neighbours.

        Rectangular: neighbours when their grid positions are at most 1.42 apart (the
        8 surrounding units, MiniSom's rule). Hexagonal: when their euclidean positions
        are 1 apart (the 6 surrounding units). A 1 x 1 map has no neighbours: NaN, with
        a warning, as MiniSom. Best units by euclidean distance, as MiniSom.
        """
        xp = backend.xp()
        W = self._fitted_weights()
        if W.shape[0] == 1:
            warnings.warn("The topographic error is not defined for a 1-by-1 map.",
                          stacklevel=2)
            return float("nan")
        first, second = self._bmu(self._check_data(X), W, second=True, euclidean=True)
        _, _, px, py = self._device_grid(W.dtype)
        if self.topology == "hexagonal":
            dist = xp.sqrt((px[first] - px[second]) ** 2 + (py[first] - py[second]) ** 2)
            bad = xp.abs(dist - 1.0) > 1e-8 + 1e-5  # numpy.isclose's default tolerances
        else:
            dist = xp.sqrt((px[first] - px[second]) ** 2 + (py[first] - py[second]) ** 2)
            bad = dist > 1.42
        return float(backend.to_numpy(bad.astype(xp.float64).mean()))

    def _neighbour_table(self):
        """Host ``(mn, 8)`` table of each unit's grid neighbours, -1 where none.

        Rectangular: the 8 surrounding units. Hexagonal: the units at euclidean distance
        1, i.e. the 6 surrounding hexagons. (MiniSom 2.3.5's U-matrix hard-codes the hex
        offsets of odd ``n``; for even ``n`` they disagree with its own coordinates and
        topographic error. Deriving them from the coordinates agrees with it for odd n
        and is right for even n.)
        """
        m, n = self._check_params()
        gi, gj, px, py = self._grid()
        table = np.full((m * n, 8), -1, dtype=np.int64)
        k = 0
        for di, dj in ((0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1)):
            ti, tj = gi + di, gj + dj
            ok = (ti >= 0) & (ti < m) & (tj >= 0) & (tj < n)
            other = np.where(ok, ti * n + tj, 0)
            if self.topology == "hexagonal":
                d = np.hypot(px - px[other], py - py[other])
                ok &= np.isclose(d, 1.0)
            table[:, k] = np.where(ok, other, -1)
            k += 1
        return table

    def distance_map(self, scaling="sum"):
        """The U-matrix ``(m, n)``: each unit's summed (``scaling="sum"``) or mean
        (``"mean"``) euclidean distance to its grid neighbours, divided by the largest
        value (so in [0, 1]), as MiniSom's ``distance_map``. High cells separate
        clusters."""
        xp = backend.xp()
        W = self._fitted_weights()
        if scaling not in ("sum", "mean"):
            raise ValueError(f"{self._where()}: argument 'scaling' must be 'sum' or 'mean', "
                             f"got {scaling!r}")
        table = self._neighbour_table()
        valid = backend.asarray(table >= 0)  # (mn, 8)
        nb = W[backend.asarray(np.maximum(table, 0))]  # (mn, 8, D)
        d = xp.sqrt(((nb - W[:, None, :]) ** 2).sum(axis=2)) * valid
        um = d.sum(axis=1)
        if scaling == "mean":
            um = um / xp.maximum(valid.sum(axis=1), 1)
        return (um / um.max()).reshape(self.weights_.shape[:2])
