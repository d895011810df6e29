"""Shared helpers of the functional layer: operand coercion, unbroadcast, axis handling,
and the in-place form of an op (``inplace=True``)."""
from __future__ import annotations

import numbers

from ..backend.errors import ShapeError
from ..autograd.grad_mode import STATE
from ..autograd.op import Op
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor


def operand(x, like: Tensor) -> Tensor:
    """Turn a Python number (or array) into a constant Tensor on ``like``'s device.

    Numbers follow PyTorch's promotion: a float with an integer tensor gives the default
    float dtype; otherwise the tensor's dtype wins (NumPy 2 treats Python scalars as "weak").
    """
    if isinstance(x, Tensor):
        return x
    dev = like.device
    if type(x) is float:  # the common case (``lr * g``, ``x ** 2.0``), decided without ABC checks
        dt = like.array.dtype
        return Tensor._make(dev.xp.asarray(x, dtype=dt if dt.kind == "f" else _dt.get_default_dtype()), dev)
    if type(x) is int:  # (``1 - y``, ``x ** 2``); bool is its own type and takes the slow path
        dt = like.array.dtype
        return Tensor._make(dev.xp.asarray(x, dtype=dt if dt.kind in "fiu" else _dt.int64), dev)
    kind = like.array.dtype.kind
    if isinstance(x, bool):
        dt = like.array.dtype
    elif isinstance(x, numbers.Integral):
        dt = like.array.dtype if kind in "fiu" else _dt.int64
    elif isinstance(x, numbers.Real):
        dt = like.array.dtype if kind == "f" else _dt.get_default_dtype()
    else:
        return Tensor(x, device=dev)
    return Tensor._make(dev.xp.asarray(x, dtype=dt), dev)


def promote_types(d1, d2):
    """PyTorch's ``promote_types`` on two dtypes: bool < integers < floats, and a float meets an
    integer by keeping the float's own width (int64 with float16 gives float16, where NumPy
    would widen to float64). Within a kind it is NumPy's (uint8 with int8 gives int16)."""
    if d1 is d2 or d1 == d2:
        return d1
    f1, f2 = d1.kind == "f", d2.kind == "f"
    if f1 != f2:
        return d1 if f1 else d2
    k1, k2 = d1.kind, d2.kind
    if k1 == "b":
        return d2
    if k2 == "b":
        return d1
    if k1 == k2:  # both float, both signed or both unsigned: the wider
        return d1 if d1.itemsize >= d2.itemsize else d2
    u, i = (d1, d2) if k1 == "u" else (d2, d1)  # unsigned meets signed: a signed type holding both
    if i.itemsize > u.itemsize:
        return i
    return _dt.to_dtype(f"int{min(2 * u.itemsize, 8) * 8}")


def _category_result(high, low):
    """PyTorch's ``combine_categories``: ``high`` comes from operands of higher priority
    (tensors with dimensions over 0-d tensors over Python numbers); ``low`` counts only when
    it is of a higher category (float over integer over bool)."""
    if high.kind == "f":
        return high
    if high.kind == "b" or low.kind == "f":
        return promote_types(high, low)
    return high


def result_type(*operands):
    """The dtype of an op on ``operands`` (Tensors and Python numbers; None is skipped) under PyTorch's promotion
    (``torch.result_type``): Tensors with dimensions decide, then 0-d Tensors, then Python
    numbers, each lower group counting only when its category (bool < integer < float) is
    higher. So int32 tensor + int64 tensor gives int64, float32 tensor + 0-d float64 tensor
    stays float32, int tensor + Python float gives the default float dtype."""
    groups = [None, None, None]  # dimensioned tensors, 0-d tensors, Python numbers
    for x in operands:
        if x is None:
            continue
        if isinstance(x, Tensor):
            dt, g = x.array.dtype, (0 if x.array.ndim else 1)
        elif isinstance(x, bool):
            dt, g = _dt.bool_, 2
        elif isinstance(x, numbers.Integral):
            dt, g = _dt.int64, 2
        elif isinstance(x, numbers.Real):
            dt, g = _dt.get_default_dtype(), 2
        else:
            raise TypeError(f"result_type: expected Tensors or Python numbers, got {type(x).__name__}")
        groups[g] = dt if groups[g] is None else promote_types(groups[g], dt)
    out = None
    for dt in reversed(groups):
        if dt is not None:
            out = dt if out is None else _category_result(dt, out)
    return out


