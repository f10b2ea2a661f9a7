"""Print the Chebyshev coefficients of mmscratch.nn.special.erfc (run once; needs mpmath).

For z >= 0, with t = 2 / (2 + z) in (0, 1] and u = 2 t - 1 in (-1, 1],

    erfc(z) = t * exp(-z^2 + P(u)),    P(u) = sum_k c_k T_k(u),

P being the Chebyshev interpolant of log(exp(z^2) erfc(z) / t), a smooth bounded
function of u (the idea of Numerical Recipes' ``Erf::erfccheb``, 3rd ed., 6.2.2).
The values are computed with mpmath at 60 digits at the Chebyshev points of the first
kind; the coefficients are rounded to doubles.

    python scripts/erfc_chebyshev.py 28
"""

from __future__ import annotations

import sys

import mpmath


def coefficients(n):
    mpmath.mp.dps = 60
    nodes = [mpmath.cos(mpmath.pi * (j + mpmath.mpf(1) / 2) / n) for j in range(n)]

    def g(u):
        t = (u + 1) / 2
        z = 2 / t - 2
        return mpmath.log(mpmath.exp(z * z) * mpmath.erfc(z) / t)

    vals = [g(u) for u in nodes]
    coefs = []
    for k in range(n):
        s = sum(v * mpmath.cos(mpmath.pi * k * (j + mpmath.mpf(1) / 2) / n)
                for j, v in enumerate(vals))
        coefs.append(s * (1 if k == 0 else 2) / n)
    return [float(c) for c in coefs]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 28
    print(",\n".join(f"    {c!r}" for c in coefficients(n)))
