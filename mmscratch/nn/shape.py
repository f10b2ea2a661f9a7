"""Layers that only move or mask values: Flatten, ExpandDims and Dropout."""

from __future__ import annotations

from .. import backend
from .layer import Layer, register_layer
from .model import epoch_seed

__all__ = ["Flatten", "ExpandDims", "Dropout"]


class Flatten(Layer):
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k); backward reshapes back."""

    def forward(self, x, training=False):
        self._check_input(x, min_ndim=2, allow_empty=True)
        self._cache = x.shape
        n_flat = 1
        for d in x.shape[1:]:
            n_flat *= d
        # an explicit width, not -1: reshape cannot infer it for an empty batch
        return x.reshape(x.shape[0], n_flat)

    def backward(self, dy):
        shape = self._saved()
        n_flat = 1
        for d in shape[1:]:
            n_flat *= d
        self._check_grad(dy, (shape[0], n_flat))
        return dy.reshape(shape)


class ExpandDims(Layer):
    """Insert an axis of size 1 (``numpy.expand_dims``): ``(N, T, F) -> (N, T, F, 1)``.

    With the default ``axis=-1`` a Conv2D can read an MFCC matrix ``(N, frames, n_mfcc)``
    as a one-channel image (the CLI's audio CNN branch). ``axis`` counts the batch axis
    as numpy does; it may not put the new axis before the batch (``axis=0``). Backward
    drops the axis again: ``dx = dy.reshape(x.shape)``. Input: at least ``(N, d)``.
    """

    def __init__(self, axis=-1, name=None):
        super().__init__(name)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ValueError(f"ExpandDims: axis must be a non-zero int (0 is the batch "
                             f"axis), got {axis!r}")
        self.axis = axis

    def get_config(self):
        return {"axis": self.axis}

    def forward(self, x, training=False):
        self._check_input(x, min_ndim=2, allow_empty=True)
        if not -(x.ndim + 1) < self.axis <= x.ndim:
            raise ValueError(f"{self.describe()}: axis {self.axis} is out of range for "
                             f"input of shape {tuple(x.shape)}")
        self._cache = x.shape
        return backend.xp().expand_dims(x, self.axis)

    def backward(self, dy):
        shape = self._saved()
        out = list(shape)
        out.insert(self.axis if self.axis > 0 else len(shape) + 1 + self.axis, 1)
        self._check_grad(dy, tuple(out))
        return dy.reshape(shape)


#: Checkpoints written before ExpandDims was public name it ``_AddChannel``.
register_layer(ExpandDims, aliases=("_AddChannel",))


class Dropout(Layer):
    """Inverted dropout: y = x * m / (1 - rate), m_i ~ Bernoulli(1 - rate), in training only.

    Scaling at training time keeps E[y] = x, so evaluation (``training=False``) is the
    identity and needs no rescaling. The mask is drawn on the active backend from a
    Generator seeded once per layer (``seed``), so a seeded run is reproducible.
    """

    def __init__(self, rate, seed=None, name=None):
        super().__init__(name)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self._rng = None

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed}

    def reseed(self, epoch):
        """``fit`` calls this at each epoch start: with a seed, epoch k's masks come from
        (seed, k) alone, so a resumed run draws the same masks as an uninterrupted one."""
        if self.seed is not None:
            self._rng = backend.default_rng(epoch_seed(self.seed, epoch))

    def forward(self, x, training=False):
        self._check_input(x, allow_empty=True)
        if not training or self.rate == 0.0:
            self._cache = (x.shape, None)
            return x
        if self._rng is None:
            self._rng = backend.default_rng(self.seed)
        keep = self._rng.random(x.shape) >= self.rate
        scale = (keep / (1.0 - self.rate)).astype(x.dtype)  # (same shape as x)
        self._cache = (x.shape, scale)
        return x * scale

    def backward(self, dy):
        shape, scale = self._saved()
        self._check_grad(dy, shape)
        return dy.copy() if scale is None else dy * scale
