"""Layout ops: moving, copying and picking elements without arithmetic.

``repeat``/``tile``/``repeat_interleave`` (copies), ``flip``/``roll``/``rot90`` (reordering),
``narrow``/``select``/``unbind``/``diagonal`` (picking), ``unflatten``/``movedim`` (reshaping),
``diag``/``diag_embed`` (placing values on a diagonal), ``meshgrid``/``cartesian_prod``, and the
PyTorch conveniences ``t``, ``view_as``, ``expand_as``, ``reshape_as``, ``type_as`` and
``new_zeros``/``new_ones``/``new_full``/``new_empty``/``new_tensor``.

Every differentiable op here is a composition of the differentiable shape and indexing ops
(``reshape``, ``expand``, ``permute``, basic and advanced indexing, ``cat``, ``pad``), so the
gradients come from theirs: a copy's gradient adds up the copies (``expand`` sums over the
broadcast axes), a reordering's gradient applies the inverse order, a pick's gradient puts
the gradient back where the element came from (a scatter-add). Ops PyTorch returns as views
(``narrow``, ``select``, ``unbind``) are views here too; ``flip`` is a copy (its own op, as
PyTorch has no negative strides) and ``diagonal`` is a copy (an advanced index).
"""
from __future__ import annotations

import math
import numbers

from ..backend import get_device
from ..autograd.op import Op
from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..tensor import creation as _creation
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from . import conversion
from ._util import normalize_axis
from .join import cat, pad, stack
from .shape import _shape_arg, permute, reshape

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "block_diag", "cartesian_prod", "channels_last", "clone", "contiguous_format", "diag", "diag_embed", "diagonal",
    "expand_as", "flip", "fliplr", "flipud", "meshgrid", "moveaxis", "movedim", "narrow", "narrow_copy", "new_empty",
    "new_full", "new_ones", "new_tensor", "new_zeros", "preserve_format", "repeat", "repeat_interleave",
    "reshape_as", "roll", "rot90", "select", "t", "tile", "type_as", "unbind", "unflatten", "view_as",
]

#: ``memory_format=`` values of ``clone`` (PyTorch's ``torch.preserve_format`` and friends).
preserve_format = "preserve_format"
contiguous_format = "contiguous_format"
channels_last = "channels_last"
_FORMATS = (preserve_format, contiguous_format, channels_last)


def _check_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def _dims(dims, op) -> tuple:
    """An int or a sequence of ints as a tuple of ints."""
    if isinstance(dims, numbers.Integral):
        return (int(dims),)
    if isinstance(dims, (tuple, list)):
        return tuple(int(d) for d in dims)
    raise TypeError(f"{op}: dims must be an int or a tuple of ints, got {type(dims).__name__}")


def _axis_key(ndim, axis, part):
    """An index key that applies ``part`` (a slice or int) to axis ``axis`` only."""
    return (slice(None),) * axis + (part,) + (slice(None),) * (ndim - axis - 1)


