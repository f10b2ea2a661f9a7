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

Readable first, fast second: ``LSTM.forward``/``backward`` read like the gate
formulas; with ``LSTM.use_fast_path`` (the default) they run one of two fast paths that
do the same arithmetic, and tests check that all three agree:

* on the CPU, :func:`lstm_forward_fused` / :func:`lstm_backward_fused`: a feature-major
  layout (every per-step array ``(rows, N)``, so each gate block is contiguous), one tanh
  for all four gates, every step written in place into arrays allocated once per call;
* on CuPy, :func:`lstm_forward_kernels` / :func:`lstm_backward_kernels`: each step's
  element-wise gate arithmetic is one plain function of arrays
  (:func:`lstm_step_forward`, :func:`lstm_step_backward`) that
  :func:`mmscratch.backend.fused` compiles into one GPU kernel (``cupy.fuse``); on NumPy
  the same functions run as written, which is how their arithmetic is tested here.

The fast paths live in :mod:`mmscratch.nn.lstm_steps`. Explained in chapters/03-2-models.md
(section 3.2.2 of the source document).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import check_count
from ..extmath import column_sums
from . import initializers
from .activations import ELEMENTWISE, sigmoid
from .layer import Layer
from .lstm_steps import (
    _swap_go,
    lstm_backward_fused,
    lstm_backward_kernels,
    lstm_forward_fused,
    lstm_forward_kernels,
    lstm_step_backward,
    lstm_step_forward,
    lstm_weight_grads_fused,
    use_step_kernels,
)

__all__ = ["SimpleRNN", "LSTM", "stable_sigmoid", "lstm_forward_fused", "lstm_backward_fused",
           "lstm_weight_grads_fused", "lstm_step_forward", "lstm_step_backward",
           "lstm_forward_kernels", "lstm_backward_kernels"]

#: The library's one sigmoid (tanh form, no overflow), under the name the recurrent
#: layers have always exported.
stable_sigmoid = sigmoid


def _time_major(a):
    """(N, T, ...) -> a contiguous (T, N, ...) copy, so that step t is one memory block."""
    return backend.xp().ascontiguousarray(a.swapaxes(0, 1))


