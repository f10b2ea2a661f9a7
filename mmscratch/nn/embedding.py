"""Embedding: a lookup table that turns word indices into dense vectors.

Explained in chapters/03-1-feature-extraction.md (text features) and used by the
recurrent text branch of chapters/03-2-models.md.
"""

from __future__ import annotations

from .. import backend
from ..errors import check_count
from . import initializers
from .layer import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    """Row lookup y[n, t] = E[x[n, t]] of a trainable table ``E (vocab, dim)``.

    Parameters
    ----------
    vocab : int
        Number of distinct indices (Keras' ``input_dim``); valid indices are
        0 .. vocab - 1.
    dim : int
        Size of each embedding vector (Keras' ``output_dim``).
    seed : int or numpy Generator, optional
        Seed of the host generator for the initial table, U(-0.05, 0.05) as Keras.

    Shapes
    ------
    ``forward(x)``: integer x ``(N, T)`` (any integer array of rank >= 1) ->
    ``(N, T, dim)``. ``backward(dy)`` with dy ``(N, T, dim)`` fills ``grads["E"]``
    and returns ``None``: the indices are not differentiable.

    Notes
    -----
    dL/dE[v] = sum over all (n, t) with x[n, t] = v of dy[n, t]. An index that occurs
    several times must add all its contributions, which plain fancy-index assignment
    ``dE[x] += dy`` does not do (one write wins); :func:`mmscratch.backend.scatter_add`
    does (``np.add.at`` / ``cupyx.scatter_add``).

    Indices are range-checked on every forward (one small device-to-host copy of the
    min and max): CuPy would silently wrap an out-of-range index around.

    Chapter: chapters/03-1-feature-extraction.md.
    """

    def __init__(self, vocab, dim, seed=None, name=None):
        super().__init__(name)
        self.vocab = check_count(vocab, "vocab", where="Embedding")
        self.dim = check_count(dim, "dim", where="Embedding")
        self.seed = seed

    def build(self, input_shape=None):
        rng = initializers.make_rng(self.seed)
        table = rng.uniform(-0.05, 0.05, size=(self.vocab, self.dim))
        self.add_param("E", table.astype(backend.floatx()))
        self.built = True

    def forward(self, x, training=False):
        self._check_input(x, min_ndim=1, dtype_kind="iu")
        lo, hi = (int(v) for v in backend.to_numpy(backend.xp().stack([x.min(), x.max()])))
        if lo < 0:
            raise ValueError(f"{self.describe()}: argument 'x' has index min {lo} < 0; "
                             f"indices must lie in 0..{self.vocab - 1}")
        if hi >= self.vocab:
            raise ValueError(f"{self.describe()}: argument 'x' has index max {hi} >= vocab "
                             f"{self.vocab}; indices must lie in 0..{self.vocab - 1}")
        self._ensure_built(x.shape)
        self._cache = x
        return self.params["E"][x]

    def backward(self, dy):
        x = self._saved()
        self._check_grad(dy, tuple(x.shape) + (self.dim,))
        E = self.params["E"]
        dE = backend.xp().zeros(E.shape, dtype=dy.dtype)
        backend.scatter_add(dE, x.reshape(-1), dy.reshape(-1, self.dim))
        self.grads["E"] = dE
        return None

    def get_config(self):
        return {"vocab": self.vocab, "dim": self.dim, "seed": self.seed}
