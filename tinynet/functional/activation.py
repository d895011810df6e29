"""Activation functions: sigmoid, relu, tanh, softmax, log_softmax, leaky_relu, gelu, silu,
softplus, elu, hardtanh, and the rest of PyTorch's set (hardsigmoid, hardswish, relu6, selu,
celu, mish, softsign, softmin, logsigmoid, glu, prelu, rrelu, hardshrink, softshrink,
tanhshrink, threshold), with PyTorch's names, arguments and defaults.

Each is a :class:`~tinynet.autograd.Op` whose backward is written with tinynet ops
on the saved output (``self.output()``) or input, so ``create_graph=True`` gives second
derivatives; silu is a composition (``x * sigmoid(x)``).

Numerical stability
-------------------
* ``sigmoid(x) = 1 / (1 + e^-x)`` overflows ``e^-x`` for x << 0. With ``e = exp(-|x|)``
  (always in (0, 1]) it is ``1 / (1 + e)`` for x >= 0 and ``e / (1 + e)`` for x < 0:
  the same number, and no overflow anywhere (x = -1e4 gives 0, not a warning).
* ``softmax(x) = exp(x - m) / sum(exp(x - m))`` with ``m = max(x)`` along the axis: the
  largest exponent is 0, so nothing overflows; ``log_softmax = x - m - log(sum(exp(x - m)))``
  never takes the log of a rounded-to-zero probability.

Fused kernels
-------------
softmax and log_softmax run the fused row kernels of ``kernels/{cpu,cuda}/softmax.py``
on the last axis (other axes are moved there first), for float32/float64 arrays from the
device policy's size up (``kernels/policy.py``: every size on both devices today).
Each op's ``backward`` is its one Tensor formula (differentiable again, used with
``create_graph=True``); ``backward_array``, where an op has one, is the same derivative on
raw arrays (the fused backward kernel for softmax, log_softmax and GELU), which the engine
calls for a plain ``backward()``. GELU's erf comes from the ``erf`` kernels (NumPy has no
erf).

In-place forms
--------------
``relu``, ``leaky_relu``, ``elu``, ``hardtanh``, ``silu``, ``relu6``, ``hardsigmoid``,
``hardswish``, ``selu``, ``celu``, ``mish``, ``rrelu`` and ``threshold`` take PyTorch's
``inplace=True``: the result is written into the input's own memory and the input itself
is returned (see :func:`~tinynet.functional.inplace.assign` for the autograd rules).
PyTorch's functional in-place forms ``relu_``, ``elu_``, ``leaky_relu_``, ``hardtanh_``,
``selu_``, ``celu_``, ``rrelu_`` and ``threshold_`` are the same call with ``inplace=True``.
"""
from __future__ import annotations

import math

from ..autograd.op import Op
from ..autograd.grad_mode import STATE
from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..tensor.random import generator
from ..tensor.tensor import Tensor
from ._util import float_input, normalize_axis, pick_axis
from ._autocast import float32_under_autocast
from .inplace import assign
from .elementwise import exp, where
from .join import split

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "celu", "celu_", "elu", "elu_", "erf", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish",
    "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "log_softmax", "logsigmoid", "mish", "prelu",
    "relu", "relu6", "relu_", "rrelu", "rrelu_", "selu", "selu_", "sigmoid", "silu", "softmax", "softmin",
    "softplus", "softshrink", "softsign", "tanh", "tanhshrink", "threshold", "threshold_"
]


def _check_float(x, op):
    if x.array.dtype.kind != "f":
        raise DTypeError(
            f"{op}: expected a floating-point tensor, got {x.dtype} of shape {tuple(x.shape)}; "
            "convert it first with `x.float()`"
        )


# --- row layout for the softmax kernels ---------------------------------------------------
def use_row_kernels(device, a, C: int) -> bool:
    """Whether the fused softmax-family row kernels serve the array ``a`` (rows of ``C``
    classes) on ``device``: float32/float64 with classes, and at least the device policy's
    ``KERNEL_MIN_ELEMENTS["softmax"]`` elements (``kernels/policy.py``)."""
    return (a.dtype.kind == "f" and a.dtype.itemsize in (4, 8) and C > 0
            and a.size >= device.kernels.KERNEL_MIN_ELEMENTS["softmax"])


