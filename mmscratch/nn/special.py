"""erf, erfc and the exact GELU on the active backend (NumPy has no erf, CuPy's is in cupyx).

``erfc`` for z >= 0 uses Numerical Recipes' form (3rd ed., section 6.2.2,
``Erf::erfccheb``):

    t = 2 / (2 + z),  u = 2 t - 1,   erfc(z) = t * exp(-z^2 + sum_k c_k T_k(u)),

with 28 Chebyshev coefficients c_k of log(exp(z^2) erfc(z) / t) computed by
``scripts/erfc_chebyshev.py`` (mpmath, 60 digits), summed with Clenshaw's recurrence.
Relative error below 1e-13 against ``math.erfc`` for z up to 26 (where erfc underflows);
negative arguments use erfc(-z) = 2 - erfc(z). tests/test_transformer.py checks it.

GELU (Hendrycks & Gimpel 2016), the exact form PyTorch's ``approximate="none"`` uses:

    gelu(x) = x Phi(x),   Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2,
    gelu'(x) = Phi(x) + x phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi).

Chapter: chapters/03-2-models.md.
"""

from __future__ import annotations

import math

from .. import backend

__all__ = ["erf", "erfc", "gelu", "gelu_grad"]

_ERFC_CHEB = (
    -0.6513268598908547,
    0.6419697923564902,
    0.019476473204185836,
    -0.009561514786808632,
    -0.0009465953444820369,
    0.00036683949785276145,
    4.252332480690777e-05,
    -2.0278578112534242e-05,
    -1.6242900046470256e-06,
    1.3036558355805232e-06,
    1.5626441722066142e-08,
    -8.523809591492654e-08,
    6.5290544390988515e-09,
    5.0593434955514685e-09,
    -9.913641564930322e-10,
    -2.2736512229318417e-10,
    9.646791102014962e-11,
    2.394038083065756e-12,
    -6.886027526536277e-12,
    8.944879271730368e-13,
    3.130921408127142e-13,
    -1.1270822525221733e-13,
    3.8108713588528985e-16,
    7.106125536922576e-15,
    -1.5230878975373303e-15,
    -9.464871412184462e-17,
    1.218683266906788e-16,
    -3.0494735135424696e-17,
)


def _erfc_nonneg(z):
    """erfc(z) for z >= 0 (Chebyshev form above); shapes: any -> the same."""
    xp = backend.xp()
    t = 2.0 / (2.0 + z)
    u2 = 2.0 * (2.0 * t - 1.0)  # 2u, used by Clenshaw's b_k = 2u b_{k+1} - b_{k+2} + c_k
    b1 = xp.zeros_like(z)
    b2 = xp.zeros_like(z)
    for c in _ERFC_CHEB[:0:-1]:  # c_27 ... c_1: a loop over coefficients, not over values
        b1, b2 = u2 * b1 - b2 + c, b1
    poly = 0.5 * u2 * b1 - b2 + _ERFC_CHEB[0]
    return t * xp.exp(-z * z + poly)


def erfc(x):
    """Complementary error function erfc(x) = 1 - erf(x) = 2/sqrt(pi) int_x^inf e^{-s^2} ds."""
    xp = backend.xp()
    e = _erfc_nonneg(xp.abs(x))
    return xp.where(x >= 0, e, 2.0 - e)


def erf(x):
    """Error function erf(x) = 2/sqrt(pi) int_0^x e^{-s^2} ds (odd; |error| < 1e-15)."""
    xp = backend.xp()
    return xp.sign(x) * (1.0 - _erfc_nonneg(xp.abs(x)))


def _phi_cdf(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2, accurate in relative terms in the lower tail."""
    return 0.5 * erfc(-x * (1.0 / math.sqrt(2.0)))


def gelu(x):
    """Exact GELU x Phi(x) (PyTorch ``gelu(approximate="none")``); shapes: any -> same."""
    return x * _phi_cdf(x)


def gelu_grad(x):
    """d gelu / dx = Phi(x) + x phi(x), phi the standard normal density."""
    xp = backend.xp()
    return _phi_cdf(x) + x * xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
