"""Scatter: writing values into a tensor at computed positions, with a reduction for repeats.

PyTorch's family: ``scatter`` / ``scatter_add`` / ``scatter_reduce`` (positions given by an
``index`` of the source's shape along ``dim``: ``out[i][index[i][j]] = src[i][j]`` for
``dim=1``), and ``index_add`` / ``index_copy`` / ``index_reduce`` (whole slices along ``dim``:
``out[:, index[j]] = source[:, j]`` for ``dim=1``), each with an in-place ``_`` variant.

Every one of them is "write ``values`` at the positions of an advanced key, combining
repeats with a reduction", so they share one set of building blocks:

* plain writes and sums are :class:`~tinynet.functional.indexing.IndexPut` (``accumulate``
  for sums; repeats add up through ``bincount``). Gradients: ``self`` gets ``g`` zeroed
  where overwritten (all of ``g`` for a sum that includes ``self``), ``src`` gets ``g`` at
  its target (a gather), as in PyTorch;
* ``mean`` is the sum divided by the number of contributions (plus one for ``self`` when
  ``include_self``); integer tensors divide with floor, as PyTorch does;
* ``prod`` multiplies the contributions in rounds, one per repeat rank (each round writes
  distinct positions), so its gradient is the exact product rule, zeros included;
* ``amax`` / ``amin`` are :class:`ScatterExtreme`, whose gradient is split evenly among all
  the values equal to the result (``self`` included when it takes part), as in PyTorch.

Errors follow PyTorch's checks: the index must be an integer tensor with as many dimensions
as ``self`` (and ``src``), no larger than ``src`` anywhere and than ``self`` apart from
``dim``, and every index must lie in ``[-size, size)`` of ``dim`` (a clear IndexError;
CuPy would otherwise wrap around silently).
"""
from __future__ import annotations

import math

from ..autograd.op import Op
from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis
from .indexing import (Index, IndexPut, Slice, _check_index_tensor, _device_mismatch, _range_error, _value_tensor,
                       along_dim_key)
from .inplace import inplace

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "index_add", "index_copy", "index_reduce", "scatter", "scatter_add", "scatter_reduce",
]

_SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")


# --- the positions -----------------------------------------------------------------------------
def _scatter_key(op, input, dim, index, src_shape):
    """Check a scatter's arguments; the advanced key of its target positions and ``dim``."""
    index = _check_index_tensor(index, input, op)
    if index.ndim != input.ndim:
        raise ShapeError(f"{op}: index tensor must have the same number of dimensions as self tensor "
                         f"(index {tuple(index.shape)}, self {tuple(input.shape)})")
    if src_shape is not None and len(src_shape) != input.ndim:
        raise ShapeError(f"{op}: index tensor must have the same number of dimensions as src tensor "
                         f"(index {tuple(index.shape)}, src {tuple(src_shape)})")
    nd = max(input.ndim, 1)
    d = normalize_axis(dim, nd, op)
    if input.ndim == 0:
        _range_error(op, index.array, 1, 0, input.shape)
        return (index.array.reshape(1).astype(_dt.int64, copy=False) % 1,), d, index
    for ax, ni in enumerate(index.shape):
        if (ax != d and ni > input.shape[ax]) or (src_shape is not None and ni > src_shape[ax]):
            raise ShapeError(
                f"{op}: expected index {tuple(index.shape)} to be no larger than self {tuple(input.shape)} apart "
                f"from dimension {d}" + (f" and to be no larger than src {tuple(src_shape)}" if src_shape else "")
            )
    _range_error(op, index.array, input.shape[d], d, input.shape)
    arr = index.array.astype(_dt.int64, copy=False) % input.shape[d] if index.array.size else index.array
    return along_dim_key(input.device.xp, arr.astype(_dt.int64, copy=False), d), d, index


def _index_key(op, input, dim, index, source):
    """Check an ``index_*`` op's arguments; the key ``(:, ..., index)`` along ``dim``."""
    index = _check_index_tensor(index, input, op)
    if index.ndim > 1:
        raise ShapeError(f"{op}: index should have 1 dimension (or 0), got shape {tuple(index.shape)}")
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}: source must be a Tensor, got {type(source).__name__}")
    if source.device is not input.device:
        raise _device_mismatch(op, input, source)
    nd = max(input.ndim, 1)
    d = normalize_axis(dim, nd, op)
    idx = index.array.reshape(-1).astype(_dt.int64, copy=False)
    xshape = tuple(input.shape) if input.ndim else (1,)
    expect = xshape[:d] + (idx.shape[0],) + xshape[d + 1:]
    sshape = tuple(source.shape) if source.ndim else (1,)
    if sshape != expect and not (input.ndim == 0 and source.numel() == idx.shape[0]):
        raise ShapeError(f"{op}: source {tuple(source.shape)} must have the shape of self {tuple(input.shape)} "
                         f"with dimension {d} replaced by the number of indices ({idx.shape[0]}): expected {expect}")
    _range_error(op, idx, xshape[d], d, input.shape)
    return (slice(None),) * d + (idx % xshape[d] if idx.size else idx,), expect


