"""Pointwise math: trigonometric and hyperbolic functions, logarithms and exponentials,
rounding, and the small binary and ternary ops of PyTorch's "pointwise ops" (atan2,
copysign, hypot, logaddexp, lerp, addcmul, addcdiv, nan_to_num, ...).

Floating-point-only ops give integer and bool inputs the default float dtype
(``tn.get_default_dtype()``), as PyTorch does (``tn.sin(int_tensor)`` is float32). Each Op's
``backward`` is its textbook derivative written with tinynet ops, so it can be differentiated
again. Formulas are the numerically stable ones: ``log1p``/``expm1`` near 0, ``logaddexp``
without overflow, ``hypot`` without squaring overflow.
"""
from __future__ import annotations

import math

from ..backend.errors import DTypeError
from ..autograd.op import Op
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import cast, float_input, operand, pair, quiet, unbroadcast
from .elementwise import _Binary, exp, isnan, log, sign, sqrt, where
from .inplace import inplace

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "acos", "acosh", "addcdiv", "addcmul", "deg2rad", "float_power", "positive", "rad2deg", "sinc", "xlogy", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
    "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "copysign", "cos", "cosh", "erfc",
    "erfinv", "exp2", "expm1", "fix", "floor", "frac", "hypot", "lerp", "log10", "log1p", "log2",
    "logaddexp", "logaddexp2", "nan_to_num", "reciprocal", "round", "rsqrt", "sgn", "sin", "sinh",
    "square", "tan", "trunc",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0


# --- unary ops with a derivative ------------------------------------------------------------
class _Unary(Op):
    """A float unary op ``xp.<ufunc>(x)``; subclasses give the derivative."""

    saves_output = False
    ufunc = None

    def forward(self, x):
        with quiet(self.xp):  # log1p(-1) = -inf, asin(2) = nan: silently, as PyTorch
            return getattr(self.xp, self.ufunc)(x)


class Sin(_Unary):
    """sin x; d/dx = cos x."""
    name = ufunc = "sin"

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(_Unary):
    """cos x; d/dx = -sin x."""
    name = ufunc = "cos"

    def backward(self, g):
        return -g * sin(self.inputs[0])


class Tan(_Unary):
    """tan x; d/dx = 1 + tan^2 x."""
    name = ufunc = "tan"
    saves_output = True

    def backward(self, g):
        y = self.output()
        return g * (1 + y * y)


class Asin(_Unary):
    """asin x; d/dx = 1 / sqrt(1 - x^2)."""
    name, ufunc = "asin", "arcsin"

    def backward(self, g):
        x = self.inputs[0]
        return g / sqrt(1 - x * x)


class Acos(_Unary):
    """acos x; d/dx = -1 / sqrt(1 - x^2)."""
    name, ufunc = "acos", "arccos"

    def backward(self, g):
        x = self.inputs[0]
        return -g / sqrt(1 - x * x)


class Atan(_Unary):
    """atan x; d/dx = 1 / (1 + x^2)."""
    name, ufunc = "atan", "arctan"

    def backward(self, g):
        x = self.inputs[0]
        return g / (1 + x * x)


class Sinh(_Unary):
    """sinh x; d/dx = cosh x."""
    name = ufunc = "sinh"

    def backward(self, g):
        return g * cosh(self.inputs[0])


class Cosh(_Unary):
    """cosh x; d/dx = sinh x."""
    name = ufunc = "cosh"

    def backward(self, g):
        return g * sinh(self.inputs[0])


class Asinh(_Unary):
    """asinh x; d/dx = 1 / sqrt(x^2 + 1)."""
    name, ufunc = "asinh", "arcsinh"

    def backward(self, g):
        x = self.inputs[0]
        return g / sqrt(x * x + 1)


class Acosh(_Unary):
    """acosh x (x >= 1); d/dx = 1 / sqrt(x^2 - 1)."""
    name, ufunc = "acosh", "arccosh"

    def backward(self, g):
        x = self.inputs[0]
        return g / sqrt(x * x - 1)


