"""Central-difference gradient checks in float64 for layers, losses and whole models.

For a scalar function f and an element x_k, the numerical gradient is

    n_k = (f(x + eps e_k) - f(x - eps e_k)) / (2 eps)

and the analytic gradient ``a`` from ``backward`` is compared through CS231n's
relative error

    rel_error = max_k |a_k - n_k| / max(1e-8, |a_k| + |n_k|).

A layer's output y is reduced to a scalar with a *random* upstream gradient g,
f(x) = sum(y * g), so that every element of ``backward(g)`` is exercised (a plain
sum would hide errors that cancel). Checks run in float64: float32 round-off
(~1e-7 relative) would swamp the 1e-6 threshold.

Works on every backend; the loop over elements is the point of a checker, not a
hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import backend

__all__ = [
    "GradCheckResult",
    "rel_error",
    "numerical_gradient",
    "check_layer",
    "check_loss",
    "check_model",
    "check_function",
    "assert_gradcheck",
    "to_float64",
]


@dataclass
class GradCheckResult:
    """Outcome of one comparison: which gradient, its worst element and the error there."""

    name: str
    rel_error: float
    index: tuple
    analytic: float
    numeric: float

    def passed(self, tol: float = 1e-6) -> bool:
        return bool(self.rel_error < tol)

    def __str__(self):
        return (f"{self.name}: rel_error={self.rel_error:.3e} at index {self.index} "
                f"(analytic {self.analytic:.6e}, numeric {self.numeric:.6e})")


def rel_error(analytic, numeric, name: str = "x") -> GradCheckResult:
    """CS231n's relative error, with the worst element and its index."""
    a = np.asarray(backend.to_numpy(analytic), dtype=np.float64)
    n = np.asarray(backend.to_numpy(numeric), dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"{name}: analytic gradient has shape {a.shape}, numeric {n.shape}")
    if a.size == 0:
        return GradCheckResult(name, 0.0, (), 0.0, 0.0)
    err = np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))
    flat = int(np.argmax(err))
    idx = np.unravel_index(flat, a.shape)
    return GradCheckResult(name, float(err.flat[flat]), tuple(int(i) for i in idx),
                           float(a.flat[flat]), float(n.flat[flat]))


def _scalar(v) -> float:
    return float(np.asarray(backend.to_numpy(v), dtype=np.float64).sum())


def numerical_gradient(f, x, eps: float = 1e-6):
    """Central differences of the scalar function ``f()`` w.r.t. array ``x`` (perturbed in place).

    ``x`` must be float64; it is restored exactly after each element.
    """
    if x.dtype != np.float64:
        raise ValueError(f"numerical_gradient needs a float64 array, got {x.dtype}")
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(*x.shape):
        old = backend.to_numpy(x[idx]).copy()
        x[idx] = old + eps
        fp = _scalar(f())
        x[idx] = old - eps
        fm = _scalar(f())
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * eps)
    return grad


def to_float64(layer):
    """Cast every parameter of ``layer`` (and of its sub-layers) to float64 in place."""
    for owner, key in layer.parameters():
        owner.params[key] = owner.params[key].astype(np.float64)
        owner.grads[key] = owner.grads[key].astype(np.float64)
    return layer


def _as_list(x):
    return (list(x), True) if isinstance(x, (list, tuple)) else ([x], False)


def _random_like(y, rng):
    return backend.asarray(rng.standard_normal(tuple(y.shape)))


