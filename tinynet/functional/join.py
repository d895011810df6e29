"""Joining and cutting tensors: ``cat``/``concatenate``, ``stack`` (and ``hstack``, ``vstack``,
``dstack``, ``column_stack``), ``split``, ``chunk``, ``tensor_split``, ``pad``.

Concatenation puts inputs side by side along an axis, so its gradient cuts the output
gradient back into the same pieces. Splitting is slicing (each piece is ``x[..., a:b]``,
whose gradient scatters back). Constant padding surrounds the input with a constant, so
its gradient is the middle part of the output gradient; the other padding modes are
advanced indexes (repeated rows), whose gradient adds up the copies.
"""
from __future__ import annotations

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..autograd.op import Op
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "atleast_1d", "atleast_2d", "atleast_3d", "cat", "chunk", "column_stack", "concat", "concatenate", "dsplit",
    "dstack", "hsplit", "hstack", "split", "stack", "tensor_split", "vsplit", "vstack"
]


def _tensors(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ArgumentError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(t).__name__}, not a Tensor")
    return list(tensors)


class Concat(Op):
    """Join tensors along ``axis``; the gradient of input i is its slice of the output gradient."""

    name = "cat"
    saves_values = False

    def forward(self, *arrays):
        self.sizes = [a.shape[self.axis] for a in arrays]
        return self.xp.concatenate(arrays, axis=self.axis)

    def backward(self, g):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for t, n in zip(self.inputs, self.sizes):
            grads.append(g[lead + (slice(start, start + n),)] if t._requires_grad else None)
            start += n
        return tuple(grads)

    backward_array = backward  # slicing reads the same on arrays and on Tensors


def cat(tensors, axis=0, *, dim=None):
    """Concatenate tensors along an existing axis (``dim`` is PyTorch's name for it).

    All tensors must have the same number of axes and equal sizes except along ``axis``.
    Mixed dtypes are promoted as in NumPy/PyTorch.
    """
    tensors = _tensors(tensors, "cat")
    if dim is not None:
        axis = dim
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack (or unsqueeze them first)")
    ax = normalize_axis(axis, ndim, "cat")
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, ref)) if k != ax):
            shapes = ", ".join(str(tuple(u.shape)) for u in tensors)
            raise ShapeError(
                f"cat: tensors must have the same shape except along axis {ax}, but tensor {i} has shape "
                f"{tuple(t.shape)} and tensor 0 has {tuple(ref)} (all shapes: {shapes})"
            )
    return Concat.apply(*tensors, axis=ax)  # always a new tensor, even for one input (as in PyTorch)


concatenate = cat
concat = cat


def stack(tensors, axis=0, *, dim=None):
    """Join tensors of one shape along a new axis ``axis`` (``dim``): ``cat`` of ``unsqueeze``."""
    tensors = _tensors(tensors, "stack")
    if dim is not None:
        axis = dim
    ref = tuple(tensors[0].shape)
    for i, t in enumerate(tensors):
        if tuple(t.shape) != ref:
            raise ShapeError(
                f"stack: expects every tensor to have the same shape, but tensor 0 has {ref} and tensor {i} "
                f"has {tuple(t.shape)}"
            )
    nd = len(ref) + 1
    if not -nd <= axis < nd:
        raise IndexError(f"stack: axis {axis} is out of range for a result of {nd} dimensions")
    axis %= nd
    return Concat.apply(*[t.unsqueeze(axis) for t in tensors], axis=axis)


