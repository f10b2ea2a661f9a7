"""Contrastive losses: the symmetric InfoNCE (CLIP) loss of two embedding batches.

Chapter: chapters/05-future.md (cross-modal feature learning).
"""

from __future__ import annotations

import math

from .. import backend
from ..errors import check_array
from .activations import log_softmax
from .losses import Loss

__all__ = ["InfoNCELoss", "l2_normalize", "l2_normalize_backward"]

#: Norms below this are floored (as ``torch.nn.functional.normalize``'s ``eps``).
NORM_EPS = 1e-12


def l2_normalize(z, eps=NORM_EPS):
    """Rows of z divided by their L2 norm, u_i = z_i / max(||z_i||, eps).

    Returns ``(u, norm)`` with ``norm (N, 1)`` the floored norms backward needs.
    Shapes: ``z (N, D)`` -> ``u (N, D)``.
    """
    xp = backend.xp()
    norm = xp.maximum(xp.sqrt((z * z).sum(axis=1, keepdims=True)), eps)
    return z / norm, norm


def l2_normalize_backward(du, u, norm, eps=NORM_EPS):
    """dL/dz of :func:`l2_normalize`: (du - u (u . du)) / ||z|| (du / eps where floored).

    The projection removes the radial part of du: scaling z does not change u.
    """
    radial = (u * du).sum(axis=1, keepdims=True)
    return backend.xp().where(norm > eps, (du - u * radial) / norm, du / norm)


class InfoNCELoss(Loss):
    """Symmetric InfoNCE, the contrastive loss of CLIP (Radford et al. 2021).

    For two batches of embeddings ``z_a, z_b (N, D)`` where row i of one matches row i of
    the other (an image and the recording of the same sample):

        u_i = z_a,i / ||z_a,i||,   v_j = z_b,j / ||z_b,j||        (L2 normalisation)
        S_ij = s * u_i . v_j,      s = 1 / temperature = exp(t)    (N, N) logits
        L = 1/2 [ -(1/N) sum_i log softmax_j(S_ij)|_{j=i}          (a -> b: row-wise)
                  -(1/N) sum_j log softmax_i(S_ij)|_{i=j} ]        (b -> a: column-wise)

    i.e. the mean of the cross-entropies of S and S^T with the diagonal as the labels
    (CLIP's pseudo-code; van den Oord et al. 2018 for InfoNCE). Every other row of the
    batch is a negative.

    Backward (explicit): with P^r = softmax of S along rows and P^c along columns,

        dL/dS = (P^r + P^c - 2 I) / (2N),
        dL/du = s dS v,  dL/dv = s dS^T u,  then through the normalisation
        dL/dz = (du - u (u . du)) / ||z||,
        dL/dt = sum_ij dS_ij S_ij            (learnable temperature, s = exp(t)).

    Parameters
    ----------
    temperature : float > 0
        tau = 1/s; CLIP starts at 0.07.
    learnable : bool
        Learn the temperature as CLIP does: the parameter ``params["logit_scale"]`` is
        t = log(1 / tau) (a 0-d array), and s = exp(t) is clipped at ``max_scale`` (CLIP
        clips at 100; no gradient flows while clipped). The loss then exposes
        ``parameters()``, so an optimizer can step it next to the encoders.
    max_scale : float
        Upper bound of s (only with ``learnable``).

    Notes
    -----
    ``forward(z_a, z_b) -> float``; ``backward() -> [dz_a, dz_b]``; when learnable,
    ``grads["logit_scale"]`` is filled too (overwritten, never accumulated).

    Raises ``ValueError`` for non-2-D inputs, different shapes, N < 1 or non-finite values.

    Source: Radford et al. 2021, "Learning Transferable Visual Models From Natural
    Language Supervision" (Figure 3's pseudo-code); open_clip's ``ClipLoss``.
    Chapter: chapters/05-future.md.
    """

    def __init__(self, temperature=0.07, learnable=False, max_scale=100.0):
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"InfoNCELoss: temperature must be a positive finite float, "
                             f"got {temperature!r}")
        if not (isinstance(max_scale, (int, float)) and max_scale > 0):
            raise ValueError(f"InfoNCELoss: max_scale must be positive, got {max_scale!r}")
        self.temperature = float(temperature)
        self.learnable = bool(learnable)
        self.max_scale = float(max_scale)
        self.params, self.grads = {}, {}
        self.name = "InfoNCELoss"
        if self.learnable:
            xp = backend.xp()
            self.params["logit_scale"] = xp.asarray(math.log(1.0 / self.temperature),
                                                    dtype=backend.floatx())
            self.grads["logit_scale"] = xp.zeros((), dtype=backend.floatx())

    def get_config(self):
        return {"temperature": self.temperature, "learnable": self.learnable,
                "max_scale": self.max_scale}

    def parameters(self):
        """``(self, "logit_scale")`` when learnable (for optimizers), nothing otherwise."""
        for key in self.params:
            yield self, key

    @property
    def scale(self):
        """The current s = 1/temperature as a Python float."""
        if not self.learnable:
            return 1.0 / self.temperature
        return min(math.exp(float(backend.to_numpy(self.params["logit_scale"]))),
                   self.max_scale)

    def forward(self, z_a, z_b):
        name = "InfoNCELoss"
        check_array(z_a, "z_a", where=name, ndim=2, finite=True)
        check_array(z_b, "z_b", where=name, shape=tuple(z_a.shape), finite=True)
        xp = backend.xp()
        u, nu = l2_normalize(z_a)
        v, nv = l2_normalize(z_b)
        cos = u @ v.T  # (N, N) cosine similarities
        if self.learnable:
            t = self.params["logit_scale"]
            s = xp.minimum(xp.exp(t), self.max_scale).astype(cos.dtype)
        else:
            s = 1.0 / self.temperature
        logits = s * cos
        logp_rows = log_softmax(logits)  # a -> b: softmax over j
        logp_cols = log_softmax(logits.T)  # b -> a: softmax over i
        n = cos.shape[0]
        loss = -(xp.trace(logp_rows) + xp.trace(logp_cols)) / (2 * n)
        self._cache = (u, nu, v, nv, cos, s, xp.exp(logp_rows), xp.exp(logp_cols).T)
        return float(backend.to_numpy(loss))

    def backward(self):
        u, nu, v, nv, cos, s, p_rows, p_cols = self._saved()
        xp = backend.xp()
        n = cos.shape[0]
        eye = xp.eye(n, dtype=cos.dtype)
        dlogits = (p_rows + p_cols - 2 * eye) / (2 * n)  # (N, N)
        dcos = s * dlogits
        du = dcos @ v
        dv = dcos.T @ u
        if self.learnable:
            t = self.params["logit_scale"]
            unclipped = xp.exp(t) < self.max_scale
            # dL/dt = sum dL/dlogits * logits (d exp(t)/dt = exp(t)); 0 while clipped.
            self.grads["logit_scale"] = xp.where(unclipped, (dlogits * cos).sum() * s,
                                                 0.0).astype(t.dtype)
        return [l2_normalize_backward(du, u, nu), l2_normalize_backward(dv, v, nv)]
