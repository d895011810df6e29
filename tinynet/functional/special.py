"""Special functions: the gamma family (lgamma, digamma, polygamma, mvlgamma), modified Bessel
functions (i0, i0e, i1, i1e), the normal distribution's functions (ndtr, ndtri, log_ndtr),
erfcx, logit, xlog1py, entr, and the small float helpers of PyTorch's pointwise ops
(heaviside, signbit, fmax, fmin, gcd, lcm, ldexp, frexp, nextafter).

Everything is computed with the device's array module (no SciPy), in float64 internally and
returned in the input's float dtype:

* ``lgamma``: Lanczos' approximation (g = 7, 9 terms; ~1e-15 relative) for x >= 1/2 and the
  reflection formula lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x) below;
* ``digamma``: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic
  series ln x - 1/(2x) - sum B_2k / (2k x^2k); reflection psi(1 - x) - pi / tan(pi x) for x < 1/2;
* ``polygamma(n, x)`` (n >= 1) = (-1)^(n+1) n! zeta(n + 1, x), with the Hurwitz zeta function by
  Euler-Maclaurin summation (Cephes' ``zeta``, as SciPy computes it);
* ``i0``, ``i1`` (and the exponentially scaled ``i0e``, ``i1e``): the power series
  sum (x/2)^(2k+nu) / (k! (k+nu)!) for |x| <= 15, Hankel's asymptotic series above.

Gradients are the textbook ones (lgamma' = digamma, digamma' = polygamma(1, .),
polygamma(n, .)' = polygamma(n + 1, .), i0' = i1, i1' = i0 - i1/x), each written with these ops
so they differentiate again.
"""
from __future__ import annotations

import math
import numbers
from collections import namedtuple

from ..autograd.op import Op
from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..tensor.tensor import Tensor
from ._util import float_input, operand, pair, quiet
from .activation import sigmoid
from .elementwise import clamp, isnan, log, where
from .inplace import inplace
from .pointwise import erfc, erfc_array, erfinv, exp2, log1p

__all__ = [
    "digamma", "entr", "erfcx", "fmax", "fmin", "frexp", "gcd", "heaviside", "i0", "i0e", "i1", "i1e", "lcm",
    "ldexp", "lgamma", "log_ndtr", "logit", "mvlgamma", "ndtr", "ndtri", "nextafter", "polygamma", "signbit",
    "xlog1py", "zeta",
]

_LOG_PI = math.log(math.pi)
_SQRT2 = math.sqrt(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
#: B_2k / (2k) for the digamma asymptotic series, k = 1..7.
_DIGAMMA_B = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
#: (2k)! / B_2k (Cephes' ``zeta`` table), k = 1..12.
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)


# --- array formulas ------------------------------------------------------------------------------
def _lgamma_array(xp, x):
    x = x.astype("float64")
    with quiet(xp):
        refl = x < 0.5
        z = xp.where(refl, 1.0 - x, x) - 1.0
        a = xp.full(x.shape, _LANCZOS[0])
        for i, c in enumerate(_LANCZOS[1:], 1):
            a = a + c / (z + i)
        t = z + _LANCZOS_G + 0.5
        lg = _HALF_LOG_2PI + (z + 0.5) * xp.log(t) - t + xp.log(a)
        s = xp.abs(xp.sin(math.pi * (x - xp.floor(x))))  # sin(pi x) without the rounding of large pi x
        out = xp.where(refl, _LOG_PI - xp.log(s) - lg, lg)
        out = xp.where(refl & (x == xp.floor(x)), xp.inf, out)  # poles at 0, -1, -2, ...
        out = xp.where(xp.isinf(x), xp.inf, out)
        out = xp.where((x == 1) | (x == 2), 0.0, out)  # exact zeros of log Gamma
    return out


def _digamma_array(xp, x):
    x = x.astype("float64")
    with quiet(xp):
        refl = x < 0.5
        y = xp.where(refl, 1.0 - x, x)
        acc = xp.zeros(x.shape)
        for _ in range(10):
            small = y < 10
            acc = acc - xp.where(small, 1.0 / y, 0.0)
            y = xp.where(small, y + 1, y)
        inv2 = 1.0 / (y * y)
        series = xp.zeros(x.shape)
        for b in reversed(_DIGAMMA_B):
            series = (series + b) * inv2
        psi = acc + xp.log(y) - 0.5 / y - series
        frac = x - xp.floor(x)
        psi = xp.where(refl, psi - math.pi / xp.tan(math.pi * frac), psi)
        out = xp.where(refl & (frac == 0), xp.nan, psi)  # poles at the negative integers
        out = xp.where(x == 0, -xp.inf, out)  # PyTorch's digamma(0) = -inf
        out = xp.where(x == xp.inf, xp.inf, out)
    return out


