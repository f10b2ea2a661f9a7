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

Readable first, fast second: ``Conv2D.forward``/``backward`` read like the formulas
above (one im2col, one GEMM each). With ``Conv2D.use_fast_path`` (the default) they call
:func:`conv2d_forward_blocked` and :func:`conv2d_backward_blocked` instead, which do the
same arithmetic a block of images at a time so that the patch block stays in the CPU
cache (see chapters/03-2-models.md, "What im2col costs"); tests check that both agree.
The pooling layers live in :mod:`mmscratch.nn.pooling`.
"""

from __future__ import annotations

from .. import backend
from ..errors import check_array, check_count
from ..extmath import column_sums
from . import initializers
from .activations import get_activation
from .layer import Layer

__all__ = [
    "Conv2D",
    "conv_output_size",
    "same_padding",
    "im2col",
    "col2im",
    "conv2d",
    "conv2d_forward_blocked",
    "conv2d_backward_blocked",
]

_PADDINGS = ("valid", "same")


# --------------------------------------------------------------------- geometry
def _pair(value, what, where):
    if not isinstance(value, (tuple, list)):
        value = check_count(value, what, where=where)
        return value, value
    if len(value) != 2:
        raise ValueError(f"{where}: {what} must be a positive int or a pair of them, "
                         f"got {value!r}")
    return tuple(check_count(v, f"{what}[{i}]", where=where) for i, v in enumerate(value))


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


def _pad_into(layer, key, x, pads, value=0.0):
    """x padded on H and W, in a buffer kept on ``layer`` whose border is written once.

    Without padding this is ``x`` itself (no copy). Otherwise the border of the reused
    buffer holds ``value`` from its allocation on, and each call copies only x into the
    interior: no fresh allocation, no re-fill of the border.
    """
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    N, H, W, C = x.shape
    shape = (N, H + pt + pb, W + pl + pr, C)
    buf = _workspace(layer, key, shape, x.dtype, fill=value)
    buf[:, pt:pt + H, pl:pl + W] = x
    return buf


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

    Notes
    -----
    Shapes: x ``(N, H, W, C_in)`` -> y ``(N, H_o, W_o, F)``; params
    ``W (kh, kw, C_in, F)``, ``b (F,)``.

    Backward, with cols the im2col patch matrix and g = f'(z) dy::

        dW = cols^T g       db = sum g       dx = col2im(g W^T)

    ``dx`` is skipped (``backward`` returns None) while ``needs_input_grad`` is False:
    ``Model.train_step`` sets that on the layers that see the model's input, whose input
    gradient nobody uses. ``use_fast_path`` (class attribute, default True) selects the
    cache-blocked helpers :func:`conv2d_forward_blocked` / :func:`conv2d_backward_blocked`
    over the readable im2col lines; both compute the same numbers.

    See chapters/03-2-models.md (CNN) and chapters/04-code-example.md (image branch).
    """

    #: Use the cache-blocked helpers (same arithmetic as the readable lines, faster on CPU).
    use_fast_path = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", seed=None, name=None):
        super().__init__(name)
        self.filters = check_count(filters, "filters", where="Conv2D")
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
        pads, out_hw = _geometry(x.shape, self.kernel_size, self.strides, self.padding,
                                 self.describe())
        xpad = _pad_into(self, "xpad", x, pads)  # (N, H_p, W_p, C)
        W2 = W.reshape(kh * kw * C, F)  # (K, F), K = kh*kw*C
        if self.use_fast_path:
            z = conv2d_forward_blocked(xpad, W2, self.kernel_size, self.strides, out_hw,
                                       workspace=self._workspaces(),
                                       b=self.params["b"] if self.use_bias else None)
        else:
            z = _patches(xpad, self.kernel_size, self.strides, out_hw) @ W2  # (M, F)
            if self.use_bias:
                z += self.params["b"]
        y = self._act.forward(z.reshape(x.shape[0], *out_hw, F))
        self._cache = (x.shape, xpad, pads, out_hw)
        return y

    def backward(self, dy):
        x_shape, xpad, pads, (Ho, Wo) = self._saved()
        W = self.params["W"]
        kh, kw, C, F = W.shape
        N = x_shape[0]
        self._check_grad(dy, (N, Ho, Wo, F))
        g = self._act.backward(dy).reshape(N * Ho * Wo, F)  # dL/dz, (M, F)
        W2 = W.reshape(kh * kw * C, F)
        need_dx = self.needs_input_grad
        db = None
        if self.use_fast_path:
            dW, db, dxpad = conv2d_backward_blocked(xpad, g, W2, self.kernel_size,
                                                    self.strides, (Ho, Wo), need_dx,
                                                    workspace=self._workspaces(),
                                                    need_db=self.use_bias)
        else:
            cols = _patches(xpad, self.kernel_size, self.strides, (Ho, Wo))  # (M, K)
            dW = cols.T @ g  # dW = cols^T g
            dxpad = None
            if need_dx:
                d6 = (g @ W2.T).reshape(N, Ho, Wo, kh, kw, C)  # dcols = g W^T
                dxpad = _col2im6(d6, xpad.shape, self.kernel_size, self.strides,
                                 ((0, 0), (0, 0)), (Ho, Wo))  # col2im on the padded grid
        self.grads["W"] = dW.reshape(W.shape)
        if self.use_bias:
            self.grads["b"] = column_sums(g) if db is None else db  # db = sum g
        if dxpad is None:
            return None
        (pt, _), (pl, _) = pads
        return dxpad[:, pt:pt + x_shape[1], pl:pl + x_shape[2]]

    def _workspaces(self):
        return self.__dict__.setdefault("_workspace_buffers", {})


