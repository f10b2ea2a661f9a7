r"""The trees' fast split search on the CPU, beside the readable one of
:mod:`mmscratch.supervised._tree_growth` (same arguments, same results).

Where every sum of the search is an integer (class counts with integer weights: no
weights, bootstrap counts) and the features take at most 256 values (one-byte codes:
pixels, counts, rounded data), :func:`_best_splits_fast` leaves out the (node, feature)
pairs whose feature is constant in the node and the entries at their pair's smallest
value, finds the runs of equal keys without a comparison sort (:func:`_runs_fast`) and
restarts the running sums with one cumulative sum (:func:`_cumsum_restarting`);
:func:`_feature_codes_fast` sorts only the values above each column's minimum. Integer
sums are exact in any order, so the trees are those of the readable search
(``tests/test_tree_speed_paths.py``). NumPy only (``reduceat``, ``view``); the choice is
made by ``_tree_growth._split_search`` and ``_tree_growth.feature_codes``.

Chapter: chapters/03-4-classical.md ("The fast search on the CPU").
"""

from __future__ import annotations

from .. import backend
from ._tree_growth import (
    FEATURE_THRESHOLD,
    _Layout,
    _runs_sorted,
    segment_first_argmax,
)


def _feature_codes_fast(Xf):
    """:func:`feature_codes` sorting only the values above each column's minimum
    (same codes and values: ``tests/test_tree_speed_paths.py``); ``None`` where that
    does not pay (more than half of the values above their column's minimum) or off
    NumPy.

    On MNIST ~80% of the pixels are their column's minimum (blank): they all get code 0
    without being sorted. The others are ordered by (column, value) with stable radix
    sorts of 16-bit digits (the value's order-preserving bits, low then high half, then
    the column), and ranked within their column as :func:`feature_codes` ranks.
    """
    xp = backend.xp()
    n, d = Xf.shape
    if backend.name() != "numpy" or d > 1 << 16:
        return None
    XT = xp.ascontiguousarray(Xf.T)                                   # (D, N)
    lo = XT.min(axis=1)                                               # (D,)
    flat = xp.flatnonzero(XT > lo[:, None])          # entries above their column's min
    if 2 * flat.shape[0] > d * n:
        return None
    v = XT.ravel()[flat]
    bits = v.view(xp.uint32)                         # IEEE bits, made order-preserving
    bits = xp.where(bits >> 31, ~bits, bits | xp.uint32(1 << 31))
    order = xp.argsort((bits & 0xFFFF).astype(xp.uint16), kind="stable")
    order = order[xp.argsort((bits >> 16).astype(xp.uint16)[order], kind="stable")]
    col = (flat // n).astype(xp.uint16)
    order = order[xp.argsort(col[order], kind="stable")]             # by column, value
    v_s, col_s = v[order], col[order]
    first = xp.ones(v_s.shape[0], dtype=bool)                         # column's first
    first[1:] = col_s[1:] != col_s[:-1]
    change = first.copy()                            # a new distinct value (by value:
    change[1:] |= v_s[1:] != v_s[:-1]                # -0.0 and 0.0 are one value)
    count = xp.cumsum(change)
    start = xp.zeros(d, dtype=count.dtype)
    start[col_s[first]] = count[first]
    rank = count - start[col_s] + 1                                   # 1, 2, ... per column
    n_codes = int(rank.max()) + 1 if rank.shape[0] else 1
    dtype = xp.uint8 if n_codes <= 256 else xp.uint16 if n_codes <= 65536 else xp.int32
    codes = xp.zeros(d * n, dtype=dtype)                              # code 0: the minimum
    codes[flat[order]] = rank.astype(dtype)
    values = xp.full((d, n_codes), xp.inf)
    values[:, 0] = lo
    values[col_s, rank] = v_s
    return codes.reshape(d, n), values, n_codes


# The fast search marks occupied keys in a bool array: cheap per key of the space (a
# memset and a vectorized scan), so it pays up to a much sparser space than bincount.
_DENSE_FACTOR_FAST = 32


def _runs_fast(key, space, n_codes):
    """:func:`_runs` for the fast search: same runs (``g_key`` sorted, ``gid``), found
    without ``bincount`` or a comparison sort.

    * Space at most ``_DENSE_FACTOR_FAST x E``: mark the occupied keys in a bool array,
      number them in order (``flatnonzero``) and look every entry's number up (int32).
    * Else: stable radix sorts (numpy's ``argsort(kind="stable")`` of 8/16-bit
      integers), first by code, then by the pair's low and (past 2^16 pairs) high 16
      bits, which together order by (pair, code), as the readable stable sort of the
      whole key; codes past 2^16 or pairs past 2^32 take that sort.

    Entries are summed per run in another order than the readable way's, which is why
    the fast search is used only where the sums are integers (exact in any order).
    """
    xp = backend.xp()
    n_entries = int(key.shape[0])
    if space <= _DENSE_FACTOR_FAST * n_entries:
        occupied = xp.zeros(space, dtype=bool)
        occupied[key] = True
        g_key = xp.flatnonzero(occupied)
        number = xp.empty(space, dtype=xp.int32)
        number[g_key] = xp.arange(g_key.shape[0], dtype=xp.int32)
        return g_key, number[key], None
    n_pairs = space // n_codes
    if n_codes > 1 << 16 or n_pairs > 1 << 32:
        return _runs_sorted(key)
    # least significant digit first: code, then the pair's low 16 bits, then its high
    def small(bound):  # numpy radix-sorts 8- and 16-bit integers
        return xp.uint8 if bound <= 1 << 8 else xp.uint16

    digits = [(key % n_codes).astype(small(n_codes))]
    pair = key // n_codes
    if n_pairs <= 1 << 16:
        digits.append(pair.astype(small(n_pairs)))
    else:
        digits += [(pair & 0xFFFF).astype(xp.uint16), (pair >> 16).astype(xp.uint16)]
    order = xp.argsort(digits[0], kind="stable")
    for digit in digits[1:]:
        order = order[xp.argsort(digit[order], kind="stable")]
    key_s = key[order]
    start = xp.concatenate([xp.ones(1, dtype=bool), key_s[1:] != key_s[:-1]])
    return key_s[start], xp.cumsum(start) - 1, order


def _cumsum_restarting(a, pair_first, pair_total_before):
    """Cumulative sum of ``a (..., G)`` restarting at every pair, when the sum of each
    pair's runs is known: each pair's first run first takes off the previous pair's
    total (``pair_total_before (..., P-1)``), and one cumulative sum does the rest.

    Exact for integers (what the fast search uses it for); ``a`` is overwritten.
    Saves :meth:`_Layout.within_pair_cumsum`'s ``(..., G)`` expansion.
    """
    a[..., pair_first[1:]] -= pair_total_before
    return backend.xp().cumsum(a, axis=-1, out=a)


def proxy_gini_exact(L, lay, totals, valid, cross=None):
    """:func:`proxy_gini` from the left class counts ``L (K, G)`` (the fast search forms
    them with :func:`_cumsum_restarting`). ``cross (G,)``, ``sum_k T_k n_Lk``, when the
    caller has it from the entries; else a product with the left counts (the node
    totals ``T`` repeated over the runs). Same numbers with integer weights (every sum
    is an integer)."""
    xp = backend.xp()
    sq_left = xp.einsum("kg,kg->g", L, L)
    w_left = L.sum(axis=0)
    if cross is None:
        cross = xp.einsum("kg,kg->g", lay.per_group(totals), L)       # sum_k T_k n_Lk
    sq_right = lay.per_group((totals * totals).sum(axis=0)) - 2.0 * cross + sq_left
    w_right = lay.per_group(totals.sum(axis=0)) - w_left
    wl = xp.where(valid, w_left, 1.0)
    wr = xp.where(valid, w_right, 1.0)
    return xp.where(valid, sq_left / wl + sq_right / wr, -xp.inf)


def _best_splits_fast(codes, values, n_codes, sample, w, target, n_rows_node, feats,
                      totals, crit, msl, first_nonconstant):
    """:func:`_best_splits` with fewer entries and cheaper ones, for class counts with
    integer weights (the CPU path; same arguments, same results to the last bit:
    ``tests/test_tree_speed_paths.py``).

    Differences in how, none in what:

    * the codes are read as one ``(R, m)`` block (row r, its node's c-th candidate
      feature): a gather of whole rows of ``feats`` instead of per-entry index arrays;
    * pairs whose feature is constant in the node (min code = max code, from two
      ``reduceat`` over the node's rows) are dropped before the split search: they have
      no candidate threshold (on MNIST ~40% of the pairs: blank border pixels, and most
      pixels of a small node);
    * so are the entries at their pair's smallest code: that first run's class counts
      are the node's totals minus those of the pair's other runs (on MNIST ~70% of the
      remaining entries, mostly blank pixels); one key per pair stands for the run;
    * the pairs left are numbered ``0..P'-1`` in the same (node, draw) order; the runs
      come from :func:`_runs_fast`, the running sums from :func:`_cumsum_restarting`.

    The candidates of a node, their order (draw order, then value) and their proxies are
    those of :func:`_best_splits`: every sum is an integer, exact in any order. NumPy
    only (``reduceat``); CuPy, regression and real-valued weights take
    :func:`_best_splits` (:func:`_split_search`).
    """
    xp = backend.xp()
    n, m = feats.shape
    row_start = xp.cumsum(n_rows_node) - n_rows_node                          # (n,)

    def per_row(table):  # (n, m) -> (R, m): its node's row for every row (rows grouped
        return xp.repeat(table, n_rows_node, axis=0)  # by node; ~3x a fancy index)

    # ---- codes of each row's candidate features: (R, m), rows grouped by node
    fr = per_row(feats)                                                       # (R, m)
    fr *= codes.shape[1]
    fr += sample[:, None]
    C = codes.ravel().take(fr)                                                # (R, m)
    # ---- constant pairs (values within FEATURE_THRESHOLD count as equal, as there)
    lo = xp.minimum.reduceat(C, row_start, axis=0)                            # (n, m)
    hi = xp.maximum.reduceat(C, row_start, axis=0)
    nonconstant = values[feats, hi] > values[feats, lo] + FEATURE_THRESHOLD   # (n, m)
    all_constant = ~nonconstant.any(axis=1)
    if first_nonconstant:  # only the first non-constant feature of the draw order
        first = xp.argmax(nonconstant, axis=1)
        search = xp.zeros((n, m), dtype=bool)
        search[xp.arange(n), first] = nonconstant[xp.arange(n), first]
    else:
        search = nonconstant
    has_split = xp.zeros(n, dtype=bool)
    feature = xp.zeros(n, dtype=xp.int64)
    thr = xp.zeros(n)
    best_all = xp.full(n, -xp.inf)
    flat_pairs = xp.nonzero(search.ravel())[0]                                # (P',) node*m+c
    n_pairs = int(flat_pairs.shape[0])
    if n_pairs == 0:
        return has_split, feature, thr, best_all, all_constant

    # ---- entries of the searched pairs, but for those at their pair's smallest code:
    # the first run's statistics are the node's totals minus the other runs' (on MNIST
    # ~70% of the entries lie there, mostly blank pixels). key = local pair, code.
    local = xp.cumsum(search.ravel()).reshape(n, m) - 1                       # (n, m)
    base = per_row(local * n_codes)                                           # (R, m)
    keep = per_row(search) & (C != per_row(lo))                               # (R, m)
    base += C
    flat = xp.flatnonzero(keep)   # (a 2-D mask index costs ~10x a flat take, in NumPy)
    key = base.ravel().take(flat)                                             # (E',)
    r_e = flat // m                                                           # row of each
    n_kept = int(key.shape[0])
    first_key = (local * n_codes + lo)[search]                                # (P',)
    g_key, gid, order = _runs_fast(xp.concatenate([key, first_key]), n_pairs * n_codes,
                                   n_codes)                                   # (G,)
    if order is None:
        gid = gid[:n_kept]
    else:  # keep the sorted order (the (K, G) sums then fill their rows in order)
        real = order < n_kept                       # (not the first runs' stand-ins)
        order, gid = order[real], gid[real]
        key, r_e = key[order], r_e[order]
    n_groups = int(g_key.shape[0])
    g_local = g_key // n_codes                                                # (G,) sorted
    g_pair = flat_pairs[g_local]
    g_feat = feats.ravel()[g_pair]
    g_val = values[g_feat, g_key % n_codes]                                   # (G,)
    g_node = g_pair // m
    pair_node = flat_pairs // m                                               # (P',)

    is_first = xp.concatenate([xp.ones(1, dtype=bool), g_local[1:] != g_local[:-1]])
    pair_first = xp.nonzero(is_first)[0]                                      # (P',)
    runs_per_pair = xp.diff(xp.concatenate([pair_first, xp.full(1, n_groups)]))
    runs_per_node = xp.bincount(pair_node, weights=runs_per_pair,
                                minlength=n).astype(xp.int64)                 # (n,)
    lay = _Layout(g_local, g_node, pair_first, runs_per_pair, runs_per_node)

    last_in_pair = xp.concatenate([is_first[1:], xp.ones(1, dtype=bool)])
    next_val = xp.concatenate([g_val[1:], xp.full(1, xp.inf)])
    valid = ~last_in_pair & (next_val > g_val + FEATURE_THRESHOLD)
    kept_local = key // n_codes                                               # (E',)
    if msl > 1:
        runs = xp.bincount(gid, minlength=n_groups)
        runs[pair_first] = n_rows_node[pair_node] - xp.bincount(kept_local,
                                                                minlength=n_pairs)
        n_left = lay.within_pair_cumsum(runs)
        n_right = lay.per_group(n_rows_node) - n_left
        valid &= (n_left >= msl) & (n_right >= msl)

    # ---- class counts of every run (the first: node totals minus the rest), proxies
    # (integer sums in int64: exact, and NumPy's integer cumulative sum is ~5x its
    # float one; the proxy's divisions see the same float64 values)
    w_e, t_e = w.take(r_e), target.take(r_e)
    S = crit.group_stats(gid, w_e, t_e, n_groups).astype(xp.int64)           # (K, G)
    k = int(S.shape[0])
    totals = totals.astype(xp.int64)
    rest = xp.bincount(kept_local * k + t_e, weights=w_e, minlength=n_pairs * k)
    S[:, pair_first] = totals[:, pair_node] - rest.astype(xp.int64).reshape(n_pairs, k).T
    cross = None
    if crit.name == "gini" and k * n_groups > 4 * n_kept:
        # many runs per entry (continuous features): sum_k T_k n_Lk from one pass over
        # the entries costs less than repeating T over the (K, G) runs
        node_total = totals[:, pair_node]                                     # (K, P')
        per_run = xp.bincount(gid, weights=w_e * totals[t_e, pair_node[kept_local]],
                              minlength=n_groups).astype(xp.int64)
        per_run[pair_first] = (node_total * S[:, pair_first]).sum(axis=0)
        sq_total = (node_total * node_total).sum(axis=0)                      # (P',)
        cross = _cumsum_restarting(per_run, pair_first, sq_total[:-1])
    L = _cumsum_restarting(S, pair_first, totals[:, pair_node[:-1]])          # (K, G)
    if crit.name == "gini":
        proxy = proxy_gini_exact(L, lay, totals, valid, cross)
    else:
        L = L.astype(xp.float64)
        proxy = crit.proxy(L, lay.per_group(totals) - L, valid)

    # ---- best candidate of each node that has one
    searched = runs_per_node > 0
    s_idx = xp.nonzero(searched)[0]
    node_first = (xp.cumsum(runs_per_node) - runs_per_node)[s_idx]
    seg = (xp.cumsum(searched) - 1)[g_node]
    best, g_best = segment_first_argmax(proxy, node_first, seg)
    a, b = g_val[g_best], g_val[xp.minimum(g_best + 1, n_groups - 1)]
    t = a / 2.0 + b / 2.0  # sum of halves: no overflow (scikit-learn's formula)
    t = xp.where((t == b) | ~xp.isfinite(t), a, t)
    has_split[s_idx] = xp.isfinite(best)
    feature[s_idx] = g_feat[g_best]
    thr[s_idx] = t
    best_all[s_idx] = best
    return has_split, feature, thr, best_all, all_constant
