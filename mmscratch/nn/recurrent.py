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

Explained in chapters/03-2-models.md (section 3.2.2 of the source document).
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import check_count
from . import initializers
from .activations import ELEMENTWISE, sigmoid
from .layer import Layer

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


def use_step_kernels(layer):
    """Whether ``layer`` runs its steps through the one-kernel-per-step functions.

    ``layer.step_kernels`` None (the default) means: on the cupy backend only, where a
    kernel launch per element-wise operation is the cost that fusing removes; on the
    CPU the in-place fast path is faster. True or False forces the choice (tests run
    the kernel path on NumPy to check its arithmetic).
    """
    choice = getattr(layer, "step_kernels", None)
    return backend.name() == "cupy" if choice is None else bool(choice)


def _step_masks(mask, t_steps, dtype):
    """Per-step 0/1 factors for the step functions: ``(N, 1)`` arrays, or a 0-d one.

    Arrays of the data's dtype, never a Python float: ``cupy.fuse`` has typed a Python
    scalar *argument* as float64 and so turned a float32 step into float64
    (cupy/cupy#9400, CuPy 13.6); a 0-d array keeps the dtype.
    """
    xp = backend.xp()
    if mask is None:
        return [xp.ones((), dtype=dtype)] * t_steps
    return mask.T[:, :, None].astype(dtype)  # (T, N, 1)


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
    return dW, dU, d2.sum(axis=0)


def _input_grad(layer, dz, W):
    """dx_t = dz_t W^T as (N, T, D), or None when the layer's input gradient is not needed."""
    if not layer.needs_input_grad:
        return None
    xp = backend.xp()
    t_steps, n, g = dz.shape
    WT = xp.ascontiguousarray(W.T)  # a contiguous right operand: a faster GEMM
    return xp.ascontiguousarray((dz.reshape(t_steps * n, g) @ WT)
                                .reshape(t_steps, n, -1).transpose(1, 0, 2))


# ------------------------------------------------- LSTM, one kernel per step (GPU)
def lstm_step_forward(xi, xf, xg, xo, ui, uf, ug, uo, c_prev, h_prev, m):
    """The element-wise arithmetic of one LSTM step, a plain function of arrays.

    With z = (x_t W + b) + h_{t-1} U given as its two halves per gate (so the addition
    happens inside the kernel):

    * i = sigma(xi + ui), f = sigma(xf + uf), g = tanh(xg + ug), o = sigma(xo + uo)
    * c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
    * on a padded step (m = 0) c_t, h_t carry c_{t-1}, h_{t-1}:
      ``m new + (1 - m) old``, exact for m in {0, 1} and finite values.

    Only element-wise operations, so :func:`mmscratch.backend.fused` turns it into one
    CUDA kernel on CuPy; on NumPy it runs as written (tests check it against
    ``LSTM._forward_steps``). Shapes: every argument ``(N, H)`` or broadcastable to it
    (m: ``(N, 1)`` 0/1 floats, or a 0-d 1) -> ``(i, f, g, o, c_t, tanh(c_t), h_t)``,
    each ``(N, H)``; tanh(c_t) is that of the new, unmasked cell, as the readable loop
    caches it. Chapter: chapters/03-2-models.md.
    """
    xp = backend.xp()
    i = sigmoid(xi + ui)
    f = sigmoid(xf + uf)
    g = xp.tanh(xg + ug)
    o = sigmoid(xo + uo)
    c_new = f * c_prev + i * g
    tanh_c = xp.tanh(c_new)
    h_new = o * tanh_c
    return i, f, g, o, m * c_new + (1 - m) * c_prev, tanh_c, m * h_new + (1 - m) * h_prev


def lstm_step_backward(dh_up, dh_rec, dh_carry, dc_next, i, f, g, o, tanh_c, c_prev, m):
    """The element-wise arithmetic of one LSTM backward step, a plain function of arrays.

    * dh = dh_up + dh_rec + dh_carry (from above, through U from step t+1, and carried
      past a padded step t+1)
    * dc = dc_next + dh o (1 - tanh^2 c_t)
    * dz = m (dc g i (1 - i), dc c_{t-1} f (1 - f), dc i (1 - g^2), dh tanh(c_t) o (1 - o))
    * dc_{t-1} = m dc f + (1 - m) dc_next, and the carry (1 - m) dh: a padded step hands
      dL/dh, dL/dc to step t-1 unchanged.

    Shapes: every argument ``(N, H)`` or broadcastable (m as in
    :func:`lstm_step_forward`) -> ``(dz_i, dz_f, dz_g, dz_o, dc_{t-1}, carry)``, each
    ``(N, H)``. Run through :func:`mmscratch.backend.fused` by
    :func:`lstm_backward_kernels`.
    """
    dh = dh_up + dh_rec + dh_carry
    dc = dc_next + dh * o * (1 - tanh_c * tanh_c)
    dz_i = m * (dc * g * i * (1 - i))
    dz_f = m * (dc * c_prev * f * (1 - f))
    dz_g = m * (dc * i * (1 - g * g))
    dz_o = m * (dh * tanh_c * o * (1 - o))
    return dz_i, dz_f, dz_g, dz_o, m * (dc * f) + (1 - m) * dc_next, (1 - m) * dh


