"""Losses: cross-entropy for classification, squared error for regression.

Each loss has ``forward(pred, target) -> float`` (the batch mean) and
``backward() -> dpred``. See chapters/03-3-tasks.md for the document's
supervised objective y = f(x, w) made concrete.
"""

from __future__ import annotations

import warnings

from .. import backend
from ..errors import check_array
from .activations import log_softmax

__all__ = ["Loss", "SoftmaxCrossEntropy", "CategoricalCrossentropy", "MeanSquaredError", "get"]


def _host_float(v) -> float:
    return float(backend.to_numpy(v))


class Loss:
    """Base class: keeps what backward needs in ``self._cache``."""

    _cache = None

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def _saved(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward() called before forward()")
        return self._cache

    def get_config(self):
        return {}


def _targets(name, logits, target):
    """Validate labels; return (one_hot_or_None, int_labels_or_None)."""
    xp = backend.xp()
    n, c = logits.shape
    backend.check_backend(target, "target", name)
    if target.dtype.kind in "iu":
        check_array(target, "target", where=name, shape=(n,), dtype_kind="iu")
        lo, hi = (int(v) for v in backend.to_numpy(xp.stack([target.min(), target.max()])))
        if lo < 0 or hi >= c:
            raise ValueError(f"{name}: integer labels must lie in [0, {c - 1}] for {c} classes, "
                             f"got values in [{lo}, {hi}]")
        return None, target
    check_array(target, "target", where=name, shape=(n, c))
    return target, None


def _looks_like_probabilities(pred, tol):
    """True when every row of ``pred (N, C)`` lies in [0, 1] and sums to 1 within ``tol``.

    One host sync; the cross-entropy losses call it on their first batch only.
    """
    xp = backend.xp()
    ok = ((pred >= 0).all() & (pred <= 1).all()
          & (xp.abs(pred.sum(axis=1) - 1) <= tol).all())
    return bool(backend.to_numpy(ok))


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of softmax(logits) against integer or one-hot labels, averaged over N.

    L = -(1/N) sum_n sum_j y_nj log softmax(z_n)_j, with log softmax computed by
    log-sum-exp (z - max z - log sum exp(z - max z)), so logits of +-1e4 stay finite.

    Backward: dL/dz = (softmax(z) - y) / N.

    Shapes: ``pred`` logits ``(N, C)``; ``target`` ints ``(N,)`` or one-hot ``(N, C)``.
    """

    _first_batch_checked = False

    def forward(self, pred, target):
        name = type(self).__name__
        check_array(pred, "pred", where=name, ndim=2, finite=True)
        one_hot, labels = _targets(name, pred, target)
        xp = backend.xp()
        if not self._first_batch_checked:
            self._first_batch_checked = True
            if pred.shape[1] > 1 and _looks_like_probabilities(pred, 1e-5):
                # Keras warns the same way when from_logits=True meets a softmax output.
                warnings.warn(
                    f"{name} received probabilities (every row of the model's output lies "
                    "in [0, 1] and sums to 1): it applies its own softmax, so a Softmax at "
                    "the end of the model squashes the gradient. Remove the final softmax "
                    "(output logits), or use loss='categorical_crossentropy'.",
                    UserWarning, stacklevel=2)
        logp = log_softmax(pred)  # (N, C)
        n = pred.shape[0]
        if labels is not None:
            loss = -logp[xp.arange(n), labels].sum() / n
            one_hot = xp.zeros_like(pred)
            one_hot[xp.arange(n), labels] = 1
        else:
            one_hot = one_hot.astype(pred.dtype)
            loss = -(one_hot * logp).sum() / n
        self._cache = (xp.exp(logp), one_hot)
        return _host_float(loss)

    def backward(self):
        p, y = self._saved()
        return (p - y) / p.shape[0]


class CategoricalCrossentropy(Loss):
    """Keras' ``categorical_crossentropy``: the input is probabilities (after a softmax).

    L = -(1/N) sum_n sum_j y_nj log clip(p_nj, eps, 1 - eps), eps = 1e-7 as in Keras;
    backward dL/dp = -y / (N clip(p)) where p is not clipped, 0 where it is.
    With ``from_logits=True`` it is :class:`SoftmaxCrossEntropy` (the stable choice).

    On its first batch it checks (one host sync) that ``pred`` looks like
    probabilities (rows in [0, 1] summing to 1) and warns once, naming the fix, if not:
    a head without softmax would otherwise train silently at chance accuracy.
    :class:`SoftmaxCrossEntropy` warns the other way round (probabilities given
    where logits are expected).
    """

    def __init__(self, from_logits=False, eps=1e-7):
        self.from_logits = from_logits
        self.eps = eps
        self._logits = SoftmaxCrossEntropy() if from_logits else None

    def get_config(self):
        return {"from_logits": self.from_logits, "eps": self.eps}

    _first_batch_checked = False

    def forward(self, pred, target):
        if self._logits is not None:
            return self._logits.forward(pred, target)
        name = type(self).__name__
        check_array(pred, "pred", where=name, ndim=2, finite=True)
        one_hot, labels = _targets(name, pred, target)
        xp = backend.xp()
        if not self._first_batch_checked:
            self._first_batch_checked = True
            if not _looks_like_probabilities(pred, 1e-3):
                # Logits clipped to [eps, 1 - eps] train at chance with a loss near
                # -log(eps) = 16; Keras warns about from_logits mix-ups the same way.
                warnings.warn(
                    "loss='categorical_crossentropy' (CategoricalCrossentropy) expects "
                    "probabilities, but the model's output is not (values outside [0, 1] "
                    "or rows not summing to 1): the model has no softmax at its end. End "
                    "it with Softmax() / activation='softmax', or keep the logits and use "
                    "SoftmaxCrossEntropy() (= CategoricalCrossentropy(from_logits=True)).",
                    UserWarning, stacklevel=2)
        n = pred.shape[0]
        if labels is not None:
            one_hot = xp.zeros_like(pred)
            one_hot[xp.arange(n), labels] = 1
        one_hot = one_hot.astype(pred.dtype)
        clipped = xp.clip(pred, self.eps, 1 - self.eps)
        self._cache = (pred, clipped, one_hot)
        return _host_float(-(one_hot * xp.log(clipped)).sum() / n)

    def backward(self):
        if self._logits is not None:
            return self._logits.backward()
        pred, clipped, y = self._saved()
        inside = (pred >= self.eps) & (pred <= 1 - self.eps)
        return -y / clipped * inside / pred.shape[0]


class MeanSquaredError(Loss):
    """L = (1/M) sum_i (pred_i - target_i)^2 over all M elements; dL/dpred = 2 (pred - target) / M.

    The regression objective of chapters/03-3-tasks.md. ``pred`` and ``target`` must
    have the same shape (nothing is broadcast).
    """

    def forward(self, pred, target):
        name = type(self).__name__
        check_array(pred, "pred", where=name, finite=True)
        check_array(target, "target", where=name, shape=tuple(pred.shape))
        diff = pred - target
        self._cache = diff
        return _host_float((diff * diff).mean())

    def backward(self):
        diff = self._saved()
        return 2 * diff / diff.size


#: Loss classes by name, so that a checkpoint can name its loss.
LOSSES = {"SoftmaxCrossEntropy": SoftmaxCrossEntropy,
          "CategoricalCrossentropy": CategoricalCrossentropy,
          "MeanSquaredError": MeanSquaredError}

_BY_NAME = {
    "categorical_crossentropy": lambda: CategoricalCrossentropy(from_logits=False),
    "sparse_categorical_crossentropy": lambda: CategoricalCrossentropy(from_logits=False),
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}


def get(loss):
    """A loss object from an instance or a Keras-style name (``"categorical_crossentropy"``)."""
    if isinstance(loss, Loss):
        return loss
    try:
        return _BY_NAME[loss]()
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose from {sorted(_BY_NAME)} "
                         "or pass a Loss instance") from None

