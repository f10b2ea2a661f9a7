r"""Naive Bayes classifiers: Gaussian (continuous features) and multinomial (counts).

Bayes' rule with the "naive" assumption that the features are independent given the
class:

.. math::

    P(y = k \mid x) \propto P(y = k) \prod_{j=1}^{D} P(x_j \mid y = k),

so the joint log-likelihood of class ``k`` is a sum over features,

    jll_k(x) = log P(y = k) + sum_j log P(x_j | y = k),

and the posterior comes out of one log-sum-exp, never out of a product of small
probabilities (which would underflow to 0 for a 1,000-word vocabulary):

    log P(y = k | x) = jll_k(x) - log sum_l exp(jll_l(x)).

Both estimators keep sufficient statistics (counts, sums) so ``partial_fit`` can learn
from data that arrives in batches, as scikit-learn's do.

Reference implementation: scikit-learn, ``sklearn/naive_bayes.py`` (same names, same
defaults, same smoothing; parity to 1e-9 is tested). The incremental mean/variance
update is Chan, Golub & LeVeque (1983).

Chapter: chapters/03-4-classical.md.
"""

from __future__ import annotations

import math

from .. import backend
from ..base import (
    BaseEstimator,
    ClassifierMixin,
    as_backend_array,
    check_X,
    check_X_y,
    check_y_given,
)
from ..errors import check_real
from ._common import (
    check_classes,
    check_sample_weight,
    check_sparse,
    encode_labels,
    is_sparse,
    logsumexp,
    one_hot,
    sparse_dot,
    sparse_min,
    sparse_t_dot,
)

__all__ = ["GaussianNB", "MultinomialNB"]


class _BaseNB(ClassifierMixin, BaseEstimator):
    """``predict``, ``predict_proba`` and ``predict_log_proba`` from ``_joint_log_likelihood``."""

    def _joint_log_likelihood(self, X):  # (N, D) -> (N, K)
        raise NotImplementedError

    def predict_log_proba(self, X):
        """``log P(y = k | x)`` for every sample and class: ``(N, K)``, columns in the
        order of ``classes_``. ``jll - logsumexp(jll)`` (no underflow)."""
        self._check_is_fitted()
        jll = self._joint_log_likelihood(self._check_predict_input(X))
        return jll - logsumexp(jll, axis=1)[:, None]

    def predict_proba(self, X):
        """``P(y = k | x)``: ``exp(predict_log_proba(X))``, rows sum to 1, ``(N, K)``."""
        return backend.xp().exp(self.predict_log_proba(X))

    def predict(self, X):
        """The class of highest posterior, as a label of ``classes_``: ``(N,)``."""
        self._check_is_fitted()
        jll = self._joint_log_likelihood(self._check_predict_input(X))
        return self.classes_[backend.xp().argmax(jll, axis=1)]

    def _check_partial_fit_classes(self, classes, where):
        """``classes`` is required on the first ``partial_fit`` call and, when given
        again, must be the same set (scikit-learn's rule)."""
        first = not hasattr(self, "classes_")
        if classes is None:
            if first:
                raise ValueError(f"{where}: classes must be passed on the first call to "
                                 "partial_fit")
            return None
        classes = check_classes(classes, where)
        if not first:
            same = classes.shape == self.classes_.shape and bool(
                backend.to_numpy((classes == self.classes_).all()))
            if not same:
                raise ValueError(f"{where}: classes={backend.to_numpy(classes).tolist()} is "
                                 "not the same as on the first call to partial_fit: "
                                 f"{backend.to_numpy(self.classes_).tolist()}")
            return None
        return classes


