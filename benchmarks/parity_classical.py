"""Largest differences from scikit-learn of the naive Bayes and tree estimators.

Run: ``python benchmarks/parity_classical.py``. Prints, on the data sets of
``tests/test_naive_bayes.py`` and ``tests/test_tree.py``: the largest absolute
difference of naive Bayes parameters and probabilities, and whether each tree equals
scikit-learn's (depth, leaves, thresholds, predictions) with its largest importance
difference. The tests assert the bounds (1e-9 for naive Bayes, equality for trees); this
script reports the numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sklearn import naive_bayes as sk_nb  # noqa: E402
from sklearn import tree as sk_tree  # noqa: E402
from test_naive_bayes import count_sets, gaussian_sets  # noqa: E402
from test_tree import CLASSIFIER_CASES, noisy_classes, noisy_regression  # noqa: E402

from mmscratch import backend  # noqa: E402
from mmscratch.supervised import (  # noqa: E402
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    GaussianNB,
    MultinomialNB,
)


def h(a):
    return backend.to_numpy(a)


def gap(a, b):
    return float(np.max(np.abs(h(a) - np.asarray(b))))


def main():
    print("GaussianNB (max |ours - sklearn|): theta_, var_ (relative), predict_proba")
    for name, (X, y) in gaussian_sets().items():
        a, b = GaussianNB().fit(X, y), sk_nb.GaussianNB().fit(X, y)
        rel = np.max(np.abs(h(a.var_) - b.var_) / b.var_)
        print(f"  {name:>8}: {gap(a.theta_, b.theta_):.1e} {rel:.1e} "
              f"{gap(a.predict_proba(X), b.predict_proba(X)):.1e}")
    print("MultinomialNB: feature_log_prob_, class_log_prior_, predict_proba")
    for name, (X, y) in count_sets().items():
        a, b = MultinomialNB().fit(X, y), sk_nb.MultinomialNB().fit(X, y)
        print(f"  {name:>13}: {gap(a.feature_log_prob_, b.feature_log_prob_):.1e} "
              f"{gap(a.class_log_prior_, b.class_log_prior_):.1e} "
              f"{gap(a.predict_proba(X), b.predict_proba(X)):.1e}")
    print("Trees (unique best splits): same depth/leaves/thresholds/predictions, max "
          "|importance diff|")
    for seed, crit, kw in CLASSIFIER_CASES:
        X, y, Xt = noisy_classes(seed)
        a = DecisionTreeClassifier(criterion=crit, **kw).fit(X, y)
        b = sk_tree.DecisionTreeClassifier(criterion=crit, random_state=0, **kw).fit(X, y)
        same = (a.get_depth() == b.get_depth() and a.get_n_leaves() == b.get_n_leaves()
                and np.array_equal(h(a.tree_.threshold), b.tree_.threshold)
                and np.array_equal(h(a.predict(Xt)), b.predict(Xt)))
        print(f"  classifier seed {seed} {crit} {kw}: {same}, "
              f"{gap(a.feature_importances_, b.feature_importances_):.1e}")
    for seed in (0, 1):
        X, y, Xt = noisy_regression(seed)
        a = DecisionTreeRegressor(min_samples_leaf=20).fit(X, y)
        b = sk_tree.DecisionTreeRegressor(min_samples_leaf=20, random_state=0).fit(X, y)
        same = (a.get_depth() == b.get_depth() and a.get_n_leaves() == b.get_n_leaves()
                and np.array_equal(h(a.tree_.threshold), b.tree_.threshold))
        pred_gap = gap(a.predict(Xt), b.predict(Xt))
        imp_gap = gap(a.feature_importances_, b.feature_importances_)
        print(f"  regressor seed {seed}: {same}, predictions {pred_gap:.1e}, "
              f"importances {imp_gap:.1e}")


if __name__ == "__main__":
    main()