def to_rows(xp, a, axis):
    """``a`` as a C-contiguous 2-D ``(rows, C)`` array with ``axis`` moved last.

    Returns the 2-D array and the moved shape needed by :func:`from_rows`. For the last
    axis of a contiguous array this is a free reshape; otherwise one copy.
    """
    if a.ndim == 0:
        return xp.ascontiguousarray(a.reshape(1, 1)), (1,)
    if axis != a.ndim - 1:
        a = xp.moveaxis(a, axis, -1)
    moved = a.shape
    return xp.ascontiguousarray(a).reshape(-1, moved[-1]), moved


def from_rows(xp, a2, moved, axis, ndim):
    """Undo :func:`to_rows`: back to the original layout (contiguous)."""
    if ndim == 0:
        return a2.reshape(())
    a = a2.reshape(moved)
    if axis != ndim - 1:
        a = xp.ascontiguousarray(xp.moveaxis(a, -1, axis))
    return a


def _rowwise(fn, kernel, axis, *arrays):
    """Run the row kernel ``kernel`` on ``arrays`` (same shape) along ``axis``."""
    xp = fn.xp
    ndim = arrays[0].ndim
    rows = [to_rows(xp, a, axis) for a in arrays]
    out = getattr(fn.kernels, kernel)(*[r[0] for r in rows])
    return from_rows(xp, out, rows[0][1], axis, ndim)


def _class_count(x, axis):
    return x.shape[axis] if x.ndim else 1


# --- elementwise activations ---------------------------------------------------------------
class Sigmoid(Op):
    """sigmoid(x) = 1 / (1 + e^-x), computed from e^-|x| (see module docstring).

    d sigmoid / dx = y (1 - y), with y the output.
    """

    name = "sigmoid"

    def forward(self, x):
        xp = self.xp
        e = xp.exp(-xp.abs(x))
        r = 1 / (1 + e)
        return xp.where(x >= 0, r, e * r)

    def backward(self, g):
        y = self.output()
        return g * y * (1 - y)

    def backward_array(self, g):
        y = self.out
        return g * y * (1 - y)


class ReLU(Op):
    """relu(x) = max(x, 0); the gradient is 1 where x > 0, else 0 (0 at x = 0, as PyTorch).

    The backward reads the output (y > 0 exactly where x > 0), not the input, so the
    in-place form needs no copy of the input (PyTorch's ``relu_`` does the same).
    """

    name = "relu"

    def _kernel(self, x):
        """Use the device's fused kernel (one parallel pass) for large float arrays."""
        return x.dtype.kind == "f" and x.dtype.itemsize in (4, 8) and x.size >= self.kernels.KERNEL_MIN_ELEMENTS["relu"]

    def forward(self, x):
        if self._kernel(x):
            return self.kernels.relu_forward(x)
        return self.xp.maximum(x, 0)

    def backward(self, g):
        return g * self.constant((self.out > 0).astype(g.dtype))

    def backward_array(self, g):
        y = self.out
        if self._kernel(y):
            return self.kernels.relu_backward(y, g)
        return g * (y > 0)


class Tanh(Op):
    """tanh(x); d tanh / dx = 1 - tanh(x)^2."""

    name = "tanh"

    def forward(self, x):
        return self.xp.tanh(x)

    def backward(self, g):
        y = self.output()
        return g * (1 - y * y)

    def backward_array(self, g):
        y = self.out
        return g * (1 - y * y)


class LeakyReLU(Op):
    """x for x > 0, ``negative_slope * x`` otherwise; gradient 1 or ``negative_slope``."""

    name = "leaky_relu"
    saves_output = False

    def forward(self, x):
        return self.xp.where(x > 0, x, x * self.negative_slope)

    def backward(self, g):
        slope = self.xp.where(self.inputs[0].array > 0, 1.0, self.negative_slope).astype(g.dtype)
        return g * self.constant(slope)

    def backward_array(self, g):
        return self.xp.where(self.inputs[0].array > 0, g, g * self.negative_slope)


