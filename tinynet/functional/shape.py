"""Shape ops: reshape/view, permute/transpose, broadcast (expand), squeeze/unsqueeze, flatten.

These move or copy elements without arithmetic, so each gradient is the inverse move:
reshape back, permute by the inverse permutation, sum over broadcast axes.
"""
from __future__ import annotations

import math
import numbers

from ..backend.errors import ArgumentError, ShapeError
from ..autograd.op import Op
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis, unbroadcast, unbroadcast_array

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "broadcast_to", "expand", "flatten", "permute", "ravel", "reshape", "squeeze", "swapaxes", "swapdims",
    "transpose", "unsqueeze", "view"
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


def _is_dtype_arg(shape) -> bool:
    """True when ``view``'s arguments are one dtype (``x.view(tn.int32)``) rather than a shape."""
    if len(shape) != 1:
        return False
    a = shape[0]
    return not isinstance(a, (numbers.Integral, tuple, list, Tensor)) and not hasattr(a, "__index__")


def view(x, *shape):
    """``x.view(*shape)``: :func:`reshape`; ``x.view(dtype)``: the same bytes read as ``dtype``.

    The dtype form reinterprets memory like PyTorch's ``Tensor.view(dtype)``: with an
    element size that differs, the last axis is resized by the ratio of the sizes (it must
    be contiguous and its byte length divisible by the new element size). The result shares
    memory (and the version counter) with ``x`` and carries no gradient: reinterpreting bits
    is not differentiable.
    """
    if not _is_dtype_arg(shape):
        return reshape(x, *shape)
    dt = _dt.to_dtype(shape[0])
    arr = x.array
    if dt.itemsize != arr.itemsize:
        if arr.ndim == 0:
            raise ShapeError(
                f"view: a 0-d tensor of {arr.dtype} ({arr.itemsize} bytes) can't be viewed as {dt} "
                f"({dt.itemsize} bytes): the element sizes differ. Use .to({dt}) to convert values instead"
            )
        if arr.strides[-1] != arr.itemsize and arr.shape[-1] != 1:
            raise ShapeError(
                f"view: viewing {arr.dtype} as {dt} changes the element size, so the last axis must be "
                f"contiguous; shape {tuple(arr.shape)} has stride {arr.strides[-1] // arr.itemsize} there. "
                "Call .contiguous().clone() first"
            )
        if (arr.shape[-1] * arr.itemsize) % dt.itemsize:
            raise ShapeError(
                f"view: the last axis of shape {tuple(arr.shape)} holds {arr.shape[-1] * arr.itemsize} bytes of "
                f"{arr.dtype}, which is not a multiple of the {dt.itemsize}-byte size of {dt}"
            )
    try:
        out = arr.view(dt)
    except ValueError as exc:
        raise ShapeError(f"view: can't view shape {tuple(arr.shape)} of {arr.dtype} as {dt} ({exc})") from None
    return Tensor._make(out, x.device, False, None, x._version)


def permute(x, *axes):
    """Reorder axes: ``permute(x, 2, 0, 1)`` or ``permute(x, (2, 0, 1))``."""
    axes = _shape_arg(axes)
    nd = x.ndim
    if len(axes) != nd or any(not -max(nd, 1) <= a < max(nd, 1) for a in axes) \
            or sorted(a % max(nd, 1) for a in axes) != list(range(nd)):
        raise ShapeError(
            f"permute: {axes} is not a permutation of the {nd} axes of shape {tuple(x.shape)}; "
            f"give each of 0..{nd - 1} once (negative counts from the end)"
        )
    axes = tuple(a % max(nd, 1) for a in axes)
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


swapdims = swapaxes


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
    if any(s == -1 for s in shape[:lead]):
        raise ShapeError(
            f"expand: -1 is not allowed for the new leading axes of {shape} (shape {tuple(x.shape)}); "
            "give their sizes"
        )
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
        raise ArgumentError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def ravel(x):
    """The elements as a 1-D tensor (``reshape(-1)``)."""
    return reshape(x, -1)
