"""Where the magic numbers in csrc/tg_exp.h and csrc/gelu_impl.h come from.

Run `python csrc/fit_coefficients.py` (needs mpmath, which ships with sympy/torch) to
print them again. Nothing imports this file: it is the derivation, kept beside the
C code the way a textbook keeps the proof beside the theorem.

1. e^r on [-ln2/2, ln2/2]. After range reduction (tg_exp.h) only this short interval
   is left, and a polynomial of low degree is enough. `mpmath.chebyfit` interpolates
   at Chebyshev points, which is within a hair of the best ("minimax") polynomial:
   its error spreads evenly over the interval instead of piling up at the ends as a
   Taylor series' does.

2. The Mills ratio M(a) = Q(a) / phi(a), for the exact GELU in float32.
   GELU(x) = x * Phi(x), Phi the standard normal CDF. For x < 0, Phi(x) = Q(|x|) is
   tiny, and 1 + erf(x/sqrt2) would cancel catastrophically, so we compute the upper
   tail Q(a) = phi(a) * M(a) directly: phi(a) = exp(-a^2/2)/sqrt(2 pi) goes through
   the vector exp, and M(a), which falls smoothly from sqrt(pi/2) at a = 0 to ~1/a,
   is fitted as M(a) = t * P(t) with t = 1/(1 + K a) in (0, 1], P a polynomial.
   The fit minimises the largest *relative* error by Lawson's iteration (weighted
   least squares whose weights grow where the error is largest).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

mp.mp.dps = 40


def exp_poly(degree: int) -> list:
    h = mp.log(2) / 2
    coeffs, err = mp.chebyfit(mp.exp, [-h, h], degree + 1, error=True)
    return list(reversed(coeffs)), err  # c0, c1, ... (ascending powers)


def cody_waite_ln2(bits: int, mantissa: int = 53) -> tuple[float, float]:
    """ln2 = hi + lo with hi keeping only `bits` significant bits (so n*hi is exact)."""
    ln2 = mp.log(2)
    e = mp.floor(mp.log(ln2, 2))
    scale = mp.mpf(2) ** (bits - 1 - e)
    hi = mp.nint(ln2 * scale) / scale
    return float(hi), float(ln2 - hi)


def mills(a: float) -> mp.mpf:
    a = mp.mpf(a)
    q = mp.erfc(a / mp.sqrt(2)) / 2
    phi = mp.exp(-a * a / 2) / mp.sqrt(2 * mp.pi)
    return q / phi


def mills_fit(k: float = 0.3, degree: int = 9, a_max: float = 15.0):
    t_min = 1 / (1 + k * a_max)  # float32 phi(a) underflows past a ~ 14.4
    n = 600
    j = np.arange(n)
    t = (1 + t_min) / 2 + (1 - t_min) / 2 * np.cos(np.pi * (j + 0.5) / n)
    a = (1 / t - 1) / k
    f = np.array([float(mills(ai)) / ti for ai, ti in zip(a, t)])  # target P(t) = M/t
    V = np.vander(t, degree + 1, increasing=True) / f[:, None]  # relative error rows
    w = np.ones(n) / n
    for _ in range(100):  # Lawson: reweight toward the worst points
        c, *_ = np.linalg.lstsq(V * np.sqrt(w)[:, None], np.sqrt(w), rcond=None)
        err = np.abs(V @ c - 1)
        w = w * err
        w /= w.sum()
    tt = np.linspace(t_min, 1, 4001)
    aa = (1 / tt - 1) / k
    ff = np.array([float(mills(ai)) / ti for ai, ti in zip(aa, tt)])
    max_rel = float(np.max(np.abs(np.polyval(c[::-1], tt) / ff - 1)))
    return c, max_rel


if __name__ == "__main__":
    for deg in (6, 11):
        c, err = exp_poly(deg)
        print(f"e^r, degree {deg}: max error {mp.nstr(err, 3)}")
        print("   ", ", ".join(mp.nstr(ci, 20) for ci in c))
        # tg_exp.h evaluates 2 e^r (the factor 2 lets 2^(n-1) stay a normal float)
        print("    doubled, as in tg_exp.h:", ", ".join(mp.nstr(2 * ci, 20) for ci in c))
    print("ln2 split, float32 (9 bits):", cody_waite_ln2(9, 24))
    print("ln2 split, float64 (32 bits):", cody_waite_ln2(32))
    c, err = mills_fit()
    print(f"Mills ratio, K = 0.3, degree 9: max relative error {err:.2e}")
    print("   ", ", ".join(f"{ci:.9e}" for ci in c))
