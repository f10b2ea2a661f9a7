"""Pooling layers of the CNN, channels-last (chapters/03-2-models.md, CNN).

Pooling keeps the strongest (max) or the mean response of each p_h x p_w
neighbourhood. Like the convolution, every window is a strided view of the (padded)
input, so a pooling layer is p_h*p_w element-wise passes over views of shape
``(N, H_o, W_o, C)``, never a loop over pixels.

NaN propagates (the layer contract, mmscratch/nn/layer.py): a window holding NaN
pools to NaN, and in max pooling its gradient still goes to one pixel (the first NaN,
as ``numpy.argmax`` picks it), so the gradient of every window sums to its dy.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .conv import _geometry, _offset_slices, _pad, _pad_into, _padding_name, _pair
from .layer import Layer

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"]

#: Bytes of input (or input gradient) per block of images in the tiled max-pooling
#: helpers: a block and its mask stay in a core's L2 cache between two passes.
POOL_BLOCK_BYTES = 1 << 19


def _pool_block_images(n, image_bytes):
    """Images per block of about POOL_BLOCK_BYTES (>= 1); the whole batch on the GPU."""
    if backend.name() == "cupy":
        return n
    return max(1, min(n, POOL_BLOCK_BYTES // max(1, image_bytes)))


class _Pool2D(Layer):
    """Shared geometry of the 2-D pooling layers (windows of pool_size, given strides)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", name=None):
        super().__init__(name)
        where = type(self).__name__
        self.pool_size = _pair(pool_size, "pool_size", where)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", where)
        self.padding = _padding_name(padding, where)

    def get_config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}

    def output_shape(self, input_shape):
        _, out_hw = _geometry(tuple(input_shape), self.pool_size, self.strides, self.padding,
                              self.describe())
        return (input_shape[0], *out_hw, input_shape[3])

    def _offsets(self):
        ph, pw = self.pool_size
        return [(u, v) for u in range(ph) for v in range(pw)]  # row-major window order

    def _overlapping(self):
        return self.strides[0] < self.pool_size[0] or self.strides[1] < self.pool_size[1]


class MaxPooling2D(_Pool2D):
    """Max pooling: y[n, i, j, c] = max_{u<p_h, v<p_w} x_pad[n, i*s_h+u, j*s_w+v, c].

    Parameters
    ----------
    pool_size : int or (p_h, p_w)
    strides : int, (s_h, s_w) or None
        None means ``pool_size`` (non-overlapping windows, Keras' default).
    padding : {"valid", "same"}
        ``"same"`` pads with -inf (padding never wins the max), as TensorFlow.

    Notes
    -----
    Shapes: ``(N, H, W, C) -> (N, H_o, W_o, C)``.

    Backward: the whole dy of a window goes to *one* pixel, its arg-max: the first
    maximal pixel in row-major window order (u, then v), so the gradient is
    deterministic and sums to dy. NaN counts as the maximum (as in ``numpy.argmax``
    and PyTorch): a window holding NaN gives y = NaN and routes dy to its first NaN.

    ``use_fast_path`` (default True): ``forward(training=True)`` records where each
    window's arg-max is and backward places dy with it. Windows that tile the input
    (strides == pool_size, the usual 2x2 pooling) keep a boolean arg-max mask of the
    input's shape (:func:`maxpool_tiled_forward`; backward is one broadcast product,
    :func:`maxpool_tiled_backward`); other strides keep each window's arg-max offset
    (:func:`window_max_argmax`, one byte per output; :func:`maxpool_backward_from_argmax`).
    Otherwise backward walks the window comparing with y, the readable rule. Tests check
    that all three agree (tests/test_speed_paths.py).

    See chapters/03-2-models.md (CNN: pooling keeps the strongest local response).
    """

    #: Record the arg-max in forward and scatter dy with it (the readable path compares).
    use_fast_path = True

    def forward(self, x, training=False):
        self._check_input(x, ndim=4)
        xp = backend.xp()
        pads, out_hw = _geometry(x.shape, self.pool_size, self.strides, self.padding,
                                 self.describe())
        xpad = _pad_into(self, "xpad", x, pads, value=-np.inf)
        arg = mask = None
        if training and self.use_fast_path and self._tiled():
            y, mask = maxpool_tiled_forward(xpad, self.pool_size, out_hw)
        elif training and self.use_fast_path:
            y, arg = window_max_argmax(self._views(xpad, out_hw))
        else:
            views = self._views(xpad, out_hw)  # p_h*p_w strided views (N, H_o, W_o, C)
            # Running max over the window offsets; xp.maximum propagates NaN.
            y = views[0].copy()
            for v in views[1:]:
                xp.maximum(y, v, out=y)
        self._cache = (x.shape, pads, out_hw, xpad, y, arg, mask)
        return y

    def backward(self, dy):
        x_shape, pads, out_hw, xpad, y, arg, mask = self._saved()
        self._check_grad(dy, y.shape)
        xp = backend.xp()
        N, H, W, C = x_shape
        (pt, pb), (pl, pr) = pads
        if mask is not None:
            dxp = maxpool_tiled_backward(dy, mask, xpad.shape)
        elif arg is not None:
            dxp = maxpool_backward_from_argmax(dy, arg, xpad.shape, self.pool_size,
                                               self.strides, out_hw)
        else:
            dxp = xp.zeros(xpad.shape, dtype=dy.dtype)
            # Walk the window in row-major order; the first pixel that is the max (or NaN)
            # takes what is left of dy, later ties get nothing.
            left = dy
            for v, sl in zip(self._views(xpad, out_hw), self._slices(out_hw)):
                hit = (v == y) | (v != v)  # v != v: NaN, the max of a NaN window
                dxp[sl] += xp.where(hit, left, 0)
                left = xp.where(hit, 0, left)
        if pt or pb or pl or pr:
            dxp = dxp[:, pt:pt + H, pl:pl + W]
        return dxp

    def _tiled(self):
        """Windows that tile the input (strides == pool_size): the fast path's common case."""
        return tuple(self.strides) == tuple(self.pool_size)

    def _slices(self, out_hw):
        return [_offset_slices(off, self.strides, out_hw) for off in self._offsets()]

    def _views(self, xpad, out_hw):
        return [xpad[sl] for sl in self._slices(out_hw)]


