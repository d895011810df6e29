"""Indexing and masking: ``x[key]``, ``x[key] = v``, ``index_put``, masks, ``gather``, triangles.

``x[key]`` follows **PyTorch's** rules, which differ from NumPy's in one place: an integer
(a Python int or a 0-d integer tensor) is a *basic* index in PyTorch (it selects and drops
the axis, like ``x.select(dim, i)``), while NumPy counts it as an advanced index when the
key also holds an array. So ``x[0, :, idx]`` (``x`` of shape ``(2, 3, 4)``, ``idx`` of 2
elements) has shape ``(3, 2)`` in PyTorch and ``(2, 3)`` in NumPy. tinynet applies a key in
two steps, as PyTorch does:

1. the *basic* part (ints, slices with a positive step, ``None``, ``...``, and Python bools,
   which add an axis of size 1) gives a view; the places of the advanced parts stay full
   slices;
2. the *advanced* part (integer tensors, arrays and lists, boolean masks) is then applied
   to that view with the array library's rule, which from here on agrees with PyTorch's:
   the index arrays broadcast together, and their result axes go where the first of them
   stood when they are adjacent, or to the front when slices separate them.

Other PyTorch rules kept here: index tensors must be int64, int32, bool (or uint8, a deprecated mask);
a list that holds a sequence, a tensor, a slice, ``None`` or ``...`` (and has fewer than 32
items) is read as a tuple of indices (``x[[[0, 1], [1, 0]]]`` is ``x[[0, 1], [1, 0]]``, as in
torch 2.13, with the same deprecation warning); other lists and tuples inside a key become
index tensors. One difference remains: a negative slice step (``x[::-1]``) gives a reversed
view, as in NumPy, where PyTorch raises ``ValueError`` (use ``tn.flip`` for portable code).

The gradient of picking elements is putting the output gradient back where the elements
came from, adding where one element was picked several times (a scatter-add,
:class:`IndexBackward`). That scatter-add is itself differentiable: its gradient is picking
``key`` again, so second-order gradients come free. Repeated indices are accumulated with
``xp.bincount`` over flat element numbers, which behaves the same on NumPy and CuPy
(``out[key] += g`` would keep only one of the repeats).

Writing (``x[key] = v``, ``index_put``, ``masked_fill``, ``masked_scatter``, ``index_fill``)
goes through one op, :class:`IndexPut`: ``out = x.clone(); out[key] = v`` (or ``+= v`` with
``accumulate=True``). Its gradient is ``g`` with the overwritten places zeroed for ``x``
(all of ``g`` when accumulating) and ``g[key]`` (summed over broadcasting) for ``v``.
``x[key] = v`` is the in-place form (:func:`tinynet.functional.inplace.assign`): inside the
graph ``x`` is rebased on the ``IndexPut`` node; with nothing to record the values are written
straight into ``x``'s array, so views of ``x`` see them.
"""
from __future__ import annotations

import math
import numbers
import warnings

from ..autograd.grad_mode import STATE
from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..autograd.op import Op
from ..backend import get_device
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from ._util import normalize_axis, unbroadcast, unbroadcast_array
from .elementwise import where
from .inplace import assign, inplace

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "argwhere", "gather", "getitem", "index_fill", "index_put", "index_select", "isin", "masked_fill",
    "masked_scatter", "masked_select", "nonzero", "take", "take_along_dim", "tril", "tril_indices",
    "triu", "triu_indices",
]


# --- keys ----------------------------------------------------------------------------------
class TwoStep:
    """A PyTorch-ordered key: ``x[basic][adv]`` (``basic`` is a tuple of ints, slices and ``None``;
    ``adv`` a NumPy advanced key made of full slices and index arrays/masks)."""

    __slots__ = ("basic", "adv")

    def __init__(self, basic, adv):
        self.basic, self.adv = basic, adv

    def __repr__(self):
        return f"TwoStep({_show(self.basic)}, {_show(self.adv)})"


def _is_array(p):
    return hasattr(p, "dtype") and hasattr(p, "shape") and not isinstance(p, Tensor)


def _treat_as_tuple(seq) -> bool:
    """PyTorch's rule (``treatSequenceAsTuple``) for a list used as a whole key."""
    if len(seq) >= 32:
        return False
    return any(isinstance(p, (Tensor, list, tuple, slice)) or p is None or p is Ellipsis for p in seq)


_FLAG_TRUE = object()   # markers for a Python bool / 0-d bool tensor: adds an axis of size 1 (True)
_FLAG_FALSE = object()  # or of size 0 (False)


