"""Sorting and selection by rank: ``sort argsort msort topk kthvalue median nanmedian mode``
(values differentiable), ``unique unique_consecutive searchsorted bucketize`` (no gradient).

Every op that returns values picked from the input (``sort``, ``topk``, ``kthvalue``,
``median(dim)``, ``mode``) finds the positions first, on the raw array, then takes the
values with a differentiable gather at those positions: the gradient of a picked value
goes to exactly the element it was picked from, as in PyTorch, and every order of
derivative comes from the gather's own backward.

Ordering follows PyTorch: NaN sorts as the largest value (last ascending, first
descending); ``stable=True`` keeps equal elements in their input order (tinynet always
sorts stably, so ``stable=False`` gives the same, valid, result). Where PyTorch leaves
the index among equal values to its (unstable) algorithm (``kthvalue``, ``median(dim)``,
``mode``), tinynet's is deterministic: the stable sorted position (``mode``: the smallest
of the most frequent values, at its last position); the values always agree.
Results with a ``dim`` are named tuples ``(values, indices)`` (``tn.return_types``).
"""
from __future__ import annotations

from ..autograd.op import Op
from ..backend.errors import ArgumentError, ShapeError
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._args import as_int
from ._util import normalize_axis
from .reduction import return_types, take_indexed

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "argsort", "bucketize", "kthvalue", "median", "mode", "msort", "nanmedian", "searchsorted", "sort",
    "topk", "unique", "unique_consecutive",
]


def _dim(x, dim, op):
    """``dim`` normalised for ``x`` (a 0-d tensor accepts 0 and -1, as in PyTorch)."""
    return normalize_axis(as_int(dim, "dim", op), x.ndim, op)


def _order(xp, a, axis, descending):
    """Stable sorting permutation of ``a`` along ``axis`` (int64), NaN counted as largest.

    Descending order sorts the reversed array ascending and reverses the result: the
    largest come first, equal elements keep their input order, NaNs lead.
    """
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable").astype(_dt.int64, copy=False)
    n = a.shape[axis]
    flipped = xp.flip(a, axis=axis)
    idx = xp.flip(xp.argsort(flipped, axis=axis, kind="stable"), axis=axis)
    return (n - 1 - idx).astype(_dt.int64, copy=False)


def _pair(name, x, d, idx, keepdim=True):
    """The named tuple ``name(values, indices)`` for positions ``idx`` (keepdim-shaped) along ``d``."""
    values = take_indexed(x, d, idx, keepdim)
    indices = idx if keepdim or x.ndim == 0 else idx.reshape(values.shape)
    return getattr(return_types, name)(values, Tensor._make(indices, x.device))


def sort(input, dim=-1, descending=False, stable=False):
    """Sort along ``dim``: the named tuple ``(values, indices)`` with ``values = input.gather(dim, indices)``.

    Ascending unless ``descending``; NaN is the largest value. The sort is always stable
    (equal elements keep their input order), which is what ``stable=True`` asks for and a
    valid answer to ``stable=False``. The gradient of ``values`` flows back through the
    permutation.
    """
    d = _dim(input, dim, "sort")
    if input.ndim == 0:
        return _pair("sort", input, d, input.device.xp.zeros((), dtype=_dt.int64))
    return _pair("sort", input, d, _order(input.device.xp, input.array, d, bool(descending)))


def argsort(input, dim=-1, descending=False, stable=False):
    """The ``indices`` of :func:`sort` (int64, no gradient)."""
    return sort(input, dim, descending, stable).indices


