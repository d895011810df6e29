"""Elementwise arithmetic and math with broadcasting, and comparisons (no gradient).

Each op's backward is the textbook derivative, written with tinynet ops so it can be
differentiated again; ``unbroadcast`` sums gradients back to each input's shape.
"""
from __future__ import annotations

from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..autograd import tracing as _tracing
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ..tensor import dtypes as _dt
from ._util import (broadcast_error, cast, float_input, operand, pair, quiet, result_type, unbroadcast,
                    unbroadcast_array)

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "abs", "absolute", "add", "allclose", "clamp", "clamp_max", "clamp_min", "clip", "div", "divide", "eq", "exp",
    "floor_divide",
    "fmod", "ge", "greater", "greater_equal", "gt", "isclose", "isfinite", "isinf", "isnan", "isneginf",
    "isposinf", "le", "less", "less_equal", "log", "logical_and", "logical_not", "logical_or",
    "logical_xor", "lt", "maximum", "minimum", "mul", "multiply", "ne", "neg", "negative", "not_equal",
    "pow", "remainder", "sign", "sqrt", "sub", "subtract", "true_divide", "where"
]


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """Integer division or remainder by zero (PyTorch raises RuntimeError("ZeroDivisionError"))."""


class _Binary(Op):
    """A broadcasting binary op: the forward turns NumPy's broadcast error into a clear one."""

    saves_output = False  # (pow, whose backward reads its output, says so)

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        try:
            return self.compute(a, b)
        except ValueError:
            if a.shape != b.shape:
                raise broadcast_error(self.op_name(), a, b) from None
            raise


class Add(_Binary):
    name = "add"
    saves_values = False

    def compute(self, a, b):
        return a + b

    def backward(self, g):
        return unbroadcast(g, self.a_shape), unbroadcast(g, self.b_shape)

    def backward_array(self, g):
        return unbroadcast_array(g, self.a_shape), unbroadcast_array(g, self.b_shape)


class Sub(_Binary):
    name = "sub"
    saves_values = False

    def compute(self, a, b):
        return a - b

    def backward(self, g):
        return unbroadcast(g, self.a_shape), unbroadcast(-g, self.b_shape)

    def backward_array(self, g):
        a, b = self.inputs
        return (unbroadcast_array(g, self.a_shape) if a._requires_grad else None,
                unbroadcast_array(-g, self.b_shape) if b._requires_grad else None)