def _part(p, device, op):
    """One element of a key in canonical form: int, slice, None, Ellipsis, a bool flag, or an
    index array / mask on ``device``."""
    if type(p) is int or p is None or p is Ellipsis:
        return p
    if isinstance(p, bool):
        return _FLAG_TRUE if p else _FLAG_FALSE
    if isinstance(p, slice):
        if p.step is not None:
            step = int(p.step.item()) if isinstance(p.step, Tensor) else p.step.__index__()
            if step == 0:
                raise ArgumentError(f"{op}: slice step cannot be zero")
        fix = [int(v.item()) if isinstance(v, Tensor) else v for v in (p.start, p.stop, p.step)]
        return slice(*fix)
    if isinstance(p, Tensor):
        arr = p.array
        if p.device is not device:
            arr = device.from_host(p.device.to_host(arr))
        return _array_part(arr, op, tensor=True)
    if isinstance(p, (list, tuple, range)) or _is_array(p):
        try:
            arr = device.xp.asarray(p)
        except (ValueError, TypeError):
            raise IndexError(f"{op}: a ragged or mixed list can't be an index: {p!r}") from None
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(_dt.int64)  # x[[]] picks nothing
        if arr.dtype.kind == "O":
            raise IndexError(f"{op}: a ragged or mixed list can't be an index: {p!r}")
        return _array_part(arr, op, tensor=False)
    if isinstance(p, numbers.Integral) or hasattr(p, "__index__") and not isinstance(p, float):
        try:
            return p.__index__()
        except (TypeError, AttributeError):
            pass
    if isinstance(p, float):
        raise IndexError(
            f"{op}: a float ({p}) cannot be an index; only integers, slices (`:`), ellipsis (`...`), None and long, "
            "int or bool tensors are valid indices: use an int"
        )
    raise IndexError(
        f"{op}: unsupported index {p!r} of type {type(p).__name__}; only integers, slices (`:`), ellipsis (`...`), "
        "None and long, int or bool tensors are valid indices"
    )


def _array_part(arr, op, tensor):
    dt = arr.dtype
    kind, size = dt.kind, dt.itemsize
    if kind == "b" or (kind == "u" and size == 1):
        if kind == "u":
            warnings.warn(f"{op}: indexing with dtype uint8 is deprecated (as in PyTorch), please use a bool "
                          "mask instead", UserWarning, stacklevel=4)
            arr = arr.astype(bool)
        if arr.ndim == 0:
            return _FLAG_TRUE if bool(arr) else _FLAG_FALSE
        return arr
    if not (kind == "i" and size in (4, 8)) and not (not tensor and kind in "iu"):
        raise IndexError(
            f"{op}: tensors used as indices must be integer or bool, got {arr.dtype}: long (int64), int (int32) or "
            "bool tensors are accepted; convert with .long() or compare to get a mask"
        )
    if arr.ndim == 0:
        return int(arr.item())  # a 0-d integer tensor is an int, as in PyTorch (it selects)
    return arr if kind == "i" and size == 8 else arr.astype(_dt.int64)


def _key_parts(key, device, op):
    if isinstance(key, tuple):
        parts = key
    elif isinstance(key, list) and _treat_as_tuple(key):
        warnings.warn(
            "Using a non-tuple sequence for multidimensional indexing is deprecated (PyTorch 2.13 reads it as a "
            "tuple, and so does tinynet); use x[tuple(seq)] instead of x[seq]", UserWarning, stacklevel=4)
        parts = tuple(key)
    else:
        parts = (key,)
    return [_part(p, device, op) for p in parts]


