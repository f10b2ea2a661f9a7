"""Fusion blocks: how features of several modalities become one vector.

Every block takes a list of per-modality features ``[h_1, ..., h_M]`` (each
``(N, d_m)``) or a dict of them, plus an optional presence mask ``present``
``(N, M)`` of booleans (False = that modality is missing for that sample, from
modality dropout or at test time). ``backward(dy)`` returns the gradients in the
same container type and order. See chapters/04-code-example.md and
chapters/05-future.md.
"""

from __future__ import annotations

from .. import backend
from ..errors import check_array, check_count
from ..extmath import column_sums
from ..nn import initializers
from ..nn.activations import log_softmax, softmax
from ..nn.attention import scaled_dot_product_attention, scaled_dot_product_attention_backward
from ..nn.layer import Layer
from .registry import register_fusion

__all__ = ["FusionLayer", "ConcatFusion", "LateFusion", "AttentionFusion", "TensorFusion"]


def split_modalities(inputs, where, what="modality features"):
    """``(keys, features)`` from a fusion layer's input: a dict (keys kept, for gradients
    returned as a dict) or a list/tuple (keys None). Raises ``ValueError`` naming ``where``
    for anything else or an empty container."""
    if isinstance(inputs, dict):
        keys, feats = list(inputs), list(inputs.values())
    elif isinstance(inputs, (list, tuple)):
        keys, feats = None, list(inputs)
    else:
        raise ValueError(f"{where}: expects a list or dict of {what}, "
                         f"got {type(inputs).__name__}")
    if not feats:
        raise ValueError(f"{where}: got no {what}")
    return keys, feats


class FusionLayer(Layer):
    """Shared input handling: list or dict in, same container of gradients out."""

    def _unpack(self, inputs, present):
        keys, feats = split_modalities(inputs, self.describe())
        n = feats[0].shape[0]
        for i, h in enumerate(feats):
            check_array(h, f"inputs[{keys[i] if keys else i}]", where=self.describe(), ndim=2)
            if h.shape[0] != n:
                sizes = [int(f.shape[0]) for f in feats]
                raise ValueError(f"{self.describe()}: modalities have different batch sizes "
                                 f"{sizes}")
        if present is not None:
            check_array(present, "present", where=self.describe(), shape=(n, len(feats)),
                        dtype_kind="b")
        return keys, feats, present

    @staticmethod
    def _pack(keys, grads):
        return dict(zip(keys, grads)) if keys is not None else grads


class ConcatFusion(FusionLayer):
    """Early fusion: z = [h_1; h_2; ...; h_M] (concatenation on the feature axis).

    A missing modality contributes zeros. Backward splits dz back into the pieces.
    Shapes: ``(N, d_m)`` each -> ``(N, sum_m d_m)``.
    """

    def forward(self, inputs, training=False, present=None):
        keys, feats, present = self._unpack(inputs, present)
        if present is not None:
            feats = [h * present[:, m:m + 1] for m, h in enumerate(feats)]
        self._cache = (keys, [h.shape[1] for h in feats], present)
        return backend.xp().concatenate(feats, axis=1)

    def backward(self, dy):
        keys, widths, present = self._saved()
        grads, start = [], 0
        for m, w in enumerate(widths):
            g = dy[:, start:start + w]
            grads.append(g * present[:, m:m + 1] if present is not None else g.copy())
            start += w
        return self._pack(keys, grads)


