r"""Random forests: bootstrap-aggregated CART trees with random feature subsets per split.

Breiman (2001): tree b is grown on a bootstrap sample of the training set (N draws with
replacement) and, at each split, looks at only ``max_features`` features drawn at random;
the forest averages the trees,

.. math::

    P(y = k \mid x) = \frac{1}{B} \sum_{b=1}^{B} P_b(y = k \mid x), \qquad
    \hat y(x) = \frac{1}{B} \sum_{b=1}^{B} \hat y_b(x),

so the randomness decorrelates the trees and averaging lowers the variance of one deep
tree without raising its bias much. ``feature_importances_`` is the mean of the trees'
normalised mean decrease in impurity.

The trees are grown several at a time by :func:`mmscratch.supervised.tree.grow_trees`
(one level of all of them per step: the nodes of different trees are just more nodes),
and prediction walks all trees at once, ``(N, B)`` node indices per step. Trees share a
Generator of feature draws in fixed groups; on the CPU a call may grow several groups
(each drawing from its own Generator), which changes no tree
(``tests/test_tree_speed_paths.py``).

Reference implementation: scikit-learn ``sklearn/ensemble/_forest.py`` (the bootstrap is
given to each tree as integer sample weights, as there). Accuracy against scikit-learn's
forest is tested in ``tests/test_forest.py`` and measured in ``benchmarks/bench_classical.py``.

Chapter: chapters/03-4-classical.md.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..base import BaseEstimator, ClassifierMixin, RegressorMixin, check_X_y
from ..errors import check_count
from ._common import (
    ProbabilisticClassifierMixin,
    check_sample_weight,
    check_tree_input,
    encode_labels,
)
from ._tree_growth import sums_are_exact
from .tree import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    _Criterion,
    _descend,
    feature_codes,
    grow_trees,
    host_rng,
)

__all__ = ["RandomForestClassifier", "RandomForestRegressor"]

# Trees that share one Generator of feature draws, as a budget of entries (rows x
# max_features per tree) per level. It fixes which trees a seed gives, so it stays as
# it was when it also set the trees grown per call (2^18 on the CPU, 2^24 on a GPU).
_ENTRIES_PER_BATCH = {"cupy": 1 << 24}
_ENTRIES_PER_BATCH_CPU = 1 << 18
# Trees grown together in one call of grow_trees (whole groups of the above): fewer
# levels to step through, each with bigger arrays. On the CPU this pays only while a
# call holds few trees, whose levels' fixed costs then dominate: 5 MNIST trees per call
# (2^20 entries) cost about 3/4 of one at a time, but FSDD's groups of 30 small trees
# grow slower 120 at a time (continuous features: one run per entry, (K, G) arrays past
# the caches). A GPU already takes 2^24 entries per group.
_ENTRIES_PER_CALL = {"cupy": 1 << 24}
_ENTRIES_PER_CALL_CPU = 1 << 20
_TREES_PER_CALL_CPU = 8


class _BaseForest(BaseEstimator):
    _tree_class = DecisionTreeClassifier
    _regression = False

    def _tree_params(self):
        return {"criterion": self.criterion, "max_depth": self.max_depth,
                "min_samples_split": self.min_samples_split,
                "min_samples_leaf": self.min_samples_leaf, "max_features": self.max_features}

    def fit(self, X, y, sample_weight=None):
        """Grow ``n_estimators`` trees on bootstrap samples of ``X (N, D)``, ``y (N,)``.
        Returns self."""
        xp = backend.xp()
        where = self._where()
        n_estimators = check_count(self.n_estimators, "n_estimators", where=where)
        if not isinstance(self.bootstrap, bool):
            raise ValueError(f"{where}: argument 'bootstrap' must be a bool, got "
                             f"{self.bootstrap!r}")
        X, y = check_X_y(X, y, where, y_numeric=self._regression)
        sw = check_sample_weight(sample_weight, X.shape[0], where)
        if self._regression:
            target, k = y, 1
        else:
            self.classes_, target = encode_labels(y, where)
            self.n_classes_ = k = int(self.classes_.shape[0])
        template = self._tree_class(**self._tree_params())
        params = template._fit_params(X.shape[0], X.shape[1], where)
        rng = host_rng(self.random_state)
        n = X.shape[0]

        # Bootstrap counts (N draws with replacement) drawn on the host: one seed, one
        # forest, on every backend. Each tree then gets its own feature-draw stream.
        if self.bootstrap:
            counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n)
                               for _ in range(n_estimators)]).astype(np.float64)
        else:
            counts = np.ones((n_estimators, n))
        seeds = rng.integers(0, 2**63 - 1, size=n_estimators)
        weights = backend.asarray(counts)
        if sw is not None:
            weights = weights * sw[None, :]

        Xf = X.astype(xp.float32)
        codes, values, n_codes = feature_codes(Xf)
        crit = _Criterion(self.criterion, k)
        # rows per tree: about 63% of the samples are in a bootstrap sample
        per_tree = max(1, int((0.64 if self.bootstrap else 1.0) * n) * params.mtry)
        budget = _ENTRIES_PER_BATCH.get(backend.name(), _ENTRIES_PER_BATCH_CPU)
        group = max(1, min(n_estimators, budget // per_tree))      # trees per Generator
        per_call = _ENTRIES_PER_CALL.get(backend.name(), _ENTRIES_PER_CALL_CPU)
        batch = group
        if sums_are_exact(crit, weights):  # (else sums over more trees round otherwise)
            cap = _TREES_PER_CALL_CPU if backend.name() != "cupy" else n_estimators
            batch = group * max(1, min(per_call // (group * per_tree), cap // group))
        self.estimators_, importances = [], []
        for start in range(0, n_estimators, batch):
            stop = min(n_estimators, start + batch)
            # one Generator per group of trees, seeded from the forest's stream
            firsts = range(start, stop, group)
            rngs = [np.random.default_rng(seeds[g]) for g in firsts]
            tree_rng = (np.arange(start, stop) - start) // group
            trees, imp = grow_trees(Xf, codes, values, n_codes, target, weights[start:stop],
                                    crit, params, rngs, tree_rng)
            importances.append(imp)
            for i, tree in enumerate(trees):
                est = self._tree_class(**self._tree_params(), random_state=int(seeds[start + i]))
                est.tree_, est.feature_importances_ = tree, imp[i]
                est.n_features_in_, est.max_features_ = X.shape[1], params.mtry
                if not self._regression:
                    est.classes_, est.n_classes_ = self.classes_, self.n_classes_
                self.estimators_.append(est)
        imp = xp.concatenate(importances, axis=0)                   # (B, D)
        # scikit-learn averages the trees that split at least once, then renormalises
        used = backend.asarray(np.array([t.tree_.node_count > 1 for t in self.estimators_]))
        mean = (imp * used[:, None]).sum(axis=0) / xp.maximum(used.sum(), 1)
        total = mean.sum()
        self.feature_importances_ = mean / xp.where(total > 0, total, 1.0)
        self.n_features_in_ = X.shape[1]
        self._stack()
        return self

    def _stack(self):
        """All trees back to back, children offset to global node indices, for a
        prediction that walks every tree at once."""
        xp = backend.xp()
        trees = [e.tree_ for e in self.estimators_]
        sizes = [t.node_count for t in trees]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        off = [int(o) for o in offsets]
        left = xp.concatenate([xp.where(t.children_left >= 0, t.children_left + o, -1)
                               for t, o in zip(trees, off)])
        right = xp.concatenate([xp.where(t.children_right >= 0, t.children_right + o, -1)
                                for t, o in zip(trees, off)])
        self._flat = {
            "left": left, "right": right,
            "feature": xp.concatenate([t.feature for t in trees]),
            "threshold": xp.concatenate([t.threshold for t in trees]),
            "value": xp.concatenate([t.value[:, 0, :] for t in trees], axis=0),
            "roots": backend.asarray(offsets.astype(np.int64)),
            "depth": max(t.max_depth for t in trees),
        }

    def _check_input(self, X):
        return check_tree_input(self, X)

    def apply(self, X):
        """Leaf of every tree each sample reaches: ``(N, n_estimators)`` (node indices
        within each tree, as scikit-learn's)."""
        f = self._flat
        return _descend(self._check_input(X), f["left"], f["right"], f["feature"],
                        f["threshold"], f["depth"], start=f["roots"]) - f["roots"][None, :]

    def _mean_value(self, X):
        """Mean over trees of the leaf values: ``(N, K)``, in row blocks."""
        xp = backend.xp()
        X = self._check_input(X)
        f = self._flat
        n_trees = int(f["roots"].shape[0])
        step = max(1, (1 << 22) // (n_trees * f["value"].shape[1]))
        out = []
        for a in range(0, X.shape[0], step):
            leaves = _descend(X[a:a + step], f["left"], f["right"], f["feature"],
                              f["threshold"], f["depth"], start=f["roots"])   # (n, B)
            out.append(f["value"][leaves].mean(axis=1))
        return xp.concatenate(out, axis=0)


class RandomForestClassifier(ProbabilisticClassifierMixin, ClassifierMixin, _BaseForest):
    """Random forest of :class:`DecisionTreeClassifier`, scikit-learn's names and defaults.

    Parameters
    ----------
    n_estimators : int, default 100
    criterion : {"gini", "entropy"}
    max_depth, min_samples_split, min_samples_leaf : as the tree's
    max_features : default "sqrt" (``int(sqrt(D))`` features per split)
    bootstrap : bool, default True (False: every tree sees all samples)
    random_state : None, int or numpy.random.Generator (same seed, same forest)

    Attributes
    ----------
    estimators_ : list of fitted :class:`DecisionTreeClassifier`
    classes_, n_classes_, n_features_in_,
    feature_importances_ (D,): mean of the trees' normalised impurity decreases.

    ``predict_proba`` averages the trees' leaf class fractions; ``predict`` takes its
    arg-max. Raises ``ValueError`` for bad data or hyperparameters (named) and
    ``NotFittedError`` before ``fit``. Chapter: chapters/03-4-classical.md.
    """

    def __init__(self, n_estimators=100, *, criterion="gini", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, max_features="sqrt",
                 bootstrap=True, random_state=None):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state

    def predict_proba(self, X):
        """Mean of the trees' class probabilities: ``(N, K)``."""
        return self._mean_value(X)


class RandomForestRegressor(RegressorMixin, _BaseForest):
    """Random forest of :class:`DecisionTreeRegressor` (squared error); ``predict`` is the
    mean of the trees' predictions and ``score`` is R². ``max_features`` defaults to 1.0
    (all features), as in scikit-learn. Chapter: chapters/03-4-classical.md.
    """

    _tree_class = DecisionTreeRegressor
    _regression = True

    def __init__(self, n_estimators=100, *, criterion="squared_error", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, max_features=1.0,
                 bootstrap=True, random_state=None):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.random_state = random_state

    def predict(self, X):
        """Mean of the trees' predictions: ``(N,)``."""
        return self._mean_value(X)[:, 0]