def _zeta_array(xp, s, q):
    """The Hurwitz zeta function sum_k (q + k)^-s for a float s > 1 (Cephes' Euler-Maclaurin sum)."""
    q = q.astype("float64")
    with quiet(xp):
        total = q ** -s
        a = q
        b = total
        i = 0
        while True:
            more = (a <= 9.0) if i >= 9 else xp.ones(q.shape, dtype=bool)
            if not bool(more.any()):
                break
            a = xp.where(more, a + 1.0, a)
            b = xp.where(more, a ** -s, b)
            total = total + xp.where(more, b, 0.0)
            i += 1
            if i > 10000:  # a non-finite q never reaches 9: stop (its value is set below)
                break
        w = a
        total = total + b * w / (s - 1.0) - 0.5 * b
        fac, k = 1.0, 0.0
        for coef in _ZETA_A:
            fac = fac * (s + k)
            b = b / w
            total = total + fac * b / coef
            k += 1.0
            fac = fac * (s + k)
            b = b / w
            k += 1.0
        total = xp.where((q <= 0) & (q == xp.floor(q)), xp.inf, total)  # poles
        total = xp.where(q == xp.inf, 0.0, total)
        total = xp.where(xp.isnan(q) | (q == -xp.inf), xp.nan, total)
    return total


def _polygamma_array(xp, n, x):
    if n == 0:
        return _digamma_array(xp, x)
    sign = 1.0 if n % 2 == 1 else -1.0
    return sign * math.factorial(n) * _zeta_array(xp, float(n + 1), x)


def _bessel_array(xp, x, order, scaled):
    """I_order(x) (order 0 or 1), times exp(-|x|) when ``scaled``."""
    x = x.astype("float64")
    ax = xp.abs(x)
    with quiet(xp):
        small = ax <= 15.0
        xs = xp.where(small, ax, 0.0)
        q = xs * xs / 4.0
        term = xp.ones(x.shape) if order == 0 else xs / 2.0
        total = term
        for k in range(1, 60):
            term = term * q / (k * (k + order))
            total = total + term
        series = total * xp.exp(-xs) if scaled else total
        xl = xp.where(small, 16.0, ax)
        mu = 4.0 * order * order
        term = xp.ones(x.shape)
        acc = term
        for k in range(1, 25):
            term = term * -(mu - (2 * k - 1) ** 2) / (k * 8.0 * xl)
            acc = acc + term
        asym = acc / xp.sqrt(2 * math.pi * xl)
        if not scaled:
            asym = asym * xp.exp(xl)
        out = xp.where(small, series, asym)
        out = xp.where(xp.isnan(x), x, out)
    return xp.where(x < 0, -out, out) if order == 1 else out  # I1 is odd, I0 even


# --- differentiable ops --------------------------------------------------------------------------
class _Special(Op):
    """A float unary special function computed in float64 by ``_compute``; output in the input dtype."""

    saves_output = False

    def forward(self, x):
        return self._compute(x).astype(x.dtype, copy=False)


class Lgamma(_Special):
    """log |Gamma(x)|; d/dx = digamma(x)."""
    name = "lgamma"

    def _compute(self, x):
        return _lgamma_array(self.xp, x)

    def backward(self, g):
        return g * digamma(self.inputs[0])


class Digamma(_Special):
    """psi(x) = Gamma'(x) / Gamma(x); d/dx = polygamma(1, x)."""
    name = "digamma"

    def _compute(self, x):
        return _digamma_array(self.xp, x)

    def backward(self, g):
        return g * polygamma(1, self.inputs[0])


class Polygamma(_Special):
    """The n-th derivative of digamma; d/dx = polygamma(n + 1, x)."""
    name = "polygamma"

    def _compute(self, x):
        return _polygamma_array(self.xp, self.n, x)

    def backward(self, g):
        return g * polygamma(self.n + 1, self.inputs[0])


class Bessel(_Special):
    """The modified Bessel function I_order (order 0 or 1), exponentially scaled when ``scaled``.

    d/dx I0 = I1; d/dx I1 = I0 - I1/x (1/2 at 0); the scaled forms add -sign(x) times themselves."""

    def op_name(self):
        return f"i{self.order}{'e' if self.scaled else ''}"

    def _compute(self, x):
        return _bessel_array(self.xp, x, self.order, self.scaled)

    def backward(self, g):
        x = self.inputs[0]
        if self.order == 0:
            d = Bessel.apply(x, order=1, scaled=self.scaled)
        else:
            i0v = Bessel.apply(x, order=0, scaled=self.scaled)
            i1v = Bessel.apply(x, order=1, scaled=self.scaled)
            at0 = x == 0
            safe = where(at0, operand(1.0, x), x)
            d = where(at0, operand(0.5, x), i0v - i1v / safe)
        if self.scaled:
            d = d - _sign(x) * Bessel.apply(x, order=self.order, scaled=True)
        return g * d