def _check_units(where, units):
    return check_count(units, "units", where=where)


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

    def _begin(self, x, mask):
        """Preamble shared by every forward: check x and mask, build, x time-major (T, N, D)."""
        self._check_sequence(x, mask)
        self._ensure_built(x.shape)
        return _time_major(x)

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
        if act not in ELEMENTWISE:
            raise ValueError(f"SimpleRNN: activation must be one of {sorted(ELEMENTWISE)} "
                             f"or None, got {activation!r}")
        self.activation = activation
        self._f, self._df = ELEMENTWISE[act]

    def build(self, input_shape):
        rng = initializers.make_rng(self.seed)
        d, h = input_shape[-1], self.units
        dtype = backend.floatx()
        self.add_param("W", initializers.glorot_uniform((d, h), rng, dtype))
        self.add_param("U", initializers.orthogonal((h, h), rng, dtype))
        self.add_param("b", np.zeros(h, dtype=dtype))
        self.built = True

    def forward(self, x, training=False, mask=None, initial_state=None):
        xt = self._begin(x, mask)  # (T, N, D)
        xp = backend.xp()
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        t_steps, n, _ = xt.shape
        h = (xp.zeros((n, self.units), dtype=x.dtype) if initial_state is None
             else self._check_state(initial_state, n, "initial_state"))
        h0 = h
        xw = xt @ W + b  # x_t W + b of every step in one product, (T, N, H)
        hs = xp.empty((t_steps, n, self.units), dtype=xw.dtype)
        for t in range(t_steps):
            h_new = self._f(xw[t] + h @ U)
            if mask is not None:
                h_new = xp.where(mask[:, t, None], h_new, h)  # padded step: carry h
            hs[t] = h_new
            h = h_new
        self._cache = (xt, hs, h0, mask, initial_state is not None)
        return self._output(hs.transpose(1, 0, 2))

    def backward(self, dy):
        xt, hs, h0, mask, has_state = self._saved()
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
        UT = xp.ascontiguousarray(U.T)
        for t in range(t_steps - 1, -1, -1):
            dh = dhs[t] + dh_next
            da = dh * fprime[t]
            delta[t] = da
            dh_next = da @ UT
            if mask is not None:
                dh_next = dh_next + dh * keep[t]
        self.grads["W"], self.grads["U"], self.grads["b"] = _weight_grads(xt, hs, h0, delta)
        self.d_initial_state = dh_next if has_state else None
        return _input_grad(self, delta, W)

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
    Backward uses the derivatives written through the gate values,
    sigma' = sigma (1 - sigma) and tanh' = 1 - tanh^2. ``use_fast_path`` (class
    attribute, default True) runs :func:`lstm_forward_fused` / :func:`lstm_backward_fused`
    (feature-major layout, one tanh for all four gates, in-place steps) instead of the
    readable step loops, or, on the cupy backend (``step_kernels``),
    :func:`lstm_forward_kernels` / :func:`lstm_backward_kernels` (one fused GPU kernel
    per step); the input gradient is skipped (backward returns None) while
    ``needs_input_grad`` is False.

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

    #: Use the fused helpers (same arithmetic as the readable loops, fewer passes).
    use_fast_path = True
    #: With the fast path: one fused kernel per step (see :func:`use_step_kernels`);
    #: None = on the cupy backend only.
    step_kernels = None

    def forward(self, x, training=False, mask=None, initial_state=None):
        xt = self._begin(x, mask)  # (T, N, D)
        W, U, b = self.params["W"], self.params["U"], self.params["b"]
        h0, c0, state_kind = self._initial(initial_state, xt.shape[1], x.dtype)
        if self.use_fast_path and use_step_kernels(self):
            steps, hs = lstm_forward_kernels(xt, W, U, b, h0, c0, mask)
            self._cache = ("kernels", xt, steps, hs, h0, c0, mask, state_kind)
            return self._output(hs.transpose(1, 0, 2))
        if self.use_fast_path:
            fast = lstm_forward_fused(xt, W, U, b, h0, c0, mask)
            self._cache = ("fast", xt.shape, fast, mask, state_kind)
            hT = fast[3][:self.units, 1:]  # (H, T, N): h_t^T, feature-major
            xp = backend.xp()
            if self.return_sequences:
                return xp.ascontiguousarray(hT.transpose(2, 1, 0))
            return xp.ascontiguousarray(hT[:, -1].T)
        gates, cs, tanh_cs, hs = self._forward_steps(xt, W, U, b, h0, c0, mask)
        self._cache = ("steps", xt, gates, cs, tanh_cs, hs, h0, c0, mask, state_kind)
        return self._output(hs.transpose(1, 0, 2))

    def _forward_steps(self, xt, W, U, b, h0, c0, mask):
        """The readable forward: the gate formulas, one step after another."""
        xp = backend.xp()
        t_steps, n, _ = xt.shape
        H = self.units
        xw = xt @ W + b  # x_t W + b of every step in one product, (T, N, 4H)
        gates = xp.empty((t_steps, n, 4 * H), dtype=xw.dtype)  # i, f, g, o per step
        cs, tanh_cs, hs = (xp.empty((t_steps, n, H), dtype=xw.dtype) for _ in range(3))
        h, c = h0, c0
        for t in range(t_steps):
            z = xw[t] + h @ U  # (N, 4H)
            i = sigmoid(z[:, :H])
            f = sigmoid(z[:, H:2 * H])
            g = xp.tanh(z[:, 2 * H:3 * H])
            o = sigmoid(z[:, 3 * H:])
            c_new = f * c + i * g
            tanh_cs[t] = xp.tanh(c_new)
            h_new = o * tanh_cs[t]
            if mask is not None:  # padded step: carry (h, c)
                m = mask[:, t, None]
                c_new, h_new = xp.where(m, c_new, c), xp.where(m, h_new, h)
            gates[t] = xp.concatenate([i, f, g, o], axis=1)
            cs[t], hs[t] = c_new, h_new
            h, c = h_new, c_new
        return gates, cs, tanh_cs, hs

    def backward(self, dy):
        cache = self._saved()
        W, U = self.params["W"], self.params["U"]
        if cache[0] == "fast":
            _, (t_steps, n, _), fast, mask, state_kind = cache
            dz, dh0, dc0 = lstm_backward_fused(self._upstream_feature_major(dy, t_steps, n),
                                               fast, U, mask)
            dW, dU, db, dz2 = lstm_weight_grads_fused(fast[3], dz)
            dx = None
            if self.needs_input_grad:  # dx_t = dz_t W^T, gate order i, f, o, g in dz2
                xp = backend.xp()
                w_int_t = xp.ascontiguousarray(_swap_go(W, self.units).T)  # (4H, D)
                dx = xp.ascontiguousarray((dz2.T @ w_int_t).reshape(t_steps, n, -1)
                                          .transpose(1, 0, 2))
        elif cache[0] == "kernels":
            _, xt, steps, hs, h0, c0, mask, state_kind = cache
            t_steps, n, H = hs.shape
            dhs = self._upstream(dy, (n, t_steps, H)).transpose(1, 0, 2)  # (T, N, H)
            dz, dh0, dc0 = lstm_backward_kernels(dhs, steps, c0, U, mask)
            dW, dU, db = _weight_grads(xt, hs, h0, dz)
            dx = _input_grad(self, dz, W)
        else:
            _, xt, gates, cs, tanh_cs, hs, h0, c0, mask, state_kind = cache
            t_steps, n, H = hs.shape
            dhs = self._upstream(dy, (n, t_steps, H)).transpose(1, 0, 2)  # (T, N, H)
            dz, dh0, dc0 = self._backward_steps(dhs, gates, cs, tanh_cs, c0, U, mask)
            dW, dU, db = _weight_grads(xt, hs, h0, dz)
            dx = _input_grad(self, dz, W)
        self.grads["W"], self.grads["U"], self.grads["b"] = dW, dU, db
        if state_kind == "pair":
            self.d_initial_state = [dh0, dc0]
        elif state_kind == "h":
            self.d_initial_state = dh0
        else:
            self.d_initial_state = None
        return dx

    def _upstream_feature_major(self, dy, t_steps, n):
        """dL/dh_t for every step as ``(T, H, N)`` (the fast path's layout)."""
        xp = backend.xp()
        H = self.units
        if self.return_sequences:
            self._check_grad(dy, (n, t_steps, H))
            return xp.ascontiguousarray(dy.transpose(1, 2, 0))
        self._check_grad(dy, (n, H))
        dh = xp.zeros((t_steps, H, n), dtype=dy.dtype)
        dh[-1] = dy.T
        return dh

    def _backward_steps(self, dhs, gates, cs, tanh_cs, c0, U, mask):
        """The readable BPTT: dL/dz_t step by step, from the last step back.

        With c_t = f c_{t-1} + i g and h_t = o tanh(c_t):
        dc_t = dL/dc_t (from step t+1) + dh_t o (1 - tanh^2 c_t), and
        dz = (dc_t g i (1 - i), dc_t c_{t-1} f (1 - f), dc_t i (1 - g^2), dh_t tanh(c_t) o (1 - o)).
        """
        xp = backend.xp()
        t_steps, n, H = cs.shape
        dz = xp.empty_like(gates)  # (T, N, 4H)
        dh_next = xp.zeros((n, H), dtype=gates.dtype)
        dc_next = xp.zeros((n, H), dtype=gates.dtype)
        for t in range(t_steps - 1, -1, -1):
            i, f, g, o = (gates[t, :, k * H:(k + 1) * H] for k in range(4))
            c_prev = cs[t - 1] if t > 0 else c0
            tc = tanh_cs[t]
            dh = dhs[t] + dh_next
            dc = dc_next + dh * o * (1 - tc * tc)
            dz_t = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                                   dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
            if mask is None:
                dc_next = dc * f
                dh_next = dz_t @ U.T
            else:  # a padded step gets no gradient and carries dh, dc back unchanged
                m = mask[:, t, None]
                dc = xp.where(m, dc, dc_next)
                dz_t = dz_t * m
                dc_next = xp.where(m, dc * f, dc)
                dh_next = dz_t @ U.T + xp.where(m, 0, dh)
            dz[t] = dz_t
        return dz, dh_next, dc_next

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


