"""The LSTM's two fast paths, beside the readable loops of :mod:`mmscratch.nn.recurrent`.

* CPU: :func:`lstm_forward_fused`, :func:`lstm_backward_fused`,
  :func:`lstm_weight_grads_fused` — a feature-major layout (every per-step array
  ``(rows, N)``, so each gate block is a contiguous slab), one tanh for all four gates,
  every step written in place.
* GPU: :func:`lstm_forward_kernels`, :func:`lstm_backward_kernels` — each step's
  element-wise gate arithmetic is one plain function of arrays (:func:`lstm_step_forward`,
  :func:`lstm_step_backward`) that :func:`mmscratch.backend.fused` compiles into one
  kernel on CuPy and runs as written on NumPy.

``LSTM`` chooses between them (:func:`use_step_kernels`); ``tests/test_speed_paths.py``
and ``tests/test_recurrent_kernels.py`` check both against the readable loops.
Explained in chapters/03-2-models.md.
"""

from __future__ import annotations

from .. import backend
from .activations import sigmoid

__all__ = ["use_step_kernels", "lstm_forward_fused", "lstm_backward_fused",
           "lstm_weight_grads_fused", "lstm_step_forward", "lstm_step_backward",
           "lstm_forward_kernels", "lstm_backward_kernels"]


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