def _check_src(op, input, src):
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}: src must be a Tensor (or use value= for a number), got {type(src).__name__}")
    if src.device is not input.device:
        raise _device_mismatch(op, input, src)
    if src.dtype != input.dtype:
        raise DTypeError(f"{op}: expected self.dtype to be equal to src.dtype (self {input.dtype}, src {src.dtype}); "
                         f"convert with `src.to({input.dtype})`")


def _src_part(src, index_shape):
    """The part of ``src`` that the index covers (``src`` may be larger; the rest gets no gradient)."""
    if tuple(src.shape) == tuple(index_shape):
        return src
    return Slice.apply(src, key=tuple(slice(0, n) for n in index_shape))


# --- the reductions on (input, key, values) ----------------------------------------------------------
def _ranks(xp, flat):
    """For each position of ``flat`` (target numbers), how many earlier entries share its target."""
    n = flat.shape[0]
    if n == 0:
        return flat, 0
    order = xp.argsort(flat, kind="stable")
    s = flat[order]
    new_group = xp.ones(n, dtype=bool)
    new_group[1:] = s[1:] != s[:-1]
    starts = xp.nonzero(new_group)[0]
    group = xp.cumsum(new_group) - 1
    rank_sorted = xp.arange(n, dtype=_dt.int64) - starts[group]
    ranks = xp.empty(n, dtype=_dt.int64)
    ranks[order] = rank_sorted
    return ranks, int(rank_sorted.max()) + 1


def _reduce_put(op, input, key, values, reduce, include_self):
    """``input`` with ``values`` combined into the positions of ``key`` by ``reduce``.

    ``values`` has the shape of ``input[key]`` (an advanced key: no position picked by a
    basic part); the target positions may repeat.
    """
    xp = input.device.xp
    if reduce == "sum":
        base = input if include_self else _fill(input, key, 0)
        return IndexPut.apply(base, values, key=key, accumulate=True)
    if reduce == "mean":
        total = _reduce_put(op, input, key, values, "sum", include_self)
        flat = _flat(xp, key, input.shape)
        count = xp.bincount(flat, minlength=max(input.numel(), 1))[:input.numel()].reshape(input.shape)
        count = count + (1 if include_self else 0)
        count = xp.maximum(count, 1)
        if input.dtype.kind in "iub":
            return Tensor._make(xp.floor_divide(total.array, count.astype(input.dtype)), input.device)
        return total / Tensor._make(count.astype(input.dtype), input.device)
    if reduce == "prod":
        base = input if include_self else _fill(input, key, 1)
        flat = _flat(xp, key, input.shape)
        ranks, rounds = _ranks(xp, flat)
        out = base.reshape(-1)
        vals = values.reshape(-1)
        for r in range(rounds):
            sel = xp.nonzero(ranks == r)[0]
            tgt = (flat[sel],)
            new = Index.apply(out, key=tgt) * Index.apply(vals, key=(sel,))
            out = IndexPut.apply(out, new, key=tgt, accumulate=False)
        return out.reshape(tuple(input.shape))
    if reduce in ("amax", "amin"):
        return ScatterExtreme.apply(input, values, flat=_flat(xp, key, input.shape), take_max=reduce == "amax",
                                    include_self=bool(include_self))
    raise ArgumentError(f"{op}: reduce argument must be one of {', '.join(repr(r) for r in _SCATTER_REDUCES)}, "
                        f"got {reduce!r}")


def _flat(xp, key, shape):
    """The flat target numbers of an advanced ``key`` into a tensor of ``shape`` (1-D, in order)."""
    size = math.prod(shape) if shape else 1
    grid = xp.arange(size, dtype=_dt.int64).reshape(shape if shape else (1,))
    return grid[key].reshape(-1)


def _fill(input, key, number):
    """``input`` with the positions of ``key`` set to ``number`` (differentiable in ``input``)."""
    return IndexPut.apply(input, Tensor._make(input.device.xp.asarray(number, dtype=input.dtype), input.device),
                          key=key, accumulate=False)


