"""Fully connected layer: the document's y = f(Wx + b) (chapters/03-2-models.md)."""

from __future__ import annotations

from .. import backend
from ..errors import check_count
from ..extmath import column_sums
from . import initializers
from .activations import get_activation
from .layer import Layer

__all__ = ["Dense"]


class Dense(Layer):
    """y = f(x W + b), applied to the last axis (row-vector form of the document's Wx + b).

    Parameters
    ----------
    units : int
        Output width H.
    activation : str or None
        ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softmax"`` or None (identity).
    kernel_initializer : str
        Defaults to Glorot uniform (Keras' default); ``"he_normal"`` suits ReLU.
    seed : int or None
        Seed of the host Generator that draws W.

    Notes
    -----
    Shapes: x ``(N, ..., D_in)`` -> y ``(N, ..., units)``; ``W (D_in, units)``, ``b (units,)``.

    Backward, with z = x W + b and g = dL/dz = f'(z) * dy::

        dW = x^T g      (summed over every leading position)
        db = sum_n g_n
        dx = g W^T
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", seed=None, name=None):
        super().__init__(name)
        self.units = check_count(units, "units", where="Dense")
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.seed = seed
        self._act = get_activation(activation)

    def get_config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "seed": self.seed}

    def build(self, input_shape):
        d_in = input_shape[-1]
        rng = initializers.make_rng(self.seed)
        init = initializers.get(self.kernel_initializer)
        self.add_param("W", init((d_in, self.units), rng, backend.floatx()))
        if self.use_bias:
            self.add_param("b", initializers.zeros((self.units,), dtype=backend.floatx()))
        self.built = True

    def forward(self, x, training=False):
        # NaN/inf are caught here, where they enter the network (costs one reduction).
        self._check_input(x, min_ndim=2, finite=self.check_finite)
        self._ensure_built(x.shape)
        W = self.params["W"]
        if x.shape[-1] != W.shape[0]:
            raise ValueError(f"{self.describe()}: argument 'x' must have last dimension "
                             f"{W.shape[0]} (the built input size), got shape {tuple(x.shape)}")
        z = x @ W  # (N, ..., units)
        if self.use_bias:
            z = z + self.params["b"]
        y = self._act.forward(z)
        self._cache = x
        return y

    def backward(self, dy):
        x = self._saved()
        self._check_grad(dy, x.shape[:-1] + (self.units,))
        g = self._act.backward(dy)  # dL/dz
        x2 = x.reshape(-1, x.shape[-1])  # (N*, D_in)
        g2 = g.reshape(-1, self.units)  # (N*, units)
        self.grads["W"] = x2.T @ g2
        if self.use_bias:
            self.grads["b"] = column_sums(g2)  # db = sum_i g2[i]
        return g @ self.params["W"].T
