"""Distances and normalisation of vectors: normalize, cosine_similarity, pairwise_distance
(PyTorch's ``F.normalize``, ``F.cosine_similarity``, ``F.pairwise_distance``).

All three rest on one op, the p-norm of vectors along some dimensions
(``||x||_p = (sum |x_i|^p)^(1/p)``; ``p=inf`` is ``max |x_i|``, ``p=0`` counts the
non-zeros). Its gradient at the zero vector is 0, as PyTorch's ``vector_norm`` defines
it, so normalising or comparing an all-zero row gives finite gradients rather than nan.

* ``normalize(x, p, dim, eps) = x / max(||x||_p, eps)`` (the clamp is an ordinary one: no
  gradient flows through the norm where it is below ``eps``).
* ``cosine_similarity(x1, x2, dim, eps) = sum((x1 / n1) * (x2 / n2), dim)`` with
  ``n_i = max(||x_i||_2, eps)``: PyTorch's current formula (each vector is divided by its
  norm before the dot product, which keeps the result in [-1, 1]). As in PyTorch the clamp
  to ``eps`` changes the value only: the gradient flows through the norm as if unclamped.
  ``x1`` and ``x2`` broadcast against each other first; ``dim`` counts in the broadcast shape.
* ``pairwise_distance(x1, x2, p, eps, keepdim) = ||x1 - x2 + eps||_p`` over the last
  dimension (``eps`` keeps the norm away from its kink at 0).
"""
from __future__ import annotations

import math

import numpy as _np  # host-side only: the index pairs of pdist

from ..autograd.op import Op
from ..backend.errors import ArgumentError, DeviceError, ShapeError
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis
from .elementwise import abs as _abs, clip
from .indexing import index_select
from .shape import broadcast_to

__all__ = ["cosine_similarity", "normalize", "pairwise_distance", "pdist"]  # exported as F.<name> and tn.<name>


class VectorNorm(Op):
    """``||x||_p`` along ``axis`` (an int or a tuple), ``keepdim`` as in PyTorch.

    Gradient (``n`` the norm, ``g`` broadcast back over the reduced axes):

    * p = 2: ``g x / n``; p = 1: ``g sign(x)``; other finite p: ``g sign(x) |x|^(p-1) / n^(p-1)``;
    * p = inf: ``g sign(x)`` shared equally among the elements reaching the maximum;
    * p = 0: 0 (a count);

    and 0 wherever ``n = 0`` (PyTorch's convention at the kink). Written with tinynet ops,
    so it differentiates again.
    """

    name = "vector_norm"

    def forward(self, x):
        xp, p, ax, kd = self.xp, self.ord, self.axis, self.keepdim
        if p == 0:
            out = (x != 0).sum(axis=ax, keepdims=kd)
        elif p == math.inf:
            a = xp.abs(x)  # (an empty reduction has no max: its norm is 0, the empty sum)
            out = a.max(axis=ax, keepdims=kd) if all(x.shape[i] for i in ax) else a.sum(axis=ax, keepdims=kd)
        elif p == 1:
            out = xp.abs(x).sum(axis=ax, keepdims=kd)
        elif p == 2:
            out = xp.sqrt((x * x).sum(axis=ax, keepdims=kd))
        else:
            out = (xp.abs(x) ** p).sum(axis=ax, keepdims=kd) ** (1.0 / p)
        return xp.asarray(out, dtype=x.dtype)

    def _kept(self, shape):
        """The norm's shape with the reduced axes kept (size 1)."""
        return tuple(1 if i in self.axis else n for i, n in enumerate(shape))

    def backward(self, g):
        xp, p = self.xp, self.ord
        x = self.inputs[0]
        kept = self._kept(x.shape)
        g = g.reshape(kept)
        n = self.output().reshape(kept)
        if p == 0:
            return self.constant(xp.zeros(x.shape, dtype=x.array.dtype))
        nz = n.array != 0
        if p == math.inf:
            hit = (xp.abs(x.array) == n.array) & nz
            count = hit.sum(axis=self.axis, keepdims=True)
            w = xp.sign(x.array) * hit / xp.maximum(count, 1)
            return g * self.constant(w.astype(x.array.dtype))
        if p == 1:
            return g * self.constant(xp.sign(x.array).astype(x.array.dtype))
        # n + 1 where n = 0 (there x = 0 too, so the quotient is 0 without dividing by 0)
        n_safe = n + self.constant((~nz).astype(x.array.dtype))
        if p == 2:
            return g * x / n_safe
        sign = self.constant(xp.sign(x.array).astype(x.array.dtype))
        # |x| + 1 where x = 0 (sign is 0 there): no 0 ** (p - 1) = inf for p < 1
        ax_safe = _abs(x) + self.constant((x.array == 0).astype(x.array.dtype))
        return g * sign * ax_safe ** (p - 1) / n_safe ** (p - 1)


