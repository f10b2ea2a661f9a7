"""Recurrent layers: the document's RNN h_t = f(W x_t + U h_{t-1} + b) and an LSTM.

Both layers take sequences ``(N, T, D)`` (channels-last, like Keras) and run full
backpropagation through time (BPTT). Sample vectors are rows, so the document's
``W x_t`` is written ``x_t @ W`` with ``W`` of shape ``(D, H)``.

The only Python loop is the one over time steps, whose body is one ``(N, H) @ (H, ·)``
matrix product plus a few element-wise operations: the input projection ``x @ W`` of
every step is computed before the loop in one matrix product, and the weight
gradients are summed over all steps after the loop in one matrix product each.

Masks follow Keras: ``mask`` is ``(N, T)`` booleans, ``True`` where the step is real.
A masked step leaves the state unchanged (``h_t = h_{t-1}``, and ``c_t = c_{t-1}`` for
the LSTM), so its output is the carried state, and it receives no gradient: ``dx_t``
is zero there and the parameters get nothing from it.

Explained in chapters/03-2-models.md (section 3.2.2 of the source document).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .layer import Layer

__all__ = ["SimpleRNN", "LSTM", "stable_sigmoid"]


def stable_sigmoid(z):
    """Logistic sigmoid written through tanh: sigma(z) = 0.5 * tanh(z / 2) + 0.5.

    The identity is exact; tanh saturates to +-1 instead of overflowing, so
    ``sigma(-1000)`` is 0, not ``exp(1000) = inf`` as in the naive 1 / (1 + e^{-z}),
    and it costs one transcendental per element (no branch on the sign of z).

    Shapes: any in, the same out. Chapter: chapters/03-2-models.md.
    """
    return 0.5 * backend.xp().tanh(0.5 * z) + 0.5


# Activations f of the simple RNN with f' written through the output y = f(a), so that
# backward needs only the stored states (never the pre-activations).
def _act_tanh(a):
    return backend.xp().tanh(a)


def _act_relu(a):
    return backend.xp().maximum(a, 0)


def _act_linear(a):
    return a


def _dact_tanh(y):
    return 1 - y * y


def _dact_sigmoid(y):
    return y * (1 - y)


def _dact_relu(y):
    return y > 0


def _dact_linear(y):
    return backend.xp().ones_like(y)


_ACTIVATIONS = {
    "tanh": (_act_tanh, _dact_tanh),
    "sigmoid": (stable_sigmoid, _dact_sigmoid),
    "relu": (_act_relu, _dact_relu),
    "linear": (_act_linear, _dact_linear),
}


def _time_major(a):
    """(N, T, ...) -> a contiguous (T, N, ...) copy, so that step t is one memory block."""
    return backend.xp().ascontiguousarray(a.swapaxes(0, 1))


def _check_units(where, units):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"{where}: units must be a positive int, got {units!r}")
    return int(units)


class _Recurrent(Layer):
    """Shared plumbing of SimpleRNN and LSTM: input/mask/state checks and output slicing."""

    def __init__(self, units, return_sequences=False, seed=None, name=None):
        super().__init__(name)
        self.units = _check_units(type(self).__name__, units)
        self.return_sequences = bool(return_sequences)
        self.seed = seed
        self.d_initial_state = None

    def _check_sequence(self, x, mask):
        self._check_input(x, ndim=3)
        d = self.params["W"].shape[0] if self.built else None
        if d is not None and x.shape[2] != d:
            raise ValueError(f"{self.describe()}: argument 'x' must have {d} features in its "
                             f"last axis (the layer was built for that), got shape "
                             f"{tuple(x.shape)}")
        if mask is not None:
            self._check_input(mask, "mask", shape=tuple(x.shape[:2]), dtype_kind="b")

    def _check_state(self, state, n, argument):
        self._check_input(state, argument, shape=(n, self.units))
        return state

    def _output(self, hs):
        return hs if self.return_sequences else hs[:, -1]

    def _upstream(self, dy, shape):
        """dL/dh_t for every step from dy (all steps, or only the last)."""
        n, t, h = shape
        if self.return_sequences:
            self._check_grad(dy, (n, t, h))
            return dy
        self._check_grad(dy, (n, h))
        dhs = backend.xp().zeros((n, t, h), dtype=dy.dtype)
        dhs[:, -1] = dy
        return dhs

    def get_config(self):
        return {"units": self.units, "return_sequences": self.return_sequences,
                "seed": self.seed}


class SimpleRNN(_Recurrent):
    """Fully connected recurrent layer, the document's h_t = f(W x_t + U h_{t-1} + b).

    With row vectors the step is ``h_t = f(x_t @ W + h_{t-1} @ U + b)``, h_0 = 0 unless
    ``initial_state`` is given.

    Parameters
    ----------
    units : int
        H, the size of the hidden state.
    activation : {"tanh", "sigmoid", "relu", "linear"} or None
        f; ``None`` means linear. Default ``"tanh"`` as in Keras.
    return_sequences : bool
        Return every h_t ``(N, T, H)`` instead of the last one ``(N, H)``.
    seed : int or numpy Generator, optional
        Seed of the host generator that draws the initial weights (W Glorot uniform,
        U orthogonal, b zero, as Keras).

    Shapes
    ------
    ``forward(x, training=False, mask=None, initial_state=None)``: x ``(N, T, D)``,
    mask ``(N, T)`` booleans, initial_state ``(N, H)`` -> ``(N, T, H)`` or ``(N, H)``.
    ``backward(dy) -> dx (N, T, D)``; fills ``grads["W"] (D, H)``, ``grads["U"] (H, H)``,
    ``grads["b"] (H,)`` and, when an initial state was given, ``self.d_initial_state``.

    Notes
    -----
    BPTT: with a_t = x_t W + h_{t-1} U + b and delta_t = dL/da_t,

    * delta_t = (dL/dh_t + delta_{t+1} U^T) * f'(a_t)
    * dW = sum_t x_t^T delta_t, dU = sum_t h_{t-1}^T delta_t, db = sum_t delta_t,
      dx_t = delta_t W^T.

    Chapter: chapters/03-2-models.md.
    """

    def __init__(self, units, activation="tanh", return_sequences=False, seed=None,
                 name=None):
        super().__init__(units, return_sequences, seed, name)
        act = "linear" if activation is None else activation
        if act not in _ACTIVATIONS:
            raise ValueError(f"SimpleRNN: activation must be one of {sorted(_ACTIVATIONS)} "
                             f"or None, got {activation!r}")
        self.activation = activation
        self._f, self._df = _ACTIVATIONS[act]

    def build(self, input_shape):
        from . import initializers  # noqa: PLC0415 - avoid an import cycle at package load

        rng = initializers.make_rng(self.seed)
        d, h = input_shape[-1], self.units
        dtype = backend.floatx()
        self.add_param("W", initializers.glorot_uniform((d, h), rng, dtype))
        self.add_param("U", initializers.orthogonal((h, h), rng, dtype))
        self.add_param("b", np.zeros(h, dtype=dtype))
        self.built = True

    def forward(self, x, training=False, mask=None, initial_state=None):
        self._check_sequence(x, mask)
        self._ensure_built(x.shape)
        xp = backend.xp()
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        n, t_steps, _ = x.shape
        h = (xp.zeros((n, self.units), dtype=x.dtype) if initial_state is None
             else self._check_state(initial_state, n, "initial_state"))
        h0 = h
        # Every step's input projection in one product, time-major (T, N, H) so that each
        # step reads one contiguous block.
        xw = _time_major(x) @ W + b
        hs = xp.empty((t_steps, n, self.units), dtype=xw.dtype)
        for t in range(t_steps):
            h_new = self._f(xw[t] + h @ U)
            if mask is not None:
                h_new = xp.where(mask[:, t, None], h_new, h)  # padded step: carry h
            hs[t] = h_new
            h = h_new
        self._cache = (x, hs, h0, mask, initial_state is not None)
        return self._output(hs.transpose(1, 0, 2))

    def backward(self, dy):
        x, hs, h0, mask, has_state = self._saved()
        xp = backend.xp()
        W, U = self.params["W"], self.params["U"]
        t_steps, n, h_units = hs.shape
        dhs = self._upstream(dy, (n, t_steps, h_units)).transpose(1, 0, 2)  # (T, N, H)
        fprime = self._df(hs)  # (T, N, H): f'(a_t) from h_t = f(a_t), all steps at once
        if mask is not None:
            m_tm = _time_major(mask)[:, :, None]
            fprime = fprime * m_tm  # masked steps pass no gradient to a_t ...
            keep = ~m_tm  # ... but carry dL/dh_t to h_{t-1} unchanged
        delta = xp.empty_like(hs)  # (T, N, H) dL/da_t
        dh_next = xp.zeros((n, h_units), dtype=hs.dtype)
        UT = U.T
        for t in range(t_steps - 1, -1, -1):
            dh = dhs[t] + dh_next
            da = dh * fprime[t]
            delta[t] = da
            dh_next = da @ UT
            if mask is not None:
                dh_next = dh_next + dh * keep[t]
        h_prev = xp.concatenate([h0[None], hs[:-1]], axis=0)  # (T, N, H)
        d2 = delta.reshape(t_steps * n, h_units)
        self.grads["W"] = _time_major(x).reshape(t_steps * n, -1).T @ d2
        self.grads["U"] = h_prev.reshape(t_steps * n, h_units).T @ d2
        self.grads["b"] = d2.sum(axis=0)
        self.d_initial_state = dh_next if has_state else None
        return xp.ascontiguousarray((delta @ W.T).transpose(1, 0, 2))

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class LSTM(_Recurrent):
    """Long short-term memory layer (Hochreiter & Schmidhuber 1997), Keras gate order.

    With z_t = x_t W + h_{t-1} U + b split into four blocks of H columns, in the order
    i, f, c, o (as Keras and PyTorch's i, f, g, o):

    * i_t = sigma(z_i), f_t = sigma(z_f), g_t = tanh(z_c), o_t = sigma(z_o)
    * c_t = f_t * c_{t-1} + i_t * g_t
    * h_t = o_t * tanh(c_t)

    sigma is :func:`stable_sigmoid` (no overflow for large |z|).

    Parameters
    ----------
    units : int
        H, the size of h_t and c_t.
    return_sequences : bool
        Return every h_t ``(N, T, H)`` instead of the last one ``(N, H)``.
    unit_forget_bias : bool
        Start b_f at 1 (as Keras) so that the cell remembers at the start of training.
    seed : int or numpy Generator, optional
        Seed of the host generator for the initial weights (W Glorot uniform, U
        orthogonal per gate block).

    Shapes
    ------
    ``forward(x, training=False, mask=None, initial_state=None)``: x ``(N, T, D)``,
    mask ``(N, T)`` booleans, initial_state ``[h0, c0]`` each ``(N, H)`` (a single
    array means h0 with c0 = 0) -> ``(N, T, H)`` or ``(N, H)``.
    ``backward(dy) -> dx (N, T, D)``; fills ``grads["W"] (D, 4H)``,
    ``grads["U"] (H, 4H)``, ``grads["b"] (4H,)`` and, when an initial state was
    given, ``self.d_initial_state = [dh0, dc0]``.

    Notes
    -----
    All four gates are computed with one tanh: a sigmoid gate is
    0.5 * tanh(z / 2) + 0.5, so z is scaled per column by (1/2, 1/2, 1, 1/2) and then
    mapped affinely. Backward uses the derivatives written through the gate values,
    sigma' = sigma (1 - sigma) and tanh' = 1 - tanh^2.

    Chapter: chapters/03-2-models.md.
    """

    def __init__(self, units, return_sequences=False, unit_forget_bias=True, seed=None,
                 name=None):
        super().__init__(units, return_sequences, seed, name)
        self.unit_forget_bias = bool(unit_forget_bias)

    def build(self, input_shape):
        from . import initializers  # noqa: PLC0415

        rng = initializers.make_rng(self.seed)
        d, h = input_shape[-1], self.units
        dtype = backend.floatx()
        self.add_param("W", initializers.glorot_uniform((d, 4 * h), rng, dtype))
        u = np.concatenate([initializers.orthogonal((h, h), rng, dtype) for _ in range(4)],
                           axis=1)
        self.add_param("U", u)
        b = np.zeros(4 * h, dtype=dtype)
        if self.unit_forget_bias:
            b[h:2 * h] = 1
        self.add_param("b", b)
        self.built = True

    def _gate_constants(self, dtype):
        """Per-column s and c with gate = s * tanh(s * z) + c: sigma for i, f, o; tanh for g."""
        h = self.units
        half = np.full(h, 0.5)
        one = np.ones(h)
        scale = np.concatenate([half, half, one, half])
        offset = np.concatenate([half, half, np.zeros(h), half])
        return (backend.asarray(scale.astype(dtype)), backend.asarray(offset.astype(dtype)))

    def _initial(self, initial_state, n, dtype):
        xp = backend.xp()
        zeros = xp.zeros((n, self.units), dtype=dtype)
        if initial_state is None:
            return zeros, zeros, None
        if isinstance(initial_state, (list, tuple)):
            if len(initial_state) != 2:
                raise ValueError(f"{self.describe()}: initial_state must be [h0, c0], got a "
                                 f"list of {len(initial_state)}")
            h0 = self._check_state(initial_state[0], n, "initial_state[0]")
            c0 = self._check_state(initial_state[1], n, "initial_state[1]")
            return h0, c0, "pair"
        return self._check_state(initial_state, n, "initial_state"), zeros, "h"

    def forward(self, x, training=False, mask=None, initial_state=None):
        self._check_sequence(x, mask)
        self._ensure_built(x.shape)
        xp = backend.xp()
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        n, t_steps, _ = x.shape
        H = self.units
        h, c, state_kind = self._initial(initial_state, n, x.dtype)
        h0, c0 = h, c
        scale, offset = self._gate_constants(W.dtype)
        # Scaling the pre-activations (folded into W, U, b) lets one tanh per step give all
        # four gates. Time-major (T, N, 4H) so that each step reads one contiguous block.
        xw = _time_major(x) @ (W * scale)
        xw += b * scale
        Us = U * scale
        gates = xp.empty((t_steps, n, 4 * H), dtype=xw.dtype)  # i, f, g, o after activation
        cs = xp.empty((t_steps, n, H), dtype=xw.dtype)
        tanh_cs = xp.empty((t_steps, n, H), dtype=xw.dtype)  # kept for backward
        hs = xp.empty((t_steps, n, H), dtype=xw.dtype)
        # The step writes straight into these buffers (out=, in place): a short recurrent
        # step costs what its calls and temporaries cost.
        for t in range(t_steps):
            g_all, c_new, tc, h_new = gates[t], cs[t], tanh_cs[t], hs[t]  # views
            xp.matmul(h, Us, out=g_all)
            g_all += xw[t]
            xp.tanh(g_all, out=g_all)
            g_all *= scale
            g_all += offset
            xp.multiply(g_all[:, H:2 * H], c, out=c_new)  # f * c_{t-1}
            c_new += g_all[:, :H] * g_all[:, 2 * H:3 * H]  # + i * g
            xp.tanh(c_new, out=tc)
            xp.multiply(g_all[:, 3 * H:], tc, out=h_new)  # o * tanh(c_t)
            if mask is not None:
                m = mask[:, t, None]
                cs[t] = xp.where(m, c_new, c)  # padded step: carry (h, c)
                hs[t] = xp.where(m, h_new, h)
            h, c = hs[t], cs[t]
        self._cache = (x, gates, cs, tanh_cs, hs, h0, c0, mask, state_kind)
        return self._output(hs.transpose(1, 0, 2))

    def backward(self, dy):
        x, gates, cs, tanh_cs, hs, h0, c0, mask, state_kind = self._saved()
        xp = backend.xp()
        W, U = self.params["W"], self.params["U"]
        t_steps, n, H = hs.shape
        dhs = self._upstream(dy, (n, t_steps, H)).transpose(1, 0, 2)  # (T, N, H)
        _, offset = self._gate_constants(W.dtype)
        # Everything that does not depend on the recursion is computed for all steps here,
        # in place where possible (large temporaries cost page faults, not only flops).
        g4 = gates.reshape(t_steps, n, 4, H)  # gate blocks on their own axis: i, f, g, o
        off4 = offset.reshape(4, H)
        # d gate / dz from the gate value p: p (1 - p) for sigma, 1 - p^2 for tanh, i.e.
        # p (b - p) + c per block with b = (1, 1, 0, 1), c = (0, 0, 1, 0) over i, f, g, o.
        k4 = xp.subtract(2 * off4, g4)
        k4 *= g4
        k4 += 1 - 2 * off4
        # dL/dz = (dc, dc, dc, dh) * (g, c_{t-1}, i, tanh c_t) * dgate/dz; fold the second
        # factor into k4 too, leaving the loop to multiply by dc and dh only.
        k4[:, :, 0] *= g4[:, :, 2]
        k4[1:, :, 1] *= cs[:-1]
        k4[0, :, 1] *= c0
        k4[:, :, 2] *= g4[:, :, 0]
        k4[:, :, 3] *= tanh_cs
        dc_from_h = tanh_cs * tanh_cs  # dc_t/dh_t through h_t = o tanh(c_t): o (1 - tanh^2)
        xp.subtract(1, dc_from_h, out=dc_from_h)
        dc_from_h *= g4[:, :, 3]
        f_eff = g4[:, :, 1]
        if mask is not None:
            m_tm = _time_major(mask)[:, :, None]  # (T, N, 1)
            k4 *= m_tm[:, :, :, None]  # masked steps pass no gradient to z_t ...
            dc_from_h *= m_tm
            keep = ~m_tm  # ... and carry dL/dh_t, dL/dc_t to step t-1 unchanged
            f_eff = xp.where(keep, 1, f_eff)
        dz4 = xp.empty((t_steps, n, 4, H), dtype=gates.dtype)
        dh_next = xp.zeros((n, H), dtype=hs.dtype)
        dc_next = xp.zeros((n, H), dtype=hs.dtype)
        UT = U.T
        for t in range(t_steps - 1, -1, -1):
            dh = dhs[t] + dh_next
            dc = dh * dc_from_h[t]
            dc += dc_next
            xp.multiply(k4[t, :, :3], dc[:, None, :], out=dz4[t, :, :3])
            xp.multiply(k4[t, :, 3], dh, out=dz4[t, :, 3])
            dh_next = dz4[t].reshape(n, 4 * H) @ UT
            if mask is not None:
                dh_next += dh * keep[t]
            dc_next = dc * f_eff[t]
        d2 = dz4.reshape(t_steps * n, 4 * H)
        self.grads["W"] = _time_major(x).reshape(t_steps * n, -1).T @ d2
        # dU = sum_t h_{t-1}^T dz_t, with h_{-1} = h0 taken apart (no concatenated copy)
        gU = hs[:-1].reshape((t_steps - 1) * n, H).T @ d2[n:]
        gU += h0.T @ d2[:n]
        self.grads["U"] = gU
        self.grads["b"] = d2.sum(axis=0)
        if state_kind == "pair":
            self.d_initial_state = [dh_next, dc_next]
        elif state_kind == "h":
            self.d_initial_state = dh_next
        else:
            self.d_initial_state = None
        return xp.ascontiguousarray((d2 @ W.T).reshape(t_steps, n, -1).transpose(1, 0, 2))

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
