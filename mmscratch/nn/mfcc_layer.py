"""MFCC as a layer with an explicit backward pass to the waveform.

A model can train through its own audio front end: the gradient of the loss flows from
the cepstral coefficients back through every stage of
:class:`mmscratch.features.MFCC` to the samples, and (optionally) into a learnable mel
filterbank.

Chapter: chapters/03-1-feature-extraction.md (the pipeline) and chapters/03-2-models.md
(layers and backward passes).
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..features.mfcc import MFCC
from ..features.spectrum import _reflect_index
from .layer import Layer

__all__ = ["MFCCLayer"]


class MFCCLayer(Layer):
    """MFCC front end ``(N, samples) -> (N, frames, n_mfcc)`` with backward to the waveform.

    Forward (the symbols of chapters/03-1-feature-extraction.md)::

        x'  = preemphasis(x)                x'[n] = x[n] - a x[n-1]
        F   = frame(x') * w                 (N, T, frame_length)
        X   = rfft(F, n_fft);  P = s |X|^p  (N, T, K), K = n_fft / 2 + 1
        E   = P @ H^T                       (N, T, M)    H: mel filterbank (M, K)
        L   = log(max(E, amin))  or  10 log10(max(E, amin)), clipped to top_db
        c   = (L @ D^T) * lift              (N, T, C)    D: DCT-II (C, M)
        [c0 = log(max(sum_k P_k, amin))]    append_energy

    Backward, stage by stage (g = upstream gradient of each stage's output)::

        dL = (g * lift) @ D                 (c0 column routed to the energy instead)
        dE = dL / E  (ln)  or  10 / (ln 10 E) dL  (dB); 0 where floored; the top_db clip
             sends the clipped entries' gradient to the clip's peak
        dP = dE @ H;       dH = sum_{n,t} dE^T P   (learnable filterbank)
        dF = n_fft * irfft(Z)[:frame_length] * w,
             Z_k = c_k g_k (p/2) s |X_k|^(p-2) X_k, c_0 = c_{n_fft/2} = 2, else 1
             (the real-DFT identity: d|X_k|^2/dx_n = 2 Re(conj(X_k) e^{-2 pi i k n / N}))
        dx' = overlap-add of dF (padding folded back: reflect modes add mirrored parts)
        dx[n] = dx'[n] - a dx'[n+1]

    Parameters
    ----------
    sample_rate : float
    n_mfcc, preset, **kwargs
        As :class:`mmscratch.features.MFCC` (librosa's keyword names). ``deltas`` are not
        supported inside the layer.
    trainable_mel : bool
        Register the mel filterbank as parameter ``"mel"`` (n_mels, 1 + n_fft // 2),
        initialised with the fixed one, and compute its gradient.
    as_image : bool
        Output ``(N, frames, n_mfcc, 1)`` for a Conv2D instead of ``(N, frames, n_mfcc)``.

    Notes
    -----
    Shapes: x ``(N, samples)`` (equal-length, float) -> ``(N, T, n_mfcc)``, channels-last
    (``features.mfcc`` returns librosa's ``(N, n_mfcc, T)``; this is its transpose).
    """

    def __init__(self, sample_rate=8000, n_mfcc=None, preset=None, trainable_mel=False,
                 as_image=False, name=None, **kwargs):
        super().__init__(name)
        if kwargs.get("deltas"):
            raise ValueError("MFCCLayer: deltas are not supported inside the layer")
        self.sample_rate = sample_rate
        self.n_mfcc_arg = n_mfcc
        self.preset = preset
        self.trainable_mel = bool(trainable_mel)
        self.as_image = bool(as_image)
        self.kwargs = dict(kwargs)
        self.extractor = MFCC(sample_rate, n_mfcc, preset, **kwargs)
        self.n_mfcc = self.extractor.n_mfcc
        self._consts = {}

    def get_config(self):
        return {"sample_rate": self.sample_rate, "n_mfcc": self.n_mfcc_arg,
                "preset": self.preset, "trainable_mel": self.trainable_mel,
                "as_image": self.as_image, **self.kwargs}

    def build(self, input_shape):
        if self.trainable_mel:
            self.add_param("mel", self.extractor.mel_host.astype(backend.floatx()))
        self.built = True

    # ------------------------------------------------------------------ helpers
    def _constants(self, dtype):
        key = (backend.name(), np.dtype(dtype).str)
        if key not in self._consts:
            ex = self.extractor
            lift = ex.lifter_host if ex.lifter_host is not None else np.ones(ex.n_mfcc)
            self._consts[key] = {
                "window": backend.asarray(ex.window_host.astype(dtype)),
                "mel": backend.asarray(ex.mel_host.astype(dtype)),
                "dct": backend.asarray(ex.dct_host.astype(dtype)),
                "lift": backend.asarray(lift.astype(dtype)),
            }
        return self._consts[key]

    def _pad_map(self, L):
        """Host index map of the padded signal: position in x' (or -1 for a zero)."""
        ex, c = self.extractor, self.extractor.config
        flen, hop = ex.frame_length, ex.hop_length
        pad = flen // 2 if c["center"] else 0
        T = ex.num_frames(L)
        if T < 1:
            raise ValueError(f"{self.describe()}: clips of {L} samples are shorter than one "
                             f"frame ({flen} samples); use center=True or pad_end=True")
        total = max((T - 1) * hop + flen, L + 2 * pad)
        q = np.arange(total) - pad
        if c["pad_mode"] == "constant" or not pad:
            idx = np.where((q >= 0) & (q < L), q, -1)
        else:
            idx = np.where(q < L + pad, _reflect_index(q, L, c["pad_mode"], np), -1)
        return idx, T

    # ------------------------------------------------------------------ forward
    def forward(self, x, training=False):
        self._check_input(x, ndim=2)
        self._ensure_built(x.shape)
        xp = backend.xp()
        ex, c = self.extractor, self.extractor.config
        k = self._constants(x.dtype)
        N, L = x.shape
        a = c["preemphasis"]
        xe = (xp.concatenate([x[:, :1], x[:, 1:] - a * x[:, :-1]], axis=1) if a else x)
        idx, T = self._pad_map(L)
        valid = backend.asarray(idx >= 0)
        padded = xp.where(valid, xe[:, backend.asarray(np.maximum(idx, 0))],
                          xp.zeros((), dtype=x.dtype))  # (N, Lp)
        flen, hop, n_fft = ex.frame_length, ex.hop_length, ex.n_fft
        starts = np.arange(T)[:, None] * hop + np.arange(flen)[None, :]
        frames = padded[:, backend.asarray(starts)] * k["window"]  # (N, T, flen)
        X = xp.fft.rfft(frames, n=n_fft, axis=-1)  # (N, T, K)
        p = c["power"]
        scale = 1.0 / n_fft if c["spectrum_scale"] == "n_fft" else 1.0
        mag2 = (X.real * X.real + X.imag * X.imag).astype(x.dtype)
        P = mag2 * scale if p == 2 else (xp.maximum(mag2, 1e-300) ** (p / 2)) * scale
        H = self.params["mel"] if self.trainable_mel else k["mel"]
        E = P @ H.T  # (N, T, M)
        amin = c["amin"]
        db = c["log"] == "db"
        unit = 10.0 / math.log(10.0) if db else 1.0  # d log / dE = unit / E
        raw = unit * xp.log(xp.maximum(E, amin))
        logmel, clip = raw, None
        if c["top_db"] is not None:
            top = c["top_db"] if db else c["top_db"] * math.log(10.0) / 10.0
            peak = raw.max(axis=(1, 2), keepdims=True)
            clip = raw < peak - top
            logmel = xp.where(clip, peak - top, raw)
            # the clipped gradient goes to the peak; NaN counts as the peak (it is what
            # max gives), so a NaN clip still routes it and the rest stays finite
            is_peak = ((raw == peak) | xp.isnan(raw)).astype(x.dtype)
            clip = (clip, is_peak / is_peak.sum(axis=(1, 2), keepdims=True))
        coeffs = (logmel @ k["dct"].T) * k["lift"]  # (N, T, C)
        energy = None
        if c["append_energy"]:
            energy = P.sum(axis=-1, keepdims=True)
            coeffs = xp.concatenate([unit * xp.log(xp.maximum(energy, amin)), coeffs[..., 1:]],
                                    axis=-1)
        self._cache = (x.shape, idx, starts, X, mag2, P, E, clip, energy, H)
        return coeffs[..., None] if self.as_image else coeffs

    # ------------------------------------------------------------------ backward
    def backward(self, dy):
        (shape, idx, starts, X, mag2, P, E, clip, energy, H) = self._saved()
        xp = backend.xp()
        ex, c = self.extractor, self.extractor.config
        N, L = shape
        T = starts.shape[0]
        C = self.n_mfcc
        self._check_grad(dy, (N, T, C, 1) if self.as_image else (N, T, C))
        g = dy[..., 0] if self.as_image else dy
        dtype = X.real.dtype
        k = self._constants(dtype)
        amin = c["amin"]
        unit = 10.0 / math.log(10.0) if c["log"] == "db" else 1.0
        if c["append_energy"]:
            g_energy = g[..., :1]
            g = xp.concatenate([xp.zeros_like(g[..., :1]), g[..., 1:]], axis=-1)
        dlog = (g * k["lift"]) @ k["dct"]  # (N, T, M)
        if clip is not None:
            clipped, at_peak = clip
            moved = xp.where(clipped, dlog, xp.zeros((), dtype=dlog.dtype))
            dlog = dlog - moved + at_peak * moved.sum(axis=(1, 2), keepdims=True)
        dE = xp.where(E > amin, dlog * unit / xp.maximum(E, amin),
                      xp.zeros((), dtype=dlog.dtype))
        dP = dE @ H  # (N, T, K)
        if self.trainable_mel:
            M, K = H.shape
            self.grads["mel"] = (dE.reshape(-1, M).T @ P.reshape(-1, K)).astype(H.dtype)
        if energy is not None:
            dP = dP + xp.where(energy > amin, g_energy * unit / xp.maximum(energy, amin),
                               xp.zeros((), dtype=dP.dtype))
        # |X|^p (times the spectrum scale) -> complex weights for the inverse real DFT
        p, n_fft = c["power"], ex.n_fft
        scale = 1.0 / n_fft if c["spectrum_scale"] == "n_fft" else 1.0
        factor = scale if p == 2 else scale * (p / 2) * xp.maximum(mag2, 1e-300) ** (p / 2 - 1)
        Z = (dP * factor) * X  # (N, T, K) complex: g_k (p/2) s |X|^(p-2) X_k
        edge = np.ones(Z.shape[-1])
        edge[0] = 2.0
        if n_fft % 2 == 0:
            edge[-1] = 2.0
        Z = Z * backend.asarray(edge.astype(dtype))
        dframes = n_fft * xp.fft.irfft(Z, n=n_fft, axis=-1).astype(dtype)  # (N, T, n_fft)
        flen = ex.frame_length
        if flen <= n_fft:
            dframes = dframes[..., :flen]
        else:  # rfft cropped the frame: the cropped samples had no influence
            dframes = xp.concatenate(
                [dframes, xp.zeros(dframes.shape[:-1] + (flen - n_fft,), dtype=dtype)], axis=-1)
        dframes = dframes * k["window"]
        dpadded = _overlap_add(dframes, ex.hop_length, idx.shape[0], xp)  # (N, Lp)
        valid = idx >= 0
        if c["pad_mode"] == "constant" or not c["center"]:
            first = ex.frame_length // 2 if c["center"] else 0
            dxe = dpadded[:, first:first + L]  # zero padding: the gradient is a slice
        else:  # reflecting modes: mirrored samples add their gradient to the source
            dxe = xp.zeros((N, L), dtype=dtype)
            vals = xp.where(backend.asarray(valid), dpadded, xp.zeros((), dtype=dtype))
            backend.scatter_add(dxe, (slice(None), backend.asarray(np.maximum(idx, 0))), vals)
        a = c["preemphasis"]
        if a:
            dxe = dxe - a * xp.concatenate([dxe[:, 1:], xp.zeros_like(dxe[:, :1])], axis=1)
        return dxe


def _overlap_add(frames, hop, length, xp):
    """Sum frames (N, T, F) back at starts t*hop into (N, length); loops over F/hop only."""
    N, T, F = frames.shape
    r = -(-F // hop)  # frames overlapping any one hop-sized block
    if r * hop != F:
        frames = xp.concatenate([frames, xp.zeros((N, T, r * hop - F), dtype=frames.dtype)],
                                axis=-1)
    blocks = frames.reshape(N, T, r, hop)
    out = xp.zeros((N, T + r - 1, hop), dtype=frames.dtype)
    for j in range(r):  # r = ceil(frame / hop), e.g. 4: not a loop over frames
        out[:, j:j + T] += blocks[:, :, j]
    out = out.reshape(N, -1)
    if out.shape[1] >= length:
        return out[:, :length]
    return xp.concatenate([out, xp.zeros((N, length - out.shape[1]), dtype=out.dtype)], axis=1)
