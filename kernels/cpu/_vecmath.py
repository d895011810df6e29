"""Vectorisable math for the CPU kernels: functions made only of +, *, /, integer bit
operations, selects and LLVM intrinsics that have SIMD forms.

LLVM can turn a loop into SIMD code only if every call in it can be vectorised; libm's
``exp``/``erfc`` cannot (Numba has no vector math library without Intel SVML), so a loop
calling ``math.exp`` runs one element at a time. These replacements inline into the
caller's loop and vectorise. The float64 kernels keep libm.

* :func:`exp32` and :func:`erfc32`: exp and erfc for float32 results over the whole
  float32 range (denormal results, +-inf and NaN included). Their polynomials, the bulk
  of the work, run in float32 arithmetic: twice the SIMD lanes of float64. They take a
  float32 or a float64 argument and read it as exact; the few steps whose rounding the
  result would magnify (``x - n ln2`` below, ``a^2`` and ``1 / (a + 2)`` in erfc32) run in
  float64, so a float64 argument formed by the caller (``-v / sqrt 2`` and ``-v^2 / 2``
  in GELU) keeps its digits: exp(x) has relative condition |x|, and an
  argument of -80 rounded to float32 would cost ~40 ulp. Max errors against float64 libm,
  measured by ``tests/test_vecmath_f32.py``: exp32 1.3 ulp, erfc32 3.2 ulp (3.5 compiled
  with ``reassoc``), for normal results.
* :func:`exp_nonpos`: exp(a) for a <= 0 in float64 arithmetic (relative error ~3e-12),
  for float64 results.
* :func:`maxnum`: the larger of two floats as LLVM's ``maxnum``, which the loop vectoriser
  turns into a SIMD max reduction (a row's maximum); Python's ``max`` compiles to a compare
  and a select, which it leaves as one scalar step per element. maxnum returns the other
  operand when one is NaN; a row holding a NaN still comes out NaN from softmax, through
  its ``exp(NaN - max)``.

How exp32 works: ``x = n ln2 + r`` with ``n = rint(x / ln2)`` and ``|r| <= ln2 / 2``, so
``exp(x) = 2^n exp(r)``. The one step that needs more than float32 precision is
``r = x - n ln2``: r is small, so an absolute error there is a relative error of the
result, and float32's ln2 is off by 1.5e-9, times n up to 150. It is done as one float64
multiply-subtract (2 of the ~20 operations); the classic all-float32 alternative, ln2 in
two parts (Cody-Waite), relies on the order of its subtractions, which the ``reassoc``
flag that row kernels compile their sums with lets LLVM change (4.5 ulp measured). exp(r) is Cephes'
polynomial ``1 + r + r^2 P5(r)`` in float32 (relative error below 1 ulp on that range).
2^n is applied without libm through bit patterns (a float32's exponent field is bits
23-30, biased by 127) in two halves, so that n from -150 (denormal results) to 128
(results near FLT_MAX) needs only normal intermediates, and the last multiply rounds the
result once. Arguments are clamped to [-104, 89] first: beyond them the result is 0
(below half the smallest denormal) or inf, and the clamped value gives exactly that.

The caller's ``fastmath`` flags apply to these functions once inlined; they keep their
accuracy under ``reassoc``, ``contract`` and ``nsz`` (no ``nnan``/``ninf``: the special
values rely on IEEE comparisons).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_F32 = np.float32

# exp32: range reduction and polynomial (Cephes expf).
LOG2E = _F32(1.4426950408889634)
LN2 = 0.6931471805599453  # float64: the range reduction runs in float64
_EXP_LO = _F32(-104.0)  # exp(-104) < 2^-150: rounds to 0
_EXP_HI = _F32(89.0)  # exp(89) > FLT_MAX: overflows to inf
_P0 = _F32(1.9875691500e-4)
_P1 = _F32(1.3981999507e-3)
_P2 = _F32(8.3334519073e-3)
_P3 = _F32(4.1665795894e-2)
_P4 = _F32(1.6666665459e-1)
_P5 = _F32(5.0000001201e-1)
_ONE = _F32(1.0)
_TWO = _F32(2.0)
_ZERO = _F32(0.0)
_NAN = _F32(np.nan)

# erfc32: erfc(a) = exp(-a^2 + Q(q)) / (a + 2) for a >= 0, with q = (a - 2) / (a + 2) in
# [-1, 0.67] and Q a degree-10 polynomial, least-squares fitted to log((a + 2) exp(a^2)
# erfc(a)) (max error 6e-9). Above ERFC_MAX, erfc(a) < 2^-150 rounds to 0 in float32.
ERFC_MAX = _F32(10.0546875)
_Q0 = _F32(-0.00013448163)
_Q1 = _F32(-0.0005082761)
_Q2 = _F32(-4.7888978e-05)
_Q3 = _F32(0.0022859613)
_Q4 = _F32(0.001711434)
_Q5 = _F32(-0.008815666)
_Q6 = _F32(-0.009863892)
_Q7 = _F32(0.046895023)
_Q8 = _F32(0.047342744)
_Q9 = _F32(-0.6726432)
_Q10 = _F32(0.021353101)


@njit(cache=True, inline="always", error_model="numpy")
def _pow2(n):
    """2^n as a float32 for integer -126 <= n <= 127, from its bit pattern."""
    return np.int32((n + 127) << 23).view(np.float32)


@njit(cache=True, inline="always", error_model="numpy")
def _reduce(x):
    """``(r, n)`` with ``x = n ln2 + r``, n integer, |r| <= ln2/2, r a float32: float64 ``x``
    in [-104, 89] (one float64 multiply-subtract; see the module docstring)."""
    n = np.rint(_F32(x) * LOG2E)
    return _F32(x - np.float64(n) * LN2), np.int32(n)


@njit(cache=True, inline="always", error_model="numpy")
def _exp_reduced(r):
    """exp(r) for float32 |r| <= ln2/2 + 1e-6: Cephes' ``1 + r + r^2 P(r)``, P evaluated
    in Estrin's order (pairs, then pairs of pairs: 3 dependent steps instead of Horner's 5,
    so that the CPU overlaps more of them)."""
    r2 = r * r
    p = (_P5 + _P4 * r) + r2 * (_P3 + _P2 * r) + (r2 * r2) * (_P1 + _P0 * r)
    return (p * r2 + r) + _ONE


@njit(cache=True, inline="always", error_model="numpy")
def _scale(p, n):
    """p 2^n for float32 p in [2^-5, 2) and integer -150 <= n <= 128, rounded once (denormal
    results included): ``p 2^(n//2)`` by adding n//2 to p's exponent field (exact: the
    result is normal), then one multiply by 2^(n - n//2). (Two float multiplies would let
    ``reassoc`` multiply the powers of two first: 2^64 2^64 overflows.)"""
    half = n >> 1
    scaled = np.int32(_F32(p).view(np.int32) + (half << 23)).view(np.float32)
    return scaled * _pow2(n - half)


@njit(cache=True, inline="always", error_model="numpy")
def exp32(x):
    """exp(x) as a float32, for a float32 or float64 ``x`` (read as exact), to 1.3 ulp.

    0 for x <= -104 (and -inf), inf from x > ln(FLT_MAX) = 88.72 (and +inf), NaN for NaN.
    """
    c = _EXP_LO if x < _EXP_LO else x  # written so that NaN passes through
    c = _EXP_HI if c > _EXP_HI else c
    r, n = _reduce(np.float64(c))
    y = _scale(_exp_reduced(r), n)
    return y if x == x else _NAN


@njit(cache=True, inline="always", error_model="numpy")
def erfc32(x):
    """erfc(x) as a float32, for a float32 or float64 ``x`` (read as exact), to 3.2 ulp.

    For a = |x|: ``erfc(a) = exp(-a^2 + Q(q)) / (a + 2)`` (constants above), Q in float32.
    The exponent is formed in float64 (a^2 is exact there for float32 a), so exp keeps its
    digits where erfc is tiny: erfc(9) = 4e-37, and a^2 = 81 rounded to float32 would cost
    ~50 ulp. ``1 / (a + 2)`` and q are formed in float64 too: a + 2 rounded to float32
    drops the low bits of a small a, 1 ulp of a result just below 1 (max error 4.7 ulp
    that way, 3.1 this way, for 5% more time in the GELU loops).
    ``erfc(-a) = 2 - erfc(a)``; erfc(+inf) = 0, erfc(-inf) = 2, NaN for NaN.
    """
    a = abs(x)
    a = ERFC_MAX if a > ERFC_MAX else a  # NaN passes through
    a64 = np.float64(a)
    d64 = 1.0 / (a64 + 2.0)
    d = _F32(d64)
    q = _F32((a64 - 2.0) * d64)
    q2 = q * q
    q4 = q2 * q2
    s = (((_Q10 + _Q9 * q) + q2 * (_Q8 + _Q7 * q)) + q4 * ((_Q6 + _Q5 * q) + q2 * (_Q4 + _Q3 * q))
         + (q4 * q4) * ((_Q2 + _Q1 * q) + q2 * _Q0))  # Estrin's order, as in _exp_reduced
    r, n = _reduce(np.float64(s) - a64 * a64)
    e = _scale(_exp_reduced(r) * d, n)
    e = _ZERO if abs(x) > ERFC_MAX else e
    e = _TWO - e if x < 0 else e
    return e if x == x else _NAN


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



@intrinsic
def _llvm_maxnum(typingctx, a, b):
    """``llvm.maxnum`` of two floats of one type."""
    if not (isinstance(a, types.Float) and a == b):
        return None

    def codegen(context, builder, signature, args):
        ty = context.get_value_type(signature.return_type)
        fn = builder.module.declare_intrinsic("llvm.maxnum", [ty], ir.FunctionType(ty, [ty, ty]))
        return builder.call(fn, args)

    return a(a, b), codegen


@njit(cache=True, inline="always")
def maxnum(a, b):
    """max(a, b) for two floats of one type, as LLVM's ``maxnum`` (see the module docstring)."""
    return _llvm_maxnum(a, b)