def torch_key(key, shape, device, op="getitem"):
    """The key ``key`` for a tensor of ``shape``, checked, in the form the ops run:

    a plain tuple of ints/slices/``None`` when it is basic (a view), else a :class:`TwoStep`.
    Raises IndexError naming the op, the shape and the key on any bad part.
    """
    ndim = len(shape)
    if type(key) is int and ndim:  # the common x[i]: no parsing
        if not -shape[0] <= key < shape[0]:
            raise _out_of_range(op, key, 0, shape[0], shape, [key])
        return (key,)
    parts = _key_parts(key, device, op)
    if sum(p is Ellipsis for p in parts) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...'), got the key {_show(parts)}")
    consumed = 0
    for p in parts:
        if p is None or p is Ellipsis or p is _FLAG_TRUE or p is _FLAG_FALSE:
            continue
        consumed += p.ndim if _is_array(p) and p.dtype.kind == "b" else 1
    if consumed > ndim:
        raise IndexError(
            f"{op}: too many indices for a tensor of shape {tuple(shape)} (dimension {ndim}): the key "
            f"{_show(parts)} indexes {consumed} dimensions"
        )
    xp = device.xp
    basic, adv, d, has_adv = [], [], 0, False
    full = slice(None)
    for p in parts:
        if p is None:
            basic.append(None)
            adv.append(full)
        elif p is Ellipsis:
            n = ndim - consumed
            basic += [full] * n
            adv += [full] * n
            d += n
        elif p is _FLAG_TRUE or p is _FLAG_FALSE:
            basic.append(None)
            adv.append(xp.zeros(1 if p is _FLAG_TRUE else 0, dtype=_dt.int64))
            has_adv = True
        elif isinstance(p, slice):
            basic.append(p)
            adv.append(full)
            d += 1
        elif isinstance(p, int):
            n = shape[d]
            if not -n <= p < n:
                raise _out_of_range(op, p, d, n, shape, parts)
            basic.append(p)
            d += 1
        elif p.dtype.kind == "b":
            k = p.ndim
            if tuple(p.shape) != tuple(shape[d:d + k]):
                raise IndexError(
                    f"{op}: boolean mask of shape {tuple(p.shape)} does not match the tensor's shape {tuple(shape)} "
                    f"at dimensions {d}..{d + k - 1}; a mask must have the shape of the dimensions it selects from"
                )
            basic += [full] * k
            adv.append(p)
            has_adv = True
            d += k
        else:
            n = shape[d]
            if p.size:
                lo, hi = int(p.min()), int(p.max())
                bad = hi if hi >= n else (lo if lo < -n else None)
                if bad is not None:
                    raise _out_of_range(op, bad, d, n, shape, parts)
            basic.append(full)
            adv.append(p)
            has_adv = True
            d += 1
    if not has_adv:
        return tuple(basic)
    if all(isinstance(b, slice) and b == full for b in basic):
        basic = []
    while adv and isinstance(adv[-1], slice):
        adv.pop()
    return TwoStep(tuple(basic), tuple(adv))


def _out_of_range(op, bad, d, n, shape, parts):
    where = f"index out of range for shape {tuple(shape)}: " if op != "getitem" else ""
    return IndexError(f"{op}: {where}index {bad} is out of range for axis {d} of size {n} "
                      f"(tensor shape {tuple(shape)}, key {_show(parts)})")


def _show(parts):
    def one(p):
        if _is_array(p):
            return f"<{p.dtype} array of shape {tuple(p.shape)}>"
        if p is Ellipsis:
            return "..."
        if p is _FLAG_TRUE or p is _FLAG_FALSE:
            return repr(p is _FLAG_TRUE)
        if isinstance(p, slice):
            return ":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step)).rstrip(":") or ":"
        return repr(p)

    return "[" + ", ".join(one(p) for p in parts) + "]"


# --- array helpers -----------------------------------------------------------------------------
def _as_ndarray(xp, out):
    return out if type(out).__name__ == "ndarray" else xp.asarray(out)


def _pick(xp, x, key):
    """``x[key]`` as an array (``key``: a NumPy key or a :class:`TwoStep`)."""
    if isinstance(key, TwoStep):
        if key.basic:
            x = x[key.basic]
        key = key.adv
    return _as_ndarray(xp, x[key])


def _put(xp, out, key, v):
    """``out[key] = v`` in place (``key``: a NumPy key or a :class:`TwoStep`)."""
    if isinstance(key, TwoStep):
        if key.basic:
            out = out[key.basic]  # a view: writing into it writes into ``out``
        key = key.adv
    out[key] = v


def _is_advanced(key):
    return isinstance(key, TwoStep) or any(_is_array(p) for p in (key if isinstance(key, tuple) else (key,)))


def _flat_positions(xp, key, shape):
    """The flat element numbers of ``x[key]`` for an ``x`` of ``shape``."""
    return _pick(xp, xp.arange(math.prod(shape), dtype=_dt.int64).reshape(shape), key)


def _scatter_add(xp, g, key, shape, advanced):
    """A zero array of ``shape`` with ``g`` added at ``key``; repeated positions accumulate."""
    out = xp.zeros(shape, dtype=g.dtype)
    if not advanced:
        _put(xp, out, key, g)  # basic keys never pick an element twice
        return out
    size = math.prod(shape)
    flat = _flat_positions(xp, key, shape)
    summed = xp.bincount(flat.ravel(), weights=xp.broadcast_to(g, flat.shape).ravel(), minlength=size)
    return summed.astype(g.dtype, copy=False).reshape(shape)


# --- the ops ----------------------------------------------------------------------------------
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


def _pick_tensor(t, key):
    """``t[key]`` for a key already in op form (differentiable)."""
    return (Index if _is_advanced(key) else Slice).apply(t, key=key)


def _fit_value_grad(gv, shape):
    """Sum the gradient of a written value down to the value's ``shape`` (which may have extra
    leading axes of size 1 that the assignment dropped)."""
    if len(shape) > gv.ndim:
        gv = gv.reshape((1,) * (len(shape) - gv.ndim) + tuple(gv.shape))
    return gv


