"""Convolution and pooling on channels-last images (chapters/03-2-models.md, CNN).

The document's CNN (sections 3.1.1 and 3.2.1): a convolution layer slides a small
weight kernel over the image and extracts *local* features, pooling keeps the
strongest response of each neighbourhood, and fully connected layers on top extract
*global* ones. Every layer here is the document's y = f(Wx + b), with x restricted to
one kh x kw patch:

    y[n, i, j, f] = f( sum_{u, v, c} x_pad[n, i*s_h + u, j*s_w + v, c] W[u, v, c, f] + b[f] )

Layout is Keras' channels-last: images ``(N, H, W, C)``, kernels
``W (kh, kw, C_in, filters)``.

How it is fast without Python loops over pixels ("im2col"):

* forward: a *strided view* ``(N, H_o, W_o, kh, kw, C)`` of the (padded) input shows
  every patch without copying; one copy turns it into the patch matrix
  ``cols (N*H_o*W_o, kh*kw*C)`` and the whole layer is one matrix product
  ``cols @ W.reshape(kh*kw*C, filters)``;
* backward: ``dW = cols^T dY`` and ``db = sum dY`` are one product and one sum;
  ``dx`` ("col2im") accumulates the product ``dY W^T`` into the padded input with one
  strided add per kernel offset (kh*kw of them, never one per pixel).

The same lines run on NumPy and CuPy: ``xp.lib.stride_tricks.as_strided`` exists in
both.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import check_array
from . import initializers
from .activations import get_activation
from .layer import Layer

__all__ = [
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "conv_output_size",
    "same_padding",
    "im2col",
    "col2im",
    "conv2d",
]

_PADDINGS = ("valid", "same")


# --------------------------------------------------------------------- geometry
def _pair(value, what, where):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                       for v in value)
            or min(value) < 1):
        raise ValueError(f"{where}: {what} must be a positive int or a pair of them, "
                         f"got {value!r}")
    return int(value[0]), int(value[1])


def _padding_name(padding, where):
    p = str(padding).lower()
    if p not in _PADDINGS:
        raise ValueError(f"{where}: padding must be 'valid' or 'same', got {padding!r}")
    return p


def same_padding(size, k, s):
    """(before, after) zero padding of TensorFlow's ``padding="same"`` along one axis.

    The output has ``ceil(size / s)`` positions; the padding needed is
    ``total = max((ceil(size / s) - 1) * s + k - size, 0)``, split with the odd pixel
    at the end (bottom/right), as TensorFlow and Keras do.
    """
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv_output_size(size, k, s, padding):
    """Output length of a window of ``k`` taps with stride ``s`` over ``size`` samples.

    ``"valid"``: ``floor((size - k) / s) + 1`` (windows entirely inside);
    ``"same"``: ``ceil(size / s)``.
    """
    if padding == "same":
        return -(-size // s)
    return (size - k) // s + 1


def _geometry(x_shape, kernel, strides, padding, where):
    """Pads and output size of a (kh, kw) window on an (N, H, W, C) input, or ValueError."""
    _, H, W, _ = x_shape
    (kh, kw), (sh, sw) = kernel, strides
    if padding == "same":
        pads = (same_padding(H, kh, sh), same_padding(W, kw, sw))
    else:
        pads = ((0, 0), (0, 0))
    Hp, Wp = H + sum(pads[0]), W + sum(pads[1])
    if kh > Hp or kw > Wp:
        raise ValueError(f"{where}: the {kh}x{kw} window is larger than the padded input "
                         f"{Hp}x{Wp} (input shape {tuple(x_shape)}, padding={padding!r})")
    Ho, Wo = conv_output_size(H, kh, sh, padding), conv_output_size(W, kw, sw, padding)
    return pads, (Ho, Wo)


def _pad(x, pads, value=0.0):
    """x padded on H and W; no copy when nothing is padded (xp.pad is slow on CPU)."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    xp = backend.xp()
    N, H, W, C = x.shape
    out = xp.empty((N, H + pt + pb, W + pl + pr, C), dtype=x.dtype)
    if value == 0.0:
        out[:, :pt] = 0
        out[:, H + pt:] = 0
        out[:, :, :pl] = 0
        out[:, :, W + pl:] = 0
    else:
        out.fill(value)
    out[:, pt:pt + H, pl:pl + W] = x
    return out