class Atanh(_Unary):
    """atanh x (|x| < 1); d/dx = 1 / (1 - x^2)."""
    name, ufunc = "atanh", "arctanh"

    def backward(self, g):
        x = self.inputs[0]
        return g / (1 - x * x)


class Log2(_Unary):
    """log2 x; d/dx = 1 / (x ln 2)."""
    name = ufunc = "log2"

    def backward(self, g):
        return g / (self.inputs[0] * _LN2)


class Log10(_Unary):
    """log10 x; d/dx = 1 / (x ln 10)."""
    name = ufunc = "log10"

    def backward(self, g):
        return g / (self.inputs[0] * _LN10)


class Log1p(_Unary):
    """log(1 + x), exact for tiny x (no rounding of 1 + x); d/dx = 1 / (1 + x)."""
    name = ufunc = "log1p"

    def backward(self, g):
        return g / (self.inputs[0] + 1)


class Expm1(_Unary):
    """e^x - 1, exact for tiny x; d/dx = e^x = output + 1."""
    name = ufunc = "expm1"
    saves_output = True

    def backward(self, g):
        return g * (self.output() + 1)


class Exp2(_Unary):
    """2^x; d/dx = 2^x ln 2."""
    name = ufunc = "exp2"
    saves_output = True

    def backward(self, g):
        return g * self.output() * _LN2


class Rsqrt(_Unary):
    """1 / sqrt(x); d/dx = -1/2 x^(-3/2) = -output^3 / 2."""
    name = "rsqrt"
    saves_output = True

    def forward(self, x):
        with quiet(self.xp):  # rsqrt(0) = inf, silently as in PyTorch
            return 1 / self.xp.sqrt(x)

    def backward(self, g):
        y = self.output()
        return g * (y * y * y) * -0.5


class Reciprocal(_Unary):
    """1 / x; d/dx = -1 / x^2 = -output^2."""
    name = "reciprocal"
    saves_output = True

    def forward(self, x):
        with quiet(self.xp):  # 1/0 = inf, silently as in PyTorch
            return 1 / x

    def backward(self, g):
        y = self.output()
        return -g * y * y


def erfc_array(xp, kernels, x):
    """erfc on a raw array of the device (``xp``, ``kernels``) by the GELU-kernel route of
    :class:`Erfc`; shared with the special functions (erfcx, log_ndtr)."""
    v = x * -math.sqrt(2.0)
    flat = v.reshape(-1)
    if flat.size == 0:
        return xp.empty_like(x)
    gv = kernels.gelu_forward(xp.ascontiguousarray(flat), False)
    gv = gv[0] if isinstance(gv, tuple) else gv
    with quiet(xp):
        out = 2 * gv / flat
    out = xp.where(flat == 0, xp.ones((), x.dtype), out)
    out = xp.where(xp.isnan(flat), flat, out)
    return out.reshape(x.shape).astype(x.dtype, copy=False)