class Softplus(Op):
    """softplus(x) = log(1 + e^(beta x)) / beta, linear (= x) where beta x > threshold.

    Stable form: ``max(z, 0) + log1p(exp(-|z|))`` with ``z = beta x``. The gradient is
    ``sigmoid(beta x)`` (1 in the linear region).
    """

    name = "softplus"
    saves_output = False

    def forward(self, x):
        xp = self.xp
        z = x * self.beta
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / self.beta
        return xp.where(z > self.threshold, x, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0]
        s = sigmoid(x * self.beta)
        linear = self.constant((x.array * self.beta > self.threshold).astype(g.dtype))
        return g * (linear + (1 - linear) * s)


class ELU(Op):
    """elu(x) = x for x > 0, alpha (e^x - 1) otherwise; gradient 1 or ``y + alpha``."""

    name = "elu"

    def forward(self, x):
        xp = self.xp
        neg = xp.minimum(x, 0)  # exp of the negative part only: no overflow for large x
        return xp.where(x > 0, x, self.alpha * xp.expm1(neg)).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.inputs[0].array
        pos = self.constant((x > 0).astype(g.dtype))
        return g * (pos + (1 - pos) * (self.output() + self.alpha))


class Hardtanh(Op):
    """clamp(x, min_val, max_val); gradient 1 strictly inside, 0 outside and at the edges
    (PyTorch's convention). The backward reads the output (strictly inside exactly where x
    is), so the in-place form needs no copy of the input."""

    name = "hardtanh"

    def forward(self, x):
        return self.xp.clip(x, self.min_val, self.max_val)

    def backward(self, g):
        y = self.out
        inside = (y > self.min_val) & (y < self.max_val)
        return g * self.constant(inside.astype(g.dtype))


class Erf(Op):
    """The error function erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt (device kernel).

    d erf / dx = 2/sqrt(pi) * e^(-x^2).
    """

    name = "erf"
    saves_output = False

    def forward(self, x):
        return self.kernels.erf(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (2.0 / math.sqrt(math.pi)) * exp(-(x * x))


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Op):
    """GELU(x) = x * Phi(x), Phi the standard normal CDF (``approximate="none"``), or
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (``approximate="tanh"``).

    Forward and ``backward_array`` are one fused kernel pass each (``gelu_forward`` /
    ``gelu_backward``, or the derivative the forward saved); ``backward`` is the composite
    ``Phi(x) + x phi(x)`` (exact) or the tanh formula's derivative, made of tinynet ops.
    """

    name = "gelu"
    saves_output = False
    save_grad = False  # set by gelu() when a backward will follow
    dydx = None  # GELU'(x), saved by the forward then

    def forward(self, x):
        tanh_approx = self.approximate == "tanh"
        if self.save_grad:
            y, self.dydx = self.kernels.gelu_forward(x, tanh_approx, True)
            return y
        return self.kernels.gelu_forward(x, tanh_approx)

    def backward_array(self, g):
        if self.dydx is not None:
            return g * self.dydx
        return self.kernels.gelu_backward(self.inputs[0].array, g, self.approximate == "tanh")

    def backward(self, g):
        x = self.inputs[0]
        if self.approximate == "tanh":
            u = (x + 0.044715 * x * x * x) * _SQRT_2_OVER_PI
            t = tanh(u)
            du = (1 + 3 * 0.044715 * x * x) * _SQRT_2_OVER_PI
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
        cdf = 0.5 * (1 + erf(x * _INV_SQRT_2))
        pdf = exp(-0.5 * x * x) * _INV_SQRT_2PI
        return g * (cdf + x * pdf)


