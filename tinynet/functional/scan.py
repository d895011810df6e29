"""Scans (running reductions) along one dim: ``cumsum cumprod cummax cummin logcumsumexp``.

* ``cumsum`` is one :class:`Cumsum` op; its gradient is the *reversed* cumulative sum of
  the output gradient (``dx_i = sum_{j >= i} g_j``), which is the same op run backwards,
  so every order of derivative is a cumsum again.
* ``cumprod`` without a graph to record is one ``xp.cumprod``. With one it is a
  Hillis-Steele scan of pairwise products (``log2 n`` multiply ops over shifted halves),
  so the gradient is right where elements are zero (``d y_j / d x_i`` is the product of
  the other factors, never ``y_j / x_i``), and higher orders come from the multiply op.
* ``cummax``/``cummin`` return ``(values, indices)`` (``tn.return_types``): the running
  extreme's position is found on arrays (a doubling scan over (value, index) pairs; ties
  and NaN as PyTorch: the latest equal element wins, NaN propagates) and the values are a
  differentiable gather there.
* ``logcumsumexp`` is ``log(sum_{i <= j} exp(x_i))`` computed stably as masked
  :func:`~tinynet.functional.logsumexp` reductions over the lower triangle of blocks of
  each slice, chained by a carry (every term is shifted by its own maximum, so no
  underflow or overflow); made of differentiable ops, so the gradient is exact at every order.

Integer and bool inputs of ``cumsum``/``cumprod`` give int64, as in PyTorch; ``dtype=``
casts the input first.
"""
from __future__ import annotations

from ..backend.errors import DTypeError
from ..autograd.grad_mode import STATE
from ..autograd.op import Op
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._args import as_int
from ._util import normalize_axis
from .conversion import to
from .elementwise import where
from .join import cat, stack
from .reduction import logsumexp, return_types, take_indexed

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "cummax", "cummin", "cumprod", "cumsum", "logcumsumexp",
]


def _dim(x, dim, op):
    if dim is None:
        raise TypeError(f"{op}: missing the dim argument (the dim to scan along), e.g. {op}(x, dim=0)")
    return normalize_axis(as_int(dim, "dim", op), x.ndim, op)


def _cast(x, dtype, op):
    """``dtype`` given: cast first; integer/bool: int64 (PyTorch's promotion for cumsum/cumprod)."""
    if dtype is not None:
        return to(x, dtype=_dt.to_dtype(dtype))
    if x.array.dtype.kind in "biu" and x.array.dtype != _dt.int64:
        return to(x, dtype=_dt.int64)
    return x


class Cumsum(Op):
    """Running sum along ``axis`` (from the end when ``reverse``); the gradient is the
    running sum of the output gradient in the opposite direction."""

    name = "cumsum"
    saves_values = False  # the backward needs only the axis

    def forward(self, x):
        xp = self.xp
        if x.ndim == 0:
            return x.copy()
        if self.reverse:
            return xp.flip(xp.cumsum(xp.flip(x, axis=self.axis), axis=self.axis), axis=self.axis).copy()
        return xp.cumsum(x, axis=self.axis)

    def backward(self, g):
        return Cumsum.apply(g, axis=self.axis, reverse=not self.reverse)

    def backward_array(self, g):
        return Cumsum.forward(self._flipped(), g)

    def _flipped(self):
        other = Cumsum.__new__(Cumsum)
        other.device, other.axis, other.reverse = self.device, self.axis, not self.reverse
        return other


def cumsum(input, dim=None, *, dtype=None, axis=None):
    """Running sum along ``dim``: ``y_j = x_0 + ... + x_j`` (PyTorch's ``cumsum``)."""
    x = _cast(input, dtype, "cumsum")
    d = _dim(x, dim if axis is None else axis, "cumsum")
    return Cumsum.apply(x, axis=d if x.ndim else 0, reverse=False)


def _slice(x, d, start=None, stop=None):
    return x[(slice(None),) * d + (slice(start, stop),)]


def cumprod(input, dim=None, *, dtype=None, axis=None):
    """Running product along ``dim``: ``y_j = x_0 * ... * x_j`` (PyTorch's ``cumprod``).

    Its gradient is exact with zeros in the input (see the module docstring).
    """
    x = _cast(input, dtype, "cumprod")
    d = _dim(x, dim if axis is None else axis, "cumprod")
    if x.ndim == 0:
        return x * 1
    if not (x._requires_grad and STATE.enabled):
        return Tensor._make(x.device.xp.cumprod(x.array, axis=d), x.device)
    n = x.shape[d]
    y = x
    shift = 1
    while shift < n:  # after this step y_j = prod of x over (j - 2 * shift, j]
        y = cat([_slice(y, d, None, shift), _slice(y, d, shift) * _slice(y, d, None, n - shift)], dim=d)
        shift *= 2
    return y if y is not x else x * 1