# --- copies ------------------------------------------------------------------------------------
def repeat(input, *sizes):
    """Repeat the whole tensor ``sizes[i]`` times along axis i (PyTorch's ``Tensor.repeat``).

    ``sizes`` may have more entries than ``input`` has axes (new leading axes), never fewer.
    Built as reshape to ``(1, s0, 1, s1, ...)``, expand to ``(r0, s0, r1, s1, ...)``, reshape to
    ``(r0*s0, r1*s1, ...)``: the gradient sums over the copies (expand's unbroadcast).
    """
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise ShapeError(
            f"repeat: the number of repeats ({len(sizes)}: {sizes}) can't be smaller than the number of "
            f"dimensions of the tensor ({input.ndim}, shape {tuple(input.shape)}); use tile for fewer"
        )
    if any(r < 0 for r in sizes):
        raise ArgumentError(f"repeat: repeats must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - input.ndim) + tuple(input.shape)
    paired = tuple(v for n in shape for v in (1, n))
    target = tuple(v for r, n in zip(sizes, shape) for v in (r, n))
    return input.reshape(paired).expand(*target).reshape(tuple(r * n for r, n in zip(sizes, shape)))


def tile(input, dims):
    """Repeat the tensor ``dims[i]`` times along axis i; missing leading repeats count as 1
    (PyTorch's ``tile``: ``repeat`` that also accepts fewer repeats than axes)."""
    dims = _dims(dims, "tile")
    dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, *dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, in place order.

    ``repeats`` is an int or a 1-D integer tensor with one count per slice (or one count for
    all). With ``dim=None`` the input is flattened first. ``output_size`` (the total length
    along ``dim``) is checked against the repeats when given. ``repeat_interleave(r)`` with a
    single integer tensor ``r`` gives ``arange(len(r))`` with element i repeated ``r[i]``
    times, as in PyTorch.
    """
    if repeats is None:
        if not isinstance(input, Tensor) or input.dtype.kind not in "iu" or input.ndim > 1:
            raise DTypeError("repeat_interleave: with one argument, it must be a 0-D or 1-D integer tensor of repeats")
        counts = input.reshape(-1)
        idx = _creation.arange(counts.shape[0], device=input.device)
        return repeat_interleave(idx, counts, 0, output_size=output_size)
    _check_tensor(input, "repeat_interleave")
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    d = normalize_axis(dim, input.ndim, "repeat_interleave")
    if input.ndim == 0:
        input = input.reshape(1)
    n = input.shape[d]
    xp = input.device.xp
    if isinstance(repeats, Tensor):
        if repeats.dtype.kind not in "iu" or repeats.ndim > 1:
            raise DTypeError(
                f"repeat_interleave: repeats must be an int or a 0-D/1-D integer tensor, got {repeats.dtype} "
                f"of shape {tuple(repeats.shape)}"
            )
        counts = repeats.array.reshape(-1)
        if repeats.device is not input.device:
            counts = input.device.from_host(repeats.device.to_host(counts))
        if counts.shape[0] == 1:
            counts = xp.full((n,), int(counts[0]), dtype=_dt.int64)
        elif counts.shape[0] != n:
            raise ShapeError(
                f"repeat_interleave: repeats has {counts.shape[0]} entries but dimension {d} of the input "
                f"(shape {tuple(input.shape)}) has {n}; give one count per slice, or a single count"
            )
        if counts.size and int(counts.min()) < 0:
            raise ArgumentError("repeat_interleave: repeats must be non-negative")
        total = int(counts.sum())
    else:
        if not isinstance(repeats, numbers.Integral):
            raise TypeError(f"repeat_interleave: repeats must be an int or an integer tensor, got {type(repeats).__name__}")
        r = int(repeats)
        if r < 0:
            raise ArgumentError(f"repeat_interleave: repeats must be non-negative, got {repeats}")
        counts = None
        total = n * r
    if output_size is not None and int(output_size) != total:
        raise ShapeError(
            f"repeat_interleave: output_size={output_size} but the repeats give {total} elements along dimension {d}"
        )
    if counts is None:
        shape = tuple(input.shape)
        x = input.unsqueeze(d + 1).expand(*(shape[:d + 1] + (r,) + shape[d + 1:]))
        return x.reshape(shape[:d] + (total,) + shape[d + 1:])
    index = xp.repeat(xp.arange(n, dtype=_dt.int64), counts.astype(_dt.int64))
    return input[_axis_key(input.ndim, d, Tensor._make(index, input.device))]


# --- reordering --------------------------------------------------------------------------------
class Flip(Op):
    """Reverse the order of elements along ``axes`` (a copy, as in PyTorch); its own inverse,
    so the gradient is the output gradient flipped back."""

    name = "flip"
    saves_values = False

    def forward(self, x):
        return self.xp.flip(x, self.axes).copy()  # (a C-ordered copy; keeps 0-d arrays 0-d)

    def backward(self, g):
        return Flip.apply(g, axes=self.axes)

    def backward_array(self, g):
        return self.xp.flip(g, self.axes).copy()


def flip(input, dims):
    """Reverse the order of elements along each axis in ``dims`` (a copy)."""
    axes = normalize_axis(_dims(dims, "flip"), input.ndim, "flip")
    if len(set(axes)) != len(axes):
        raise ShapeError(f"flip: dims {tuple(dims)} repeat an axis")
    return Flip.apply(input, axes=axes)


def fliplr(input):
    """Reverse the columns (axis 1); the tensor needs at least 2 dimensions."""
    if input.ndim < 2:
        raise ShapeError(f"fliplr: input must have at least 2 dimensions, got shape {tuple(input.shape)}")
    return flip(input, 1)


def flipud(input):
    """Reverse the rows (axis 0); the tensor needs at least 1 dimension."""
    if input.ndim < 1:
        raise ShapeError("flipud: input must have at least 1 dimension, got a 0-d tensor")
    return flip(input, 0)


def roll(input, shifts, dims=None):
    """Shift elements cyclically: ``out[(i + shift) % n] = x[i]`` along each axis of ``dims``.

    ``dims=None`` rolls the flattened tensor and restores the shape. ``shifts`` and ``dims``
    may be tuples of equal length (one shift per axis). Built from two slices and ``cat``.
    """
    shifts = _dims(shifts, "roll")
    if dims is None:
        if len(shifts) != 1:
            raise ShapeError(f"roll: with dims=None, shifts must be a single int, got {shifts}")
        return roll(input.reshape(-1), shifts, 0).reshape(input.shape)
    dims = _dims(dims, "roll")
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    out = input
    for s, d in zip(shifts, dims):
        d = normalize_axis(d, input.ndim, "roll")
        n = input.shape[d]
        s = s % n if n else 0
        if s == 0:
            continue
        out = cat([out[_axis_key(out.ndim, d, slice(n - s, None))], out[_axis_key(out.ndim, d, slice(0, n - s))]], d)
    return out if out is not input else conversion.clone(input)  # a new tensor, as in PyTorch


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first axis toward the second."""
    dims = _dims(dims, "rot90")
    if len(dims) != 2:
        raise ShapeError(f"rot90: dims must name exactly two axes, got {dims}")
    if input.ndim < 2:
        raise ShapeError(f"rot90: input must have at least 2 dimensions, got shape {tuple(input.shape)}")
    d0, d1 = normalize_axis(dims, input.ndim, "rot90")
    if d0 == d1:
        raise ShapeError(f"rot90: the two dims must differ, got {dims}")
    k = int(k) % 4
    if k == 1:
        return flip(input, d1).swapaxes(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(input, d0).swapaxes(d0, d1)
    return conversion.clone(input)  # k = 0: a new tensor, as in PyTorch


def movedim(input, source, destination):
    """Move axes ``source`` to positions ``destination`` (ints or tuples of equal length); the
    other axes keep their order."""
    src = _dims(source, "movedim")
    dst = _dims(destination, "movedim")
    if len(src) != len(dst):
        raise ShapeError(f"movedim: source {src} and destination {dst} must have the same number of dims")
    nd = input.ndim
    src = normalize_axis(src, nd, "movedim")
    dst = normalize_axis(dst, nd, "movedim")
    if nd == 0:  # dims 0 / -1 of a 0-d tensor name the tensor itself (PyTorch)
        return input
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError(f"movedim: repeated dim in source {source} or destination {destination}")
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(a for a in range(nd) if a not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(input, *order)


moveaxis = movedim


def unflatten(input, dim, sizes):
    """Split axis ``dim`` into the axes ``sizes`` (one may be -1), the inverse of ``flatten``."""
    d = normalize_axis(dim, input.ndim, "unflatten")
    sizes = _dims(sizes, "unflatten")
    if not sizes:
        raise ShapeError("unflatten: sizes must be non-empty")
    known = math.prod(s for s in sizes if s != -1)
    n = input.shape[d]
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
        raise ShapeError(
            f"unflatten: sizes {sizes} don't multiply to {n}, the size of dimension {d} of shape {tuple(input.shape)}"
        )
    if -1 in sizes:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(input, tuple(input.shape[:d]) + sizes + tuple(input.shape[d + 1:]))


# --- picking -----------------------------------------------------------------------------------
def narrow(input, dim, start, length):
    """The ``length`` elements from ``start`` along ``dim``: a view (``start`` may be negative)."""
    d = normalize_axis(dim, input.ndim, "narrow")
    n = input.shape[d]
    start = int(start.item()) if isinstance(start, Tensor) else int(start)
    length = int(length)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dimension {d} of size {n}")
    start %= n if n else 1
    if length < 0 or start + length > n:
        raise IndexError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {n} (shape {tuple(input.shape)})"
        )
    return input[_axis_key(input.ndim, d, slice(start, start + length))]


def narrow_copy(input, dim, start, length):
    """:func:`narrow` as a new tensor (its own memory) rather than a view."""
    return conversion.clone(narrow(input, dim, start, length))


def select(input, dim, index):
    """The slice at ``index`` along ``dim``, with that axis removed (``x[:, index]`` for dim 1): a view."""
    d = normalize_axis(dim, input.ndim, "select")
    if input.ndim == 0:
        raise IndexError("select: can't select from a 0-d tensor")
    n = input.shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dimension {d} of size {n}")
    return input[_axis_key(input.ndim, d, index % n)]


def unbind(input, dim=0):
    """A tuple of every slice along ``dim`` (each a view without that axis)."""
    d = normalize_axis(dim, input.ndim, "unbind")
    if input.ndim == 0:
        raise IndexError("unbind: can't unbind a 0-d tensor")
    return tuple(input[_axis_key(input.ndim, d, i)] for i in range(input.shape[d]))


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal ``x[..., i, i + offset]`` of the planes spanned by ``dim1`` and ``dim2``.

    Those two axes are removed and the diagonal becomes the last axis (PyTorch's order). An
    offset beyond the plane gives an empty diagonal. A copy (an advanced index) whose
    gradient puts the values back on the diagonal of a zero tensor.
    """
    if input.ndim < 2:
        raise ShapeError(f"diagonal: input must have at least 2 dimensions, got shape {tuple(input.shape)}")
    d1 = normalize_axis(dim1, input.ndim, "diagonal")
    d2 = normalize_axis(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise ShapeError(f"diagonal: dim1 and dim2 must be different axes, both are {d1}")
    x = movedim(input, (d1, d2), (-2, -1))
    rows, cols = x.shape[-2], x.shape[-1]
    offset = int(offset)
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    xp = input.device.xp
    i = xp.arange(length, dtype=_dt.int64)
    r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
    dev = input.device
    return x[(Ellipsis, Tensor._make(r, dev), Tensor._make(c, dev))]


_diagonal = diagonal  # (diag's argument is named ``diagonal``, as in PyTorch)


def _eye_like(x, n):
    return _creation.eye(n, dtype=x.dtype, device=x.device)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices whose diagonal (``offset``) holds the last axis of ``input``.

    ``dim1``/``dim2`` are the axes of the *result* that span each matrix (default the last
    two). Built as ``x[..., None] * eye(n)``, padded for the offset, then the two new axes
    moved: the gradient is the diagonal of the incoming gradient.
    """
    if input.ndim < 1:
        raise ShapeError("diag_embed: input must have at least 1 dimension, got a 0-d tensor")
    nd = input.ndim + 1
    d1 = normalize_axis(dim1, nd, "diag_embed")
    d2 = normalize_axis(dim2, nd, "diag_embed")
    if d1 == d2:
        raise ShapeError(f"diag_embed: dim1 and dim2 must be different axes, both are {d1}")
    n = input.shape[-1]
    m = input.unsqueeze(-1) * _eye_like(input, n)
    k = abs(int(offset))
    if k:
        m = pad(m, (k, 0, 0, k) if offset > 0 else (0, k, k, 0))
    return movedim(m, (-2, -1), (d1, d2))


def diag(input, diagonal=0):
    """1-D input: the square matrix with ``input`` on diagonal ``diagonal`` (0 elsewhere);
    2-D input: its diagonal ``diagonal`` as a 1-D tensor (PyTorch's ``diag``)."""
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return _diagonal(input, diagonal)
    raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(input.shape)}; use diagonal or diag_embed")


def block_diag(*tensors):
    """The block-diagonal matrix with the given tensors (0-D, 1-D rows or 2-D) along its diagonal
    and zeros elsewhere (PyTorch's ``block_diag``); each block is padded and the rows joined."""
    tensors = _tensor_list(tensors, "block_diag")
    if not tensors:
        raise ArgumentError("block_diag: expected at least one tensor")
    blocks = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise ShapeError(f"block_diag: expected 0-D, 1-D or 2-D tensors, but tensor {i} has shape {tuple(t.shape)}")
        blocks.append(t.reshape(1, -1) if t.ndim < 2 else t)
    dtype = blocks[0].dtype
    for b in blocks[1:]:
        if b.dtype != dtype:
            raise DTypeError(f"block_diag: expects tensors of one dtype, got {dtype} and {b.dtype}; convert them first")
    total = sum(b.shape[1] for b in blocks)
    rows, before = [], 0
    for b in blocks:
        after = total - before - b.shape[1]
        rows.append(pad(b, (before, after)))
        before += b.shape[1]
    return cat(rows, 0)


# --- grids -------------------------------------------------------------------------------------
def _tensor_list(tensors, op):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: argument {i} is a {type(t).__name__}, not a Tensor")
    return tensors


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors: output i varies along axis i (``indexing='ij'``);
    ``'xy'`` swaps the first two axes (Cartesian/MATLAB order). Inputs may be 0-D (one point).

    Each output is its input reshaped and expanded (a read-only broadcast view).
    """
    tensors = _tensor_list(tensors, "meshgrid")
    if indexing not in ("ij", "xy"):
        raise ArgumentError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors:
        return ()
    for i, t in enumerate(tensors):
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: expected 0-D or 1-D tensors, but tensor {i} has shape {tuple(t.shape)}")
        if t.dtype != tensors[0].dtype or t.device is not tensors[0].device:
            raise DTypeError(
                f"meshgrid: expects all tensors to have the same dtype and device, got {tensors[0].dtype} on "
                f"{tensors[0].device.type} and {t.dtype} on {t.device.type} (tensor {i})"
            )
    sizes = [t.reshape(-1).shape[0] for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    order = list(range(len(tensors)))
    if swap:
        order[0], order[1] = 1, 0
    shape = tuple(sizes[o] for o in order)
    out = []
    for i, t in enumerate(tensors):
        pos = order.index(i)
        view = [1] * len(tensors)
        view[pos] = sizes[i]
        out.append(t.reshape(tuple(view)).expand(*shape))
    return tuple(out)


def cartesian_prod(*tensors):
    """Every combination of one element from each 1-D tensor, as rows of a ``(N, k)`` tensor
    (``itertools.product`` order); one tensor comes back as itself."""
    tensors = _tensor_list(tensors, "cartesian_prod")
    if not tensors:
        raise ArgumentError("cartesian_prod: expected at least one tensor")
    for i, t in enumerate(tensors):
        if t.ndim != 1:
            raise ShapeError(f"cartesian_prod: expected 1-D tensors, but tensor {i} has shape {tuple(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


# --- PyTorch conveniences ----------------------------------------------------------------------
def t(input):
    """Transpose a matrix (0-D and 1-D tensors come back as they are); more axes is an error."""
    if input.ndim > 2:
        raise ShapeError(
            f"t: expects a tensor with at most 2 dimensions, got shape {tuple(input.shape)}; "
            "use transpose(dim0, dim1) or mT for batches of matrices"
        )
    return input.swapaxes(0, 1) if input.ndim == 2 else input


def view_as(input, other):
    """``input`` reshaped to ``other``'s shape."""
    _check_tensor(other, "view_as")
    return reshape(input, tuple(other.shape))


def reshape_as(input, other):
    """``input`` reshaped to ``other``'s shape."""
    _check_tensor(other, "reshape_as")
    return reshape(input, tuple(other.shape))


def expand_as(input, other):
    """``input`` broadcast to ``other``'s shape."""
    _check_tensor(other, "expand_as")
    return input.expand(tuple(other.shape))


def type_as(input, other):
    """``input`` converted to ``other``'s dtype (differentiable for float targets)."""
    _check_tensor(other, "type_as")
    return conversion.to(input, dtype=other.dtype)


def clone(input, *, memory_format=preserve_format):
    """A copy with its own memory (differentiable).

    ``memory_format`` is PyTorch's: ``preserve_format`` (default) and ``contiguous_format``
    give a C-contiguous copy; ``channels_last`` (4-D only) gives a copy laid out as NHWC in
    memory (values and shape unchanged; the strides differ).
    """
    if memory_format is None:
        memory_format = preserve_format
    if memory_format not in _FORMATS:
        raise ArgumentError(f"clone: unknown memory_format {memory_format!r}; expected one of {_FORMATS}")
    out = conversion.clone(input)
    if memory_format == channels_last:
        if input.ndim != 4:
            raise ShapeError(f"clone: memory_format=channels_last needs a 4-D tensor, got shape {tuple(input.shape)}")
        xp = input.device.xp
        out.array = xp.ascontiguousarray(out.array.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        if out.grad_fn is not None:
            out.grad_fn.out = out.array
    return out


def _new(maker, self, size, dtype, device, requires_grad, *extra):
    size = _shape_arg(size)
    dtype = self.dtype if dtype is None else dtype
    device = self.device if device is None else get_device(device)
    return maker(size, *extra, dtype=dtype, device=device, requires_grad=requires_grad)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros of ``size``, with ``self``'s dtype and device unless given."""
    return _new(_creation.zeros, self, size, dtype, device, requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones of ``size``, with ``self``'s dtype and device unless given."""
    return _new(_creation.ones, self, size, dtype, device, requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    """An uninitialized tensor of ``size``, with ``self``'s dtype and device unless given."""
    return _new(_creation.empty, self, size, dtype, device, requires_grad)


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value``, with ``self``'s dtype and device unless given."""
    return _new(_creation.full, self, (size,), dtype, device, requires_grad, fill_value)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a list, array or Tensor; never shared), with
    ``self``'s dtype and device unless given; it has no history (a leaf)."""
    if isinstance(data, Tensor):
        data = data.detach()
    dtype = self.dtype if dtype is None else dtype
    device = self.device if device is None else device
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