def maxpool_tiled_forward(xpad, pool_size, out_hw):
    """y and the arg-max mask of max pooling whose windows tile the input (strides == pool).

    With strides equal to the pool size, window (i, j) is the block
    ``x_pad[:, i*p_h:(i+1)*p_h, j*p_w:(j+1)*p_w]``, so the input reshapes (a view) to
    ``(N, H_o, p_h, W_o, p_w, C)`` and y is a running maximum over the p_h*p_w offsets.
    The arg-max is then ``mask = (x == y)`` broadcast over each block, one comparison for
    the whole input. Where a window has several maxima (ties) or holds NaN, a fix-up runs
    that keeps the first hit in row-major window order (u, then v) and marks the first NaN
    (``numpy.argmax``'s rule, as :func:`window_max_argmax`); on the CPU it runs only when
    the mask's count shows a window without exactly one hit, or y holds NaN.

    Why a mask and not offsets: NumPy pays per call and per short inner loop, so the two
    whole-array passes here (max, compare; a block of images at a time so the block is
    still in cache for the compare) and a single broadcast product in backward beat one
    compare-and-update per offset (profile in benchmarks/RESULTS.md, "speed_notes").
    The mask costs one byte per input pixel.

    Shapes: xpad ``(N, H_p, W_p, C)`` -> y ``(N, H_o, W_o, C)``, mask
    ``(N, H_o, p_h, W_o, p_w, C)`` bool (pixels past ``H_o*p_h`` or ``W_o*p_w``, which no
    window covers, are left out). Reference: PyTorch ``max_pool2d`` with
    ``return_indices`` (first maximum wins); chapters/03-1-feature-extraction.md.
    """
    xp = backend.xp()
    N, C = xpad.shape[0], xpad.shape[3]
    (ph, pw), (Ho, Wo) = pool_size, out_hw
    x6 = xpad[:, :Ho * ph, :Wo * pw].reshape(N, Ho, ph, Wo, pw, C)  # a view: axes split
    offsets = [(u, v) for u in range(ph) for v in range(pw)]  # row-major window order
    y = xp.empty((N, Ho, Wo, C), dtype=xpad.dtype)
    mask = xp.empty(x6.shape, dtype=bool)
    step = _pool_block_images(N, x6[0].nbytes)
    for s in range(0, N, step):
        xb, yb = x6[s:s + step], y[s:s + step]
        if len(offsets) == 1:
            yb[...] = xb[:, :, 0, :, 0]
        else:
            (u0, v0), (u1, v1) = offsets[:2]
            xp.maximum(xb[:, :, u0, :, v0], xb[:, :, u1, :, v1], out=yb)
            for u, v in offsets[2:]:
                xp.maximum(yb, xb[:, :, u, :, v], out=yb)  # propagates NaN
        xp.equal(xb, yb[:, :, None, :, None], out=mask[s:s + step])
    if backend.name() == "cupy":  # no host sync: always run the fix-up
        fix, nan = True, True
    else:
        nan = bool(backend.to_numpy(xp.isnan(y).any()))
        fix = nan or int(backend.to_numpy(xp.count_nonzero(mask))) != y.size
    if fix:
        _first_hit_only(x6, mask, offsets, nan)
    return y, mask


