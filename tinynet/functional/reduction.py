"""Reductions over an axis, a tuple of axes, or everything.

``sum mean max min amax amin var std logsumexp prod`` (differentiable), ``argmax argmin
all any`` (no gradient). ``axis=`` (alias ``dim=``) and ``keepdims=`` (alias ``keepdim=``)
follow NumPy/PyTorch; a 0-d tensor accepts ``dim=0``/``-1`` as PyTorch does.

The gradient of a sum copies the output gradient back over the reduced axes
(a broadcast); a mean does the same divided by the number of elements reduced; a max
sends it to the position(s) of the maximum; logsumexp sends softmax-weighted shares.
``max``/``min`` return values only (NumPy's ``np.max``, PyTorch's ``amax``), also as
methods: ``x.max(dim=1)`` is a tensor, not PyTorch's (values, indices) pair.
"""
from __future__ import annotations

import builtins as _builtins
import math

from ..backend.errors import ShapeError
from ..autograd.op import Op
from ..autograd.grad_mode import STATE
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis, pick_axis
from .elementwise import exp, maximum, minimum, sqrt
from .join import cat

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "all", "amax", "amin", "any", "argmax", "argmin", "logsumexp", "max", "mean", "min", "prod",
    "std", "sum", "var"
]


def _restore(g, in_shape, axis, keepdims):
    """Reinsert reduced axes of length 1 so ``g`` broadcasts against the input shape."""
    if keepdims or axis is None and g.ndim == 0:
        return g.reshape(tuple(1 for _ in in_shape)) if g.ndim == 0 and in_shape else g
    axes = (axis,) if isinstance(axis, int) else (tuple(range(len(in_shape))) if axis is None else axis)
    shape = list(in_shape)
    for ax in axes:
        shape[ax] = 1
    return g.reshape(tuple(shape))


def _filled(xp, g, shape):
    """``g`` broadcast to ``shape`` as a new array (the array fast path of ``expand``).

    A materialized copy rather than ``xp.broadcast_to``'s stride-0 view: NumPy builds
    that view in Python (~10-20 µs), and the next ops (and NumPy reductions) on a
    stride-0 view are slower than on a plain array; an empty + fill is ~1 µs.
    """
    out = xp.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


class Sum(Op):
    name = "sum"
    saves_values = False

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        return _restore(g, self.in_shape, self.axis, self.keepdims).expand(self.in_shape)

    def backward_array(self, g):
        return _filled(self.xp, _restore(g, self.in_shape, self.axis, self.keepdims), self.in_shape)


class Mean(Op):
    name = "mean"
    saves_values = False

    def forward(self, x):
        self.in_shape = x.shape
        if self.axis is None:
            self.count = x.size
        else:
            axes = (self.axis,) if isinstance(self.axis, int) else self.axis
            self.count = math.prod(x.shape[a] for a in axes)
        if x.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating tensor, got {x.dtype}; convert with .float()")
        if x.dtype.itemsize >= 4 and self.count:
            # The same sum-then-divide as ``x.mean`` (float32/64 accumulate in their own
            # dtype), minus NumPy's Python-level ``_mean`` wrapper (~2 µs per call).
            return x.sum(axis=self.axis, keepdims=self.keepdims) / self.count
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        g = _restore(g, self.in_shape, self.axis, self.keepdims)
        return (g / _builtins.max(self.count, 1)).expand(self.in_shape)

    def backward_array(self, g):
        g = _restore(g, self.in_shape, self.axis, self.keepdims)
        return _filled(self.xp, g / _builtins.max(self.count, 1), self.in_shape)


def _reduce(cls, x, axis, dim, keepdims, keepdim):
    axis = _resolve(x, axis, dim, cls.name)
    return cls.apply(x, axis=axis, keepdims=bool(keepdims or keepdim))


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Sum of elements over ``axis`` (all when None)."""
    return _reduce(Sum, x, axis, dim, keepdims, keepdim)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Arithmetic mean over ``axis`` (all when None)."""
    return _reduce(Mean, x, axis, dim, keepdims, keepdim)


