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
from ._common import check_sparse, is_sparse, sparse_dot
from ._linear_solvers import _DenseDesign, _ipm_hinge, _newton_squared_hinge, _SparseDesign
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
      is never densified (see ``_linear_solvers._SparseDesign``).
    * ``loss="hinge"``, L(m) = max(0, 1 - m): solved in the dual
      min_a 1/2 a^T Q a - e^T a, 0 <= a_i <= C, Q_ij = y_i y_j x~_i . x~_j, w = sum a_i y_i x~_i
      (liblinear's problem; Hsieh et al. 2008 sweep it one a_i at a time, which would be
      a Python loop over samples here, so it is solved instead by a primal-dual
      interior-point method whose steps are matrix products and one (d+1, d+1) solve
      per class, see ``_linear_solvers._ipm_hinge``). Stops when the KKT residual is below ``tol``.
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

    def __sklearn_tags__(self):
        # sparse X is accepted, as by scikit-learn's LinearSVC
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

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