class Erfcx(_Special):
    """The scaled complementary error function exp(x^2) erfc(x), finite for large x where erfc
    underflows; d/dx = 2 x erfcx(x) - 2/sqrt(pi)."""
    name = "erfcx"
    saves_output = True

    def _compute(self, x):
        xp = self.xp
        xd = x.astype("float64")
        with quiet(xp):
            big = xd >= 8.0
            xs = xp.where(big, 0.0, xd)
            direct = xp.exp(xs * xs) * erfc_array(xp, self.kernels, xs)
            xl = xp.where(big, xd, 8.0)
            inv = 1.0 / (2.0 * xl * xl)
            term = xp.ones(x.shape)
            acc = term
            for k in range(1, 30):  # 1 - 1/(2x^2) + 3/(2x^2)^2 - 15/(2x^2)^3 ...
                term = term * -(2 * k - 1) * inv
                acc = acc + term
            asym = acc / (xl * math.sqrt(math.pi))
            out = xp.where(big, asym, direct)
            out = xp.where(xd == xp.inf, 0.0, out)
        return out

    def backward(self, g):
        x = self.inputs[0]
        return g * (2 * x * self.output() - _TWO_OVER_SQRT_PI)


def _sign(x):
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


def _float_unary(cls, input, name, **params):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
    return cls.apply(float_input(input), **params)


def lgamma(input):
    """log |Gamma(x)| (``torch.lgamma``; +inf at the poles 0, -1, -2, ...)."""
    return _float_unary(Lgamma, input, "lgamma")


def digamma(input):
    """The digamma function psi(x) = d/dx lgamma(x) (``torch.digamma``; -inf at 0, NaN at the
    negative integers)."""
    return _float_unary(Digamma, input, "digamma")


def polygamma(n, input):
    """The n-th derivative of digamma (``torch.polygamma(n, input)``; n = 0 is digamma)."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise ArgumentError(f"polygamma: n must be a non-negative int, got {n!r}")
    if n == 0:
        return digamma(input)
    return _float_unary(Polygamma, input, "polygamma", n=int(n))


def _polygamma_method(self, n):
    return polygamma(n, self)


def mvlgamma(input, p):
    """The log of the multivariate gamma function of dimension ``p`` (``torch.mvlgamma``):
    p(p-1)/4 log(pi) + sum_{i<p} lgamma(x - i/2). Every element must exceed (p - 1)/2."""
    if not isinstance(p, numbers.Integral) or p < 1:
        raise ArgumentError(f"mvlgamma: p must be an int >= 1, got {p!r}")
    x = float_input(input)
    if x.numel() and not bool((x.array > (p - 1) / 2).all()):
        raise ArgumentError(f"mvlgamma: all elements must be greater than (p-1)/2 = {(p - 1) / 2} for p = {p}; "
                            f"the smallest is {float(x.array.min())}")
    out = lgamma(x)
    for i in range(1, p):
        out = out + lgamma(x - i / 2)
    return out + p * (p - 1) / 4 * _LOG_PI


def i0(input):
    """The modified Bessel function of the first kind of order 0 (``torch.i0``)."""
    return _float_unary(Bessel, input, "i0", order=0, scaled=False)


def i0e(input):
    """exp(-|x|) i0(x), finite where i0 overflows (``torch.special.i0e``)."""
    return _float_unary(Bessel, input, "i0e", order=0, scaled=True)


def i1(input):
    """The modified Bessel function of the first kind of order 1 (``torch.special.i1``)."""
    return _float_unary(Bessel, input, "i1", order=1, scaled=False)


def i1e(input):
    """exp(-|x|) i1(x) (``torch.special.i1e``)."""
    return _float_unary(Bessel, input, "i1e", order=1, scaled=True)


def erfcx(input):
    """exp(x^2) erfc(x) (``torch.special.erfcx``), accurate for large x."""
    return _float_unary(Erfcx, input, "erfcx")


def ndtr(input):
    """The standard normal CDF, Phi(x) = erfc(-x / sqrt 2) / 2 (``torch.special.ndtr``)."""
    return erfc(-float_input(input) / _SQRT2) * 0.5


def ndtri(input):
    """The inverse of :func:`ndtr` (the normal quantile function), sqrt 2 erfinv(2p - 1)."""
    return erfinv(float_input(input) * 2 - 1) * _SQRT2


def log_ndtr(input):
    """log Phi(x) (``torch.special.log_ndtr``), accurate in the far left tail: there
    log(erfcx(-x/sqrt 2) / 2) - x^2/2, elsewhere log1p(-Phi(-x))."""
    x = float_input(input)
    left = x < -1
    xl = where(left, x, operand(-1.0, x))
    xr = where(left, operand(0.0, x), x)
    tail = log(erfcx(-xl / _SQRT2) * 0.5) - xl * xl / 2
    body = log1p(-ndtr(-xr))
    return where(left, tail, body)


def logit(input, eps=None):
    """log(p / (1 - p)), with ``p`` clamped to [eps, 1 - eps] when ``eps`` is given (``torch.logit``);
    outside [0, 1] without eps the result is NaN."""
    x = float_input(input)
    if eps is not None:
        x = clamp(x, eps, 1 - eps)
    return log(x / (1 - x))


def xlog1py(input, other):
    """input * log1p(other), 0 where input == 0 (unless other is NaN), as
    ``torch.special.xlog1py``; d/dinput = log1p(other), d/dother = input / (1 + other)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise DTypeError("xlog1py: input or other must be a Tensor")
    x, y = pair(input, other, "xlog1py")
    if x.array.dtype.kind != "f":
        x, y = float_input(x), float_input(y)
    # 0 where x == 0 even when log1p(y) is -inf or NaN (y <= -1); elsewhere, including x == 0 with
    # y > -1, the plain product, so d/dx = log1p(y) everywhere as in PyTorch
    zero = (x == 0) & (y <= -1)
    safe_y = where(zero, operand(0.0, y), y)
    return where(zero, operand(0.0, x), x * log1p(safe_y))