def lstm_forward_kernels(xt, W, U, b, h0, c0, mask=None):
    """The LSTM forward with one product and one fused element-wise kernel per step.

    ``x_t W + b`` of all steps is one product before the loop; each step is the product
    ``h_{t-1} U`` and :func:`lstm_step_forward` through :func:`mmscratch.backend.fused`
    (one kernel on CuPy). Shapes: as :func:`lstm_forward_fused` -> (the per-step output
    tuples of :func:`lstm_step_forward`, hs ``(T, N, H)``).
    """
    xp = backend.xp()
    t_steps = xt.shape[0]
    H = U.shape[0]
    step = backend.fused(lstm_step_forward)
    xw = xt @ W + b  # (T, N, 4H)
    ms = _step_masks(mask, t_steps, xw.dtype)
    h, c = h0, c0
    steps = []
    for t in range(t_steps):
        hu = h @ U  # (N, 4H)
        xwt = xw[t]
        out = step(*(xwt[:, k * H:(k + 1) * H] for k in range(4)),
                   *(hu[:, k * H:(k + 1) * H] for k in range(4)), c, h, ms[t])
        c, h = out[4], out[6]
        steps.append(out)
    return steps, xp.stack([out[6] for out in steps])


def lstm_backward_kernels(dhs, steps, c0, U, mask=None):
    """dL/dz_t of every step from :func:`lstm_forward_kernels`' outputs: per step one fused
    kernel (:func:`lstm_step_backward`), one concatenation and one product ``dz_t U^T``.

    Shapes: dhs ``(T, N, H)``, c0 ``(N, H)``, U ``(H, 4H)`` -> dz ``(T, N, 4H)`` (public
    gate order i, f, g, o), dh0, dc0 ``(N, H)``.
    """
    xp = backend.xp()
    t_steps = len(steps)
    dtype = steps[0][0].dtype
    step = backend.fused(lstm_step_backward)
    UT = xp.ascontiguousarray(U.T)
    ms = _step_masks(mask, t_steps, dtype)
    dh_rec = xp.zeros(c0.shape, dtype=dtype)
    carry = xp.zeros(c0.shape, dtype=dtype)
    dc = xp.zeros(c0.shape, dtype=dtype)
    dzs = [None] * t_steps
    for t in range(t_steps - 1, -1, -1):
        i, f, g, o, _, tanh_c, _ = steps[t]
        c_prev = steps[t - 1][4] if t > 0 else c0
        dz_i, dz_f, dz_g, dz_o, dc, carry = step(dhs[t], dh_rec, carry, dc, i, f, g, o,
                                                 tanh_c, c_prev, ms[t])
        dzs[t] = xp.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)  # (N, 4H)
        dh_rec = dzs[t] @ UT
    return xp.stack(dzs), dh_rec + carry, dc


# ---------------------------------------------------------------- LSTM, fast path
#: Block order of the fast path: i, f, o, g (the public order is i, f, g, o), so the
#: three sigmoid gates are one contiguous block. Swapping blocks 2 and 3 is its own
#: inverse: :func:`_swap_go` maps public -> internal and back.
def _swap_go(a, H):
    """Columns (..., 4H) in gate order i, f, g, o -> i, f, o, g (and back): a new array."""
    return backend.xp().concatenate([a[..., :2 * H], a[..., 3 * H:], a[..., 2 * H:3 * H]],
                                    axis=-1)


