"""Adaptive fusion: the gated multimodal unit and low-rank tensor fusion.

Both take the fusion blocks' input (a list or dict of per-modality features
``(N, d_m)`` and an optional presence mask ``present (N, M)``, False = missing) and
return ``(N, units)``. Chapter: chapters/05-future.md ("adaptive multimodal models").
"""

from __future__ import annotations

import math

from .. import backend
from ..errors import check_count
from ..extmath import column_sums
from ..nn import initializers
from ..nn.attention import masked_softmax
from .fusion import FusionLayer
from .registry import register_fusion

__all__ = ["GatedFusion", "LowRankTensorFusion"]


class _PerModalityParams(FusionLayer):
    """Shared checks: built on the first forward for M modalities of given widths."""

    def _check_widths(self, feats, key):
        n_built = sum(1 for k in self.params if k.startswith(key) and k[len(key):].isdigit())
        if len(feats) != n_built:
            raise ValueError(f"{self.describe()}: built for {n_built} modalities, "
                             f"got {len(feats)}")
        for m, h in enumerate(feats):
            want = self.params[f"{key}{m}"].shape[-2] - self._extra
            if h.shape[1] != want:
                raise ValueError(f"{self.describe()}: modality {m} must have {want} features "
                                 f"(the layer was built for that), got {h.shape[1]}")

    _extra = 0


class GatedFusion(_PerModalityParams):
    """Gated multimodal unit (GMU, Arevalo et al. 2017), for any number of modalities.

        h_m = tanh(x_m W_m + b_m)                          (N, U)   per modality
        g   = [x_1, ..., x_M] W_z + b_z                    (N, M*U) -> (N, M, U)
        z_m = exp(g_m) / sum_{k in P} exp(g_k)              softmax over the present
                                                            modalities P, per unit
        y   = sum_{m in P} z_m * h_m                        (N, U)

    The gates are per sample and per hidden unit: each sample decides how much each
    modality counts. For two modalities, softmax over (g_1, g_2) is sigmoid(g_1 - g_2):
    Arevalo et al.'s z = sigma(W_z [x_v; x_t]), y = z h_v + (1 - z) h_t exactly.

    A missing modality (``present`` False) is left out of the softmax (its gate is
    exactly 0, so the others' gates sum to 1) and its features are zeroed in the gate
    input, so the output is the present modalities' h alone: with one modality left
    y = h_m, the same representation the head saw for that modality under modality
    dropout. It gets zero gradient.

    Parameters
    ----------
    units : int
        U, the width of the fused output.
    seed : int, optional
        Seed of the Glorot-uniform weights (biases start at 0).

    Notes
    -----
    Params: ``W{m} (d_m, U)``, ``b{m} (U,)`` for each modality m, ``Wz (sum_m d_m, M*U)``,
    ``bz (M*U,)``; built on the first forward. ``last_gates`` keeps z ``(N, M, U)`` of
    the last forward for plotting.

    Backward: dh_m = dy z_m, dpre_m = dh_m (1 - h_m^2); dz_m = dy h_m;
    dg = z (dz - sum_k z_k dz_k) (softmax Jacobian, 0 for absent modalities).

    Source: Arevalo, Solorio, Montes-y-Gómez, González, "Gated Multimodal Units for
    Information Fusion", ICLR workshop 2017. Chapter: chapters/05-future.md.
    """

    def __init__(self, units, seed=None, name=None):
        super().__init__(name)
        self.units = check_count(units, "units", where="GatedFusion")
        self.seed = seed
        self.last_gates = None

    def get_config(self):
        return {"units": self.units, "seed": self.seed}

    def build(self, widths):
        rng = initializers.make_rng(self.seed)
        dtype = backend.floatx()
        u, m_count = self.units, len(widths)
        for m, w in enumerate(widths):
            self.add_param(f"W{m}", initializers.glorot_uniform((w, u), rng, dtype))
            self.add_param(f"b{m}", initializers.zeros((u,), dtype=dtype))
        self.add_param("Wz", initializers.glorot_uniform((sum(widths), m_count * u), rng, dtype))
        self.add_param("bz", initializers.zeros((m_count * u,), dtype=dtype))
        self.built = True

    def forward(self, inputs, training=False, present=None):
        keys, feats, present = self._unpack(inputs, present)
        xp = backend.xp()
        self._ensure_built([h.shape[1] for h in feats])
        self._check_widths(feats, "W")
        p, n, u, m_count = self.params, feats[0].shape[0], self.units, len(feats)
        if present is not None:
            feats = [h * present[:, m:m + 1] for m, h in enumerate(feats)]
        hs = xp.stack([xp.tanh(h @ p[f"W{m}"] + p[f"b{m}"]) for m, h in enumerate(feats)],
                      axis=1)  # (N, M, U)
        x_all = xp.concatenate(feats, axis=1)  # (N, sum d_m)
        g = (x_all @ p["Wz"] + p["bz"]).reshape(n, m_count, u)  # (N, M, U)
        # softmax over the modality axis (moved last), absent modalities masked out
        mask = None if present is None else present[:, None, :]  # (N, 1, M)
        z = masked_softmax(g.transpose(0, 2, 1), mask).transpose(0, 2, 1)  # (N, M, U)
        self.last_gates = z
        self._cache = (keys, feats, x_all, hs, z, present)
        return (z * hs).sum(axis=1)

    def backward(self, dy):
        keys, feats, x_all, hs, z, present = self._saved()
        p, n = self.params, dy.shape[0]
        dpre = dy[:, None, :] * z * (1 - hs * hs)  # (N, M, U) through tanh
        dz = dy[:, None, :] * hs
        dg = z * (dz - (z * dz).sum(axis=1, keepdims=True))  # (N, M, U)
        dg2 = dg.reshape(n, -1)
        self.grads["Wz"] = x_all.T @ dg2
        self.grads["bz"] = column_sums(dg2)
        dx_all = dg2 @ p["Wz"].T  # (N, sum d_m) from the gates
        grads, start = [], 0
        for m, h in enumerate(feats):
            w = h.shape[1]
            self.grads[f"W{m}"] = h.T @ dpre[:, m]
            self.grads[f"b{m}"] = column_sums(dpre[:, m])
            g = dpre[:, m] @ p[f"W{m}"].T + dx_all[:, start:start + w]
            grads.append(g * present[:, m:m + 1] if present is not None else g)
            start += w
        return self._pack(keys, grads)