def _check(x, op, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":  # PyTorch computes integer inputs in the default float type
        x = x.to(_dt.get_default_dtype())
    return x


def _ord(p, op):
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: p must be a number (or math.inf), got {p!r}") from None
    if p < 0 or math.isnan(p):
        raise ArgumentError(f"{op}: p must be non-negative (a p-norm), got {p}")
    return p


def vector_norm(x, p, axis, keepdim):
    """``||x||_p`` along ``axis`` (an int or a tuple of normalised axes) as :class:`VectorNorm`."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    return VectorNorm.apply(x, ord=p, axis=axes, keepdim=bool(keepdim))


def normalize(input, p: float = 2.0, dim=1, eps: float = 1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim`` (an int or a tuple): unit vectors.

    ``out``, when given, is a tensor of the result's shape that receives the values (as
    PyTorch's ``out=``; it records no gradient).
    """
    op = "normalize"
    input = _check(input, op)
    p = _ord(p, op)
    axis = normalize_axis(dim, input.ndim, op)
    denom = clip(vector_norm(input, p, axis, True), min=float(eps))
    result = input / denom
    if out is None:
        return result
    if not isinstance(out, Tensor) or tuple(out.shape) != tuple(result.shape):
        raise ShapeError(f"{op}: out must be a Tensor of shape {tuple(result.shape)}, "
                         f"got {getattr(out, 'shape', type(out).__name__)}")
    if out.device is not result.device:
        raise DeviceError(f"{op}: out is on {out.device.type} but input is on {result.device.type}; "
                          f"pass an out tensor on {result.device.type}")
    out.array[...] = result.array
    out._version[0] += 1
    return out


def _broadcast_pair(x1, x2, op):
    """``x1`` and ``x2`` expanded to their common shape (PyTorch's expand_outplace)."""
    if x1.device is not x2.device:
        raise DeviceError(f"{op}: x1 is on {x1.device.type} but x2 is on {x2.device.type}; "
                          f"move one, e.g. `x2.to('{x1.device.type}')`")
    s1, s2 = tuple(x1.shape), tuple(x2.shape)
    if s1 == s2:
        return x1, x2
    n = max(len(s1), len(s2))
    a, b = (1,) * (n - len(s1)) + s1, (1,) * (n - len(s2)) + s2
    shape = []
    for u, v in zip(a, b):
        if u != v and u != 1 and v != 1:
            raise ShapeError(f"{op}: x1 of shape {s1} and x2 of shape {s2} cannot be broadcast together "
                             "(trailing dimensions must be equal or 1)")
        shape.append(max(u, v) if min(u, v) != 0 else 0)
    shape = tuple(shape)
    if x1.dtype != x2.dtype:
        x1, x2 = (x1, x2.to(x1.dtype)) if x1.dtype.itemsize >= x2.dtype.itemsize else (x1.to(x2.dtype), x2)
    return (x1 if s1 == shape else broadcast_to(x1, shape)), (x2 if s2 == shape else broadcast_to(x2, shape))


def _unclamped_grad_clamp(n, eps):
    """``max(n, eps)`` in value, with the gradient of ``n`` (PyTorch clamps under no_grad)."""
    xp = n.device.xp
    shift = xp.maximum(n.array, eps) - n.array
    return n + Tensor._make(shift.astype(n.array.dtype, copy=False), n.device)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (after broadcasting),
    ``sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim)``: PyTorch's formula (see
    the module docstring)."""
    op = "cosine_similarity"
    x1, x2 = _check(x1, op, "x1"), _check(x2, op, "x2")
    x1, x2 = _broadcast_pair(x1, x2, op)
    if x1.ndim == 0:
        raise ShapeError(f"{op}: inputs are 0-d; they need a dimension holding the vectors (dim={dim})")
    axis = normalize_axis(dim, x1.ndim, op)
    n1 = _unclamped_grad_clamp(vector_norm(x1, 2.0, axis, True), float(eps))
    n2 = _unclamped_grad_clamp(vector_norm(x2, 2.0, axis, True), float(eps))
    return ((x1 / n1) * (x2 / n2)).sum(axis=axis)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """``||x1 - x2 + eps||_p`` over the last dimension (of the broadcast shape): the distance
    between matching rows. ``keepdim`` keeps that dimension with size 1."""
    op = "pairwise_distance"
    x1, x2 = _check(x1, op, "x1"), _check(x2, op, "x2")
    p = _ord(p, op)
    x1, x2 = _broadcast_pair(x1, x2, op)
    if x1.ndim == 0:
        raise ShapeError(f"{op}: inputs are 0-d; they need a last dimension holding the vectors")
    return vector_norm(x1 - x2 + float(eps), p, x1.ndim - 1, keepdim)


def pdist(input, p: float = 2.0):
    """The p-norm distances between every pair of rows of ``input`` (N, M): the upper triangle of
    ``cdist(input, input)`` read row by row, a vector of N·(N−1)/2 values (``||x_i − x_j||_p``
    for i < j). Differentiable; the gradient at two identical rows is 0 (as PyTorch's)."""
    op = "pdist"
    input = _check(input, op)
    if input.ndim != 2:
        raise ShapeError(f"{op}: expected a 2-D input (N, M), got shape {tuple(input.shape)}")
    p = _ord(p, op)
    n = input.shape[0]
    i, j = _np.triu_indices(n, 1)
    dev = input.device
    if i.size == 0:
        return Tensor._make(dev.xp.zeros((0,), dtype=input.dtype), dev) * input.sum()
    rows = lambda idx: index_select(input, 0, Tensor._make(dev.from_host(idx.astype(_np.int64)), dev))  # noqa: E731
    return vector_norm(rows(i) - rows(j), p, 1, False)
