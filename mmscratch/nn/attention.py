"""Attention: the document's self-attention e_ij = softmax_j s(h_i, h_j), a_i = sum_j e_ij h_j.

Section 3.2.3 of the source document writes

    e_ij = exp(s(h_i, h_j)) / sum_k exp(s(h_i, h_k)),    a_i = sum_j e_ij h_j

and leaves the similarity s open; here s is the scaled dot product
s(h_i, h_j) = h_i . h_j / sqrt(d) (Vaswani et al. 2017), d the vector size. With the
rows h_i stacked into matrices and queries, keys and values told apart (they are all
the same H in self-attention):

    S = Q K^T / sqrt(d),   E = softmax(S) (row-wise),   A = E V.

The core is two pure functions, :func:`scaled_dot_product_attention` and
:func:`scaled_dot_product_attention_backward`, used by :class:`Attention` (no
parameters, like Keras' ``Attention``), :class:`MultiHeadAttention` (learned
projections per head) and the multimodal fusion layers.

Masks are booleans, ``True`` = "may attend" (the Keras convention, and PyTorch's
``scaled_dot_product_attention``; PyTorch's ``nn.MultiheadAttention`` uses the
opposite). A masked position gets *exactly* zero weight: scores there are replaced by
-inf, the row maximum is taken over the allowed positions only, and exp(-inf) = 0. A
row with no allowed position at all (e.g. a fully padded sample) gets all-zero
weights and therefore a zero output and zero gradients, never NaN (PyTorch returns
NaN there; Keras, which fills with -1e9, spreads the weight uniformly).

Explained in chapters/03-2-models.md (section 3.2.3).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..errors import check_array, check_count
from ..extmath import column_sums
from . import initializers
from .layer import Layer

__all__ = [
    "masked_softmax",
    "causal_mask",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "Attention",
    "MultiHeadAttention",
]


def masked_softmax(scores, mask=None):
    """Row-wise softmax e_ij = exp(s_ij - m_i) / sum_k exp(s_ik - m_i) over allowed j.

    Parameters
    ----------
    scores : array (..., Tq, Tv)
        s(h_i, h_j).
    mask : bool array broadcastable to (..., Tq, Tv), optional
        ``True`` where j may be attended from i.

    Returns
    -------
    weights : array (..., Tq, Tv)
        Rows sum to one; exactly 0 at masked positions; an all-masked row is all 0.

    Notes
    -----
    m_i is the maximum over the *allowed* scores only (log-sum-exp shift, no overflow);
    masked scores become -inf so exp gives an exact 0 without any fill constant that
    could dominate a row. Chapter: chapters/03-2-models.md.
    """
    xp = backend.xp()
    if mask is None:
        e = xp.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    s = xp.where(mask, scores, xp.asarray(-np.inf, dtype=scores.dtype))
    m = s.max(axis=-1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # a fully masked row has max -inf
    e = xp.exp(s - m)
    den = e.sum(axis=-1, keepdims=True)
    return e / xp.where(den > 0, den, 1)


def causal_mask(tq, tv):
    """Boolean ``(Tq, Tv)`` lower-triangular mask: query i may attend key j only if j <= i.

    Aligned at the top-left corner as in Keras' ``use_causal_mask`` and PyTorch's
    ``is_causal``. Chapter: chapters/03-2-models.md.
    """
    xp = backend.xp()
    return xp.arange(tq)[:, None] >= xp.arange(tv)[None, :]


def scaled_dot_product_attention(q, k, v, mask=None, scale=None):
    """The document's attention with s(h_i, h_j) = q_i . k_j / sqrt(d).

    S = Q K^T * scale, E = softmax_j(S) (masked), A = E V.

    Parameters
    ----------
    q : array (..., Tq, d)
    k : array (..., Tv, d)
    v : array (..., Tv, dv)
    mask : bool array broadcastable to (..., Tq, Tv), optional
        ``True`` = may attend (see :func:`masked_softmax`).
    scale : float, optional
        Defaults to 1 / sqrt(d); pass 1.0 for the unscaled dot product.

    Returns
    -------
    out : array (..., Tq, dv)
        a_i = sum_j e_ij v_j.
    weights : array (..., Tq, Tv)
        e_ij; keep it for :func:`scaled_dot_product_attention_backward`.

    Chapter: chapters/03-2-models.md.
    """
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ k.swapaxes(-1, -2)) * scale  # (..., Tq, Tv)
    weights = masked_softmax(scores, mask)
    return weights @ v, weights


def scaled_dot_product_attention_backward(dout, q, k, v, weights, scale=None):
    """Gradients of :func:`scaled_dot_product_attention` w.r.t. q, k and v.

    With G = dL/dA:  dV = E^T G,  dE = G V^T,
    dS_ij = e_ij (dE_ij - sum_k e_ik dE_ik)  (softmax Jacobian; zero where e_ij = 0,
    so masked positions pass no gradient),  dQ = dS K * scale,  dK = dS^T Q * scale.

    Shapes: dout ``(..., Tq, dv)`` and the forward's q, k, v, weights -> ``(dq, dk, dv)``
    shaped like q, k, v. Chapter: chapters/03-2-models.md.
    """
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    dv = weights.swapaxes(-1, -2) @ dout
    dw = dout @ v.swapaxes(-1, -2)  # (..., Tq, Tv)
    ds = weights * (dw - (dw * weights).sum(axis=-1, keepdims=True))
    ds = ds * scale
    dq = ds @ k
    dk = ds.swapaxes(-1, -2) @ q
    return dq, dk, dv


def _build_mask(where, mask, n, tq, tv, causal):
    """Combine a key-padding ``(N, Tv)`` or full ``(N, Tq, Tv)`` mask with causality.

    Returns ``None`` or a boolean array broadcastable to ``(N, Tq, Tv)``.
    """
    out = None
    if mask is not None:
        check_array(mask, "mask", where=where, dtype_kind="b", allow_empty=True)
        if mask.ndim == 2 and tuple(mask.shape) == (n, tv):
            out = mask[:, None, :]  # (N, 1, Tv): the same keys hidden from every query
        elif mask.ndim == 3 and tuple(mask.shape) == (n, tq, tv):
            out = mask
        else:
            raise ValueError(f"{where}: argument 'mask' must have shape (N, Tv) = ({n}, {tv}) "
                             f"or (N, Tq, Tv) = ({n}, {tq}, {tv}), got {tuple(mask.shape)}")
    if causal:
        c = causal_mask(tq, tv)[None]  # (1, Tq, Tv)
        out = c if out is None else out & c
    return out


def _split_inputs(layer, inputs):
    """``x`` -> (x, x, x, 0); ``[q, v]`` -> (q, v, v, 2); ``[q, v, k]`` -> (q, k, v, 3)."""
    where = layer.describe()
    if isinstance(inputs, (list, tuple)):
        if len(inputs) not in (2, 3):
            raise ValueError(f"{where}: a list input must be [query, value] or "
                             f"[query, value, key], got {len(inputs)} arrays")
        names = ("query", "value", "key")[:len(inputs)]
        for name, a in zip(names, inputs):
            check_array(a, name, where=where, ndim=3)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) == 3 else v
        if q.shape[0] != v.shape[0] or k.shape[0] != v.shape[0]:
            raise ValueError(f"{where}: query, value and key must share the batch size N, "
                             f"got {q.shape[0]}, {v.shape[0]}, {k.shape[0]}")
        if k.shape[1] != v.shape[1]:
            raise ValueError(f"{where}: key and value must have the same length Tv, got "
                             f"key {tuple(k.shape)} and value {tuple(v.shape)}")
        return q, k, v, len(inputs)
    check_array(inputs, "x", where=where, ndim=3)
    return inputs, inputs, inputs, 0


def _route_grads(n_inputs, dq, dk, dv):
    """Input gradients in the order the inputs came: x, [q, v] or [q, v, k]."""
    if n_inputs == 0:
        return dq + dk + dv  # self-attention: x fed all three roles
    if n_inputs == 2:
        return [dq, dk + dv]  # the value also served as the key
    return [dq, dv, dk]


class Attention(Layer):
    """Dot-product attention without parameters (Keras' ``Attention``), the document's formula.

    e_ij = exp(s(h_i, h_j)) / sum_k exp(s(h_i, h_k)),  a_i = sum_j e_ij h_j,
    s(q_i, k_j) = q_i . k_j / sqrt(d) (or the plain dot product if ``use_scale=False``).

    Parameters
    ----------
    causal : bool
        Query i attends only keys j <= i (for autoregressive sequences).
    use_scale : bool
        Divide the scores by sqrt(d). Unlike Keras, where ``use_scale`` adds a learned
        scalar, this is the fixed 1/sqrt(d) of the scaled dot product.

    Shapes
    ------
    ``forward(inputs, training=False, mask=None, return_attention_scores=False)``:

    * ``inputs = x`` ``(N, T, D)``: self-attention, Q = K = V = x;
    * ``inputs = [query, value]``: query ``(N, Tq, D)``, value ``(N, Tv, Dv)``, the
      value serving as key too (needs Dv = D);
    * ``inputs = [query, value, key]``: key ``(N, Tv, D)``.

    ``mask``: booleans ``(N, Tv)`` (key padding) or ``(N, Tq, Tv)``, ``True`` = attend.
    Output ``(N, Tq, Dv)``; with ``return_attention_scores=True`` the pair
    ``(output, weights)``, weights ``(N, Tq, Tv)`` (as Keras). The weights of the last
    forward are also kept in ``layer.attention_scores`` for plotting from inside a
    model. ``backward(dout)`` takes only the output gradient and returns dx, or the
    list ``[dquery, dvalue]`` / ``[dquery, dvalue, dkey]``.

    Chapter: chapters/03-2-models.md.
    """

    def __init__(self, causal=False, use_scale=True, name=None):
        super().__init__(name)
        self.causal = bool(causal)
        self.use_scale = bool(use_scale)

    def forward(self, inputs, training=False, mask=None, return_attention_scores=False):
        q, k, v, n_inputs = _split_inputs(self, inputs)
        if q.shape[2] != k.shape[2]:
            raise ValueError(f"{self.describe()}: query and key must have the same feature "
                             f"size d for the dot product, got query {tuple(q.shape)} and key "
                             f"{tuple(k.shape)}")
        m = _build_mask(self.describe(), mask, q.shape[0], q.shape[1], k.shape[1], self.causal)
        scale = 1.0 / math.sqrt(q.shape[2]) if self.use_scale else 1.0
        out, weights = scaled_dot_product_attention(q, k, v, m, scale)
        self._cache = (q, k, v, weights, scale, n_inputs)
        return (out, weights) if return_attention_scores else out

    @property
    def attention_scores(self):
        """e_ij of the last forward, ``(N, Tq, Tv)`` (``None`` before any forward)."""
        return None if self._cache is None else self._cache[3]

    def backward(self, dy):
        q, k, v, weights, scale, n_inputs = self._saved()
        self._check_grad(dy, (q.shape[0], q.shape[1], v.shape[2]))
        dq, dk, dv = scaled_dot_product_attention_backward(dy, q, k, v, weights, scale)
        return _route_grads(n_inputs, dq, dk, dv)

    def get_config(self):
        return {"causal": self.causal, "use_scale": self.use_scale}


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017) with learned projections, Keras names.

    For each head h (H = num_heads, d_k = key_dim):

        Q_h = query Wq_h + bq_h,  K_h = key Wk_h + bk_h,  V_h = value Wv_h + bv_h,
        A_h = softmax(Q_h K_h^T / sqrt(d_k)) V_h          (the document's e_ij, a_i)
        out = concat_h(A_h) Wo + bo.

    Parameters
    ----------
    num_heads : int
        H.
    key_dim : int, optional
        d_k, the size of each head. ``None`` means D / num_heads (as PyTorch's
        ``nn.MultiheadAttention``), which must divide exactly.
    use_bias : bool
        Add ``bq, bk, bv (H*d_k,)`` and ``bo (D,)``.
    causal : bool
        Query i attends only keys j <= i.
    seed : int or numpy Generator, optional
        Seed for the initial weights (Glorot uniform; biases zero).

    Notes
    -----
    Parameters shapes: ``Wq (Dq, H*d_k)``, ``Wk (Dk, H*d_k)``, ``Wv (Dv, H*d_k)``,
    ``Wo (H*d_k, Dq)`` (D for all in self-attention), built on the first forward.

    Shapes
    ------
    ``forward(inputs, training=False, mask=None, return_attention_scores=False)`` with
    inputs ``x (N, T, D)`` (self-attention) or ``[query, value]`` /
    ``[query, value, key]`` (cross-attention); ``mask`` ``(N, Tv)`` or ``(N, Tq, Tv)``
    booleans, ``True`` = attend, the same for every head. Output ``(N, Tq, Dq)``; with
    ``return_attention_scores=True`` ``(output, weights)``, weights
    ``(N, H, Tq, Tv)`` (also kept in ``layer.attention_scores``).
    ``backward(dout)`` returns dx, or a list of input gradients in input order.

    Chapter: chapters/03-2-models.md.
    """

    def __init__(self, num_heads, key_dim=None, use_bias=True, causal=False, seed=None,
                 name=None):
        super().__init__(name)
        self.num_heads = check_count(num_heads, "num_heads", where="MultiHeadAttention")
        self.key_dim = check_count(key_dim, "key_dim", where="MultiHeadAttention",
                                   allow_none=True)
        self.use_bias = bool(use_bias)
        self.causal = bool(causal)
        self.seed = seed

    def _head_dim(self, d_query):
        if self.key_dim is not None:
            return self.key_dim
        if d_query % self.num_heads:
            raise ValueError(f"{self.describe()}: with key_dim=None the head size is "
                             f"D / num_heads, but D = {d_query} is not divisible by "
                             f"num_heads = {self.num_heads}")
        return d_query // self.num_heads

    def build(self, input_shape):
        """``input_shape``: the shapes of (query, key, value)."""
        (_, _, dq), (_, _, dk), (_, _, dv) = input_shape
        kd = self._head_dim(dq)
        hk = self.num_heads * kd
        rng = initializers.make_rng(self.seed)
        dtype = backend.floatx()
        self.add_param("Wq", initializers.glorot_uniform((dq, hk), rng, dtype))
        self.add_param("Wk", initializers.glorot_uniform((dk, hk), rng, dtype))
        self.add_param("Wv", initializers.glorot_uniform((dv, hk), rng, dtype))
        self.add_param("Wo", initializers.glorot_uniform((hk, dq), rng, dtype))
        if self.use_bias:
            for key, size in (("bq", hk), ("bk", hk), ("bv", hk), ("bo", dq)):
                self.add_param(key, np.zeros(size, dtype=dtype))
        self.built = True

    def _check_built_for(self, q, k, v):
        p = self.params
        for name, a, w in (("query", q, "Wq"), ("key", k, "Wk"), ("value", v, "Wv")):
            if a.shape[2] != p[w].shape[0]:
                raise ValueError(f"{self.describe()}: argument '{name}' must have "
                                 f"{p[w].shape[0]} features (the layer was built for that), "
                                 f"got shape {tuple(a.shape)}")

    def _heads(self, a):
        """(N, T, H*d_k) -> (N, H, T, d_k)."""
        n, t, _ = a.shape
        return a.reshape(n, t, self.num_heads, -1).transpose(0, 2, 1, 3)

    def forward(self, inputs, training=False, mask=None, return_attention_scores=False):
        q_in, k_in, v_in, n_inputs = _split_inputs(self, inputs)
        if not self.built:
            self._head_dim(q_in.shape[2])  # a clear error before any weight is drawn
        self._ensure_built((q_in.shape, k_in.shape, v_in.shape))
        self._check_built_for(q_in, k_in, v_in)
        xp = backend.xp()
        p = self.params
        n, tq, _ = q_in.shape
        tv = k_in.shape[1]
        m = _build_mask(self.describe(), mask, n, tq, tv, self.causal)
        if n_inputs == 0:
            # Self-attention: one product x [Wq | Wk | Wv] instead of three.
            w_all = xp.concatenate([p["Wq"], p["Wk"], p["Wv"]], axis=1)
            proj = q_in @ w_all  # (N, T, 3*H*d_k)
            if self.use_bias:
                proj = proj + xp.concatenate([p["bq"], p["bk"], p["bv"]])
            q, k, v = xp.split(proj, 3, axis=2)
        else:
            q, k, v = q_in @ p["Wq"], k_in @ p["Wk"], v_in @ p["Wv"]
            if self.use_bias:
                q, k, v = q + p["bq"], k + p["bk"], v + p["bv"]
        qh, kh, vh = self._heads(q), self._heads(k), self._heads(v)  # (N, H, T, d_k)
        scale = 1.0 / math.sqrt(qh.shape[-1])
        mh = None if m is None else m[:, None]  # the same mask for every head
        ah, weights = scaled_dot_product_attention(qh, kh, vh, mh, scale)
        concat = ah.transpose(0, 2, 1, 3).reshape(n, tq, -1)  # (N, Tq, H*d_k)
        out = concat @ p["Wo"]
        if self.use_bias:
            out = out + p["bo"]
        self._cache = (q_in, k_in, v_in, qh, kh, vh, weights, concat, scale, n_inputs)
        return (out, weights) if return_attention_scores else out

    @property
    def attention_scores(self):
        """Per-head e_ij of the last forward, ``(N, H, Tq, Tv)`` (``None`` before any)."""
        return None if self._cache is None else self._cache[6]

    def backward(self, dy):
        q_in, k_in, v_in, qh, kh, vh, weights, concat, scale, n_inputs = self._saved()
        xp = backend.xp()
        p = self.params
        n, tq, dq_feat = q_in.shape
        self._check_grad(dy, (n, tq, p["Wo"].shape[1]))
        hk = p["Wo"].shape[0]
        dy2 = dy.reshape(-1, dy.shape[-1])
        self.grads["Wo"] = concat.reshape(-1, hk).T @ dy2
        if self.use_bias:
            self.grads["bo"] = column_sums(dy2)
        dconcat = dy @ p["Wo"].T  # (N, Tq, H*d_k)
        dah = self._heads(dconcat)
        dqh, dkh, dvh = scaled_dot_product_attention_backward(dah, qh, kh, vh, weights, scale)

        def merge(a):  # (N, H, T, d_k) -> (N*T, H*d_k)
            return a.transpose(0, 2, 1, 3).reshape(-1, hk)

        dq, dk, dv = merge(dqh), merge(dkh), merge(dvh)
        if n_inputs == 0:
            d_all = xp.concatenate([dq, dk, dv], axis=1)  # (N*T, 3*H*d_k)
            x2 = q_in.reshape(-1, q_in.shape[-1])
            gw = x2.T @ d_all
            self.grads["Wq"], self.grads["Wk"], self.grads["Wv"] = xp.split(gw, 3, axis=1)
            if self.use_bias:
                self.grads["bq"], self.grads["bk"], self.grads["bv"] = xp.split(
                    column_sums(d_all), 3)
            w_all = xp.concatenate([p["Wq"], p["Wk"], p["Wv"]], axis=1)
            return (d_all @ w_all.T).reshape(q_in.shape)
        for key, a, d in (("q", q_in, dq), ("k", k_in, dk), ("v", v_in, dv)):
            self.grads["W" + key] = a.reshape(-1, a.shape[-1]).T @ d
            if self.use_bias:
                self.grads["b" + key] = column_sums(d)
        dq_in = (dq @ p["Wq"].T).reshape(q_in.shape)
        dk_in = (dk @ p["Wk"].T).reshape(k_in.shape)
        dv_in = (dv @ p["Wv"].T).reshape(v_in.shape)
        return _route_grads(n_inputs, dq_in, dk_in, dv_in)

    def get_config(self):
        return {"num_heads": self.num_heads, "key_dim": self.key_dim,
                "use_bias": self.use_bias, "causal": self.causal, "seed": self.seed}