def cast(t: Tensor, dtype) -> Tensor:
    """``t`` converted to ``dtype``; differentiable when ``t`` requires grad (the gradient is
    cast back), a plain constant otherwise."""
    if t.array.dtype == dtype:
        return t
    if t._requires_grad and STATE.enabled:
        return _Cast.apply(t, dtype=dtype)
    return Tensor._make(t.array.astype(dtype), t.device)


class _Cast(Op):
    """A dtype cast inside a promoting op: the gradient is cast back to the input's dtype."""

    name = "to"
    saves_values = False

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, g):
        return cast(g, self.in_dtype)


def pair(a, b, op: str):
    """Coerce a binary op's two operands to Tensors of one dtype (at least one is a Tensor).

    The common dtype is PyTorch's (:func:`result_type`): a Python number adapts to the
    tensor's kind, a 0-d tensor counts only when it is of a higher category, and an integer
    meeting a float takes the float's dtype.
    """
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = operand(b, a)  # already of the result dtype's kind (see operand)
            da, db = a.array.dtype, b.array.dtype
            if da is db:
                return a, b
            dt = _category_result(da, db)
            return cast(a, dt), cast(b, dt)
    elif isinstance(b, Tensor):
        a = operand(a, b)
        da, db = a.array.dtype, b.array.dtype
        if da is db:
            return a, b
        dt = _category_result(db, da)
        return cast(a, dt), cast(b, dt)
    else:
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    da, db = a.array.dtype, b.array.dtype
    if da is db:  # the common case, decided by identity (NumPy's builtin dtypes are singletons)
        return a, b
    dt = result_type(a, b)
    return cast(a, dt), cast(b, dt)


def quiet(xp):
    """A context that silences NumPy's floating-point warnings (division by zero, invalid
    values) where inf/NaN are the intended results, as PyTorch computes them silently;
    CuPy never warns (and has no ``errstate``)."""
    errstate = getattr(xp, "errstate", None)
    return errstate(divide="ignore", invalid="ignore", over="ignore") if errstate is not None else _NULL


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NULL = _Null()


def float_input(x: Tensor) -> Tensor:
    """The input of a floating-point-only op: integer and bool tensors become the default
    float dtype (``tn.get_default_dtype()``), as PyTorch's ``exp(int_tensor)`` gives float32."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a Tensor, got {type(x).__name__}")
    if x.array.dtype.kind != "f":
        return Tensor._make(x.array.astype(_dt.get_default_dtype()), x.device)
    return x


def broadcast_error(op: str, a, b) -> ShapeError:
    return ShapeError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together "
        "(trailing axes must be equal or 1). Reshape or unsqueeze one operand so they line up."
    )


def unbroadcast(grad: Tensor, shape: tuple) -> Tensor:
    """Sum ``grad`` down to ``shape``: the gradient of broadcasting ``shape`` up to grad's shape.

    Broadcasting copies a value along new leading axes and along axes of length 1, so its
    gradient adds up the copies. One helper serves every broadcasting op.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape) if out.shape != shape else out


def unbroadcast_array(grad, shape: tuple):
    """:func:`unbroadcast` on a raw array (for ``Op.backward_array`` fast paths)."""
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape) if out.shape != shape else out


def normalize_axis(axis, ndim: int, op: str):
    """Accept ``axis`` as None, an int or a tuple (negative counts from the end); check range."""
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(normalize_axis(a, ndim, op) for a in axis)
    if isinstance(axis, Tensor):
        axis = int(axis.item())
    try:
        axis = int(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {type(axis).__name__}") from None
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"{op}: axis {axis} is out of range for a tensor of {ndim} dimension(s)")
    return axis % max(ndim, 1)


def pick_axis(axis, dim, op: str):
    """Resolve NumPy's ``axis=`` and PyTorch's ``dim=`` alias."""
    if dim is not None:
        if axis is not None and axis != dim:
            raise TypeError(f"{op}: give either axis= or dim=, not both")
        return dim
    return axis


def dtype_fix(x_dtype, w_dtype, x: str = "x", ids_hint: bool = True) -> str:
    """The fix to suggest when an input of ``x_dtype`` meets weights of ``w_dtype``.

    Only a change that can work is offered: a model's parameters are floating, so an
    integer or bool input is converted (``x.float()``), never the model to an integer type.
    """
    convert = "x.float()" if w_dtype == _dt.float32 and x == "x" else f"{x}.to(tn.{w_dtype.name})"
    if x_dtype.kind != "f":
        return (f"layers compute in floating point, so convert the input: `{convert}`"
                + (" (integer token ids go through nn.Embedding first)" if ids_hint and x_dtype.kind in "iu" else ""))
    return f"convert the input (`{x}.to(tn.{w_dtype.name})`) or the model (`model.to(tn.{x_dtype.name})`)"


