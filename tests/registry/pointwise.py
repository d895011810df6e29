"""Registry entries for the pointwise math ops (tinynet/functional/pointwise.py) and the
arithmetic of elementwise.py added with them (alpha, rounding division, remainder, fmod,
clamp with tensor bounds, sign)."""
import math

import numpy as np

import tinynet as tn

from . import ELEMENTWISE, OpEntry, _apart, _n


def _pos(rng, *shape):
    return rng.uniform(0.5, 2.0, size=shape)


def _unit(rng, *shape):  # inside (-1, 1), away from the ends (asin, acos, atanh, erfinv)
    return rng.uniform(-0.8, 0.8, size=shape)


def _off_integers(rng, *shape):  # away from the jumps of floor/ceil/round/trunc
    return rng.integers(-3, 4, size=shape) + rng.uniform(0.1, 0.4, size=shape) * rng.choice([-1, 1], size=shape)


def _vec(f):
    return np.vectorize(f, otypes=[float])


_erfc = _vec(math.erfc)
_erf = _vec(math.erf)


def _erfinv(y):  # Newton on math.erf from a bisection start: a float64 reference independent of tinynet's
    x = np.zeros_like(y)
    lo, hi = np.full_like(y, -6.0), np.full_like(y, 6.0)
    for _ in range(80):
        mid = (lo + hi) / 2
        below = _erf(mid) < y
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    x = (lo + hi) / 2
    for _ in range(3):
        x = x - (_erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return x


#: Piecewise-constant ops: the gradient is the constant 0, so there is no second derivative graph.
_CONSTANT = False


def _ratio_apart(rng, *shape):  # dividends whose quotient by _pos divisors stays off integers
    return _apart(rng, *shape) * 1.37 + 0.05


ENTRIES = [
    # trigonometric and hyperbolic
    OpEntry("sin", tn.sin, lambda r: [_n(r, 2, 3)], np.sin, layouts=ELEMENTWISE),
    OpEntry("cos", tn.cos, lambda r: [_n(r, 2, 3)], np.cos, layouts=ELEMENTWISE),
    OpEntry("tan", tn.tan, lambda r: [_unit(r, 2, 3)], np.tan, layouts=ELEMENTWISE),
    OpEntry("asin", tn.asin, lambda r: [_unit(r, 2, 3)], np.arcsin, layouts=ELEMENTWISE),
    OpEntry("acos", tn.acos, lambda r: [_unit(r, 2, 3)], np.arccos, layouts=ELEMENTWISE),
    OpEntry("atan", tn.atan, lambda r: [_n(r, 2, 3)], np.arctan, layouts=ELEMENTWISE),
    OpEntry("sinh", tn.sinh, lambda r: [_n(r, 2, 3)], np.sinh, layouts=ELEMENTWISE),
    OpEntry("cosh", tn.cosh, lambda r: [_n(r, 2, 3)], np.cosh, layouts=ELEMENTWISE),
    OpEntry("asinh", tn.asinh, lambda r: [_n(r, 2, 3)], np.arcsinh, layouts=ELEMENTWISE),
    OpEntry("acosh", tn.acosh, lambda r: [_pos(r, 2, 3) + 1.0], np.arccosh, layouts=ELEMENTWISE),
    OpEntry("atanh", tn.atanh, lambda r: [_unit(r, 2, 3)], np.arctanh, layouts=ELEMENTWISE),
    OpEntry("atan2", tn.atan2, lambda r: [_n(r, 3, 4), _pos(r, 4)], np.arctan2,
            layouts=ELEMENTWISE, broadcast=(1,)),
    # logarithms and exponentials
    OpEntry("log2", tn.log2, lambda r: [_pos(r, 2, 3)], np.log2, layouts=ELEMENTWISE),
    OpEntry("log10", tn.log10, lambda r: [_pos(r, 2, 3)], np.log10, layouts=ELEMENTWISE),
    OpEntry("log1p", tn.log1p, lambda r: [_pos(r, 2, 3) - 0.4], np.log1p, layouts=ELEMENTWISE),
    OpEntry("expm1", tn.expm1, lambda r: [_n(r, 2, 3)], np.expm1, layouts=ELEMENTWISE),
    OpEntry("exp2", tn.exp2, lambda r: [_n(r, 2, 3)], np.exp2, layouts=ELEMENTWISE),
    OpEntry("rsqrt", tn.rsqrt, lambda r: [_pos(r, 2, 3)], lambda a: 1 / np.sqrt(a), layouts=ELEMENTWISE),
    OpEntry("reciprocal", tn.reciprocal, lambda r: [_pos(r, 2, 3)], lambda a: 1 / a, layouts=ELEMENTWISE),
    OpEntry("square", tn.square, lambda r: [_n(r, 2, 3)], np.square, layouts=ELEMENTWISE),
    OpEntry("logaddexp", tn.logaddexp, lambda r: [_n(r, 3, 4), _n(r, 4)], np.logaddexp,
            layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("logaddexp2", tn.logaddexp2, lambda r: [_n(r, 3, 4), _n(r, 4)], np.logaddexp2,
            layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("hypot", tn.hypot, lambda r: [_apart(r, 3, 4), _apart(r, 4)], np.hypot,
            layouts=ELEMENTWISE, broadcast=(1,)),
    # erfc/erfinv use the gelu family's kernels (gelu_forward's erfc gate; erf)
    OpEntry("erfc", tn.erfc, lambda r: [_n(r, 2, 3) * 2], _erfc, layouts=ELEMENTWISE, kernel_families=("gelu",),
            tol32=(2e-6, 2e-4)),  # float32 kernels use an erfc approximation good to 1.2e-7 relative
    OpEntry("erfinv", tn.erfinv, lambda r: [_unit(r, 2, 3)], _erfinv, layouts=ELEMENTWISE,
            kernel_families=("gelu",)),
    # rounding and signs: gradient 0 (inputs away from the jumps)
    OpEntry("floor", tn.floor, lambda r: [_off_integers(r, 2, 3)], np.floor, gradgrad=_CONSTANT, layouts=ELEMENTWISE),
    OpEntry("ceil", tn.ceil, lambda r: [_off_integers(r, 2, 3)], np.ceil, gradgrad=_CONSTANT, layouts=ELEMENTWISE),
    OpEntry("trunc", tn.trunc, lambda r: [_off_integers(r, 2, 3)], np.trunc, gradgrad=_CONSTANT, layouts=ELEMENTWISE),
    OpEntry("round", tn.round, lambda r: [_off_integers(r, 2, 3)], np.round, gradgrad=_CONSTANT, layouts=ELEMENTWISE),
    OpEntry("round_decimals", lambda a: tn.round(a, decimals=1), lambda r: [_off_integers(r, 2, 3) * 0.1 + 0.013],
            lambda a: np.round(a, 1), gradgrad=_CONSTANT, layouts=ELEMENTWISE),
    OpEntry("frac", tn.frac, lambda r: [_off_integers(r, 2, 3)], lambda a: a - np.trunc(a), layouts=ELEMENTWISE),
    OpEntry("sign", tn.sign, lambda r: [_apart(r, 2, 3)], np.sign, gradgrad=_CONSTANT, layouts=ELEMENTWISE),
    OpEntry("copysign", tn.copysign, lambda r: [_apart(r, 3, 4), _apart(r, 4)], np.copysign,
            layouts=ELEMENTWISE, broadcast=(1,)),
    # arithmetic
    OpEntry("add_alpha", lambda a, b: tn.add(a, b, alpha=2.5), lambda r: [_n(r, 3, 4), _n(r, 4)],
            lambda a, b: a + 2.5 * b, layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("sub_alpha", lambda a, b: a.sub(b, alpha=-0.5), lambda r: [_n(r, 3, 4), _n(r, 4)],
            lambda a, b: a + 0.5 * b, layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("div_floor", lambda a, b: tn.div(a, b, rounding_mode="floor"), lambda r: [_ratio_apart(r, 3, 4), _pos(r, 4)],
            lambda a, b: np.floor_divide(a, b), gradgrad=_CONSTANT, layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("div_trunc", lambda a, b: tn.div(a, b, rounding_mode="trunc"), lambda r: [_ratio_apart(r, 3, 4), _pos(r, 4)],
            lambda a, b: np.trunc(a / b), gradgrad=_CONSTANT, layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("floordiv_operator", lambda a, b: a // b, lambda r: [_ratio_apart(r, 3, 4), _pos(r, 4)],
            lambda a, b: np.floor_divide(a, b), gradgrad=_CONSTANT, layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("remainder", lambda a, b: a % b, lambda r: [_ratio_apart(r, 3, 4), _pos(r, 4) * -1],
            np.remainder, layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("rmod_scalar", lambda a: 2.5 % a, lambda r: [_pos(r, 5) + 0.13], lambda a: np.remainder(2.5, a),
            layouts=ELEMENTWISE),
    OpEntry("fmod", tn.fmod, lambda r: [_ratio_apart(r, 3, 4), _pos(r, 4) * -1], np.fmod,
            layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("pow_zero_exponent", lambda a: a ** 0, lambda r: [_n(r, 4)], lambda a: a ** 0, layouts=ELEMENTWISE),
    OpEntry("rpow_scalar", lambda b: 2.0 ** b, lambda r: [_n(r, 4)], lambda b: 2.0 ** b, layouts=ELEMENTWISE),
    OpEntry("clamp_tensor_bounds", lambda a, lo, hi: tn.clamp(a, min=lo, max=hi),
            lambda r: [_apart(r, 3, 4), _apart(r, 4) * 0.1 - 0.11, _apart(r, 4) * 0.1 + 0.91],
            lambda a, lo, hi: np.minimum(np.maximum(a, lo), hi), layouts=ELEMENTWISE, broadcast=(1, 2)),
    OpEntry("clamp_min", lambda a: a.clamp_min(0.05), lambda r: [_apart(r, 3, 4)], lambda a: np.maximum(a, 0.05),
            layouts=ELEMENTWISE),
    OpEntry("clamp_max", lambda a: tn.clamp_max(a, 0.05), lambda r: [_apart(r, 3, 4)], lambda a: np.minimum(a, 0.05),
            layouts=ELEMENTWISE),
    OpEntry("deg2rad", tn.deg2rad, lambda r: [_n(r, 2, 3) * 90], np.deg2rad, layouts=ELEMENTWISE),
    OpEntry("rad2deg", tn.rad2deg, lambda r: [_n(r, 2, 3)], np.rad2deg, layouts=ELEMENTWISE,
            fwd_atol=1e-6),  # outputs of magnitude ~100
    OpEntry("xlogy", tn.xlogy, lambda r: [_n(r, 3, 4), _pos(r, 4)], lambda a, b: a * np.log(b),
            layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("sinc", tn.sinc, lambda r: [_apart(r, 2, 3)], np.sinc, layouts=ELEMENTWISE),
    OpEntry("float_power", tn.float_power, lambda r: [_pos(r, 3, 4), _n(r, 4)], lambda a, b: a ** b,
            layouts=ELEMENTWISE, broadcast=(1,), keeps_dtype=False),  # the result is float64 by definition
    # type promotion: float32 meeting float64 is cast up inside the op (gradient cast back down)
    OpEntry("mul_promotes_to_float64", lambda a, b: a * b.double(), lambda r: [_n(r, 3, 4), _n(r, 4)],
            lambda a, b: a * b, layouts=ELEMENTWISE, broadcast=(1,), keeps_dtype=False),
    # ternary and composite
    OpEntry("lerp_scalar", lambda a, b: tn.lerp(a, b, 0.3), lambda r: [_n(r, 3, 4), _n(r, 3, 4)],
            lambda a, b: a + 0.3 * (b - a), layouts=ELEMENTWISE),
    OpEntry("lerp_tensor", tn.lerp, lambda r: [_n(r, 3, 4), _n(r, 4), r.uniform(0, 1, size=(3, 4))],
            lambda a, b, w: a + w * (b - a), layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("addcmul", lambda a, b, c: tn.addcmul(a, b, c, value=0.5), lambda r: [_n(r, 3, 4), _n(r, 4), _n(r, 3, 4)],
            lambda a, b, c: a + 0.5 * b * c, layouts=ELEMENTWISE, broadcast=(1,)),
    OpEntry("addcdiv", lambda a, b, c: a.addcdiv(b, c, value=-2), lambda r: [_n(r, 3, 4), _n(r, 3, 4), _pos(r, 4)],
            lambda a, b, c: a - 2 * b / c, layouts=ELEMENTWISE, broadcast=(2,)),
    OpEntry("nan_to_num", lambda a: tn.nan_to_num(a, nan=0.5), lambda r: [_n(r, 3, 4)],
            lambda a: np.nan_to_num(a, nan=0.5), layouts=ELEMENTWISE),
]
