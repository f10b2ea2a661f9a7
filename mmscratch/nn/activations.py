"""Element-wise activations f of the document's y = f(Wx + b) (chapters/03-2-models.md).

Each is a layer (``ReLU()``) and a pair of pure functions used inside ``Dense`` and
``Conv2D`` when they are given ``activation="relu"``.
"""

from __future__ import annotations

from .. import backend
from .layer import Layer

__all__ = ["ReLU", "Tanh", "Sigmoid", "Softmax", "Linear", "get_activation", "ACTIVATIONS",
           "sigmoid", "softmax", "log_softmax"]


def sigmoid(x):
    """Numerically stable logistic sigmoid sigma(x) = 1 / (1 + exp(-x)).

    Written as exp(-|x|)-based branches so that exp never sees a large positive
    argument: for x >= 0, 1/(1+e^{-x}); for x < 0, e^{x}/(1+e^{x}). No overflow at
    x = -1e3 (the naive form computes exp(1000) = inf).
    """
    xp = backend.xp()
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def log_softmax(x, axis=-1):
    """log softmax via log-sum-exp: x - m - log(sum exp(x - m)), m = max x (no overflow)."""
    xp = backend.xp()
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """softmax_j(x) = exp(x_j - m) / sum_k exp(x_k - m), with m = max_k x_k for stability."""
    xp = backend.xp()
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class _Elementwise(Layer):
    """Shared plumbing: check input, remember what backward needs, check dy's shape."""

    def forward(self, x, training=False):
        self._check_input(x, allow_empty=True)
        y = self._f(x)
        self._cache = (x.shape, self._keep(x, y))
        return y

    def backward(self, dy):
        shape, kept = self._saved()
        self._check_grad(dy, shape)
        return self._df(dy, kept)

    def _keep(self, x, y):
        return y


class ReLU(_Elementwise):
    """f(x) = max(0, x); f'(x) = 1 where x > 0 else 0 (0 at the kink, as PyTorch)."""

    def _f(self, x):
        return backend.xp().maximum(x, 0)

    def _keep(self, x, y):
        return x > 0

    def _df(self, dy, positive):
        return dy * positive  # a new array: dy is never edited in place


class Tanh(_Elementwise):
    """f(x) = tanh(x); f'(x) = 1 - tanh(x)^2."""

    def _f(self, x):
        return backend.xp().tanh(x)

    def _df(self, dy, y):
        return dy * (1 - y * y)


class Sigmoid(_Elementwise):
    """f(x) = 1 / (1 + exp(-x)) computed stably; f'(x) = f(x)(1 - f(x))."""

    def _f(self, x):
        return sigmoid(x)

    def _df(self, dy, y):
        return dy * y * (1 - y)


class Linear(_Elementwise):
    """f(x) = x (the identity; what ``activation=None`` means)."""

    def _f(self, x):
        return x

    def _keep(self, x, y):
        return None

    def _df(self, dy, kept):
        return dy.copy()


class Softmax(_Elementwise):
    """y_j = exp(x_j) / sum_k exp(x_k) over the last axis.

    Backward (Jacobian-vector product): dx = y * (dy - sum_j dy_j y_j).
    For training, prefer ``SoftmaxCrossEntropy`` on logits: it fuses the two and
    never takes the log of a rounded-to-zero probability.
    """

    def __init__(self, axis=-1, name=None):
        super().__init__(name)
        self.axis = axis

    def get_config(self):
        return {"axis": self.axis}

    def _f(self, x):
        return softmax(x, self.axis)

    def _df(self, dy, y):
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "softmax": Softmax,
               "linear": Linear, None: Linear}


def get_activation(name):
    """A fresh activation layer for ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softmax"`` or None."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from "
                         f"{sorted(k for k in ACTIVATIONS if k)} or None") from None