def lstm_forward_fused(xt, W, U, b, h0, c0, mask=None):
    """The LSTM forward of ``LSTM._forward_steps``, every step on contiguous blocks.

    Three rearrangements, the same arithmetic:

    * **feature-major layout**: every per-step array is ``(rows, N)`` (samples along the
      last axis), so ``z_t^T = [U; W; b]^T [h_{t-1}; x_t; 1]`` is one ``(4H, K) @ (K, N)``
      product whose gate blocks are *contiguous* ``(H, N)`` slabs; with rows ``(N, 4H)``
      a gate block is a strided column slice and every element-wise pass over it is
      ~2.5x slower in NumPy;
    * gate blocks in the order i, f, o, g and a sigmoid written 0.5 tanh(z / 2) + 0.5
      with the 1/2 folded into the weights once: one tanh over ``(4H, N)`` and two
      scalar passes over the ``(3H, N)`` sigmoid block give all four gates;
    * the rows ``[h_{t-1}; x_t; 1]`` live in one buffer ``hx (K, T + 1, N)``,
      ``K = H + D + 1``; h_t is written straight into the next step's rows (``out=``),
      and the same buffer gives ``[dU; dW; db]`` in one product after the backward loop.

    Every step writes into arrays allocated once per call (``out=``): a fresh NumPy
    temporary per operation costs more than the arithmetic on a step's few thousand
    numbers (measured: a product into a new (64, 128) array ~13 us, into an existing one
    ~1.5 us).

    Shapes: xt ``(T, N, D)``, W ``(D, 4H)``, U ``(H, 4H)``, b ``(4H,)``, h0, c0 ``(N, H)``,
    mask ``(N, T)`` or None -> the cache ``(gates (T, 4H, N)`` (i, f, o, g after
    activation), ``cs (T + 1, H, N)`` (c_{t-1} at index t, c0 first), ``tanh_cs (T, H, N)``,
    ``hx (K, T + 1, N))``; h_t^T is ``hx[:H, t + 1]``.
    """
    xp = backend.xp()
    t_steps, n, d = xt.shape
    H = U.shape[0]
    k = H + d + 1
    rows = _swap_go(xp.concatenate([U, W, b[None]], axis=0), H)  # (K, 4H), i, f, o, g
    rows[:, :3 * H] *= 0.5  # sigma(z) = 0.5 tanh(z / 2) + 0.5
    stacked_t = xp.ascontiguousarray(rows.T)  # (4H, K)
    dtype = xp.result_type(xt, stacked_t)
    hx = xp.empty((k, t_steps + 1, n), dtype=dtype)  # rows [h_{t-1}; x_t; 1] of step t
    hx[:H, 0] = h0.T
    hx[H:H + d, :t_steps] = xt.transpose(2, 0, 1)
    hx[H:H + d, t_steps] = 0  # column T only holds h_T
    hx[k - 1] = 1
    gates = xp.empty((t_steps, 4 * H, n), dtype=dtype)
    cs = xp.empty((t_steps + 1, H, n), dtype=dtype)
    cs[0] = c0.T
    tanh_cs = xp.empty((t_steps, H, n), dtype=dtype)
    ig = xp.empty((H, n), dtype=dtype)
    keep = None if mask is None else ~mask.T[:, None, :]  # (T, 1, N): padded step
    for t in range(t_steps):
        g_all = gates[t]  # (4H, N)
        xp.matmul(stacked_t, hx[:, t], out=g_all)  # z_t^T, sigmoid rows halved
        xp.tanh(g_all, out=g_all)
        sig = g_all[:3 * H]
        sig *= 0.5
        sig += 0.5  # i, f, o
        i, f, o, g = g_all[:H], g_all[H:2 * H], g_all[2 * H:3 * H], g_all[3 * H:]
        c_prev, c_new, tc, h_new = cs[t], cs[t + 1], tanh_cs[t], hx[:H, t + 1]
        xp.multiply(f, c_prev, out=c_new)
        xp.multiply(i, g, out=ig)
        c_new += ig  # c_t = f c_{t-1} + i g
        xp.tanh(c_new, out=tc)
        xp.multiply(o, tc, out=h_new)  # h_t = o tanh(c_t)
        if keep is not None:  # padded step: carry (h, c)
            xp.copyto(c_new, c_prev, where=keep[t])
            xp.copyto(h_new, hx[:H, t], where=keep[t])
    return gates, cs, tanh_cs, hx