class IndexPut(Op):
    """``out = x.clone(); out[key] = v`` (``+= v`` when ``accumulate``; repeats then add up).

    ``v`` broadcasts to the shape of ``x[key]`` and is cast to ``x``'s dtype. Gradients:
    ``x`` gets ``g`` with the written places zeroed (all of ``g`` when accumulating), ``v``
    gets ``g[key]`` summed over broadcasting (and cast back to ``v``'s dtype).
    """

    name = "index_put"
    saves_values = False  # the backward reads the key and the shapes only
    saves_output = False

    def forward(self, x, v):
        xp = self.xp
        self.v_shape, self.v_dtype = v.shape, v.dtype
        out = x.copy()
        v = v.astype(x.dtype, copy=False)
        if self.accumulate and _is_advanced(self.key):
            flat = _flat_positions(xp, self.key, x.shape)
            vals = xp.broadcast_to(v.reshape(v.shape[max(v.ndim - flat.ndim, 0):]) if v.ndim > flat.ndim else v,
                                   flat.shape)
            if x.dtype.kind == "b":
                hits = xp.bincount(flat.ravel(), weights=vals.ravel().astype(_dt.float64), minlength=x.size)
                return out | (hits.reshape(x.shape) != 0)
            summed = xp.bincount(flat.ravel(), weights=vals.ravel(), minlength=x.size)
            return (out + summed.reshape(x.shape).astype(x.dtype, copy=False)).astype(x.dtype, copy=False)
        if self.accumulate:  # a basic key never picks an element twice
            target = _pick(xp, out, self.key)
            _put(xp, out, self.key, target + v)
            return out
        _put(xp, out, self.key, v)
        return out

    def backward(self, g):
        gx = g if self.accumulate else IndexPut.apply(g, self.constant(self.xp.zeros((), g.dtype)),
                                                      key=self.key, accumulate=False)
        gv = _fit_value_grad(_pick_tensor(g, self.key), self.v_shape)
        gv = unbroadcast(gv, tuple(self.v_shape))
        return gx, (gv if gv.dtype == self.v_dtype else gv.to(self.v_dtype))

    def backward_array(self, g):
        xp = self.xp
        if self.accumulate:
            gx = g
        else:
            gx = g.copy()
            _put(xp, gx, self.key, 0)
        gv = _pick(xp, g, self.key)
        if len(self.v_shape) > gv.ndim:
            gv = gv.reshape((1,) * (len(self.v_shape) - gv.ndim) + gv.shape)
        gv = unbroadcast_array(gv, tuple(self.v_shape))
        return gx, gv.astype(self.v_dtype, copy=False)


def _value_tensor(value, x, op):
    """``value`` as a Tensor on ``x``'s device (a Python number takes ``x``'s dtype)."""
    if isinstance(value, Tensor):
        if value.device is not x.device:
            if value.ndim == 0 and not value.requires_grad:  # a 0-d cpu tensor is a scalar, as in PyTorch
                return Tensor._make(x.device.from_host(value.device.to_host(value.array)), x.device)
            raise _device_mismatch(op, x, value)
        return value
    if isinstance(value, (bool, numbers.Number)):
        return Tensor._make(x.device.xp.asarray(value, dtype=x.dtype), x.device)
    return Tensor._make(x.device.xp.asarray(value).astype(x.dtype, copy=False), x.device)


def _device_mismatch(op, x, v):
    return DeviceError(f"{op}: the tensor is on {x.device.type} but the value {tuple(v.shape)} is on "
                       f"{v.device.type}; move it with `.to('{x.device.type}')`")


def _put_op(x, key, v, accumulate, op):
    """Run :class:`IndexPut`, turning a broadcast failure into a ShapeError naming ``op``."""
    try:
        return IndexPut.apply(x, v, key=key, accumulate=accumulate)
    except ValueError as exc:
        if isinstance(exc, ShapeError):
            raise
        target = _pick(x.device.xp, x.array, key).shape
        raise ShapeError(
            f"{op}: shape mismatch: value tensor of shape {tuple(v.shape)} cannot be broadcast to the indexing "
            f"result of shape {tuple(target)} (tensor shape {tuple(x.shape)}); reshape the value to match"
        ) from None


def setitem(x, key, value):
    """``x`` with ``x[key] = value`` applied, out of place (``value`` broadcast and cast to ``x``'s dtype).

    The Tensor operator ``x[key] = value`` is this op run in place (see the module docstring).
    """
    k = torch_key(key, x.shape, x.device, "__setitem__")
    return _put_op(x, k, _value_tensor(value, x, "__setitem__"), False, "__setitem__")