def entr(input):
    """Elementwise entropy -x ln x: 0 at x = 0, -inf for x < 0 (``torch.special.entr``)."""
    x = float_input(input)
    pos = x > 0
    safe = where(pos, x, operand(1.0, x))
    out = where(pos, -x * log(safe), operand(0.0, x))
    return where(x < 0, operand(-math.inf, x), out)


def expit(input):
    """The logistic sigmoid 1 / (1 + e^-x) (``torch.special.expit``)."""
    return sigmoid(float_input(input))


# --- non-differentiable helpers ------------------------------------------------------------------
def _pair_arrays(input, other, name):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}: input or other must be a Tensor")
    return pair(input, other, name)


def heaviside(input, values):
    """The Heaviside step: 0 where input < 0, 1 where input > 0, ``values`` where input == 0
    (``torch.heaviside``; not differentiable). ``input`` and ``values`` have one dtype."""
    if not isinstance(input, Tensor) or not isinstance(values, Tensor):
        raise DTypeError("heaviside: input and values must be Tensors")
    if input.array.dtype != values.array.dtype:
        raise DTypeError(f"heaviside: input ({input.dtype}) and values ({values.dtype}) must have the same dtype; "
                         f"convert one, e.g. `values.to({input.dtype})`")
    a, v = pair(input, values, "heaviside")
    xp = a.device.xp
    try:
        out = xp.where(a.array == 0, v.array, (a.array > 0).astype(a.array.dtype))
    except ValueError:
        raise ShapeError(f"heaviside: shapes {tuple(a.shape)} and {tuple(v.shape)} cannot be broadcast together "
                         "(trailing axes must be equal or 1)") from None
    return Tensor._make(out.astype(a.array.dtype, copy=False), a.device)


