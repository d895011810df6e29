"""Elementwise arithmetic and math with broadcasting, and comparisons (no gradient).

Each op's backward is the textbook derivative, written with tinynet ops so it can be
differentiated again; ``unbroadcast`` sums gradients back to each input's shape.
"""
from __future__ import annotations

from ..backend.errors import DeviceError, ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._util import broadcast_error, operand, pair, unbroadcast, unbroadcast_array

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "abs", "add", "allclose", "clamp", "clip", "div", "eq", "exp", "ge", "gt", "isfinite", "isnan",
    "le", "log", "logical_and", "logical_not", "logical_or", "lt", "maximum", "minimum", "mul",
    "ne", "neg", "pow", "sign", "sqrt", "sub", "where"
]


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
        out = a / b
        if out.dtype.itemsize == 8 and a.dtype.kind != "f" and b.dtype.kind != "f":
            out = out.astype("float32")  # int / int gives the default float, as in PyTorch
        return out

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
    """a ** b; d/da = b a^(b-1), d/db = a^b ln a (taken where a > 0)."""

    name = "pow"
    saves_output = True

    def compute(self, a, b):
        return a ** b

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast(g * b * a ** (b - 1), self.a_shape)
        if b._requires_grad:
            safe = where(a > 0, a, operand(1.0, a))
            gb = unbroadcast(g * self.output() * log(safe), self.b_shape)
        return ga, gb

    def backward_array(self, g):
        a, b = self.inputs
        ad, bd = a.array, b.array
        xp = self.xp
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast_array(g * bd * ad ** (bd - 1), self.a_shape)
        if b._requires_grad:
            safe = xp.where(ad > 0, ad, xp.asarray(1.0, dtype=ad.dtype))
            gb = unbroadcast_array(g * self.out * xp.log(safe), self.b_shape)
        return ga, gb


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
def add(a, b):
    """a + b with broadcasting."""
    return Add.apply(*pair(a, b, "add"))


def sub(a, b):
    """a - b with broadcasting."""
    return Sub.apply(*pair(a, b, "sub"))


def mul(a, b):
    """a * b with broadcasting."""
    return Mul.apply(*pair(a, b, "mul"))


def div(a, b):
    """a / b with broadcasting (true division)."""
    return Div.apply(*pair(a, b, "div"))


def pow(a, b):
    """a ** b with broadcasting."""
    return Pow.apply(*pair(a, b, "pow"))


def maximum(a, b):
    """Elementwise maximum with broadcasting."""
    return Maximum.apply(*pair(a, b, "maximum"))


def minimum(a, b):
    """Elementwise minimum with broadcasting."""
    return Minimum.apply(*pair(a, b, "minimum"))


def neg(x):
    return Neg.apply(x)


def exp(x):
    return Exp.apply(x)


def log(x):
    """Natural logarithm."""
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def abs(x):
    return Abs.apply(x)


def clip(x, min=None, max=None):
    """Clamp values into [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return Clip.apply(x, lo=min, hi=max)


clamp = clip


def where(condition, x, y):
    """Pick ``x`` where ``condition`` holds, else ``y`` (broadcasting all three)."""
    a, b = pair(x, y, "where") if isinstance(x, Tensor) or isinstance(y, Tensor) else (None, None)
    if a is None:
        raise TypeError("where: x or y must be a Tensor")
    cond = condition.array if isinstance(condition, Tensor) else a.device.xp.asarray(condition)
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
    return Tensor._make(out, a.device)


def eq(a, b):
    return _compare(a, b, "equal", "eq")


def ne(a, b):
    return _compare(a, b, "not_equal", "ne")


def lt(a, b):
    return _compare(a, b, "less", "lt")


def le(a, b):
    return _compare(a, b, "less_equal", "le")


def gt(a, b):
    return _compare(a, b, "greater", "gt")


def ge(a, b):
    return _compare(a, b, "greater_equal", "ge")


def logical_and(a, b):
    return _compare(a, b, "logical_and", "logical_and")


def logical_or(a, b):
    return _compare(a, b, "logical_or", "logical_or")


def logical_not(x):
    return Tensor._make(x.device.xp.logical_not(x.array), x.device)


def isnan(x):
    return Tensor._make(x.device.xp.isnan(x.array), x.device)


def isfinite(x):
    return Tensor._make(x.device.xp.isfinite(x.array), x.device)


def sign(x):
    """Sign of each element (no gradient: it is 0 almost everywhere)."""
    return Tensor._make(x.device.xp.sign(x.array), x.device)


def allclose(a, b, rtol=1e-5, atol=1e-8) -> bool:
    a, b = pair(a, b, "allclose")
    return bool(a.device.xp.allclose(a.array, b.array, rtol=rtol, atol=atol))
