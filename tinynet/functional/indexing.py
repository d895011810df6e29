"""Indexing: ``x[key]`` (basic, advanced and boolean), ``gather``, ``index_select``, ``masked_fill``.

``x[key]`` follows NumPy's rules:

* basic indexing (ints, slices with any step, ``None``, ``...``) picks a regular sub-grid
  and returns a view (:class:`Slice`);
* advanced indexing (integer arrays or tensors, lists, boolean masks) picks arbitrary
  elements and returns a copy (:class:`Index`); an index may repeat.

The gradient of picking elements is putting the output gradient back where the elements
came from, adding where one element was picked several times (a scatter-add):
``dx = zeros_like(x); dx[key] += dy`` with repeats accumulated (:class:`IndexBackward`).
That scatter-add is itself differentiable: its gradient is picking ``key`` again, so
second-order gradients come free.

Repeated indices are accumulated with ``xp.bincount`` over flat element numbers, which
behaves the same on NumPy and CuPy (``x[key] += y`` would keep only one of the repeats).
"""
from __future__ import annotations

import math

from ..backend.errors import ShapeError
from ..autograd.op import Op
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis, operand
from .elementwise import where

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "gather", "getitem", "index_select", "masked_fill", "take"
]


# --- keys ----------------------------------------------------------------------------------
def _as_key_part(part, device):
    """One element of an index key, converted to something ``xp`` arrays accept."""
    if isinstance(part, Tensor):
        arr = part.array
        if part.device is not device:
            arr = device.from_host(part.device.to_host(arr))
        if arr.dtype.kind not in "iub":
            raise IndexError(
                f"getitem: tensors used as indices must be integer or bool, got {part.dtype}; "
                "convert with .long() or compare to get a mask"
            )
        return arr if arr.ndim or arr.dtype.kind == "b" else int(arr.item())
    if isinstance(part, (list,)) or (hasattr(part, "dtype") and hasattr(part, "shape")):
        arr = device.xp.asarray(part)
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(_dt.int64)  # x[[]] picks nothing
        if arr.dtype.kind not in "iub":
            raise IndexError(f"getitem: index arrays must be integer or bool, got {arr.dtype}")
        return int(arr) if arr.ndim == 0 and arr.dtype.kind in "iu" else arr
    if isinstance(part, bool):
        return device.xp.asarray(part)  # x[True] is a 0-d mask (adds an axis), not the index 1
    if isinstance(part, float):
        raise IndexError(f"getitem: a float ({part}) cannot be an index; use an int")
    return part


def _normalize_key(key, device):
    """The key as a tuple of NumPy-compatible parts; also whether it is advanced."""
    parts = key if isinstance(key, tuple) else (key,)
    parts = tuple(_as_key_part(p, device) for p in parts)
    advanced = any(hasattr(p, "dtype") and hasattr(p, "shape") for p in parts)
    return parts, advanced


def _check_bounds(parts, shape):
    """Raise IndexError naming the tensor's shape and the key when an index is out of range.

    NumPy raises for out-of-range integers, but CuPy wraps advanced indices around
    silently, so integer arrays are checked here for both.
    """
    ndim = len(shape)
    if sum(p is Ellipsis for p in parts) > 1:
        raise IndexError(f"getitem: an index can only have a single ellipsis ('...'), got the key {_show(parts)}")
    consumed = 0
    for p in parts:
        if p is None or p is Ellipsis:
            continue
        consumed += p.ndim if hasattr(p, "dtype") and p.dtype.kind == "b" else 1
    if consumed > ndim:
        raise IndexError(
            f"getitem: too many indices for a tensor of shape {tuple(shape)}: the key {_show(parts)} "
            f"indexes {consumed} axes but the tensor has {ndim}"
        )
    axis = 0
    for p in parts:
        if p is None:
            continue
        if p is Ellipsis:
            axis += ndim - consumed
            continue
        if hasattr(p, "dtype") and p.dtype.kind == "b":
            if tuple(p.shape) != tuple(shape[axis:axis + p.ndim]):
                raise IndexError(
                    f"getitem: boolean mask of shape {tuple(p.shape)} does not match the tensor's shape "
                    f"{tuple(shape)} at axes {axis}..{axis + p.ndim - 1}; a mask must have the shape of the "
                    "axes it selects from"
                )
            axis += p.ndim
            continue
        if isinstance(p, slice):
            axis += 1
            continue
        n = shape[axis]
        if hasattr(p, "dtype"):
            if p.size:
                lo, hi = int(p.min()), int(p.max())
                bad = hi if hi >= n else (lo if lo < -n else None)
                if bad is not None:
                    raise IndexError(
                        f"getitem: index {bad} is out of range for axis {axis} of size {n} "
                        f"(tensor shape {tuple(shape)}, key {_show(parts)})"
                    )
        else:
            try:
                i = int(p)
            except (TypeError, ValueError):
                raise IndexError(
                    f"getitem: unsupported index {p!r} of type {type(p).__name__}; use ints, slices, None, "
                    "..., integer or bool tensors"
                ) from None
            if not -n <= i < n:
                raise IndexError(
                    f"getitem: index {i} is out of range for axis {axis} of size {n} "
                    f"(tensor shape {tuple(shape)}, key {_show(parts)})"
                )
        axis += 1


def _show(parts):
    def one(p):
        if hasattr(p, "dtype") and hasattr(p, "shape"):
            return f"<{p.dtype} array of shape {tuple(p.shape)}>"
        if p is Ellipsis:
            return "..."
        if isinstance(p, slice):
            return ":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step)).rstrip(":") or ":"
        return repr(p)

    return "[" + ", ".join(one(p) for p in parts) + "]"


