"""Layer normalization and batch normalization over the last (channel) axis, Keras names.

Both standardise and then scale and shift with learned ``gamma`` and ``beta``:

    x^ = (x - mu) / sqrt(var + epsilon),    y = gamma * x^ + beta

and differ only in which values mu and var are taken over:

* :class:`LayerNormalization` (Ba et al. 2016): per position, over the D features of
  the last axis, in training and inference alike (the Transformer's norm);
* :class:`BatchNormalization` (Ioffe & Szegedy 2015): per channel, over the batch and
  every other leading axis (N, or N, H, W for images ``(N, H, W, C)``) while training,
  and over the *moving* statistics at inference.

Both backward passes are written out in closed form. With m values in a group, g =
dL/dx^ = gamma * dy, and the group means written <.>:

    dL/dx = (g - <g> - x^ <g x^>) / sqrt(var + epsilon)

which is the "three-term" batch-norm gradient (Ioffe & Szegedy's chain of dvar and
dmu, summed up): the direct term, the one through the mean and the one through the
variance. Explained in chapters/03-2-models.md.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import check_real
from .layer import Layer

__all__ = ["LayerNormalization", "BatchNormalization", "normalize_backward"]


def normalize_backward(g, xhat, inv_std, axes):
    """dL/dx of x^ = (x - mean) / sqrt(var + eps) given g = dL/dx^, over ``axes``.

    dL/dx = inv_std * (g - mean(g) - x^ * mean(g * x^)), the means over ``axes`` (the
    m values that shared one mean and one biased variance). ``inv_std`` is
    1 / sqrt(var + eps), broadcastable to ``g``. Chapter: chapters/03-2-models.md.
    """
    mean_g = g.mean(axis=axes, keepdims=True)
    mean_gx = (g * xhat).mean(axis=axes, keepdims=True)
    return inv_std * (g - mean_g - xhat * mean_gx)


class _Norm(Layer):
    """Shared parameters (gamma, beta over the last axis) and checks."""

    def __init__(self, epsilon, center=True, scale=True, name=None):
        super().__init__(name)
        self.epsilon = check_real(epsilon, "epsilon", where=type(self).__name__, low=0.0,
                                  low_open=True)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape):
        c = input_shape[-1]
        dtype = backend.floatx()
        # gamma and beta always exist (the contract's parameter names); center/scale=False
        # freezes them at 0/1 by never filling their gradient with anything but zeros.
        self.add_param("gamma", np.ones(c, dtype=dtype))
        self.add_param("beta", np.zeros(c, dtype=dtype))
        self.built = True

    def _check(self, x, min_ndim):
        self._check_input(x, min_ndim=min_ndim)
        self._ensure_built(x.shape)
        c = self.params["gamma"].shape[0]
        if x.shape[-1] != c:
            raise ValueError(f"{self.describe()}: argument 'x' must have {c} features in its "
                             f"last axis (the layer was built for that), got shape "
                             f"{tuple(x.shape)}")

    def _affine(self, xhat):
        y = xhat * self.params["gamma"] if self.scale else xhat
        return y + self.params["beta"] if self.center else y

    def _affine_grads(self, dy, xhat, axes):
        xp = backend.xp()
        p = self.params
        self.grads["gamma"] = ((dy * xhat).sum(axis=axes) if self.scale
                               else xp.zeros_like(p["gamma"]))
        self.grads["beta"] = dy.sum(axis=axes) if self.center else xp.zeros_like(p["beta"])
        return dy * p["gamma"] if self.scale else dy

    def get_config(self):
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale}


class LayerNormalization(_Norm):
    """y = gamma * (x - mu) / sqrt(var + epsilon) + beta, mu and var over the last axis.

    Parameters
    ----------
    epsilon : float
        Added to the variance (Keras' default 1e-3; PyTorch's ``LayerNorm`` uses 1e-5).
    center, scale : bool
        Learn beta / gamma (they stay 0 / 1 when False).

    Notes
    -----
    Shapes: x ``(N, ..., D)`` -> y of the same shape; ``gamma (D,)``, ``beta (D,)``.
    mu and the biased variance var are taken per position over the D features, so
    training and inference compute the same thing (no moving statistics).

    Backward: with g = gamma * dy, dx = (g - <g> - x^ <g x^>) / sqrt(var + eps), the
    means over the last axis; dgamma = sum dy * x^, dbeta = sum dy over every leading
    position. Source: Ba, Kiros & Hinton, "Layer Normalization", 2016; Keras
    ``LayerNormalization``; ``torch.nn.functional.layer_norm``.
    Chapter: chapters/03-2-models.md.
    """

    def __init__(self, epsilon=1e-3, center=True, scale=True, name=None):
        super().__init__(epsilon, center, scale, name)

    def forward(self, x, training=False):
        self._check(x, min_ndim=2)
        xp = backend.xp()
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=-1, keepdims=True)  # biased, as Keras and PyTorch
        inv_std = 1.0 / xp.sqrt(var + self.epsilon)
        xhat = xc * inv_std
        self._cache = (xhat, inv_std)
        return self._affine(xhat)

    def backward(self, dy):
        xhat, inv_std = self._saved()
        self._check_grad(dy, xhat.shape)
        lead = tuple(range(dy.ndim - 1))
        g = self._affine_grads(dy, xhat, lead)
        return normalize_backward(g, xhat, inv_std, -1)


class BatchNormalization(_Norm):
    """Batch normalization over every axis but the last (channels-last, Keras names).

    Training (``training=True``): mu_B and var_B over the batch (and H, W for images),

        y = gamma * (x - mu_B) / sqrt(var_B + epsilon) + beta,
        moving_mean     <- momentum * moving_mean     + (1 - momentum) * mu_B
        moving_variance <- momentum * moving_variance + (1 - momentum) * var_B * m/(m-1)

    (the moving variance takes the *unbiased* batch variance, as PyTorch does; the
    normalisation itself uses the biased one). Inference (``training=False``):

        y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta,

    which is an affine map of x; its backward is dy * gamma / sqrt(moving_variance + eps).

    Parameters
    ----------
    momentum : float in [0, 1)
        Weight of the *old* moving value (Keras' convention; PyTorch's ``momentum=0.1``
        is the weight of the *new* batch value, i.e. Keras' 0.9; Keras' default 0.99
        is PyTorch's 0.01).
    epsilon : float
        Added to the variance (Keras' 1e-3; PyTorch's default 1e-5).
    center, scale : bool
        Learn beta / gamma.

    Notes
    -----
    State: ``moving_mean`` and ``moving_variance`` ``(C,)`` start at 0 and 1; they are
    not in ``params`` (no optimizer steps them) but in ``self.state``, which checkpoints
    save and restore. Shapes: x ``(N, C)``, ``(N, T, C)`` or ``(N, H, W, C)`` -> the same.

    Backward in training mode, m the number of values per channel, g = gamma * dy:

        dx = (g - <g> - x^ <g x^>) / sqrt(var_B + epsilon)

    (the three terms: direct, through mu_B, through var_B).

    Raises ``ValueError`` when training on a batch with a single value per channel
    (its unbiased variance is undefined; PyTorch raises too).

    Source: Ioffe & Szegedy, "Batch Normalization", 2015; Keras ``BatchNormalization``;
    ``torch.nn.functional.batch_norm``. Chapter: chapters/03-2-models.md.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, center=True, scale=True, name=None):
        super().__init__(epsilon, center, scale, name)
        self.momentum = check_real(momentum, "momentum", where="BatchNormalization", low=0.0,
                                   high=1.0, high_open=True)
        self.state = {}

    def build(self, input_shape):
        super().build(input_shape)
        c = input_shape[-1]
        xp = backend.xp()
        dtype = backend.floatx()
        self.state = {"moving_mean": xp.zeros(c, dtype=dtype),
                      "moving_variance": xp.ones(c, dtype=dtype)}

    @property
    def moving_mean(self):
        return self.state.get("moving_mean")

    @property
    def moving_variance(self):
        return self.state.get("moving_variance")

    def forward(self, x, training=False):
        self._check(x, min_ndim=2)
        xp = backend.xp()
        axes = tuple(range(x.ndim - 1))
        if training:
            m = x.size // x.shape[-1]
            if m < 2:
                raise ValueError(f"{self.describe()}: training needs more than one value per "
                                 f"channel, got x of shape {tuple(x.shape)}")
            mu = x.mean(axis=axes)
            xc = x - mu
            var = (xc * xc).mean(axis=axes)  # biased: what normalises the batch
            inv_std = 1.0 / xp.sqrt(var + self.epsilon)
            xhat = xc * inv_std
            mom = self.momentum
            st = self.state
            st["moving_mean"] = mom * st["moving_mean"] + (1 - mom) * mu
            st["moving_variance"] = (mom * st["moving_variance"]
                                     + (1 - mom) * var * (m / (m - 1)))
        else:
            inv_std = 1.0 / xp.sqrt(self.state["moving_variance"] + self.epsilon)
            xhat = (x - self.state["moving_mean"]) * inv_std
        self._cache = (xhat, inv_std, bool(training), axes)
        return self._affine(xhat)

    def backward(self, dy):
        xhat, inv_std, training, axes = self._saved()
        self._check_grad(dy, xhat.shape)
        g = self._affine_grads(dy, xhat, axes)
        if not training:
            return g * inv_std  # inference: x^ is affine in x
        return normalize_backward(g, xhat, inv_std, axes)

    def get_config(self):
        return {"momentum": self.momentum, **super().get_config()}
