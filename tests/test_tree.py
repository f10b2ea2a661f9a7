"""Decision trees: scikit-learn parity, a naive reference search, and stated properties.

Specification
-------------
* On continuous data whose best split is unique at every node, the tree equals
  scikit-learn's: same depth, number of leaves, node features and thresholds, leaf ids
  (``apply``), predictions, probabilities and feature importances (Gini, entropy,
  squared error). Where several splits are equally good (two features isolating the
  same samples, common in small nodes) the choice is arbitrary in both libraries
  (scikit-learn breaks ties by a random feature order), so the parity data sets are
  checked to have a unique best split at every node (``unique_best_splits``) and use
  ``max_depth`` / ``min_samples_leaf`` to keep nodes large.
* Ties or not, every split of a fully grown tree is a best one: its proxy equals the
  maximum found by a naive loop over every feature and threshold of the node.
* Both ways of finding runs of equal keys (histogram, sort) give the same tree.
* ``max_features`` resolves as scikit-learn's; a seed gives one tree; when every drawn
  feature is constant in a node the others are tried (as scikit-learn does).
* Same tree on the numpy and strict backends; errors name the argument.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.errors import NotFittedError
from mmscratch.supervised import DecisionTreeClassifier, DecisionTreeRegressor
from mmscratch.supervised import _tree_growth as tree_mod

sk_tree = pytest.importorskip("sklearn.tree")


def h(a):
    return backend.to_numpy(a)


def noisy_classes(seed, n=2000, d=6):
    """Three overlapping classes of a smooth score: nodes stay mixed, so splits rarely tie."""
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, d))
    s = X[:, 0] * 2 + np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] + 1.5 * r.normal(size=n)
    return X, (s > 0.5).astype(int) + (s > 2), r.normal(size=(500, d))


def noisy_regression(seed, n=1000, d=5):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, d))
    y = X[:, 0] * 2 + np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.5 * r.normal(size=n)
    return X, y, r.normal(size=(500, d))


# ------------------------------------------------------------- naive reference
def node_members(t, X32):
    """Training rows of every node of a fitted ``tree_`` (a readable recursive walk)."""
    left, right = h(t.children_left), h(t.children_right)
    feat, thr = h(t.feature), h(t.threshold)
    members = {0: np.arange(len(X32))}
    stack = [0]
    while stack:
        i = stack.pop()
        if left[i] < 0:
            continue
        rows = members[i]
        go = X32[rows, feat[i]] <= thr[i]
        members[left[i]], members[right[i]] = rows[go], rows[~go]
        stack += [left[i], right[i]]
    return members


def all_candidates(Xn, yn, criterion, n_classes, msl):
    """(proxy, feature, threshold) of every valid split of one node, by brute force:
    for each feature, sort the node's samples and try every position between two
    distinct values (prefix sums give the left side, the node total minus it the right).

    The proxy is scikit-learn's: -(w_L i(L) + w_R i(R)); for Gini that is
    sum_k n_Lk^2/w_L + sum_k n_Rk^2/w_R - w, for squared error s_L^2/w_L + s_R^2/w_R.
    """
    out = []
    n = len(yn)
    for f in range(Xn.shape[1]):
        order = np.argsort(Xn[:, f], kind="stable")
        xs, ys = Xn[order, f].astype(np.float64), yn[order]
        p = np.arange(1, n)                                   # left = first p samples
        ok = (xs[1:] > xs[:-1] + 1e-7) & (p >= msl) & (n - p >= msl)
        if criterion == "squared_error":
            sl = np.cumsum(ys)[:-1]
            proxy = sl ** 2 / p + (ys.sum() - sl) ** 2 / (n - p)
        else:
            cl = np.cumsum(np.eye(n_classes)[ys], axis=0)[:-1]  # (n-1, K) left counts
            cr = np.bincount(ys, minlength=n_classes) - cl
            if criterion == "gini":
                proxy = (cl ** 2).sum(1) / p + (cr ** 2).sum(1) / (n - p)
            else:
                def xlogx(c):
                    return np.where(c > 0, c * np.log(np.where(c > 0, c, 1)), 0)
                proxy = (xlogx(cl).sum(1) - xlogx(p) + xlogx(cr).sum(1) - xlogx(n - p))
        for i in np.nonzero(ok)[0]:
            out.append((proxy[i], f, xs[i] / 2 + xs[i + 1] / 2))
    return out


def unique_best_splits(t, X, y, criterion, n_classes, msl=1):
    """True when, at every internal node of ``t``, one split beats all others by 1e-9."""
    X32 = X.astype(np.float32)
    members = node_members(t, X32)
    for i, rows in members.items():
        if h(t.children_left)[i] < 0:
            continue
        c = sorted(all_candidates(X32[rows], y[rows], criterion, n_classes, msl),
                   key=lambda c: -c[0])
        if len(c) > 1 and c[0][0] - c[1][0] <= 1e-9 * abs(c[0][0]):
            return False
    return True


# ------------------------------------------------------------- parity
# Data sets (seed, settings) checked to have a unique best split at every node; with
# three classes, equal class counts on two features are common, so not every seed does.
CLASSIFIER_CASES = [(3, "gini", {"max_depth": 4}), (3, "gini", {"min_samples_leaf": 40}),
                    (0, "entropy", {"max_depth": 4}), (0, "entropy", {"min_samples_leaf": 40}),
                    (1, "gini", {"max_depth": 3}), (2, "entropy", {"max_depth": 4})]


@pytest.mark.parametrize("seed,criterion,kwargs", CLASSIFIER_CASES)
def test_classifier_equals_scikit_learn_where_the_best_split_is_unique(seed, criterion,
                                                                        kwargs):
    X, y, Xt = noisy_classes(seed)
    ref = sk_tree.DecisionTreeClassifier(criterion=criterion, random_state=0, **kwargs)
    ref.fit(X, y)
    assert unique_best_splits(ref.tree_, X, y, criterion, 3,
                              kwargs.get("min_samples_leaf", 1)), "test data has ties"
    ours = DecisionTreeClassifier(criterion=criterion, **kwargs).fit(X, y)
    assert ours.get_depth() == ref.get_depth()
    assert ours.get_n_leaves() == ref.get_n_leaves()
    np.testing.assert_array_equal(h(ours.tree_.feature), ref.tree_.feature)
    np.testing.assert_array_equal(h(ours.tree_.threshold), ref.tree_.threshold)
    np.testing.assert_array_equal(h(ours.tree_.children_left), ref.tree_.children_left)
    np.testing.assert_array_equal(h(ours.apply(Xt)), ref.apply(Xt))
    np.testing.assert_array_equal(h(ours.predict(Xt)), ref.predict(Xt))
    np.testing.assert_allclose(h(ours.predict_proba(Xt)), ref.predict_proba(Xt), atol=1e-12)
    np.testing.assert_allclose(h(ours.feature_importances_), ref.feature_importances_,
                               atol=1e-12)
    np.testing.assert_allclose(h(ours.tree_.impurity), ref.tree_.impurity, atol=1e-12)
    np.testing.assert_array_equal(h(ours.tree_.n_node_samples), ref.tree_.n_node_samples)


@pytest.mark.parametrize("seed", [0, 1])
def test_regressor_equals_scikit_learn_where_the_best_split_is_unique(seed):
    X, y, Xt = noisy_regression(seed)
    ref = sk_tree.DecisionTreeRegressor(min_samples_leaf=20, random_state=0).fit(X, y)
    assert unique_best_splits(ref.tree_, X, y, "squared_error", 1, 20), "test data has ties"
    ours = DecisionTreeRegressor(min_samples_leaf=20).fit(X, y)
    assert ours.get_depth() == ref.get_depth()
    assert ours.get_n_leaves() == ref.get_n_leaves()
    np.testing.assert_array_equal(h(ours.tree_.threshold), ref.tree_.threshold)
    np.testing.assert_array_equal(h(ours.apply(Xt)), ref.apply(Xt))
    np.testing.assert_allclose(h(ours.predict(Xt)), ref.predict(Xt), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h(ours.feature_importances_), ref.feature_importances_,
                               atol=1e-12)
    assert ours.score(Xt, Xt[:, 0]) == pytest.approx(ref.score(Xt, Xt[:, 0]), abs=1e-12)


def test_sample_weights_match_scikit_learn():
    X, y, Xt = noisy_classes(3, n=1500)
    w = np.random.default_rng(0).integers(0, 4, size=len(y)).astype(float)
    ref = sk_tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y, sample_weight=w)
    ours = DecisionTreeClassifier(max_depth=3).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(h(ours.tree_.threshold), ref.tree_.threshold)
    np.testing.assert_allclose(h(ours.predict_proba(Xt)), ref.predict_proba(Xt), atol=1e-12)


# ------------------------------------------------------------- properties
@pytest.mark.parametrize("criterion", ["gini", "entropy", "squared_error"])
def test_every_split_is_a_best_split_even_with_ties(criterion):
    r = np.random.default_rng(5)
    X = r.normal(size=(120, 4))
    if criterion == "squared_error":
        y = X[:, 0] + r.normal(size=120) * 0.3
        est = DecisionTreeRegressor(min_samples_leaf=2).fit(X, y)
        k = 1
    else:
        y = (X[:, 0] + X[:, 1] ** 2 + r.normal(size=120) > 0.8).astype(int)
        est = DecisionTreeClassifier(criterion=criterion, min_samples_leaf=2).fit(X, y)
        k = 2
    X32 = X.astype(np.float32)
    t = est.tree_
    members = node_members(t, X32)
    feat, thr = h(t.feature), h(t.threshold)
    for i, rows in members.items():
        cands = all_candidates(X32[rows], y[rows], criterion, k, 2)
        if h(t.children_left)[i] < 0:
            # a leaf: pure, too small, or no valid split at all
            assert (len(rows) < 4 or not cands or len(np.unique(y[rows])) == 1
                    or criterion == "squared_error" and np.ptp(y[rows]) == 0)
            continue
        best = max(c[0] for c in cands)
        chosen = [c[0] for c in cands if c[1] == feat[i] and c[2] == thr[i]]
        assert chosen and chosen[0] >= best - 1e-9 * abs(best)


def test_fully_grown_tree_fits_distinct_training_points():
    X, y, _ = noisy_classes(4, n=300)
    est = DecisionTreeClassifier().fit(X, y)
    assert est.score(X, y) == 1.0
    leaves = h(est.apply(X))
    lf = h(est.tree_.children_left)
    assert (lf[leaves] == -1).all()
    assert len(np.unique(leaves)) <= est.get_n_leaves() == int((lf == -1).sum())
    np.testing.assert_allclose(h(est.predict_proba(X)).sum(axis=1), 1.0)
    imp = h(est.feature_importances_)
    assert imp.min() >= 0 and imp.sum() == pytest.approx(1.0)


def test_histogram_and_sorted_runs_agree(monkeypatch):
    r = np.random.default_rng(0)
    key = r.integers(0, 500, size=2000)
    gk_d, gid_d, order = tree_mod._runs(key, 500)  # small key space: histogram
    assert order is None
    gk_s, gid_s, order = tree_mod._runs_sorted(key)
    np.testing.assert_array_equal(gk_d, gk_s)
    np.testing.assert_array_equal(gid_d[order], gid_s)
    np.testing.assert_array_equal(gk_d[gid_d], key)
    # and a whole tree grown either way
    X = np.round(r.normal(size=(400, 5)), 1)  # few distinct values, many ties
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    monkeypatch.setattr(tree_mod, "FAST_SPLIT_SEARCH", False)  # the readable search's runs
    monkeypatch.setattr(tree_mod, "_DENSE_FACTOR", 0)
    sorted_tree = DecisionTreeClassifier(random_state=0, max_features=3).fit(X, y)
    monkeypatch.setattr(tree_mod, "_DENSE_FACTOR", 10 ** 9)
    dense_tree = DecisionTreeClassifier(random_state=0, max_features=3).fit(X, y)
    for name in ("feature", "threshold", "children_left", "value"):
        np.testing.assert_array_equal(h(getattr(sorted_tree.tree_, name)),
                                      h(getattr(dense_tree.tree_, name)))


@pytest.mark.parametrize("weighted", [False, True])
def test_fast_gini_proxy_agrees_with_the_readable_one(monkeypatch, weighted):
    # the whole tree both ways, with integer (none) and with real-valued sample weights
    X, y, Xt = noisy_classes(6, n=600)
    w = np.random.default_rng(1).uniform(0.1, 3.0, size=len(y)) if weighted else None
    # the readable search (with integer weights a fit takes the fast one,
    # tests/test_tree_speed_paths.py)
    monkeypatch.setattr(tree_mod, "FAST_SPLIT_SEARCH", False)
    fast = DecisionTreeClassifier(max_features=3, random_state=0).fit(X, y, sample_weight=w)
    fast_search, compared = tree_mod.proxy_gini, []

    def readable(crit, gid, w_e, t_e, lay, totals, valid, wt_e):
        fast_p = fast_search(crit, gid, w_e, t_e, lay, totals, valid, wt_e)
        slow_p = tree_mod.proxy_by_counts(crit, gid, w_e, t_e, lay, totals, valid)
        ok = np.isfinite(h(slow_p))
        np.testing.assert_array_equal(np.isfinite(h(fast_p)), ok)
        # real-valued weights: T^2 - 2 T.L + L^2 cancels where the right side is small;
        # the proxy keeps ~1e-12 relative accuracy here (integer weights: exact)
        np.testing.assert_allclose(h(fast_p)[ok], h(slow_p)[ok], rtol=1e-10 if weighted else 0)
        compared.append(int(ok.sum()))
        return slow_p

    monkeypatch.setattr(tree_mod, "proxy_gini", readable)
    slow = DecisionTreeClassifier(max_features=3, random_state=0).fit(X, y, sample_weight=w)
    assert sum(compared) > 100
    if not weighted:  # integer weights: every term is an integer, the same tree exactly
        np.testing.assert_array_equal(h(fast.tree_.threshold), h(slow.tree_.threshold))
        np.testing.assert_array_equal(h(fast.predict_proba(Xt)), h(slow.predict_proba(Xt)))
    # (with real weights, exact ties such as two pure splits may round differently and
    # be broken differently, so only the proxies are compared, above)


def test_segmented_argmax_both_ways_finds_the_first_maximum(xp):
    values = backend.asarray(np.array([1.0, 3.0, 3.0, -np.inf, -np.inf, 2.0, 5.0, 5.0, 0.0]))
    seg = backend.asarray(np.array([0, 0, 0, 1, 1, 2, 2, 2, 2]))
    starts = backend.asarray(np.array([0, 3, 5]))
    for method in ("reduceat", "lexsort"):
        best, index = tree_mod.segment_first_argmax(values, starts, seg, method=method)
        np.testing.assert_array_equal(h(best), [3.0, -np.inf, 5.0])
        np.testing.assert_array_equal(h(index), [1, 3, 6])  # ties: the first one


@pytest.mark.parametrize("m,d", [(3, 40), (20, 30)])
def test_feature_draws_are_distinct_and_uniform(m, d):
    rng = np.random.default_rng(0)
    draws = tree_mod.draw_features(rng, 40000, d, m)
    assert draws.shape == (40000, m)
    assert all(len(set(row)) == m for row in draws.tolist())
    freq = np.bincount(draws.ravel(), minlength=d) / draws.size
    # each feature equally often: >= 3,000 draws each, so 10% is > 5 standard deviations
    np.testing.assert_allclose(freq, 1.0 / d, rtol=0.1)


@pytest.mark.parametrize("max_features", [None, 3, 0.5, 1.0, "sqrt", "log2"])
def test_max_features_resolves_as_scikit_learn(max_features):
    X, y, _ = noisy_classes(0, n=200, d=11)
    ours = DecisionTreeClassifier(max_features=max_features, random_state=0).fit(X, y)
    ref = sk_tree.DecisionTreeClassifier(max_features=max_features).fit(X, y)
    assert ours.max_features_ == ref.max_features_


def test_seed_gives_one_tree_and_constant_draws_are_retried():
    X, y, Xt = noisy_classes(1, n=400)
    a = DecisionTreeClassifier(max_features=2, random_state=7).fit(X, y)
    b = DecisionTreeClassifier(max_features=2, random_state=7).fit(X, y)
    c = DecisionTreeClassifier(max_features=2, random_state=8).fit(X, y)
    np.testing.assert_array_equal(h(a.tree_.threshold), h(b.tree_.threshold))
    assert not np.array_equal(h(a.predict_proba(Xt)), h(c.predict_proba(Xt)))
    # 1 informative column among 29 constant ones, one feature drawn per split: most
    # draws are constant, yet the tree still separates the classes (scikit-learn's rule)
    r = np.random.default_rng(0)
    Z = np.zeros((200, 30))
    Z[:, 17] = r.normal(size=200)
    yz = (Z[:, 17] > 0.3).astype(int)
    est = DecisionTreeClassifier(max_features=1, random_state=0).fit(Z, yz)
    assert est.score(Z, yz) == 1.0 and est.get_depth() == 1
    assert h(est.tree_.feature)[0] == 17


def test_same_tree_on_every_backend(xp):
    X, y, Xt = noisy_classes(2, n=300)
    with backend.use("numpy"):
        ref = DecisionTreeClassifier(max_features=3, random_state=1).fit(X, y)
        ref_p = h(ref.predict_proba(Xt))
        ref_reg = h(DecisionTreeRegressor(max_depth=5).fit(X, X[:, 0]).predict(Xt))
    est = DecisionTreeClassifier(max_features=3, random_state=1).fit(backend.asarray(X),
                                                                      backend.asarray(y))
    p = est.predict_proba(backend.asarray(Xt))
    assert backend.get_array_module(p) is xp
    np.testing.assert_array_equal(h(p), ref_p)
    np.testing.assert_array_equal(h(est.tree_.threshold), h(ref.tree_.threshold))
    reg = DecisionTreeRegressor(max_depth=5).fit(backend.asarray(X), backend.asarray(X[:, 0]))
    np.testing.assert_allclose(h(reg.predict(backend.asarray(Xt))), ref_reg, rtol=1e-12)


def test_string_labels_are_kept_as_given():
    X, y, Xt = noisy_classes(0, n=300)
    names = np.array(["low", "mid", "top"])[y]
    est = DecisionTreeClassifier(max_depth=3).fit(X, names)
    assert list(h(est.classes_)) == ["low", "mid", "top"]
    by_index = DecisionTreeClassifier(max_depth=3).fit(X, y)
    np.testing.assert_array_equal(h(est.predict(Xt)),
                                  np.array(["low", "mid", "top"])[h(by_index.predict(Xt))])


# ------------------------------------------------------------- errors
@pytest.mark.parametrize("est_class", [DecisionTreeClassifier, DecisionTreeRegressor])
def test_bad_input_raises_naming_the_argument(est_class):
    X, y, _ = noisy_classes(0, n=50)
    with pytest.raises(NotFittedError):
        est_class().predict(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        est_class().fit(bad, y)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="'X' contains NaN or inf"):
        est_class().fit(bad, y)
    with pytest.raises(ValueError, match="'X' must be a 2-D array"):
        est_class().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="samples"):
        est_class().fit(X, y[:-1])
    fitted = est_class(max_depth=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :3])
    if est_class is DecisionTreeClassifier:
        with pytest.raises(ValueError, match="single class"):
            est_class().fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("kwargs,exc,arg", [
    ({"criterion": "mse"}, ValueError, "criterion"),
    ({"max_depth": 0}, ValueError, "max_depth"),
    ({"max_depth": 2.0}, TypeError, "max_depth"),
    ({"min_samples_split": 1}, ValueError, "min_samples_split"),
    ({"min_samples_split": 1.5}, ValueError, "min_samples_split"),
    ({"min_samples_leaf": 0}, ValueError, "min_samples_leaf"),
    ({"min_samples_leaf": 1.0}, ValueError, "min_samples_leaf"),
    ({"max_features": "auto"}, ValueError, "max_features"),
    ({"max_features": 0}, ValueError, "max_features"),
    ({"max_features": 7}, ValueError, "max_features"),
    ({"max_features": 1.5}, ValueError, "max_features"),
    ({"random_state": "seed"}, TypeError, "random_state"),
])
def test_bad_hyperparameters_name_the_argument(kwargs, exc, arg):
    X, y, _ = noisy_classes(0, n=50)
    with pytest.raises(exc, match=f"'{arg}'"):
        DecisionTreeClassifier(**kwargs).fit(X, y)
