"""The trees' fast split search grows the same trees as the readable one (issue 15;
chapters/03-4-classical.md).

Specification
-------------
* ``_best_splits_fast`` (reads the codes as one block, drops the (node, feature) pairs
  whose feature is constant in the node and the entries at their pair's smallest value,
  numbers the pairs left compactly) finds, node by node, the same split as the readable
  ``_best_splits``: same has-split flag, feature, threshold, proxy (to the last bit:
  integer weights, class counts) and all-constant flag, on random levels with constant
  features, tied values, several classes, ``min_samples_leaf`` and the retry rule (first
  non-constant feature only), for Gini and entropy.
* The fast search's runs of equal keys (a bool occupancy array; two radix sorts; the
  readable sort past two 16-bit digits) are the readable sort's.
* Whole trees and forests grown with either search are identical (every node's feature,
  threshold, children, values and sample counts), for Gini and entropy, with
  ``min_samples_leaf`` > 1 and with draws that are often all constant (retries). The fit
  takes the fast search only there (class counts, integer weights), where its numbers
  are the readable search's to the last bit, and where it pays (features of at most 256
  distinct values); regression and real-valued weights keep the readable one (a
  last-bit difference could order two tied splits differently), and so do continuous
  features.
* ``feature_codes``' fast path (only the values above each column's minimum sorted, by
  radix sorts) gives the readable path's codes, values and ``n_codes``: blank-heavy
  columns, constant columns, negative values, -0.0 beside 0.0, ties; it declines
  (None) where most values lie above their column's minimum.
* ``draw_features`` rechecks only the redrawn rows for repeats, and draws exactly what
  the readable rejection loop (recheck every row each round) draws from the same seed.
* A forest's trees are the same whether its groups of trees (the trees that share one
  Generator of feature draws) are grown one group per call or all in one call.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.supervised import DecisionTreeClassifier, RandomForestClassifier
from mmscratch.supervised import _tree_fast as tf
from mmscratch.supervised import _tree_growth as tg
from mmscratch.supervised import forest as forest_mod


def h(a):
    return backend.to_numpy(a)


def mixed_data(seed, n=400, d=12, classes=3):
    """Constant columns, few-valued (tied) columns and continuous ones; a noisy target."""
    r = np.random.default_rng(seed)
    X = np.round(r.normal(size=(n, d)) * 16) / 16   # <= 256 values a column: fast search
    X[:, 0] = 0.0                                   # constant everywhere
    X[:, 1] = np.where(r.random(n) < 0.9, 0.0, 1.0)  # constant in most small nodes
    X[:, 2:5] = np.round(X[:, 2:5])                 # few values: long runs of ties
    s = X[:, 2] + np.sin(X[:, 5]) + X[:, 6] * X[:, 7] + X[:, 1] + r.normal(size=n)
    y = np.digitize(s, np.quantile(s, np.linspace(0, 1, classes + 1)[1:-1]))
    return X, y, s


def level_inputs(seed, criterion):
    """One level of a search: nodes of random sizes, random rows, candidate features."""
    r = np.random.default_rng(seed)
    X, y, _ = mixed_data(seed)
    Xf = X.astype(np.float32)
    codes, values, n_codes = tg.feature_codes(Xf)
    n_nodes, m = 9, 4
    sizes = r.integers(1, 40, size=n_nodes)
    sample = r.choice(len(y), size=int(sizes.sum()), replace=False)
    w = r.integers(1, 4, size=len(sample)).astype(np.float64)   # bootstrap-like counts
    node = np.repeat(np.arange(n_nodes), sizes)
    crit, target = tg._Criterion(criterion, 3), y[sample]
    totals = crit.node_stats(node, w, target, n_nodes)
    feats = np.stack([r.permutation(X.shape[1])[:m] for _ in range(n_nodes)])
    feats[0] = [0, 1, 2, 3]   # constant features first: the retry rule skips them
    return codes, values, n_codes, sample, w, target, sizes, feats, totals, crit


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
@pytest.mark.parametrize("msl", [1, 3])
@pytest.mark.parametrize("first_nonconstant", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_search_finds_the_readable_searchs_split(criterion, msl, first_nonconstant,
                                                      seed):
    args = level_inputs(seed, criterion)
    slow = tg._best_splits(*args, msl, first_nonconstant)
    fast = tf._best_splits_fast(*args, msl, first_nonconstant)
    has = h(slow[0])
    assert has.any()
    np.testing.assert_array_equal(h(fast[0]), has)
    np.testing.assert_array_equal(h(fast[4]), h(slow[4]))       # all candidates constant
    for a, b in zip(fast[1:3], slow[1:3]):                      # feature, threshold
        np.testing.assert_array_equal(h(a)[has], h(b)[has])
    # integer weights and class counts: every sum is an integer, the proxies are equal
    np.testing.assert_array_equal(h(fast[3])[has], h(slow[3])[has])


def same_tree(a, b):
    for name in ("children_left", "children_right", "feature", "threshold", "value",
                 "n_node_samples", "impurity"):
        np.testing.assert_array_equal(h(getattr(a, name)), h(getattr(b, name)), err_msg=name)


def both_ways(monkeypatch, make, X, y):
    # the data are such that a fit takes the fast search (one-byte codes)
    assert tg.feature_codes(X.astype(np.float32))[2] <= 256
    monkeypatch.setattr(tg, "FAST_SPLIT_SEARCH", False)
    slow = make().fit(X, y)
    monkeypatch.setattr(tg, "FAST_SPLIT_SEARCH", True)
    fast = make().fit(X, y)
    return slow, fast


@pytest.mark.parametrize("msl", [1, 4])
def test_forests_grown_either_way_are_identical(monkeypatch, msl):
    X, y, s = mixed_data(3, n=600)
    slow, fast = both_ways(monkeypatch, lambda: RandomForestClassifier(
        6, max_features=3, min_samples_leaf=msl, random_state=0), X, y)
    for a, b in zip(slow.estimators_, fast.estimators_):
        same_tree(a.tree_, b.tree_)
    np.testing.assert_array_equal(h(slow.feature_importances_), h(fast.feature_importances_))


def test_fit_takes_the_fast_search_only_where_it_is_exact():
    gini, reg = tg._Criterion("gini", 3), tg._Criterion("squared_error", 1)
    counts = backend.asarray(np.array([[0.0, 2.0, 1.0]]))
    real = backend.asarray(np.array([[0.5, 2.0, 1.0]]))
    assert tg._split_search(gini, counts, 256) is tf._best_splits_fast
    assert tg._split_search(gini, real, 256) is tg._best_splits
    assert tg._split_search(reg, counts, 256) is tg._best_splits
    assert tg._split_search(gini, counts, 257) is tg._best_splits  # continuous features


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_trees_with_mostly_constant_draws_are_identical(monkeypatch, criterion):
    # 3 informative columns among 40 mostly constant ones, one feature per split: most
    # draws are constant, so nodes retry with every feature (the first non-constant wins)
    r = np.random.default_rng(5)
    Z = np.where(r.random((300, 40)) < 0.97, 0.0, 1.0)
    Z[:, [7, 19, 33]] = np.round(r.normal(size=(300, 3)) * 16) / 16
    y = (Z[:, 7] + Z[:, 19] * Z[:, 33] + Z[:, :7].sum(1) > 0.2).astype(int)
    slow, fast = both_ways(monkeypatch, lambda: DecisionTreeClassifier(
        criterion=criterion, max_features=1, random_state=0), Z, y)
    same_tree(slow.tree_, fast.tree_)


def test_trees_per_call_change_no_tree(monkeypatch):
    # several trees share one Generator (a group); groups grown one per call or several
    # per call draw the same features, so the forests are identical
    X, y, _ = mixed_data(4, n=500)
    monkeypatch.setattr(forest_mod, "_ENTRIES_PER_BATCH_CPU", 3 * 320 * 3)  # ~3 per group
    fits = []
    for per_call in (1, 1 << 30):  # a group per call; every tree in one call
        monkeypatch.setattr(forest_mod, "_ENTRIES_PER_CALL_CPU", per_call)
        fits.append(RandomForestClassifier(10, max_features=3, random_state=0).fit(X, y))
    for a, b in zip(*(f.estimators_ for f in fits)):
        same_tree(a.tree_, b.tree_)


@pytest.mark.parametrize("n_codes,n_pairs", [(256, 40), (256, 5000), (300, 300), (256, 100000),
                                             (1 << 17, 3)])
def test_fast_runs_are_the_sorted_runs(monkeypatch, n_codes, n_pairs):
    r = np.random.default_rng(n_pairs)
    key = r.integers(0, n_pairs, 3000) * n_codes + r.integers(0, min(n_codes, 50), 3000)
    ref_key, ref_gid, ref_order = tg._runs_sorted(key)
    for factor in (0, 10 ** 9):  # sorted (radix or comparison) / occupancy array
        monkeypatch.setattr(tf, "_DENSE_FACTOR_FAST", factor)
        g_key, gid, order = tf._runs_fast(key, n_pairs * n_codes, n_codes)
        np.testing.assert_array_equal(h(g_key), h(ref_key))
        if order is None:   # entries kept their order: gid is per entry
            np.testing.assert_array_equal(h(g_key)[h(gid)], key)
        else:               # stable order, as the readable sort's
            np.testing.assert_array_equal(h(order), h(ref_order))
            np.testing.assert_array_equal(h(gid), h(ref_gid))


@pytest.mark.parametrize("n_nodes,d,m", [(3000, 784, 28), (500, 40, 9), (7, 30, 3)])
def test_feature_draws_equal_the_readable_rejection_loop(n_nodes, d, m):
    def readable(rng):
        out = rng.integers(0, d, size=(n_nodes, m))
        while True:  # every row checked every round; rows with a repeat drawn again
            s = np.sort(out, axis=1)
            again = (s[:, 1:] == s[:, :-1]).any(axis=1)
            if not again.any():
                return out
            out[again] = rng.integers(0, d, size=(int(again.sum()), m))

    a = tg.draw_features(np.random.default_rng(3), n_nodes, d, m)
    b = readable(np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_fast_feature_codes_equal_the_readable_ones():
    r = np.random.default_rng(7)
    X = np.where(r.random((500, 9)) < 0.7, 0.0, np.round(np.abs(r.normal(size=(500, 9))), 2))
    X[:, 0] = 3.0                                   # constant column
    X[:, 1] = np.where(r.random(500) < 0.8, -2.5, r.normal(size=500))  # negative minimum
    X[::3, 2] = -0.0                                # -0.0 beside 0.0: one value
    X[:, 3] = np.where(r.random(500) < 0.3, 0.0, r.permutation(500) + 1.0)  # > 256 codes
    Xf = X.astype(np.float32)
    fast = tf._feature_codes_fast(Xf)
    assert fast is not None
    slow = tg.feature_codes(Xf, fast=False)
    assert slow[2] > 256 and slow[0].dtype == np.uint16
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(h(a), h(b))
    # most values above the minimum: declined (the readable sort is cheaper there)
    assert tf._feature_codes_fast(r.normal(size=(200, 4)).astype(np.float32)) is None
