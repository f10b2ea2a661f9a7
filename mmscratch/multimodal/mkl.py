"""The document's "multimodal SVM": one kernel per modality, combined as a weighted sum.

Section 2 of the source document names the multimodal SVM as an example of a multimodal
model. The classical way to build one is multiple kernel learning: each modality m gets
its own kernel K_m (an RBF on the image features, another on the audio features...), and
the SVM is trained on the combination

    K = sum_m mu_m K_m,   mu_m >= 0,

which is again a kernel (a non-negative sum of positive semi-definite matrices), so the
SVM's dual and SMO apply unchanged (:class:`mmscratch.supervised.SVC`, ``precomputed``).
Kernel fusion sits between early fusion (one kernel on the concatenated features: one
bandwidth for all modalities) and late fusion (one SVM per modality, votes combined).

Weights from centred kernel-target alignment (Cortes, Mohri & Rostamizadeh, "Algorithms
for learning kernels based on centered alignment", JMLR 13, 2012). With the centring
matrix H = I - 11^T / n, K^c = H K H, and the target kernel K_Y = Y Y^T (Y the one-hot
labels, n x k), the centred alignment is

    A(K, K_Y) = <K^c, K_Y^c>_F / (||K^c||_F ||K_Y^c||_F).

``weights="alignment"`` is the paper's closed-form alignment-maximising combination
("alignf", their Proposition 9): with M_ml = <K_m^c, K_l^c>_F and a_m = <K_m^c, K_Y>_F,

    v* = argmin_{v >= 0} v^T M v - 2 v^T a,   mu = v* / sum(v*),

which maximises A(sum_m mu_m K_m, K_Y) over all mu >= 0. The paper normalises
mu = v* / ||v*||; the alignment does not depend on the scale, and dividing by the sum
instead keeps a combination of RBF kernels with unit diagonal (so ``C`` means what it
means for one RBF kernel). The small QP over the modalities is solved exactly by checking
the KKT conditions on every support set (2^M - 1 of them, M = number of modalities).

Chapter: chapters/05-future.md ("Support vector machines and the multimodal SVM").
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import backend
from ..base import BaseEstimator, ClassifierMixin, check_X
from ..errors import check_count, check_real
from ..supervised.kernels import KERNELS, pairwise_kernel, resolve_gamma
from ..supervised.svm import SVC

__all__ = ["MultiKernelSVC", "centered_alignment", "alignf_weights"]

_SPEC_KEYS = {"kernel", "gamma", "degree", "coef0"}


def _center(K):
    """H K H = K - row means - column means + grand mean, (n, n)."""
    r = K.mean(axis=1, keepdims=True)
    c = K.mean(axis=0, keepdims=True)
    return K - r - c + K.mean()


def _onehot(y_idx, k):
    xp = backend.xp()
    return (y_idx[:, None] == xp.arange(k)[None, :]).astype(xp.float64)  # (n, k)


def _target_products(Kc, Y):
    """<K^c, Y Y^T>_F = trace(Y^T K^c Y) without forming the n x n target."""
    return ((Kc @ Y) * Y).sum()


def _target_norm(Y):
    """||H Y Y^T H||_F = ||Y_c^T Y_c||_F, Y_c the centred one-hot columns."""
    Yc = Y - Y.mean(axis=0, keepdims=True)
    G = Yc.T @ Yc  # (k, k)
    return backend.xp().sqrt((G * G).sum())


def centered_alignment(K, y):
    """A(K, K_Y) = <K^c, K_Y^c>_F / (||K^c||_F ||K_Y^c||_F) for labels ``y`` (n,).

    K : (n, n) backend array. Returns a Python float in [-1, 1].
    """
    xp = backend.xp()
    classes, y_idx = xp.unique(y, return_inverse=True)
    Y = _onehot(y_idx.reshape(-1), classes.shape[0])
    Kc = _center(K)
    num = _target_products(Kc, Y)
    den = xp.sqrt((Kc * Kc).sum()) * _target_norm(Y)
    return float(backend.to_numpy(num / den))


def alignf_weights(M, a):
    """argmin_{v >= 0} v^T M v - 2 v^T a, normalised to sum 1 (host arrays (p, p), (p,)).

    Exact: for each support set S, v_S solves M_SS v_S = a_S; the optimum is the one with
    v_S > 0 whose gradient 2 (M v - a) is >= 0 outside S (KKT of this convex QP). Among
    several KKT points (M singular) the lowest objective wins.
    """
    M = np.asarray(M, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    p = a.size
    best, best_obj = None, np.inf
    for size in range(1, p + 1):
        for S in itertools.combinations(range(p), size):
            S = list(S)
            vS = np.linalg.lstsq(M[np.ix_(S, S)], a[S], rcond=None)[0]
            if (vS <= 0).any():
                continue
            v = np.zeros(p)
            v[S] = vS
            g = M @ v - a
            if (np.delete(g, S) < -1e-12 * max(1.0, np.abs(a).max())).any():
                continue
            obj = v @ M @ v - 2 * v @ a
            if obj < best_obj:
                best, best_obj = v, obj
    if best is None or best.sum() <= 0:  # no kernel is positively aligned with the labels
        return np.full(p, 1.0 / p)
    return best / best.sum()


class MultiKernelSVC(ClassifierMixin, BaseEstimator):
    """SVM on a weighted sum of per-modality kernels (multiple kernel learning).

    Parameters
    ----------
    kernels : dict modality -> kernel spec
        A spec is an SVC kernel name (``"rbf"``, ``"linear"``, ``"poly"``, ``"sigmoid"``)
        or a dict of SVC kernel keywords ``{"kernel": "rbf", "gamma": 0.01, "degree": 3,
        "coef0": 0.0}`` (missing keys take SVC's defaults; ``gamma="scale"`` is resolved on
        that modality's own training data).
    weights : "alignment", "uniform", or dict modality -> float >= 0
        ``"alignment"``: Cortes et al.'s alignment-maximising combination (module doc),
        normalised to sum 1; ``"uniform"``: 1 / M each; a dict: used as given.
    C, tol, max_iter : as :class:`mmscratch.supervised.SVC`.

    Notes
    -----
    ``fit(X, y)`` and ``predict(X)`` take ``X`` as a dict modality -> array ``(n, ...)``
    (each flattened to ``(n, d_m)``) holding exactly the modalities of ``kernels``.

    Attributes
    ----------
    kernel_weights_ : dict modality -> float, the mu_m used.
    alignments_ : dict modality -> float, each kernel's centred alignment with the labels.
    gammas_ : dict modality -> float, the resolved gamma of each kernel.
    svc_ : the fitted :class:`SVC` (``kernel="precomputed"``) on the combined kernel.
    classes_, support_ : as SVC.

    Notes
    -----
    Cost: the M training kernels (n, n) and their centred copies are held at once
    (8 n^2 bytes each, float64, on the backend).

    Raises
    ------
    ValueError
        A modality missing from ``X`` or not in ``kernels``, different sample counts,
        a bad kernel spec or weight (named), and everything SVC refuses.
    NotFittedError
        ``predict`` before ``fit``.

    Chapter: chapters/05-future.md.
    """

    def __init__(self, kernels, weights="alignment", C=1.0, tol=1e-3, max_iter=-1):
        self.kernels = kernels
        self.weights = weights
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

    # ----------------------------------------------------------------- checks
    def _specs(self):
        w = self._where()
        if not isinstance(self.kernels, dict) or not self.kernels:
            raise ValueError(f"{w}: argument 'kernels' must be a non-empty dict modality -> "
                             f"kernel spec, got {self.kernels!r}")
        specs = {}
        for m, spec in self.kernels.items():
            if isinstance(spec, str):
                spec = {"kernel": spec}
            if not isinstance(spec, dict) or not set(spec) <= _SPEC_KEYS:
                raise ValueError(f"{w}: argument 'kernels[{m!r}]' must be a kernel name "
                                 f"{KERNELS} or a dict with keys from {sorted(_SPEC_KEYS)}, "
                                 f"got {spec!r}")
            full = {"kernel": "rbf", "gamma": "scale", "degree": 3, "coef0": 0.0, **spec}
            if full["kernel"] not in KERNELS:
                raise ValueError(f"{w}: argument 'kernels[{m!r}]' names kernel "
                                 f"{full['kernel']!r}; expected one of {KERNELS}")
            specs[m] = full
        return specs

    def _views(self, X, specs, n=None):
        w = self._where()
        if not isinstance(X, dict):
            raise ValueError(f"{w}: argument 'X' must be a dict modality -> array with the "
                             f"modalities {sorted(specs)}, got {type(X).__name__}")
        missing = [m for m in specs if m not in X]
        extra = [m for m in X if m not in specs]
        if missing or extra:
            raise ValueError(f"{w}: argument 'X' must hold exactly the modalities "
                             f"{sorted(specs)}; missing {missing}, not in 'kernels' {extra} "
                             "(pass {m: X[m] for m in kernels})")
        views = {}
        for m in specs:
            a = X[m]
            if backend.is_array(a) and a.ndim > 2:
                a = a.reshape(a.shape[0], -1)
            elif not backend.is_array(a):
                host = np.asarray(a)
                a = host.reshape(host.shape[0], -1) if host.ndim > 2 else host
            v = check_X(a, w, argument=f"X[{m!r}]").astype(backend.xp().float64)
            views[m] = v
        counts = {m: v.shape[0] for m, v in views.items()}
        if len(set(counts.values())) > 1:
            raise ValueError(f"{w}: the modalities have different numbers of samples: "
                             f"{counts}")
        if n is not None and next(iter(counts.values())) != n:
            raise ValueError(f"{w}: X has {next(iter(counts.values()))} samples but y has "
                             f"{n}; they must match")
        return views

    def _kernel(self, m, A, B=None):
        s = self._specs_[m]
        return pairwise_kernel(A, B, s["kernel"], gamma=self.gammas_[m], degree=s["degree"],
                               coef0=s["coef0"])

    # -------------------------------------------------------------------- fit
    def fit(self, X, y):
        """Build every modality's kernel, weight them, train the SVM; returns ``self``.

        X : dict modality -> (n, ...) arrays; y : (n,) labels.
        """
        w = self._where()
        check_real(self.C, "C", where=w, low=0.0, low_open=True)
        specs = self._specs()
        from ..base import as_backend_array  # noqa: PLC0415

        y = as_backend_array(y, "y", w)
        if y.ndim != 1:
            raise ValueError(f"{w}: argument 'y' must be 1-D (n_samples,), got shape "
                             f"{tuple(y.shape)}")
        views = self._views(X, specs, n=y.shape[0])
        self._specs_ = specs
        self.gammas_ = {}
        Ks = {}
        for m, v in views.items():
            s = specs[m]
            self.gammas_[m] = resolve_gamma(s["gamma"], v, f"{w}: kernels[{m!r}]")
            check_count(s["degree"], f"kernels[{m!r}]['degree']", where=w, minimum=0)
            check_real(s["coef0"], f"kernels[{m!r}]['coef0']", where=w)
            Ks[m] = self._kernel(m, v)
        svc = SVC(C=self.C, kernel="precomputed", tol=self.tol, max_iter=self.max_iter)
        svc._check_params()
        classes_host = np.unique(backend.to_numpy(y))
        if classes_host.size < 2:
            raise ValueError(f"{w}: y has a single class ({classes_host[0]!r}); a "
                             "classifier needs at least 2 classes")
        self.kernel_weights_, self.alignments_ = self._weights(Ks, y)
        K = sum(self.kernel_weights_[m] * Ks[m] for m in Ks)
        self.svc_ = svc.fit(K, y)
        self.classes_ = self.svc_.classes_
        self.support_ = self.svc_.support_
        self._sv = {m: v[self.support_] for m, v in views.items()}
        self.n_features_in_ = {m: v.shape[1] for m, v in views.items()}
        return self

    def _weights(self, Ks, y):
        w = self._where()
        xp = backend.xp()
        names = list(Ks)
        classes, y_idx = xp.unique(y, return_inverse=True)
        Y = _onehot(y_idx.reshape(-1), classes.shape[0])
        Kcs = {m: _center(K) for m, K in Ks.items()}
        norms = {m: xp.sqrt((Kc * Kc).sum()) for m, Kc in Kcs.items()}
        a = {m: _target_products(Kc, Y) for m, Kc in Kcs.items()}
        ynorm = _target_norm(Y)
        align = {m: float(backend.to_numpy(a[m] / (norms[m] * ynorm))) for m in names}
        if isinstance(self.weights, str):
            if self.weights == "uniform":
                return {m: 1.0 / len(names) for m in names}, align
            if self.weights != "alignment":
                raise ValueError(f"{w}: argument 'weights' must be 'alignment', 'uniform' "
                                 f"or a dict modality -> float >= 0, got {self.weights!r}")
            M = np.array([[float(backend.to_numpy((Kcs[p] * Kcs[q]).sum())) for q in names]
                          for p in names])
            av = np.array([float(backend.to_numpy(a[m])) for m in names])
            mu = alignf_weights(M, av)
            return {m: float(mu[i]) for i, m in enumerate(names)}, align
        if not isinstance(self.weights, dict) or set(self.weights) != set(names):
            raise ValueError(f"{w}: argument 'weights' given as a dict must have exactly the "
                             f"modalities {sorted(names)}, got {self.weights!r}")
        out = {m: check_real(self.weights[m], f"weights[{m!r}]", where=w, low=0.0)
               for m in names}
        if sum(out.values()) <= 0:
            raise ValueError(f"{w}: argument 'weights' must have a positive entry, got "
                             f"{self.weights!r}")
        return out, align

    # ----------------------------------------------------------------- predict
    def _sv_kernel(self, X):
        self._check_is_fitted("svc_")
        views = self._views(X, self._specs_)
        for m, v in views.items():
            if v.shape[1] != self.n_features_in_[m]:
                raise ValueError(f"{self._where()}: X[{m!r}] has {v.shape[1]} features, but "
                                 f"the model was fitted with {self.n_features_in_[m]}")
        return sum(self.kernel_weights_[m] * self._kernel(m, v, self._sv[m])
                   for m, v in views.items())

    def decision_function(self, X):
        """SVC's decision values on the combined kernel (binary (n,), else (n, k) ovr)."""
        K = self._sv_kernel(X)  # checks fitted first
        return self.svc_._decision_from_kernel(K)

    def predict(self, X):
        """Labels by the one-vs-one vote of the SVM on the combined kernel. (n,)"""
        K = self._sv_kernel(X)  # checks fitted first
        return self.svc_._predict_from_kernel(K)