def msort(input):
    """``sort(input, dim=0).values`` (PyTorch's ``msort``)."""
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim``: ``(values, indices)``.

    The result is always in sorted order (largest first, or smallest first), which is also
    a valid answer to ``sorted=False``. ``k`` must be between 0 and the size of ``dim``.
    """
    k = as_int(k, "k", "topk", minimum=0)
    d = _dim(input, dim, "topk")
    n = input.shape[d] if input.ndim else 1
    if k > n:
        raise ShapeError(f"topk: k ({k}) is larger than the size of dim {d} ({n}) of the input of shape "
                         f"{tuple(input.shape)}; pick k <= {n}")
    if input.ndim == 0:
        return _pair("topk", input, d, input.device.xp.zeros((), dtype=_dt.int64)) if k else _empty_pick("topk", input)
    xp = input.device.xp
    idx = _order(xp, input.array, d, bool(largest))
    idx = xp.take(idx, xp.arange(k), axis=d)
    return _pair("topk", input, d, idx)


def _empty_pick(name, x):
    xp = x.device.xp
    idx = xp.zeros((0,), dtype=_dt.int64)
    return _pair(name, x.reshape(1), 0, idx)


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element along ``dim`` (``k`` counts from 1): ``(values, indices)``.

    Among equal elements the one the stable sorted order puts ``k``-th is picked (PyTorch
    returns one of the equal positions, which one depending on its selection algorithm).
    """
    k = as_int(k, "k", "kthvalue")
    d = _dim(input, dim, "kthvalue")
    n = input.shape[d] if input.ndim else 1
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue: k ({k}) must be between 1 and the size of dim {d} ({n}) of the input "
                         f"of shape {tuple(input.shape)}")
    if input.ndim == 0:
        return _pair("kthvalue", input, d, input.device.xp.zeros((), dtype=_dt.int64))
    xp = input.device.xp
    idx = xp.take(_order(xp, input.array, d, False), xp.arange(k - 1, k), axis=d)
    return _pair("kthvalue", input, d, idx, bool(keepdim))