class Erfc(_Unary):
    """erfc x = 1 - erf x, computed without the cancellation of 1 - erf(x) for large x;
    d/dx = -2/sqrt(pi) e^(-x^2).

    The value comes from the device's GELU kernel, whose gate is Phi(v) = erfc(-v/sqrt 2)/2
    computed by libm's ``erfc`` (float64; a < 1.2e-7 relative approximation for float32):
    with v = -sqrt(2) x, gelu(v) = v Phi(v), so erfc(x) = 2 gelu(v) / v (and 1 at x = 0).
    """
    name = "erfc"

    def forward(self, x):
        return erfc_array(self.xp, self.kernels, x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (-_TWO_OVER_SQRT_PI) * exp(-(x * x))


class Erfinv(_Unary):
    """The inverse error function, erf(erfinv(y)) = y on (-1, 1) (+-inf at +-1, NaN outside);
    d/dy = sqrt(pi)/2 e^(erfinv(y)^2).

    Computed from Giles' approximation ("Approximating the erfinv function", GPU Gems 4,
    2010; ~1e-7 relative) refined by two Newton steps on erf(x) - y with the device's erf
    kernel, which brings it to float64 accuracy.
    """
    name = "erfinv"
    saves_output = True

    def forward(self, y):
        xp = self.xp
        yd = y.astype("float64")
        with quiet(xp):
            w = -xp.log((1.0 - yd) * (1.0 + yd))
            ws = w - 2.5
            p = 2.81022636e-08
            for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                      -0.00417768164, 0.246640727, 1.50140941):
                p = c + p * ws
            wl = xp.sqrt(xp.maximum(w, 5.0)) - 3.0
            q = -0.000200214257
            for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                      0.00943887047, 1.00167406, 2.83297682):
                q = c + q * wl
            x = xp.where(w < 5.0, p, q) * yd
            inside = xp.abs(yd) < 1
            xs = xp.where(inside, x, 0.0)
            for _ in range(2):
                err = self._erf(xs) - yd
                xs = xs - err / (_TWO_OVER_SQRT_PI * xp.exp(-xs * xs))
            out = xp.where(inside, xs, xp.where(xp.abs(yd) == 1, yd * xp.inf, xp.nan))
        return out.astype(y.dtype, copy=False)

    def _erf(self, x):
        flat = self.xp.ascontiguousarray(x.reshape(-1))
        if flat.size == 0:
            return x
        return self.kernels.erf(flat).reshape(x.shape)

    def backward(self, g):
        y = self.output()
        return g * _SQRT_PI_OVER_2 * exp(y * y)


# --- rounding (piecewise constant: gradient 0, as in PyTorch) -------------------------------
class _Rounding(Op):
    """An op whose output is constant between jumps: its gradient is 0 (PyTorch's)."""

    saves_values = False

    def backward(self, g):
        return self.constant(self.xp.zeros(g.shape, g.dtype))


class Floor(_Rounding):
    name = "floor"

    def forward(self, x):
        return self.xp.floor(x)


class Ceil(_Rounding):
    name = "ceil"

    def forward(self, x):
        return self.xp.ceil(x)


class Trunc(_Rounding):
    name = "trunc"

    def forward(self, x):
        return self.xp.trunc(x)


class Round(_Rounding):
    """Round half to even (``round(2.5) = 2``), to ``decimals`` decimal places."""

    name = "round"

    def forward(self, x):
        if self.decimals == 0:
            return self.xp.round(x)
        return self.xp.round(x, self.decimals)


