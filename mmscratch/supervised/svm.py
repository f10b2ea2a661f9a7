"""Support vector machines: ``SVC`` (kernel SVM, dual solved by SMO) and ``LinearSVC``.

The soft-margin SVM (Cortes & Vapnik 1995) separates two classes y in {-1, +1} by the
hyperplane f(x) = w . phi(x) + b with the widest margin, paying C per unit of violation:

    min_{w, b}  1/2 ||w||^2 + C sum_i L(y_i f(x_i)),
    L(m) = max(0, 1 - m)  (hinge)   or   max(0, 1 - m)^2  (squared hinge).

``SVC`` solves the dual of the hinge problem for any kernel K(x, z) = phi(x) . phi(z)
with SMO (``_smo.py``; libsvm's algorithm) and predicts with

    f(x) = sum_{i in SV} a_i y_i K(x_i, x) + b,

so only the support vectors (a_i > 0) matter. Several classes: one binary SVM per pair
of classes and a vote (one-vs-one, as libsvm). ``LinearSVC`` works on w directly
(phi(x) = x, one binary problem per class: one-vs-rest, as liblinear).

Chapter: chapters/05-future.md ("Support vector machines and the multimodal SVM").
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend
from ..base import (
    BaseEstimator,
    ClassifierMixin,
    as_backend_array,
    check_discrete_labels,
    check_X,
    check_X_y,
    check_y_given,
)
from ..errors import ConvergenceWarning, check_count, check_real
from . import _smo, kernels
from ._common import check_sparse, is_sparse, sparse_dot, sparse_t_dot
from .kernels import KERNELS, pairwise_kernel, resolve_gamma

__all__ = ["SVC", "LinearSVC"]

#: Largest kernel matrix (bytes, float32 on the host) that SVC.fit keeps whole; above it
#: each pair of classes gets its own block, computed when that pair is trained.
FULL_KERNEL_BYTES = 2 << 30
#: Largest kernel block (elements) computed on the backend at once (bounds device memory).
_BLOCK_ELEMENTS = 1 << 24
#: Most features ``LinearSVC(loss="hinge")`` accepts from a sparse X: the interior-point
#: method densifies X (n x d) and factors a (d+1, d+1) matrix per class and step.
HINGE_SPARSE_MAX_FEATURES = 2000


def _classes(y, where):
    """Host label set (sorted, as ``np.unique``) and each sample's class index."""
    check_discrete_labels(y, where)
    y_host = backend.to_numpy(y)
    classes, y_idx = np.unique(y_host, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"{where}: y has a single class (1 class, label {classes[0]!r}); "
                         "a classifier needs at least 2 classes")
    return classes, y_idx.reshape(-1)


def _store_classes(classes):
    """``classes_`` on the backend when numeric (predict indexes it there), else host."""
    return backend.asarray(classes) if classes.dtype.kind in "biuf" else classes


def _labels(classes_, idx):
    """``classes_[idx]`` for backend class indices ``idx``."""
    if backend.is_array(classes_) and backend._array_backend(classes_) == backend.name():
        return classes_[idx]
    return classes_[backend.to_numpy(idx)]


def _check_fitted_x(est, X, n_features):
    X = check_X(X, est._where())
    if X.shape[1] != n_features:
        raise ValueError(f"{est._where()}: X has {X.shape[1]} features, but "
                         f"{type(est).__name__} is expecting {n_features} features as input")
    return X