# --- softmax family ---------------------------------------------------------------------------
class Softmax(Op):
    """softmax along ``axis``: exp(x - max) / sum(exp(x - max)).

    Backward: dx = y * (g - sum(g * y)) along the axis (y the output): tinynet ops in
    ``backward``, the fused row kernel in ``backward_array``.
    """

    name = "softmax"

    def forward(self, x):
        xp = self.xp
        if x.size == 0:
            return x.copy()
        if use_row_kernels(self.device, x, _class_count(x, self.axis)):
            return _rowwise(self, "softmax_forward", self.axis, x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, g):
        y = self.output()
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))

    def backward_array(self, g):
        y = self.out
        if y.size == 0:
            return g.copy()
        if use_row_kernels(self.device, y, _class_count(y, self.axis)):
            return _rowwise(self, "softmax_backward", self.axis, y, g)
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Op):
    """log_softmax along ``axis``: x - max - log(sum(exp(x - max))).

    Backward: dx = g - exp(y) * sum(g) along the axis (y the output, exp(y) = softmax):
    tinynet ops in ``backward``, the fused row kernel in ``backward_array``.
    """

    name = "log_softmax"

    def forward(self, x):
        xp = self.xp
        if x.size == 0:
            return x.copy()
        if use_row_kernels(self.device, x, _class_count(x, self.axis)):
            return _rowwise(self, "log_softmax_forward", self.axis, x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        shifted -= xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        return shifted

    def backward(self, g):
        return g - exp(self.output()) * g.sum(axis=self.axis, keepdims=True)

    def backward_array(self, g):
        y = self.out
        if y.size == 0:
            return g.copy()
        if use_row_kernels(self.device, y, _class_count(y, self.axis)):
            return _rowwise(self, "log_softmax_backward", self.axis, y, g)
        return g - self.xp.exp(y) * g.sum(axis=self.axis, keepdims=True)


# --- public functions -------------------------------------------------------------------------
def sigmoid(input):
    """The logistic function 1 / (1 + e^-x), stable for any input."""
    input = float_input(input)  # integer input gives the default float, as in PyTorch
    return Sigmoid.apply(input)


def relu(input, inplace: bool = False):
    """max(x, 0). ``inplace=True`` writes the result into ``input`` and returns it (PyTorch's
    ``relu_``; see the module docstring)."""
    if inplace:
        return assign(input, ReLU.apply, "relu(inplace=True)", reads_input=False)
    return ReLU.apply(input)


def tanh(input):
    """Hyperbolic tangent."""
    input = float_input(input)  # integer input gives the default float, as in PyTorch
    return Tanh.apply(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x for x > 0, ``negative_slope * x`` otherwise. ``inplace=True`` writes the result into
    ``input`` and returns it."""
    _check_float(input, "leaky_relu")
    slope = float(negative_slope)
    if inplace:
        return assign(input, lambda x: LeakyReLU.apply(x, negative_slope=slope), "leaky_relu(inplace=True)")
    return LeakyReLU.apply(input, negative_slope=slope)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, returning x where beta x > threshold (PyTorch's default 20)."""
    _check_float(input, "softplus")
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """x for x > 0, alpha (exp(x) - 1) otherwise. ``inplace=True`` writes the result into
    ``input`` and returns it."""
    _check_float(input, "elu")
    alpha = float(alpha)
    if inplace:
        return assign(input, lambda x: ELU.apply(x, alpha=alpha), "elu(inplace=True)")
    return ELU.apply(input, alpha=alpha)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """clamp(x, min_val, max_val). ``inplace=True`` writes the result into ``input`` and
    returns it."""
    _check_float(input, "hardtanh")
    if min_val > max_val:
        raise ArgumentError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    bounds = dict(min_val=float(min_val), max_val=float(max_val))
    if inplace:
        return assign(input, lambda x: Hardtanh.apply(x, **bounds), "hardtanh(inplace=True)", reads_input=False)
    return Hardtanh.apply(input, **bounds)


def erf(input):
    """The error function (``torch.erf``)."""
    input = float_input(input)  # integer input gives the default float, as in PyTorch
    return Erf.apply(input)


def gelu(input, approximate: str = "none"):
    """Gaussian error linear unit x * Phi(x); ``approximate="tanh"`` for the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _check_float(input, "gelu")
    return GELU.apply(input, approximate=approximate, save_grad=input._requires_grad and STATE.enabled)


def silu(input, inplace: bool = False):
    """x * sigmoid(x) (also called swish). ``inplace=True`` writes the result into ``input``
    and returns it."""
    _check_float(input, "silu")
    if inplace:
        return assign(input, lambda x: x * sigmoid(x), "silu(inplace=True)")
    return input * sigmoid(input)


def softsign(input):
    """softsign(x) = x / (1 + |x|): squashes to (-1, 1) like tanh, with polynomial tails.

    A composite op (CONTRIBUTING.md's worked example): autograd derives its gradient
    ``1 / (1 + |x|)^2`` from the ops it is made of.
    """
    input = float_input(input)  # integer input gives the default float, as in PyTorch
    return input / (1 + abs(input))


def _softmax_axis(input, axis, dim, op):
    _check_float(input, op)
    axis = pick_axis(axis, dim, op)
    if axis is None:
        axis = -1
    return normalize_axis(axis, input.ndim, op)


@float32_under_autocast("softmax", 1)
def softmax(input, dim=None, *, axis=None, dtype=None):
    """softmax along ``dim`` (alias ``axis``; default the last axis). ``dtype`` casts first."""
    if dtype is not None:
        input = input.to(dtype)
    return Softmax.apply(input, axis=_softmax_axis(input, axis, dim, "softmax"))


@float32_under_autocast("log_softmax", 1)
def log_softmax(input, dim=None, *, axis=None, dtype=None):
    """log(softmax(x)) along ``dim`` (alias ``axis``; default last), computed stably."""
    if dtype is not None:
        input = input.to(dtype)
    return LogSoftmax.apply(input, axis=_softmax_axis(input, axis, dim, "log_softmax"))


def relu_(input):
    """In-place :func:`relu` (PyTorch's ``F.relu_``): writes into ``input`` and returns it."""
    return relu(input, inplace=True)


def leaky_relu_(input, negative_slope: float = 0.01):
    """In-place :func:`leaky_relu` (PyTorch's ``F.leaky_relu_``)."""
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input, alpha: float = 1.0):
    """In-place :func:`elu` (PyTorch's ``F.elu_``)."""
    return elu(input, alpha, inplace=True)


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    """In-place :func:`hardtanh` (PyTorch's ``F.hardtanh_``)."""
    return hardtanh(input, min_val, max_val, inplace=True)


# --- more activations (composites of the ops above, unless said otherwise) ---------------------
def _maybe_inplace(input, inplace, op, compute):
    """``compute(input)``, or the same written into ``input`` when ``inplace`` (the composite's
    inner ops may read the old values, so a copy of them is kept for the backward)."""
    if inplace:
        return assign(input, compute, f"{op}(inplace=True)")
    return compute(input)


def _const(array, like):
    """A constant (no-grad) tensor on ``like``'s device; NumPy turns 0-d results into scalars,
    so the value is made an array again."""
    return Tensor._make(like.device.xp.asarray(array), like.device)


def relu6(input, inplace: bool = False):
    """relu6(x) = min(max(x, 0), 6) = ``hardtanh(x, 0, 6)`` (PyTorch defines it so; the
    gradient is 1 strictly inside (0, 6), 0 elsewhere)."""
    _check_float(input, "relu6")
    return hardtanh(input, 0.0, 6.0, inplace=inplace)


def hardsigmoid(input, inplace: bool = False):
    """hardsigmoid(x) = relu6(x + 3) / 6: 0 for x <= -3, 1 for x >= 3, linear in between
    (a cheap piecewise-linear sigmoid, MobileNetV3's). Gradient 1/6 strictly inside (-3, 3)."""
    _check_float(input, "hardsigmoid")
    return _maybe_inplace(input, inplace, "hardsigmoid",
                          lambda x: (Hardtanh.apply(x, min_val=-3.0, max_val=3.0) + 3.0) * (1.0 / 6.0))


def hardswish(input, inplace: bool = False):
    """hardswish(x) = x * relu6(x + 3) / 6 (MobileNetV3): 0 for x <= -3, x for x >= 3.

    Gradient (PyTorch's): 0 below -3, (2x + 3) / 6 on [-3, 3], 1 above 3.
    """
    _check_float(input, "hardswish")
    return _maybe_inplace(input, inplace, "hardswish", lambda x: x * hardsigmoid(x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace: bool = False):
    """selu(x) = scale * elu(x, alpha) with PyTorch's constants alpha = 1.6732632423543772,
    scale = 1.0507009873554805 (self-normalising: keeps zero mean / unit variance)."""
    _check_float(input, "selu")
    return _maybe_inplace(input, inplace, "selu", lambda x: ELU.apply(x, alpha=_SELU_ALPHA) * _SELU_SCALE)


def selu_(input):
    """In-place :func:`selu` (PyTorch's ``F.selu_``)."""
    return selu(input, inplace=True)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    """celu(x) = max(0, x) + min(0, alpha (exp(x / alpha) - 1)) = ``alpha * elu(x / alpha)``:
    an ELU whose derivative is continuous at 0 for any alpha."""
    _check_float(input, "celu")
    alpha = float(alpha)
    if alpha == 0:
        raise ArgumentError("celu: alpha must not be 0 (the formula divides by alpha); use relu for that limit")
    return _maybe_inplace(input, inplace, "celu", lambda x: ELU.apply(x * (1.0 / alpha), alpha=1.0) * alpha)


def celu_(input, alpha: float = 1.0):
    """In-place :func:`celu` (PyTorch's ``F.celu_``)."""
    return celu(input, alpha, inplace=True)


def mish(input, inplace: bool = False):
    """mish(x) = x * tanh(softplus(x)) (Misra 2019): smooth, non-monotonic like silu."""
    _check_float(input, "mish")
    return _maybe_inplace(input, inplace, "mish", lambda x: x * tanh(softplus(x)))


def softmin(input, dim=None, *, axis=None, dtype=None):
    """softmin(x) = softmax(-x) along ``dim`` (alias ``axis``; default the last axis).
    ``dtype`` casts the input first, as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    return Softmax.apply(-input, axis=_softmax_axis(input, axis, dim, "softmin"))


class LogSigmoid(Op):
    """logsigmoid(x) = log(1 / (1 + e^-x)) = min(x, 0) - log1p(e^-|x|): never overflows and
    never takes log(0) (x = -1e4 gives -1e4, x = 1e4 gives -0).

    d/dx = 1 - sigmoid(x) = sigmoid(-x).
    """

    name = "logsigmoid"
    saves_output = False

    def forward(self, x):
        xp = self.xp
        return (xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))).astype(x.dtype, copy=False)

    def backward(self, g):
        return g * sigmoid(-self.inputs[0])

    def backward_array(self, g):
        xp = self.xp
        x = self.inputs[0].array
        e = xp.exp(-xp.abs(x))
        s = xp.where(x >= 0, e, 1) / (1 + e)  # sigmoid(-x), stable
        return (g * s).astype(g.dtype, copy=False)


def logsigmoid(input):
    """log(sigmoid(x)), computed stably (see :class:`LogSigmoid`)."""
    _check_float(input, "logsigmoid")
    return LogSigmoid.apply(input)


def glu(input, dim: int = -1):
    """Gated linear unit: split ``input`` in halves a, b along ``dim``; return a * sigmoid(b).
    The size along ``dim`` must be even."""
    _check_float(input, "glu")
    if input.ndim == 0:
        raise ShapeError("glu: does not support 0-d (scalar) tensors; the input needs a dimension to halve")
    d = normalize_axis(dim, input.ndim, "glu")
    n = input.shape[d]
    if n % 2:
        raise ShapeError(
            f"glu: halving dimension must be even, but dimension {dim} of the input (shape "
            f"{tuple(input.shape)}) has size {n}"
        )
    a, b = split(input, n // 2, d)
    return a * sigmoid(b)


def prelu(input, weight):
    """prelu(x) = x for x > 0, ``weight * x`` otherwise, with a learnable ``weight``.

    ``weight`` has one element (shared) or one per channel, the input's dimension 1
    (inputs of fewer than 2 dimensions have one channel), as PyTorch's.
    """
    _check_float(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu: weight must be a Tensor, got {type(weight).__name__}")
    if weight.device is not input.device:
        raise DeviceError(
            f"prelu: input is on {input.device.type} but weight is on {weight.device.type}; "
            f"move the weight with `weight.to('{input.device.type}')`"
        )
    channels = input.shape[1] if input.ndim >= 2 else 1
    k = int(weight.array.size)
    if weight.ndim > 1 or k not in (1, channels):
        raise ShapeError(
            f"prelu: weight of shape {tuple(weight.shape)} matches neither one shared parameter nor the "
            f"input's {channels} channel(s) (input shape {tuple(input.shape)}, channels on dimension 1); "
            f"use nn.PReLU(num_parameters={channels}) or a weight of {channels} element(s)"
        )
    if weight.dtype != input.dtype:
        weight = weight.to(input.dtype)
    w = weight.reshape(()) if k == 1 else weight.reshape((1, channels) + (1,) * (input.ndim - 2))
    return where(input.array > 0, input, w * input)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False):
    """Randomized leaky ReLU (Xu et al. 2015): x for x >= 0, ``a * x`` otherwise.

    In training each element gets its own slope ``a ~ U(lower, upper)``, drawn on the host
    from the global generator (``tn.manual_seed`` makes it reproducible); the gradient of
    a negative element is its slope. In evaluation (``training=False``) the slope is fixed
    at ``(lower + upper) / 2``, a leaky_relu.
    """
    _check_float(input, "rrelu")
    lower, upper = float(lower), float(upper)
    if lower > upper:
        raise ArgumentError(f"rrelu: lower bound ({lower}) must not exceed the upper bound ({upper})")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace=inplace)
    shape = tuple(input.shape)
    slopes = generator().uniform(lower, upper, size=shape or (1,)).reshape(shape).astype(input.array.dtype)
    slopes = input.device.from_host(slopes) if input.device.xp.__name__ != "numpy" else slopes

    def compute(x):
        return where(x.array >= 0, x, x * _const(slopes, x))
    return _maybe_inplace(input, inplace, "rrelu", compute)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    """In-place :func:`rrelu` (PyTorch's ``F.rrelu_``)."""
    return rrelu(input, lower, upper, training, inplace=True)


def hardshrink(input, lambd: float = 0.5):
    """hardshrink(x) = x where |x| > lambd, else 0 (gradient 1 or 0 likewise)."""
    _check_float(input, "hardshrink")
    lambd = float(lambd)
    keep = input.device.xp.abs(input.array) > lambd
    return input * _const(keep.astype(input.array.dtype), input)


def softshrink(input, lambd: float = 0.5):
    """softshrink(x) = x - lambd for x > lambd, x + lambd for x < -lambd, else 0 (the
    proximal operator of lambd |x|); gradient 1 where |x| > lambd, else 0."""
    _check_float(input, "softshrink")
    lambd = float(lambd)
    if lambd < 0:
        raise ArgumentError(f"softshrink: lambd must be non-negative, got {lambd}")
    a = input.array
    shift = _const(((a > lambd) * -lambd + (a < -lambd) * lambd).astype(a.dtype), input)
    keep = _const((input.device.xp.abs(a) > lambd).astype(a.dtype), input)
    return input * keep + shift


def tanhshrink(input):
    """tanhshrink(x) = x - tanh(x)."""
    _check_float(input, "tanhshrink")
    return input - tanh(input)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    """threshold(x) = x where x > threshold, else ``value`` (gradient 1 where x > threshold)."""
    _check_float(input, "threshold")
    th, value = float(threshold), float(value)

    def compute(x):
        keep = x.array > th
        return x * _const(keep.astype(x.array.dtype), x) + _const(((~keep) * value).astype(x.array.dtype), x)
    return _maybe_inplace(input, inplace, "threshold", compute)


_threshold = threshold  # (threshold_'s argument ``threshold`` hides the function's name)


def threshold_(input, threshold: float, value: float):
    """In-place :func:`threshold` (PyTorch's ``F.threshold_``)."""
    return _threshold(input, threshold, value, inplace=True)