def _first_hit_only(x6, mask, offsets, nan):
    """Keep, in each window of ``mask``, only its first hit in ``offsets`` order.

    With ``nan``, NaN pixels count as hits first: a window holding NaN pools to NaN, so
    none of its pixels equals y, and no pixel of a window without NaN is NaN.
    """
    xp = backend.xp()
    if nan:
        mask |= xp.isnan(x6)
    u, v = offsets[0]
    seen = mask[:, :, u, :, v].copy()  # windows with a hit at an earlier offset
    for u, v in offsets[1:]:
        m = mask[:, :, u, :, v]
        xp.greater(m, seen, out=m)  # m and not seen (booleans)
        seen |= m


def maxpool_tiled_backward(dy, mask, padded_shape):
    """dx_pad = dy broadcast over each window, times the arg-max mask (one product).

    The backward of :func:`maxpool_tiled_forward`: the windows tile the input, so
    ``dx6[n, i, u, j, v, c] = dy[n, i, j, c] * mask[n, i, u, j, v, c]``; pixels past the
    last whole window get 0. Shapes: dy ``(N, H_o, W_o, C)``, mask
    ``(N, H_o, p_h, W_o, p_w, C)`` -> dx_pad ``padded_shape`` ``(N, H_p, W_p, C)``.
    """
    xp = backend.xp()
    N, Ho, ph, Wo, pw, C = mask.shape
    dy6 = dy[:, :, None, :, None]
    if padded_shape[1] != Ho * ph or padded_shape[2] != Wo * pw:
        dxp = xp.zeros(padded_shape, dtype=dy.dtype)
        dxp[:, :Ho * ph, :Wo * pw] = (dy6 * mask).reshape(N, Ho * ph, Wo * pw, C)
        return dxp
    dxp = xp.empty(padded_shape, dtype=dy.dtype)
    dx6 = dxp.reshape(mask.shape)  # contiguous: a view
    # The mask cast to 0/1 in dx, then dx *= dy, a block of images at a time (the block
    # is still in cache for the product): NumPy's float-times-bool product casts through
    # a buffer and costs more than the two passes.
    step = _pool_block_images(N, dx6[0].nbytes)
    for s in range(0, N, step):
        block = dx6[s:s + step]
        block[...] = mask[s:s + step]
        block *= dy6[s:s + step]
    return dxp


def window_max_argmax(views):
    """Window maxima y and the offset k (uint8) of each window's first maximum.

    ``views[k]`` is the window offset k of every output (row-major window order). A
    running maximum over the offsets; where offset k is strictly greater than the
    maximum so far it becomes the arg-max (ties keep the earlier offset). The update
    ``arg += better * (k - arg)`` is arithmetic on bytes (wrapping is harmless), since a
    masked copy (``copyto(..., where=)``) is an order of magnitude slower on NumPy.

    NaN counts as the maximum, as in ``numpy.argmax``: ``xp.maximum`` carries it into
    y, and windows whose y is NaN get the offset of their first NaN
    (:func:`_first_nan_offsets`; on the CPU only when some window is NaN).

    Shapes: views ``k x (N, H_o, W_o, C)`` -> y and arg, each ``(N, H_o, W_o, C)``.
    """
    xp = backend.xp()
    y = views[0].copy()
    arg = xp.zeros(y.shape, dtype=xp.uint8)
    better = xp.empty(y.shape, dtype=bool)
    for k in range(1, len(views)):
        v = views[k]
        xp.greater(v, y, out=better)
        xp.maximum(y, v, out=y)
        step = xp.subtract(xp.uint8(k), arg)  # k - arg (mod 256)
        step *= better.view(xp.uint8)
        arg += step
    nan_windows = xp.isnan(y)
    # The CPU looks first (one reduction); the GPU always runs the fix-up (no host sync).
    if backend.name() == "cupy" or bool(backend.to_numpy(nan_windows.any())):
        _first_nan_offsets(views, nan_windows, arg)
    return y, arg


def _first_nan_offsets(views, nan_windows, arg):
    """Set ``arg`` of the windows flagged in ``nan_windows`` to the offset of their first NaN."""
    xp = backend.xp()
    left = nan_windows.copy()  # NaN windows whose first NaN is not found yet
    for k, v in enumerate(views):
        first = xp.isnan(v) & left
        left &= ~first
        arg[first] = k


