"""Random forests: accuracy next to scikit-learn's, averaging, seeding, backends, errors.

Specification
-------------
* Test accuracy within 1.5 points of scikit-learn's ``RandomForestClassifier`` with the
  same settings on the same split (mean over three seeds each, so one lucky forest does
  not decide), on digits, breast cancer and a synthetic task (half of it held out); the
  regressor's R² within 0.02 of scikit-learn's.
* ``predict_proba`` is the mean of the trees' ``predict_proba`` (checked against a loop
  over ``estimators_``); ``feature_importances_`` the renormalised mean of the trees'.
* Without bootstrap and with every feature at every split, every tree is the single
  decision tree on the same data.
* Same ``random_state``, same forest; another seed, another forest; same forest on the
  numpy and strict backends.
* Bad input and hyperparameters raise errors naming the argument; ``NotFittedError``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.errors import NotFittedError
from mmscratch.supervised import (
    DecisionTreeClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)

sk_ensemble = pytest.importorskip("sklearn.ensemble")
sk_datasets = pytest.importorskip("sklearn.datasets")


def h(a):
    return backend.to_numpy(a)


def split(X, y, seed, test=0.3):
    idx = np.random.default_rng(seed).permutation(len(y))
    k = int(len(y) * (1 - test))
    return X[idx[:k]], y[idx[:k]], X[idx[k:]], y[idx[k:]]


def classification_sets():
    return {
        "digits": sk_datasets.load_digits(return_X_y=True),
        "cancer": sk_datasets.load_breast_cancer(return_X_y=True),
        "synthetic": sk_datasets.make_classification(
            n_samples=2000, n_features=20, n_informative=10, n_classes=3, class_sep=1.5,
            random_state=0),
    }


@pytest.mark.parametrize("name", ["digits", "cancer", "synthetic"])
def test_accuracy_within_one_and_a_half_points_of_scikit_learn(name):
    X, y = classification_sets()[name]
    ours, ref = [], []
    for seed in range(3):
        Xtr, ytr, Xte, yte = split(X, y, seed, test=0.5)
        ours.append(RandomForestClassifier(30, random_state=seed).fit(Xtr, ytr).score(Xte, yte))
        ref.append(sk_ensemble.RandomForestClassifier(30, random_state=seed)
                   .fit(Xtr, ytr).score(Xte, yte))
    assert abs(np.mean(ours) - np.mean(ref)) <= 0.015, (ours, ref)


def test_regressor_r2_close_to_scikit_learn():
    X, y = sk_datasets.make_friedman1(n_samples=800, noise=0.5, random_state=0)
    Xtr, ytr, Xte, yte = split(X, y, 0)
    ours = RandomForestRegressor(30, random_state=0).fit(Xtr, ytr)
    ref = sk_ensemble.RandomForestRegressor(30, random_state=0).fit(Xtr, ytr)
    assert abs(ours.score(Xte, yte) - ref.score(Xte, yte)) <= 0.02
    assert ours.score(Xte, yte) > 0.8


def test_probabilities_and_importances_average_the_trees():
    X, y = classification_sets()["synthetic"]
    forest = RandomForestClassifier(7, max_depth=6, random_state=0).fit(X, y)
    assert len(forest.estimators_) == 7
    by_loop = np.mean([h(t.predict_proba(X)) for t in forest.estimators_], axis=0)
    np.testing.assert_allclose(h(forest.predict_proba(X)), by_loop, atol=1e-12)
    np.testing.assert_array_equal(h(forest.predict(X)), h(forest.classes_)[by_loop.argmax(1)])
    imp = np.mean([h(t.feature_importances_) for t in forest.estimators_], axis=0)
    np.testing.assert_allclose(h(forest.feature_importances_), imp / imp.sum(), atol=1e-12)
    # leaves from the forest's apply are each tree's apply
    leaves = h(forest.apply(X[:50]))
    for j, t in enumerate(forest.estimators_):
        np.testing.assert_array_equal(leaves[:, j], h(t.apply(X[:50])))
    reg = RandomForestRegressor(5, max_depth=4, random_state=0).fit(X, X[:, 0])
    np.testing.assert_allclose(h(reg.predict(X)),
                               np.mean([h(t.predict(X)) for t in reg.estimators_], axis=0))


def test_without_randomness_every_tree_is_the_decision_tree():
    X, y = classification_sets()["cancer"]
    forest = RandomForestClassifier(3, bootstrap=False, max_features=None, max_depth=5,
                                    random_state=0).fit(X, y)
    single = DecisionTreeClassifier(max_depth=5).fit(X, y)
    for t in forest.estimators_:
        np.testing.assert_array_equal(h(t.tree_.threshold), h(single.tree_.threshold))
    np.testing.assert_allclose(h(forest.predict_proba(X)), h(single.predict_proba(X)))


def test_seed_fixes_the_forest():
    X, y = classification_sets()["synthetic"]
    a = RandomForestClassifier(5, random_state=3).fit(X, y)
    b = RandomForestClassifier(5, random_state=3).fit(X, y)
    c = RandomForestClassifier(5, random_state=4).fit(X, y)
    np.testing.assert_array_equal(h(a.predict_proba(X)), h(b.predict_proba(X)))
    np.testing.assert_array_equal(h(a.feature_importances_), h(b.feature_importances_))
    assert not np.array_equal(h(a.predict_proba(X)), h(c.predict_proba(X)))


def test_same_forest_on_every_backend(xp):
    X, y = classification_sets()["synthetic"]
    X, y = X[:300], y[:300]
    with backend.use("numpy"):
        ref = h(RandomForestClassifier(4, random_state=0).fit(X, y).predict_proba(X))
    f = RandomForestClassifier(4, random_state=0).fit(backend.asarray(X), backend.asarray(y))
    p = f.predict_proba(backend.asarray(X))
    assert backend.get_array_module(p) is xp
    np.testing.assert_allclose(h(p), ref, atol=1e-12)


def test_bad_input_and_hyperparameters_name_the_argument():
    X, y = classification_sets()["cancer"]
    with pytest.raises(NotFittedError):
        RandomForestClassifier(2).predict(X)
    with pytest.raises(NotFittedError):
        RandomForestRegressor(2).predict(X)
    bad = X.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        RandomForestClassifier(2).fit(bad, y)
    with pytest.raises(ValueError, match="'X' must be a 2-D array"):
        RandomForestClassifier(2).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="single class"):
        RandomForestClassifier(2).fit(X, np.ones(len(X)))
    with pytest.raises(ValueError, match="samples"):
        RandomForestClassifier(2).fit(X, y[:-2])
    with pytest.raises(ValueError, match="'n_estimators'"):
        RandomForestClassifier(0).fit(X, y)
    with pytest.raises(TypeError, match="'n_estimators'"):
        RandomForestClassifier(2.0).fit(X, y)
    with pytest.raises(ValueError, match="'bootstrap'"):
        RandomForestClassifier(2, bootstrap="yes").fit(X, y)
    with pytest.raises(ValueError, match="'criterion'"):
        RandomForestRegressor(2, criterion="gini").fit(X, y)
    with pytest.raises(ValueError, match="'max_features'"):
        RandomForestClassifier(2, max_features="all").fit(X, y)
    f = RandomForestClassifier(2, max_depth=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        f.predict(X[:, :4])