def _patches(xpad, kernel, strides, out_hw):
    """im2col of an already padded input: the patch matrix (N*H_o*W_o, kh*kw*C), a copy."""
    N, C = xpad.shape[0], xpad.shape[3]
    (kh, kw), (Ho, Wo) = kernel, out_hw
    if (kh, kw, *strides) == (1, 1, 1, 1):
        return xpad.reshape(N * Ho * Wo, C)  # a 1x1 kernel needs no patches
    view = _windows(xpad, kernel, strides, out_hw)
    return view.reshape(N * Ho * Wo, kh * kw * C)


# ------------------------------------------------------------- Conv2D, fast path
#: Target size in bytes of one block of patch rows: small enough to stay in the CPU's
#: L2/L3 cache between the im2col copy and the GEMM that reads it.
BLOCK_BYTES = 1 << 21


#: Layers whose patch rows have at most this many columns (K = kh*kw*C: a 3x3 kernel on
#: 1-3 channels) take the whole batch as one block and keep its patch matrix from forward
#: to backward: their GEMMs are too short for cache blocking to pay, and copying the
#: patches a second time was a third of their backward pass (benchmarks/RESULTS.md,
#: "speed_notes").
KEEP_PATCHES_MAX_K = 32


def _block_images(n, row_bytes, K=None):
    """Images per block so that a block of patch rows takes about BLOCK_BYTES (>= 1).

    On the GPU a block is the whole batch: there, fewer and larger kernels are faster.
    So is it for thin layers (``K <= KEEP_PATCHES_MAX_K``), whose patches are kept.
    """
    if backend.name() == "cupy" or (K is not None and K <= KEEP_PATCHES_MAX_K):
        return n
    return max(1, min(n, BLOCK_BYTES // max(1, row_bytes)))


def _patch_rows(workspace, nb, out_hw, kernel, C, dtype, bias):
    """The reused patch buffer ``(nb, H_o*W_o, K [+1])`` and its ``(nb, H_o, W_o, kh, kw, C)``
    window view, into which im2col copies.

    With ``bias`` the buffer has one more column, set to 1 once at allocation and never
    written again: the product ``[cols, 1] @ [W2; b]`` then adds the bias inside the GEMM
    (one pass over z less), and ``[cols, 1]^T g`` yields db as dW's last row. The window
    view is built with ``as_strided`` so it is a view by construction (a reshape of the
    column slice might copy, and the copy would be written instead of the buffer).
    """
    xp = backend.xp()
    (kh, kw), (Ho, Wo) = kernel, out_hw
    K = kh * kw * C
    width = K + 1 if bias else K
    buf = _buffer(workspace, "cols1" if bias else "cols", (nb, Ho * Wo, width), dtype,
                  fill=1 if bias else None)
    i = buf.itemsize
    view = xp.lib.stride_tricks.as_strided(
        buf, shape=(nb, Ho, Wo, kh, kw, C),
        strides=(Ho * Wo * width * i, Wo * width * i, width * i, kw * C * i, C * i, i))
    return buf, view


def conv2d_forward_blocked(xpad, W2, kernel, strides, out_hw, workspace=None, b=None):
    """z = im2col(x_pad) @ W2 (+ b), a block of images at a time (the fast forward of Conv2D).

    Same numbers as ``_patches(xpad) @ W2 + b``: each block's windows are copied into one
    reused patch buffer (``workspace``) small enough to stay in cache, and one GEMM per
    block writes its rows of z. Why this is faster: the im2col matrix is kh*kw times
    the input; written whole, it goes out to main memory and the GEMM reads it back;
    written a block at a time, the GEMM finds it in cache. The bias rides in the same
    GEMM, as a column of ones in the patch buffer times a row ``b`` under W2.

    Parameters
    ----------
    xpad : array (N, H_p, W_p, C), already padded
    W2 : array (kh*kw*C, F)
    kernel, strides, out_hw : (int, int) pairs
    workspace : dict or None, where the patch buffer is kept between calls
    b : array (F,) or None, the bias

    Returns
    -------
    z : array (N*H_o*W_o, F)
    """
    xp = backend.xp()
    N, C = xpad.shape[0], xpad.shape[3]
    (kh, kw), (Ho, Wo) = kernel, out_hw
    K, F = W2.shape
    if (kh, kw, *strides) == (1, 1, 1, 1):
        z = xpad.reshape(N * Ho * Wo, C) @ W2
        if b is not None:
            z += b
        return z
    rows = Ho * Wo  # patch rows per image
    nb = _block_images(N, rows * K * xpad.dtype.itemsize, K)
    buf, view = _patch_rows(workspace, nb, out_hw, kernel, C, xpad.dtype, b is not None)
    Wb = W2 if b is None else xp.concatenate([W2, b.reshape(1, F)])  # (K+1, F)
    z = xp.empty((N * rows, F), dtype=xp.result_type(xpad, Wb))
    for n0 in range(0, N, nb):  # a loop over blocks of images, not over pixels
        n1 = min(N, n0 + nb)
        xp.copyto(view[:n1 - n0], _windows(xpad[n0:n1], kernel, strides, out_hw))
        xp.matmul(buf[:n1 - n0].reshape((n1 - n0) * rows, buf.shape[2]), Wb,
                  out=z[n0 * rows:n1 * rows])
    if workspace is not None:
        # One block: the buffer now holds every patch of this xpad; backward may use it.
        workspace["patches_of"] = (xpad, buf) if nb >= N else None
    return z


def conv2d_backward_blocked(xpad, g, W2, kernel, strides, out_hw, need_dx=True,
                            workspace=None, need_db=False):
    """dW = cols^T g, db = sum g and dx_pad = col2im(g W2^T), a block of images at a time.

    The fast backward of Conv2D, equal to the readable lines in ``Conv2D.backward``.
    The patch block is copied again from ``xpad`` (in cache, cheaper than keeping the
    whole patch matrix from the forward pass and reading it back from memory), then
    ``dW += block^T g_block``; with ``need_db`` the block carries a column of ones, so
    the same product's last row is db. For dx, ``dcols = g_block W2^T`` (computed offset
    by offset, ``g_block W[u, v]^T``, so that each offset's part is contiguous) is added
    back onto the block's padded pixels with one strided add per kernel offset, while it
    is still in cache.

    Parameters
    ----------
    xpad : array (N, H_p, W_p, C); g : array (N*H_o*W_o, F), dL/dz; W2 : (kh*kw*C, F)
    need_dx : bool, compute dx_pad (False: return None for it)
    need_db : bool, compute db (False: return None for it)

    Returns
    -------
    dW : array (kh*kw*C, F)
    db : array (F,) or None
    dxpad : array (N, H_p, W_p, C) or None
    """
    xp = backend.xp()
    N, C = xpad.shape[0], xpad.shape[3]
    (kh, kw), (Ho, Wo) = kernel, out_hw
    K, F = W2.shape
    if (kh, kw, *strides) == (1, 1, 1, 1):
        cols = xpad.reshape(N * Ho * Wo, C)
        return (cols.T @ g, column_sums(g) if need_db else None,
                (g @ W2.T).reshape(xpad.shape) if need_dx else None)
    rows = Ho * Wo
    nb = _block_images(N, rows * K * xpad.dtype.itemsize, K)
    buf, view = _patch_rows(workspace, nb, out_hw, kernel, C, xpad.dtype, need_db)
    # The forward pass of this very xpad left all its patches in the buffer (thin layers):
    # no second copy. Any other forward since then would have replaced "patches_of".
    last = workspace.get("patches_of") if workspace is not None else None
    kept = nb >= N and last is not None and last[0] is xpad and last[1] is buf
    width = buf.shape[2]  # K, or K + 1 with the ones column of db
    dWb = xp.zeros((width, F), dtype=xp.result_type(xpad, g))
    part = xp.empty_like(dWb)
    dxpad = xp.zeros(xpad.shape, dtype=g.dtype) if need_dx else None
    W3T = W2.reshape(kh * kw, C, F).transpose(0, 2, 1)  # (kh*kw, F, C): W[u, v]^T
    for n0 in range(0, N, nb):  # blocks of images, as in the forward pass
        n1 = min(N, n0 + nb)
        m = (n1 - n0) * rows
        if not kept:
            xp.copyto(view[:n1 - n0], _windows(xpad[n0:n1], kernel, strides, out_hw))
        gb = g[n0 * rows:n1 * rows]
        xp.matmul(buf[:n1 - n0].reshape(m, width).T, gb, out=part)
        dWb += part
        if need_dx:
            # Offset-major dcols: block k = g_block W[u, v]^T is contiguous (m, C), so each
            # strided add below moves whole image rows (W_o*C values), not C at a time.
            dcols = _buffer(workspace, "dcols", (kh * kw, nb * rows, C), g.dtype)[:, :m]
            xp.matmul(gb[None], W3T, out=dcols)
            dblock = dxpad[n0:n1]
            for k in range(kh * kw):  # kernel offsets, not pixels
                sl = _offset_slices(divmod(k, kw), strides, out_hw)
                dblock[sl] += dcols[k].reshape(n1 - n0, Ho, Wo, C)
    return dWb[:K], (dWb[K] if need_db else None), dxpad


def _buffer(workspace, key, shape, dtype, fill=None):
    """A scratch array kept in the dict ``workspace`` (or a fresh one when it is None)."""
    if workspace is None:
        return backend.xp().empty(shape, dtype=dtype)
    buf = workspace.get(key)
    if (buf is None or tuple(buf.shape) != tuple(shape) or buf.dtype != dtype
            or backend.get_array_module(buf) is not backend.xp()):
        xp = backend.xp()
        buf = xp.empty(shape, dtype=dtype) if fill is None else xp.full(shape, fill, dtype=dtype)
        workspace[key] = buf
    return buf


def _workspace(layer, key, shape, dtype, fill=None):
    """A scratch array kept on the layer and reused while shape and dtype stay the same.

    The patch matrices and padded inputs are the largest arrays of a CNN; a fresh
    allocation each step costs page faults comparable to the copy itself. With
    ``fill``, a new buffer starts filled with that value (the zero border of a padded
    input is written once, at allocation).
    """
    ws = layer.__dict__.setdefault("_workspace_buffers", {})
    return _buffer(ws, key, shape, dtype, fill)


def __getattr__(name):
    """The pooling layers moved to :mod:`mmscratch.nn.pooling`; old imports keep working."""
    if name in ("MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"):
        from . import pooling  # noqa: PLC0415 - pooling imports this module's geometry

        return getattr(pooling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