# ------------------------------------------------------------------ shared tails
def _weight_grads(xt, hs, h0, dz):
    """dW = sum_t x_t^T dz_t, dU = sum_t h_{t-1}^T dz_t, db = sum_t dz_t, as one product each.

    xt ``(T, N, D)``, hs ``(T, N, H)`` (h_t), h0 ``(N, H)``, dz ``(T, N, G)`` -> dW
    ``(D, G)``, dU ``(H, G)``, db ``(G,)``; h_{-1} = h0 is taken apart (no concatenated copy).
    """
    t_steps, n, g = dz.shape
    h = hs.shape[2]
    d2 = dz.reshape(t_steps * n, g)
    dW = xt.reshape(t_steps * n, -1).T @ d2
    dU = hs[:-1].reshape((t_steps - 1) * n, h).T @ d2[n:]
    dU += h0.T @ d2[:n]
    return dW, dU, column_sums(d2)


def _input_grad(layer, dz, W):
    """dx_t = dz_t W^T as (N, T, D), or None when the layer's input gradient is not needed."""
    if not layer.needs_input_grad:
        return None
    xp = backend.xp()
    t_steps, n, g = dz.shape
    WT = xp.ascontiguousarray(W.T)  # a contiguous right operand: a faster GEMM
    return xp.ascontiguousarray((dz.reshape(t_steps * n, g) @ WT)
                                .reshape(t_steps, n, -1).transpose(1, 0, 2))