def _check_writable(arr, x):
    flags = getattr(arr, "flags", None)
    if flags is not None and not getattr(flags, "writeable", True):
        raise RuntimeError(
            f"__setitem__: the tensor's memory can't be written (shape {tuple(x.shape)}: an expanded or broadcast "
            "tensor has several elements in one memory location, or it views read-only memory); .clone() it first"
        )


def _setitem_method(self, key, value):
    """``x[key] = value`` (PyTorch's semantics, gradients through the in-place mechanism)."""
    recording = STATE.enabled and (self._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
    if recording:
        _check_writable(self.array, self)
        assign(self, setitem, "__setitem__", (key, value), reads_input=False)  # IndexPut reads no values of x
        return
    # nothing to record: write straight into the array (what assign's no-grad path does, without
    # copying the whole tensor), so views of x see the change and x[i] = v in a loop stays cheap
    arr = self.array
    k = torch_key(key, arr.shape, self.device, "__setitem__")
    if type(value) in (int, float, bool):  # the array library casts a Python number itself
        v = value
    else:
        v = _value_tensor(value, self, "__setitem__").array
        v = v.astype(arr.dtype, copy=False)
    _check_writable(arr, self)
    try:
        _put(self.device.xp, arr, k, v)
    except ValueError:
        target = _pick(self.device.xp, arr, k).shape
        raise ShapeError(
            f"__setitem__: shape mismatch: value tensor of shape {tuple(getattr(v, 'shape', ()))} cannot be "
            f"broadcast to the indexing result of shape {tuple(target)} (tensor shape {tuple(arr.shape)}); "
            "reshape the value"
        ) from None
    self._version[0] += 1


def _index_tuple(indices, op):
    if isinstance(indices, Tensor) or not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}: indices must be a tuple (or list) of index tensors, got {type(indices).__name__}")
    return tuple(slice(None) if i is None else i for i in indices)


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``input[indices] = values`` (or ``+= values`` when ``accumulate=True``, where
    repeated indices add up), out of place; PyTorch's ``index_put``.

    ``indices`` is a tuple of index tensors (int64/int32 or bool; ``None`` means a whole
    dimension), read with the rules of ``x[indices]``; ``values`` must have ``input``'s dtype
    and broadcast to the shape of ``input[indices]``.
    """
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put: values must be a Tensor, got {type(values).__name__}")
    if values.dtype != input.dtype:
        raise DTypeError(
            f"index_put: index put requires the source and destination dtypes match, got {input.dtype} for the "
            f"destination and {values.dtype} for the source; convert with `values.to({input.dtype})`"
        )
    k = torch_key(_index_tuple(indices, "index_put"), input.shape, input.device, "index_put")
    return _put_op(input, k, _value_tensor(values, input, "index_put"), bool(accumulate), "index_put")


# --- public functions: reading ------------------------------------------------------------------
def getitem(x, key):
    """``x[key]`` with PyTorch's indexing rules and its gradient (see the module docstring)."""
    k = torch_key(key, x.shape, x.device)
    return (Index if isinstance(k, TwoStep) else Slice).apply(x, key=k)


def _check_index_tensor(index, x, op, allow_int32=True):
    """``index`` as an integer Tensor on ``x``'s device (TypeError for other dtypes)."""
    if not isinstance(index, Tensor):
        index = Tensor(index, device=x.device)
    name = index.dtype.name if hasattr(index.dtype, "name") else str(index.dtype)
    ok = ("int64", "int32") if allow_int32 else ("int64",)
    if name not in ok:
        raise DTypeError(f"{op}: expected an int64 index tensor, got {index.dtype}; convert it with `index.long()`")
    if index.device is not x.device:
        raise _device_mismatch(op, x, index)
    return index


def _range_error(op, index_arr, size, dim, xshape):
    if index_arr.size:
        lo, hi = int(index_arr.min()), int(index_arr.max())
        bad = hi if hi >= size else (lo if lo < -size else None)
        if bad is not None:
            raise IndexError(f"{op}: index {bad} is out of range for axis {dim} of size {size} "
                             f"(input shape {tuple(xshape)})")


def along_dim_key(xp, index_arr, d):
    """The advanced key that pairs ``index_arr`` (along axis ``d``) with each position on the other axes."""
    nd = index_arr.ndim
    key = []
    for ax in range(nd):
        if ax == d:
            key.append(index_arr)
        else:
            shape = [1] * nd
            shape[ax] = index_arr.shape[ax]
            key.append(xp.arange(index_arr.shape[ax], dtype=_dt.int64).reshape(shape))
    return tuple(key)


