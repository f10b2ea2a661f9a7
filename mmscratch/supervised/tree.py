r"""Decision trees (CART) grown level by level, with every split search vectorized.

A node holding samples S is split on the feature f and threshold t that most reduce the
weighted impurity of its children,

.. math::

    \Delta(f, t) = w_S\, i(S) - w_L\, i(L) - w_R\, i(R), \qquad
    L = \{x \in S : x_f \le t\},\; R = S \setminus L,

with ``w`` the (weighted) number of samples and ``i`` the impurity:

* Gini: ``i = 1 - sum_k p_k^2``; entropy: ``i = -sum_k p_k log2 p_k`` (classification,
  ``p_k`` the weighted fraction of class k in the node);
* squared error: ``i = mean((y - mean(y))^2)`` (regression).

Since ``w_S i(S)`` is fixed for a node, the search maximises scikit-learn's "proxy"
``-(w_L i(L) + w_R i(R))`` (for Gini ``sum_k n_Lk^2 / w_L + sum_k n_Rk^2 / w_R``; for
squared error ``s_L^2 / w_L + s_R^2 / w_R`` with ``s`` the sum of the targets). Thresholds
lie halfway between two consecutive distinct values of the node, as in scikit-learn, so
the same data give the same tree.

How the search is vectorized
----------------------------
All nodes of one level (and, for a forest, of several trees) are searched at once:

1. every value is replaced once, at ``fit``, by its rank among the distinct values of its
   column (``codes``, ``(N, D)``);
2. for every (node, candidate feature) pair and every sample of the node one *entry* is
   made with the key ``pair * n_codes + code``; one stable sort of the keys puts each
   pair's samples in increasing order of the feature (ties side by side);
3. class counts (or target sums) per run of equal keys come from one ``bincount``; a
   cumulative sum along the runs gives, for every possible threshold of every pair at once,
   the statistics of the left child, and the node total minus them those of the right;
4. the proxy of every candidate is computed in one array expression, invalid candidates
   (equal values, ``min_samples_leaf``) are masked, and a segmented arg-max picks the
   best split of each node (ties: first feature in the draw order, then the lowest
   threshold, as scikit-learn scans them).

There is a Python loop over levels (the depth), never over samples or features. On the
CPU, where every sum is an integer (class counts, integer weights) and the features take
at most 256 values, ``_tree_growth._best_splits_fast`` does the same search with fewer
entries (constant (node, feature) pairs and each pair's smallest value left out), giving
the same trees (``tests/test_tree_speed_paths.py``).

Like scikit-learn, the trees see ``X`` rounded to float32 (thresholds are computed in
float64 from the float32 values, and ``predict`` compares float32 values with them).

Reference implementation: scikit-learn ``sklearn/tree/_splitter.pyx``,
``_criterion.pyx`` and ``_tree.pyx`` (Breiman et al., *Classification and Regression
Trees*, 1984). Parity is tested in ``tests/test_tree.py``.

Chapter: chapters/03-4-classical.md.
"""

from __future__ import annotations

import math
import numbers

from .. import backend
from ..base import BaseEstimator, ClassifierMixin, RegressorMixin, check_X_y
from ..errors import check_count, check_real
from ..extmath import host_rng
from ._common import (
    ProbabilisticClassifierMixin,
    check_sample_weight,
    check_tree_input,
    encode_labels,
)

__all__ = ["DecisionTreeClassifier", "DecisionTreeRegressor", "Tree"]

from ._tree_growth import (  # noqa: F401 - re-exported: forest.py and tests use them
    EPSILON,
    TREE_LEAF,
    TREE_UNDEFINED,
    Tree,
    _Criterion,
    _descend,
    _Params,
    feature_codes,
    grow_trees,
)


def _resolve_max_features(max_features, n_features, where):
    """scikit-learn's rule: int (1..D), float in (0, 1] (fraction of D), "sqrt", "log2",
    None (all D) -> the number of features drawn at each split."""
    if max_features is None:
        return n_features
    if isinstance(max_features, str):
        if max_features == "sqrt":
            return max(1, int(math.sqrt(n_features)))
        if max_features == "log2":
            return max(1, int(math.log2(n_features)))
        raise ValueError(f"{where}: argument 'max_features' must be an int, a float in "
                         f"(0, 1], 'sqrt', 'log2' or None, got {max_features!r}")
    if isinstance(max_features, bool):
        raise TypeError(f"{where}: argument 'max_features' must be an int, a float, "
                        f"'sqrt', 'log2' or None, got {max_features!r}")
    if isinstance(max_features, numbers.Integral):
        m = check_count(max_features, "max_features", where=where)
        if m > n_features:
            raise ValueError(f"{where}: argument 'max_features' must be <= n_features = "
                             f"{n_features}, got {m}")
        return m
    frac = check_real(max_features, "max_features", where=where, low=0.0, high=1.0,
                      low_open=True)
    return max(1, int(frac * n_features))


def _resolve_min_samples(value, argument, n_samples, where, minimum, float_high_open):
    """An int count (>= minimum) or a float fraction of n_samples (ceil), as sklearn."""
    if isinstance(value, numbers.Real) and not isinstance(value, (numbers.Integral, bool)):
        frac = check_real(value, argument, where=where, low=0.0, high=1.0, low_open=True,
                          high_open=float_high_open)
        return int(math.ceil(frac * n_samples))
    return check_count(value, argument, where=where, minimum=minimum)


