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
   is a polynomial in a squeezed variable (gelu_impl.h, normal_cdf, says why):

       M(a) phi(0) / 2 = u * P(v),   u = 1/(1 + K a),   s = K a u = 1 - u,   v = s - s0

   with K = 0.4, a in [0, 14.5] (past it Q(a) is 0 in float32), so s in [0, s_max],
   s_max = 0.853, and s0 = s_max/2 rounded to float32 (P is centred, its coefficients
   stay small). The constant phi(0)/2 = 1/(2 sqrt(2 pi)) is folded into P because the
   kernel's exp step returns 2 e^r (tg_exp.h). The fit minimises the largest *relative*
   error by Lawson's iteration (weighted least squares whose weights grow where the
   error is largest), and then rounds the coefficients to float32 one at a time,
   lowest power first, refitting the ones not yet rounded to absorb each rounding
   (rounded all at once, their ten rounding errors would simply add up).
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


def lawson(A: np.ndarray, b: np.ndarray, iters: int) -> np.ndarray:
    """c minimising max |A c - b| (the minimax fit), by Lawson's iteration.

    Each step is a weighted least-squares fit; then every point's weight is multiplied
    by its error, so the next fit tries harder where this one was worst. The weights
    converge to the points where the minimax error is reached. Returns the best c seen.
    """
    w = np.ones(len(b)) / len(b)
    best_err, best_c = np.inf, None
    for _ in range(iters):
        c, *_ = np.linalg.lstsq(A * np.sqrt(w)[:, None], b * np.sqrt(w), rcond=None)
        err = np.abs(A @ c - b)
        if err.max() < best_err:
            best_err, best_c = err.max(), c
        w = w * err
        w /= w.sum()
    return best_c


def mills_fit(k: float = 0.4, degree: int = 9, a_max: float = 14.5, n: int = 4000):
    """P's float32 coefficients (ascending powers of v), s0, and the largest relative
    error of u P(v) on the fit's points: of the float64 fit, and once rounded."""
    s_max = k * a_max / (1 + k * a_max)
    s0 = float(np.float32(s_max / 2))
    half_phi0 = 1 / (2 * mp.sqrt(2 * mp.pi))  # phi(0)/2, folded into P

    # n Chebyshev points in s on [0, s_max] (dense near both ends, where the error of a
    # polynomial fit peaks), and the a, u, v that go with each.
    j = np.arange(n)
    s = s_max / 2 + s_max / 2 * np.cos(np.pi * (j + 0.5) / n)
    a = s / (k * (1 - s))
    u = 1 - s
    v = s - s0
    # P's target: f = M(a) phi(0)/2 / u, so that u P(v) = M(a) phi(0)/2.
    f = np.array([float(mills(ai) * half_phi0) for ai in a]) / u  # (n,)
    # Row i of A is (1, v_i, v_i^2, ...) / f_i: then A c - 1 is P's relative error.
    A = np.vander(v, degree + 1, increasing=True) / f[:, None]  # (n, degree + 1)

    c = lawson(A, np.ones(n), iters=300)  # the minimax fit in float64
    fit_err = float(np.max(np.abs(A @ c - 1)))

    # Round to float32: the lowest coefficient not yet rounded is rounded, and those
    # above it are refitted (minimax again) to what the rounded ones leave over.
    rounded: list[float] = []
    for i in range(degree + 1):
        rounded.append(float(np.float32(c[0])))
        if i == degree:
            break
        rest = 1 - A[:, : i + 1] @ np.array(rounded)  # (n,)
        c = lawson(A[:, i + 1 :], rest, iters=200)  # coefficients i+1 .. degree
    p = np.array(rounded)
    return p, s0, fit_err, float(np.max(np.abs(A @ p - 1)))


def c_hex_f32(x: float) -> str:
    """A float32 value as a C hexadecimal float literal, e.g. -0x1.083834p-6f."""
    mantissa, exponent = float(x).hex().split("p")
    return f"{mantissa[: mantissa.index('.') + 7]}p{exponent}f"  # 23 bits fit in 6 hex digits


if __name__ == "__main__":
    for deg in (6, 11):
        c, err = exp_poly(deg)
        print(f"e^r, degree {deg}: max error {mp.nstr(err, 3)}")
        print("   ", ", ".join(mp.nstr(ci, 20) for ci in c))
        # tg_exp.h evaluates 2 e^r (the factor 2 lets 2^(n-1) stay a normal float)
        print("    doubled, as in tg_exp.h:", ", ".join(mp.nstr(2 * ci, 20) for ci in c))
    print("ln2 split, float32 (9 bits):", cody_waite_ln2(9, 24))
    print("ln2 split, float64 (32 bits):", cody_waite_ln2(32))
    p, s0, fit_err, err = mills_fit()
    print("Mills ratio, K = 0.4, degree 9, u P(s - s0) = M(a) phi(0)/2:")
    print(f"    max relative error {fit_err:.2e} (float64 fit), {err:.2e} (float32 coefficients)")
    print(f"    s0 = {c_hex_f32(s0)} = {s0:.8f}")
    # highest power first, the order of gelu_impl.h's Horner steps
    print("   ", ", ".join(c_hex_f32(pi) for pi in p[::-1]))
