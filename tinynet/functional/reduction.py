"""Reductions over an axis, a tuple of axes, or everything.

``sum mean prod nansum nanmean max min amax amin aminmax var std var_mean std_mean
logsumexp`` (differentiable), ``argmax argmin all any count_nonzero`` (no gradient).
``dim=`` (alias ``axis=``) and ``keepdim=`` (alias ``keepdims=``) follow PyTorch/NumPy; a
0-d tensor accepts ``dim=0``/``-1`` as PyTorch does.

The gradient of a sum copies the output gradient back over the reduced axes
(a broadcast); a mean does the same divided by the number of elements reduced; ``amax``
sends it to the position(s) of the maximum; logsumexp sends softmax-weighted shares.

As in PyTorch, ``max``/``min`` with a ``dim`` return a named tuple ``(values, indices)``
(``tn.return_types.max``), whose values are the elements picked at ``indices`` (so the
gradient goes to exactly that element); without a dim they return the tensor of the
single largest value; ``max(a, b)`` with a tensor ``b`` is the elementwise maximum.
``amax``/``amin`` are the values-only reductions (any tuple of axes). Integer and bool
sums and products give int64, as in PyTorch; ``dtype=`` casts the input first.
"""
from __future__ import annotations

import builtins as _builtins
import math
import types as _types
from collections import namedtuple as _namedtuple

from ..backend.errors import DTypeError, ShapeError
from ..autograd.op import Op
from ..autograd.grad_mode import STATE
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis, pick_axis
from ._autocast import float32_under_autocast
from .conversion import clone, to
from .elementwise import exp, isnan, maximum, minimum, sqrt, where
from .indexing import gather
from .join import cat

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "all", "amax", "amin", "aminmax", "any", "argmax", "argmin", "count_nonzero", "logsumexp", "max",
    "mean", "min", "nanmean", "nansum", "prod", "return_types", "std", "std_mean", "sum", "var", "var_mean"
]


# --- named tuples of (values, indices), as torch.return_types ------------------------------
def _return_type(name, fields=("values", "indices")):
    cls = _namedtuple(name, fields, module="tinynet.return_types")
    cls.__doc__ = (f"The result of ``{name}``: a named tuple of ``{', '.join(fields)}`` "
                   f"(PyTorch's ``torch.return_types.{name}``); unpacks like a tuple.")
    return cls