class LateFusion(FusionLayer):
    """Late fusion: average the per-modality predictions z_m (each ``(N, C)`` logits).

    ``mode="logits"``: z = (1/|P|) sum_{m in P} z_m.
    ``mode="probabilities"``: z = log((1/|P|) sum_{m in P} softmax(z_m)), i.e. the log
    of the averaged class probabilities, so ``SoftmaxCrossEntropy`` on z trains the
    averaged probabilities directly (softmax(log p) = p because sum p = 1).
    P is the set of modalities present for the sample.
    """

    def __init__(self, mode="probabilities", name=None):
        super().__init__(name)
        if mode not in ("logits", "probabilities"):
            raise ValueError(f"LateFusion: mode must be 'logits' or 'probabilities', got {mode!r}")
        self.mode = mode

    def get_config(self):
        return {"mode": self.mode}

    def forward(self, inputs, training=False, present=None):
        keys, feats, present = self._unpack(inputs, present)
        xp = backend.xp()
        z = xp.stack(feats, axis=1)  # (N, M, C)
        if present is None:
            w = xp.full(z.shape[:2], 1.0 / z.shape[1], dtype=z.dtype)
        else:
            p = present.astype(z.dtype)
            w = p / xp.maximum(p.sum(axis=1, keepdims=True), 1)  # (N, M)
        if self.mode == "logits":
            self._cache = (keys, w, None, None)
            return (w[:, :, None] * z).sum(axis=1)
        probs = softmax(z)  # (N, M, C)
        avg = (w[:, :, None] * probs).sum(axis=1)  # (N, C)
        # log of the averaged probabilities, from log-probabilities for stability
        # absent modalities get -1e30 so that they cannot move the max (exactly 0 weight)
        logp = xp.where(w[:, :, None] > 0, log_softmax(z), -1e30)
        mx = logp.max(axis=1, keepdims=True)
        out = xp.log((w[:, :, None] * xp.exp(logp - mx)).sum(axis=1)) + mx[:, 0]
        self._cache = (keys, w, probs, avg)
        return out

    def backward(self, dy):
        keys, w, probs, avg = self._saved()
        if probs is None:
            grads = [dy * w[:, m:m + 1] for m in range(w.shape[1])]
            return self._pack(keys, grads)
        # out = log(sum_m w_m p_m); d out / d p_m = w_m / avg; then softmax Jacobian.
        dp = dy / backend.xp().maximum(avg, 1e-30)  # (N, C); floor: p may underflow
        grads = []
        for m in range(w.shape[1]):
            g = w[:, m:m + 1] * dp  # dL/dp_m
            p = probs[:, m]
            grads.append(p * (g - (g * p).sum(axis=1, keepdims=True)))
        return self._pack(keys, grads)


class AttentionFusion(FusionLayer):
    """Project each modality to a token of width d, mix the tokens with the document's
    self-attention, and pool.

        t_m = h_m W_m + b_m                                   (N, d)      per modality
        s(t_i, t_j) = t_i . t_j / sqrt(d)                     scaled dot product
        e_ij = exp(s(t_i, t_j)) / sum_k exp(s(t_i, t_k))      (N, M, M)   the document's e_ij
        a_i = sum_j e_ij t_j                                  (N, M, d)   the document's a_i
        z = (1/|P|) sum_{i in P} a_i                          (N, d)      mean over tokens

    Missing modalities (``present`` False) are masked out as keys (e_ij = 0) and left
    out of the mean. ``last_attention`` keeps e of the last forward for plotting.

    This is what the document's ``Attention()([flatten1, flatten2])`` means once the
    two branches have the same width (see chapters/04-code-example.md).
    """

    def __init__(self, d_model=64, seed=None, name=None):
        super().__init__(name)
        self.d_model = check_count(d_model, "d_model", where="AttentionFusion")
        self.seed = seed
        self.last_attention = None

    def get_config(self):
        return {"d_model": self.d_model, "seed": self.seed}

    def build(self, widths):
        rng = initializers.make_rng(self.seed)
        for m, w in enumerate(widths):
            self.add_param(f"W{m}", initializers.glorot_uniform((w, self.d_model), rng,
                                                                backend.floatx()))
            self.add_param(f"b{m}", initializers.zeros((self.d_model,), dtype=backend.floatx()))
        self.built = True

    def forward(self, inputs, training=False, present=None):
        keys, feats, present = self._unpack(inputs, present)
        xp = backend.xp()
        self._ensure_built([h.shape[1] for h in feats])
        if len(feats) * 2 != len(self.params):
            raise ValueError(f"{self.describe()}: built for {len(self.params) // 2} modalities, "
                             f"got {len(feats)}")
        for m, h in enumerate(feats):
            if h.shape[1] != self.params[f"W{m}"].shape[0]:
                raise ValueError(f"{self.describe()}: modality {m} must have "
                                 f"{self.params[f'W{m}'].shape[0]} features, got {h.shape[1]}")
        t = xp.stack([h @ self.params[f"W{m}"] + self.params[f"b{m}"]
                      for m, h in enumerate(feats)], axis=1)  # (N, M, d)
        # Tokens attend to each other (q = k = v = t); absent modalities are masked as keys.
        key_mask = None if present is None else present[:, None, :]  # (N, 1, M)
        a, e = scaled_dot_product_attention(t, t, t, key_mask)  # (N, M, d), (N, M, M)
        q = xp.ones(t.shape[:2], dtype=t.dtype) if present is None else present.astype(t.dtype)
        q_w = q / xp.maximum(q.sum(axis=1, keepdims=True), 1)  # (N, M) pooling weights
        z = (q_w[:, :, None] * a).sum(axis=1)  # (N, d)
        self.last_attention = e
        self._cache = (keys, feats, t, e, q_w)
        return z

    def backward(self, dy):
        keys, feats, t, e, q_w = self._saved()
        da = q_w[:, :, None] * dy[:, None, :]  # (N, M, d)
        dq, dk, dv = scaled_dot_product_attention_backward(da, t, t, t, e)
        dt = dq + dk + dv  # t is query, key and value at once
        grads = []
        for m, h in enumerate(feats):
            g = dt[:, m]  # (N, d)
            self.grads[f"W{m}"] = h.T @ g
            self.grads[f"b{m}"] = column_sums(g)
            grads.append(g @ self.params[f"W{m}"].T)
        return self._pack(keys, grads)


