"""Weight initializers, drawn on the host with a seeded NumPy Generator.

Drawing on the host and copying to the device (``Layer.add_param``) makes a seeded
model start from the same weights on NumPy and CuPy, whose random streams differ.

* Glorot (Xavier) uniform: W ~ U(-l, l), l = sqrt(6 / (fan_in + fan_out)), keeps the
  activation variance of tanh/sigmoid layers roughly constant (Glorot & Bengio 2010).
* He normal: W ~ N(0, 2 / fan_in), the same for ReLU layers, which zero half their
  inputs (He et al. 2015).
"""

from __future__ import annotations

import numpy as np

from ..extmath import host_rng

__all__ = ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "orthogonal",
           "zeros", "get", "make_rng"]


def make_rng(seed=None) -> np.random.Generator:
    """A host Generator from an int seed, an existing Generator, or None (fresh entropy):
    :func:`mmscratch.extmath.host_rng`, the one generator helper."""
    return host_rng(seed, "seed")


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(shape, rng, dtype="float32"):
    """U(-sqrt(6/(fan_in+fan_out)), +sqrt(6/(fan_in+fan_out)))."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def glorot_normal(shape, rng, dtype="float32"):
    """N(0, 2/(fan_in+fan_out))."""
    fan_in, fan_out = _fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def he_normal(shape, rng, dtype="float32"):
    """N(0, 2/fan_in), for layers followed by ReLU."""
    fan_in, _ = _fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def he_uniform(shape, rng, dtype="float32"):
    """U(-sqrt(6/fan_in), +sqrt(6/fan_in))."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, rng, dtype="float32"):
    """A (semi-)orthogonal matrix from the QR of a Gaussian matrix (recurrent weights)."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    q = q if rows >= cols else q.T
    return q[:rows, :cols].reshape(shape).astype(dtype)


def zeros(shape, rng=None, dtype="float32"):
    return np.zeros(shape, dtype=dtype)


_BY_NAME = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_normal, he_uniform,
                                     orthogonal, zeros)}


def get(name_or_fn):
    """Look an initializer up by name (``"glorot_uniform"``) or pass a callable through."""
    if callable(name_or_fn):
        return name_or_fn
    try:
        return _BY_NAME[name_or_fn]
    except KeyError:
        raise ValueError(f"unknown initializer {name_or_fn!r}; choose from "
                         f"{sorted(_BY_NAME)}") from None