# --- the ops ----------------------------------------------------------------------------------
def _pick(xp, x, key):
    """``x[key]`` as an array (NumPy returns a scalar for a fully indexed element)."""
    out = x[key]
    return out if type(out).__name__ == "ndarray" else xp.asarray(out)


def _scatter_add(xp, g, key, shape, advanced):
    """A zero array of ``shape`` with ``g`` added at ``key``; repeated positions accumulate."""
    out = xp.zeros(shape, dtype=g.dtype)
    if not advanced:
        out[key] = g  # basic keys never pick an element twice
        return out
    size = math.prod(shape)
    flat = xp.arange(size, dtype=_dt.int64).reshape(shape)[key]
    summed = xp.bincount(flat.ravel(), weights=g.ravel(), minlength=size)
    return summed.astype(g.dtype, copy=False).reshape(shape)


class Index(Op):
    """``x[key]`` with integer-array or boolean-mask (advanced) parts: a copy of the picked elements."""

    name = "getitem"
    advanced = True
    saves_values = False  # the backward needs only the key and the shape

    def forward(self, x):
        self.in_shape = x.shape
        return _pick(self.xp, x, self.key)

    def backward(self, g):
        return IndexBackward.apply(g, key=self.key, shape=self.in_shape, advanced=self.advanced)

    def backward_array(self, g):
        return _scatter_add(self.xp, g, self.key, self.in_shape, self.advanced)


class Slice(Index):
    """``x[key]`` with only ints, slices, ``None`` and ``...``: a view of ``x`` (shares its version counter)."""

    is_view = True
    advanced = False


class IndexBackward(Op):
    """Scatter-add: a zero tensor of ``shape`` with ``g`` added at ``key`` (repeats accumulate).

    The gradient of :class:`Index`/:class:`Slice`; its own gradient is indexing again.
    Repeats are summed with ``xp.bincount`` over flat element numbers, which behaves the
    same on NumPy and CuPy (``out[key] += g`` would keep only one of the repeats).
    """

    name = "index_backward"
    saves_values = False

    def forward(self, g):
        return _scatter_add(self.xp, g, self.key, self.shape, self.advanced)

    def backward(self, gg):
        return (Index if self.advanced else Slice).apply(gg, key=self.key)

    def backward_array(self, gg):
        return _pick(self.xp, gg, self.key)


# --- public functions --------------------------------------------------------------------------
def getitem(x, key):
    """``x[key]`` with NumPy's indexing rules and its gradient (see the module docstring)."""
    parts, advanced = _normalize_key(key, x.device)
    _check_bounds(parts, x.shape)
    try:
        return (Index if advanced else Slice).apply(x, key=parts)
    except IndexError as exc:
        raise IndexError(f"getitem: bad index {_show(parts)} for a tensor of shape {tuple(x.shape)} ({exc})") from None


def gather(x, dim, index):
    """PyTorch's ``gather``: ``out[i][j] = x[index[i][j]][j]`` for ``dim=0`` (and so on).

    ``index`` is an integer tensor with as many axes as ``x`` and no larger than ``x``
    along the other axes. Implemented as an advanced index (the other axes get
    ``arange`` indices), so it shares :class:`Index`'s gradient (a scatter-add).
    """
    if not isinstance(index, Tensor):
        index = Tensor(index, device=x.device)
    if index.ndim != x.ndim:
        raise ShapeError(f"gather: index has {index.ndim} dims but the input has {x.ndim} (shapes {tuple(index.shape)} and {tuple(x.shape)})")
    d = normalize_axis(dim, x.ndim, "gather")
    for ax, (ni, nx) in enumerate(zip(index.shape, x.shape)):
        if ax != d and ni > nx:
            raise ShapeError(f"gather: index shape {tuple(index.shape)} is larger than the input shape {tuple(x.shape)} at axis {ax}")
    xp = x.device.xp
    key = []
    for ax in range(x.ndim):
        if ax == d:
            key.append(index)
        else:
            shape = [1] * x.ndim
            shape[ax] = index.shape[ax]
            key.append(xp.arange(index.shape[ax], dtype=_dt.int64).reshape(shape))
    return getitem(x, tuple(key))


def index_select(x, dim, index):
    """The slices of ``x`` along ``dim`` listed by the 1-D integer ``index`` (PyTorch's ``index_select``)."""
    d = normalize_axis(dim, x.ndim, "index_select")
    idx = index if isinstance(index, Tensor) else Tensor(index, device=x.device)
    if idx.ndim != 1:
        raise ShapeError(f"index_select: index must be 1-D, got shape {tuple(idx.shape)}")
    return getitem(x, (slice(None),) * d + (idx,))


def masked_fill(x, mask, value):
    """``x`` with the elements where ``mask`` is True replaced by ``value`` (broadcasting the mask).

    The gradient flows to the kept elements only (and to ``value`` when it is a tensor).
    """
    m = mask.array if isinstance(mask, Tensor) else x.device.xp.asarray(mask)
    if m.dtype.kind != "b":
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {m.dtype}")
    return where(Tensor._make(m, x.device), operand(value, x), x)


def take(x, index):
    """Elements of the flattened ``x`` at ``index`` (result has ``index``'s shape)."""
    return getitem(x.reshape(-1), index if isinstance(index, Tensor) else Tensor(index, device=x.device))