class _BaseTree(BaseEstimator):
    """Shared fit/predict of the classifier and the regressor."""

    _regression = False

    def _fit_params(self, n_samples, n_features, where):
        if self.criterion not in self._criteria:
            raise ValueError(f"{where}: argument 'criterion' must be one of "
                             f"{self._criteria}, got {self.criterion!r}")
        max_depth = check_count(self.max_depth, "max_depth", where=where, allow_none=True)
        mss = _resolve_min_samples(self.min_samples_split, "min_samples_split", n_samples,
                                   where, 2, float_high_open=False)
        msl = _resolve_min_samples(self.min_samples_leaf, "min_samples_leaf", n_samples,
                                   where, 1, float_high_open=True)
        mss = max(mss, 2, 2 * msl)
        mtry = _resolve_max_features(self.max_features, n_features, where)
        return _Params(self.criterion, max_depth, mss, max(msl, 1), mtry, n_features)

    def _prepare(self, X, y, sample_weight, where):
        xp = backend.xp()
        X, y = check_X_y(X, y, where, y_numeric=self._regression)
        w = check_sample_weight(sample_weight, X.shape[0], where)
        if w is None:
            w = xp.ones(X.shape[0])
        if self._regression:
            target, k = y, 1
        else:
            self.classes_, target = encode_labels(y, where)
            self.n_classes_ = int(self.classes_.shape[0])
            k = self.n_classes_
        return X, target, w, k

    def fit(self, X, y, sample_weight=None):
        """Grow the tree on ``X (N, D)`` and ``y (N,)`` (optional ``sample_weight (N,)``).
        Returns self."""
        where = self._where()
        X, target, w, k = self._prepare(X, y, sample_weight, where)
        params = self._fit_params(X.shape[0], X.shape[1], where)
        Xf = X.astype(backend.xp().float32)
        codes, values, n_codes = feature_codes(Xf)
        crit = _Criterion(self.criterion, k)
        trees, imp = grow_trees(Xf, codes, values, n_codes, target, w[None, :], crit, params,
                                host_rng(self.random_state))
        self.tree_ = trees[0]
        self.feature_importances_ = imp[0]
        self.n_features_in_ = X.shape[1]
        self.max_features_ = params.mtry
        return self

    def _check_input(self, X):
        return check_tree_input(self, X)

    def apply(self, X):
        """Index of the leaf each sample ends in: ``(N,)`` int64 (depth-first numbering,
        as scikit-learn's)."""
        return self.tree_.apply(self._check_input(X))

    def get_depth(self):
        """Depth of the tree (a lone root has depth 0)."""
        self._check_is_fitted()
        return self.tree_.max_depth

    def get_n_leaves(self):
        """Number of leaves."""
        self._check_is_fitted()
        return self.tree_.n_leaves


class DecisionTreeClassifier(ProbabilisticClassifierMixin, ClassifierMixin, _BaseTree):
    """CART classification tree (Gini or entropy), scikit-learn's names and defaults.

    Parameters
    ----------
    criterion : {"gini", "entropy"}
    max_depth : int or None
    min_samples_split : int >= 2 or float in (0, 1] (fraction of the samples)
    min_samples_leaf : int >= 1 or float in (0, 1)
    max_features : int, float in (0, 1], "sqrt", "log2" or None (all features)
        Features drawn at random (without replacement) at each split; when all drawn
        ones are constant in the node the others are tried, as in scikit-learn.
    random_state : None, int or numpy.random.Generator

    Attributes
    ----------
    classes_ (K,), n_classes_, n_features_in_, max_features_, tree_ (:class:`Tree`),
    feature_importances_ (D,): mean decrease in impurity, normalised to sum to 1.

    ``fit(X, y, sample_weight=None)``, ``predict``, ``predict_proba`` (leaf class
    fractions ``(N, K)``), ``predict_log_proba``, ``apply``, ``get_depth``,
    ``get_n_leaves``, ``score`` (accuracy).

    Raises
    ------
    ValueError
        NaN/inf, non-2-D ``X``, mismatched lengths, a single class, bad hyperparameters
        (named). ``NotFittedError`` before ``fit``.

    Notes
    -----
    Algorithm and vectorization: see the module docstring. Reference: scikit-learn's
    ``DecisionTreeClassifier`` (same depth, leaves, predictions and importances on data
    whose best splits are unique; ``tests/test_tree.py``). Chapter:
    chapters/03-4-classical.md.
    """

    _criteria = ("gini", "entropy")

    def __init__(self, *, criterion="gini", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, max_features=None, random_state=None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state

    def predict_proba(self, X):
        """Class fractions of the leaf each sample reaches: ``(N, K)``."""
        self._check_is_fitted()
        return self.tree_.value[self.apply(X), 0, :]




class DecisionTreeRegressor(RegressorMixin, _BaseTree):
    """CART regression tree (squared error), scikit-learn's names and defaults.

    Same parameters as :class:`DecisionTreeClassifier` with
    ``criterion="squared_error"``; a leaf predicts the (weighted) mean target of its
    training samples. ``score`` is R². Chapter: chapters/03-4-classical.md.
    """

    _criteria = ("squared_error",)
    _regression = True

    def __init__(self, *, criterion="squared_error", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, max_features=None, random_state=None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state

    def predict(self, X):
        """Mean training target of each sample's leaf: ``(N,)``."""
        self._check_is_fitted()
        return self.tree_.value[self.apply(X), 0, 0]