class LowRankTensorFusion(_PerModalityParams):
    """Low-rank multimodal fusion (LMF, Liu et al. 2018).

    Tensor fusion multiplies the outer product Z = [x_1; 1] (x) ... (x) [x_M; 1] with a
    weight tensor W of shape (d_1+1, ..., d_M+1, U). LMF writes W as a sum of r rank-one
    terms, W = sum_{i=1}^r w_i (x)_m F_m^(i), which never forms Z:

        e_m   = [x_m; 1]                                   (N, d_m + 1)
        P_m^i = e_m F_m^(i)                                (N, U)  for i = 1..r
        y     = sum_i w_i prod_m P_m^i + b                 (N, U)  (product elementwise)

    Cost O(r U sum_m d_m) instead of O(U prod_m d_m). The appended 1 keeps the unimodal
    and lower-order terms, as in :class:`TensorFusion`. A missing modality is zeroed,
    e_m = [0; 1], so its factor contributes the learned constant row F_m^(i)[-1].

    Parameters
    ----------
    rank : int
        r, the number of rank-one terms (Liu et al. use 1-16; 4 is their usual choice).
    units : int
        U, the width of the fused output.
    seed : int, optional

    Notes
    -----
    Params (reference implementation's layout): ``F{m} (r, d_m + 1, U)`` per modality
    (each factor Glorot-uniform on its own fans), ``w (r,)`` (Glorot-uniform), ``b (U,)`` (zeros).

    Backward: dP_m^i = w_i dy prod_{k != m} P_k^i; dF_m^(i) = e_m^T dP_m^i;
    dx_m = (sum_i dP_m^i F_m^(i)T) without the entry of the appended 1;
    dw_i = sum (dy * prod_m P_m^i); db = sum_n dy.

    Source: Liu, Shen, Lakshminarasimhan, Liang, Zadeh, Morency, "Efficient Low-rank
    Multimodal Fusion with Modality-Specific Factors", ACL 2018 (reference code:
    Justin1904/Low-rank-Multimodal-Fusion). Chapter: chapters/05-future.md.
    """

    _extra = 1  # the appended 1

    def __init__(self, rank, units, seed=None, name=None):
        super().__init__(name)
        self.rank = check_count(rank, "rank", where="LowRankTensorFusion")
        self.units = check_count(units, "units", where="LowRankTensorFusion")
        self.seed = seed

    def get_config(self):
        return {"rank": self.rank, "units": self.units, "seed": self.seed}

    def build(self, widths):
        rng = initializers.make_rng(self.seed)
        dtype = backend.floatx()
        r, u = self.rank, self.units
        for m, w in enumerate(widths):
            # each factor F_m^(i) (d_m + 1, U) Glorot-uniform on its own fans
            limit = math.sqrt(6.0 / (w + 1 + u))
            self.add_param(f"F{m}", rng.uniform(-limit, limit, size=(r, w + 1, u)).astype(dtype))
        self.add_param("w", initializers.glorot_uniform((1, r), rng, dtype)[0])
        self.add_param("b", initializers.zeros((u,), dtype=dtype))
        self.built = True

    def forward(self, inputs, training=False, present=None):
        keys, feats, present = self._unpack(inputs, present)
        xp = backend.xp()
        self._ensure_built([h.shape[1] for h in feats])
        self._check_widths(feats, "F")
        p = self.params
        if present is not None:
            feats = [h * present[:, m:m + 1] for m, h in enumerate(feats)]
        ext = [xp.concatenate([h, xp.ones((h.shape[0], 1), dtype=h.dtype)], axis=1)
               for h in feats]  # (N, d_m + 1)
        # (N, d+1) @ (r, d+1, U) -> (r, N, U): one matmul per modality, batched over r
        proj = [e[None] @ p[f"F{m}"] for m, e in enumerate(ext)]
        prod = proj[0]
        for pm in proj[1:]:
            prod = prod * pm  # (r, N, U)
        y = (p["w"][:, None, None] * prod).sum(axis=0) + p["b"]
        self._cache = (keys, ext, proj, prod, present)
        return y

    @staticmethod
    def _product_of_others(proj, m):
        out = None
        for k, pk in enumerate(proj):
            if k != m:
                out = pk if out is None else out * pk
        return out

    def backward(self, dy):
        keys, ext, proj, prod, present = self._saved()
        p = self.params
        self.grads["b"] = column_sums(dy)
        self.grads["w"] = (prod * dy[None]).sum(axis=(1, 2))
        dprod = p["w"][:, None, None] * dy[None]  # (r, N, U)
        grads = []
        for m, e in enumerate(ext):
            others = self._product_of_others(proj, m)
            dp = dprod if others is None else dprod * others  # (r, N, U)
            self.grads[f"F{m}"] = e.T[None] @ dp  # (r, d+1, U)
            de = (dp @ p[f"F{m}"].transpose(0, 2, 1)).sum(axis=0)  # (N, d+1)
            g = de[:, :-1]  # drop the appended 1
            grads.append(g * present[:, m:m + 1] if present is not None else g)
        return self._pack(keys, grads)


# ------------------------------------------------------------------ registry
# ``build_model(fusion=...)`` and ``--fusion`` (registry.py): the default branches, the
# fusion, the document's head.
register_fusion("gated", lambda width, seed, **_: GatedFusion(width, seed=seed),
                description="gated multimodal unit, per-sample gates (Arevalo et al. 2017)")
register_fusion("lowrank", lambda width, seed, **_: LowRankTensorFusion(4, width, seed=seed),
                description="low-rank tensor fusion, rank 4 (Liu et al. 2018)")
