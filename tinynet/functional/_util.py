"""Shared helpers of the functional layer: operand coercion, unbroadcast, axis handling,
and the in-place form of an op (``inplace=True``)."""
from __future__ import annotations

import numbers

from ..backend.errors import ShapeError
from ..autograd.grad_mode import STATE
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


def pair(a, b, op: str):
    """Coerce a binary op's two operands to Tensors (at least one is a Tensor)."""
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            b = operand(b, a)
    elif isinstance(b, Tensor):
        a = operand(a, b)
    else:
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    da, db = a.array.dtype, b.array.dtype
    if da is db:  # the common case, decided by identity (NumPy's builtin dtypes are singletons)
        return a, b
    ka, kb = da.kind, db.kind
    if (ka == "f") != (kb == "f"):
        # PyTorch's promotion: an integer/bool tensor meeting a float one takes the float's dtype
        # (NumPy would widen int64 + float32 to float64). Integer tensors never need grad.
        if ka == "f":
            b = Tensor._make(b.array.astype(a.array.dtype), b.device)
        else:
            a = Tensor._make(a.array.astype(b.array.dtype), a.device)
    return a, b


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
    convert = "x.float()" if w_dtype == _dt.float32 and x == "x" else f"{x}.to(tn.{w_dtype})"
    if x_dtype.kind != "f":
        return (f"layers compute in floating point, so convert the input: `{convert}`"
                + (" (integer token ids go through nn.Embedding first)" if ids_hint and x_dtype.kind in "iu" else ""))
    return f"convert the input (`{x}.to(tn.{w_dtype})`) or the model (`model.to(tn.{x_dtype})`)"


def apply_inplace(x: Tensor, op: str, compute, reads_input: bool = False) -> Tensor:
    """PyTorch's ``inplace=True``: ``compute(x)``, written into ``x``'s own memory; returns ``x``.

    ``x`` keeps its identity and storage (views of it see the new values) and its version
    counter is bumped, so a graph that saved ``x``'s old values raises at backward time
    instead of using values that are gone. When a gradient is being recorded through ``x``:

    * a leaf that requires grad is refused, as in PyTorch (its ``.grad`` would be the
      gradient with respect to values it no longer holds); under ``tn.no_grad()`` it is allowed;
    * a view of another tensor is refused (the base tensor's gradient would not see the
      change); ``.clone()`` it first or use ``inplace=False``;
    * otherwise ``x`` takes the op's node as its ``grad_fn``, so its history continues
      through the op. The op's backward reads ``x``'s new values (its output) or, when
      ``reads_input`` (its derivative needs the old values: leaky_relu, elu, silu), a copy of
      the old values kept for it, as PyTorch keeps the original for such in-place ops.

    ``compute`` maps a Tensor to the op's result (a Tensor of ``x``'s shape and dtype).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    recording = x._requires_grad and STATE.enabled
    source = x
    if recording:
        history = x.grad_fn
        if history is None:
            raise RuntimeError(
                f"{op}(inplace=True): a leaf tensor that requires grad can't be changed in place "
                f"(shape {tuple(x.shape)}, {x.dtype}); use inplace=False, or change it under tn.no_grad()"
            )
        if history.is_view:
            raise RuntimeError(
                f"{op}(inplace=True): the input is a view made by {history.op_name()} of a tensor in the graph, so "
                "changing it in place would hide the change from that tensor's gradient; use inplace=False "
                "or .clone() the input first"
            )
        data = x.array.copy() if reads_input else x.array
        source = Tensor._make(data, x.device, True, history, None)
    out = compute(source)
    if out is source:  # nothing to do (e.g. dropout in evaluation mode)
        return x
    try:
        x.array[...] = out.array
    except ValueError:
        raise RuntimeError(
            f"{op}(inplace=True): the input's memory can't be written (shape {tuple(x.shape)}; an expanded or "
            "broadcast tensor has several elements in one memory location); .clone() it first"
        ) from None
    x._version[0] += 1
    node = out.grad_fn
    if recording and node is not None:
        # x is now the node's output: the node reads x's memory and watches x's version from here on.
        node.out = x.array
        if node._counters is not None and node.saves_output:
            node._counters[-1] = x._version
            node._versions[-1] = x._version[0]
        x.grad_fn = node
    return x