def signbit(input):
    """True where the sign bit is set (negative numbers and -0.0), as ``torch.signbit``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"signbit: expected a Tensor, got {type(input).__name__}")
    arr = input.array
    xp = input.device.xp
    return Tensor._make(xp.signbit(arr) if arr.dtype.kind == "f" else arr < 0, input.device)


def _fminmax(input, other, name, larger):
    a, b = _pair_arrays(input, other, name)
    pick_a = ((a >= b) if larger else (a <= b)) | isnan(b)
    return where(pick_a, a, b)


def fmax(input, other):
    """Elementwise maximum that ignores NaN (``torch.fmax``): NaN only where both are NaN.
    The gradient goes to ``input`` where it wins or ties, as in PyTorch."""
    return _fminmax(input, other, "fmax", True)


def fmin(input, other):
    """Elementwise minimum that ignores NaN (``torch.fmin``)."""
    return _fminmax(input, other, "fmin", False)


def _int_pair(input, other, name):
    a, b = _pair_arrays(input, other, name)
    if a.array.dtype.kind not in "iu" or b.array.dtype.kind not in "iu":
        raise DTypeError(f"{name}: expected integer tensors, got {a.dtype} and {b.dtype}; "
                         f"{name} is defined for integers only")
    return a, b


def gcd(input, other):
    """Elementwise greatest common divisor of integer tensors (``torch.gcd``; gcd(0, 0) = 0)."""
    a, b = _int_pair(input, other, "gcd")
    try:
        return Tensor._make(a.device.xp.gcd(a.array, b.array), a.device)
    except ValueError:
        raise ShapeError(f"gcd: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together") from None


def lcm(input, other):
    """Elementwise least common multiple of integer tensors (``torch.lcm``)."""
    a, b = _int_pair(input, other, "lcm")
    try:
        return Tensor._make(a.device.xp.lcm(a.array, b.array), a.device)
    except ValueError:
        raise ShapeError(f"lcm: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together") from None


def ldexp(input, other):
    """input * 2^other (``torch.ldexp``): a float result, differentiable in both."""
    x = input if isinstance(input, Tensor) else None
    o = other if isinstance(other, Tensor) else None
    if x is None and o is None:
        raise DTypeError("ldexp: input or other must be a Tensor")
    if x is not None and x.array.dtype.kind != "f":
        x = float_input(x)
    if o is not None and o.array.dtype.kind != "f":
        o = float_input(o)
    x = x if x is not None else input
    o = o if o is not None else other
    return x * (exp2(o) if isinstance(o, Tensor) else 2.0 ** o)


frexp_result = namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input):
    """Split a float tensor into ``(mantissa, exponent)`` with input = mantissa * 2^exponent and
    0.5 <= |mantissa| < 1 (``torch.frexp``; the exponent is int32; not differentiable)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"frexp: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        raise DTypeError(f"frexp: expected a floating tensor, got {input.dtype}; convert it, e.g. `x.float()`")
    m, e = input.device.xp.frexp(input.array)
    return frexp_result(Tensor._make(m, input.device), Tensor._make(e.astype("int32"), input.device))


def nextafter(input, other):
    """The next float after ``input`` towards ``other`` (``torch.nextafter``; floats only)."""
    a, b = _pair_arrays(input, other, "nextafter")
    if a.array.dtype.kind != "f":
        raise DTypeError(f"nextafter: expected floating tensors, got {a.dtype}")
    try:
        return Tensor._make(a.device.xp.nextafter(a.array, b.array), a.device)
    except ValueError:
        raise ShapeError(f"nextafter: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast "
                         "together") from None


def zeta(input, other):
    """The Hurwitz zeta function sum_k (other + k)^-input (``torch.special.zeta``; not
    differentiable): 1 for input == 1 is +inf, NaN for input < 1."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("zeta: input or other must be a Tensor")
    s, q = pair(input, other, "zeta")
    s, q = float_input(s), float_input(q)
    xp = s.device.xp
    try:
        ss, qq = xp.broadcast_arrays(s.array, q.array)
    except ValueError:
        raise ShapeError(f"zeta: shapes {tuple(s.shape)} and {tuple(q.shape)} cannot be broadcast together") from None
    out = xp.empty(ss.shape, dtype="float64")
    flat_s, flat_q, flat = ss.reshape(-1), qq.reshape(-1), out.reshape(-1)
    for value in (xp.unique(flat_s).tolist() if flat_s.size else []):  # one Euler-Maclaurin pass per exponent
        sel = flat_s == value
        if value == 1:
            flat[sel] = xp.inf
        elif value < 1 or value != value:
            flat[sel] = xp.nan
        else:
            flat[sel] = _zeta_array(xp, float(value), flat_q[sel])
    return Tensor._make(out.astype(s.array.dtype, copy=False), s.device)


logit_method = inplace(logit, "logit_")
lgamma_ = inplace(lgamma, "lgamma_")
digamma_ = inplace(digamma, "digamma_")
polygamma_ = inplace(_polygamma_method, "polygamma_")
mvlgamma_ = inplace(mvlgamma, "mvlgamma_")
i0_method = inplace(i0, "i0_")
gcd_method = inplace(gcd, "gcd_")
lcm_method = inplace(lcm, "lcm_")
ldexp_method = inplace(ldexp, "ldexp_")
heaviside_ = inplace(heaviside, "heaviside_")
nextafter_ = inplace(nextafter, "nextafter_")