class ScatterExtreme(Op):
    """``amax``/``amin`` of the values written to each position (and of ``self`` when ``include_self``).

    ``flat`` gives, for each element of ``values`` (row-major), the flat position it goes to.
    Gradient (PyTorch's): each position's gradient is split evenly among the contributors
    equal to the result, ``self`` included when it takes part.
    """

    name = "scatter_reduce"

    def forward(self, x, v):
        xp = self.xp
        flat = self.flat
        vals = v.reshape(-1)
        out = x.reshape(-1).copy()
        self.x_shape = x.shape
        if flat.size:
            key = vals.astype(_dt.int64) if vals.dtype.kind in "ub" else vals  # negatable for amin
            order = xp.lexsort(xp.stack([key if self.take_max else -key, flat]))
            t, s = flat[order], vals[order]
            last = xp.ones(t.shape[0], dtype=bool)
            last[:-1] = t[1:] != t[:-1]
            tgt, best = t[last], s[last]
            if self.include_self:
                best = (xp.maximum if self.take_max else xp.minimum)(out[tgt], best)
            out[tgt] = best
        self.x, self.v = x, v
        return out.reshape(x.shape)

    def _weights(self):
        """The gradient weights of ``self`` and of ``values``: 1/k for the k ties at the result, else 0."""
        xp = self.xp
        res = self.out.reshape(-1)
        dt = self.out.dtype
        hit_self = self.x.reshape(-1) == res
        hit_src = self.v.reshape(-1) == res[self.flat]
        count = hit_self.astype(dt) + xp.bincount(self.flat, weights=hit_src.astype(dt), minlength=res.shape[0]
                                                  ).astype(dt)[:res.shape[0]]
        count = xp.maximum(count, 1)
        if not self.include_self:
            # PyTorch counts an equal ``self`` among the ties even when it is left out, then gives it
            # no gradient where something was written: kept here for parity
            scattered = xp.zeros(res.shape[0], dtype=bool)
            scattered[self.flat] = True
            hit_self = hit_self & ~scattered
        w_self = (hit_self / count).astype(dt).reshape(self.x_shape)
        w_src = (hit_src / count[self.flat]).astype(dt).reshape(self.v.shape)
        return w_self, w_src

    def backward(self, g):
        w_self, w_src = self._weights()
        gx = g * self.constant(w_self)
        gv = Index.apply(g.reshape(-1), key=(self.flat,)).reshape(tuple(self.v.shape)) * self.constant(w_src)
        return gx, gv

    def backward_array(self, g):
        w_self, w_src = self._weights()
        return g * w_self, g.reshape(-1)[self.flat].reshape(self.v.shape) * w_src


# --- public functions -------------------------------------------------------------------------
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """PyTorch's ``scatter``: ``input`` with ``src`` (or the number ``value``) written along ``dim``
    at the positions in ``index`` (``out[index[i][j]][j] = src[i][j]`` for ``dim=0``).

    ``src`` may be larger than ``index`` (only its leading ``index.shape`` part is used). With
    repeated positions the value written is one of the candidates (unspecified, as in PyTorch).
    ``reduce='add'`` / ``'multiply'`` combine instead of overwrite (``self`` included).
    Gradients: ``input`` gets ``g`` zeroed where written; ``src`` gets ``gather(g, dim, index)``.
    """
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # scatter(input, dim, index, 2.0): the value form, as in PyTorch
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a Tensor) or value (a number)")
    if reduce not in (None, "add", "multiply"):
        raise ArgumentError(f"scatter: reduce argument must be either 'add' or 'multiply', got {reduce!r}")
    if src is not None:
        _check_src("scatter", input, src)
    key, _, index = _scatter_key("scatter", input, dim, index, None if src is None else tuple(src.shape))
    x = input if input.ndim else input.reshape(1)
    if src is not None:
        vals = _src_part(src, tuple(index.shape))
        vals = vals.reshape(tuple(index.array.reshape(-1).shape)) if input.ndim == 0 else vals
    else:
        if isinstance(value, Tensor):
            raise TypeError("scatter: value must be a number; pass a tensor as src")
        vals = _value_tensor(value, x, "scatter")
    if reduce is None:
        out = IndexPut.apply(x, vals, key=key, accumulate=False)
    else:
        if vals.ndim == 0:
            vals = vals.expand(*index.shape) if index.ndim else vals.reshape(1).expand(*index.array.reshape(-1).shape)
        out = _reduce_put("scatter", x, key, vals, "sum" if reduce == "add" else "prod", True)
    return out if input.ndim else out.reshape(())