def split(x, split_size_or_sections, axis=0, *, dim=None):
    """Cut ``x`` along ``axis`` into a tuple of views (PyTorch's ``split``).

    An int ``n`` gives pieces of ``n`` elements (the last may be shorter); a list gives
    the size of each piece, which must add up to the axis length. (NumPy's ``np.split``
    takes a number of sections or cut indices instead; tinynet follows PyTorch.)
    """
    if dim is not None:
        axis = dim
    ax = normalize_axis(axis, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ShapeError(
                f"split: section sizes {sizes} must be non-negative and add up to {n}, the length of axis "
                f"{ax} of shape {tuple(x.shape)}"
            )
    else:
        size = int(split_size_or_sections)
        if size <= 0:
            raise ShapeError(f"split: split_size must be a positive int, got {split_size_or_sections}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    lead = (slice(None),) * ax
    pieces, start = [], 0
    for s in sizes:
        pieces.append(x[lead + (slice(start, start + s),)])
        start += s
    return tuple(pieces)


def chunk(x, chunks, axis=0, *, dim=None):
    """Cut ``x`` into ``chunks`` pieces of ``ceil(n / chunks)`` elements along ``axis`` (PyTorch's
    ``chunk``: fewer pieces come back when the sizes do not divide evenly)."""
    if dim is not None:
        axis = dim
    if int(chunks) <= 0:
        raise ArgumentError(f"chunk: chunks must be a positive int, got {chunks}")
    ax = normalize_axis(axis, x.ndim, "chunk")
    n = x.shape[ax]
    if n == 0:  # PyTorch: ``chunks`` empty pieces
        return split(x, [0] * int(chunks), ax)
    size = -(-n // int(chunks))
    return split(x, size, ax)


def _at_least(tensors, op, nd):
    """Each tensor with at least ``nd`` axes, as NumPy's ``atleast_{1,2,3}d`` (and PyTorch's) add them:
    1-D ``(n,)`` becomes ``(1, n)`` and, for 3 axes, ``(1, n, 1)``; 2-D ``(m, n)`` becomes ``(m, n, 1)``."""
    out = []
    for t in _tensors(tensors, op):
        if t.ndim == 0:
            t = t.reshape((1,) * nd)
        elif t.ndim == 1 and nd >= 2:
            t = t.reshape((1, t.shape[0]) + ((1,) if nd == 3 else ()))
        elif t.ndim == 2 and nd == 3:
            t = t.unsqueeze(-1)
        out.append(t)
    return out


def _atleast(nd, tensors, op):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_at_least(tensors[0], op, nd))
    if len(tensors) == 1:
        if not isinstance(tensors[0], Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(tensors[0]).__name__}")
        return _at_least([tensors[0]], op, nd)[0]
    return tuple(_at_least(list(tensors), op, nd))


def atleast_1d(*tensors):
    """Each tensor with at least 1 dimension (0-D becomes ``(1,)``); one tensor in, one out."""
    return _atleast(1, tensors, "atleast_1d")


def atleast_2d(*tensors):
    """Each tensor with at least 2 dimensions (1-D ``(n,)`` becomes a row ``(1, n)``)."""
    return _atleast(2, tensors, "atleast_2d")


def atleast_3d(*tensors):
    """Each tensor with at least 3 dimensions (``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` -> ``(m, n, 1)``)."""
    return _atleast(3, tensors, "atleast_3d")


def hstack(tensors):
    """Concatenate column-wise: along axis 1, or axis 0 when the tensors are 1-D (PyTorch's ``hstack``)."""
    ts = _at_least(tensors, "hstack", 1)
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate row-wise (axis 0) after making 1-D tensors rows ``(1, n)`` (PyTorch's ``vstack``)."""
    return cat(_at_least(tensors, "vstack", 2), 0)


def dstack(tensors):
    """Concatenate depth-wise (axis 2) after making every tensor at least 3-D (PyTorch's ``dstack``)."""
    return cat(_at_least(tensors, "dstack", 3), 2)


def column_stack(tensors):
    """Stack as columns: 0-D and 1-D tensors become columns ``(n, 1)``, then ``hstack`` (PyTorch's)."""
    ts = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in _tensors(tensors, "column_stack")]
    return cat(ts, 1)


def tensor_split(x, indices_or_sections, axis=0, *, dim=None):
    """Cut ``x`` along ``axis`` into views (PyTorch's ``tensor_split``, NumPy's ``array_split``).

    An int ``n`` gives ``n`` pieces: the first ``len % n`` have ``len // n + 1`` elements and
    the rest ``len // n`` (so pieces may be empty). A list (or 1-D integer tensor) of indices
    cuts before each index: ``[1, 4]`` gives ``x[:1]``, ``x[1:4]``, ``x[4:]``.
    """
    if dim is not None:
        axis = dim
    ax = normalize_axis(axis, x.ndim, "tensor_split")
    if x.ndim == 0:
        raise ShapeError("tensor_split: expected a tensor with at least 1 dimension, got a 0-d tensor")
    n = x.shape[ax]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype.kind not in "iu" or spec.ndim > 1:
            raise DTypeError(
                f"tensor_split: a tensor indices_or_sections must be a 0-D or 1-D integer tensor, got "
                f"{spec.dtype} of shape {tuple(spec.shape)}"
            )
        spec = spec.tolist()
    lead = (slice(None),) * ax
    if isinstance(spec, (list, tuple)):
        bounds = [0] + [int(i) for i in spec] + [n]
        return tuple(x[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:]))
    sections = int(spec)
    if sections <= 0:
        raise ArgumentError(f"tensor_split: the number of sections must be a positive int, got {spec}")
    size, extra = divmod(n, sections)
    pieces, start = [], 0
    for i in range(sections):
        step = size + (1 if i < extra else 0)
        pieces.append(x[lead + (slice(start, start + step),)])
        start += step
    return tuple(pieces)


def _split_dir(x, spec, axis, op, min_ndim):
    if x.ndim < min_ndim:
        raise ShapeError(f"{op}: expects a tensor with at least {min_ndim} dimension(s), got shape {tuple(x.shape)}")
    if not isinstance(spec, (list, tuple, Tensor)):
        n, k = x.shape[axis], int(spec)
        if k <= 0 or n % k:
            raise ShapeError(
                f"{op}: dimension {axis} of shape {tuple(x.shape)} (size {n}) can't be split into {spec} equal parts"
            )
    return tensor_split(x, spec, axis)


def hsplit(x, indices_or_sections):
    """Split along columns: axis 1 (axis 0 for a 1-D tensor); an int must divide the size evenly."""
    return _split_dir(x, indices_or_sections, 0 if x.ndim == 1 else 1, "hsplit", 1)


def vsplit(x, indices_or_sections):
    """Split along rows (axis 0) of a tensor with at least 2 dimensions."""
    return _split_dir(x, indices_or_sections, 0, "vsplit", 2)


def dsplit(x, indices_or_sections):
    """Split along depth (axis 2) of a tensor with at least 3 dimensions."""
    return _split_dir(x, indices_or_sections, 2, "dsplit", 3)


# --- pad ---------------------------------------------------------------------------------------
class Pad(Op):
    """Constant padding: the input sits in the middle of a block of ``value``.

    The gradient is the middle block of the output gradient (a slice).
    """

    name = "pad"
    saves_values = False

    def forward(self, x):
        return self.xp.pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, g):
        key = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return g[key]

    backward_array = backward  # slicing reads the same on arrays and on Tensors