class Mul(_Binary):
    name = "mul"

    def compute(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.inputs
        return (unbroadcast(g * b, self.a_shape) if a._requires_grad else None,
                unbroadcast(g * a, self.b_shape) if b._requires_grad else None)

    def backward_array(self, g):
        a, b = self.inputs
        return (unbroadcast_array(g * b.array, self.a_shape) if a._requires_grad else None,
                unbroadcast_array(g * a.array, self.b_shape) if b._requires_grad else None)


class Div(_Binary):
    name = "div"

    def compute(self, a, b):
        with quiet(self.xp):  # x / 0 is inf or nan, silently, as in PyTorch
            return a / b

    def backward(self, g):
        a, b = self.inputs
        ga = unbroadcast(g / b, self.a_shape) if a._requires_grad else None
        gb = unbroadcast(-g * a / (b * b), self.b_shape) if b._requires_grad else None
        return ga, gb

    def backward_array(self, g):
        a, b = self.inputs
        ad, bd = a.array, b.array
        ga = unbroadcast_array(g / bd, self.a_shape) if a._requires_grad else None
        gb = unbroadcast_array(-g * ad / (bd * bd), self.b_shape) if b._requires_grad else None
        return ga, gb


class Pow(_Binary):
    """a ** b, with PyTorch's gradients at the edges:

    * d/da = b a^(b-1), taken as 0 wherever b == 0 (so ``x ** 0`` has gradient 0 at x = 0,
      not 0 * inf = NaN);
    * d/db = a^b ln a, taken as 0 where a == 0 and b >= 0 (the limit along a = 0); for a < 0
      it is NaN (ln a is not real), as in PyTorch.
    """

    name = "pow"
    # The exponent's gradient recomputes a ** b instead of reading the output, so changing the
    # output in place afterwards (``y = x ** 2; y += 1``) stays legal, as in PyTorch.
    saves_output = False

    def compute(self, a, b):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu" and bool((b < 0).any()):
            raise RuntimeError(  # (not ValueError: _Binary turns those into broadcast errors)
                f"pow: integers to negative integer powers are not allowed (base {a.dtype}, exponent {b.dtype}); "
                "convert the base to floating point first (`x.float() ** n`)"
            )
        with quiet(self.xp):  # 0 ** -1 = inf, (-8) ** 0.5 = nan, silently, as in PyTorch
            return a ** b

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if a._requires_grad:
            d = b * a ** (b - 1)
            ga = unbroadcast(g * where(b == 0, operand(0.0, d), d), self.a_shape)
        if b._requires_grad:
            d = pow(a, b) * log(a)
            gb = unbroadcast(g * where((a == 0) & (b >= 0), operand(0.0, d), d), self.b_shape)
        return ga, gb

    def backward_array(self, g):
        a, b = self.inputs
        ad, bd = a.array, b.array
        xp = self.xp
        ga = gb = None
        if a._requires_grad and not b._requires_grad and bd.size == 1 and float(bd) >= 1:
            # the common x ** n (n >= 1): no 0 ** negative, no exponent 0 to mask
            return unbroadcast_array(g * bd * ad ** (bd - 1), self.a_shape), None
        with quiet(xp):
            if a._requires_grad:
                d = bd * ad ** (bd - 1)
                ga = unbroadcast_array(g * xp.where(bd == 0, xp.zeros((), d.dtype), d), self.a_shape)
            if b._requires_grad:
                d = ad ** bd * xp.log(ad)
                gb = unbroadcast_array(g * xp.where((ad == 0) & (bd >= 0), xp.zeros((), d.dtype), d), self.b_shape)
        return ga, gb


class Remainder(_Binary):
    """a mod b with the sign of the divisor (Python's ``%``, ``torch.remainder``):
    a - floor(a / b) b. d/da = 1, d/db = -floor(a / b)."""

    name = "remainder"

    def compute(self, a, b):
        return self.xp.remainder(a, b)

    def backward(self, g):
        a, b = self.inputs
        ga = unbroadcast(g, self.a_shape) if a._requires_grad else None
        gb = None
        if b._requires_grad:
            q = self.constant(self.xp.floor(a.array / b.array))
            gb = unbroadcast(-g * q, self.b_shape)
        return ga, gb


class Fmod(_Binary):
    """a mod b with the sign of the dividend (C's ``fmod``, ``torch.fmod``): a - trunc(a / b) b.
    d/da = 1, d/db = -trunc(a / b)."""

    name = "fmod"

    def compute(self, a, b):
        return self.xp.fmod(a, b)

    def backward(self, g):
        a, b = self.inputs
        ga = unbroadcast(g, self.a_shape) if a._requires_grad else None
        gb = None
        if b._requires_grad:
            q = self.constant(self.xp.trunc(a.array / b.array))
            gb = unbroadcast(-g * q, self.b_shape)
        return ga, gb


class _Rounded(_Binary):
    """Division rounded to an integer value (``div(..., rounding_mode='trunc'|'floor')``,
    ``floor_divide``): piecewise constant, so its gradient is 0 almost everywhere (PyTorch's
    for ``div`` with a rounding mode)."""

    name = "div"
    saves_values = False

    def compute(self, a, b):
        xp = self.xp
        if a.dtype.kind == "f":
            return xp.floor_divide(a, b) if self.mode == "floor" else xp.trunc(a / b)
        if self.mode == "floor":
            return xp.floor_divide(a, b)
        q = xp.floor_divide(a, b)  # integer truncation: floor, moved up by one where inexact and negative
        return q + ((q < 0) & (q * b != a)).astype(q.dtype)

    def backward(self, g):
        a, b = self.inputs
        return (self.constant(self.xp.zeros(self.a_shape, g.dtype)) if a._requires_grad else None,
                self.constant(self.xp.zeros(self.b_shape, g.dtype)) if b._requires_grad else None)


class Maximum(_Binary):
    """max(a, b); ties send half the gradient to each side (so the gradient is symmetric)."""

    name = "maximum"

    def compute(self, a, b):
        return self.xp.maximum(a, b)

    def backward(self, g):
        a, b = self.inputs
        xp = self.xp
        wa = xp.where(a.array > b.array, 1.0, xp.where(a.array == b.array, 0.5, 0.0)).astype(g.dtype)
        wa = self.constant(wa)
        return unbroadcast(g * wa, self.a_shape), unbroadcast(g * (1 - wa), self.b_shape)


class Minimum(_Binary):
    name = "minimum"

    def compute(self, a, b):
        return self.xp.minimum(a, b)

    def backward(self, g):
        a, b = self.inputs
        xp = self.xp
        wa = xp.where(a.array < b.array, 1.0, xp.where(a.array == b.array, 0.5, 0.0)).astype(g.dtype)
        wa = self.constant(wa)
        return unbroadcast(g * wa, self.a_shape), unbroadcast(g * (1 - wa), self.b_shape)


class Neg(Op):
    name = "neg"
    saves_values = False

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g

    def backward_array(self, g):
        return -g


class Exp(Op):
    name = "exp"

    def forward(self, x):
        return self.xp.exp(x)

    def backward(self, g):
        return g * self.output()

    def backward_array(self, g):
        return g * self.out


class Log(Op):
    name = "log"
    saves_output = False

    def forward(self, x):
        with quiet(self.xp):  # log(0) = -inf, log(-1) = nan, silently, as in PyTorch
            return self.xp.log(x)

    def backward(self, g):
        return g / self.inputs[0]

    def backward_array(self, g):
        return g / self.inputs[0].array


class Sqrt(Op):
    name = "sqrt"

    def forward(self, x):
        return self.xp.sqrt(x)

    def backward(self, g):
        return g / (2 * self.output())

    def backward_array(self, g):
        return g / (2 * self.out)


class Abs(Op):
    """|x|; the gradient sign(x) is 0 at 0."""

    name = "abs"
    saves_output = False

    def forward(self, x):
        return self.xp.abs(x)

    def backward(self, g):
        return g * self.constant(self.xp.sign(self.inputs[0].array))


class Clip(Op):
    """clip(x, lo, hi); gradient 1 inside [lo, hi], 0 outside."""

    name = "clip"
    saves_output = False

    def forward(self, x):
        return self.xp.clip(x, self.lo, self.hi)

    def backward(self, g):
        x = self.inputs[0].array
        inside = self.xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return g * self.constant(inside.astype(g.dtype))


class Where(Op):
    """where(cond, a, b): the condition is a constant; the gradient goes to the chosen side."""

    name = "where"
    saves_output = False

    def forward(self, a, b):
        try:
            out = self.xp.where(self.cond, a, b)
        except ValueError:
            raise ShapeError(
                f"where: condition {tuple(self.cond.shape)}, x {tuple(a.shape)} and y {tuple(b.shape)} "
                "cannot be broadcast together"
            ) from None
        self.a_shape, self.b_shape = a.shape, b.shape
        return out

    def backward(self, g):
        mask = self.constant(self.xp.broadcast_to(self.cond, g.shape).astype(g.dtype))
        return unbroadcast(g * mask, self.a_shape), unbroadcast(g * (1 - mask), self.b_shape)


# --- public functions ------------------------------------------------------------------
def _check_alpha(alpha, a, b, op):
    """PyTorch's rule for ``alpha``: a float alpha needs a floating result, a bool one a bool result."""
    dt = result_type(a, b)
    if isinstance(alpha, float) and dt.kind != "f":
        raise DTypeError(f"{op}: for integral input tensors ({dt}), argument alpha must not be a floating point "
                         f"number (got alpha={alpha}); convert the tensors first (`x.float()`)")
    if dt.kind == "b" and not isinstance(alpha, bool) and alpha != 1:
        raise DTypeError(f"{op}: boolean alpha only supported for Boolean results "
                         f"(got alpha={alpha!r} with bool tensors)")


def add(input, other, *, alpha=1):
    """input + alpha * other, with broadcasting and PyTorch's type promotion."""
    if alpha is not True and not (type(alpha) is int and alpha == 1):
        _check_alpha(alpha, input, other, "add")
        other = other * alpha
    return Add.apply(*pair(input, other, "add"))


def sub(input, other, *, alpha=1):
    """input - alpha * other, with broadcasting and PyTorch's type promotion."""
    for x in (input, other):
        if isinstance(x, bool) or (isinstance(x, Tensor) and x.array.dtype.kind == "b"):
            raise DTypeError("sub: subtraction, the `-` operator, with a bool tensor or a bool is not supported "
                             "(as in PyTorch); to invert a mask use `~x` or `x.logical_not()`, to flip bits `a ^ b`")
    a, b = pair(input, other, "sub")
    if not (type(alpha) is int and alpha == 1):
        _check_alpha(alpha, input, other, "sub")
        b = b * alpha
    return Sub.apply(a, b)


subtract = sub


def mul(input, other):
    """input * other with broadcasting."""
    return Mul.apply(*pair(input, other, "mul"))


multiply = mul


def _check_int_divisor(a, b, op):
    if a.array.dtype.kind in "iub" and b.array.dtype.kind in "iub" and bool((b.array == 0).any()):
        raise IntegerDivisionByZero(
            f"{op}: integer division by zero (divisor of dtype {b.dtype}, shape {tuple(b.shape)}, has zeros); "
            "integers have no inf/NaN, so convert to floating point first (`x.float()`)"
        )


def div(input, other, *, rounding_mode=None):
    """input / other with broadcasting.

    ``rounding_mode=None`` is true division (integer operands give the default float dtype,
    as in PyTorch); ``'trunc'`` rounds the quotient toward zero (C's integer division) and
    ``'floor'`` toward minus infinity (Python's ``//``); those two keep integer dtypes and
    have gradient 0 (the quotient is piecewise constant).
    """
    a, b = pair(input, other, "div")
    if rounding_mode is None:
        if a.array.dtype.kind != "f":
            dt = _dt.get_default_dtype()
            a, b = cast(a, dt), cast(b, dt)
        return Div.apply(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ArgumentError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    if a.array.dtype.kind == "b":
        a, b = cast(a, _dt.int64), cast(b, _dt.int64)
    _check_int_divisor(a, b, "div")
    return _Rounded.apply(a, b, mode=rounding_mode)


divide = div


def true_divide(dividend, divisor):
    """True division (``div`` with ``rounding_mode=None``)."""
    return div(dividend, divisor)


def floor_divide(input, other):
    """input // other: the quotient rounded toward minus infinity (Python's and PyTorch's ``//``)."""
    return div(input, other, rounding_mode="floor")


def remainder(input, other):
    """input % other with the sign of the divisor (Python's ``%``): ``a - floor(a / b) * b``.
    Gradients: 1 for ``input``, ``-floor(a / b)`` for ``other``."""
    a, b = pair(input, other, "remainder")
    if a.array.dtype.kind == "b":
        a, b = cast(a, _dt.int64), cast(b, _dt.int64)
    _check_int_divisor(a, b, "remainder")
    return Remainder.apply(a, b)


def fmod(input, other):
    """C's fmod: the remainder with the sign of the dividend, ``a - trunc(a / b) * b``.
    Gradients: 1 for ``input``, ``-trunc(a / b)`` for ``other``."""
    a, b = pair(input, other, "fmod")
    if a.array.dtype.kind == "b":
        a, b = cast(a, _dt.int64), cast(b, _dt.int64)
    _check_int_divisor(a, b, "fmod")
    return Fmod.apply(a, b)


def pow(input, exponent):
    """input ** exponent with broadcasting (see :class:`Pow` for the gradients at a = 0, b = 0
    and a < 0)."""
    return Pow.apply(*pair(input, exponent, "pow"))


def maximum(input, other):
    """Elementwise maximum with broadcasting."""
    return Maximum.apply(*pair(input, other, "maximum"))


def minimum(input, other):
    """Elementwise minimum with broadcasting."""
    return Minimum.apply(*pair(input, other, "minimum"))


def neg(input):
    """-input. Bool tensors are refused, as in PyTorch (use ``~`` or ``logical_not`` for masks)."""
    if input.array.dtype.kind == "b":
        raise DTypeError("neg: negation, the `-` operator, on a bool tensor is not supported; "
                         "to invert a mask use `~x` or `x.logical_not()`")
    return Neg.apply(input)


negative = neg


def exp(input):
    """e ** input (integer input gives the default float dtype)."""
    return Exp.apply(float_input(input))


def log(input):
    """Natural logarithm (integer input gives the default float dtype)."""
    return Log.apply(float_input(input))


def sqrt(input):
    """Square root (integer input gives the default float dtype)."""
    return Sqrt.apply(float_input(input))


def abs(input):
    """|input| (keeps integer dtypes; the gradient is sign(x), 0 at 0)."""
    if input.array.dtype.kind == "b":
        raise DTypeError("abs: not implemented for bool tensors (as in PyTorch); convert first (`x.long()`)")
    return Abs.apply(input)


absolute = abs


def clamp(input, min=None, max=None):
    """Clamp into [min, max]: ``minimum(maximum(input, min), max)`` (so max wins where min > max).

    ``min`` and ``max`` are numbers or tensors (broadcast against ``input``); either may be
    None. The gradient goes to ``input`` where min <= input <= max, to ``min`` where
    input < min and to ``max`` where the value exceeds max, as in PyTorch.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"clamp: expected a Tensor input, got {type(input).__name__}")
    if min is None and max is None:
        raise ArgumentError("clamp: at least one of min and max must be given (not None)")
    dt = result_type(input, min, max)  # PyTorch promotes the bounds with the input
    x = cast(input, dt)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            lo = min if isinstance(min, Tensor) else operand(min, x)
            out = where(out < lo, lo, out)
        if max is not None:
            hi = max if isinstance(max, Tensor) else operand(max, x)
            out = where(out > hi, hi, out)
        return out
    return Clip.apply(x, lo=min, hi=max)


clip = clamp


def clamp_min(input, min):
    """clamp(input, min=min)."""
    return clamp(input, min=min)


def clamp_max(input, max):
    """clamp(input, max=max)."""
    return clamp(input, max=max)


_NOT_GIVEN = object()


def where(condition, input=_NOT_GIVEN, other=_NOT_GIVEN):
    """Pick ``input`` where ``condition`` holds, else ``other`` (broadcasting all three).

    ``input`` and ``other`` may be Tensors or Python numbers (both numbers: a tensor on the
    condition's device, of their promoted dtype). ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``: a tuple of int64 index tensors, one per dimension.
    The condition is a constant; the gradient goes to the chosen side.
    """
    if input is _NOT_GIVEN and other is _NOT_GIVEN:
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(condition): expected a Tensor, got {type(condition).__name__}")
        dev = condition.device
        return tuple(Tensor._make(i.astype(_dt.int64, copy=False), dev) for i in dev.xp.nonzero(condition.array))
    if input is _NOT_GIVEN or other is _NOT_GIVEN:
        raise TypeError("where: give both input and other, or neither (where(condition) lists the True positions)")
    x, y = input, other
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        if not isinstance(condition, Tensor):
            raise TypeError("where: the condition, input or other must be a Tensor")
        dt = result_type(x, y)
        x = Tensor._make(condition.device.xp.asarray(x, dtype=dt), condition.device)
    a, b = pair(x, y, "where")
    if isinstance(condition, Tensor):
        if condition.device is not a.device:
            raise DeviceError(f"where: the condition is on {condition.device.type} but the values are on "
                              f"{a.device.type}; move it with `.to('{a.device.type}')`")
        cond = condition.array
    else:
        cond = a.device.xp.asarray(condition)
    if cond.dtype.kind != "b":
        cond = cond.astype(bool)
    return Where.apply(a, b, cond=cond)


# --- comparisons and logic (no gradient) -----------------------------------------------
def _compare(a, b, ufunc_name, op):
    a, b = pair(a, b, op)
    if a.device is not b.device:
        raise DeviceError(f"{op}: tensors on {a.device.type} and {b.device.type}; move one with .to()")
    try:
        out = getattr(a.device.xp, ufunc_name)(a.array, b.array)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    result = Tensor._make(out, a.device)
    if _tracing.tracer is not None:  # no Op.apply here (no gradient): tell an exporter (tinynet.onnx)
        _tracing.note(ufunc_name, (a, b), {}, result)
    return result


def eq(input, other):
    """input == other, elementwise (bool)."""
    return _compare(input, other, "equal", "eq")


def ne(input, other):
    """input != other, elementwise (bool)."""
    return _compare(input, other, "not_equal", "ne")


def lt(input, other):
    """input < other, elementwise (bool)."""
    return _compare(input, other, "less", "lt")


def le(input, other):
    """input <= other, elementwise (bool)."""
    return _compare(input, other, "less_equal", "le")


def gt(input, other):
    """input > other, elementwise (bool)."""
    return _compare(input, other, "greater", "gt")


def ge(input, other):
    """input >= other, elementwise (bool)."""
    return _compare(input, other, "greater_equal", "ge")


not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def logical_and(input, other):
    """Logical AND of the truth values (nonzero is True) of any dtype; a bool tensor."""
    return _compare(input, other, "logical_and", "logical_and")


def logical_or(input, other):
    """Logical OR of the truth values (nonzero is True) of any dtype; a bool tensor."""
    return _compare(input, other, "logical_or", "logical_or")


def logical_xor(input, other):
    """Logical XOR of the truth values (nonzero is True) of any dtype; a bool tensor."""
    return _compare(input, other, "logical_xor", "logical_xor")


def logical_not(input):
    """Logical NOT (True where the element is zero) of any dtype; a bool tensor."""
    result = Tensor._make(input.device.xp.logical_not(input.array), input.device)
    if _tracing.tracer is not None:  # no gradient, no Op.apply: tell an exporter (tinynet.onnx)
        _tracing.note("logical_not", (input,), {}, result)
    return result


def _test(input, fn):
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor, got {type(input).__name__}")
    arr = input.array
    if arr.dtype.kind != "f":  # integers and bools are always finite, never NaN or infinite
        xp = input.device.xp
        return Tensor._make(xp.full(arr.shape, fn == "isfinite", dtype=bool), input.device)
    xp = input.device.xp
    if fn == "isposinf":
        out = xp.isinf(arr) & (arr > 0)
    elif fn == "isneginf":
        out = xp.isinf(arr) & (arr < 0)
    else:
        out = getattr(xp, fn)(arr)
    return Tensor._make(out, input.device)


def isnan(input):
    """True where the element is NaN."""
    return _test(input, "isnan")


def isfinite(input):
    """True where the element is neither NaN nor infinite."""
    return _test(input, "isfinite")


def isinf(input):
    """True where the element is +inf or -inf."""
    return _test(input, "isinf")


def isposinf(input):
    """True where the element is +inf."""
    return _test(input, "isposinf")


def isneginf(input):
    """True where the element is -inf."""
    return _test(input, "isneginf")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise (bool); NaNs are equal only with
    ``equal_nan=True``. Both tensors must have the same dtype, as in PyTorch."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"isclose: expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    if input.array.dtype != other.array.dtype:
        raise DTypeError(f"isclose: both tensors must have the same dtype, got {input.dtype} and {other.dtype}; "
                         f"convert one first (`other.to({input.dtype})`)")
    if rtol < 0 or atol < 0:
        raise ArgumentError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    if input.device is not other.device:
        raise DeviceError(f"isclose: tensors on {input.device.type} and {other.device.type}; move one with .to()")
    a, b = input.array, other.array
    xp = input.device.xp
    try:
        if a.dtype.kind != "f":
            a64, b64 = a.astype("float64"), b.astype("float64")
            out = (a == b) | (xp.abs(a64 - b64) <= atol + rtol * xp.abs(b64))
        else:
            out = xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    except ValueError:
        raise broadcast_error("isclose", input, other) from None
    return Tensor._make(out, input.device)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when every element of ``isclose(input, other, rtol, atol, equal_nan)`` is."""
    return bool(isclose(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan).array.all())


class Sign(Op):
    """sign(x): -1, 0 or +1 (NaN stays NaN). Piecewise constant: gradient 0, as in PyTorch."""

    name = "sign"
    saves_values = False

    def forward(self, x):
        return self.xp.sign(x)

    def backward(self, g):
        return self.constant(self.xp.zeros(g.shape, g.dtype))


def sign(input):
    """Sign of each element (-1, 0, +1; gradient 0). Bool input stays bool, as in PyTorch."""
    if input.array.dtype.kind == "b":
        return Tensor._make(input.array.copy(), input.device)
    return Sign.apply(input)