def gather(input, dim, index, *, sparse_grad=False):
    """PyTorch's ``gather``: ``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0`` (and so on).

    ``index`` is an int64 (or int32) tensor with as many dimensions as ``input``, no larger
    than ``input`` along the other dimensions; the output has ``index``'s shape. Its gradient
    is a scatter-add of ``g`` into zeros (repeated indices accumulate). ``sparse_grad=True``
    asks PyTorch for a sparse gradient; tinynet has no sparse layout, so the gradient is
    the same values, dense.
    """
    index = _check_index_tensor(index, input, "gather")
    if index.ndim != input.ndim:
        raise ShapeError(f"gather: index has {index.ndim} dims but the input has {input.ndim} (index "
                         f"{tuple(index.shape)}, input {tuple(input.shape)}); they must have the same number of "
                         "dimensions")
    if input.ndim == 0:
        _range_error("gather", index.array, 1, 0, input.shape)
        return input.reshape(1)[index.reshape(1)].reshape(())
    d = normalize_axis(dim, input.ndim, "gather")
    for ax, (ni, nx) in enumerate(zip(index.shape, input.shape)):
        if ax != d and ni > nx:
            raise ShapeError(f"gather: size does not match at dimension {ax}: expected index {tuple(index.shape)} "
                             f"to be no larger than input {tuple(input.shape)} apart from dimension {d}")
    _range_error("gather", index.array, input.shape[d], d, input.shape)
    return Index.apply(input, key=along_dim_key(input.device.xp, index.array.astype(_dt.int64, copy=False), d))


def index_select(x, dim, index):
    """The slices of ``x`` along ``dim`` listed by the 1-D integer ``index`` (PyTorch's ``index_select``)."""
    d = normalize_axis(dim, x.ndim, "index_select")
    idx = index if isinstance(index, Tensor) else Tensor(index, device=x.device)
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D (or 0-d), got shape {tuple(idx.shape)}")
    if idx.ndim == 0:
        idx = idx.reshape(1)
    return getitem(x, (slice(None),) * d + (idx,))


def take(x, index):
    """Elements of the flattened ``x`` at ``index`` (result has ``index``'s shape)."""
    return getitem(x.reshape(-1), index if isinstance(index, Tensor) else Tensor(index, device=x.device))


def take_along_dim(input, indices, dim=None):
    """Values of ``input`` at ``indices`` along ``dim`` (NumPy's ``take_along_axis``; PyTorch's name).

    ``dim=None`` treats both as flattened (the result is 1-D). Otherwise ``input`` and
    ``indices`` have the same number of dimensions and broadcast together on all but
    ``dim``; the result is ``gather`` on the broadcast tensors.
    """
    indices = _check_index_tensor(indices, input, "take_along_dim")
    if dim is None:
        flat = input.reshape(-1)
        _range_error("take_along_dim", indices.array, flat.shape[0], 0, input.shape)
        return Index.apply(flat, key=(indices.array.reshape(-1).astype(_dt.int64, copy=False),))
    if indices.ndim != input.ndim:
        raise ShapeError(f"take_along_dim: input and indices should have the same number of dimensions, but got "
                         f"{input.ndim} dimensions for input {tuple(input.shape)}, and {indices.ndim} dimensions "
                         f"for indices {tuple(indices.shape)}")
    d = normalize_axis(dim, input.ndim, "take_along_dim")
    xs, ids = list(input.shape), list(indices.shape)
    try:
        xp = input.device.xp
        shp = _broadcast_shapes(tuple(xs[:d] + [1] + xs[d + 1:]), tuple(ids[:d] + [1] + ids[d + 1:]))
    except ValueError:
        raise ShapeError(f"take_along_dim: input {tuple(input.shape)} and indices {tuple(indices.shape)} can't be "
                         f"broadcast together apart from dimension {d}") from None
    xt = tuple(shp[:d]) + (xs[d],) + tuple(shp[d + 1:])
    it = tuple(shp[:d]) + (ids[d],) + tuple(shp[d + 1:])
    x_b = input if tuple(input.shape) == xt else input.expand(*xt)
    i_b = indices.array if tuple(indices.shape) == it else xp.broadcast_to(indices.array, it)
    return gather(x_b, d, Tensor._make(i_b, input.device))