def _pad_widths(pad, ndim):
    """Per-axis (before, after) pairs from PyTorch's flat ``pad`` or NumPy's ``pad_width``.

    PyTorch's ``F.pad(x, (l, r))`` pads the LAST axis, ``(l, r, t, b)`` the last two, and so
    on, last axis first. NumPy's ``pad_width`` is a sequence of pairs, first axis first,
    one pair per axis (``((0, 0), (1, 2))``), or a single pair for every axis.
    """
    if isinstance(pad, int):
        return [(pad, pad)] * ndim
    pad = list(pad)
    if pad and all(isinstance(p, (tuple, list)) for p in pad):  # NumPy pad_width
        pairs = [tuple(int(v) for v in p) for p in pad]
        if any(len(p) != 2 for p in pairs):
            raise ArgumentError(f"pad: each pair of pad_width must be (before, after), got {pad}")
        if len(pairs) == 1:
            pairs = pairs * ndim
        if len(pairs) != ndim:
            raise ShapeError(f"pad: pad_width has {len(pairs)} pairs for a tensor of {ndim} dimensions")
        return pairs
    if len(pad) % 2:
        raise ShapeError(f"pad: the flat pad tuple must have an even length (before, after per axis), got {tuple(pad)}")
    if len(pad) // 2 > ndim:
        raise ShapeError(f"pad: {tuple(pad)} pads {len(pad) // 2} axes but the tensor has only {ndim}")
    widths = [(0, 0)] * ndim
    for k in range(len(pad) // 2):
        widths[ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    return widths


def _mode_index(n, lo, hi, mode, xp):
    """Source positions for padding one axis of length ``n`` with ``lo``/``hi`` extra elements."""
    pos = xp.arange(-lo, n + hi, dtype=_dt.int64)
    if mode == "replicate":
        return xp.clip(pos, 0, n - 1)
    if mode == "circular":
        return pos % n
    # reflect: mirror at the edges without repeating the edge element
    period = 2 * (n - 1)
    pos = pos % period if period else pos * 0
    return xp.where(pos >= n, period - pos, pos)


def pad(x, pad, mode="constant", value=0.0):
    """Pad ``x`` (PyTorch's ``F.pad``): ``pad=(left, right)`` pads the last axis,
    ``(left, right, top, bottom)`` the last two, and so on, last axis first.

    NumPy's ``pad_width`` form (a pair per axis, first axis first) is accepted too.
    Modes: ``"constant"`` (with ``value``), ``"reflect"``, ``"replicate"``, ``"circular"``;
    the last three work on any axis here. Widths must be non-negative (crop with slicing).
    """
    widths = _pad_widths(pad, x.ndim)
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ArgumentError(f"pad: negative padding {tuple(pad)} is not supported; crop with slicing instead")
    if mode == "constant":
        if all(lo == 0 and hi == 0 for lo, hi in widths):
            return x
        return Pad.apply(x, widths=tuple(widths), value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ArgumentError(f"pad: unknown mode {mode!r}; expected 'constant', 'reflect', 'replicate' or 'circular'")
    out = x
    for ax, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        n = x.shape[ax]
        if n == 0 or (mode == "reflect" and (lo >= n or hi >= n)) or (mode == "circular" and (lo > n or hi > n)):
            raise ShapeError(
                f"pad: {mode} padding of ({lo}, {hi}) is too large for axis {ax} of size {n} "
                f"(shape {tuple(x.shape)})"
            )
        idx = Tensor._make(_mode_index(n, lo, hi, mode, x.device.xp), x.device)
        out = out[(slice(None),) * ax + (idx,)]
    return out
