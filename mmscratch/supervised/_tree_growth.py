r"""Growing CART trees level by level: the tree arrays, the split criteria and the
vectorized split search shared by :mod:`mmscratch.supervised.tree` and
:mod:`mmscratch.supervised.forest`.

The algorithm (one stable sort of (node, feature, value) keys per level, class counts per
run from one ``bincount``, cumulative sums for every threshold at once, a segmented
arg-max per node) is described in :mod:`mmscratch.supervised.tree`'s docstring; this
module holds its code, so that the estimators' module stays readable on its own.

Reference implementation: scikit-learn ``sklearn/tree/_splitter.pyx``,
``_criterion.pyx`` and ``_tree.pyx``. Chapter: chapters/03-4-classical.md.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend

__all__ = ["Tree", "grow_trees", "feature_codes", "draw_features", "segment_first_argmax",
           "proxy_gini", "proxy_by_counts", "sums_are_exact"]

# scikit-learn's constants: a node whose impurity is at most EPSILON is a leaf; two values
# closer than FEATURE_THRESHOLD are not split apart.
EPSILON = float(np.finfo(np.float64).eps)
FEATURE_THRESHOLD = 1e-7
TREE_LEAF = -1
TREE_UNDEFINED = -2


# ====================================================================== the tree
class Tree:
    """The fitted structure, with scikit-learn's ``tree_`` names; nodes in depth-first
    (pre-)order, node 0 the root. The attributes are backend arrays, ``n = node_count``.

    Attributes
    ----------
    children_left, children_right : (n,) int64, ``-1`` for leaves.
    feature : (n,) int64, ``-2`` for leaves. threshold : (n,) float64, ``-2`` for leaves.
    value : (n, 1, K) float64: class fractions (classifier) or the mean target (K = 1).
    impurity : (n,); n_node_samples : (n,) int64; weighted_n_node_samples : (n,).
    max_depth : int; node_count : int; n_leaves : int.
    """

    def __init__(self, children_left, children_right, feature, threshold, value, impurity,
                 n_node_samples, weighted_n_node_samples, max_depth):
        self.children_left = children_left
        self.children_right = children_right
        self.feature = feature
        self.threshold = threshold
        self.value = value
        self.impurity = impurity
        self.n_node_samples = n_node_samples
        self.weighted_n_node_samples = weighted_n_node_samples
        self.max_depth = max_depth
        self.node_count = int(children_left.shape[0])
        self.n_leaves = int(backend.to_numpy((children_left == TREE_LEAF).sum()))

    def apply(self, Xf):
        """Leaf index of every row of a float32 ``Xf (N, D)``: ``(N,)`` int64."""
        return _descend(Xf, self.children_left, self.children_right, self.feature,
                        self.threshold, self.max_depth, start=None)


def _descend(Xf, left, right, feature, threshold, depth, start=None):
    """Walk rows of ``Xf`` down one tree (``start=None``: from node 0) or several trees
    stored back to back (``start (T,)``: their roots). ``depth`` steps reach every leaf.

    Returns the leaf reached: ``(N,)``, or ``(N, T)`` with ``start``.
    """
    xp = backend.xp()
    n = Xf.shape[0]
    if start is None:
        node = xp.zeros(n, dtype=xp.int64)
        rows = xp.arange(n)
    else:
        node = xp.broadcast_to(start[None, :], (n, start.shape[0])).copy()
        rows = xp.arange(n)[:, None]
    for _ in range(depth):
        f = feature[node]
        go_left = Xf[rows, xp.maximum(f, 0)] <= threshold[node]
        nxt = xp.where(go_left, left[node], right[node])
        node = xp.where(f >= 0, nxt, node)
    return node


# ====================================================================== criteria
class _Criterion:
    """Node statistics ``S (n_stats, n)`` and the impurity / split proxy computed from them.

    Classification: ``S[k]`` = weighted count of class k. Regression: ``S = [w, sum w y,
    sum w y^2]`` (the split search only needs the first two rows).
    """

    def __init__(self, name, n_classes):
        self.name = name
        self.n_classes = n_classes
        self.regression = name == "squared_error"

    def node_stats(self, node, w, target, n):
        """Per-node statistics of rows (``node`` (R,) in [0, n)): ``S (n_stats, n)``."""
        xp = backend.xp()
        if self.regression:
            wy = w * target
            return xp.stack([xp.bincount(node, weights=w, minlength=n),
                             xp.bincount(node, weights=wy, minlength=n),
                             xp.bincount(node, weights=wy * target, minlength=n)])
        k = self.n_classes
        return xp.bincount(target * n + node, weights=w, minlength=k * n).reshape(k, n)

    def group_stats(self, gid, w, target, n):
        """Statistics the split search needs per run of equal keys: ``(K or 2, n)``."""
        if self.regression:
            xp = backend.xp()
            return xp.stack([xp.bincount(gid, weights=w, minlength=n),
                             xp.bincount(gid, weights=w * target, minlength=n)])
        return self.node_stats(gid, w, target, n)

    def weight(self, S):
        return S[0] if self.regression else S.sum(axis=0)

    def impurity(self, S):
        """``i`` of each column of ``S``: Gini, entropy (bits) or the variance."""
        xp = backend.xp()
        w = self.weight(S)
        safe = xp.where(w > 0, w, 1.0)
        if self.regression:
            mean = S[1] / safe
            return S[2] / safe - mean * mean
        if self.name == "gini":
            return 1.0 - (S * S).sum(axis=0) / (safe * safe)
        p = S / safe
        return -(_xlogx(p)).sum(axis=0) / math.log(2.0)

    def value(self, S):
        """Leaf prediction: class fractions ``(n, 1, K)`` or the mean ``(n, 1, 1)``."""
        xp = backend.xp()
        w = self.weight(S)
        safe = xp.where(w > 0, w, 1.0)
        if self.regression:
            return (S[1] / safe)[:, None, None]
        return (S / safe).T[:, None, :]

    def proxy(self, L, R, valid):
        """scikit-learn's proxy impurity improvement of each candidate split (larger is
        better); ``-inf`` where not ``valid``. ``L, R``: left/right stats ``(., G)``."""
        xp = backend.xp()
        if self.regression:
            wl, wr = L[0], R[0]
        else:
            wl, wr = L.sum(axis=0), R.sum(axis=0)
        wl = xp.where(valid, wl, 1.0)
        wr = xp.where(valid, wr, 1.0)
        if self.regression:
            p = L[1] * L[1] / wl + R[1] * R[1] / wr
        elif self.name == "gini":
            p = xp.einsum("kg,kg->g", L, L) / wl + xp.einsum("kg,kg->g", R, R) / wr
        else:  # entropy: -(w_L H_L + w_R H_R) = sum n log n - w log w, both sides
            p = _xlogx(L).sum(axis=0) - _xlogx(wl) + _xlogx(R).sum(axis=0) - _xlogx(wr)
        return xp.where(valid, p, -xp.inf)


def _xlogx(a):
    """``a log a`` with ``0 log 0 = 0``."""
    xp = backend.xp()
    return a * xp.log(xp.where(a > 0, a, 1.0))


# ====================================================================== growing
def feature_codes(Xf, fast=True):
    """Rank of every value among the distinct values of its column, and the values.

    ``Xf (N, D)`` -> ``codes (D, N)`` uint8/uint16/int32 (equal values, equal codes; order kept),
    ``values (D, n_codes)`` float64 (``values[f, c]`` the value of code c of feature f,
    ``+inf`` past the last one) and ``n_codes``. One sort per column, once per fit
    (``fast``: :func:`_feature_codes_fast` where it applies, the same arrays).
    """
    if fast:
        from ._tree_fast import _feature_codes_fast  # (it builds on this module)
        out = _feature_codes_fast(Xf)
        if out is not None:
            return out
    xp = backend.xp()
    d, n = Xf.shape[1], Xf.shape[0]
    XT = xp.ascontiguousarray(Xf.T)                                   # (D, N)
    order = xp.argsort(XT, axis=1, kind="stable")  # timsort: fast on many equal values
    srt = xp.take_along_axis(XT, order, axis=1)
    changed = xp.zeros((d, n), dtype=xp.int32)
    changed[:, 1:] = srt[:, 1:] != srt[:, :-1]
    # (int32 in, int32 out: a cumulative sum that casts on the fly is 4x slower)
    rank = xp.cumsum(changed, axis=1, dtype=xp.int32)
    n_codes = int(backend.to_numpy(rank[:, -1].max())) + 1
    # the smallest integer type that holds the codes: fewer bytes read per entry
    dtype = xp.uint8 if n_codes <= 256 else xp.uint16 if n_codes <= 65536 else xp.int32
    rows = xp.arange(d)[:, None]
    codes = xp.empty((d, n), dtype=dtype)
    codes[rows, order] = rank.astype(dtype)
    values = xp.full((d, n_codes), xp.inf)
    values[rows, rank] = srt  # equal values share a code: every write of a cell agrees
    return codes, values, n_codes


class _Params:
    """Resolved hyperparameters of one fit (counts as ints)."""

    def __init__(self, criterion, max_depth, min_samples_split, min_samples_leaf, mtry,
                 n_features):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.mtry = mtry
        self.n_features = n_features


def segment_first_argmax(values, starts, seg, method=None):
    """Maximum of each contiguous segment and the index of its first occurrence.

    ``values (G,)`` split into segments that start at ``starts (n,)`` (``seg (G,)`` the
    segment of each element, sorted). Returns ``(best (n,), index (n,))``. NumPy: two
    ``reduceat`` passes; CuPy (no ``reduceat`` there): one stable ``lexsort`` by segment,
    then by decreasing value, whose first element per segment is the answer.
    ``method`` ("reduceat" or "lexsort") overrides the choice by backend.
    """
    xp = backend.xp()
    method = method or ("lexsort" if backend.name() == "cupy" else "reduceat")
    if method == "reduceat":
        best = xp.maximum.reduceat(values, starts)
        cand = xp.where(values == _expand(best, xp.diff(xp.concatenate(
            [starts, xp.full(1, values.shape[0])])), seg), xp.arange(values.shape[0]),
            values.shape[0])
        return best, xp.minimum.reduceat(cand, starts)
    order = xp.lexsort(xp.stack([-values, seg.astype(xp.float64)]))
    index = order[starts]
    return values[index], index


# The runs of equal keys are found with a histogram over the key space when that space is
# at most this many times the number of entries (no sort), else with one stable sort.
_DENSE_FACTOR = 3


def _repeat(values, counts, total):
    """``values[i]`` repeated ``counts[i]`` times (``total = counts.sum()``)."""
    xp = backend.xp()
    if backend.name() != "cupy":
        return xp.repeat(values, counts)
    ends = xp.cumsum(counts)  # cupy.repeat takes host counts only: search the run ends
    return values[xp.searchsorted(ends, xp.arange(total), side="right")]


def _expand(a, counts, index):
    """Columns of ``a (s, n)`` expanded to the runs they cover: ``a[:, index]``, where
    ``index`` is sorted and ``counts = bincount(index)`` (a repeat on the CPU, cheaper
    than a gather)."""
    xp = backend.xp()
    if backend.name() != "cupy":
        return xp.repeat(a, counts, axis=-1)
    return a[..., index]


def _runs(key, space):
    """Distinct keys (sorted), the run of every entry, and the entries' order.

    Returns ``(g_key (G,), gid (E,), order)``: ``gid[i]`` is the index in ``g_key`` of
    the key of entry ``order[i]`` (``order`` is None when the entries keep their order).
    Two ways, same runs: a histogram over ``[0, space)`` (no sort; for a small key space,
    e.g. pixels with 256 values near the root), or a stable sort of the keys (entries
    arrive grouped by pair, so the sort only has to order each pair's few samples).
    """
    xp = backend.xp()
    if space <= _DENSE_FACTOR * key.shape[0]:
        occupied = xp.bincount(key, minlength=space) > 0
        return xp.nonzero(occupied)[0], (xp.cumsum(occupied) - 1)[key], None
    return _runs_sorted(key)


def _runs_sorted(key):
    """:func:`_runs` by sorting (the readable version; any key space)."""
    xp = backend.xp()
    order = xp.argsort(key, kind="stable")
    key_s = key[order]
    start = xp.concatenate([xp.ones(1, dtype=bool), key_s[1:] != key_s[:-1]])
    return key_s[start], xp.cumsum(start) - 1, order


class _Layout:
    """Where the runs (groups) of one split search lie: ``g_pair (G,)`` and ``g_node (G,)``
    (sorted), each pair's first run ``pair_first (P,)`` and run counts per pair / node."""

    def __init__(self, g_pair, g_node, pair_first, runs_per_pair, runs_per_node):
        self.g_pair, self.g_node = g_pair, g_node
        self.pair_first = pair_first
        self.runs_per_pair, self.runs_per_node = runs_per_pair, runs_per_node
        self.n_groups = int(g_pair.shape[0])

    def per_group(self, node_values):
        """``node_values[..., g_node]``: a node's value on each of its runs."""
        return _expand(node_values, self.runs_per_node, self.g_node)

    def within_pair_cumsum(self, a):
        """Cumulative sum of ``a (..., G)`` along the runs, restarting at each pair."""
        c = backend.xp().cumsum(a, axis=-1)
        before = c[..., self.pair_first] - a[..., self.pair_first]     # (..., P)
        c -= _expand(before, self.runs_per_pair, self.g_pair)
        return c


def proxy_by_counts(crit, gid, w_e, t_e, lay, totals, valid):
    """Proxy of every run's threshold from the left and right statistics.

    ``S (s, G)``: class counts (or weight and target sum) of each run; their cumulative
    sum within the pair is the left child ``L``, the node total minus it the right ``R``.
    Costs ``s x G`` (s = K classes) per level.
    """
    S = crit.group_stats(gid, w_e, t_e, lay.n_groups)                  # (s, G)
    L = lay.within_pair_cumsum(S)
    # (regression totals carry a third row, sum w y^2, that the search does not use)
    R = lay.per_group(totals[:L.shape[0]]) - L
    return crit.proxy(L, R, valid)


def proxy_gini(crit, gid, w_e, t_e, lay, totals, valid, wt_e=None):
    """The Gini proxy of :func:`proxy_by_counts` without the right-side matrix (fast path).

    ``sum_k n_Rk^2 = sum_k (T_k - n_Lk)^2 = sum_k T_k^2 - 2 sum_k T_k n_Lk + sum_k n_Lk^2``,
    and ``sum_k T_k n_Lk`` is the cumulative sum of one number per run, ``sum over the
    run's entries of w T_(class of the entry)``, which one ``bincount`` over the entries
    gives (``wt_e``: that number per entry, precomputed once per row by the caller). So
    only the left counts ``L (K, G)`` are formed. With integer weights (no
    weights, bootstrap counts) every term is an integer: the same value exactly; with
    real-valued weights the difference cancels where the right side is light, and the
    proxy agrees to about 1e-12 relative (``tests/test_tree.py``).
    """
    xp = backend.xp()
    S = crit.group_stats(gid, w_e, t_e, lay.n_groups)                  # (K, G)
    L = lay.within_pair_cumsum(S)
    sq_left = xp.einsum("kg,kg->g", L, L)
    w_left = L.sum(axis=0)
    w_node = totals.sum(axis=0)                                        # (n,)
    if wt_e is None:  # w T_(class, node) of every entry (the caller may pass it)
        wt_e = w_e * totals[t_e, lay.g_node[gid]]
    cross = lay.within_pair_cumsum(xp.bincount(gid, weights=wt_e,
                                               minlength=lay.n_groups))
    sq_right = lay.per_group((totals * totals).sum(axis=0)) - 2.0 * cross + sq_left
    w_right = lay.per_group(w_node) - w_left
    wl = xp.where(valid, w_left, 1.0)
    wr = xp.where(valid, w_right, 1.0)
    return xp.where(valid, sq_left / wl + sq_right / wr, -xp.inf)


def _best_splits(codes, values, n_codes, sample, w, target, n_rows_node, feats, totals,
                 crit, msl, first_nonconstant):
    """Best split of every node among its candidate features, all nodes at once.

    Parameters
    ----------
    codes (D, N), values (D, n_codes), n_codes : from :func:`feature_codes`.
    sample, w, target : (R,) the rows (sample index, weight, class index or target),
        sorted by node; n_rows_node : (n,) rows of each node (all >= 1).
    feats : (n, m) int64, candidate features of each node in priority order.
    totals : (n_stats, n) node statistics.
    first_nonconstant : bool
        Use only the first feature (in ``feats`` order) that is not constant in the node
        (scikit-learn's rule once all ``max_features`` draws were constant).

    Returns
    -------
    has_split (n,) bool, feature (n,), threshold (n,) float64, improvement proxy (n,),
    all_constant (n,) bool (every candidate feature constant in the node).
    """
    xp = backend.xp()
    n, m = feats.shape
    n_pairs = n * m
    # ---- one entry per (pair, row of the pair's node), grouped by pair
    pair_len = xp.broadcast_to(n_rows_node[:, None], (n, m)).ravel()          # (P,)
    n_entries = int(sample.shape[0]) * m
    pair_start = xp.cumsum(pair_len) - pair_len
    row_start = xp.cumsum(n_rows_node) - n_rows_node
    offset = xp.broadcast_to(row_start[:, None], (n, m)).ravel() - pair_start
    p_e = _repeat(xp.arange(n_pairs), pair_len, n_entries)                     # (E,)
    r_e = xp.arange(n_entries) + _repeat(offset, pair_len, n_entries)         # row
    # codes (D, N) read as a flat array: feature f, sample i is at f * N + i
    flat = (feats.ravel() * codes.shape[1])[p_e] + sample[r_e]
    key = p_e * n_codes + codes.ravel().take(flat)                            # (E,)
    g_key, gid, order = _runs(key, n_pairs * n_codes)                         # (G,)
    if order is not None:
        r_e = r_e[order]
    n_groups = int(g_key.shape[0])
    g_pair = g_key // n_codes                                                 # (G,) sorted
    g_feat = feats.ravel()[g_pair]
    g_val = values[g_feat, g_key % n_codes]                                   # (G,)

    is_first = xp.concatenate([xp.ones(1, dtype=bool), g_pair[1:] != g_pair[:-1]])
    pair_first = xp.nonzero(is_first)[0]                                      # (P,) every pair
    runs_per_pair = xp.diff(xp.concatenate([pair_first, xp.full(1, n_groups)]))
    g_node = g_pair // m
    lay = _Layout(g_pair, g_node, pair_first, runs_per_pair,
                  runs_per_pair.reshape(n, m).sum(axis=1))

    last_in_pair = xp.concatenate([is_first[1:], xp.ones(1, dtype=bool)])
    next_val = xp.concatenate([g_val[1:], xp.full(1, xp.inf)])
    valid = ~last_in_pair & (next_val > g_val + FEATURE_THRESHOLD)
    if msl > 1:
        runs = xp.bincount(gid, minlength=n_groups)
        n_left = lay.within_pair_cumsum(runs)
        n_right = lay.per_group(n_rows_node) - n_left
        valid &= (n_left >= msl) & (n_right >= msl)

    pair_last = xp.concatenate([pair_first[1:] - 1, xp.full(1, n_groups - 1)])
    nonconstant = (g_val[pair_last] > g_val[pair_first] + FEATURE_THRESHOLD).reshape(n, m)
    all_constant = ~nonconstant.any(axis=1)
    if first_nonconstant:
        chosen = xp.arange(n) * m + xp.argmax(nonconstant, axis=1)           # (n,)
        valid &= g_pair == chosen[g_node]

    # ---- proxy of every candidate threshold (statistics left of it: cumulative sums)
    if crit.name == "gini":
        # w T_(class, node) per row (R values), then per entry: m times fewer 2-D gathers
        node_of_row = _repeat(xp.arange(n), n_rows_node, sample.shape[0])
        row_wt = w * totals[target, node_of_row]
        proxy = proxy_gini(crit, gid, w[r_e], target[r_e], lay, totals, valid, row_wt[r_e])
    else:
        proxy = proxy_by_counts(crit, gid, w[r_e], target[r_e], lay, totals, valid)

    # ---- best candidate of each node: first maximum (feature draw order, then value)
    node_first = pair_first[xp.arange(n) * m]                                 # (n,)
    best, g_best = segment_first_argmax(proxy, node_first, g_node)
    has_split = xp.isfinite(best)
    a, b = g_val[g_best], g_val[xp.minimum(g_best + 1, n_groups - 1)]
    thr = a / 2.0 + b / 2.0  # sum of halves: no overflow (scikit-learn's formula)
    thr = xp.where((thr == b) | ~xp.isfinite(thr), a, thr)
    return has_split, g_feat[g_best], thr, best, all_constant


def _split_search(crit, weights, n_codes):
    """The split search for this fit: :func:`_tree_fast._best_splits_fast` where it gives
    the same numbers to the last bit (:func:`sums_are_exact`) and pays (features of at
    most 256 values; with continuous ones every entry is its own run, nothing to drop,
    and on FSDD's MFCC statistics the readable search is ~10% faster), on NumPy; else
    the readable :func:`_best_splits`."""
    if (not FAST_SPLIT_SEARCH or backend.name() == "cupy" or n_codes > 256
            or not sums_are_exact(crit, weights)):
        return _best_splits
    from ._tree_fast import _best_splits_fast  # (it builds on this module)
    return _best_splits_fast


def sums_are_exact(crit, weights):
    """Whether every sum of the split search is an integer (class counts with integer
    weights), hence exact in any order and grouping: then the fast search, and growing
    more trees per call, change no tree. Real-valued targets or weights: rounding
    depends on what else is summed along, and could order two tied splits differently.
    """
    xp = backend.xp()
    return not crit.regression and bool(backend.to_numpy((weights == xp.floor(weights)).all()))


FAST_SPLIT_SEARCH = True  #: the fast search where it applies (tests switch it off)


def draw_features(rng, n_nodes, d, m):
    """``m`` distinct features out of ``d`` for each of ``n_nodes`` nodes, uniformly, in a
    random order: ``(n_nodes, m)`` host ints from the host Generator ``rng``.

    For ``m`` much smaller than ``d`` (``"sqrt"``: 28 of 784 pixels) whole rows are drawn
    with replacement and the rows that repeat a feature are drawn again (rejection keeps
    every subset equally likely) -- work ``~ n m``, not the ``n d`` of ranking ``d``
    random keys per node, which is what larger ``m`` use.
    """
    if 4 * m > d:
        return np.argpartition(rng.random((n_nodes, d), dtype=np.float32), m - 1,
                               axis=1)[:, :m]
    out = rng.integers(0, d, size=(n_nodes, m))
    pending = np.arange(n_nodes)          # rows to check: all, then the redrawn ones
    while True:
        s = np.sort(out[pending], axis=1)
        pending = pending[(s[:, 1:] == s[:, :-1]).any(axis=1)]
        if not pending.size:
            return out
        out[pending] = rng.integers(0, d, size=(pending.size, m))


def grow_trees(Xf, codes, values, n_codes, target, weights, crit, params, rng,
               tree_rng=None):
    """Grow ``T`` trees at once, level by level; tree t uses the sample weights
    ``weights[t]`` (0 = not in that tree; bootstrap counts for a forest).

    ``rng``: the host Generator of the feature draws, or a list of them with ``tree_rng
    (T,)`` host ints, the Generator of each tree. The trees of one Generator draw from
    it together, level by level, in node order, exactly as if they were grown alone
    together: so how many groups are grown in one call changes no tree.

    Returns a list of ``T`` :class:`Tree` and the ``(T, D)`` normalised feature
    importances (mean decrease in impurity).
    """
    xp = backend.xp()
    n_trees = weights.shape[0]
    if tree_rng is None:
        rng, tree_rng = [rng], np.zeros(n_trees, dtype=np.int64)
    d = params.n_features
    msl = params.min_samples_leaf
    max_depth = params.max_depth
    search = _split_search(crit, weights, n_codes)
    tree_r, sample = xp.nonzero(weights > 0)       # rows (R,), sorted by node (= tree)
    w = weights[tree_r, sample]
    tgt = target[sample]
    node = tree_r                                                      # open node of row

    # node table, appended level by level (ids in creation order)
    tab = {k: [] for k in ("tree", "depth", "stats", "nsamp")}
    splits = {k: [] for k in ("id", "feat", "thr", "left", "right", "gain")}

    def create(tree_of, depth_of, node_of_row, w_rows, tgt_rows, n_new, first_id):
        """Add ``n_new`` nodes (their rows given) to the table; their stats and leaf flag."""
        stats = crit.node_stats(node_of_row, w_rows, tgt_rows, n_new)
        nsamp = xp.bincount(node_of_row, minlength=n_new)
        imp = crit.impurity(stats)
        tab["tree"].append(tree_of)
        tab["depth"].append(depth_of)
        tab["stats"].append(stats)
        tab["nsamp"].append(nsamp)
        leaf = (nsamp < params.min_samples_split) | (nsamp < 2 * msl) | (imp <= EPSILON)
        if max_depth is not None:
            leaf |= depth_of >= max_depth
        return stats, nsamp, imp, leaf, first_id + xp.arange(n_new)

    stats, nsamp, imp, leaf, ids = create(xp.arange(n_trees), xp.zeros(n_trees, xp.int64),
                                          node, w, tgt, n_trees, 0)
    n_created = n_trees
    o_tree, o_depth = xp.arange(n_trees), xp.zeros(n_trees, xp.int64)
    retry = xp.zeros(n_trees, dtype=bool)
    keep = ~leaf
    while True:
        # ---- drop rows of leaves; renumber the open nodes 0..n-1
        o_ids, o_tree, o_depth, retry = ids[keep], o_tree[keep], o_depth[keep], retry[keep]
        stats, nsamp, imp = stats[:, keep], nsamp[keep], imp[keep]
        n_open = int(o_ids.shape[0])
        if n_open == 0:
            break
        local = xp.cumsum(keep) - 1
        row_keep = keep[node]
        sample, w, tgt, node = sample[row_keep], w[row_keep], tgt[row_keep], local[node[row_keep]]

        # ---- candidate features and the best split of every open node
        has = xp.zeros(n_open, dtype=bool)
        feat = xp.zeros(n_open, dtype=xp.int64)
        thr = xp.zeros(n_open)
        all_const = xp.zeros(n_open, dtype=bool)
        retry_h = backend.to_numpy(retry)
        rng_h = tree_rng[backend.to_numpy(o_tree)]          # Generator of each open node
        for is_retry in (False, True):
            idx_h = np.nonzero(retry_h == is_retry)[0]
            if idx_h.size == 0:
                continue
            idx = backend.asarray(idx_h)
            width = d if is_retry or params.mtry >= d else params.mtry
            feats_h = np.empty((idx_h.size, width), dtype=np.int64)
            by_rng = np.argsort(rng_h[idx_h], kind="stable")  # each Generator's nodes, in order
            counts = np.bincount(rng_h[idx_h], minlength=len(rng))
            ends = np.cumsum(counts)
            for g in np.nonzero(counts)[0]:
                k = int(counts[g])
                at = by_rng[ends[g] - k:ends[g]]
                if is_retry:  # every feature, in a random order; the first non-constant wins
                    feats_h[at] = np.argsort(rng[g].random((k, d)), axis=1)
                elif params.mtry >= d:
                    feats_h[at] = np.arange(d)
                else:
                    feats_h[at] = draw_features(rng[g], k, d, params.mtry)
            sub = xp.full(n_open, -1, dtype=xp.int64)
            sub[idx] = xp.arange(idx_h.size)
            rows = sub[node] >= 0
            h, fe, th, _, ac = search(
                codes, values, n_codes, sample[rows], w[rows], tgt[rows], nsamp[idx],
                backend.asarray(np.ascontiguousarray(feats_h, dtype=np.int64)),
                stats[:, idx], crit, msl, first_nonconstant=is_retry)
            has[idx], feat[idx], thr[idx], all_const[idx] = h, fe, th, ac

        # ---- a node whose max_features draws were all constant tries the rest (sklearn)
        if params.mtry < d:
            retry_next = ~has & all_const & ~retry
        else:
            retry_next = xp.zeros(n_open, dtype=bool)

        # ---- children of the split nodes
        split_idx = xp.nonzero(has)[0]
        n_split = int(split_idx.shape[0])
        rank = xp.cumsum(has) - 1
        row_split = has[node]
        s_node = node[row_split]
        go_left = Xf.ravel().take(sample[row_split] * d + feat[s_node]) <= thr[s_node]
        child_of_row = 2 * rank[s_node] + xp.where(go_left, 0, 1)
        # rows stay sorted by node: a stable sort moves each node's left rows first
        by_child = xp.argsort(child_of_row, kind="stable")
        child_of_row = child_of_row[by_child]
        rows_s = xp.nonzero(row_split)[0][by_child]
        sample_s, w_s, tgt_s = sample[rows_s], w[rows_s], tgt[rows_s]
        c_tree = xp.repeat(o_tree[split_idx], 2)
        c_depth = xp.repeat(o_depth[split_idx] + 1, 2)
        # rows of the retried nodes stay; their node number follows the children's
        row_retry = retry_next[node]
        r_rank = xp.cumsum(retry_next) - 1
        n_retry = int(backend.to_numpy(retry_next.sum()))

        c_stats, c_nsamp, c_imp, c_leaf, c_ids = create(c_tree, c_depth, child_of_row, w_s,
                                                        tgt_s, 2 * n_split, n_created)
        n_created += 2 * n_split

        if n_split:
            parent_w = crit.weight(stats[:, split_idx])
            cw = crit.weight(c_stats)
            gain = (parent_w * imp[split_idx] - cw[0::2] * c_imp[0::2]
                    - cw[1::2] * c_imp[1::2])
            splits["id"].append(o_ids[split_idx])
            splits["feat"].append(feat[split_idx])
            splits["thr"].append(thr[split_idx])
            splits["left"].append(c_ids[0::2])
            splits["right"].append(c_ids[1::2])
            splits["gain"].append(gain)

        # ---- next level: open children, then retried nodes
        rid = xp.nonzero(retry_next)[0]
        ids = xp.concatenate([c_ids, o_ids[rid]])
        o_tree = xp.concatenate([c_tree, o_tree[rid]])
        o_depth = xp.concatenate([c_depth, o_depth[rid]])
        stats = xp.concatenate([c_stats, stats[:, rid]], axis=1)
        nsamp = xp.concatenate([c_nsamp, nsamp[rid]])
        imp = xp.concatenate([c_imp, imp[rid]])
        keep = xp.concatenate([~c_leaf, xp.ones(n_retry, dtype=bool)])
        retry = xp.concatenate([xp.zeros(2 * n_split, dtype=bool), xp.ones(n_retry, dtype=bool)])
        sample = xp.concatenate([sample_s, sample[row_retry]])
        w = xp.concatenate([w_s, w[row_retry]])
        tgt = xp.concatenate([tgt_s, tgt[row_retry]])
        node = xp.concatenate([child_of_row, 2 * n_split + r_rank[node[row_retry]]])

    return _assemble(tab, splits, n_created, n_trees, d, crit)


def _assemble(tab, splits, n_nodes, n_trees, d, crit):
    """Node tables -> one :class:`Tree` per tree (depth-first order) and importances."""
    xp = backend.xp()
    tree = xp.concatenate(tab["tree"])
    depth = xp.concatenate(tab["depth"])
    stats = xp.concatenate(tab["stats"], axis=1)
    nsamp = xp.concatenate(tab["nsamp"])
    left = xp.full(n_nodes, TREE_LEAF, dtype=xp.int64)
    right = xp.full(n_nodes, TREE_LEAF, dtype=xp.int64)
    feature = xp.full(n_nodes, TREE_UNDEFINED, dtype=xp.int64)
    threshold = xp.full(n_nodes, float(TREE_UNDEFINED))
    importances = xp.zeros((n_trees, d))
    if splits["id"]:
        sid = xp.concatenate(splits["id"])
        sfeat = xp.concatenate(splits["feat"])
        left[sid] = xp.concatenate(splits["left"])
        right[sid] = xp.concatenate(splits["right"])
        feature[sid] = sfeat
        threshold[sid] = xp.concatenate(splits["thr"])
        gain = xp.concatenate(splits["gain"])
        importances = xp.bincount(tree[sid] * d + sfeat, weights=gain,
                                  minlength=n_trees * d).reshape(n_trees, d)
    weight = crit.weight(stats)
    importances = importances / weight[:n_trees][:, None]   # roots are nodes 0..T-1
    total = importances.sum(axis=1, keepdims=True)
    importances = importances / xp.where(total > 0, total, 1.0)

    # ---- depth-first (pre-)order numbering within each tree, as scikit-learn's
    max_depth = int(backend.to_numpy(depth.max()))
    internal = left >= 0
    size = xp.ones(n_nodes, dtype=xp.int64)
    for level in range(max_depth - 1, -1, -1):
        at = xp.nonzero(internal & (depth == level))[0]
        size[at] = 1 + size[left[at]] + size[right[at]]
    pre = xp.zeros(n_nodes, dtype=xp.int64)
    for level in range(max_depth):
        at = xp.nonzero(internal & (depth == level))[0]
        pre[left[at]] = pre[at] + 1
        pre[right[at]] = pre[at] + 1 + size[left[at]]
    order = xp.argsort(tree * n_nodes + pre, kind="stable")         # new position -> old
    counts = backend.to_numpy(xp.bincount(tree, minlength=n_trees))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    value = crit.value(stats)
    imp = crit.impurity(stats)
    trees = []
    for t in range(n_trees):
        old = order[int(offsets[t]):int(offsets[t + 1])]
        lo, ro = left[old], right[old]
        tree_depth = int(backend.to_numpy(depth[old].max()))
        trees.append(Tree(
            children_left=xp.where(lo >= 0, pre[xp.maximum(lo, 0)], TREE_LEAF),
            children_right=xp.where(ro >= 0, pre[xp.maximum(ro, 0)], TREE_LEAF),
            feature=feature[old], threshold=threshold[old], value=value[old],
            impurity=imp[old], n_node_samples=nsamp[old],
            weighted_n_node_samples=weight[old], max_depth=tree_depth))
    return trees, importances


# ====================================================================== estimators