# ---------------------------------------------------------------------------- SVC
class SVC(ClassifierMixin, BaseEstimator):
    """C-support vector classification with a kernel, libsvm's algorithm from scratch.

    Training solves, for each pair of classes (one-vs-one), the dual

        min_a 1/2 a^T Q a - e^T a,  Q_ij = y_i y_j K(x_i, x_j),  0 <= a_i <= C,  y^T a = 0

    by SMO with second-order working-set selection (Fan, Chen & Lin 2005; libsvm's
    ``Solver`` without shrinking, see :mod:`mmscratch.supervised._smo`).

    Parameters
    ----------
    C : float > 0
        Cost of margin violations (the box a_i <= C).
    kernel : {"rbf", "linear", "poly", "sigmoid", "precomputed"}
        K(x, z): ``x . z``; ``(gamma x . z + coef0)^degree``; ``exp(-gamma ||x - z||^2)``;
        ``tanh(gamma x . z + coef0)``; or ``X`` is already the Gram matrix (fit: (n, n);
        predict: (n_test, n_train)).
    degree : int >= 0
        Degree of ``poly``.
    gamma : "scale", "auto" or float > 0
        ``"scale"``: 1 / (n_features X.var()), ``"auto"``: 1 / n_features.
    coef0 : float
        Constant of ``poly`` and ``sigmoid``.
    tol : float > 0
        SMO stops when the maximal KKT violation is below ``tol`` (libsvm's ``eps``).
    max_iter : int
        SMO iterations per pair of classes; -1: no limit but libsvm's
        ``max(10^7, 100 n)``. Reaching it warns with ``ConvergenceWarning``.
    decision_function_shape : {"ovr", "ovo"}
        Shape of :meth:`decision_function` with more than two classes (scikit-learn's
        name and default).

    Attributes
    ----------
    classes_ : (k,) the labels, sorted.
    support_ : (n_SV,) int32 indices of the support vectors in the training set,
        grouped by class (in ``classes_`` order), increasing within a class.
    support_vectors_ : (n_SV, d) float64 (empty (0, 0) for ``precomputed``).
    n_support_ : (k,) int32 support vectors per class.
    dual_coef_ : (k - 1, n_SV) float64: y_i a_i of each support vector in each of the
        k - 1 pair problems its class takes part in (libsvm's ``sv_coef`` layout: for the
        pair (p, q), p < q, the coefficients of class p's vectors are in row q - 1 and
        class q's in row p). Binary: a_i for ``classes_[1]``, -a_i for ``classes_[0]``.
    intercept_ : (k (k - 1) / 2,) float64, b = -rho of each pair (0, 1), (0, 2), ...,
        (1, 2), ...; binary: the sign makes positive scores mean ``classes_[1]``.
    n_iter_ : (k (k - 1) / 2,) int32 SMO iterations per pair (host array).

    Notes
    -----
    The attributes have scikit-learn's names and layout and are backend arrays.

    Host/device split: the kernel matrix is computed on the active backend in row blocks
    (matrix products, float64) and copied once to the host as float32 (libsvm's
    ``Qfloat``); SMO's iterations run there (see ``_smo.py``). The whole n x n matrix is
    kept when it takes at most ``FULL_KERNEL_BYTES`` (2 GiB, n <= ~23,000); above that,
    each pair of classes gets its own block. No LRU row cache: with the matrix whole,
    every kernel value is computed once, by BLAS. Prediction (kernel between the test
    points and the support vectors, one product with the coefficients, votes) runs
    entirely on the backend.

    Raises
    ------
    ValueError
        NaN/inf, wrong ndim, mismatched counts, a single class, a bad hyperparameter
        (named), a non-square precomputed kernel.
    NotFittedError
        ``predict``/``decision_function`` before ``fit``.

    References
    ----------
    Chang & Lin, LIBSVM (2011); Fan, Chen & Lin, JMLR 6 (2005);
    Platt (1998); scikit-learn's ``sklearn.svm.SVC``.
    Chapter: chapters/05-future.md.
    """

    def __init__(self, C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0, tol=1e-3,
                 max_iter=-1, decision_function_shape="ovr"):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.max_iter = max_iter
        self.decision_function_shape = decision_function_shape

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        w = self._where()
        C = check_real(self.C, "C", where=w, low=0.0, low_open=True)
        if self.kernel not in KERNELS + ("precomputed",):
            raise ValueError(f"{w}: argument 'kernel' must be one of "
                             f"{KERNELS + ('precomputed',)}, got {self.kernel!r}")
        degree = check_count(self.degree, "degree", where=w, minimum=0)
        coef0 = check_real(self.coef0, "coef0", where=w)
        tol = check_real(self.tol, "tol", where=w, low=0.0, low_open=True)
        max_iter = check_count(self.max_iter, "max_iter", where=w, minimum=-1)
        if max_iter == 0:
            raise ValueError(f"{w}: argument 'max_iter' must be -1 (no limit) or >= 1, got 0")
        if self.decision_function_shape not in ("ovr", "ovo"):
            raise ValueError(f"{w}: argument 'decision_function_shape' must be 'ovr' or "
                             f"'ovo', got {self.decision_function_shape!r}")
        if self.gamma not in ("scale", "auto"):
            resolve_gamma(self.gamma, None, w)  # type/sign check before touching data
        return C, degree, coef0, tol, max_iter

    def _kernel(self, A, B=None):
        """K(A, B) on the backend in float64, computed in row blocks. (n, d), (m, d)."""
        xp = backend.xp()
        m = A.shape[0] if B is None else B.shape[0]
        step = max(1, _BLOCK_ELEMENTS // max(1, m))
        kw = dict(gamma=self._gamma, degree=self._degree, coef0=self._coef0)
        if A.shape[0] <= step:
            return pairwise_kernel(A, B, self.kernel, **kw)
        Bm = A if B is None else B
        return xp.concatenate([pairwise_kernel(A[s:s + step], Bm, self.kernel, **kw)
                               for s in range(0, A.shape[0], step)])

    def _host_kernel(self, A, B=None):
        """K(A, B) computed on the backend, copied to the host as float32 (Qfloat).

        The training kernel K(A, A) is one symmetric product when it has at most
        ``SELF_GRAM_ELEMENTS`` entries (BLAS ``syrk``, half the flops), else row blocks.
        """
        if B is None and A.shape[0] * A.shape[0] <= kernels.SELF_GRAM_ELEMENTS:
            kw = dict(gamma=self._gamma, degree=self._degree, coef0=self._coef0)
            # cast on the backend: half the bytes cross the bus on a GPU
            K = pairwise_kernel(A, None, self.kernel, **kw).astype(backend.xp().float32)
            return backend.to_numpy(K)
        m = A.shape[0] if B is None else B.shape[0]
        step = max(1, _BLOCK_ELEMENTS // max(1, m))
        out = np.empty((A.shape[0], m), dtype=np.float32)
        for s in range(0, A.shape[0], step):
            block = self._kernel(A[s:s + step], A if B is None else B)
            out[s:s + step] = backend.to_numpy(block.astype(backend.xp().float32))
        return out

    # --------------------------------------------------------------------- fit
    def fit(self, X, y):
        """Train one SMO problem per pair of classes; returns ``self``.

        X : (n, d) features (``precomputed``: the (n, n) Gram matrix); y : (n,) labels.
        """
        w = self._where()
        C, self._degree, self._coef0, tol, max_iter = self._check_params()
        X, y = check_X_y(X, y, w)
        xp = backend.xp()
        n = X.shape[0]
        precomputed = self.kernel == "precomputed"
        if precomputed and X.shape[0] != X.shape[1]:
            raise ValueError(f"{w}: with kernel='precomputed', X must be the square Gram "
                             f"matrix (n_samples, n_samples), got shape {tuple(X.shape)}")
        classes, y_idx = _classes(y, w)
        X = X.astype(xp.float64)
        self._gamma = 0.0 if precomputed else resolve_gamma(self.gamma, X, w)

        # Group the samples by class (stable: original order within a class), as libsvm.
        order = np.argsort(y_idx, kind="stable")
        counts = np.bincount(y_idx, minlength=classes.size)
        starts = np.concatenate([[0], np.cumsum(counts)])
        k = classes.size
        order_dev = backend.asarray(order)
        Xs = X[order_dev]
        if precomputed:
            Kfull = backend.to_numpy(Xs[:, order_dev]).astype(np.float32)
        elif 4 * n * n <= FULL_KERNEL_BYTES:
            Kfull = self._host_kernel(Xs)
        else:
            Kfull = None

        alphas, rhos, n_iter = [], [], []
        for p in range(k):
            for q in range(p + 1, k):
                rp = np.arange(starts[p], starts[p + 1])
                rq = np.arange(starts[q], starts[q + 1])
                Kpq = self._pair_kernel(Kfull, Xs, rp, rq)
                ysub = np.concatenate([np.ones(rp.size), -np.ones(rq.size)])
                a, rho, it, ok = _smo.smo_solve(Kpq, ysub, C, tol, max_iter)
                if not ok:
                    warnings.warn(f"{w}: SMO stopped at max_iter={max_iter} for classes "
                                  f"{classes[p]!r} vs {classes[q]!r} before reaching "
                                  f"tol={tol}", ConvergenceWarning, stacklevel=2)
                alphas.append(a)
                rhos.append(rho)
                n_iter.append(it)
        self._assemble(alphas, rhos, starts, order, X, n)
        self.classes_ = _store_classes(classes)
        self.n_iter_ = np.asarray(n_iter, dtype=np.int32)
        self.shape_fit_ = tuple(X.shape)
        self.n_features_in_ = X.shape[1]
        return self

    def _pair_kernel(self, Kfull, Xs, rp, rq):
        """Kernel block of the samples of classes p and q, class p first (host)."""
        if Kfull is None:
            rows = backend.asarray(np.concatenate([rp, rq]))
            return self._host_kernel(Xs[rows])
        if rp[-1] + 1 == rq[0]:  # adjacent classes: a view, no copy
            return Kfull[rp[0]:rq[-1] + 1, rp[0]:rq[-1] + 1]
        rows = np.concatenate([rp, rq])
        return Kfull[np.ix_(rows, rows)]

    def _assemble(self, alphas, rhos, starts, order, X, n):
        """libsvm's model layout (``svm_train``): support vectors grouped by class."""
        k = starts.size - 1
        nonzero = np.zeros(n, dtype=bool)  # in class-sorted order
        pair = 0
        for p in range(k):
            for q in range(p + 1, k):
                a = alphas[pair]
                n_p = starts[p + 1] - starts[p]
                nonzero[starts[p]:starts[p + 1]] |= a[:n_p] > 0
                nonzero[starts[q]:starts[q + 1]] |= a[n_p:] > 0
                pair += 1
        sv_sorted = np.flatnonzero(nonzero)  # positions in class-sorted order
        pos_of = -np.ones(n, dtype=np.int64)
        pos_of[sv_sorted] = np.arange(sv_sorted.size)
        coef = np.zeros((max(k - 1, 1), sv_sorted.size))
        pair = 0
        for p in range(k):
            for q in range(p + 1, k):
                a = alphas[pair]
                n_p = starts[p + 1] - starts[p]
                ip = np.arange(starts[p], starts[p + 1])
                iq = np.arange(starts[q], starts[q + 1])
                mp, mq = a[:n_p] > 0, a[n_p:] > 0
                coef[q - 1, pos_of[ip[mp]]] = a[:n_p][mp]
                coef[p, pos_of[iq[mq]]] = -a[n_p:][mq]
                pair += 1
        intercept = -np.asarray(rhos, dtype=np.float64)
        # The libsvm-sign model: decision of pair (p, q) > 0 votes for p.
        self._coef_libsvm = coef
        self._intercept_libsvm = intercept
        support = order[sv_sorted]
        self.support_ = backend.asarray(support.astype(np.int32))
        self.n_support_ = backend.asarray(np.bincount(
            np.searchsorted(starts, sv_sorted, side="right") - 1, minlength=k)
            .astype(np.int32))
        if self.kernel == "precomputed":
            self.support_vectors_ = backend.xp().zeros((0, 0))
            self._sv = None
        else:
            self.support_vectors_ = X[backend.asarray(support)]
            self._sv = self.support_vectors_
        if k == 2:  # scikit-learn flips the binary model so that > 0 means classes_[1]
            self.dual_coef_ = backend.asarray(-coef)
            self.intercept_ = backend.asarray(-intercept)
        else:
            self.dual_coef_ = backend.asarray(coef)
            self.intercept_ = backend.asarray(intercept)
        self._pair_weights = backend.asarray(self._ovo_weights(coef, k))

    def _ovo_weights(self, coef, k):
        """(n_SV, n_pairs) matrix W with decision_ovo = K(X, SV) @ W + intercept (host)."""
        n_sv = coef.shape[1]
        nsv = np.bincount(self._sv_class(), minlength=k)
        sv_start = np.concatenate([[0], np.cumsum(nsv)])
        W = np.zeros((n_sv, k * (k - 1) // 2))
        pair = 0
        for p in range(k):
            for q in range(p + 1, k):
                W[sv_start[p]:sv_start[p + 1], pair] = coef[q - 1, sv_start[p]:sv_start[p + 1]]
                W[sv_start[q]:sv_start[q + 1], pair] = coef[p, sv_start[q]:sv_start[q + 1]]
                pair += 1
        return W

    def _sv_class(self):
        n_support = backend.to_numpy(self.n_support_)
        return np.repeat(np.arange(n_support.size), n_support)

    # ----------------------------------------------------------------- predict
    def _sv_kernel(self, X):
        """K(X, support vectors) (n_test, n_SV) on the backend, float64."""
        self._check_is_fitted("support_")
        w = self._where()
        if self.kernel == "precomputed":
            X = check_X(X, w)
            n_train = self.shape_fit_[0]
            if X.shape[1] != n_train:
                raise ValueError(f"{w}: with kernel='precomputed', X must be the kernel "
                                 f"between the test and the {n_train} training samples, "
                                 f"shape (n_test, {n_train}); got {tuple(X.shape)}")
            return X.astype(backend.xp().float64)[:, self.support_]
        X = _check_fitted_x(self, X, self.n_features_in_).astype(backend.xp().float64)
        return self._kernel(X, self._sv)

    def _decision_ovo_from_kernel(self, Ksv):
        """libsvm-sign pairwise decisions (n, n_pairs): > 0 votes for the pair's first class."""
        return Ksv @ self._pair_weights + backend.asarray(self._intercept_libsvm)

    def _predict_from_kernel(self, Ksv):
        xp = backend.xp()
        dec = self._decision_ovo_from_kernel(Ksv)  # (n, P)
        k = len(self.classes_)
        first, second = np.triu_indices(k, 1)  # pairs (0,1), (0,2), ..., (1,2), ...
        E1 = backend.asarray(np.eye(k)[first])  # (P, k)
        E2 = backend.asarray(np.eye(k)[second])
        win = (dec > 0).astype(xp.float64)
        votes = win @ E1 + (1.0 - win) @ E2  # (n, k); libsvm: dec == 0 votes for q
        return _labels(self.classes_, xp.argmax(votes, axis=1))  # first max, as libsvm

    def _decision_from_kernel(self, Ksv):
        xp = backend.xp()
        dec = self._decision_ovo_from_kernel(Ksv)
        k = len(self.classes_)
        if k == 2:
            return -dec[:, 0]
        if self.decision_function_shape == "ovo":
            return dec
        # scikit-learn's _ovr_decision_function: votes plus confidences squashed into
        # (-1/3, 1/3), so that the argmax agrees with the vote and breaks its ties.
        first, second = np.triu_indices(k, 1)
        E1 = backend.asarray(np.eye(k)[first])  # (P, k)
        E2 = backend.asarray(np.eye(k)[second])
        win = (dec > 0).astype(xp.float64)
        votes = win @ E1 + (1.0 - win) @ E2
        conf = dec @ E1 - dec @ E2  # pair (p, q): +dec to p, -dec to q
        return votes + conf / (3.0 * (xp.abs(conf) + 1.0))

    def decision_function(self, X):
        """Scores: binary ``(n,)`` = f(x) = sum_SV dual_coef_ K(sv, x) + intercept_
        (> 0 means ``classes_[1]``); several classes ``(n, k)`` one-vs-rest shaped as
        scikit-learn's default ``decision_function_shape="ovr"`` (votes + squashed
        summed confidences), or the ``(n, k(k-1)/2)`` pairwise values with "ovo"."""
        return self._decision_from_kernel(self._sv_kernel(X))

    def predict(self, X):
        """Labels by libsvm's one-vs-one vote (ties to the smaller class index). (n,)"""
        return self._predict_from_kernel(self._sv_kernel(X))


# ---------------------------------------------------------------------- LinearSVC
class LinearSVC(ClassifierMixin, BaseEstimator):
    """Linear SVM in the primal, one-vs-rest, liblinear's problem.

    For each class c (one binary problem with y_i = +1 for class c, -1 otherwise; a
    single problem for two classes, +1 = ``classes_[1]``), with x~ = [x, s] (``s =
    intercept_scaling``, so the bias is regularised like every weight, as liblinear):

        min_w  1/2 ||w||^2 + C sum_i L(y_i w . x~_i)

    * ``loss="squared_hinge"`` (default), L(m) = max(0, 1 - m)^2: differentiable, solved
      by Newton's method with conjugate gradients on the generalised Hessian
      H = I + 2 C X_A^T X_A (A: points with margin < 1; Jacobi-preconditioned CG) and a
      backtracking line search
      (Keerthi & DeCoste 2005; liblinear's primal solver uses the same Newton system
      inside a trust region). Stops when ||grad|| <= tol ||grad at w=0||. The solver
      touches X only through the products X~ W, X~^T V and (X~ * X~)^T A, so a sparse X
      is never densified (see ``_SparseDesign``).
    * ``loss="hinge"``, L(m) = max(0, 1 - m): solved in the dual
      min_a 1/2 a^T Q a - e^T a, 0 <= a_i <= C, Q_ij = y_i y_j x~_i . x~_j, w = sum a_i y_i x~_i
      (liblinear's problem; Hsieh et al. 2008 sweep it one a_i at a time, which would be
      a Python loop over samples here, so it is solved instead by a primal-dual
      interior-point method whose steps are matrix products and one (d+1, d+1) solve
      per class, see ``_ipm_hinge``). Stops when the KKT residual is below ``tol``.
      Each step costs O(n d^2): quick for tens or hundreds of features, slow for
      thousands (20 Newsgroups TF-IDF(1000): ~100x liblinear's time, which exploits
      sparsity); the default squared hinge is the fast choice there. A sparse X is
      densified for this loss (the (d+1, d+1) matrices are dense anyway) when it has at
      most ``HINGE_SPARSE_MAX_FEATURES`` (2000) features, and refused above that.

    All classes' problems run together as the columns of one (d + 1, k) matrix.

    Parameters
    ----------
    C : float > 0; loss : "squared_hinge" or "hinge"; max_iter : int >= 1 (Newton or interior-point
    iterations); tol : float > 0; fit_intercept : bool; intercept_scaling : float > 0.

    Attributes
    ----------
    coef_ : (1, d) for two classes, else (k, d); intercept_ : (1,) or (k,); classes_;
    n_iter_ : int, the most iterations any class needed.

    Notes
    -----
    ``X`` is a dense (n, d) array or a sparse matrix of ``backend.sparse()`` (CSR, as
    ``CountVectorizer`` / ``TfidfVectorizer`` give it; CSC, COO... are converted to CSR),
    in ``fit``, ``decision_function`` and ``predict``.

    Raises
    ------
    ValueError
        NaN/inf (also among a sparse matrix's stored values), wrong ndim, mismatched
        counts, a single class, a bad hyperparameter (named), ``loss="hinge"`` with a
        sparse X of more than ``HINGE_SPARSE_MAX_FEATURES`` features.
    backend.BackendError
        A sparse matrix of the other backend (SciPy on cupy, cupyx on numpy).
    NotFittedError
        ``predict``/``decision_function`` before ``fit``.

    References: Fan et al., "LIBLINEAR", JMLR 9 (2008); Hsieh et al., ICML 2008;
    scikit-learn's ``sklearn.svm.LinearSVC``. Chapter: chapters/05-future.md.
    """

    def __init__(self, C=1.0, loss="squared_hinge", max_iter=1000, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1.0):
        self.C = C
        self.loss = loss
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling

    def fit(self, X, y):
        """Fit the one-vs-rest problems; returns ``self``. X (n, d) dense or sparse, y (n,)."""
        w = self._where()
        C = check_real(self.C, "C", where=w, low=0.0, low_open=True)
        if self.loss not in ("squared_hinge", "hinge"):
            raise ValueError(f"{w}: argument 'loss' must be 'squared_hinge' or 'hinge', "
                             f"got {self.loss!r}")
        max_iter = check_count(self.max_iter, "max_iter", where=w, minimum=1)
        tol = check_real(self.tol, "tol", where=w, low=0.0, low_open=True)
        if not isinstance(self.fit_intercept, bool):
            raise ValueError(f"{w}: argument 'fit_intercept' must be a bool, got "
                             f"{self.fit_intercept!r}")
        scale = check_real(self.intercept_scaling, "intercept_scaling", where=w, low=0.0,
                           low_open=True)
        xp = backend.xp()
        if is_sparse(X):
            X = check_sparse(X, w)  # CSR float64 (a copy), finite
            y = _check_y(y, X.shape[0], w)
        else:
            X, y = check_X_y(X, y, w)
            X = X.astype(xp.float64)
        classes, y_idx = _classes(y, w)
        n, d = X.shape
        k = classes.size
        cols = [1] if k == 2 else list(range(k))
        Y = backend.asarray(np.where(y_idx[:, None] == np.asarray(cols)[None, :], 1.0, -1.0))
        s = scale if self.fit_intercept else None
        if self.loss == "hinge" and is_sparse(X):
            if d > HINGE_SPARSE_MAX_FEATURES:
                raise ValueError(
                    f"{w}: argument 'loss'='hinge' needs a dense X (its interior-point "
                    f"solver factors a (d+1, d+1) matrix per class), but X is sparse with "
                    f"d={d} features (more than HINGE_SPARSE_MAX_FEATURES="
                    f"{HINGE_SPARSE_MAX_FEATURES}); use loss='squared_hinge', which works "
                    "on the sparse matrix directly")
            X = backend.asarray(X.toarray())  # (n, d) dense: d is small
        if self.loss == "squared_hinge":
            design = _SparseDesign(X, s) if is_sparse(X) else _DenseDesign(X, s)
            W, it, ok = _newton_squared_hinge(design, Y, C, tol, max_iter)
        else:
            Xa = xp.concatenate([X, xp.full((n, 1), s)], axis=1) if s is not None else X
            W, it, ok = _ipm_hinge(Xa, Y, C, tol, max_iter)
        if not ok:
            warnings.warn(f"{w}: the solver did not reach tol={tol} within its iteration "
                          "limit; raise max_iter", ConvergenceWarning, stacklevel=2)
        self.coef_ = W[:d].T.copy()  # (k or 1, d)
        self.intercept_ = scale * W[d].copy() if self.fit_intercept else xp.zeros(len(cols))
        self.classes_ = _store_classes(classes)
        self.n_iter_ = it
        self.n_features_in_ = d
        return self

    def decision_function(self, X):
        """f(x) = coef_ . x + intercept_: (n,) for two classes (> 0: classes_[1]), else (n, k).

        X: dense (n, d) or a sparse matrix of ``backend.sparse()``."""
        self._check_is_fitted("coef_")
        if is_sparse(X):
            X = check_sparse(X, self._where())
            _check_width(self, X.shape[1])
            scores = sparse_dot(X, self.coef_.T) + self.intercept_
        else:
            X = _check_fitted_x(self, X, self.n_features_in_).astype(backend.xp().float64)
            scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Label of the largest score (two classes: classes_[1] where f(x) > 0). (n,)"""
        xp = backend.xp()
        s = self.decision_function(X)
        idx = (s > 0).astype(xp.int64) if s.ndim == 1 else xp.argmax(s, axis=1)
        return _labels(self.classes_, idx)


def _check_y(y, n, where):
    """Labels for a sparse X of ``n`` rows: 1-D, one per row (``check_X_y``'s messages)."""
    check_y_given(y, where)
    y = as_backend_array(y, "y", where)
    if y.ndim != 1:
        raise ValueError(f"{where}: argument 'y' must be 1-D (n_samples,), got shape "
                         f"{tuple(y.shape)}")
    if y.shape[0] != n:
        raise ValueError(f"{where}: X has {n} samples but y has {y.shape[0]}; "
                         "they must match")
    return y


def _check_width(est, d):
    if d != est.n_features_in_:
        raise ValueError(f"{est._where()}: X has {d} features, but {type(est).__name__} "
                         f"is expecting {est.n_features_in_} features as input")


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
            subs.append(self.X[(np if on_host else xp).flatnonzero(mask)])

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
        c = slice(None) if live.all() else backend.asarray(np.flatnonzero(live))
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
