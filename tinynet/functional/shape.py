"""Shape ops: reshape, permute/transpose, broadcast (expand), squeeze/unsqueeze, flatten.

These move or copy elements without arithmetic, so each gradient is the inverse move:
reshape back, permute by the inverse permutation, sum over broadcast axes.
"""
from __future__ import annotations

import math

from ..backend.errors import ShapeError
from ..autograd.op import Op
from ._util import normalize_axis, unbroadcast, unbroadcast_array

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "broadcast_to", "expand", "flatten", "permute", "reshape", "squeeze", "swapaxes", "transpose",
    "unsqueeze", "view"
]


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(map(int, shape))  # (map: no generator frame per call; reshape is hot)


class Reshape(Op):
    name = "reshape"
    is_view = True
    saves_values = False

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({x.size} elements) "
                f"into shape {self.shape} ({'?' if -1 in self.shape else math.prod(self.shape)} elements)"
            ) from None

    def backward(self, g):
        return g.reshape(self.in_shape)

    def backward_array(self, g):
        return g.reshape(self.in_shape)


class Permute(Op):
    name = "permute"
    is_view = True
    saves_values = False

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, g):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return g.permute(*inverse)

    def backward_array(self, g):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return g.transpose(inverse)


class Expand(Op):
    """Broadcast to a larger shape (a read-only view); the gradient sums the copies."""

    name = "expand"
    is_view = True
    saves_values = False

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return self.xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ShapeError(
                f"expand: cannot broadcast shape {tuple(x.shape)} to {self.shape} "
                "(each axis must match or be 1)"
            ) from None

    def backward(self, g):
        return unbroadcast(g, self.in_shape)

    def backward_array(self, g):
        return unbroadcast_array(g, self.in_shape)


def reshape(x, *shape):
    """Same elements, new shape (one axis may be -1)."""
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


view = reshape


def permute(x, *axes):
    """Reorder axes: ``permute(x, 2, 0, 1)``."""
    axes = _shape_arg(axes)
    if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ShapeError(f"permute: {axes} is not a permutation of the {x.ndim} axes of shape {tuple(x.shape)}")
    axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, axes=axes)


def swapaxes(x, axis0, axis1):
    """Exchange two axes (``transpose(x, 0, 1)`` in PyTorch's sense)."""
    a0 = normalize_axis(axis0, x.ndim, "swapaxes")
    a1 = normalize_axis(axis1, x.ndim, "swapaxes")
    axes = list(range(x.ndim))
    axes[a0], axes[a1] = axes[a1], axes[a0]
    return permute(x, *axes)


def transpose(x, axis0=None, axis1=None):
    """With two axes, swap them (PyTorch); with none, reverse all axes (NumPy)."""
    if axis0 is None and axis1 is None:
        return permute(x, *reversed(range(x.ndim)))
    return swapaxes(x, axis0, axis1)


def expand(x, *shape):
    """Broadcast to ``shape``; -1 keeps an axis's size (PyTorch's ``expand``)."""
    shape = _shape_arg(shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: target {shape} has fewer axes than the tensor's shape {tuple(x.shape)}")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if shape == x.shape:
        return x
    return Expand.apply(x, shape=shape)


def broadcast_to(x, shape):
    return expand(x, *shape)


def unsqueeze(x, axis):
    """Insert an axis of length 1 at ``axis``."""
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise IndexError(f"unsqueeze: axis {axis} out of range for a result of {nd} dimensions")
    axis %= nd
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    """Drop axes of length 1 (all of them, or the given ones that have length 1)."""
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = normalize_axis(axis if isinstance(axis, (tuple, list)) else (axis,), x.ndim, "squeeze")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    s = normalize_axis(start_dim, x.ndim, "flatten")
    e = normalize_axis(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])
