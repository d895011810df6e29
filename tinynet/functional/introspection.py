"""Questions about tensors and dtypes, and small tensor odds-and-ends of PyTorch's surface.

* dtypes: ``promote_types``, ``result_type``, ``can_cast`` (PyTorch's promotion, from
  ``_util``), ``finfo``/``iinfo`` (the limits of a float/integer dtype, as ``torch.finfo``);
* broadcasting: ``broadcast_shapes`` (shapes only) and ``broadcast_tensors`` (views made by
  the differentiable ``expand``);
* predicates: ``is_tensor``, ``is_floating_point``, ``is_nonzero``, ``equal``, ``numel``;
* construction: ``asarray`` (shares memory when it can, as ``torch.asarray``),
  ``scalar_tensor``, ``detach``;
* index arithmetic: ``unravel_index``, ``combinations`` (differentiable: a gather), ``diagflat``,
  ``rsub``; the Tensor methods ``put``/``put_``, ``fill_diagonal_``, ``sum_to_size``;
* the real-tensor faces of PyTorch's complex API: ``real``, ``imag`` (refused: real tensors
  have no imaginary part), ``conj``, ``is_conj``, ``resolve_conj``, ``resolve_neg``;
* the top-level forms of in-place methods (``tn.exp_(x)`` is ``x.exp_()``), made in one loop.
"""
from __future__ import annotations

import itertools
import numbers

from ..backend import get_device
from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from . import _util
from .elementwise import where
from .indexing import index_put, index_select
from .inplace import inplace
from .layout import diag
from .shape import expand

__all__ = [
    "asarray", "broadcast_shapes", "broadcast_tensors", "can_cast", "combinations", "conj", "conj_physical",
    "detach", "diagflat", "equal", "finfo", "iinfo", "imag", "is_conj", "is_floating_point", "is_nonzero",
    "is_tensor", "numel", "promote_types", "put", "real", "resolve_conj", "resolve_neg", "result_type", "rsub",
    "scalar_tensor", "unravel_index",
]


