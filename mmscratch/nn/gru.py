"""Gated recurrent unit (Cho et al. 2014), Keras names and gate order z, r, h.

The GRU keeps one state h_t (no separate cell as in the LSTM) and mixes the old state
with a candidate through an update gate z_t. With the input projection
``x_t W + b_x`` and the recurrent projection ``h_{t-1} U + b_h`` each split into three
blocks of H columns (z, r, h):

    z_t  = sigma(x_t W_z + b_xz + h_{t-1} U_z + b_hz)            update gate
    r_t  = sigma(x_t W_r + b_xr + h_{t-1} U_r + b_hr)            reset gate
    h~_t = tanh(x_t W_h + b_xh + r_t * (h_{t-1} U_h + b_hh))     reset_after=True
    h~_t = tanh(x_t W_h + b_h  + (r_t * h_{t-1}) U_h)            reset_after=False
    h_t  = z_t * h_{t-1} + (1 - z_t) * h~_t

``reset_after=True`` (Keras' default since 2.x, and the only form cuDNN and PyTorch's
``nn.GRU`` implement) applies the reset gate *after* the recurrent product, so the
products of all gates take one matrix ``U`` and two bias rows ``b (2, 3H)``: row 0 is
the input bias, row 1 the recurrent bias (PyTorch's ``b_ih`` and ``b_hh``).
``reset_after=False`` is the original paper's form, with one bias ``b (3H,)``.

Masks and initial states follow :mod:`mmscratch.nn.recurrent`: a masked step carries
h_{t-1} and gets no gradient. On the cupy backend (``GRU.step_kernels``) the
``reset_after=True`` form runs each step's gate arithmetic as one fused GPU kernel:
:func:`gru_step_forward` / :func:`gru_step_backward` through
:func:`mmscratch.backend.fused`, tested on NumPy against the loops below.
Explained in chapters/03-2-models.md.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..extmath import column_sums
from . import initializers
from .lstm_steps import _step_masks, use_step_kernels
from .recurrent import _Recurrent, _time_major, stable_sigmoid

__all__ = ["GRU", "gru_step_forward", "gru_step_backward"]


def gru_step_forward(xz, xr, xh, uz, ur, uh, b_hh, h_prev, m):
    """The element-wise arithmetic of one GRU step (reset_after=True), a plain function.

    With ``a_x = x_t W + b_x`` and ``h_{t-1} U`` given per gate, and b_hh the candidate's
    recurrent bias (those of z and r are folded into a_x beforehand):

    * z = sigma(xz + uz), r = sigma(xr + ur), u_h = uh + b_hh
    * h~ = tanh(xh + r u_h), h_t = h~ + z (h_{t-1} - h~)
    * on a padded step (m = 0) h_t = h_{t-1} (``m new + (1 - m) old``).

    Only element-wise operations: :func:`mmscratch.backend.fused` makes it one CUDA
    kernel on CuPy; on NumPy it runs as written. Shapes: each argument ``(N, H)`` or
    broadcastable (b_hh ``(H,)``, m ``(N, 1)`` 0/1 floats or a 0-d 1) -> ``(z, r, h~, u_h,
    h_t)``, each ``(N, H)``. Chapter: chapters/03-2-models.md.
    """
    z = stable_sigmoid(xz + uz)
    r = stable_sigmoid(xr + ur)
    u_h = uh + b_hh
    cand = backend.xp().tanh(xh + r * u_h)
    h_new = cand + z * (h_prev - cand)
    return z, r, cand, u_h, m * h_new + (1 - m) * h_prev


def gru_step_backward(dh_up, dh_rec, carry, z, r, cand, h_prev, u_h, m):
    """The element-wise arithmetic of one GRU backward step (reset_after=True).

    g = dh_up + dh_rec + carry (from above, through U, and what step t+1 passed on
    through z h_{t-1} or past its padding); then, as in the class Notes,
    da_z = m g (h_{t-1} - h~) z (1 - z), da_h = m g (1 - z)(1 - h~^2),
    da_r = da_h u_h r (1 - r), and the next carry g (m z + 1 - m).

    Shapes: each ``(N, H)`` or broadcastable -> ``(da_z, da_r, da_h, da_h r, carry)``;
    ``[da_z, da_r, da_h r]`` is dL/d(h_{t-1} U + b_h), ``[da_z, da_r, da_h]`` is
    dL/d(x_t W + b_x).
    """
    g = dh_up + dh_rec + carry
    da_z = m * (g * (h_prev - cand) * z * (1 - z))
    da_h = m * (g * (1 - z) * (1 - cand * cand))
    da_r = da_h * u_h * r * (1 - r)
    return da_z, da_r, da_h, da_h * r, g * (m * z + (1 - m))


class GRU(_Recurrent):
    """Gated recurrent unit; Keras' ``GRU(units, return_sequences, reset_after)``.

    Parameters
    ----------
    units : int
        H, the size of the state h_t.
    return_sequences : bool
        Return every h_t ``(N, T, H)`` instead of the last one ``(N, H)``.
    reset_after : bool
        True (default): the reset gate multiplies ``h_{t-1} U_h + b_hh`` (PyTorch's and
        cuDNN's form); False: it multiplies h_{t-1} before the product.
    seed : int or numpy Generator, optional
        Seed for the initial weights (W Glorot uniform, U orthogonal per gate block, b 0).

    Shapes
    ------
    Parameter shapes: ``W (D, 3H)``, ``U (H, 3H)``, ``b (2, 3H)`` (reset_after) or
    ``(3H,)``; columns in gate order z, r, h as in Keras. (PyTorch orders its rows
    r, z, n: ``W[:, :H]`` is PyTorch's ``weight_ih[H:2H].T``, ``W[:, H:2H]`` its
    ``weight_ih[:H].T``.)

    ``forward(x, training=False, mask=None, initial_state=None)``: x ``(N, T, D)``,
    mask ``(N, T)`` booleans (True = real step), initial_state ``(N, H)`` ->
    ``(N, T, H)`` or ``(N, H)``. ``backward(dy) -> dx (N, T, D)``, fills ``grads`` and,
    when an initial state was given, ``self.d_initial_state (N, H)``.

    Notes
    -----
    Backward (reset_after=True), with g_t = dL/dh_t (upstream plus from step t+1),
    a_* the pre-activations and u_h = h_{t-1} U_h + b_hh:

    * da_z = g_t (h_{t-1} - h~_t) z_t (1 - z_t)
    * da_h = g_t (1 - z_t) (1 - h~_t^2)
    * da_r = da_h u_h r_t (1 - r_t)
    * dL/d(h_{t-1} U + b_h) = [da_z, da_r, da_h r_t]   -> dU, db[1], and
      dL/dh_{t-1} = g_t z_t + [da_z, da_r, da_h r_t] U^T
    * dL/d(x_t W + b_x) = [da_z, da_r, da_h]           -> dW, db[0], dx_t.

    Every factor that multiplies g_t is known after the forward pass, so it is computed
    for all steps at once before the loop; the loop does one ``(N, 3H) @ (3H, H)``
    product per step. sigma is :func:`mmscratch.nn.recurrent.stable_sigmoid`.

    Source: Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder",
    2014; Keras ``GRUCell``; PyTorch ``nn.GRU``. Chapter: chapters/03-2-models.md.
    """

    def __init__(self, units, return_sequences=False, reset_after=True, seed=None,
                 name=None):
        super().__init__(units, return_sequences, seed, name)
        self.reset_after = bool(reset_after)

    def build(self, input_shape):
        rng = initializers.make_rng(self.seed)
        d, h = input_shape[-1], self.units
        dtype = backend.floatx()
        self.add_param("W", initializers.glorot_uniform((d, 3 * h), rng, dtype))
        u = np.concatenate([initializers.orthogonal((h, h), rng, dtype) for _ in range(3)],
                           axis=1)
        self.add_param("U", u)
        self.add_param("b", np.zeros((2, 3 * h) if self.reset_after else 3 * h, dtype=dtype))
        self.built = True

    def _check_built_bias(self):
        b = self.params["b"]
        want = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        if tuple(b.shape) != want:
            raise ValueError(f"{self.describe()}: params['b'] must have shape {want}, "
                             f"got {tuple(b.shape)}")

    #: One fused kernel per step for reset_after=True (see
    #: :func:`mmscratch.nn.lstm_steps.use_step_kernels`); None = on the cupy backend only.
    step_kernels = None

    def forward(self, x, training=False, mask=None, initial_state=None):
        self._check_sequence(x, mask)
        self._ensure_built(x.shape)
        self._check_built_bias()
        xp = backend.xp()
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        n, t_steps, _ = x.shape
        H = self.units
        h = (xp.zeros((n, H), dtype=x.dtype) if initial_state is None
             else self._check_state(initial_state, n, "initial_state"))
        h0 = h
        if self.reset_after and use_step_kernels(self):
            return self._forward_kernels(x, h0, mask, initial_state is not None)
        # All input projections in one product, time-major so each step is one block.
        xw = _time_major(x) @ W  # (T, N, 3H)
        xw += b[0] if self.reset_after else b
        dtype = xw.dtype
        zs = xp.empty((t_steps, n, H), dtype=dtype)
        rs = xp.empty((t_steps, n, H), dtype=dtype)
        cand = xp.empty((t_steps, n, H), dtype=dtype)  # h~_t
        inner = xp.empty((t_steps, n, H), dtype=dtype)  # u_h (after) or r * h_{t-1} (before)
        hs = xp.empty((t_steps, n, H), dtype=dtype)
        if self.reset_after:
            bh = b[1]
            for t in range(t_steps):
                hu = h @ U + bh  # (N, 3H)
                zr = stable_sigmoid(xw[t, :, :2 * H] + hu[:, :2 * H])
                z, r = zr[:, :H], zr[:, H:]
                inner[t] = hu[:, 2 * H:]
                hc = xp.tanh(xw[t, :, 2 * H:] + r * hu[:, 2 * H:])
                zs[t], rs[t], cand[t] = z, r, hc
                h_new = hc + z * (h - hc)  # z h_{t-1} + (1 - z) h~
                hs[t] = h_new if mask is None else xp.where(mask[:, t, None], h_new, h)
                h = hs[t]
        else:
            U_zr, U_h = U[:, :2 * H], U[:, 2 * H:]
            for t in range(t_steps):
                zr = stable_sigmoid(xw[t, :, :2 * H] + h @ U_zr)
                z, r = zr[:, :H], zr[:, H:]
                rh = r * h
                hc = xp.tanh(xw[t, :, 2 * H:] + rh @ U_h)
                zs[t], rs[t], cand[t], inner[t] = z, r, hc, rh
                h_new = hc + z * (h - hc)
                hs[t] = h_new if mask is None else xp.where(mask[:, t, None], h_new, h)
                h = hs[t]
        self._cache = (x, zs, rs, cand, inner, hs, h0, mask, initial_state is not None)
        return self._output(hs.transpose(1, 0, 2))

    def _forward_kernels(self, x, h0, mask, has_state):
        """reset_after=True, one product and one fused kernel (:func:`gru_step_forward`)
        per step; the cache keeps the per-step outputs."""
        xp = backend.xp()
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        H = self.units
        step = backend.fused(gru_step_forward)
        xw = _time_major(x) @ W  # (T, N, 3H)
        xw += b[0]
        xw[:, :, :2 * H] += b[1, :2 * H]  # the recurrent biases of z and r add up front
        t_steps = xw.shape[0]
        ms = _step_masks(mask, t_steps, xw.dtype)
        b_hh = b[1, 2 * H:]
        h, steps = h0, []
        for t in range(t_steps):
            hu = h @ U  # (N, 3H)
            out = step(xw[t, :, :H], xw[t, :, H:2 * H], xw[t, :, 2 * H:], hu[:, :H],
                       hu[:, H:2 * H], hu[:, 2 * H:], b_hh, h, ms[t])
            h = out[4]
            steps.append(out)
        hs = xp.stack([out[4] for out in steps])  # (T, N, H)
        self._cache = ("kernels", x, steps, hs, h0, mask, has_state)
        return self._output(hs.transpose(1, 0, 2))

    def _backward_kernels(self, dy):
        _, x, steps, hs, h0, mask, has_state = self._saved()
        xp = backend.xp()
        W, U = self.params["W"], self.params["U"]
        t_steps, n, H = hs.shape
        dhs = self._upstream(dy, (n, t_steps, H)).transpose(1, 0, 2)  # (T, N, H)
        step = backend.fused(gru_step_backward)
        UT = xp.ascontiguousarray(U.T)
        ms = _step_masks(mask, t_steps, hs.dtype)
        dh_rec = xp.zeros((n, H), dtype=hs.dtype)
        carry = xp.zeros((n, H), dtype=hs.dtype)
        parts = [None] * t_steps
        for t in range(t_steps - 1, -1, -1):
            z, r, cand, u_h, _ = steps[t]
            h_prev = hs[t - 1] if t > 0 else h0
            parts[t] = step(dhs[t], dh_rec, carry, z, r, cand, h_prev, u_h, ms[t])
            carry = parts[t][4]
            dh_rec = xp.concatenate([parts[t][0], parts[t][1], parts[t][3]], axis=1) @ UT
        da_z, da_r, da_h, da_hr = (xp.stack([p[k] for p in parts]) for k in range(4))
        dxw = xp.concatenate([da_z, da_r, da_h], axis=2)  # (T, N, 3H) dL/d(x_t W + b_x)
        dhu = xp.concatenate([da_z, da_r, da_hr], axis=2)  # dL/d(h_{t-1} U + b_h)
        h_prev = xp.concatenate([h0[None], hs[:-1]], axis=0)
        dx2 = dxw.reshape(t_steps * n, 3 * H)
        d_rec = dhu.reshape(t_steps * n, 3 * H)
        self.grads["W"] = _time_major(x).reshape(t_steps * n, -1).T @ dx2
        self.grads["U"] = h_prev.reshape(t_steps * n, H).T @ d_rec
        self.grads["b"] = xp.stack([column_sums(dx2), column_sums(d_rec)])
        self.d_initial_state = dh_rec + carry if has_state else None
        if not self.needs_input_grad:
            return None
        return xp.ascontiguousarray((dxw @ W.T).transpose(1, 0, 2))

    def backward(self, dy):
        if isinstance(self._saved()[0], str):  # ("kernels", ...): the fused-step path
            return self._backward_kernels(dy)
        x, zs, rs, cand, inner, hs, h0, mask, has_state = self._saved()
        xp = backend.xp()
        W, U = self.params["W"], self.params["U"]
        t_steps, n, H = hs.shape
        dhs = self._upstream(dy, (n, t_steps, H)).transpose(1, 0, 2)  # (T, N, H)
        h_prev = xp.concatenate([h0[None], hs[:-1]], axis=0)  # (T, N, H)
        # Factors of g_t = dL/dh_t, for every step at once (see the class Notes).
        k_z = (h_prev - cand) * zs * (1 - zs)  # da_z / g
        k_h = (1 - zs) * (1 - cand * cand)  # da_h / g
        s_r = rs * (1 - rs)  # sigma'(a_r)
        carry = zs  # dh_{t-1} / dh_t through z h_{t-1}
        if mask is not None:
            m_tm = _time_major(mask)[:, :, None]  # (T, N, 1)
            k_z, k_h, s_r = k_z * m_tm, k_h * m_tm, s_r * m_tm
            carry = xp.where(m_tm, zs, 1)  # a padded step hands g_t to h_{t-1} unchanged
        dxw = xp.empty((t_steps, n, 3 * H), dtype=hs.dtype)  # dL/d(x_t W + b_x)
        dh_next = xp.zeros((n, H), dtype=hs.dtype)
        if self.reset_after:
            k_r = k_h * inner * s_r  # da_r = g (1 - z)(1 - h~^2) u_h r (1 - r)
            dhu = xp.empty_like(dxw)  # dL/d(h_{t-1} U + b_h)
            for t in range(t_steps - 1, -1, -1):
                g = dhs[t] + dh_next
                dxw[t, :, :H] = g * k_z[t]
                dxw[t, :, H:2 * H] = g * k_r[t]
                dxw[t, :, 2 * H:] = g * k_h[t]
                dhu[t, :, :2 * H] = dxw[t, :, :2 * H]
                dhu[t, :, 2 * H:] = dxw[t, :, 2 * H:] * rs[t]
                dh_next = dhu[t] @ U.T + g * carry[t]
            d_rec = dhu.reshape(t_steps * n, 3 * H)
            self.grads["U"] = h_prev.reshape(t_steps * n, H).T @ d_rec
            dx2 = dxw.reshape(t_steps * n, 3 * H)
            self.grads["b"] = xp.stack([column_sums(dx2), column_sums(d_rec)])
        else:
            U_zr, U_h = U[:, :2 * H], U[:, 2 * H:]
            for t in range(t_steps - 1, -1, -1):
                g = dhs[t] + dh_next
                da_h = g * k_h[t]
                drh = da_h @ U_h.T  # dL/d(r_t * h_{t-1})
                dxw[t, :, :H] = g * k_z[t]
                dxw[t, :, H:2 * H] = drh * h_prev[t] * s_r[t]  # da_r
                dxw[t, :, 2 * H:] = da_h
                dh_next = (dxw[t, :, :2 * H] @ U_zr.T + drh * rs[t]
                           + g * carry[t])
            dx2 = dxw.reshape(t_steps * n, 3 * H)
            hp2 = h_prev.reshape(t_steps * n, H)
            self.grads["U"] = xp.concatenate(
                [hp2.T @ dx2[:, :2 * H], inner.reshape(t_steps * n, H).T @ dx2[:, 2 * H:]],
                axis=1)
            self.grads["b"] = column_sums(dx2)
        self.grads["W"] = _time_major(x).reshape(t_steps * n, -1).T @ dx2
        self.d_initial_state = dh_next if has_state else None
        return xp.ascontiguousarray((dxw @ W.T).transpose(1, 0, 2))

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