def _broadcast_shapes(a, b):
    """The broadcast of two shapes (ValueError when they don't broadcast); CuPy has no ``broadcast_shapes``."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for p, q in zip(a, b):
        if p != q and 1 not in (p, q):
            raise ArgumentError(f"shapes {a} and {b} don't broadcast")
        out.append(q if p == 1 else p)
    return tuple(out)


def _bool_mask(mask, x, op):
    if isinstance(mask, Tensor):
        if mask.device is not x.device:
            raise _device_mismatch(op, x, mask)
        m = mask.array
    else:
        m = x.device.xp.asarray(mask)
    if m.dtype.kind != "b":
        raise TypeError(f"{op}: mask must be a bool tensor, got {m.dtype}; compare to get one (e.g. `x > 0`)")
    return m


def _broadcast_pair(x, m, op):
    try:
        shape = _broadcast_shapes(tuple(x.shape), tuple(m.shape))
    except ValueError:
        raise ShapeError(f"{op}: the mask {tuple(m.shape)} and the input {tuple(x.shape)} can't be broadcast "
                         "together (trailing dimensions must be equal or 1)") from None
    return shape


def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (both broadcast together first).

    The gradient goes back to the selected elements (summed over broadcasting)."""
    m = _bool_mask(mask, input, "masked_select")
    shape = _broadcast_pair(input, m, "masked_select")
    x_b = input if tuple(input.shape) == shape else input.expand(*shape)
    m_b = m if tuple(m.shape) == shape else input.device.xp.broadcast_to(m, shape)
    return Index.apply(x_b, key=(m_b,))


def masked_fill(input, mask, value):
    """``input`` with the elements where ``mask`` is True replaced by ``value`` (broadcasting the mask).

    ``value`` is a number or a 0-d tensor; the gradient flows to the kept elements only (and
    to ``value`` when it is a tensor that requires grad).
    """
    m = _bool_mask(mask, input, "masked_fill")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ShapeError(f"masked_fill: only supports a 0-dimensional value tensor, but got a tensor with "
                         f"{value.ndim} dimension(s) (shape {tuple(value.shape)})")
    if isinstance(value, Tensor):
        value = _value_tensor(value, input, "masked_fill")
        if value.dtype != input.dtype:
            value = value.to(input.dtype)
    else:
        value = Tensor._make(input.device.xp.asarray(value, dtype=input.dtype), input.device)
    return where(Tensor._make(m, input.device), value, input)


def masked_scatter(input, mask, source):
    """``input`` with the places where ``mask`` is True filled by consecutive elements of ``source``.

    ``input`` and ``mask`` broadcast together; ``source`` is read in row-major order and
    needs at least as many elements as the mask has True values. Gradients: ``input`` gets
    ``g`` where the mask is False, the first ``n`` elements of ``source`` get ``g[mask]``.
    """
    m = _bool_mask(mask, input, "masked_scatter")
    if not isinstance(source, Tensor):
        raise TypeError(f"masked_scatter: source must be a Tensor, got {type(source).__name__}")
    if source.dtype != input.dtype:
        raise DTypeError(f"masked_scatter: expected source to have the input's dtype {input.dtype}, got "
                         f"{source.dtype}; convert it with `source.to({input.dtype})`")
    shape = _broadcast_pair(input, m, "masked_scatter")
    xp = input.device.xp
    x_b = input if tuple(input.shape) == shape else input.expand(*shape)
    m_b = m if tuple(m.shape) == shape else xp.broadcast_to(m, shape)
    n = int(xp.count_nonzero(m_b))
    if source.numel() < n:
        raise ShapeError(f"masked_scatter: number of elements of source ({source.numel()}, shape "
                         f"{tuple(source.shape)}) < number of ones in mask ({n})")
    src = Slice.apply(source.reshape(-1), key=(slice(0, n),))
    return IndexPut.apply(x_b, src, key=(m_b,), accumulate=False)


def index_fill(input, dim, index, value):
    """``input`` with the slices along ``dim`` listed in ``index`` set to ``value`` (a number or a
    0-d tensor). The gradient of ``input`` is zero on the filled slices; a tensor ``value`` gets
    the sum of the gradient over the filled places (each repeated index counted once, as in PyTorch).
    """
    index = _check_index_tensor(index, input, "index_fill")
    if index.ndim > 1:
        raise ShapeError(f"index_fill: index has to be a vector or a scalar, got shape {tuple(index.shape)}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ShapeError(f"index_fill: only supports a 0-dimensional value tensor, but got a tensor with "
                         f"{value.ndim} dimension(s)")
    nd = max(input.ndim, 1)
    d = normalize_axis(dim, nd, "index_fill")
    size = input.shape[d] if input.ndim else 1
    idx = index.array.reshape(-1).astype(_dt.int64, copy=False)
    _range_error("index_fill", idx, size, d, input.shape)
    idx = input.device.xp.unique(idx % max(size, 1)) if idx.size else idx
    v = _value_tensor(value, input, "index_fill")
    if v.dtype != input.dtype:
        v = v.to(input.dtype)
    x = input if input.ndim else input.reshape(1)
    out = IndexPut.apply(x, v, key=(slice(None),) * d + (idx,), accumulate=False)
    return out if input.ndim else out.reshape(())


