"""Vectorisable math for the CPU kernels: functions made only of +, *, / and selects.

LLVM can turn a loop into SIMD code only if every call in it can be vectorised; libm's
``exp``/``erf`` cannot (Numba has no vector math library without Intel SVML), so a loop
calling ``math.exp`` runs one element at a time. These replacements inline into the
caller's loop and vectorise. They compute in float64, which is far more than float32
results need; the float64 kernels keep libm. ``exp_nonpos`` is valid for arguments <= 0
only: the math modules that get it bound in (``kernels/softmax_math.py``,
``kernels/gelu_math.py``) document that their arguments stay there.
"""
from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always", error_model="numpy")
def exp_nonpos(a):
    """exp(a) for a <= 0, as ``(Taylor_12(a / 256))^256``: relative error ~3e-12.

    ``a / 256`` lies in [-0.41, 0] for a >= -103; eight squarings raise it to the 256th
    power. Below -103 (under float32's smallest denormal, 1.4e-45) the result is 0, so
    exp(-inf) = 0 exactly (masked attention scores).
    """
    c = max(a, -103.0)
    r = c * 0.00390625
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (
        1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (
            1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600))))))))))))
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return 0.0 if a < -103.0 else p  # NaN (not < -103) stays NaN


@njit(cache=True, inline="always", error_model="numpy")
def erfc_approx(a):
    """erfc(a): Numerical Recipes' Chebyshev fit ``erfcc`` (fractional error < 1.2e-7,
    enough for float32 results), with ``exp_nonpos`` for its exponential.

    The fit is for |a|; ``erfc(-a) = 2 - erfc(a)`` gives the negative half. Above
    |a| = 10, erfc(|a|) (< 2e-45) is 0 in float32, so |a| is clamped there.
    """
    z = min(abs(a), 10.0)
    t = 1.0 / (1.0 + 0.5 * z)
    arg = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    e = t * exp_nonpos(min(arg, 0.0))
    return e if a >= 0 else 2.0 - e