class GaussianNB(_BaseNB):
    r"""Gaussian naive Bayes: each feature is normal within each class.

    .. math::

        \log P(x_j \mid y = k) = -\tfrac12 \log(2\pi\sigma_{kj}^2)
                                 - \frac{(x_j - \mu_{kj})^2}{2\sigma_{kj}^2},

    with ``mu_kj = theta_[k, j]`` and ``sigma_kj^2 = var_[k, j]``, the per-class mean
    and (biased) variance of feature j, plus ``epsilon_ = var_smoothing * max_j var(x_j)``
    added to every variance so a constant feature does not divide by zero.

    Parameters
    ----------
    priors : array (K,), optional
        Class priors; by default the class frequencies of the training data.
    var_smoothing : float, default 1e-9
        Fraction of the largest feature variance added to all variances (>= 0).

    Attributes
    ----------
    classes_ : (K,) labels as given, sorted.
    theta_, var_ : (K, D) float64, per-class means and variances (``var_`` includes
        ``epsilon_``).
    class_count_ : (K,) float64, (weighted) number of training samples per class.
    class_prior_ : (K,) float64.
    epsilon_ : float.
    n_features_in_ : int.

    Raises
    ------
    ValueError
        NaN/inf or non-2-D ``X``, mismatched ``X``/``y`` lengths, a single class,
        ``var_smoothing < 0``, bad ``priors``, a feature count that differs from ``fit``.
    NotFittedError
        ``predict*`` before ``fit``.

    Notes
    -----
    Reference: scikit-learn's ``GaussianNB`` (parameters and probabilities agree to 1e-9;
    ``tests/test_naive_bayes.py``). ``partial_fit`` merges batch statistics with Chan,
    Golub & LeVeque's pairwise update, so fitting in batches gives the same model as one
    ``fit``. Chapter: chapters/03-4-classical.md.
    """

    def __init__(self, *, priors=None, var_smoothing=1e-9):
        self.priors = priors
        self.var_smoothing = var_smoothing

    def fit(self, X, y, sample_weight=None):
        """Fit the per-class means and variances from ``X (N, D)`` and labels ``y (N,)``.
        Returns self."""
        for attr in ("classes_", "theta_"):
            self.__dict__.pop(attr, None)
        return self._partial_fit(X, y, None, sample_weight, "GaussianNB.fit", refit=True)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with one batch; ``classes`` (all labels) on the first call.
        Returns self."""
        return self._partial_fit(X, y, classes, sample_weight, "GaussianNB.partial_fit",
                                 refit=False)

    def _partial_fit(self, X, y, classes, sample_weight, where, refit):
        xp = backend.xp()
        var_smoothing = check_real(self.var_smoothing, "var_smoothing", where=where, low=0.0)
        X, y = check_X_y(X, y, where)
        w = check_sample_weight(sample_weight, X.shape[0], where)
        if refit:
            classes_, y_idx = encode_labels(y, where)
            first = True
        else:
            given = self._check_partial_fit_classes(classes, where)
            first = given is not None
            if first:
                self.classes_ = given
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(f"{where}: X has {X.shape[1]} features, but GaussianNB is "
                                 f"expecting {self.n_features_in_} features as input")
            classes_, y_idx = encode_labels(y, where, classes=self.classes_)
        n_classes, n_features = classes_.shape[0], X.shape[1]

        n_new, mu_new, var_new = _class_moments_sorted(X, y_idx, n_classes, w)
        # epsilon_ comes from this batch's variances, as in scikit-learn.
        epsilon = var_smoothing * float(backend.to_numpy(
            _total_variance(n_new, mu_new, var_new) if w is None else X.var(axis=0)).max())
        if first:
            self.classes_ = classes_
            self.n_features_in_ = n_features
            self.theta_ = xp.zeros((n_classes, n_features))
            self.var_ = xp.zeros((n_classes, n_features))
            self.class_count_ = xp.zeros(n_classes)
            self._priors = self._check_priors(n_classes, where)
        else:
            self.var_ = self.var_ - self.epsilon_  # the stored variances hold the old epsilon
        self.epsilon_ = epsilon

        self.theta_, self.var_ = _merge_moments(self.class_count_, self.theta_, self.var_,
                                                n_new, mu_new, var_new)
        self.class_count_ = self.class_count_ + n_new
        self.var_ = self.var_ + self.epsilon_
        if self._priors is not None:
            self.class_prior_ = self._priors
        else:
            self.class_prior_ = self.class_count_ / self.class_count_.sum()
        return self

    def _check_priors(self, n_classes, where):
        if self.priors is None:
            return None
        xp = backend.xp()
        p = as_backend_array(self.priors, "priors", where).astype(xp.float64)
        if p.shape != (n_classes,):
            raise ValueError(f"{where}: argument 'priors' must have shape ({n_classes},) "
                             f"(one per class), got {tuple(p.shape)}")
        total = float(backend.to_numpy(p.sum()))
        if not math.isclose(total, 1.0) or bool(backend.to_numpy((p < 0).any())):
            raise ValueError(f"{where}: argument 'priors' must be non-negative and sum to 1, "
                             f"got sum {total}")
        return p

    def _check_predict_input(self, X):
        X = check_X(X, self._where())
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{self._where()}: X has {X.shape[1]} features, but GaussianNB "
                             f"is expecting {self.n_features_in_} features as input")
        return X.astype(backend.xp().float64, copy=False)

    def _joint_log_likelihood(self, X):
        """``jll (N, K)``: log prior + sum of per-feature normal log densities.

        One pass per class (K passes over an ``(N, D)`` block, never an ``(N, K, D)``
        cube): ``sum_j (x_j - mu_kj)^2 / var_kj`` computed directly, not expanded into
        ``x^2 - 2 x mu + mu^2``, which would cancel when x is close to mu.
        """
        xp = backend.xp()
        log_norm = -0.5 * xp.log(2.0 * math.pi * self.var_).sum(axis=1)        # (K,)
        cols = []
        for k in range(self.classes_.shape[0]):
            d = X - self.theta_[k]
            cols.append(-0.5 * ((d * d) / self.var_[k]).sum(axis=1))            # (N,)
        return xp.stack(cols, axis=1) + (xp.log(self.class_prior_) + log_norm)[None, :]


def _class_moments(X, y_idx, n_classes, w=None):
    """Per-class (weighted) count, mean and biased variance, the readable way.

        n_k = sum_{i: y_i = k} w_i,   mu_k = sum_i w_i x_i / n_k,
        var_k = sum_i w_i (x_i - mu_k)^2 / n_k        (w_i = 1 without weights)

    with the one-hot matrix ``Y (N, K)``: ``n = 1^T Y``, ``mu = (X^T Y)^T / n`` and the
    variance from the deviations to each sample's own class mean (two passes, no
    ``E[x^2] - mu^2`` cancellation). Classes without samples get ``n_k = 0`` and zero
    moments. Shapes: ``X (N, D)``, ``y_idx (N,)`` -> ``(K,)``, ``(K, D)``, ``(K, D)``;
    float64.
    """
    xp = backend.xp()
    X = X.astype(xp.float64, copy=False)
    Y = one_hot(y_idx, n_classes)                          # (N, K)
    if w is not None:
        Y = Y * w[:, None]
    n = Y.sum(axis=0)                                      # (K,)
    safe = xp.where(n > 0, n, 1.0)
    mu = (X.T @ Y).T / safe[:, None]                       # (K, D)
    dev = X - mu[y_idx]                                    # (N, D)
    return n, mu, ((dev * dev).T @ Y).T / safe[:, None]    # var (K, D), ddof=0


def _class_moments_sorted(X, y_idx, n_classes, w=None):
    """:func:`_class_moments` computed one class at a time on its own rows (fast path).

    One stable sort of the labels puts each class's rows together; each class block is
    then converted to float64 and reduced on its own (a loop over the K classes, not over
    samples). Why: the one-hot products of the readable version multiply the whole of X
    by a K-column matrix twice, thin GEMMs that run far below BLAS speed, and build an
    (N, D) deviation array; the blocks here stay in cache. ``GaussianNB.fit`` on 10k
    MNIST went from 4.6x scikit-learn's CPU time to 0.63x (``python
    benchmarks/bench_classical.py --repeat 3``, section "classical" of
    benchmarks/RESULTS.md). Same numbers up to rounding
    (tests/test_naive_bayes.py).
    """
    xp = backend.xp()
    order = xp.argsort(y_idx, kind="stable")
    ends = backend.to_numpy(xp.cumsum(xp.bincount(y_idx, minlength=n_classes)))
    Xs = X[order]                                          # (N, D), rows grouped by class
    ws = None if w is None else w[order]
    D = X.shape[1]
    n = xp.zeros(n_classes)
    mu = xp.zeros((n_classes, D))
    var = xp.zeros((n_classes, D))
    start = 0
    for k, end in enumerate(ends.tolist()):  # classes, not samples
        if end > start:
            block = Xs[start:end].astype(xp.float64)       # (n_k, D)
            if ws is None:
                n_k = float(end - start)
                mu[k] = block.sum(axis=0) / n_k
                block -= mu[k]
                var[k] = xp.einsum("ij,ij->j", block, block) / n_k
                n[k] = n_k
            else:
                wk = ws[start:end]
                n_k = wk.sum()
                safe = xp.where(n_k > 0, n_k, 1.0)
                mu[k] = (wk @ block) / safe
                block -= mu[k]
                var[k] = (wk @ (block * block)) / safe
                n[k] = n_k
        start = end
    return n, mu, var


def _total_variance(n, mu, var):
    """Variance of the union of the classes from their counts and moments, (D,):
    ``sum_k n_k (var_k + (mu_k - mu)^2) / sum_k n_k`` (the law of total variance; every
    term is non-negative, so nothing cancels). Equals ``X.var(axis=0)`` up to rounding."""
    total = n.sum()
    mean = (n @ mu) / total
    return (n @ (var + (mu - mean) ** 2)) / total


def _merge_moments(n_old, mu_old, var_old, n_new, mu_new, var_new):
    """Mean and biased variance of the union of two samples from their counts and moments.

    total = n_old + n_new; mu = (n_old mu_old + n_new mu_new) / total;
    var = (n_old var_old + n_new var_new + n_old n_new / total (mu_old - mu_new)^2) / total
    (Chan, Golub & LeVeque 1983). Classes with ``total = 0`` keep their old values.
    Shapes: counts ``(K,)``, moments ``(K, D)``.
    """
    xp = backend.xp()
    total = n_old + n_new
    safe = xp.where(total > 0, total, 1.0)[:, None]
    a, b = n_old[:, None], n_new[:, None]
    mu = (a * mu_old + b * mu_new) / safe
    ssd = a * var_old + b * var_new + (a * b / safe) * (mu_old - mu_new) ** 2
    keep = (total == 0)[:, None]
    return xp.where(keep, mu_old, mu), xp.where(keep, var_old, ssd / safe)


class MultinomialNB(_BaseNB):
    r"""Multinomial naive Bayes for counts (bag-of-words): dense or CSR ``X``.

    .. math::

        \hat\theta_{kj} = \frac{N_{kj} + \alpha}{N_k + \alpha D}, \qquad
        \log P(x \mid y = k) = \sum_j x_j \log\hat\theta_{kj} + \text{const},

    where ``N_kj = feature_count_[k, j]`` is the total count of word j in class k and
    ``N_k = sum_j N_kj``. ``alpha`` is additive (Laplace/Lidstone) smoothing, so a word
    never seen in a class does not make that class impossible. The joint log-likelihood
    is one (sparse) matrix product: ``jll = X @ feature_log_prob_.T + class_log_prior_``.

    Parameters
    ----------
    alpha : float, default 1.0
        Additive smoothing (>= 0, used as given, as scikit-learn's ``force_alpha=True``).
    fit_prior : bool, default True
        Learn class priors from the data; if False, use uniform priors.
    class_prior : array (K,), optional
        Given priors (override ``fit_prior``).

    Attributes
    ----------
    classes_ : (K,) labels as given.
    class_count_ : (K,) float64; feature_count_ : (K, D) float64 (weighted counts).
    class_log_prior_ : (K,); feature_log_prob_ : (K, D).
    n_features_in_ : int.

    Input
    -----
    ``X (N, D)``: non-negative counts (or tf-idf weights), a dense array of the active
    backend or a CSR matrix of ``backend.sparse()``, e.g. ``CountVectorizer`` output.

    Raises
    ------
    ValueError
        Negative values, NaN/inf, non-2-D ``X``, mismatched lengths, a single class,
        ``alpha < 0``, a feature count that differs from ``fit``.
    NotFittedError
        ``predict*`` before ``fit``.

    Notes
    -----
    Reference: scikit-learn's ``MultinomialNB`` (parity to 1e-9 in
    ``tests/test_naive_bayes.py``); McCallum & Nigam (1998). Chapter:
    chapters/03-4-classical.md.
    """

    def __init__(self, *, alpha=1.0, fit_prior=True, class_prior=None):
        self.alpha = alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior

    def __sklearn_tags__(self):
        # scikit-learn's MultinomialNB tags: counts, so negative X is refused
        # (positive_only); sparse input is accepted; and poor_score, since a multinomial
        # model of shifted Gaussian blobs does not reach the generic 83 % accuracy check.
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.classifier_tags.poor_score = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Count features per class from ``X (N, D)`` and ``y (N,)``. Returns self."""
        for attr in ("classes_", "feature_count_"):
            self.__dict__.pop(attr, None)
        return self._partial_fit(X, y, None, sample_weight, "MultinomialNB.fit", refit=True)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Add one batch's counts; ``classes`` (all labels) on the first call. Returns self."""
        return self._partial_fit(X, y, classes, sample_weight, "MultinomialNB.partial_fit",
                                 refit=False)

    def _check_counts(self, X, where):
        """Dense backend array or CSR of ``backend.sparse()``, finite and non-negative."""
        xp = backend.xp()
        if is_sparse(X):
            X = check_sparse(X, where)
            lowest = sparse_min(X)
        else:
            X = check_X(X, where).astype(xp.float64, copy=False)
            lowest = float(backend.to_numpy(X.min()))
        if lowest < 0:
            raise ValueError(f"{where}: argument 'X' must hold non-negative counts "
                             f"(MultinomialNB); Negative values in data, minimum {lowest}")
        return X

    def _partial_fit(self, X, y, classes, sample_weight, where, refit):
        xp = backend.xp()
        alpha = check_real(self.alpha, "alpha", where=where, low=0.0)
        if not isinstance(self.fit_prior, bool):
            raise ValueError(f"{where}: argument 'fit_prior' must be a bool, got "
                             f"{self.fit_prior!r}")
        X = self._check_counts(X, where)
        check_y_given(y, where)
        y = as_backend_array(y, "y", where)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"{where}: argument 'y' must have shape ({X.shape[0]},) "
                             f"(one label per row of X), got {tuple(y.shape)}")
        if y.dtype.kind == "f":
            check_X_y(xp.zeros((y.shape[0], 1)), y, where)  # NaN/inf labels
        w = check_sample_weight(sample_weight, X.shape[0], where)
        if refit:
            classes_, y_idx = encode_labels(y, where)
            first = True
        else:
            given = self._check_partial_fit_classes(classes, where)
            first = given is not None
            if not first and X.shape[1] != self.n_features_in_:
                raise ValueError(f"{where}: X has {X.shape[1]} features, but MultinomialNB "
                                 f"is expecting {self.n_features_in_} features as input")
            classes_, y_idx = encode_labels(y, where, classes=given if first else self.classes_)
        n_classes, n_features = classes_.shape[0], X.shape[1]
        if first:
            self.classes_ = classes_
            self.n_features_in_ = n_features
            self.class_count_ = xp.zeros(n_classes)
            self.feature_count_ = xp.zeros((n_classes, n_features))

        Y = one_hot(y_idx, n_classes)                               # (N, K)
        if w is not None:
            Y = Y * w[:, None]
        counts = sparse_t_dot(X, Y).T if is_sparse(X) else (X.T @ Y).T   # (K, D)
        self.feature_count_ = self.feature_count_ + counts
        self.class_count_ = self.class_count_ + Y.sum(axis=0)

        smoothed = self.feature_count_ + alpha                      # (K, D)
        self.feature_log_prob_ = xp.log(smoothed) - xp.log(smoothed.sum(axis=1))[:, None]
        self.class_log_prior_ = self._class_log_prior(n_classes, where)
        return self

    def _class_log_prior(self, n_classes, where):
        xp = backend.xp()
        if self.class_prior is not None:
            p = as_backend_array(self.class_prior, "class_prior", where).astype(xp.float64)
            if p.shape != (n_classes,):
                raise ValueError(f"{where}: argument 'class_prior' must have shape "
                                 f"({n_classes},) (one per class), got {tuple(p.shape)}")
            return xp.log(p)
        if self.fit_prior:
            # A class with no sample yet (partial_fit) gets log 0 = -inf, as in scikit-learn.
            with _Quiet(xp):
                return xp.log(self.class_count_) - math.log(
                    float(backend.to_numpy(self.class_count_.sum())))
        return xp.full(n_classes, -math.log(n_classes))

    def _check_predict_input(self, X):
        X = self._check_counts(X, self._where())
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{self._where()}: X has {X.shape[1]} features, but "
                             f"MultinomialNB is expecting {self.n_features_in_} features as "
                             "input")
        return X

    def _joint_log_likelihood(self, X):
        """``jll = X @ feature_log_prob_.T + class_log_prior_``: ``(N, K)``."""
        W = self.feature_log_prob_.T                                # (D, K)
        jll = sparse_dot(X, W) if is_sparse(X) else X @ W
        return jll + self.class_log_prior_[None, :]


class _Quiet:
    """Silence NumPy's divide-by-zero warning for ``log(0) = -inf`` (no-op on CuPy)."""

    def __init__(self, xp):
        self._errstate = getattr(xp, "errstate", None)
        self._ctx = None

    def __enter__(self):
        if self._errstate is not None:
            self._ctx = self._errstate(divide="ignore")
            self._ctx.__enter__()

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
        return False