def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added along ``dim`` at the positions in ``index`` (repeats add up).

    Gradients: ``input`` gets ``g``; ``src`` gets ``gather(g, dim, index)``."""
    _check_src("scatter_add", input, src)
    key, _, index = _scatter_key("scatter_add", input, dim, index, tuple(src.shape))
    x = input if input.ndim else input.reshape(1)
    vals = _src_part(src, tuple(index.shape))
    if input.ndim == 0:
        vals = vals.reshape(-1)
    out = IndexPut.apply(x, vals, key=key, accumulate=True)
    return out if input.ndim else out.reshape(())


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with ``src`` combined along ``dim`` at the positions in ``index`` by ``reduce``
    (``'sum'``, ``'prod'``, ``'mean'``, ``'amax'``, ``'amin'``); ``include_self=False`` leaves
    ``input``'s own value out at the positions that receive something.

    Gradients as PyTorch's: sum/mean spread ``g`` (divided by the count for mean); prod by
    the product rule; amax/amin split evenly among the values equal to the result.
    """
    if reduce not in _SCATTER_REDUCES:
        raise ArgumentError(f"scatter_reduce: reduce argument must be one of "
                            f"{', '.join(repr(r) for r in _SCATTER_REDUCES)}, got {reduce!r}")
    _check_src("scatter_reduce", input, src)
    key, _, index = _scatter_key("scatter_reduce", input, dim, index, tuple(src.shape))
    x = input if input.ndim else input.reshape(1)
    vals = _src_part(src, tuple(index.shape))
    if input.ndim == 0:
        vals = vals.reshape(-1)
    out = _reduce_put("scatter_reduce", x, key, vals, reduce, include_self)
    return out if input.ndim else out.reshape(())


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source`` added to the slices along ``dim`` listed in ``index``
    (``out[:, index[j]] += alpha * source[:, j]`` for ``dim=1``; repeats add up)."""
    key, expect = _index_key("index_add", input, dim, index, source)
    if source.dtype != input.dtype:
        raise DTypeError(f"index_add: self ({input.dtype}) and source ({source.dtype}) must have the same scalar "
                         f"type; convert with `source.to({input.dtype})`")
    if isinstance(alpha, float) and input.dtype.kind != "f":
        raise DTypeError(f"index_add: a float alpha ({alpha}) needs a floating tensor, got {input.dtype}")
    src = source.reshape(expect) if tuple(source.shape) != expect else source
    if alpha != 1:
        src = src * alpha
    x = input if input.ndim else input.reshape(1)
    out = IndexPut.apply(x, src, key=key, accumulate=True)
    return out if input.ndim else out.reshape(())


def index_copy(input, dim, index, source):
    """``input`` with the slices along ``dim`` listed in ``index`` replaced by those of ``source``
    (``out[:, index[j]] = source[:, j]`` for ``dim=1``). Gradients: ``input`` gets ``g`` zeroed on
    the copied slices, ``source`` gets ``g.index_select(dim, index)``."""
    key, expect = _index_key("index_copy", input, dim, index, source)
    if source.dtype != input.dtype:
        raise DTypeError(f"index_copy: self ({input.dtype}) and source ({source.dtype}) must have the same dtype; "
                         f"convert with `source.to({input.dtype})`")
    src = source.reshape(expect) if tuple(source.shape) != expect else source
    x = input if input.ndim else input.reshape(1)
    out = IndexPut.apply(x, src, key=key, accumulate=False)
    return out if input.ndim else out.reshape(())


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with the slices of ``source`` combined into the slices along ``dim`` listed in
    ``index`` by ``reduce`` (``'prod'``, ``'mean'``, ``'amax'``, ``'amin'``), as PyTorch's
    ``index_reduce``; ``include_self=False`` leaves ``input``'s values out where slices land."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise ArgumentError(f"index_reduce: reduce argument must be one of 'prod', 'mean', 'amax', 'amin', "
                            f"got {reduce!r}")
    key, expect = _index_key("index_reduce", input, dim, index, source)
    if source.dtype != input.dtype:
        raise DTypeError(f"index_reduce: self ({input.dtype}) and source ({source.dtype}) must have the same dtype; "
                         f"convert with `source.to({input.dtype})`")
    src = source.reshape(expect) if tuple(source.shape) != expect else source
    x = input if input.ndim else input.reshape(1)
    # the slice key (:, ..., idx) as a full advanced key, so that every target is one element
    xp = input.device.xp
    d = len(key) - 1
    idx = key[-1]
    full = []
    for ax, n in enumerate(expect):
        shape = [1] * len(expect)
        shape[ax] = n
        full.append((idx if ax == d else xp.arange(n, dtype=_dt.int64)).reshape(shape))
    out = _reduce_put("index_reduce", x, tuple(full), src, reduce, include_self)
    return out if input.ndim else out.reshape(())


# --- Tensor methods (bound by methods.py) ------------------------------------------------------------
scatter_ = inplace(scatter, "scatter_")
scatter_add_ = inplace(scatter_add, "scatter_add_")
scatter_reduce_ = inplace(scatter_reduce, "scatter_reduce_")
index_add_ = inplace(index_add, "index_add_")
index_copy_ = inplace(index_copy, "index_copy_")
index_reduce_ = inplace(index_reduce, "index_reduce_")
