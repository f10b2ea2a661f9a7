"""Attention and MultiHeadAttention: e_ij = softmax_j(q_i . k_j / sqrt(d)), a_i = sum_j e_ij v_j.

Specification:
* float64 gradient checks w.r.t. every input and parameter for self-attention,
  [query, value] and [query, value, key], with padding masks, full masks and causality;
* the weights are a softmax: rows sum to one, masked positions get exactly zero, a
  fully masked row is all zero (never NaN) and passes no gradient;
* agreement with the document's formula written as loops, with PyTorch's
  scaled_dot_product_attention and nn.MultiheadAttention (forward, weights, backward);
* bad input (rank, list length, shapes, mask, key_dim) gives a clear ValueError.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmscratch import backend
from mmscratch.gradcheck import assert_gradcheck, check_layer, rel_error
from mmscratch.nn.attention import (
    Attention,
    MultiHeadAttention,
    causal_mask,
    masked_softmax,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)

N, TQ, TV, D = 2, 3, 4, 4
KEY_PAD = np.array([[True, True, True, False], [True, False, True, True]])  # (N, Tv)
EPS = 1e-5  # see tests/test_recurrent.py: keeps small entries above round-off


def _arr(seed, shape):
    return backend.asarray(np.random.default_rng(seed).standard_normal(shape))


def _inputs(kind):
    """x (N, TQ, D); [query, value]; [query, value, key] (value size 5 != D)."""
    q = _arr(0, (N, TQ, D))
    if kind == "self":
        return q
    if kind == "qv":
        return [q, _arr(1, (N, TV, D))]
    return [q, _arr(1, (N, TV, 5)), _arr(2, (N, TV, D))]


def _mask(kind, which):
    tv = TQ if kind == "self" else TV
    if which == "none":
        return None
    if which == "padding":
        return backend.asarray(KEY_PAD[:, :tv].copy())
    full = np.random.default_rng(3).random((N, TQ, tv)) < 0.7
    full[:, :, 0] = True  # every query keeps at least one key
    return backend.asarray(full)


KINDS = ["self", "qv", "qvk"]
MASKS = ["none", "padding", "full"]


# ------------------------------------------------------------------ gradient checks
@pytest.mark.parametrize("causal", [False, True], ids=["", "causal"])
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("kind", KINDS)
def test_attention_gradcheck(xp, kind, mask, causal):
    layer = Attention(causal=causal)
    x = _inputs(kind)
    results = check_layer(layer, x, forward_kwargs={"mask": _mask(kind, mask)}, eps=EPS)
    assert len(results) == (1 if kind == "self" else len(x))
    assert_gradcheck(results, tol=1e-6)


def test_attention_gradcheck_unscaled(xp):
    assert_gradcheck(check_layer(Attention(use_scale=False), _inputs("qvk"), eps=EPS),
                     tol=1e-6)


def _mha(use_bias=True, causal=False, key_dim=3):
    return MultiHeadAttention(num_heads=2, key_dim=key_dim, use_bias=use_bias, causal=causal,
                              seed=0)


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("causal", [False, True], ids=["", "causal"])
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("kind", KINDS)
def test_multihead_gradcheck(xp, kind, mask, causal, use_bias):
    layer = _mha(use_bias, causal)
    x = _inputs(kind)
    fwd = {"mask": _mask(kind, mask)}
    results = check_layer(layer, x, forward_kwargs=fwd, eps=EPS)
    expected = {"Wq", "Wk", "Wv", "Wo"} | ({"bq", "bk", "bv", "bo"} if use_bias else set())
    assert expected <= set(results)
    if use_bias:
        # Softmax is shift invariant per row and q_i . bk is the same for every key j, so
        # dL/dbk is exactly zero; its relative error compares round-off with round-off.
        bk = results.pop("bk")
        assert abs(bk.analytic) < 1e-12 and abs(bk.numeric) < 1e-8
        np.testing.assert_allclose(backend.to_numpy(layer.grads["bk"]), 0, atol=1e-12)
    assert_gradcheck(results, tol=1e-6)


# ------------------------------------------------------------------ softmax properties
@pytest.mark.parametrize("causal", [False, True])
def test_weights_are_a_masked_softmax(xp, causal):
    layer = Attention(causal=causal)
    mask = _mask("qv", "padding")
    out, w = layer.forward(_inputs("qv"), mask=mask, return_attention_scores=True)
    w = backend.to_numpy(w)
    assert w.shape == (N, TQ, TV)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-12)
    allowed = np.broadcast_to(KEY_PAD[:, None, :], w.shape)
    if causal:
        allowed = allowed & np.tril(np.ones((TQ, TV), bool))
    assert (w[~allowed] == 0).all(), "masked positions must get exactly zero weight"
    assert (w[allowed] > 0).all()
    assert layer.attention_scores is not None
    np.testing.assert_array_equal(backend.to_numpy(layer.attention_scores), w)


def test_fully_masked_row_gives_zeros_not_nan(xp):
    q, v = _inputs("qv")
    mask = np.ones((N, TQ, TV), bool)
    mask[0, 1] = False  # query 1 of sample 0 may attend nothing
    layer = Attention()
    out, w = layer.forward([q, v], mask=backend.asarray(mask), return_attention_scores=True)
    out, w = backend.to_numpy(out), backend.to_numpy(w)
    assert np.isfinite(out).all() and np.isfinite(w).all()
    np.testing.assert_array_equal(w[0, 1], 0.0)
    np.testing.assert_array_equal(out[0, 1], 0.0)
    np.testing.assert_allclose(w[0, [0, 2]].sum(-1), 1.0, atol=1e-12)
    dq, dv = layer.backward(backend.asarray(np.ones((N, TQ, D))))
    dq = backend.to_numpy(dq)
    assert np.isfinite(dq).all() and np.isfinite(backend.to_numpy(dv)).all()
    np.testing.assert_array_equal(dq[0, 1], 0.0)


def test_masked_softmax_handles_huge_scores(xp):
    s = backend.asarray(np.array([[1e30, -1e30, 0.0], [-1e30, -1e30, -1e30]]))
    m = backend.asarray(np.array([[True, True, False], [False, False, False]]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        w = backend.to_numpy(masked_softmax(s, m))
    np.testing.assert_array_equal(w, [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_masked_softmax_property_random_shapes_and_masks():
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hyp.settings(max_examples=60, deadline=None)
    @hyp.given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**32 - 1))
    def check(n, tq, tv, seed):
        rng = np.random.default_rng(seed)
        scores = rng.standard_normal((n, tq, tv)) * 50
        mask = rng.random((n, tq, tv)) < 0.6
        w = masked_softmax(scores, mask)
        assert np.isfinite(w).all()
        assert (w[~mask] == 0).all()
        sums = w.sum(axis=-1)
        has_key = mask.any(axis=-1)
        np.testing.assert_allclose(sums[has_key], 1.0, atol=1e-12)
        assert (sums[~has_key] == 0).all()

    with backend.use("numpy"):
        check()


def test_causal_mask_is_lower_triangular(xp):
    np.testing.assert_array_equal(backend.to_numpy(causal_mask(3, 4)),
                                  np.tril(np.ones((3, 4), bool)))


def test_attention_matches_the_documents_formula_as_loops(xp):
    h = backend.to_numpy(_inputs("self"))
    a = backend.to_numpy(Attention().forward(backend.asarray(h)))
    expected = np.zeros_like(h)
    for n in range(N):
        for i in range(TQ):
            s = [h[n, i] @ h[n, k] / np.sqrt(D) for k in range(TQ)]
            e = np.exp(s) / np.sum(np.exp(s))  # e_ij
            expected[n, i] = sum(e[j] * h[n, j] for j in range(TQ))  # a_i
    np.testing.assert_allclose(a, expected, atol=1e-12)


def test_core_functions_work_on_head_batches(xp):
    # (N, heads, T, d): the shape MultiHeadAttention and the fusion layers use.
    q, k, v = _arr(0, (2, 3, 4, 5)), _arr(1, (2, 3, 6, 5)), _arr(2, (2, 3, 6, 7))
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 4, 7) and w.shape == (2, 3, 4, 6)
    g = _arr(3, (2, 3, 4, 7))
    dq, dk, dv = scaled_dot_product_attention_backward(g, q, k, v, w)
    assert (dq.shape, dk.shape, dv.shape) == (q.shape, k.shape, v.shape)
    # dk by central differences on one element, as a spot check of the batched backward
    k_np = backend.to_numpy(k).copy()
    eps = 1e-6
    k_np[1, 2, 3, 4] += eps
    fp = backend.to_numpy((scaled_dot_product_attention(q, backend.asarray(k_np), v)[0] * g)
                          .sum())
    k_np[1, 2, 3, 4] -= 2 * eps
    fm = backend.to_numpy((scaled_dot_product_attention(q, backend.asarray(k_np), v)[0] * g)
                          .sum())
    r = rel_error(backend.to_numpy(dk)[1, 2, 3, 4], (fp - fm) / (2 * eps), "dk")
    assert r.passed(1e-6), str(r)


def test_multihead_shapes_and_scores(xp):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, seed=0)
    q, v, k = _inputs("qvk")
    out, w = layer.forward([q, v, k], return_attention_scores=True)
    assert out.shape == (N, TQ, D) and w.shape == (N, 2, TQ, TV)
    assert {k: tuple(p.shape) for k, p in layer.params.items()} == {
        "Wq": (D, 6), "Wk": (D, 6), "Wv": (5, 6), "Wo": (6, D),
        "bq": (6,), "bk": (6,), "bv": (6,), "bo": (D,)}
    np.testing.assert_allclose(backend.to_numpy(w).sum(-1), 1.0, atol=1e-6)
    grads = layer.backward(backend.asarray(np.ones((N, TQ, D))))
    assert [tuple(g.shape) for g in grads] == [tuple(q.shape), tuple(v.shape), tuple(k.shape)]


@pytest.mark.parametrize("causal", [False, True])
def test_multihead_mask_applies_to_every_head(xp, causal):
    layer = MultiHeadAttention(num_heads=3, key_dim=2, causal=causal, seed=0)
    q, v = _inputs("qv")
    _, w = layer.forward([q, v], mask=_mask("qv", "padding"), return_attention_scores=True)
    w = backend.to_numpy(w)  # (N, heads, Tq, Tv)
    allowed = np.broadcast_to(KEY_PAD[:, None, None, :], w.shape)
    if causal:
        allowed = allowed & np.tril(np.ones((TQ, TV), bool))
    assert (w[~allowed] == 0).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-12)


def test_multihead_key_dim_none_is_d_over_heads(xp):
    layer = MultiHeadAttention(num_heads=2)
    layer.forward(_inputs("self"))
    assert layer.params["Wq"].shape == (D, D)


@pytest.mark.parametrize("layer", [Attention(causal=True, use_scale=False),
                                   MultiHeadAttention(2, 3, use_bias=False, causal=True, seed=4)],
                         ids=["attention", "mha"])
def test_config_round_trip(xp, layer):
    clone = type(layer)(**layer.get_config())
    x = _inputs("self")
    np.testing.assert_array_equal(backend.to_numpy(layer.forward(x)),
                                  backend.to_numpy(clone.forward(x)))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("cls", [Attention, lambda: MultiHeadAttention(2, 3)])
def test_bad_input_is_a_clear_value_error(xp, cls):
    q, v = _inputs("qv")
    with pytest.raises(ValueError, match="'x' must have 3 dimensions"):
        cls().forward(backend.asarray(np.zeros((N, D))))
    with pytest.raises(ValueError, match="'value' must have 3 dimensions"):
        cls().forward([q, v[0]])
    with pytest.raises(ValueError, match=r"\[query, value\] or \[query, value, key\]"):
        cls().forward([q])
    with pytest.raises(ValueError, match="batch size"):
        cls().forward([q, v[:1]])
    with pytest.raises(ValueError, match="same length Tv"):
        cls().forward([q, v, v[:, :2]])
    with pytest.raises(ValueError, match=r"'mask' must have shape \(N, Tv\) = \(2, 4\)"):
        cls().forward([q, v], mask=backend.asarray(np.ones((N, TQ), bool)))
    with pytest.raises(ValueError, match="'mask' must have a boolean dtype"):
        cls().forward([q, v], mask=backend.asarray(np.ones((N, TV))))
    layer = cls()
    layer.forward([q, v])
    with pytest.raises(ValueError, match="'dy' must have shape"):
        layer.backward(backend.asarray(np.ones((N, TQ + 1, D))))


def test_attention_query_key_size_mismatch(xp):
    q, v = _inputs("qv")
    with pytest.raises(ValueError, match="same feature size d"):
        Attention().forward([q, v, _arr(5, (N, TV, D + 1))])


def test_multihead_bad_arguments(xp):
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="num_heads must be a positive int"):
            MultiHeadAttention(bad, 4)
    for bad in (0, 1.5, "4"):
        with pytest.raises(ValueError, match="key_dim must be a positive int or None"):
            MultiHeadAttention(2, bad)
    with pytest.raises(ValueError, match="D = 4 is not divisible by num_heads = 3"):
        MultiHeadAttention(3).forward(_inputs("self"))
    layer = MultiHeadAttention(2, 3)
    layer.forward(_inputs("self"))
    with pytest.raises(ValueError, match="'query' must have 4 features"):
        layer.forward(_arr(0, (N, TQ, D + 1)))


# ------------------------------------------------------------------ PyTorch parity
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-11)}


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("causal, mask", [(False, "none"), (False, "full"), (True, "padding")])
def test_attention_parity_with_torch_sdpa(xp, causal, mask, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    q, v, k = (backend.to_numpy(a).astype(dtype) for a in _inputs("qvk"))
    m = _mask("qvk", mask)
    layer = Attention(causal=causal)
    out = layer.forward([backend.asarray(a) for a in (q, v, k)], mask=m)
    g = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(dtype)
    dq, dv, dk = layer.backward(backend.asarray(g))

    qt, vt, kt = (torch.tensor(a, requires_grad=True) for a in (q, v, k))
    mt = None
    if m is not None:  # PyTorch's boolean attn_mask also means True = attend
        mt = torch.tensor(np.broadcast_to(backend.to_numpy(m).reshape(N, -1, TV), (N, TQ, TV))
                          .copy())
    if causal:
        c = torch.tril(torch.ones(TQ, TV, dtype=torch.bool))
        mt = c if mt is None else mt & c
    ref = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt)
    (ref * torch.tensor(g)).sum().backward()
    tol = TOL[dtype]
    np.testing.assert_allclose(backend.to_numpy(out), ref.detach().numpy(), **tol)
    for ours, theirs in ((dq, qt), (dv, vt), (dk, kt)):
        np.testing.assert_allclose(backend.to_numpy(ours), theirs.grad.numpy(), **tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind, mask", [("self", "none"), ("self", "padding"), ("qv", "padding"),
                                        ("qvk", "full")])
def test_multihead_parity_with_torch(xp, kind, mask, dtype):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    heads = 2
    inputs = _inputs(kind)
    if kind == "qvk":  # torch's packed in-projection needs equal feature sizes
        inputs[1] = _arr(1, (N, TV, D))
    xs = [backend.to_numpy(a).astype(dtype) for a in
          (inputs if isinstance(inputs, list) else [inputs])]
    ref = torch.nn.MultiheadAttention(D, heads, bias=True, batch_first=True)
    ref = ref.to(getattr(torch, dtype))
    with torch.no_grad():  # non-zero biases, so that their gradients are compared too
        ref.in_proj_bias.normal_()
        ref.out_proj.bias.normal_()
    layer = MultiHeadAttention(heads, key_dim=D // heads, seed=0)
    layer.forward([backend.asarray(a) for a in xs] if len(xs) > 1 else backend.asarray(xs[0]))
    w_in = ref.in_proj_weight.detach().numpy()
    b_in = ref.in_proj_bias.detach().numpy()
    for i, key in enumerate("qkv"):  # torch: x W^T, rows of in_proj stacked q, k, v
        layer.params["W" + key] = backend.asarray(w_in[i * D:(i + 1) * D].T.copy())
        layer.params["b" + key] = backend.asarray(b_in[i * D:(i + 1) * D].copy())
    layer.params["Wo"] = backend.asarray(ref.out_proj.weight.detach().numpy().T.copy())
    layer.params["bo"] = backend.asarray(ref.out_proj.bias.detach().numpy().copy())

    m = _mask(kind, mask)
    arg = [backend.asarray(a) for a in xs] if len(xs) > 1 else backend.asarray(xs[0])
    out, w = layer.forward(arg, mask=m, return_attention_scores=True)
    g = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(dtype)
    dx = layer.backward(backend.asarray(g))
    dxs = dx if isinstance(dx, list) else [dx]

    ts = [torch.tensor(a, requires_grad=True) for a in xs]
    q_t = ts[0]
    v_t = ts[1] if len(ts) > 1 else ts[0]
    k_t = ts[2] if len(ts) > 2 else v_t
    kw = {}
    if m is not None:  # torch's masks mean True = "do not attend": invert
        m_np = backend.to_numpy(m)
        if m_np.ndim == 2:
            kw["key_padding_mask"] = torch.tensor(~m_np)
        else:
            kw["attn_mask"] = torch.tensor(np.repeat(~m_np, heads, axis=0))
    ref_out, ref_w = ref(q_t, k_t, v_t, need_weights=True, average_attn_weights=False, **kw)
    (ref_out * torch.tensor(g)).sum().backward()

    tol = TOL[dtype]
    np.testing.assert_allclose(backend.to_numpy(out), ref_out.detach().numpy(), **tol)
    np.testing.assert_allclose(backend.to_numpy(w), ref_w.detach().numpy(), **tol)
    for ours, theirs in zip(dxs, ts):
        np.testing.assert_allclose(backend.to_numpy(ours), theirs.grad.numpy(), **tol)
    gw = ref.in_proj_weight.grad.numpy()
    gb = ref.in_proj_bias.grad.numpy()
    for i, key in enumerate("qkv"):
        np.testing.assert_allclose(backend.to_numpy(layer.grads["W" + key]),
                                   gw[i * D:(i + 1) * D].T, **tol)
        np.testing.assert_allclose(backend.to_numpy(layer.grads["b" + key]),
                                   gb[i * D:(i + 1) * D], **tol)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["Wo"]),
                               ref.out_proj.weight.grad.numpy().T, **tol)
    np.testing.assert_allclose(backend.to_numpy(layer.grads["bo"]),
                               ref.out_proj.bias.grad.numpy(), **tol)