#: ``tn.return_types``: the named-tuple types returned by ``max(dim)``, ``sort``, ``topk``, ...
#: (like ``torch.return_types``): ``values``/``indices`` fields (``aminmax``: ``min``/``max``).
return_types = _types.ModuleType("tinynet.return_types", "Named-tuple result types, as torch.return_types.")
for _name in ("max", "min", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax", "cummin"):
    setattr(return_types, _name, _return_type(_name))
return_types.aminmax = _return_type("aminmax", ("min", "max"))
del _name


def take_indexed(x, dim, indices, keepdim=True):
    """``x``'s elements at the int64 array ``indices`` along ``dim`` (a keepdim-shaped index),
    as a differentiable gather: the gradient goes to exactly the picked elements (PyTorch's
    rule for ``max(dim)``, ``sort``, ``topk``, ...). ``keepdim=False`` drops ``dim``."""
    if x.ndim == 0:
        return clone(x)
    out = gather(x, dim, Tensor._make(indices, x.device))
    return out if keepdim else out.squeeze(dim)


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
            raise DTypeError(f"mean: needs a floating tensor, got {x.dtype} (the mean of integers has no "
                             "integer dtype); pass dtype=tn.float32 or convert with .float()")
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


def _accumulate_dtype(x, dtype, op):
    """``x`` cast for a sum/product: to ``dtype`` when given (PyTorch casts the input before
    reducing, so ``sum(int8_tensor, dtype=tn.float64)`` adds float64 values); integer and
    bool tensors otherwise to int64 (PyTorch's promotion: ``sum`` never overflows int8)."""
    if dtype is not None:
        return to(x, dtype=_dt.to_dtype(dtype))
    if x.array.dtype.kind in "biu" and x.array.dtype != _dt.int64:
        return to(x, dtype=_dt.int64)
    return x


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Sum of elements over ``dim`` (an int, a tuple, or None for all elements).

    ``dtype=`` casts the input first; integer/bool inputs sum in int64 (PyTorch's rule).
    """
    x = _accumulate_dtype(input, dtype, "sum")
    return _reduce(Sum, x, axis, dim, keepdims, keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Arithmetic mean over ``dim`` (all when None).

    An integer tensor needs ``dtype=`` (a floating dtype), as in PyTorch, which cannot
    infer the output dtype of an integer mean; the input is cast to it first.
    """
    x = to(input, dtype=_dt.to_dtype(dtype)) if dtype is not None else input
    return _reduce(Mean, x, axis, dim, keepdims, keepdim)


def nansum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Sum over ``dim`` treating NaNs as zero (PyTorch's ``nansum``); NaN elements get zero gradient."""
    x = _accumulate_dtype(input, dtype, "nansum")
    if x.array.dtype.kind == "f":
        x = where(isnan(x), 0.0, x)
    return _reduce(Sum, x, axis, dim, keepdims, keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Mean over ``dim`` of the non-NaN elements (PyTorch's ``nanmean``): nansum / count.

    A slice of only NaNs gives NaN (0 / 0), as in PyTorch. Floating input (or ``dtype=``).
    """
    x = to(input, dtype=_dt.to_dtype(dtype)) if dtype is not None else input
    if x.array.dtype.kind != "f":
        raise DTypeError(f"nanmean: needs a floating tensor, got {x.dtype}; pass dtype=tn.float32 "
                         "or convert with .float()")
    keep = bool(keepdims or keepdim)
    axis = _resolve(x, axis, dim, "nanmean")
    nan = isnan(x)
    total = Sum.apply(where(nan, 0.0, x), axis=axis, keepdims=keep)
    xp = x.device.xp
    count = xp.asarray((~nan.array).sum(axis=axis, keepdims=keep))
    # 1 / count, and NaN (0 / 0, PyTorch's result) where a slice holds only NaNs, without a warning
    recip = xp.where(count > 0, 1.0 / xp.maximum(count, 1), xp.nan).astype(x.array.dtype)
    return total * Tensor._make(recip, x.device)


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
    picked = pick_axis(axis, dim, op)
    if picked is None:
        if keepdims or keepdim:
            raise TypeError(f"{op}: keepdim= needs a dim (max() without a dim reduces every element); "
                            f"use {op}(x, dim, keepdim=True) or a{op}(x, dim=tuple(range(x.ndim)), keepdim=True)")
        _check_nonempty(x, None, op)
        return cls.apply(x, axis=None, keepdims=False)
    if isinstance(picked, (tuple, list)):
        raise TypeError(f"{op}: dim must be a single int for {op}(x, dim), which returns (values, indices); "
                        f"got {tuple(picked)}. For the values over several dims use tn.a{op}(x, dim={tuple(picked)})")
    d = _resolve(x, picked, None, op)
    _check_nonempty(x, d, op)
    keep = bool(keepdims or keepdim)
    result = getattr(return_types, op)
    xp = x.device.xp
    if x.ndim == 0:
        return result(clone(x), Tensor._make(xp.zeros((), dtype=_dt.int64), x.device))
    idx = getattr(xp, "arg" + op)(x.array, axis=d, keepdims=True).astype(_dt.int64, copy=False)
    values = take_indexed(x, d, idx, keep)
    return result(values, Tensor._make(idx if keep else idx.reshape(values.shape), x.device))


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest value: of every element, along ``dim``, or elementwise against a tensor.

    * ``max(x)``: a 0-d tensor, the largest element (ties share the gradient evenly, as
      PyTorch does for a full reduction);
    * ``max(x, dim, keepdim=False)``: the named tuple ``(values, indices)``
      (``tn.return_types.max``), as in PyTorch; the gradient goes to the element at
      ``indices`` (the first occurrence of the largest value; NaN counts as largest);
    * ``max(x, other_tensor)``: the elementwise :func:`~tinynet.functional.maximum`.

    For the values over several axes at once use :func:`amax`.
    """
    return _extreme(Max, maximum, input, dim if axis is None else axis, keepdims, None, keepdim)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest value; the same forms as :func:`max` (``(values, indices)`` with a dim)."""
    return _extreme(Min, minimum, input, dim if axis is None else axis, keepdims, None, keepdim)


def _values_only(cls, x, axis, dim, keepdims, keepdim):
    axis = _resolve(x, axis, dim, cls.name)
    _check_nonempty(x, axis, "a" + cls.name)
    return cls.apply(x, axis=axis, keepdims=bool(keepdims or keepdim))


def amax(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest values over ``dim`` (an int, a tuple, or None for all): values only.

    When several elements tie for the maximum the gradient is split evenly among them
    (PyTorch's rule for ``amax``).
    """
    return _values_only(Max, input, axis, dim, keepdims, keepdim)


def amin(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest values over ``dim`` (values only; ties share the gradient, as :func:`amax`)."""
    return _values_only(Min, input, axis, dim, keepdims, keepdim)


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over ``dim`` (None: all elements) as the named tuple ``tn.return_types.aminmax``."""
    return return_types.aminmax(amin(input, dim, keepdim), amax(input, dim, keepdim))


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


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Index of the largest value along ``axis`` (int64, no gradient).

    With ``axis=None`` the index is into the flattened tensor. The first occurrence wins
    on ties, as in NumPy and PyTorch.
    """
    return _index_reduce("argmax", input, axis, dim, keepdims, keepdim)


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Index of the smallest value along ``axis`` (int64, no gradient)."""
    return _index_reduce("argmin", input, axis, dim, keepdims, keepdim)


def count_nonzero(input, dim=None, *, axis=None):
    """Number of nonzero elements over ``dim`` (an int, a tuple, or None for all): int64, no gradient."""
    axis = _resolve(input, axis, dim, "count_nonzero")
    xp = input.device.xp
    out = (input.array != 0).sum(axis=axis)
    return Tensor._make(xp.asarray(out, dtype=_dt.int64), input.device)


def _logical_reduce(name, x, axis, dim, keepdims, keepdim):
    axis = _resolve(x, axis, dim, name)
    out = getattr(x.device.xp, name)(x.array, axis=axis, keepdims=bool(keepdims or keepdim))
    return Tensor._make(x.device.xp.asarray(out), x.device)


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """True where every element along ``axis`` is nonzero (a bool tensor; no gradient)."""
    return _logical_reduce("all", input, axis, dim, keepdims, keepdim)


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """True where some element along ``axis`` is nonzero (a bool tensor; no gradient)."""
    return _logical_reduce("any", input, axis, dim, keepdims, keepdim)


# --- var / std (compositions of differentiable ops) ----------------------------------------
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False, ddof=None):
    """Variance over ``axis``: sum((x - mean)^2) / (N - correction).

    ``correction=1`` (the default, Bessel's correction, as in PyTorch) gives the unbiased
    sample variance; ``correction=0`` (or ``unbiased=False``, or NumPy's ``ddof=0``) the
    population variance. With ``N - correction <= 0`` the result is inf or nan, as in PyTorch.
    Built from mean, subtraction, square and sum, so every order of gradient comes free:
    d var / dx_i = 2 (x_i - mean) / (N - correction).
    """
    if isinstance(dim, bool):  # the legacy positional form var(x, unbiased)
        if unbiased is not None:
            raise TypeError("var: unbiased given twice (positionally and by keyword)")
        dim, unbiased = None, dim
    x = input
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
        raise DTypeError(f"var: needs a floating tensor, got {x.dtype}; convert with .float()")
    axis = _resolve(x, axis, dim, "var")
    keep = bool(keepdims or keepdim)
    n = _count(x.shape, axis)
    centered = x - mean(x, axis=axis, keepdims=True)
    total = sum(centered * centered, axis=axis, keepdims=keep)
    dof = n - correction
    return total * (1.0 / dof if dof > 0 else float("inf"))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False, ddof=None):
    """Standard deviation: ``sqrt(var(...))`` with the same arguments (correction=1 default)."""
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims,
                    ddof=ddof))


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


@float32_under_autocast("logsumexp", 1)
def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Numerically stable log(sum(exp(x))) over ``axis`` (PyTorch: ``torch.logsumexp``)."""
    x = input
    if x.dtype.kind != "f":
        raise DTypeError(f"logsumexp: needs a floating tensor, got {x.dtype}; convert with .float()")
    axis = _resolve(x, axis, dim, "logsumexp")
    return LogSumExp.apply(x, axis=axis, keepdims=bool(keepdims or keepdim))


# --- prod -------------------------------------------------------------------------------------
def prod(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Product of elements over ``dim`` (1 for an empty axis).

    ``dtype=`` casts the input first; integer/bool inputs multiply in int64 (PyTorch's rule).

    Without a graph to record this is one ``xp.prod``. With one, the product is taken as a
    tree of pairwise multiplications (``log2 N`` multiply ops over halves), so the gradient
    is right even where elements are zero (d/dx_i = prod of the others) and every order of
    derivative comes from the multiply op's own backward.
    """
    x = _accumulate_dtype(input, dtype, "prod")
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


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False):
    """``(var, mean)`` over ``dim`` in one call, as PyTorch's ``var_mean`` (a plain tuple).

    ``correction`` (default 1, Bessel's) or ``unbiased`` as in :func:`var`.
    """
    v = var(input, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    d = None if isinstance(dim, bool) else dim
    return v, mean(input, d, keepdim, axis=axis, keepdims=keepdims)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False):
    """``(std, mean)`` over ``dim`` in one call, as PyTorch's ``std_mean`` (a plain tuple)."""
    v, m = var_mean(input, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
    return sqrt(v), m
