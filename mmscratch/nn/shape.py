"""Layers that only move or mask values: Flatten and Dropout."""

from __future__ import annotations

from .. import backend
from .layer import Layer
from .model import epoch_seed

__all__ = ["Flatten", "Dropout"]


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