class TensorFusion(FusionLayer):
    """Tensor fusion (Zadeh et al. 2017): z = vec([h_1; 1] (x) [h_2; 1] (x) ... (x) [h_M; 1]).

    The appended 1 keeps every unimodal and every lower-order interaction term in the
    outer product. Shapes: ``(N, d_m)`` each -> ``(N, prod_m (d_m + 1))``; keep the
    d_m small (e.g. 16-32) since the width is their product.

    Backward: for modality m, dh_m = the contraction of dz (reshaped to
    ``(N, d_1+1, ..., d_M+1)``) with every other [h_k; 1], dropping the entry of the
    appended 1. A missing modality is zeroed (its vector becomes [0; 1]).
    """

    _LETTERS = "abcdefghij"

    def forward(self, inputs, training=False, present=None):
        keys, feats, present = self._unpack(inputs, present)
        if len(feats) > len(self._LETTERS):
            raise ValueError(f"{self.describe()}: at most {len(self._LETTERS)} modalities")
        xp = backend.xp()
        if present is not None:
            feats = [h * present[:, m:m + 1] for m, h in enumerate(feats)]
        ext = [xp.concatenate([h, xp.ones((h.shape[0], 1), dtype=h.dtype)], axis=1)
               for h in feats]
        letters = self._LETTERS[:len(ext)]
        spec = ",".join("n" + c for c in letters) + "->n" + letters
        z = xp.einsum(spec, *ext)  # (N, d_1+1, ..., d_M+1)
        self._cache = (keys, ext, present, z.shape)
        return z.reshape(z.shape[0], -1)

    def backward(self, dy):
        keys, ext, present, shape = self._saved()
        xp = backend.xp()
        dz = dy.reshape(shape)
        letters = self._LETTERS[:len(ext)]
        grads = []
        for m in range(len(ext)):
            others = [ext[k] for k in range(len(ext)) if k != m]
            spec = ("n" + letters + "," + ",".join("n" + letters[k] for k in range(len(ext))
                                                   if k != m) + "->n" + letters[m])
            g = xp.einsum(spec, dz, *others)[:, :-1]  # drop the appended 1
            grads.append(g * present[:, m:m + 1] if present is not None else g)
        return self._pack(keys, grads)


# ------------------------------------------------------------------ registry
# The fusions ``build_model`` and ``--fusion`` offer; one line each (registry.py).
register_fusion("early", lambda **_: ConcatFusion(),
                description="concatenate the branch features (early fusion)")
register_fusion("late", lambda **_: LateFusion("probabilities"), head=False,
                description="average the branches' class probabilities (late fusion)")
register_fusion("attention", lambda width, seed, **_: AttentionFusion(width, seed=seed),
                description="self-attention over one token per modality (the document's)")
register_fusion("tensor", lambda **_: TensorFusion(), max_width=16,
                description="outer product of the [h_m, 1] vectors (Zadeh et al. 2017)")