def check_layer(layer, x, *, training: bool = False, eps: float = 1e-6, seed: int = 0,
                wrt=None, forward_kwargs=None) -> dict:
    """Gradient check of ``layer`` w.r.t. its input(s) and every parameter.

    ``x`` is an array or a list of arrays (multi-input layers). Non-float inputs
    (integer indices, boolean masks) are passed through and not checked.
    Returns ``{name: GradCheckResult}`` with names ``"x"`` (or ``"x0"``, ``"x1"``
    for lists) and the parameter keys; ``wrt`` restricts to some of them.
    """
    rng = np.random.default_rng(seed)
    kwargs = dict(forward_kwargs or {})
    xs, is_list = _as_list(x)
    xs = [backend.asarray(backend.to_numpy(a).astype(np.float64))
          if backend.to_numpy(a).dtype.kind == "f" else a for a in xs]

    def run():
        return layer.forward(xs if is_list else xs[0], training=training, **kwargs)

    run()  # builds lazily-built layers
    to_float64(layer)
    ys, y_is_list = _as_list(run())
    gs = [_random_like(y, rng) for y in ys]

    def f():
        out, _ = _as_list(run())
        return sum((o * g).sum() for o, g in zip(out, gs))

    f()
    dx = layer.backward(gs if y_is_list else gs[0])
    dxs, _ = _as_list(dx)
    analytic_params = [(owner, k, owner.grads[k].copy()) for owner, k in layer.parameters()]

    results = {}
    names = ["x"] if not is_list else [f"x{i}" for i in range(len(xs))]
    for name, a, g in zip(names, xs, dxs):
        if backend.to_numpy(a).dtype.kind != "f" or (wrt is not None and name not in wrt):
            continue
        results[name] = rel_error(g, numerical_gradient(f, a, eps), name)
    for owner, k, g in analytic_params:
        label = k if owner is layer else f"{owner.name}.{k}"
        if wrt is not None and label not in wrt:
            continue
        results[label] = rel_error(g, numerical_gradient(f, owner.params[k], eps), label)
    return results


def check_loss(loss, pred, target, *, eps: float = 1e-6) -> dict:
    """Gradient check of ``loss.forward(pred, target)`` w.r.t. ``pred``."""
    pred = backend.asarray(backend.to_numpy(pred).astype(np.float64))

    def f():
        return loss.forward(pred, target)

    f()
    analytic = loss.backward()
    return {"pred": rel_error(analytic, numerical_gradient(f, pred, eps), "pred")}


def check_model(model, x, y, loss, *, eps: float = 1e-6, check_input: bool = True) -> dict:
    """Gradient check of ``loss(model(x), y)`` w.r.t. every parameter of the model.

    ``x`` may be an array or a dict of named inputs (multimodal models); float
    inputs are checked too when ``check_input``.
    """
    if isinstance(x, dict):
        xs = {k: (backend.asarray(backend.to_numpy(v).astype(np.float64))
                  if backend.to_numpy(v).dtype.kind == "f" else v) for k, v in x.items()}
    else:
        xs = backend.asarray(backend.to_numpy(x).astype(np.float64))

    def f():
        return loss.forward(model.forward(xs, training=False), y)

    f()
    to_float64(model)
    f()
    dx = model.backward(loss.backward())
    grads = [(owner, k, owner.grads[k].copy()) for owner, k in model.parameters()]
    results = {}
    for i, (owner, k, g) in enumerate(grads):
        label = f"{i}:{owner.name}.{k}"
        results[label] = rel_error(g, numerical_gradient(f, owner.params[k], eps), label)
    if check_input:
        if isinstance(xs, dict):
            for key, a in xs.items():
                if backend.to_numpy(a).dtype.kind == "f" and dx is not None and key in dx:
                    results[f"input:{key}"] = rel_error(
                        dx[key], numerical_gradient(f, a, eps), f"input:{key}")
        elif dx is not None:
            results["input"] = rel_error(dx, numerical_gradient(f, xs, eps), "input")
    return results


def check_function(forward, backward, x, *, eps: float = 1e-6, seed: int = 0) -> GradCheckResult:
    """Check a pure pair ``y = forward(x)``, ``dx = backward(dy)`` (e.g. a feature stage)."""
    rng = np.random.default_rng(seed)
    x = backend.asarray(backend.to_numpy(x).astype(np.float64))
    g = _random_like(forward(x), rng)

    def f():
        return (forward(x) * g).sum()

    forward(x)
    analytic = backward(g)
    return rel_error(analytic, numerical_gradient(f, x, eps), "x")


def assert_gradcheck(results, tol: float = 1e-6) -> None:
    """Raise ``AssertionError`` listing every gradient whose relative error is >= ``tol``."""
    if isinstance(results, GradCheckResult):
        results = {results.name: results}
    if not results:
        raise AssertionError("gradient check compared nothing")
    bad = [str(r) for r in results.values() if not r.passed(tol)]
    if bad:
        raise AssertionError(f"gradient check failed (tol {tol:g}):\n  " + "\n  ".join(bad))