# --- helpers shared by the reductions below ----------------------------------------------
def _axes_of(axis, ndim):
    """The reduced axes as a tuple (all of them when ``axis`` is None)."""
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _kept_shape(in_shape, axis):
    """``in_shape`` with the reduced axes set to 1 (the ``keepdims=True`` output shape)."""
    axes = _axes_of(axis, len(in_shape))
    return tuple(1 if i in axes else n for i, n in enumerate(in_shape))


def _count(in_shape, axis):
    """Number of input elements that fold into each output element."""
    return math.prod(in_shape[a] for a in _axes_of(axis, len(in_shape)))


def _resolve(x, axis, dim, op):
    """Normalize ``axis``/``dim`` for tensor ``x``; a 0-d tensor reduces over "everything"."""
    axis = normalize_axis(pick_axis(axis, dim, op), x.ndim, op)
    if isinstance(axis, tuple):
        if len(set(axis)) != len(axis):
            raise ShapeError(f"{op}: repeated axis in {axis}")
        if x.ndim == 0:
            axis = None
    elif axis is not None and x.ndim == 0:
        axis = None  # PyTorch accepts dim=0 / dim=-1 on a 0-d tensor
    return axis


def _check_nonempty(x, axis, op):
    """max/min/argmax have no identity: reducing over an empty axis is an error (as in PyTorch)."""
    if x.array.size == 0 and (axis is None or _count(x.shape, axis) == 0 or x.ndim == 0):
        where = "the whole tensor" if axis is None else f"axis {axis}"
        raise ShapeError(
            f"{op}: cannot reduce over {where} of a tensor of shape {tuple(x.shape)}: it has no "
            "elements and the operation has no identity. Reduce over a non-empty axis instead."
        )


# --- max / min ---------------------------------------------------------------------------
class Max(Op):
    """Largest element over ``axis``.

    The gradient flows only to the elements equal to the maximum; when several elements
    tie, the gradient is split evenly among them (PyTorch's choice for ``amax``), so the
    gradient of ``max`` of a constant tensor is 1/n per element and sums to 1.
    """

    name = "max"

    def reduce(self, x):
        return self.xp.max(x, axis=self.axis, keepdims=self.keepdims)

    def forward(self, x):
        self.in_shape = x.shape
        return self.reduce(x)

    def _weight(self):
        """1/k at each of the k positions that hold the extreme value of their slice, else 0."""
        xp = self.xp
        x = self.inputs[0].array
        m = self.out.reshape(_kept_shape(self.in_shape, self.axis))
        hit = (x == m) | (xp.isnan(x) & xp.isnan(m))
        count = hit.sum(axis=self.axis, keepdims=True)
        return (hit / xp.maximum(count, 1)).astype(x.dtype)

    def backward(self, g):
        return _restore(g, self.in_shape, self.axis, self.keepdims) * self.constant(self._weight())

    def backward_array(self, g):
        return g.reshape(_kept_shape(self.in_shape, self.axis)) * self._weight()


class Min(Max):
    """Smallest element over ``axis`` (gradient split evenly among ties, like :class:`Max`)."""

    name = "min"

    def reduce(self, x):
        return self.xp.min(x, axis=self.axis, keepdims=self.keepdims)


def _extreme(cls, elementwise, x, axis, keepdims, dim, keepdim):
    if isinstance(axis, Tensor) or isinstance(dim, Tensor):
        # torch.max(a, b) with a tensor second argument is the elementwise maximum
        return elementwise(x, axis if isinstance(axis, Tensor) else dim)
    op = cls.name
    axis = _resolve(x, axis, dim, op)
    _check_nonempty(x, axis, op)
    return cls.apply(x, axis=axis, keepdims=bool(keepdims or keepdim))


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Largest value over ``axis`` (an int, a tuple, or None for all elements).

    Returns the values only, NumPy-style (``np.max``/``torch.amax``), also for the method
    form ``x.max(dim=1)``; use :func:`argmax` for the positions. (PyTorch's
    ``x.max(dim=1)`` returns a (values, indices) pair; tinynet keeps one return type.)
    With a tensor as the second argument, ``max(a, b)`` is the elementwise
    :func:`~tinynet.functional.maximum`, as in PyTorch. Ties share the gradient evenly.
    """
    return _extreme(Max, maximum, x, axis, keepdims, dim, keepdim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Smallest value over ``axis``; values only (see :func:`max` for the conventions)."""
    return _extreme(Min, minimum, x, axis, keepdims, dim, keepdim)