def _median_positions(xp, a, d, ignore_nan):
    """Positions (keepdim-shaped) of the lower median along ``d``: NaN propagates unless ``ignore_nan``."""
    n = a.shape[d]
    order = _order(xp, a, d, False)  # NaNs sort last
    nans = xp.isnan(a).sum(axis=d, keepdims=True) if a.dtype.kind == "f" else xp.zeros_like(
        xp.take(a, xp.arange(1), axis=d), dtype=_dt.int64)
    if ignore_nan:
        pos = xp.maximum((n - nans - 1) // 2, 0)
    else:
        pos = xp.where(nans > 0, n - nans, (n - 1) // 2)  # the first NaN, or the lower median
    return xp.take_along_axis(order, pos.astype(_dt.int64), axis=d)


class SharedPick(Op):
    """One element of ``x`` (a full-tensor median) whose gradient is shared evenly by every
    element equal to it (every NaN when it is NaN): PyTorch's rule for full reductions
    (``median()``, ``nanmedian()``), as :class:`~tinynet.functional.reduction.Max` does for ``max()``."""

    name = "median"

    def forward(self, x):
        xp = self.xp
        value = x.reshape(-1)[self.index]
        hit = xp.isnan(x) if bool(xp.isnan(value)) else (x == value)
        self.weight = (hit / hit.sum()).astype(x.dtype)
        return xp.asarray(value).reshape(())

    def backward(self, g):
        return g * self.constant(self.weight)

    def backward_array(self, g):
        return g * self.weight


def _median(name, input, dim, keepdim, ignore_nan):
    xp = input.device.xp
    if dim is None:
        if input.array.size == 0:
            return Tensor._make(xp.full((), xp.nan, dtype=input.array.dtype if input.array.dtype.kind == "f"
                                        else _dt.float32), input.device)
        idx = _median_positions(xp, input.array.reshape(-1), 0, ignore_nan)
        return SharedPick.apply(input, index=int(idx.reshape(-1)[0]))
    d = _dim(input, dim, name)
    if input.ndim == 0:
        return _pair(name, input, d, xp.zeros((), dtype=_dt.int64))
    if input.shape[d] == 0:
        raise ShapeError(f"{name}: cannot take the median over dim {d} of size 0 (input shape {tuple(input.shape)})")
    return _pair(name, input, d, _median_positions(xp, input.array, d, ignore_nan), bool(keepdim))


def median(input, dim=None, keepdim=False):
    """Median, as PyTorch: the *lower* median (element ``(n - 1) // 2`` of the sorted values,
    not the mean of the two middle ones), and NaN if the slice holds a NaN.

    Without ``dim``: a 0-d tensor, the median of all elements (its gradient is shared evenly
    by the elements equal to it, as PyTorch's). With ``dim``: the named tuple
    ``(values, indices)``, whose gradient goes to the element at the index.
    """
    return _median("median", input, dim, keepdim, ignore_nan=False)


def nanmedian(input, dim=None, keepdim=False):
    """:func:`median` ignoring NaNs (the lower median of the non-NaN values; NaN if all are NaN)."""
    return _median("nanmedian", input, dim, keepdim, ignore_nan=True)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` and its index: ``(values, indices)``.

    When several values are equally frequent the smallest one wins (as PyTorch), and its
    index is the last position where it occurs (PyTorch returns *a* position of the value,
    which one depending on its unstable sort). Runs of equal values are found
    in the stable sorted order and counted with one ``bincount`` over all slices.
    """
    d = _dim(input, dim, "mode")
    xp = input.device.xp
    if input.ndim == 0:
        return _pair("mode", input, d, xp.zeros((), dtype=_dt.int64))
    n = input.shape[d]
    if n == 0:
        raise ShapeError(f"mode: cannot take the mode over dim {d} of size 0 (input shape {tuple(input.shape)})")
    a = xp.moveaxis(input.array, d, -1)
    rows = a.reshape(-1, n)
    order = _order(xp, rows, 1, False)
    s = xp.take_along_axis(rows, order, axis=1)
    start = xp.ones(s.shape, dtype=bool)
    start[:, 1:] = s[:, 1:] != s[:, :-1]
    run = xp.cumsum(start.ravel()) - 1                 # run number of each element, over all rows
    length = xp.bincount(run)[run].reshape(s.shape)    # length of the run each element belongs to
    # the last element of the first longest run: the smallest most frequent value, last occurrence
    is_last = xp.ones(s.shape, dtype=bool)
    is_last[:, :-1] = start[:, 1:]
    score = xp.where(is_last, length, 0)
    best = xp.argmax(score, axis=1)
    idx = order[xp.arange(rows.shape[0]), best]
    idx = xp.moveaxis(idx.reshape(a.shape[:-1] + (1,)), -1, d)
    return _pair("mode", input, d, idx.astype(_dt.int64, copy=False), bool(keepdim))


# --- unique, searchsorted, bucketize (no gradient) -----------------------------------------------
def _int_tensor(array, device):
    return Tensor._make(array.astype(_dt.int64, copy=False), device)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input`` (sorted ascending), as PyTorch's ``torch.unique``.

    With ``dim=None`` the tensor is flattened; with a ``dim``, the distinct slices along it.
    ``return_inverse`` adds, for each input element (slice), the index of its value in the
    output (shaped like the input, or ``(input.shape[dim],)``); ``return_counts`` adds how
    often each value occurs. Returns a tensor, or a tuple when extra outputs are asked for.
    No gradient (as in PyTorch). The output is always sorted (a valid answer to ``sorted=False``).
    """
    xp = input.device.xp
    a = input.array
    if dim is not None:
        d = _dim(input, dim, "unique")
        vals, inv, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(a.shape[d] if a.ndim else ())
    else:
        vals, inv, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    out = [Tensor._make(vals, input.device)]
    if return_inverse:
        out.append(_int_tensor(inv, input.device))
    if return_counts:
        out.append(_int_tensor(counts, input.device))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of consecutive equal values (slices along ``dim``) to one, as
    PyTorch's ``unique_consecutive``; ``return_inverse``/``return_counts`` as in :func:`unique`."""
    xp = input.device.xp
    if dim is None:
        a = input.array.reshape(-1)
        d = 0
    else:
        d = _dim(input, dim, "unique_consecutive")
        a = input.array if input.ndim else input.array.reshape(1)
    n = a.shape[d]
    moved = xp.moveaxis(a, d, 0).reshape(n, -1)
    change = xp.ones(n, dtype=bool)
    if n > 1:
        change[1:] = (moved[1:] != moved[:-1]).any(axis=1)
    starts = xp.nonzero(change)[0]
    vals = xp.take(a, starts, axis=d)
    inv = xp.cumsum(change) - 1
    counts = xp.diff(xp.concatenate([starts, xp.asarray([n], dtype=starts.dtype)]))
    if dim is None:
        inv = inv.reshape(input.shape)
    out = [Tensor._make(vals, input.device)]
    if return_inverse:
        out.append(_int_tensor(inv, input.device))
    if return_counts:
        out.append(_int_tensor(counts, input.device))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(sorted_sequence, values, right=False, *, out_int32=False, side=None, sorter=None):
    """Indices where ``values`` would be inserted into ``sorted_sequence`` to keep it sorted.

    ``sorted_sequence`` is 1-D (every value searched in it) or N-D with the same leading
    dimensions as ``values`` (each row of values searched in its own row). ``right=False``
    (``side="left"``) gives the first suitable index, ``right=True`` (``side="right"``) the
    last; ``sorter`` is an index tensor that sorts an unsorted ``sorted_sequence`` along its
    last dim. ``values`` may be a Python number. int64 result (``out_int32=True``: int32).
    """
    seq = sorted_sequence
    if not isinstance(seq, Tensor):
        raise TypeError(f"searchsorted: sorted_sequence must be a Tensor, got {type(seq).__name__}")
    xp = seq.device.xp
    scalar = not isinstance(values, Tensor)
    vals = Tensor(values, device=seq.device) if scalar else values
    if vals.device is not seq.device:
        raise ArgumentError(f"searchsorted: sorted_sequence is on {seq.device.type} but values on {vals.device.type}; "
                            "move one with .to(...)")
    if side is not None:
        if side not in ("left", "right"):
            raise ArgumentError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ArgumentError("searchsorted: side='left' contradicts right=True; give one of them")
        right = side == "right"
    s = seq.array
    if s.ndim == 0:
        raise ShapeError("searchsorted: sorted_sequence must have at least one dimension, got a 0-d tensor")
    if sorter is not None:
        order = sorter.array if isinstance(sorter, Tensor) else xp.asarray(sorter)
        if tuple(order.shape) != tuple(s.shape):
            raise ShapeError(f"searchsorted: sorter has shape {tuple(order.shape)} but sorted_sequence has "
                             f"{tuple(s.shape)}; they must match")
        s = xp.take_along_axis(s, order.astype(_dt.int64), axis=-1)
    v = vals.array
    how = "right" if right else "left"
    if s.ndim == 1:
        out = xp.searchsorted(s, v.reshape(-1), side=how).reshape(v.shape)
    else:
        if v.ndim != s.ndim or tuple(v.shape[:-1]) != tuple(s.shape[:-1]):
            raise ShapeError(
                f"searchsorted: an N-D sorted_sequence (shape {tuple(s.shape)}) needs values with the same "
                f"leading dimensions, got values of shape {tuple(v.shape)}; use a 1-D sequence to search "
                "every value in one sequence")
        rows = s.reshape(-1, s.shape[-1])
        vrows = v.reshape(-1, v.shape[-1])
        out = xp.empty(vrows.shape, dtype=_dt.int64)
        for r in range(rows.shape[0]):  # each row of values in its own row of the sequence
            out[r] = xp.searchsorted(rows[r], vrows[r], side=how)
        out = out.reshape(v.shape)
    return Tensor._make(out.astype(_dt.int32 if out_int32 else _dt.int64, copy=False), seq.device)


def bucketize(input, boundaries, right=False, *, out_int32=False):
    """The bucket of each element of ``input`` for the sorted 1-D ``boundaries`` (PyTorch's rule):
    ``right=False`` gives ``i`` with ``boundaries[i-1] < x <= boundaries[i]``; ``right=True``
    gives ``boundaries[i-1] <= x < boundaries[i]``. int64 (``out_int32=True``: int32)."""
    if not isinstance(boundaries, Tensor) or boundaries.ndim != 1:
        shape = tuple(boundaries.shape) if isinstance(boundaries, Tensor) else type(boundaries).__name__
        raise ShapeError(f"bucketize: boundaries must be a 1-D tensor, got {shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