def _windows(xpad, kernel, strides, out_hw):
    """Strided view ``(N, H_o, W_o, kh, kw, C)`` of every window (no copy)."""
    xp = backend.xp()
    N, _, _, C = xpad.shape
    sN, sH, sW, sC = xpad.strides
    (kh, kw), (sh, sw), (Ho, Wo) = kernel, strides, out_hw
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(N, Ho, Wo, kh, kw, C),
        strides=(sN, sH * sh, sW * sw, sH, sW, sC))


def _offset_slices(offset, strides, out_hw):
    """Index of the input pixels that kernel offset (u, v) touches, one per output pixel."""
    (u, v), (sh, sw), (Ho, Wo) = offset, strides, out_hw
    return (slice(None), slice(u, u + sh * (Ho - 1) + 1, sh),
            slice(v, v + sw * (Wo - 1) + 1, sw))


# ----------------------------------------------------------------- functional core
def im2col(x, kernel_size, strides=1, padding="valid"):
    """Patch matrix of a channels-last image batch (the "im2col" of the CNN chapter).

    Row ``(n, i, j)`` holds the window ``x_pad[n, i*s_h : i*s_h+kh, j*s_w : j*s_w+kw, :]``
    flattened in (u, v, c) order, so a convolution is ``im2col(x) @ W.reshape(-1, F)``.

    Parameters
    ----------
    x : array (N, H, W, C)
    kernel_size, strides : int or (int, int)
    padding : {"valid", "same"}

    Returns
    -------
    cols : array (N*H_o*W_o, kh*kw*C)
    out_hw : (H_o, W_o)

    See chapters/03-2-models.md.
    """
    where = "im2col"
    kernel, strides = _pair(kernel_size, "kernel_size", where), _pair(strides, "strides", where)
    padding = _padding_name(padding, where)
    check_array(x, "x", where=where, ndim=4, dtype_kind="fiu")
    pads, out_hw = _geometry(x.shape, kernel, strides, padding, where)
    view = _windows(_pad(x, pads), kernel, strides, out_hw)
    N, C = x.shape[0], x.shape[3]
    return view.reshape(N * out_hw[0] * out_hw[1], kernel[0] * kernel[1] * C), out_hw


def col2im(dcols, x_shape, kernel_size, strides=1, padding="valid"):
    """Adjoint of :func:`im2col`: add every patch-row back onto the pixels it came from.

    ``dx[n, i*s_h+u, j*s_w+v, c] += dcols[(n, i, j), (u, v, c)]`` summed over all
    windows that cover a pixel; computed with one strided add per kernel offset
    (kh*kw adds), not one per pixel.

    Parameters
    ----------
    dcols : array (N*H_o*W_o, kh*kw*C)
    x_shape : (N, H, W, C) of the image that :func:`im2col` was given

    Returns
    -------
    dx : array (N, H, W, C)
    """
    where = "col2im"
    kernel, strides = _pair(kernel_size, "kernel_size", where), _pair(strides, "strides", where)
    padding = _padding_name(padding, where)
    pads, out_hw = _geometry(x_shape, kernel, strides, padding, where)
    N, H, W, C = x_shape
    d6 = dcols.reshape(N, out_hw[0], out_hw[1], kernel[0], kernel[1], C)
    return _col2im6(d6, x_shape, kernel, strides, pads, out_hw)


def _col2im6(d6, x_shape, kernel, strides, pads, out_hw):
    xp = backend.xp()
    N, H, W, C = x_shape
    (pt, pb), (pl, pr) = pads
    kh, kw = kernel
    dxp = xp.zeros((N, H + pt + pb, W + pl + pr, C), dtype=d6.dtype)
    for u in range(kh):  # a loop over kernel offsets, not pixels
        for v in range(kw):
            dxp[_offset_slices((u, v), strides, out_hw)] += d6[:, :, :, u, v, :]
    if pt or pb or pl or pr:
        dxp = dxp[:, pt:pt + H, pl:pl + W]
    return dxp


def conv2d(x, W, b=None, strides=1, padding="valid"):
    """Functional 2-D convolution (cross-correlation, as in every DL library), NHWC.

    y[n, i, j, f] = sum_{u, v, c} x_pad[n, i*s_h + u, j*s_w + v, c] W[u, v, c, f] + b[f]

    Parameters
    ----------
    x : array (N, H, W, C_in)
    W : array (kh, kw, C_in, F)
    b : array (F,) or None
    strides : int or (int, int)
    padding : {"valid", "same"}

    Returns
    -------
    y : array (N, H_o, W_o, F)

    See chapters/03-2-models.md.
    """
    kh, kw, C, F = W.shape
    cols, (Ho, Wo) = im2col(x, (kh, kw), strides, padding)
    y = cols @ W.reshape(kh * kw * C, F)
    if b is not None:
        y += b
    return y.reshape(x.shape[0], Ho, Wo, F)