def maxpool_backward_from_argmax(dy, arg, padded_shape, pool_size, strides, out_hw):
    """dx_pad: each window's dy placed on the pixel ``arg`` names (fast max-pool backward).

    Equal to the readable walk in ``MaxPooling2D.backward``; with non-overlapping
    windows every pixel belongs to at most one window, so each offset's share is
    written, not added, and only the pixels no window covers need zeros.

    Shapes: dy, arg ``(N, H_o, W_o, C)`` -> dx_pad ``padded_shape``.
    """
    xp = backend.xp()
    (ph, pw), (sh, sw), (Ho, Wo) = pool_size, strides, out_hw
    overlap = sh < ph or sw < pw
    covered = (not overlap and Ho * sh == padded_shape[1] and Wo * sw == padded_shape[2]
               and sh == ph and sw == pw)
    dxp = xp.empty(padded_shape, dtype=dy.dtype) if covered else \
        xp.zeros(padded_shape, dtype=dy.dtype)
    hit = xp.empty(arg.shape, dtype=bool)
    offsets = [(u, v) for u in range(ph) for v in range(pw)]
    for k, off in enumerate(offsets):
        sl = _offset_slices(off, strides, out_hw)
        xp.equal(arg, k, out=hit)
        if overlap:
            dxp[sl] += dy * hit
        else:
            xp.multiply(dy, hit, out=dxp[sl])
    return dxp


class AveragePooling2D(_Pool2D):
    """Average pooling: y[n, i, j, c] = mean of x over the window (padding excluded).

    With ``padding="same"`` the padded pixels are left out of the mean (TensorFlow's
    rule), so each window divides by the number of real pixels it covers.

    Shapes: ``(N, H, W, C) -> (N, H_o, W_o, C)``. Backward: dy / count spread evenly
    over the window's pixels.

    See chapters/03-2-models.md.
    """

    def _counts(self, x_shape, pads, out_hw, dtype):
        """Real (non-padded) pixels per window, ``(1, H_o, W_o, 1)``, built on the host."""
        _, H, W, _ = x_shape
        if not any(pads[0] + pads[1]):
            return None
        ones = np.zeros((H + sum(pads[0]), W + sum(pads[1])))
        ones[pads[0][0]:pads[0][0] + H, pads[1][0]:pads[1][0] + W] = 1
        count = np.zeros(out_hw)
        for off in self._offsets():
            count += ones[_offset_slices(off, self.strides, out_hw)[1:]]
        return backend.asarray(count.reshape(1, *out_hw, 1).astype(dtype))

    def forward(self, x, training=False):
        self._check_input(x, ndim=4)
        pads, out_hw = _geometry(x.shape, self.pool_size, self.strides, self.padding,
                                 self.describe())
        xpad = _pad(x, pads)
        offsets = self._offsets()
        y = xpad[_offset_slices(offsets[0], self.strides, out_hw)].copy()
        for off in offsets[1:]:
            y += xpad[_offset_slices(off, self.strides, out_hw)]
        count = self._counts(x.shape, pads, out_hw, x.dtype)
        y = y / (len(offsets) if count is None else count)
        self._cache = (x.shape, pads, out_hw, count)
        return y

    def backward(self, dy):
        x_shape, pads, out_hw, count = self._saved()
        self._check_grad(dy, (x_shape[0], *out_hw, x_shape[3]))
        xp = backend.xp()
        N, H, W, C = x_shape
        (pt, pb), (pl, pr) = pads
        share = dy / (len(self._offsets()) if count is None else count)
        dxp = xp.zeros((N, H + pt + pb, W + pl + pr, C), dtype=dy.dtype)
        for off in self._offsets():
            dxp[_offset_slices(off, self.strides, out_hw)] += share
        if pt or pb or pl or pr:
            dxp = dxp[:, pt:pt + H, pl:pl + W]
        return dxp


class GlobalAveragePooling2D(Layer):
    """y[n, c] = (1 / (H W)) sum_{i, j} x[n, i, j, c]; ``(N, H, W, C) -> (N, C)``.

    Backward: dx[n, i, j, c] = dy[n, c] / (H W). See chapters/03-2-models.md.
    """

    def forward(self, x, training=False):
        self._check_input(x, ndim=4)
        self._cache = x.shape
        return x.mean(axis=(1, 2))

    def backward(self, dy):
        N, H, W, C = self._saved()
        self._check_grad(dy, (N, C))
        xp = backend.xp()
        return xp.broadcast_to((dy / (H * W))[:, None, None, :], (N, H, W, C)).copy()

