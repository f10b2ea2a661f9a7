"""Optimizers that step over any object exposing ``parameters()`` -> (layer, key) pairs.

Updates are in place (``p -= ...``), so layers keep their param arrays. Optional
global-norm clipping (``clipnorm``) rescales all gradients together when their joint
L2 norm exceeds the threshold: g <- g * min(1, clipnorm / ||g||_2); it stays on the
device (no host sync).
"""

from __future__ import annotations

from .. import backend

__all__ = ["Optimizer", "SGD", "Adam", "clip_grad_norm", "global_norm", "get"]


def global_norm(grads):
    """sqrt(sum_k ||g_k||^2) over a list of gradient arrays (a 0-d device array)."""
    xp = backend.xp()
    return xp.sqrt(sum((g * g).sum() for g in grads))


def clip_grad_norm(grads, max_norm):
    """Return the gradients scaled by min(1, max_norm / global_norm(grads)) (new arrays)."""
    if max_norm is None or not grads:
        return list(grads)
    xp = backend.xp()
    scale = xp.minimum(1.0, max_norm / (global_norm(grads) + 1e-12))
    return [g * scale.astype(g.dtype) for g in grads]


class Optimizer:
    """Base class: keeps per-parameter state keyed by (layer identity, param name)."""

    def __init__(self, lr, clipnorm=None):
        if lr <= 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        if clipnorm is not None and not clipnorm > 0:
            raise ValueError(f"{type(self).__name__}: clipnorm must be positive or None, "
                             f"got {clipnorm!r}")
        self.lr = lr
        self.clipnorm = clipnorm
        self.iterations = 0
        self._state = {}

    def step(self, model):
        """Apply one update to every parameter of ``model`` from its current ``grads``."""
        pairs = list(model.parameters())
        grads = clip_grad_norm([owner.grads[k] for owner, k in pairs], self.clipnorm)
        self.iterations += 1
        for (owner, key), g in zip(pairs, grads):
            p = owner.params[key]
            state = self._state.setdefault((id(owner), key), {})
            self._update(p, g, state)

    def _update(self, p, g, state):
        raise NotImplementedError

    def get_config(self):
        return {"lr": self.lr, "clipnorm": self.clipnorm}

    # ------------------------------------------------------------ checkpoints
    def get_state(self, pairs):
        """The optimizer's whole state for a checkpoint, by parameter *position*.

        ``pairs`` is ``list(model.parameters())``. Returns ``(meta, arrays)``: ``meta`` is
        JSON-able (class, config, ``iterations`` and each parameter's scalar slots such as
        Adam's step ``t``), ``arrays`` maps ``"{i}:{slot}"`` to host arrays (SGD's
        momentum ``v``, Adam's moments ``m``, ``v``). Keys by position, not by ``id``, so
        the state fits the rebuilt model of a loaded checkpoint.
        """
        scalars, arrays = {}, {}
        for i, (owner, key) in enumerate(pairs):
            state = self._state.get((id(owner), key))
            if not state:
                continue
            for slot, value in state.items():
                if backend.is_array(value):
                    arrays[f"{i}:{slot}"] = backend.to_numpy(value)
                else:
                    scalars.setdefault(str(i), {})[slot] = value
        meta = {"class": type(self).__name__, "config": self.get_config(),
                "iterations": self.iterations, "scalars": scalars}
        return meta, arrays

    def set_state(self, pairs, meta, arrays):
        """Inverse of :meth:`get_state` (arrays moved to the active backend)."""
        self.iterations = int(meta.get("iterations", 0))
        self._state = {}
        for i, (owner, key) in enumerate(pairs):
            state = dict(meta.get("scalars", {}).get(str(i), {}))
            for name, arr in arrays.items():
                idx, _, slot = name.partition(":")
                if idx == str(i):
                    if tuple(arr.shape) != tuple(owner.params[key].shape):
                        raise ValueError(f"optimizer slot {slot!r} of {owner.name}.{key} has "
                                         f"shape {tuple(arr.shape)}, the parameter "
                                         f"{tuple(owner.params[key].shape)}")
                    state[slot] = backend.asarray(arr, dtype=owner.params[key].dtype)
            if state:
                self._state[(id(owner), key)] = state


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    v <- mu v + g;  p <- p - lr * (g + mu v if nesterov else v)   (mu = 0: p <- p - lr g)
    """

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, clipnorm=None):
        super().__init__(lr, clipnorm)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum!r}")
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, p, g, state):
        if self.momentum == 0:
            p -= self.lr * g
            return
        v = state.get("v")
        v = g.copy() if v is None else self.momentum * v + g
        state["v"] = v
        p -= self.lr * (g + self.momentum * v if self.nesterov else v)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, as ``torch.optim.Adam``.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    ``epsilon`` defaults to 1e-7 like Keras (PyTorch uses 1e-8).
    """

    def __init__(self, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, clipnorm=None):
        super().__init__(lr, clipnorm)
        # beta = 1 would make the bias correction 1 - beta^t zero (inf/NaN updates)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: {name} must be in [0, 1), got {beta!r}")
        if not epsilon >= 0:
            raise ValueError(f"Adam: epsilon must be >= 0, got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

    def _update(self, p, g, state):
        xp = backend.xp()
        if "m" not in state:
            state["m"] = xp.zeros_like(p)
            state["v"] = xp.zeros_like(p)
            state["t"] = 0
        state["t"] += 1
        t, b1, b2 = state["t"], self.beta_1, self.beta_2
        m, v = state["m"], state["v"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p -= self.lr * m_hat / (xp.sqrt(v_hat) + self.epsilon)


OPTIMIZERS = {"SGD": SGD, "Adam": Adam}


def get(optimizer):
    """An optimizer from an instance or a Keras-style name (``"adam"``, ``"sgd"``)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    names = {"adam": Adam, "sgd": SGD}
    try:
        return names[str(optimizer).lower()]()
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; use 'adam', 'sgd' "
                         "or an Optimizer instance") from None
