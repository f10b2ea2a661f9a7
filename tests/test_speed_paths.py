"""Fast paths agree with the readable ones (issue 19; chapters/03-2-models.md).

Specification:
* Conv2D: the cache-blocked helpers (``use_fast_path``, several blocks forced by a tiny
  block size) give the same y, dx, dW and db as the readable im2col lines, for every
  geometry of tests/test_conv.py, with and without a bias, with the patch matrix kept
  from forward to backward (thin layers) or copied again per block, on repeated calls
  (reused buffers keep their zero border and their column of ones); kept patches serve
  only a backward on the same padded input;
* a layer whose input gradient is not needed (``needs_input_grad = False``, set by
  ``Model.train_step`` on the layers that see the model's input) returns None from
  backward and still fills the same parameter gradients; the flag is restored after
  the step, and training gives the same parameters as with every gradient computed;
* MaxPooling2D: the arg-max recorded in forward routes dy exactly as the readable walk
  (ties, overlapping windows, padding);
* NaN in a max-pooling window: y is NaN, and the window's dy goes to its first NaN
  pixel (as numpy.argmax picks it), so the gradient still sums to dy; on both paths;
* windows that tile the input (strides == pool_size): the arg-max mask and its one
  broadcast product give the same y and dx as the per-offset arg-max helpers (ties,
  NaN, all -inf windows, leftover rows and columns), whatever the block of images;
* KMeans with one run (moved rows read from X's own rows, no closing E-step, the
  centred transpose and the inertia in cache-sized blocks) gives the same centres,
  labels and iterations as the readable run, also for float32 data far from the origin.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.nn import SGD, Conv2D, Dense, Flatten, MaxPooling2D, Sequential
from mmscratch.nn import conv as conv_mod
from mmscratch.nn.losses import SoftmaxCrossEntropy
from mmscratch.nn.pooling import (
    maxpool_backward_from_argmax,
    maxpool_tiled_backward,
    maxpool_tiled_forward,
    window_max_argmax,
)
from mmscratch.nn.reference import maxpool2d_backward_naive, maxpool2d_naive

CONV_CASES = [
    (3, 5, 5, 2, 3, 3, 1, "valid"),
    (3, 6, 6, 2, 5, 3, 1, "same"),
    (3, 6, 6, 3, 4, 3, 2, "same"),
    (2, 7, 7, 1, 2, 3, 2, "valid"),
    (3, 4, 5, 3, 2, 1, 1, "valid"),
    (2, 7, 6, 2, 2, 5, 1, "same"),
    (2, 6, 7, 2, 3, (2, 3), (2, 1), "same"),
    (2, 4, 4, 2, 2, 2, 1, "same"),
]


def _run_conv(layer, x, dy):
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    grads = [layer.grads["W"]] + ([layer.grads["b"]] if layer.use_bias else [])
    return [backend.to_numpy(a) for a in (y, dx, *grads)]


@pytest.mark.parametrize("keep", [False, True], ids=["blocks", "kept patches"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_blocked_helpers_equal_the_readable_lines(xp, case, use_bias, keep, monkeypatch):
    # With a bias, the fast path adds it inside the GEMM (a ones column of the patch
    # buffer) and reads db off the weight-gradient product: both must equal z + b, sum g.
    # "kept patches": a thin layer's backward reuses the patch matrix of its forward.
    N, H, W, C, F, k, s, p = case
    rng = np.random.default_rng(0)
    layer = Conv2D(F, k, strides=s, padding=p, activation="relu", use_bias=use_bias, seed=1)
    layer(backend.asarray(rng.standard_normal((N, H, W, C))))
    if use_bias:
        layer.params["b"] = backend.asarray(rng.standard_normal(F))
    monkeypatch.setattr(conv_mod, "BLOCK_BYTES", 1)  # one image per block...
    monkeypatch.setattr(conv_mod, "KEEP_PATCHES_MAX_K", 10**6 if keep else 0)  # ...or all
    for step in range(2):  # the second call reuses the padded and patch buffers
        x = backend.asarray(rng.standard_normal((N, H, W, C)))
        dy = backend.asarray(rng.standard_normal(layer.output_shape(x.shape)))
        monkeypatch.setattr(Conv2D, "use_fast_path", True)
        fast = _run_conv(layer, x, dy)
        monkeypatch.setattr(Conv2D, "use_fast_path", False)
        readable = _run_conv(layer, x, dy)
        for name, a, b in zip(("y", "dx", "dW", "db"), fast, readable):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"{name}, {step}")


def test_conv_backward_recopies_patches_that_are_not_its_own(xp):
    """The patches kept from forward serve only a backward on that same padded input."""
    rng = np.random.default_rng(5)
    W2 = backend.asarray(rng.standard_normal((3 * 3 * 2, 4)))
    xa, xb = (backend.asarray(rng.standard_normal((3, 6, 6, 2))) for _ in range(2))
    g = backend.asarray(rng.standard_normal((3 * 4 * 4, 4)))
    ws = {}
    conv_mod.conv2d_forward_blocked(xa, W2, (3, 3), (1, 1), (4, 4), workspace=ws)
    assert ws["patches_of"][0] is xa  # K = 18: a thin layer, its patches are kept
    cols = conv_mod._patches(xb, (3, 3), (1, 1), (4, 4))
    dW, _, _ = conv_mod.conv2d_backward_blocked(xb, g, W2, (3, 3), (1, 1), (4, 4),
                                                need_dx=False, workspace=ws)
    np.testing.assert_allclose(backend.to_numpy(dW), backend.to_numpy(cols.T @ g), atol=1e-12)
    # the patches kept from a forward with a bias (ones column) are another buffer than
    # a bias-free backward uses: that one must be filled, not read stale
    # (the bias-free buffer still holds xb's patches here)
    conv_mod.conv2d_forward_blocked(xa, W2, (3, 3), (1, 1), (4, 4), workspace=ws,
                                    b=backend.asarray(np.ones(4)))
    dW, db, _ = conv_mod.conv2d_backward_blocked(xa, g, W2, (3, 3), (1, 1), (4, 4),
                                                 need_dx=False, workspace=ws)
    assert db is None
    cols = conv_mod._patches(xa, (3, 3), (1, 1), (4, 4))
    np.testing.assert_allclose(backend.to_numpy(dW), backend.to_numpy(cols.T @ g), atol=1e-12)


@pytest.mark.parametrize("fast", [True, False])
def test_conv_skips_the_input_gradient_nobody_needs(xp, fast, monkeypatch):
    monkeypatch.setattr(Conv2D, "use_fast_path", fast)
    rng = np.random.default_rng(2)
    x = backend.asarray(rng.standard_normal((2, 6, 6, 3)))
    layer = Conv2D(4, 3, padding="same", seed=3)
    dy = backend.asarray(rng.standard_normal(layer.output_shape(x.shape)))
    layer.forward(x, training=True)
    assert layer.backward(dy) is not None
    full = {k: backend.to_numpy(v).copy() for k, v in layer.grads.items()}
    layer.needs_input_grad = False
    layer.forward(x, training=True)
    assert layer.backward(dy) is None
    for key, value in full.items():
        np.testing.assert_allclose(backend.to_numpy(layer.grads[key]), value, rtol=1e-12)


def _cnn(seed):
    return Sequential([Conv2D(3, 3, padding="same", activation="relu", seed=seed),
                       MaxPooling2D(2), Conv2D(2, 3, seed=seed + 1), Flatten(),
                       Dense(3, seed=seed + 2)])


def test_train_step_marks_only_the_first_layer_and_restores_it(xp):
    rng = np.random.default_rng(4)
    x = backend.asarray(rng.standard_normal((4, 8, 8, 2)))
    y = backend.asarray(rng.integers(0, 3, 4))
    model = _cnn(5).compile(optimizer=SGD(0.1), loss=SoftmaxCrossEntropy())
    seen = {}
    first, second = model.layers[0], model.layers[2]
    original = first.backward

    def spy(dy):
        seen["first"], seen["second"] = first.needs_input_grad, second.needs_input_grad
        return original(dy)

    first.backward = spy
    model.train_step(x, y)
    assert seen == {"first": False, "second": True}
    assert first.needs_input_grad and "needs_input_grad" not in vars(first)
    assert model.input_layers() == [first]


def test_training_without_the_first_input_gradient_gives_the_same_model(xp):
    rng = np.random.default_rng(6)
    x = backend.asarray(rng.standard_normal((4, 8, 8, 2)))
    y = backend.asarray(rng.integers(0, 3, 4))
    a = _cnn(7).compile(optimizer=SGD(0.1), loss=SoftmaxCrossEntropy())
    b = _cnn(7).compile(optimizer=SGD(0.1), loss=SoftmaxCrossEntropy())
    for _ in range(2):
        a.train_step(x, y)  # first layer skips dx
        out = b.forward(x, training=True)  # by hand: every gradient computed
        b.loss.forward(out, y)
        assert b.backward(b.loss.backward()) is not None
        b.optimizer.step(b)
    for (la, ka), (lb, kb) in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(backend.to_numpy(la.params[ka]),
                                   backend.to_numpy(lb.params[kb]), rtol=1e-6, atol=1e-7)


POOL_CASES = [
    (2, 4, 4, 3, 2, None, "valid"),
    (1, 5, 5, 2, 2, None, "valid"),
    (2, 5, 6, 2, 3, 2, "same"),
    (1, 5, 7, 2, (2, 3), 1, "valid"),
    (2, 7, 7, 1, 2, 2, "same"),
    (1, 6, 6, 2, 2, 3, "valid"),  # gaps between windows
    (2, 5, 7, 2, (2, 3), None, "valid"),  # tiling, non-square, a column and a row left over
    (1, 5, 5, 1, 3, None, "same"),  # tiling with -inf padding
]


def _pool_both_paths(x, dy, p, s, pad):
    layer = MaxPooling2D(p, s, pad)
    y_fast = layer.forward(backend.asarray(x), training=True)  # records the arg-max
    dx_fast = layer.backward(backend.asarray(dy))
    y_read = layer.forward(backend.asarray(x), training=False)  # readable walk
    dx_read = layer.backward(backend.asarray(dy))
    return [backend.to_numpy(a) for a in (y_fast, dx_fast, y_read, dx_read)]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_maxpool_argmax_routing_equals_the_readable_walk(xp, case):
    N, H, W, C, p, s, pad = case
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, (N, H, W, C)).astype(np.float64)  # many ties
    layer = MaxPooling2D(p, s, pad)
    dy = rng.standard_normal(layer.output_shape(x.shape))
    y_fast, dx_fast, y_read, dx_read = _pool_both_paths(x, dy, p, s, pad)
    np.testing.assert_array_equal(y_fast, y_read)
    np.testing.assert_array_equal(dx_fast, dx_read)
    np.testing.assert_allclose(dx_fast, maxpool2d_backward_naive(x, dy, p, s, pad), atol=1e-12)


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_maxpool_nan_window_still_passes_its_gradient(xp, case):
    N, H, W, C, p, s, pad = case
    rng = np.random.default_rng(9)
    x = rng.standard_normal((N, H, W, C))
    x[0, 1, 1, 0] = np.nan
    x[-1, 0, 2, -1] = np.nan
    x[-1, 1, 3, -1] = np.nan  # possibly a second NaN in one window: the first one wins
    layer = MaxPooling2D(p, s, pad)
    dy = rng.standard_normal(layer.output_shape(x.shape))
    y_ref = maxpool2d_naive(x, p, s, pad)
    dx_ref = maxpool2d_backward_naive(x, dy, p, s, pad)  # numpy.argmax: first NaN
    assert np.isnan(y_ref).any()
    for y, dx in (_pool_both_paths(x, dy, p, s, pad)[:2], _pool_both_paths(x, dy, p, s, pad)[2:]):
        np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
        np.testing.assert_array_equal(y[~np.isnan(y)], y_ref[~np.isnan(y_ref)])
        np.testing.assert_allclose(dx, dx_ref, atol=1e-12)
        assert np.isfinite(dx).all()
        np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-10)  # nothing lost


def test_maxpool_nan_gradient_goes_to_the_nan_pixel(xp):
    x = np.zeros((1, 2, 2, 1))
    x[0, 0, 0, 0] = 5.0
    x[0, 1, 0, 0] = np.nan
    for training in (True, False):
        layer = MaxPooling2D(2)
        y = backend.to_numpy(layer.forward(backend.asarray(x), training=training))
        assert np.isnan(y).all()
        dx = backend.to_numpy(layer.backward(backend.asarray(np.full((1, 1, 1, 1), 2.0))))
        np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 0.0], [2.0, 0.0]])


TILED_CASES = [  # strides == pool_size: (N, H, W, C, pool)
    (2, 4, 4, 3, (2, 2)),
    (2, 5, 7, 2, (2, 3)),  # pixels past the last whole window get no gradient
    (1, 6, 6, 2, (3, 1)),
    (2, 3, 3, 2, (1, 1)),
]


@pytest.mark.parametrize("case", TILED_CASES, ids=str)
@pytest.mark.parametrize("data", ["ties", "nan", "-inf"])
def test_maxpool_tiled_mask_equals_the_offset_argmax(xp, case, data):
    """The tiled helpers (mask, one product) route dy as the per-offset arg-max helpers."""
    N, H, W, C, p = case
    rng = np.random.default_rng(11)
    x = rng.integers(0, 3, (N, H, W, C)).astype(np.float64)  # many ties
    if data == "nan":
        x[0, 0, 1, 0] = x[0, 1, 0, 0] = x[-1, -1, -1, -1] = np.nan
    if data == "-inf":
        x[0, :p[0], :p[1], 0] = -np.inf  # a window that is all -inf: a tie at -inf
    _, out_hw = conv_mod._geometry(x.shape, p, p, "valid", "test")
    dy = rng.standard_normal((N, *out_hw, C))
    y, mask = maxpool_tiled_forward(backend.asarray(x), p, out_hw)
    dx = maxpool_tiled_backward(backend.asarray(dy), mask, x.shape)
    offsets = [(u, v) for u in range(p[0]) for v in range(p[1])]
    views = [backend.asarray(x)[conv_mod._offset_slices(o, p, out_hw)] for o in offsets]
    y_ref, arg = window_max_argmax(views)
    dx_ref = maxpool_backward_from_argmax(backend.asarray(dy), arg, x.shape, p, p, out_hw)
    np.testing.assert_array_equal(backend.to_numpy(y), backend.to_numpy(y_ref))
    np.testing.assert_array_equal(backend.to_numpy(dx), backend.to_numpy(dx_ref))
    assert int(backend.to_numpy(mask.sum())) == int(np.prod(dy.shape))  # one pixel a window
    np.testing.assert_allclose(backend.to_numpy(dx), maxpool2d_backward_naive(x, dy, p, p),
                               atol=1e-12)


def test_maxpool_tiled_blocks_give_the_whole_batch_result(xp, monkeypatch):
    """Both tiled helpers run a block of images at a time; the block size changes nothing."""
    from mmscratch.nn import pooling

    rng = np.random.default_rng(12)
    x = backend.asarray(rng.integers(0, 4, (5, 6, 6, 3)).astype(float))
    dy = backend.asarray(rng.standard_normal((5, 3, 3, 3)))
    out = []
    for block_bytes in (1 << 30, 1, 2 * 6 * 6 * 3 * 8):  # whole batch, 1 and 2 images
        monkeypatch.setattr(pooling, "POOL_BLOCK_BYTES", block_bytes)
        y, mask = maxpool_tiled_forward(x, (2, 2), (3, 3))
        dx = maxpool_tiled_backward(dy, mask, x.shape)
        out.append([backend.to_numpy(a) for a in (y, mask, dx)])
    for got in out[1:]:
        for a, b in zip(got, out[0]):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- LSTM
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("state", [None, "h", "pair"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_lstm_fused_helpers_equal_the_readable_loops(xp, masked, state, return_sequences,
                                                     monkeypatch):
    from mmscratch.nn import LSTM

    n, t, d, h = 3, 5, 4, 6
    rng = np.random.default_rng(10)
    x = backend.asarray(rng.standard_normal((n, t, d)))
    mask = backend.asarray(np.array([[1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]],
                                    dtype=bool)) if masked else None
    h0 = backend.asarray(rng.standard_normal((n, h)))
    c0 = backend.asarray(rng.standard_normal((n, h)))
    init = {None: None, "h": h0, "pair": [h0, c0]}[state]
    layer = LSTM(h, return_sequences=return_sequences, seed=11)
    layer.forward(x)
    for k, v in layer.params.items():  # O(1) weights: no saturated gate hides a mistake
        layer.params[k] = backend.asarray(0.7 * rng.standard_normal(tuple(v.shape)))
    dy = backend.asarray(rng.standard_normal((n, t, h) if return_sequences else (n, h)))
    out = {}
    for fast in (True, False):
        monkeypatch.setattr(LSTM, "use_fast_path", fast)
        y = layer.forward(x, mask=mask, initial_state=init)
        dx = layer.backward(dy)
        ds = layer.d_initial_state
        ds = [] if ds is None else (ds if isinstance(ds, list) else [ds])
        out[fast] = [backend.to_numpy(a) for a in (y, dx, *layer.grads.values(), *ds)]
    assert len(out[True]) == len(out[False])
    for a, b in zip(out[True], out[False]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_lstm_results_survive_the_next_call(xp):
    """The fast path writes in place into its own arrays: a result already handed out
    must not change when the layer runs again (on another shape, then the same one),
    and backward twice after one forward gives the same gradients."""
    from mmscratch.nn import LSTM

    rng = np.random.default_rng(14)
    xa = backend.asarray(rng.standard_normal((3, 5, 4)))
    xb = backend.asarray(rng.standard_normal((6, 2, 4)))
    dya = backend.asarray(rng.standard_normal((3, 5, 7)))
    reused = LSTM(7, return_sequences=True, seed=15)
    fresh = LSTM(7, return_sequences=True, seed=15)
    ya = reused.forward(xa)
    ya_host = backend.to_numpy(ya).copy()
    dxa = reused.backward(dya)
    dxa_host = backend.to_numpy(dxa).copy()
    grads_a = {k: backend.to_numpy(v).copy() for k, v in reused.grads.items()}
    reused.forward(xb)  # another shape, then the first shape again
    reused.backward(backend.asarray(rng.standard_normal((6, 2, 7))))
    np.testing.assert_array_equal(backend.to_numpy(ya), ya_host)  # not overwritten
    np.testing.assert_array_equal(backend.to_numpy(dxa), dxa_host)
    y_again = reused.forward(xa)
    np.testing.assert_allclose(backend.to_numpy(y_again), backend.to_numpy(fresh.forward(xa)),
                               rtol=1e-13)
    fresh.backward(dya)
    for _ in range(2):  # backward does not consume the forward's cache
        reused.backward(dya)
        for k, v in grads_a.items():
            np.testing.assert_allclose(backend.to_numpy(reused.grads[k]), v, rtol=1e-12)
            np.testing.assert_allclose(backend.to_numpy(fresh.grads[k]), v, rtol=1e-12)


@pytest.mark.parametrize("cls", ["LSTM", "SimpleRNN"])
def test_recurrent_skips_the_input_gradient_nobody_needs(xp, cls):
    from mmscratch import nn

    rng = np.random.default_rng(12)
    x = backend.asarray(rng.standard_normal((2, 4, 3)))
    layer = getattr(nn, cls)(5, seed=13)
    dy = backend.asarray(rng.standard_normal((2, 5)))
    layer.forward(x)
    assert layer.backward(dy) is not None
    full = {k: backend.to_numpy(v).copy() for k, v in layer.grads.items()}
    layer.needs_input_grad = False
    layer.forward(x)
    assert layer.backward(dy) is None
    for key, value in full.items():
        np.testing.assert_allclose(backend.to_numpy(layer.grads[key]), value, rtol=1e-12)


# ---------------------------------------------------------------- k-means
def _blobs(seed, shift, dtype, n=300, d=5, k=4):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * 3
    X = centres[rng.integers(0, k, n)] + rng.standard_normal((n, d)) + shift
    return X.astype(dtype), centres.astype(dtype) + dtype(shift)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_fast_estep_equals_the_accurate_nearest_on_centred_data(xp, dtype):
    from mmscratch.distances import nearest
    from mmscratch.unsupervised.kmeans import _assign_centred

    X, C = _blobs(0, 0.0, dtype)
    mean = X.mean(axis=0)
    Xc, Cc = backend.asarray(X - mean), backend.asarray(C - mean)
    labels, cross = _assign_centred(xp.ascontiguousarray(Xc.T), Cc)
    expected = backend.to_numpy(nearest(Xc, Cc)[0])
    np.testing.assert_array_equal(backend.to_numpy(labels), expected)
    Xh, Ch = (X - mean).astype(np.float64), (C - mean).astype(np.float64)
    np.testing.assert_allclose(float(backend.to_numpy(cross)),
                               (Xh * Ch[expected]).sum(), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shift", [0.0, 1e4])
def test_kmeans_checked_labels_equal_predict_far_from_the_origin_and_with_ties(xp, dtype, shift):
    from mmscratch.distances import nearest
    from mmscratch.unsupervised.kmeans import _assign_checked

    X, C = _blobs(1, shift, dtype)
    C = np.concatenate([C, C[:1]])  # a duplicated centre: exact ties everywhere in it
    X = np.concatenate([X, C[:2]])  # points exactly on centres
    mean = X.astype(np.float64).mean(axis=0).astype(dtype)
    Xd, Cd, md = backend.asarray(X), backend.asarray(C), backend.asarray(mean)
    XT = xp.ascontiguousarray((Xd - md[None, :]).T)
    x_sq = (XT * XT).sum(axis=0)
    labels = _assign_checked(Xd, XT, x_sq, Cd - md[None, :], Cd, md)
    np.testing.assert_array_equal(backend.to_numpy(labels), backend.to_numpy(nearest(Xd, Cd)[0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shift", [0.0, 1e4])
def test_kmeans_one_run_fast_path_equals_the_readable_run(xp, dtype, shift, monkeypatch):
    """fit's fast path (moved rows read from X's rows, no closing E-step with one run,
    the blocked centred transpose, cache-sized inertia blocks) gives the same model
    as the readable run: rows of the transposed view and a closing E-step."""
    from mmscratch.unsupervised import KMeans
    from mmscratch.unsupervised import kmeans as km

    X, C = _blobs(2, shift, dtype, n=400, d=6)
    X, C = backend.asarray(X), backend.asarray(C + dtype(0.5))
    fast = KMeans(4, init=C, n_init=1, tol=0).fit(X)
    readable_lloyd = km._lloyd
    monkeypatch.setattr(km, "_lloyd", lambda *a, rows=None, final_estep=True, **kw:
                        readable_lloyd(*a, **kw))
    monkeypatch.setattr(km, "_CACHE_BLOCK_ELEMENTS", 6 * 7)  # 7 rows per block
    slow = KMeans(4, init=C, n_init=1, tol=0).fit(X)
    assert fast.n_iter_ == slow.n_iter_ > 1
    np.testing.assert_array_equal(backend.to_numpy(fast.cluster_centers_),
                                  backend.to_numpy(slow.cluster_centers_))
    np.testing.assert_array_equal(backend.to_numpy(fast.labels_), backend.to_numpy(slow.labels_))
    np.testing.assert_array_equal(backend.to_numpy(fast.labels_),
                                  backend.to_numpy(fast.predict(X)))
    assert fast.inertia_ == pytest.approx(slow.inertia_, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_kmeans_blocked_helpers_equal_the_one_call_forms(xp, monkeypatch):
    """The centred transpose in row blocks is (X - mean)^T exactly; the in-place E-step
    (no cross term) gives the same labels; the inertia blocks give the direct sums."""
    from mmscratch.unsupervised import kmeans as km

    X, C = _blobs(3, 1e4, np.float32, n=50, d=5)
    mean = X.mean(axis=0)
    Xd, md, Cd = backend.asarray(X), backend.asarray(mean), backend.asarray(C - mean)
    monkeypatch.setattr(km, "_CACHE_BLOCK_ELEMENTS", 5 * 4)  # 4 rows per block
    XT = km._centred_transpose(Xd, md)
    np.testing.assert_array_equal(backend.to_numpy(XT), (X - mean).T)
    with_cross, _ = km._assign_centred(XT, Cd)
    without, none = km._assign_centred(XT, Cd, cross=False)
    assert none is None
    np.testing.assert_array_equal(backend.to_numpy(without), backend.to_numpy(with_cross))
    lab = backend.to_numpy(with_cross)
    d = backend.to_numpy(km._sq_dist_to_assigned(Xd, backend.asarray(C), with_cross))
    ref = ((X.astype(np.float64) - C[lab].astype(np.float64)) ** 2).sum(axis=1)
    np.testing.assert_allclose(d, ref, rtol=1e-3, atol=1e-2)  # float32 differences of ~1e4


# ---------------------------------------------------------------- MFCC
@pytest.mark.parametrize("preset", ["librosa", "python_speech_features"])
def test_mfcc_banded_mel_product_equals_the_dense_one(xp, preset):
    from mmscratch.features import MFCC
    from mmscratch.features.mfcc import apply_mel_banded

    ex = MFCC(8000, preset=preset)
    k = ex._constants(np.float64)
    P = backend.asarray(np.random.default_rng(14).random((2, 7, k["mel_T"].shape[0])))
    dense = backend.to_numpy(P) @ backend.to_numpy(k["mel_T"])
    banded = backend.to_numpy(apply_mel_banded(P, k["mel_bands"], k["mel_T"].shape[1]))
    np.testing.assert_allclose(banded, dense, rtol=1e-12, atol=1e-12)
    # every nonzero weight of the filterbank lies inside its group's bins
    covered = np.zeros_like(ex.mel_host, dtype=bool)
    for m0, m1, k0, k1, _ in k["mel_bands"]:
        covered[m0:m1, k0:k1] = True
    assert not (ex.mel_host[~covered] != 0).any()


@pytest.mark.parametrize("append_energy", [False, True])
def test_mfcc_of_a_long_signal_in_blocks_of_frames_equals_one_pass(xp, append_energy):
    from mmscratch.features import MFCC

    rng = np.random.default_rng(15)
    x = backend.asarray(rng.standard_normal(8000 * 3) * 0.1)
    kw = dict(preset="python_speech_features", append_energy=append_energy)
    whole = MFCC(8000, max_chunk=1 << 30, **kw)(x)
    blocks = MFCC(8000, max_chunk=4000, **kw)(x)  # a few frames per block
    np.testing.assert_allclose(backend.to_numpy(blocks), backend.to_numpy(whole),
                               rtol=1e-10, atol=1e-10)
    lib_whole = MFCC(8000, preset="librosa", max_chunk=1 << 30)(x)
    lib_blocks = MFCC(8000, preset="librosa", max_chunk=5000)(x)
    np.testing.assert_allclose(backend.to_numpy(lib_blocks), backend.to_numpy(lib_whole),
                               rtol=1e-10, atol=1e-9)


def test_mfcc_layer_top_db_peak_with_nan_keeps_the_other_frames_gradient(xp):
    """The top_db clip routes the clipped gradient to the clip's peak (a masked maximum).
    A NaN in one frame makes that peak NaN; the frames away from it must still get a
    finite gradient, as with every other NaN: it propagates where it reaches, no further."""
    from mmscratch.nn import MFCCLayer

    x = np.random.default_rng(16).standard_normal((1, 4000)) * 0.1
    x[0, 3900] = np.nan  # in the last two frames only
    layer = MFCCLayer(8000, n_mfcc=5, n_fft=256, hop_length=128, n_mels=16, top_db=80.0,
                      center=False)
    y = layer.forward(backend.asarray(x))
    dx = backend.to_numpy(layer.backward(backend.xp().ones_like(y)))
    assert np.isnan(backend.to_numpy(y)).any()
    assert np.isfinite(dx[0, :2000]).all()  # samples covered only by NaN-free frames
    assert np.isnan(dx[0, 3900])  # the NaN sample's own gradient: NaN, as it should be