def lstm_backward_fused(dh_up, cache, U, mask=None):
    """dL/dz_t of every step from the cache of :func:`lstm_forward_fused`, as
    ``LSTM._backward_steps`` computes it, in the same feature-major layout.

    Each step works on the contiguous ``(H, N)`` slabs of its own gates, which stay in
    the CPU cache while ~18 in-place element-wise calls run on them, then does one
    ``(H, 4H) @ (4H, N)`` product:

    * dh = dh_up_t + dh_next, dc = dc_next + dh o (1 - tanh^2 c_t)
    * dz = (dc g i (1-i), dc c_{t-1} f (1-f), dh tanh(c_t) o (1-o), dc i (1-g^2))
      (gate order i, f, o, g)
    * dh_next = U dz (U in that gate order), dc_next = dc f.

    (Computing the step-independent factors for all steps before the loop, in passes
    over ``(T, 4H, N)`` arrays, was measured ~0.2 ms slower at N=64, T=50, H=128, and
    needs two more buffers of that size.) A padded step (mask) gets dz = 0 and hands
    dL/dh, dL/dc to step t-1 unchanged.

    Shapes: dh_up ``(T, H, N)`` (dL/dh_t from above, feature-major), U ``(H, 4H)``
    (public gate order), mask ``(N, T)`` or None -> dz ``(T, 4H, N)`` (gate order
    i, f, o, g), dh0, dc0 ``(N, H)``.
    """
    xp = backend.xp()
    gates, cs, tanh_cs, _ = cache
    t_steps, g4, n = gates.shape
    H = g4 // 4
    dtype = gates.dtype
    f_eff = gates[:, H:2 * H]
    real = keep = None
    if mask is not None:
        real = mask.T[:, None, :].astype(dtype)  # (T, 1, N): 1 on a real step
        keep = 1 - real  # 1 on a padded step: carry dh, dc through it
        f_eff = xp.where(keep > 0, 1, f_eff)  # dc_{t-1} = dc on a padded step
    dz = xp.empty(gates.shape, dtype=dtype)
    u_int = xp.ascontiguousarray(_swap_go(U, H))  # (H, 4H), gate order i, f, o, g
    dh, tmp = xp.empty((H, n), dtype=dtype), xp.empty((H, n), dtype=dtype)
    dc = xp.zeros((H, n), dtype=dtype)  # dL/dc_t (from step t+1 until updated)
    dh_next = xp.zeros((H, n), dtype=dtype)
    for t in range(t_steps - 1, -1, -1):
        g_all, dz_t, tc = gates[t], dz[t], tanh_cs[t]  # (4H, N), (4H, N), (H, N)
        i, o, g = g_all[:H], g_all[2 * H:3 * H], g_all[3 * H:]
        dz4 = dz_t.reshape(4, H, n)
        xp.add(dh_up[t], dh_next, out=dh)
        xp.multiply(tc, tc, out=tmp)
        xp.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        if real is not None:
            tmp *= real[t]  # a padded step leaves dc as it came
        dc += tmp  # dc_t = dc_next + dh o (1 - tanh^2 c_t)
        xp.subtract(1, g_all[:3 * H], out=dz_t[:3 * H])
        dz_t[:3 * H] *= g_all[:3 * H]  # sigma' = sigma (1 - sigma)
        dz4[0] *= g  # partners: g for i, c_{t-1} for f, tanh(c_t) for o
        dz4[1] *= cs[t]
        dz4[2] *= tc
        dz4[:2] *= dc
        dz4[2] *= dh
        xp.multiply(g, g, out=dz4[3])
        xp.subtract(1, dz4[3], out=dz4[3])
        dz4[3] *= i
        dz4[3] *= dc  # tanh' = 1 - g^2, partner i
        if real is not None:
            dz_t *= real[t]  # a padded step passes no gradient to z_t
        xp.matmul(u_int, dz_t, out=dh_next)
        if keep is not None:
            xp.multiply(dh, keep[t], out=tmp)
            dh_next += tmp  # ... and hands dL/dh_t to h_{t-1}
        dc *= f_eff[t]
    return dz, xp.ascontiguousarray(dh_next.T), xp.ascontiguousarray(dc.T)


def lstm_weight_grads_fused(hx, dz):
    """(dW, dU, db) in the public gate order from :func:`lstm_forward_fused`'s rows and
    :func:`lstm_backward_fused`'s dz, and dz as ``(4H, T N)`` for the input gradient.

    ``[dU; dW; db] = sum_t [h_{t-1}; x_t; 1] dz_t^T``: one ``(4H, T N) @ (T N, K)``
    product over all steps after one transposing copy of dz to ``(4H, T, N)``.
    Shapes: hx ``(K, T + 1, N)``, dz ``(T, 4H, N)`` -> ``(D, 4H)``, ``(H, 4H)``, ``(4H,)``,
    ``(4H, T N)``.
    """
    t_steps, g4, n = dz.shape
    H = g4 // 4
    k = hx.shape[0]
    dz2 = backend.xp().ascontiguousarray(dz.transpose(1, 0, 2)).reshape(g4, t_steps * n)
    full = _swap_go(hx[:, :t_steps].reshape(k, t_steps * n) @ dz2.T, H)  # (K, 4H)
    return full[H:k - 1], full[:H], full[k - 1], dz2