def amax(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Same as :func:`max` (PyTorch's name for the values-only reduction)."""
    return max(x, axis, keepdims, dim=dim, keepdim=keepdim)


def amin(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Same as :func:`min`."""
    return min(x, axis, keepdims, dim=dim, keepdim=keepdim)


# --- argmax / argmin / all / any (no gradient) ---------------------------------------------
def _index_reduce(name, x, axis, dim, keepdims, keepdim):
    axis = _resolve(x, axis, dim, name)
    if isinstance(axis, tuple):
        raise TypeError(f"{name}: axis must be a single int or None, got the tuple {axis}")
    _check_nonempty(x, axis, name)
    keep = bool(keepdims or keepdim)
    out = getattr(x.device.xp, name)(x.array, axis=axis)
    if keep:
        out = out.reshape(_kept_shape(x.shape, axis))
    return Tensor._make(out.astype(_dt.int64, copy=False), x.device)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Index of the largest value along ``axis`` (int64, no gradient).

    With ``axis=None`` the index is into the flattened tensor. The first occurrence wins
    on ties, as in NumPy and PyTorch.
    """
    return _index_reduce("argmax", x, axis, dim, keepdims, keepdim)


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Index of the smallest value along ``axis`` (int64, no gradient)."""
    return _index_reduce("argmin", x, axis, dim, keepdims, keepdim)


def _logical_reduce(name, x, axis, dim, keepdims, keepdim):
    axis = _resolve(x, axis, dim, name)
    out = getattr(x.device.xp, name)(x.array, axis=axis, keepdims=bool(keepdims or keepdim))
    return Tensor._make(x.device.xp.asarray(out), x.device)


def all(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """True where every element along ``axis`` is nonzero (a bool tensor; no gradient)."""
    return _logical_reduce("all", x, axis, dim, keepdims, keepdim)


def any(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """True where some element along ``axis`` is nonzero (a bool tensor; no gradient)."""
    return _logical_reduce("any", x, axis, dim, keepdims, keepdim)


# --- var / std (compositions of differentiable ops) ----------------------------------------
def var(x, axis=None, keepdims=False, *, dim=None, keepdim=False, correction=None, unbiased=None, ddof=None):
    """Variance over ``axis``: sum((x - mean)^2) / (N - correction).

    ``correction=1`` (the default, Bessel's correction, as in PyTorch) gives the unbiased
    sample variance; ``correction=0`` (or ``unbiased=False``, or NumPy's ``ddof=0``) the
    population variance. With ``N - correction <= 0`` the result is inf or nan, as in PyTorch.
    Built from mean, subtraction, square and sum, so every order of gradient comes free:
    d var / dx_i = 2 (x_i - mean) / (N - correction).
    """
    given = [c for c in (correction, unbiased, ddof) if c is not None]
    if len(given) > 1:
        raise TypeError("var: give only one of correction=, unbiased= and ddof=")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    elif ddof is not None:
        correction = ddof
    elif correction is None:
        correction = 1
    if x.dtype.kind != "f":
        raise TypeError(f"var: needs a floating tensor, got {x.dtype}; convert with .float()")
    axis = _resolve(x, axis, dim, "var")
    keep = bool(keepdims or keepdim)
    n = _count(x.shape, axis)
    centered = x - mean(x, axis=axis, keepdims=True)
    total = sum(centered * centered, axis=axis, keepdims=keep)
    dof = n - correction
    return total * (1.0 / dof if dof > 0 else float("inf"))


def std(x, axis=None, keepdims=False, *, dim=None, keepdim=False, correction=None, unbiased=None, ddof=None):
    """Standard deviation: ``sqrt(var(...))`` with the same arguments (correction=1 default)."""
    return sqrt(var(x, axis, keepdims, dim=dim, keepdim=keepdim, correction=correction,
                    unbiased=unbiased, ddof=ddof))


# --- logsumexp ------------------------------------------------------------------------------
class LogSumExp(Op):
    """log(sum(exp(x))) over ``axis``, computed stably as m + log(sum(exp(x - m))), m = max.

    Subtracting the maximum keeps exp() from overflowing for large inputs; an all ``-inf``
    slice gives ``-inf``. The gradient is softmax(x) along the axis:
    d/dx_i = exp(x_i - logsumexp(x)), written with tinynet ops (second order works).
    """

    name = "logsumexp"

    def forward(self, x):
        xp = self.xp
        self.in_shape = x.shape
        kept = _kept_shape(x.shape, self.axis)
        if x.size == 0:
            out = xp.full(kept, -xp.inf, dtype=x.dtype)
        else:
            m = xp.max(x, axis=self.axis, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)
            out = xp.log(xp.exp(x - m).sum(axis=self.axis, keepdims=True)) + m
        return out if self.keepdims else out.reshape(tuple(n for i, n in enumerate(x.shape)
                                                            if i not in _axes_of(self.axis, x.ndim)))

    def backward(self, g):
        x = self.inputs[0]
        kept = _kept_shape(self.in_shape, self.axis)
        out = self.output().reshape(kept)
        return _restore(g, self.in_shape, self.axis, self.keepdims) * exp(x - out)

    def backward_array(self, g):
        kept = _kept_shape(self.in_shape, self.axis)
        return g.reshape(kept) * self.xp.exp(self.inputs[0].array - self.out.reshape(kept))


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Numerically stable log(sum(exp(x))) over ``axis`` (PyTorch: ``torch.logsumexp``)."""
    if x.dtype.kind != "f":
        raise TypeError(f"logsumexp: needs a floating tensor, got {x.dtype}; convert with .float()")
    axis = _resolve(x, axis, dim, "logsumexp")
    return LogSumExp.apply(x, axis=axis, keepdims=bool(keepdims or keepdim))


# --- prod -------------------------------------------------------------------------------------
def prod(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Product of elements over ``axis`` (1 for an empty axis).

    Without a graph to record this is one ``xp.prod``. With one, the product is taken as a
    tree of pairwise multiplications (``log2 N`` multiply ops over halves), so the gradient
    is right even where elements are zero (d/dx_i = prod of the others) and every order of
    derivative comes from the multiply op's own backward.
    """
    axis = _resolve(x, axis, dim, "prod")
    keep = bool(keepdims or keepdim)
    if not (x._requires_grad and STATE.enabled):
        return Tensor._make(x.device.xp.asarray(x.array.prod(axis=axis, keepdims=keep)), x.device)
    axes = _axes_of(axis, x.ndim)
    rest = [i for i in range(x.ndim) if i not in axes]
    out_shape = _kept_shape(x.shape, axis) if keep else tuple(x.shape[i] for i in rest)
    n = _count(x.shape, axis)
    if n == 0:
        return Tensor._make(x.device.xp.ones(out_shape, dtype=x.dtype), x.device) + 0 * sum(x, axis=axis, keepdims=keep)
    y = x.permute(*rest, *axes).reshape(tuple(x.shape[i] for i in rest) + (n,))
    while y.shape[-1] > 1:
        k = y.shape[-1]
        h = k // 2
        paired = y[..., :h] * y[..., h:2 * h]
        y = cat([paired, y[..., 2 * h:]], axis=-1) if k % 2 else paired
    return y.reshape(out_shape)