def nonzero(input, *, as_tuple=False):
    """The indices of the non-zero elements of ``input``: an int64 tensor of shape ``(n, input.ndim)``
    (one row per element, in row-major order), or with ``as_tuple=True`` a tuple of ``ndim``
    1-D tensors (one per dimension; a 0-d input is treated as 1-D), as in PyTorch."""
    xp = input.device.xp
    arr = input.array
    if as_tuple:
        return tuple(Tensor._make(i.astype(_dt.int64, copy=False), input.device)
                     for i in xp.nonzero(arr.reshape(1) if arr.ndim == 0 else arr))
    if arr.ndim == 0:
        return Tensor._make(xp.zeros((int(bool(arr)), 0), dtype=_dt.int64), input.device)
    idx = xp.nonzero(arr)
    return Tensor._make(xp.stack(idx, axis=1).astype(_dt.int64, copy=False), input.device)


def argwhere(input):
    """PyTorch's ``argwhere``: the same as ``nonzero(input)`` (an ``(n, ndim)`` int64 tensor)."""
    return nonzero(input)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """A bool tensor of ``elements``' shape: True where the element occurs in ``test_elements``.

    Either argument may be a number. ``assume_unique=True`` promises both have no repeats
    (a faster path); ``invert=True`` gives "not in". No gradient (the result is bool).
    """
    ref = elements if isinstance(elements, Tensor) else test_elements
    if not isinstance(ref, Tensor):
        raise TypeError("isin: elements or test_elements must be a Tensor")
    dev = ref.device

    def arr(v):
        if isinstance(v, Tensor):
            if v.device is not dev:
                raise _device_mismatch("isin", ref, v)
            return v.array
        return dev.xp.asarray(v)

    a, b = arr(elements), arr(test_elements)
    out = dev.xp.isin(a, b, assume_unique=bool(assume_unique), invert=bool(invert))
    return Tensor._make(dev.xp.asarray(out), dev)


def _triangle(input, diagonal, op, lower):
    if input.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(input.shape)}")
    xp = input.device.xp
    r, c = input.shape[-2:]
    k = int(diagonal)
    keep = xp.tri(r, c, k=k, dtype=bool) if lower else ~xp.tri(r, c, k=k - 1, dtype=bool)
    zero = Tensor._make(xp.zeros((), dtype=input.dtype), input.device)
    return where(Tensor._make(keep, input.device), input, zero)


def tril(input, diagonal=0):
    """The lower triangle of the last two dimensions of ``input`` (elements ``j - i <= diagonal``),
    zeros elsewhere; batched over leading dimensions. The gradient is masked the same way."""
    return _triangle(input, diagonal, "tril", True)


def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions of ``input`` (elements ``j - i >= diagonal``),
    zeros elsewhere; batched over leading dimensions. The gradient is masked the same way."""
    return _triangle(input, diagonal, "triu", False)


def _tri_indices(op, row, col, offset, dtype, device, layout, lower):
    if layout is not None and str(layout) not in ("strided", "torch.strided"):
        raise ArgumentError(f"{op}: only the strided (dense) layout exists in tinynet, got layout={layout!r}")
    for name, v in (("row", row), ("col", col)):
        if not isinstance(v, numbers.Integral) or v < 0:
            raise ArgumentError(f"{op}: {name} must be a non-negative int, got {v!r}")
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    if dt.kind not in "iu":
        raise DTypeError(f"{op}: dtype must be an integer type, got {dt}")
    dev = get_device(device)
    xp = dev.xp
    if row == 0 or col == 0:
        return Tensor._make(xp.zeros((2, 0), dtype=dt), dev)
    fn = xp.tril_indices if lower else xp.triu_indices
    i, j = fn(int(row), int(offset), int(col))
    return Tensor._make(xp.stack([i, j]).astype(dt), dev)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The ``(2, n)`` coordinates (row-major order) of the lower triangle of a ``row x col`` matrix,
    including the diagonals up to ``offset`` (positive: above the main one)."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device, layout, True)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The ``(2, n)`` coordinates (row-major order) of the upper triangle of a ``row x col`` matrix,
    from the diagonal ``offset`` up (negative: below the main one)."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device, layout, False)


# --- Tensor methods (bound by methods.py) ---------------------------------------------------------
setitem_method = _setitem_method
masked_fill_ = inplace(masked_fill, "masked_fill_")
masked_scatter_ = inplace(masked_scatter, "masked_scatter_")
index_fill_ = inplace(index_fill, "index_fill_")
index_put_ = inplace(index_put, "index_put_")
tril_ = inplace(tril, "tril_")
triu_ = inplace(triu, "triu_")
