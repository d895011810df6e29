"""Reductions over an axis, a tuple of axes, or everything.

``axis=`` (alias ``dim=``) and ``keepdims=`` (alias ``keepdim=``) follow NumPy/PyTorch.
The gradient of a sum copies the output gradient back over the reduced axes
(a broadcast); a mean does the same divided by the number of elements reduced.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ._util import normalize_axis, pick_axis


def _restore(g, in_shape, axis, keepdims):
    """Reinsert reduced axes of length 1 so ``g`` broadcasts against the input shape."""
    if keepdims or axis is None and g.ndim == 0:
        return g.reshape(tuple(1 for _ in in_shape)) if g.ndim == 0 and in_shape else g
    axes = (axis,) if isinstance(axis, int) else (tuple(range(len(in_shape))) if axis is None else axis)
    shape = list(in_shape)
    for ax in axes:
        shape[ax] = 1
    return g.reshape(tuple(shape))


class Sum(Function):
    name = "sum"

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        return _restore(g, self.in_shape, self.axis, self.keepdims).expand(self.in_shape)


class Mean(Function):
    name = "mean"

    def forward(self, x):
        self.in_shape = x.shape
        if self.axis is None:
            self.count = x.size
        else:
            axes = (self.axis,) if isinstance(self.axis, int) else self.axis
            self.count = math.prod(x.shape[a] for a in axes)
        if x.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating tensor, got {x.dtype}; convert with .float()")
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, g):
        g = _restore(g, self.in_shape, self.axis, self.keepdims)
        return (g / max(self.count, 1)).expand(self.in_shape)


def _reduce(cls, x, axis, dim, keepdims, keepdim):
    op = cls.name
    axis = normalize_axis(pick_axis(axis, dim, op), x.ndim, op)
    if isinstance(axis, tuple) and len(set(axis)) != len(axis):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return cls.apply(x, axis=axis, keepdims=bool(keepdims or keepdim))


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Sum of elements over ``axis`` (all when None)."""
    return _reduce(Sum, x, axis, dim, keepdims, keepdim)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=False):
    """Arithmetic mean over ``axis`` (all when None)."""
    return _reduce(Mean, x, axis, dim, keepdims, keepdim)
