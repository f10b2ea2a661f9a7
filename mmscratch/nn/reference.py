"""Naive loop-based convolution and pooling: the readable definitions the fast layers
in :mod:`mmscratch.nn.conv` are tested against (chapters/03-2-models.md, CNN).

Every function loops over output pixels exactly as the formula reads; they are slow
on purpose and work on host NumPy arrays only (inputs go through
``backend.to_numpy``). Padding follows TensorFlow's ``"same"`` rule via
:func:`mmscratch.nn.conv.same_padding`.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .conv import conv_output_size, same_padding

__all__ = ["conv2d_naive", "conv2d_backward_naive", "maxpool2d_naive",
           "maxpool2d_backward_naive", "avgpool2d_naive"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(H, W, k, s, padding):
    if padding == "same":
        return same_padding(H, k[0], s[0]), same_padding(W, k[1], s[1])
    return (0, 0), (0, 0)


def _padded(x, pads, value=0.0):
    (pt, pb), (pl, pr) = pads
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def conv2d_naive(x, W, b=None, strides=1, padding="valid"):
    """y[n,i,j,f] = sum_{u,v,c} x_pad[n, i*s_h+u, j*s_w+v, c] W[u,v,c,f] + b[f], by loops.

    x ``(N, H, W, C)``, W ``(kh, kw, C, F)``, b ``(F,)`` -> y ``(N, H_o, W_o, F)``.
    """
    x, W = backend.to_numpy(x), backend.to_numpy(W)
    s = _pair(strides)
    N, H, Wd, C = x.shape
    kh, kw, _, F = W.shape
    pads = _pads(H, Wd, (kh, kw), s, padding)
    xp_ = _padded(x, pads)
    Ho = conv_output_size(H, kh, s[0], padding)
    Wo = conv_output_size(Wd, kw, s[1], padding)
    y = np.zeros((N, Ho, Wo, F), dtype=np.result_type(x, W))
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                patch = xp_[n, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw, :]
                for f in range(F):
                    y[n, i, j, f] = np.sum(patch * W[:, :, :, f])
    if b is not None:
        y += backend.to_numpy(b)
    return y


def conv2d_backward_naive(x, W, dy, strides=1, padding="valid"):
    """Gradients (dx, dW, db) of sum(y * dy) for :func:`conv2d_naive`, by loops."""
    x, W, dy = backend.to_numpy(x), backend.to_numpy(W), backend.to_numpy(dy)
    s = _pair(strides)
    N, H, Wd, C = x.shape
    kh, kw, _, F = W.shape
    pads = _pads(H, Wd, (kh, kw), s, padding)
    xp_ = _padded(x, pads)
    dxp = np.zeros_like(xp_)
    dW = np.zeros_like(W)
    _, Ho, Wo, _ = dy.shape
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                hs, ws = i * s[0], j * s[1]
                for f in range(F):
                    g = dy[n, i, j, f]
                    dW[:, :, :, f] += g * xp_[n, hs:hs + kh, ws:ws + kw, :]
                    dxp[n, hs:hs + kh, ws:ws + kw, :] += g * W[:, :, :, f]
    (pt, _), (pl, _) = pads
    dx = dxp[:, pt:pt + H, pl:pl + Wd, :]
    return dx, dW, dy.sum(axis=(0, 1, 2))


def maxpool2d_naive(x, pool_size=2, strides=None, padding="valid"):
    """y[n,i,j,c] = max over the window; padded pixels count as -inf."""
    x = backend.to_numpy(x)
    p = _pair(pool_size)
    s = p if strides is None else _pair(strides)
    N, H, W, C = x.shape
    xp_ = _padded(x, _pads(H, W, p, s, padding), value=-np.inf)
    Ho, Wo = conv_output_size(H, p[0], s[0], padding), conv_output_size(W, p[1], s[1], padding)
    y = np.empty((N, Ho, Wo, C), dtype=x.dtype)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for c in range(C):
                    y[n, i, j, c] = xp_[n, i * s[0]:i * s[0] + p[0],
                                        j * s[1]:j * s[1] + p[1], c].max()
    return y


def maxpool2d_backward_naive(x, dy, pool_size=2, strides=None, padding="valid"):
    """dx: each window's dy goes to its first arg-max in row-major window order."""
    x, dy = backend.to_numpy(x), backend.to_numpy(dy)
    p = _pair(pool_size)
    s = p if strides is None else _pair(strides)
    N, H, W, C = x.shape
    pads = _pads(H, W, p, s, padding)
    xp_ = _padded(x, pads, value=-np.inf)
    dxp = np.zeros(xp_.shape, dtype=dy.dtype)
    _, Ho, Wo, _ = dy.shape
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for c in range(C):
                    win = xp_[n, i * s[0]:i * s[0] + p[0], j * s[1]:j * s[1] + p[1], c]
                    u, v = np.unravel_index(np.argmax(win), win.shape)  # first maximum
                    dxp[n, i * s[0] + u, j * s[1] + v, c] += dy[n, i, j, c]
    (pt, _), (pl, _) = pads
    return dxp[:, pt:pt + H, pl:pl + W, :]


def avgpool2d_naive(x, pool_size=2, strides=None, padding="valid"):
    """y[n,i,j,c] = mean of the window's real (non-padded) pixels."""
    x = backend.to_numpy(x)
    p = _pair(pool_size)
    s = p if strides is None else _pair(strides)
    N, H, W, C = x.shape
    pads = _pads(H, W, p, s, padding)
    xp_ = _padded(x, pads)
    mask = _padded(np.ones((1, H, W, 1)), pads)
    Ho, Wo = conv_output_size(H, p[0], s[0], padding), conv_output_size(W, p[1], s[1], padding)
    y = np.empty((N, Ho, Wo, C), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            hs, ws = i * s[0], j * s[1]
            win = xp_[:, hs:hs + p[0], ws:ws + p[1], :]
            y[:, i, j, :] = win.sum(axis=(1, 2)) / mask[0, hs:hs + p[0], ws:ws + p[1], 0].sum()
    return y