# ------------------------------------------------------------------------ Conv2D
class Conv2D(Layer):
    """2-D convolution layer of the document's CNN: y = f(W * x + b), channels-last.

    y[n, i, j, f] = f( sum_{u<kh, v<kw, c<C_in} x_pad[n, i*s_h+u, j*s_w+v, c] W[u, v, c, f] + b[f] )

    Parameters
    ----------
    filters : int
        Number of output channels F.
    kernel_size : int or (kh, kw)
    strides : int or (s_h, s_w)
    padding : {"valid", "same"}
        ``"valid"``: no padding, ``H_o = floor((H - kh) / s_h) + 1``.
        ``"same"``: TensorFlow's rule, ``H_o = ceil(H / s_h)``, zero padding split with
        the odd pixel at the bottom/right.
    activation : str or None
        f: ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softmax"`` or None (identity).
    use_bias : bool
    kernel_initializer : str
        Glorot uniform by default (Keras' default); fans count the kh*kw receptive field.
    seed : int or None
        Seed of the host Generator that draws W.

    Shapes: x ``(N, H, W, C_in)`` -> y ``(N, H_o, W_o, F)``; params
    ``W (kh, kw, C_in, F)``, ``b (F,)``.

    Backward, with cols the im2col patch matrix and g = f'(z) dy::

        dW = cols^T g       db = sum g       dx = col2im(g W^T)

    See chapters/03-2-models.md (CNN) and chapters/04-code-example.md (image branch).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", seed=None, name=None):
        super().__init__(name)
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) \
                or filters < 1:
            raise ValueError(f"Conv2D: filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2D")
        self.strides = _pair(strides, "strides", "Conv2D")
        self.padding = _padding_name(padding, "Conv2D")
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.seed = seed
        self._act = get_activation(activation)

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "seed": self.seed}

    def build(self, input_shape):
        c_in = int(input_shape[-1])
        kh, kw = self.kernel_size
        rng = initializers.make_rng(self.seed)
        init = initializers.get(self.kernel_initializer)
        self.add_param("W", init((kh, kw, c_in, self.filters), rng, backend.floatx()))
        if self.use_bias:
            self.add_param("b", initializers.zeros((self.filters,), dtype=backend.floatx()))
        self.built = True

    def output_shape(self, input_shape):
        """(N, H_o, W_o, F) for an input of shape (N, H, W, C_in)."""
        _, out_hw = _geometry(tuple(input_shape), self.kernel_size, self.strides,
                              self.padding, self.describe())
        return (input_shape[0], *out_hw, self.filters)

    def forward(self, x, training=False):
        self._check_input(x, ndim=4)
        self._ensure_built(x.shape)
        W = self.params["W"]
        kh, kw, C, F = W.shape
        if x.shape[3] != C:
            raise ValueError(f"{self.describe()}: argument 'x' must have {C} channels (the "
                             f"built input size, last axis of NHWC), got shape "
                             f"{tuple(x.shape)}")
        pads, (Ho, Wo) = _geometry(x.shape, self.kernel_size, self.strides, self.padding,
                                   self.describe())
        N = x.shape[0]
        if (kh, kw, *self.strides) == (1, 1, 1, 1):
            cols = x.reshape(N * Ho * Wo, C)  # a 1x1 kernel needs no patches
        else:
            view = _windows(_pad(x, pads), self.kernel_size, self.strides, (Ho, Wo))
            cols = _workspace(self, "cols", view.shape, x.dtype)
            backend.xp().copyto(cols, view)  # the one copy: patches side by side
            cols = cols.reshape(N * Ho * Wo, kh * kw * C)  # (M, K)
        z = cols @ W.reshape(kh * kw * C, F)  # (M, F): one GEMM for the layer
        if self.use_bias:
            z += self.params["b"]
        z = z.reshape(N, Ho, Wo, F)
        y = self._act.forward(z)
        self._cache = (x.shape, cols, pads, (Ho, Wo))
        return y

    def backward(self, dy):
        x_shape, cols, pads, (Ho, Wo) = self._saved()
        N, H, Wd, _ = x_shape
        W = self.params["W"]
        kh, kw, C, F = W.shape
        self._check_grad(dy, (N, Ho, Wo, F))
        g = self._act.backward(dy).reshape(N * Ho * Wo, F)  # dL/dz, (M, F)
        self.grads["W"] = (cols.T @ g).reshape(W.shape)
        if self.use_bias:
            self.grads["b"] = g.sum(axis=0)
        if (kh, kw, *self.strides) == (1, 1, 1, 1):
            return (g @ W.reshape(C, F).T).reshape(x_shape)
        if self.strides == (1, 1) and F < 2 * C:
            # dx is the "full" convolution of dy with the flipped kernel: one more
            # im2col + GEMM, cheaper than col2im's kh*kw strided adds when F is small.
            (pt, pb), (pl, pr) = pads
            gpad = _pad(g.reshape(N, Ho, Wo, F),
                        ((kh - 1 - pt, H - Ho + pt), (kw - 1 - pl, Wd - Wo + pl)))
            view = _windows(gpad, (kh, kw), (1, 1), (H, Wd))
            gcols = _workspace(self, "gcols", view.shape, g.dtype)
            backend.xp().copyto(gcols, view)
            W_flip = W[::-1, ::-1].transpose(0, 1, 3, 2).reshape(kh * kw * F, C)
            return (gcols.reshape(N * H * Wd, kh * kw * F) @ W_flip).reshape(x_shape)
        dcols = g @ W.reshape(kh * kw * C, F).T  # (M, kh*kw*C)
        d6 = dcols.reshape(N, Ho, Wo, kh, kw, C)
        return _col2im6(d6, x_shape, self.kernel_size, self.strides, pads, (Ho, Wo))


def _workspace(layer, key, shape, dtype):
    """A scratch array kept on the layer and reused while shape and dtype stay the same.

    The patch matrices are the largest arrays of a CNN (N*H_o*W_o x kh*kw*C); a fresh
    allocation each step costs page faults comparable to the copy itself.
    """
    ws = layer.__dict__.setdefault("_workspaces", {})
    buf = ws.get(key)
    if (buf is None or tuple(buf.shape) != tuple(shape) or buf.dtype != dtype
            or backend.get_array_module(buf) is not backend.xp()):
        buf = backend.xp().empty(shape, dtype=dtype)
        ws[key] = buf
    return buf


# ----------------------------------------------------------------------- pooling
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

    Shapes: ``(N, H, W, C) -> (N, H_o, W_o, C)``.

    Backward: the whole dy of a window goes to *one* arg-max pixel; ties go to the
    first maximal pixel in row-major window order (u, then v), so the gradient is
    deterministic and sums to dy.

    See chapters/03-2-models.md (CNN: pooling keeps the strongest local response).
    """

    def forward(self, x, training=False):
        self._check_input(x, ndim=4)
        xp = backend.xp()
        pads, out_hw = _geometry(x.shape, self.pool_size, self.strides, self.padding,
                                 self.describe())
        xpad = _pad(x, pads, value=-np.inf)
        offsets = self._offsets()
        # Running max over the p_h*p_w window offsets: each step is one element-wise
        # maximum of two strided views (N, H_o, W_o, C), no copy of the windows.
        y = xpad[_offset_slices(offsets[0], self.strides, out_hw)].copy()
        for off in offsets[1:]:
            xp.maximum(y, xpad[_offset_slices(off, self.strides, out_hw)], out=y)
        self._cache = (x.shape, pads, out_hw, xpad, y)
        return y

    def backward(self, dy):
        x_shape, pads, out_hw, xpad, y = self._saved()
        self._check_grad(dy, y.shape)
        xp = backend.xp()
        N, H, W, C = x_shape
        (pt, pb), (pl, pr) = pads
        dxp = xp.zeros((N, H + pt + pb, W + pl + pr, C), dtype=dy.dtype)
        overlap = self._overlapping()
        offsets = self._offsets()
        # Walk the window in row-major order; the first pixel equal to the max takes
        # what is left of dy, later ties get nothing (deterministic arg-max routing).
        left = dy
        for k, off in enumerate(offsets):
            sl = _offset_slices(off, self.strides, out_hw)
            part = left * (xpad[sl] == y)
            if k + 1 < len(offsets):
                left = left - part
            if overlap:
                dxp[sl] += part
            else:
                dxp[sl] = part  # disjoint windows: each pixel written once
        if pt or pb or pl or pr:
            dxp = dxp[:, pt:pt + H, pl:pl + W]
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