def _float_op(cls, input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
    return cls.apply(float_input(input))


def sin(input):
    """Sine, elementwise."""
    return _float_op(Sin, input, "sin")


def cos(input):
    """Cosine, elementwise."""
    return _float_op(Cos, input, "cos")


def tan(input):
    """Tangent, elementwise."""
    return _float_op(Tan, input, "tan")


def asin(input):
    """Arcsine (NaN outside [-1, 1])."""
    return _float_op(Asin, input, "asin")


def acos(input):
    """Arccosine (NaN outside [-1, 1])."""
    return _float_op(Acos, input, "acos")


def atan(input):
    """Arctangent."""
    return _float_op(Atan, input, "atan")


def sinh(input):
    """Hyperbolic sine."""
    return _float_op(Sinh, input, "sinh")


def cosh(input):
    """Hyperbolic cosine."""
    return _float_op(Cosh, input, "cosh")


def asinh(input):
    """Inverse hyperbolic sine."""
    return _float_op(Asinh, input, "asinh")


def acosh(input):
    """Inverse hyperbolic cosine (NaN below 1)."""
    return _float_op(Acosh, input, "acosh")


def atanh(input):
    """Inverse hyperbolic tangent (NaN outside [-1, 1], +-inf at +-1)."""
    return _float_op(Atanh, input, "atanh")


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def log2(input):
    """Base-2 logarithm."""
    return _float_op(Log2, input, "log2")


def log10(input):
    """Base-10 logarithm."""
    return _float_op(Log10, input, "log10")


def log1p(input):
    """log(1 + input), accurate for small input."""
    return _float_op(Log1p, input, "log1p")


def expm1(input):
    """exp(input) - 1, accurate for small input."""
    return _float_op(Expm1, input, "expm1")


def exp2(input):
    """2 ** input."""
    return _float_op(Exp2, input, "exp2")


def rsqrt(input):
    """1 / sqrt(input)."""
    return _float_op(Rsqrt, input, "rsqrt")


def reciprocal(input):
    """1 / input (integer input gives the default float dtype, as in PyTorch)."""
    return _float_op(Reciprocal, input, "reciprocal")


def erfc(input):
    """The complementary error function 1 - erf(x), accurate in the tail."""
    return _float_op(Erfc, input, "erfc")


def erfinv(input):
    """The inverse error function on (-1, 1)."""
    return _float_op(Erfinv, input, "erfinv")


def square(input):
    """input * input (keeps integer dtypes, as in PyTorch)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"square: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind == "b":
        input = cast(input, _dt.int64)
    return input * input


def _rounding(cls, input, name, **params):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        if input.array.dtype.kind == "b" and name != "round":
            raise DTypeError(f"{name}: not implemented for bool tensors (as in PyTorch); convert first (`x.long()`)")
        return Tensor._make(input.array.copy(), input.device)  # integers are already whole
    return cls.apply(input, **params)


def floor(input):
    """The largest integer value <= input (integer tensors are returned unchanged)."""
    return _rounding(Floor, input, "floor")


def ceil(input):
    """The smallest integer value >= input (integer tensors are returned unchanged)."""
    return _rounding(Ceil, input, "ceil")


def trunc(input):
    """Rounds toward zero (integer tensors are returned unchanged)."""
    return _rounding(Trunc, input, "trunc")


fix = trunc


def round(input, *, decimals=0):
    """Round half to even (as PyTorch and NumPy), to ``decimals`` places (negative: to tens,
    hundreds, ...)."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if decimals != 0 and isinstance(input, Tensor) and input.array.dtype.kind != "f":
        raise DTypeError(f"round: decimals={decimals} needs a floating-point tensor, got {input.dtype}")
    return _rounding(Round, input, "round", decimals=decimals)


def frac(input):
    """The fractional part, input - trunc(input) (sign of the input; gradient 1)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"frac: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        raise DTypeError(f"frac: expected a floating-point tensor, got {input.dtype} (as in PyTorch)")
    return input - trunc(input)


def sgn(input):
    """sign for real tensors (PyTorch's ``sgn`` extends it to complex numbers)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"sgn: expected a Tensor, got {type(input).__name__}")
    return sign(input)


# --- binary and ternary ops ---------------------------------------------------------------------
def _float_pair(input, other, name):
    a, b = pair(input, other, name)
    if a.array.dtype.kind != "f":
        dt = _dt.get_default_dtype()
        a, b = cast(a, dt), cast(b, dt)
    return a, b


class Atan2(_Binary):
    """atan2(a, b), the angle of the point (b, a); d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""

    name = "atan2"

    def compute(self, a, b):
        return self.xp.arctan2(a, b)

    def backward(self, g):
        a, b = self.inputs
        r2 = a * a + b * b
        return (unbroadcast(g * b / r2, self.a_shape) if a._requires_grad else None,
                unbroadcast(-g * a / r2, self.b_shape) if b._requires_grad else None)


class Hypot(_Binary):
    """sqrt(a^2 + b^2) without overflow in the squares; d/da = a / out, d/db = b / out."""

    name = "hypot"
    saves_output = True

    def compute(self, a, b):
        return self.xp.hypot(a, b)

    def backward(self, g):
        a, b = self.inputs
        y = self.output()
        return (unbroadcast(g * a / y, self.a_shape) if a._requires_grad else None,
                unbroadcast(g * b / y, self.b_shape) if b._requires_grad else None)


class Copysign(_Binary):
    """|a| with the sign of b (including -0.0); d/da = out / a (0 where a = 0), d/db = 0."""

    name = "copysign"
    saves_output = True

    def compute(self, a, b):
        return self.xp.copysign(a, b)

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if a._requires_grad:
            xp = self.xp
            ad = a.array
            flip = self.constant(xp.where(ad == 0, 0.0, xp.where((ad < 0) == xp.signbit(self.out), 1.0, -1.0))
                                 .astype(g.dtype))
            ga = unbroadcast(g * flip, self.a_shape)
        if b._requires_grad:
            gb = self.constant(self.xp.zeros(self.b_shape, g.dtype))
        return ga, gb


class Logaddexp(_Binary):
    """log(e^a + e^b) without overflow (``max + log1p(e^-|a-b|)``);
    d/da = e^(a - out) = sigmoid(a - b), d/db = e^(b - out)."""

    name = "logaddexp"
    saves_output = True

    def compute(self, a, b):
        return self.xp.logaddexp(a, b)

    def backward(self, g):
        a, b = self.inputs
        y = self.output()
        return (unbroadcast(g * exp(a - y), self.a_shape) if a._requires_grad else None,
                unbroadcast(g * exp(b - y), self.b_shape) if b._requires_grad else None)


class Logaddexp2(_Binary):
    """log2(2^a + 2^b) without overflow; d/da = 2^(a - out), d/db = 2^(b - out)."""

    name = "logaddexp2"
    saves_output = True

    def compute(self, a, b):
        return self.xp.logaddexp2(a, b)

    def backward(self, g):
        a, b = self.inputs
        y = self.output()
        return (unbroadcast(g * exp((a - y) * _LN2), self.a_shape) if a._requires_grad else None,
                unbroadcast(g * exp((b - y) * _LN2), self.b_shape) if b._requires_grad else None)


def atan2(input, other):
    """The angle of the point (other, input) in (-pi, pi] (``arctan2``)."""
    return Atan2.apply(*_float_pair(input, other, "atan2"))


arctan2 = atan2


def hypot(input, other):
    """sqrt(input^2 + other^2), elementwise, without overflow."""
    a, b = pair(input, other, "hypot")
    if a.array.dtype.kind != "f":
        raise DTypeError(f"hypot: expected floating-point tensors, got {a.dtype} (as in PyTorch); convert first")
    return Hypot.apply(a, b)


def copysign(input, other):
    """|input| with the sign of ``other`` (a float result, as in PyTorch)."""
    return Copysign.apply(*_float_pair(input, other, "copysign"))


def logaddexp(input, other):
    """log(exp(input) + exp(other)), computed stably."""
    return Logaddexp.apply(*_float_pair(input, other, "logaddexp"))


def logaddexp2(input, other):
    """log2(2**input + 2**other), computed stably."""
    return Logaddexp2.apply(*_float_pair(input, other, "logaddexp2"))


def lerp(input, end, weight):
    """input + weight * (end - input): linear interpolation with a scalar or tensor weight.

    Gradients: ``1 - weight`` for input, ``weight`` for end, ``end - input`` for weight.
    """
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise TypeError(f"lerp: input and end must be Tensors, got {type(input).__name__} and {type(end).__name__}")
    if input.array.dtype != end.array.dtype:
        raise DTypeError(f"lerp: expected input and end of one dtype, got {input.dtype} and {end.dtype}")
    if input.array.dtype.kind != "f":
        raise DTypeError(f"lerp: expected floating-point tensors, got {input.dtype}")
    if isinstance(weight, Tensor) and weight.array.dtype != input.array.dtype:
        raise DTypeError(f"lerp: expected weight of the input's dtype {input.dtype}, got {weight.dtype}")
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2 (broadcasting)."""
    return input + value * (tensor1 * tensor2) if value != 1 else input + tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2 (broadcasting). Integer tensor1 and tensor2 are
    refused, as in PyTorch (its old integer division is gone): convert them to floats."""
    for t in (tensor1, tensor2):
        if isinstance(t, Tensor) and t.array.dtype.kind != "f":
            raise DTypeError(
                f"addcdiv: integer division with addcdiv is not supported (got {tensor1.dtype} / {tensor2.dtype}); "
                "use `input + value * tensor1 / tensor2` with floating-point tensors"
            )
    return input + value * (tensor1 / tensor2) if value != 1 else input + tensor1 / tensor2


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +inf -> ``posinf``, -inf -> ``neginf`` (by default the dtype's largest and
    smallest finite values). The gradient passes where the input is finite and is 0 elsewhere."""
    if not isinstance(input, Tensor):
        raise TypeError(f"nan_to_num: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        return Tensor._make(input.array.copy(), input.device)
    finfo = input.device.xp.finfo(input.array.dtype)
    posinf = float(finfo.max) if posinf is None else posinf
    neginf = float(finfo.min) if neginf is None else neginf
    out = where(isnan(input), operand(float(nan), input), input)
    out = where(input == math.inf, operand(float(posinf), input), out)
    out = where(input == -math.inf, operand(float(neginf), input), out)
    return out



def deg2rad(input):
    """Degrees to radians: input * pi / 180 (integer input gives the default float dtype)."""
    return float_input(input) * (math.pi / 180.0)


def rad2deg(input):
    """Radians to degrees: input * 180 / pi (integer input gives the default float dtype)."""
    return float_input(input) * (180.0 / math.pi)


def positive(input):
    """input itself (``+x``); refused for bool tensors, as in PyTorch."""
    if not isinstance(input, Tensor):
        raise TypeError(f"positive: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind == "b":
        raise DTypeError("positive: not supported for bool tensors (as in PyTorch)")
    return input


def float_power(input, exponent):
    """input ** exponent computed in float64 whatever the inputs' dtypes (PyTorch's
    ``float_power``: the result is always float64; gradients are cast back to each input)."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power: input or exponent must be a Tensor")
    a = cast(input, _dt.float64) if isinstance(input, Tensor) else float(input)
    b = cast(exponent, _dt.float64) if isinstance(exponent, Tensor) else float(exponent)
    return a ** b


def _float_power_inplace(self, exponent):
    """``x.float_power_(e)``: only for float64 tensors (the result's dtype), as in PyTorch."""
    if self.array.dtype != _dt.float64:
        raise DTypeError(f"float_power_: the base has dtype {self.dtype} but the result is float64; "
                         "in-place float_power_ needs a float64 tensor (`x = x.double()` first)")
    return _float_power_(self, exponent)


_float_power_ = inplace(float_power, "float_power_")


class Xlogy(_Binary):
    """x log y, 0 where x == 0 (unless y is NaN). PyTorch's gradients: d/dx = log y, taken as 0
    where x == 0 and y <= 0; d/dy = x / y."""

    name = "xlogy"

    def compute(self, x, y):
        xp = self.xp
        with quiet(xp):
            out = x * xp.log(y)
        return xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), out.dtype), out)

    def backward(self, g):
        x, y = self.inputs
        gx = gy = None
        if x._requires_grad:
            with quiet(self.xp):
                d = log(y)
            gx = unbroadcast(g * where((x == 0) & (y <= 0), operand(0.0, d), d), self.a_shape)
        if y._requires_grad:
            gy = unbroadcast(g * x / y, self.b_shape)
        return gx, gy


def xlogy(input, other):
    """input * log(other), taken as 0 where input == 0 (unless other is NaN), so that
    0 * log(0) = 0 as in entropy terms (see :class:`Xlogy` for the gradients)."""
    return Xlogy.apply(*_float_pair(input, other, "xlogy"))


def sinc(input):
    """The normalized sinc, sin(pi x) / (pi x), with sinc(0) = 1 (gradient 0 there)."""
    x = float_input(input)
    at0 = x == 0
    xs = where(at0, operand(1.0, x), x) * math.pi
    return where(at0, operand(1.0, x), sin(xs) / xs)