def _running_extreme(xp, a, d, largest):
    """Index (int64, shaped like ``a``) of the running max (min) along ``d``: the latest of equal
    values, NaN propagating (its latest position), as PyTorch's ``cummax``/``cummin``."""
    n = a.shape[d]
    v = xp.moveaxis(a, d, -1).copy()
    idx = xp.broadcast_to(xp.arange(n, dtype=_dt.int64), v.shape).copy()
    nan = xp.isnan(v) if v.dtype.kind == "f" else xp.zeros(v.shape, dtype=bool)
    shift = 1
    while shift < n:  # combine each position with the summary `shift` earlier (a doubling scan)
        pv, pi, pn = v[..., :-shift], idx[..., :-shift], nan[..., :-shift]
        cv, cn = v[..., shift:], nan[..., shift:]
        better = (cv >= pv) if largest else (cv <= pv)
        keep_new = cn | (~pn & better)
        v[..., shift:] = xp.where(keep_new, cv, pv)
        idx[..., shift:] = xp.where(keep_new, idx[..., shift:], pi)
        nan[..., shift:] = cn | pn
        shift *= 2
    return xp.moveaxis(idx, -1, d)


def _cum_extreme(name, input, dim, largest):
    d = _dim(input, dim, name)
    xp = input.device.xp
    result = getattr(return_types, name)
    if input.ndim == 0:
        return result(take_indexed(input, 0, None), Tensor._make(xp.zeros((), dtype=_dt.int64), input.device))
    idx = _running_extreme(xp, input.array, d, largest)
    return result(take_indexed(input, d, idx), Tensor._make(idx, input.device))


def cummax(input, dim):
    """Running maximum along ``dim``: the named tuple ``(values, indices)``.

    ``indices[j]`` is the position of ``values[j]`` (the latest one among equal values; NaN
    propagates), and the gradient of ``values[j]`` goes to that element.
    """
    return _cum_extreme("cummax", input, dim, True)


def cummin(input, dim):
    """Running minimum along ``dim``: ``(values, indices)``, as :func:`cummax`."""
    return _cum_extreme("cummin", input, dim, False)


#: ``logcumsumexp`` works on blocks of this many positions: each block costs ``BLOCK^2`` per
#: slice, and the blocks are chained by their last value (a carry), so memory is ``O(n BLOCK)``.
LOGCUMSUMEXP_BLOCK = 128


def _lcse_block(x, carry):
    """logcumsumexp of ``x`` along its last axis (length m): a logsumexp over the lower triangle
    of an ``m x m`` copy (the rest ``-inf``), then combined with ``carry`` (the previous block's
    last value) as ``logaddexp(carry, .)``; every step is a stable logsumexp."""
    m = x.shape[-1]
    grid = x.unsqueeze(-2).expand(*x.shape[:-1], m, m)                   # [..., j, i] = x_i
    below = Tensor._make(x.device.xp.tril(x.device.xp.ones((m, m), dtype=bool)), x.device)  # i <= j
    out = logsumexp(where(below, grid, float("-inf")), dim=-1)
    if carry is None:
        return out
    return logsumexp(stack([out, carry.expand(*out.shape)], dim=0), dim=0)


def logcumsumexp(input, dim):
    """``log(cumsum(exp(x)))`` along ``dim``, computed stably (PyTorch's ``logcumsumexp``).

    ``y_j = logsumexp(x_0 .. x_j)``. Within blocks of :data:`LOGCUMSUMEXP_BLOCK` positions
    each output is a :func:`logsumexp` over the lower triangle of the block (the other
    entries ``-inf``); each block then starts from the previous block's last value
    (``logaddexp``). So large and very negative inputs neither overflow nor underflow, and
    the gradient (softmax weights over ``x_0 .. x_j``) is exact at every order.
    """
    if input.dtype.kind != "f":
        raise DTypeError(f"logcumsumexp: needs a floating tensor, got {input.dtype}; convert with .float()")
    d = _dim(input, dim, "logcumsumexp")
    if input.ndim == 0:
        return input * 1
    n = input.shape[d]
    moved = input.transpose(d, -1) if d != input.ndim - 1 else input
    if n <= LOGCUMSUMEXP_BLOCK:
        out = _lcse_block(moved, None)
    else:
        blocks, carry = [], None
        for start in range(0, n, LOGCUMSUMEXP_BLOCK):
            block = _lcse_block(moved[..., start:start + LOGCUMSUMEXP_BLOCK], carry)
            carry = block[..., -1:]
            blocks.append(block)
        out = cat(blocks, dim=-1)
    return out.transpose(d, -1) if d != input.ndim - 1 else out