# --- dtypes ---------------------------------------------------------------------------------------
def _np_dtype(dtype, op):
    if isinstance(dtype, Tensor):
        raise DTypeError(f"{op}: expected a dtype (e.g. tn.float32), got a Tensor; pass `x.dtype`")
    return _dt.to_dtype(dtype)


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` convert to without losing their category
    (bool < integer < float), as ``torch.promote_types``: ``promote_types(tn.int64, tn.float16)``
    is float16 (a float keeps its own width against integers), ``(tn.uint8, tn.int8)`` is int16."""
    return _dt.wrap(_util.promote_types(_np_dtype(type1, "promote_types"), _np_dtype(type2, "promote_types")))


def result_type(tensor, other):
    """The dtype of an arithmetic op on ``tensor`` and ``other`` (Tensors or Python numbers), as
    ``torch.result_type``: dimensioned tensors decide, then 0-d tensors, then Python numbers, a
    lower group counting only when its category is higher (``int tensor + 2.5`` is the default float)."""
    for x in (tensor, other):
        if not isinstance(x, (Tensor, numbers.Number)):
            raise TypeError(f"result_type: expected Tensors or Python numbers, got {type(x).__name__}")
    return _dt.wrap(_util.result_type(tensor, other))


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def can_cast(from_, to):
    """True when PyTorch's in-place/out= casting allows ``from_`` to become ``to``: never to a
    lower category (float -> integer, integer -> bool), any width within or above it
    (``can_cast(tn.float64, tn.float16)`` is True), as ``torch.can_cast``."""
    a, b = _np_dtype(from_, "can_cast"), _np_dtype(to, "can_cast")
    return _CATEGORY[a.kind] <= _CATEGORY[b.kind]


_CPU_XP = None


def _host_xp():
    global _CPU_XP
    if _CPU_XP is None:
        _CPU_XP = get_device("cpu").xp
    return _CPU_XP


class finfo:
    """The limits of a floating dtype (``torch.finfo``): ``bits``, ``eps`` (the gap from 1 to the
    next float), ``max``, ``min`` (= -max), ``tiny`` = ``smallest_normal`` (the smallest positive
    normal number), ``resolution`` (10**-precision decimal digits) and ``dtype`` (its name).
    ``finfo()`` describes the default dtype."""

    def __init__(self, type=None):
        dt = _dt.to_dtype(type) if type is not None else _dt.get_default_dtype().dtype
        if dt.kind != "f":
            raise DTypeError(f"finfo: expected a floating dtype (tn.float16, tn.float32, tn.float64), got "
                             f"tinynet.{dt.name}; use tn.iinfo for integer dtypes")
        info = _host_xp().finfo(dt)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # exactly 1e-06 for float32, as torch
        self.dtype = dt.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The limits of an integer (or bool) dtype (``torch.iinfo``): ``bits``, ``max``, ``min`` and
    ``dtype`` (its name)."""

    def __init__(self, type):
        dt = _dt.to_dtype(type)
        if dt.kind == "b":
            self.bits, self.min, self.max = 8, 0, 1
        elif dt.kind in "iu":
            info = _host_xp().iinfo(dt)
            self.bits, self.min, self.max = int(info.bits), int(info.min), int(info.max)
        else:
            raise DTypeError(f"iinfo: expected an integer dtype (tn.int64, tn.uint8, ...), got tinynet.{dt.name}; "
                             "use tn.finfo for floating dtypes")
        self.dtype = dt.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# --- broadcasting ---------------------------------------------------------------------------------
def _shape_of(s, op):
    if isinstance(s, numbers.Integral):
        return (int(s),)
    if isinstance(s, Tensor):
        raise TypeError(f"{op}: expected shapes (tuples of ints), got a Tensor; pass `x.shape`")
    try:
        return tuple(int(n) for n in s)
    except TypeError:
        raise TypeError(f"{op}: expected shapes (tuples of ints), got {type(s).__name__}") from None


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to (``torch.broadcast_shapes``): trailing axes line up
    and must be equal or 1. Raises ShapeError naming the clashing shapes otherwise."""
    shapes = [_shape_of(s, "broadcast_shapes") for s in shapes]
    for s in shapes:
        if any(n < 0 for n in s):
            raise ShapeError(f"broadcast_shapes: shape {s} has a negative size")
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s):
            j = ndim - len(s) + i
            if n == out[j] or n == 1:
                continue
            if out[j] == 1:
                out[j] = n
            else:
                raise ShapeError(
                    f"broadcast_shapes: shapes {', '.join(str(tuple(t)) for t in shapes)} cannot be broadcast "
                    f"together (axis {j - ndim} has sizes {out[j]} and {n}; trailing axes must be equal or 1)")
    return tuple(out)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (``torch.broadcast_tensors``): views,
    differentiable (the gradient of each sums over the copies)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"broadcast_tensors: expected Tensors, got {type(t).__name__}")
    try:
        shape = broadcast_shapes(*(t.shape for t in tensors))
    except ShapeError:
        raise ShapeError(
            f"broadcast_tensors: shapes {', '.join(str(tuple(t.shape)) for t in tensors)} cannot be broadcast "
            "together (trailing axes must be equal or 1); reshape or unsqueeze them so they line up") from None
    return tuple(t if t.shape == shape else expand(t, *shape) for t in tensors)


# --- predicates -----------------------------------------------------------------------------------
def _tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def is_tensor(obj):
    """True when ``obj`` is a tinynet Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


def is_floating_point(input):
    """True for a tensor of a floating dtype (``torch.is_floating_point``)."""
    return _tensor(input, "is_floating_point").array.dtype.kind == "f"


def numel(input):
    """The number of elements of ``input`` (``torch.numel``)."""
    return _tensor(input, "numel").numel()


def is_nonzero(input):
    """The truth of a one-element tensor (``torch.is_nonzero``); more or fewer elements are
    ambiguous and raise RuntimeError, as in PyTorch."""
    arr = _tensor(input, "is_nonzero").array
    if arr.size == 0:
        raise RuntimeError("is_nonzero: Boolean value of Tensor with no values is ambiguous")
    if arr.size > 1:
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with more than one value is ambiguous "
                           f"(shape {tuple(arr.shape)}); reduce it first, e.g. `x.any()` or `x.all()`")
    return bool(arr.reshape(-1)[0])


def equal(input, other):
    """True when the two tensors have the same shape and values (``torch.equal``)."""
    return _tensor(input, "equal").equal(other)


def detach(input):
    """``input.detach()``: the same data, cut from the graph."""
    return _tensor(input, "detach").detach()


# --- construction ---------------------------------------------------------------------------------
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """A tensor from ``obj`` (Tensor, NumPy/CuPy array, DLPack producer, number or nested list),
    sharing memory when it can, as ``torch.asarray``: a Tensor or an array already of the asked
    dtype and device comes back without a copy (a Tensor itself, if nothing changes);
    ``copy=True`` always copies; ``copy=False`` raises when a copy is needed."""
    dev = get_device(device) if device is not None else None
    want = _dt.to_dtype(dtype)
    if isinstance(obj, Tensor):
        src = obj
        same = (want is None or src.array.dtype == want) and (dev is None or dev is src.device)
        if same and not copy:
            out = src
        elif copy is False:
            raise ArgumentError(f"asarray: copy=False but turning a {src.dtype} tensor on {src.device.type} into "
                                f"{want or src.array.dtype} on {(dev or src.device).type} needs a copy")
        else:
            out = Tensor(src.detach(), dtype=want, device=dev or src.device)
        if requires_grad:
            out = out.detach() if out is src else out
            out.requires_grad_(True)
        return out
    target = dev or get_device(None)
    host = target.xp.__name__ == "numpy"
    shares = (hasattr(obj, "__array_interface__") and host) or (hasattr(obj, "__cuda_array_interface__") and not host)
    if shares and not copy:
        arr = target.xp.asarray(obj)
        if want is None or arr.dtype == want:
            out = Tensor._make(arr, target)
            return out.requires_grad_(True) if requires_grad else out
    if copy is False:
        raise ArgumentError(f"asarray: copy=False but a {type(obj).__name__} can't be shared as a tensor of "
                            f"{want or 'its dtype'} on {target.type} (Python numbers and lists always need a copy); "
                            "allow a copy (copy=None)")
    return Tensor(obj, dtype=want, device=target, requires_grad=requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding the number ``s``, of the default float dtype unless ``dtype`` says
    otherwise (``torch.scalar_tensor``: even an int gives a float tensor)."""
    if isinstance(s, Tensor):
        s = s.item()
    if not isinstance(s, numbers.Number):
        raise TypeError(f"scalar_tensor: expected a number, got {type(s).__name__}")
    dt = _dt.to_dtype(dtype) or _dt.get_default_dtype().dtype
    return Tensor(s, dtype=dt, device=device, requires_grad=requires_grad)


def rsub(input, other, *, alpha=1):
    """``other - alpha * input`` (``torch.rsub``: subtraction with the operands reversed)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub: expected input to be a Tensor, got {type(input).__name__}")
    return other - (input * alpha if alpha != 1 else input)


# --- index arithmetic -----------------------------------------------------------------------------
def unravel_index(indices, shape):
    """The coordinates of flat ``indices`` in a tensor of ``shape`` (row-major), as a tuple of
    int64 tensors, one per axis (``torch.unravel_index``). Negative indices count from the end."""
    if isinstance(indices, Tensor):
        idx = indices
    elif isinstance(indices, numbers.Integral):
        idx = Tensor(int(indices), dtype=_dt.int64)
    else:
        idx = Tensor(indices, dtype=_dt.int64)
    if idx.array.dtype.kind not in "iu":
        raise DTypeError(f"unravel_index: expected integer indices, got {idx.dtype}")
    shape = _shape_of(shape, "unravel_index")
    if any(n < 0 for n in shape):
        raise ArgumentError(f"unravel_index: shape {shape} has a negative size")
    total = 1
    for n in shape:
        total *= n
    arr = idx.array.astype("int64")
    if arr.size and (bool((arr >= total).any()) or bool((arr < -total).any())):
        raise IndexError(f"unravel_index: an index is out of range for a tensor of shape {shape} "
                         f"({total} elements; indices must lie in [-{total}, {total}))")
    arr = arr % max(total, 1)
    out = []
    for n in reversed(shape):
        out.append(Tensor._make(arr % n if n else arr, idx.device))
        arr = arr // n if n else arr
    return tuple(reversed(out))


def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of a 1-D tensor's elements, as rows of an ``(k, r)`` tensor in
    ``itertools.combinations`` order (``with_replacement=True``: ``combinations_with_replacement``),
    as ``torch.combinations``. Differentiable: a gather of ``input``."""
    _tensor(input, "combinations")
    if input.ndim != 1:
        raise ShapeError(f"combinations: expected a 1-D tensor, got shape {tuple(input.shape)}; flatten it first")
    if not isinstance(r, numbers.Integral) or r < 0:
        raise ArgumentError(f"combinations: r must be a non-negative int, got {r!r}")
    n = input.shape[0]
    if r == 0:
        return input[:0]
    make = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(make(range(n), r))
    if not rows:
        return input[:0].reshape(0, r)
    xp = input.device.xp
    cols = xp.asarray([list(c) for c in rows], dtype="int64")
    flat = index_select(input, 0, Tensor._make(cols.reshape(-1), input.device))
    return flat.reshape(len(rows), r)


def diagflat(input, offset=0):
    """The flattened ``input`` laid on diagonal ``offset`` of a square matrix (``torch.diagflat``)."""
    return diag(_tensor(input, "diagflat").reshape(-1), offset)


def put(input, index, source, accumulate=False):
    """``input`` with ``source`` written at flat positions ``index`` of ``input`` seen as 1-D
    (``torch.put``; negative positions count from the end); ``accumulate=True`` adds instead,
    summing repeated positions. Differentiable in ``input`` and ``source``."""
    _tensor(input, "put")
    if not isinstance(index, Tensor) or index.array.dtype.kind not in "iu":
        raise TypeError(f"put: index must be an integer Tensor, got "
                        f"{index.dtype if isinstance(index, Tensor) else type(index).__name__}")
    if not isinstance(source, Tensor):
        source = _util.operand(source, input)
    if index.device is not input.device or source.device is not input.device:
        raise DeviceError(f"put: input is on {input.device.type}, index on {index.device.type}, source on "
                          f"{source.device.type}; move them to one device, e.g. `index.to('{input.device.type}')`")
    if index.numel() != source.numel():
        raise ShapeError(f"put: index has {index.numel()} elements but source has {source.numel()} "
                         f"(shapes {tuple(index.shape)} and {tuple(source.shape)}); they must match one to one")
    n = input.numel()
    idx = index.array.reshape(-1).astype("int64")
    if idx.size and (bool((idx >= n).any()) or bool((idx < -n).any())):
        raise IndexError(f"put: an index is out of range for a tensor of {n} elements (shape {tuple(input.shape)})")
    idx = Tensor._make(idx % max(n, 1), input.device)
    if source.dtype != input.dtype:
        source = source.to(input.dtype)
    flat = index_put(input.reshape(-1), (idx,), source.reshape(-1), accumulate)
    return flat.reshape(input.shape)


def _fill_diagonal(input, fill_value, wrap=False):
    """``input`` with its main diagonal set to ``fill_value`` (see ``Tensor.fill_diagonal_``)."""
    shape = input.shape
    if input.ndim < 2:
        raise ShapeError(f"fill_diagonal_: expected a tensor of at least 2 dimensions, got shape {tuple(shape)}")
    if input.ndim > 2 and len(set(shape)) != 1:
        raise ShapeError(f"fill_diagonal_: a tensor of more than 2 dimensions must have all sizes equal, "
                         f"got shape {tuple(shape)}")
    xp = input.device.xp
    n = input.numel()
    if input.ndim == 2:
        rows, cols = shape
        step = cols + 1
        end = n if wrap else min(rows, cols) * cols
    else:
        stride, step = 1, 0
        for size in reversed(shape):
            step += stride
            stride *= size
        end = n
    mask = xp.zeros(n, dtype=bool)
    mask[0:end:step] = True
    mask = Tensor._make(mask.reshape(shape), input.device)
    return where(mask, _util.operand(fill_value, input), input)


fill_diagonal_method = inplace(_fill_diagonal, "fill_diagonal_")
put_method = inplace(put, "put_")


def sum_to_size(self, *size):
    """``self`` summed down to ``size`` (a shape it broadcasts to ``self.shape`` from), as
    ``Tensor.sum_to_size``: the gradient of broadcasting, exposed."""
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = tuple(size[0])
    size = tuple(int(n) for n in size)
    try:
        ok = broadcast_shapes(size, self.shape) == tuple(self.shape) and len(size) <= self.ndim
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"sum_to_size: size {size} is not expandable to the tensor's shape {tuple(self.shape)} "
                         "(each axis of size must equal the tensor's or be 1)")
    return _util.unbroadcast(self, size)


def is_signed(self):
    """True for a signed dtype (floats and signed integers; not uint8 or bool)."""
    return self.array.dtype.kind in "fic"


def is_same_size(self, other):
    """True when ``other`` has this tensor's shape."""
    return tuple(self.shape) == tuple(_tensor(other, "is_same_size").shape)


def retains_grad(self):
    """True for a non-leaf tensor whose ``.grad`` is kept after backward (``retain_grad()``)."""
    fn = self.grad_fn
    ref = getattr(fn, "_retained", None) if fn is not None else None
    return ref is not None and ref() is self


# --- real-tensor faces of the complex API ---------------------------------------------------------
def real(input):
    """The real part: a real tensor itself (``torch.real``; tinynet has no complex dtypes)."""
    return _tensor(input, "real")


def imag(input):
    """The imaginary part, which real tensors lack: raises as ``torch.imag`` does for them."""
    _tensor(input, "imag")
    raise RuntimeError(f"imag is not implemented for tensors with non-complex dtypes ({input.dtype}); "
                       "tinynet tensors are real, so the imaginary part is zero: use `tn.zeros_like(x)`")


def conj(input):
    """The complex conjugate: a real tensor itself (``torch.conj`` on a real tensor)."""
    return _tensor(input, "conj")


def conj_physical(input):
    """The conjugate, materialized: for a real tensor, a differentiable copy (``torch.conj_physical``)."""
    return _tensor(input, "conj_physical").clone()


def is_conj(input):
    """False: a real tensor is never a lazily-conjugated view (``torch.is_conj``)."""
    _tensor(input, "is_conj")
    return False


def resolve_conj(input):
    """``input`` itself: there is no lazy conjugation to materialize for a real tensor."""
    return _tensor(input, "resolve_conj")


def resolve_neg(input):
    """``input`` itself: there is no lazy negation to materialize (``torch.resolve_neg``)."""
    return _tensor(input, "resolve_neg")


conj_physical_method = inplace(conj_physical, "conj_physical_")


# --- the top-level forms of in-place methods ------------------------------------------------------
#: Every ``torch.<name>_`` function that exists as a Tensor method: ``tn.<name>_(x, *args)`` calls
#: ``x.<name>_(*args)`` (bound by methods.py; tests check each is a Tensor method).
INPLACE_FUNCTIONS = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_", "asin_",
    "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "conj_physical_",
    "cos_", "cosh_", "deg2rad_", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_",
    "floor_", "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_",
    "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "round_", "rsqrt_", "sigmoid_",
    "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_",
)


def _inplace_function(name):
    def fn(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``tn.{name}(x, *args)`` is ``x.{name}(*args)``: the in-place method as a function."
    return fn


for _name in INPLACE_FUNCTIONS:
    globals()[_name] = _inplace_function(_name)
    __all__.append(_name)
del _name
