"""Element-wise activations f of the document's y = f(Wx + b) (chapters/03-2-models.md).

Each is a layer (``ReLU()``) and a pair of pure functions used inside ``Dense`` and
``Conv2D`` when they are given ``activation="relu"``.
"""

from __future__ import annotations

from .. import backend
from .layer import Layer

__all__ = ["ReLU", "Tanh", "Sigmoid", "Softmax", "Linear", "get_activation", "ACTIVATIONS",
           "sigmoid", "tanh", "relu", "identity", "softmax", "log_softmax", "ELEMENTWISE"]


def sigmoid(x):
    """Logistic sigmoid written through tanh: sigma(x) = 0.5 * tanh(x / 2) + 0.5.

    The identity is exact; tanh saturates to +-1 instead of overflowing, so
    ``sigmoid(-1000)`` is 0, not ``exp(1000) = inf`` as in the naive 1 / (1 + e^{-x})
    (nor an underflow warning, as in the exp(-|x|) form), and it costs one
    transcendental per element with no branch on the sign of x. The one sigmoid of the
    library: the Sigmoid layer, ``activation="sigmoid"`` and the recurrent gates use it.

    Shapes: any in, the same out. Chapter: chapters/03-2-models.md.
    """
    return 0.5 * backend.xp().tanh(0.5 * x) + 0.5


def tanh(x):
    """f(x) = tanh(x)."""
    return backend.xp().tanh(x)


def relu(x):
    """f(x) = max(0, x); NaN stays NaN."""
    return backend.xp().maximum(x, 0)


def identity(x):
    """f(x) = x."""
    return x


# f'(a) written through the output y = f(a): layers that keep only y (the recurrent
# states, the element-wise layers below) need nothing else for backward.
def _dtanh(y):
    return 1 - y * y


def _dsigmoid(y):
    return y * (1 - y)


def _drelu(y):
    return y > 0


def _didentity(y):
    return backend.xp().ones_like(y)


#: The one activation table: name -> (f, f' as a function of y = f(a)). Used by the
#: element-wise layers here and by ``SimpleRNN(activation=...)``.
ELEMENTWISE = {
    "tanh": (tanh, _dtanh),
    "sigmoid": (sigmoid, _dsigmoid),
    "relu": (relu, _drelu),
    "linear": (identity, _didentity),
}


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
        return relu(x)

    def _keep(self, x, y):
        return x > 0

    def _df(self, dy, positive):
        return dy * positive  # a new array: dy is never edited in place


class Tanh(_Elementwise):
    """f(x) = tanh(x); f'(x) = 1 - tanh(x)^2."""

    def _f(self, x):
        return tanh(x)

    def _df(self, dy, y):
        return dy * _dtanh(y)


class Sigmoid(_Elementwise):
    """f(x) = 1 / (1 + exp(-x)) computed stably (:func:`sigmoid`); f'(x) = f(x)(1 - f(x))."""

    def _f(self, x):
        return sigmoid(x)

    def _df(self, dy, y):
        return dy * _dsigmoid(y)


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
