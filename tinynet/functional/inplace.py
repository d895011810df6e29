"""In-place ops (``x.add_(y)``, ``x.sin_()``, ``x.masked_fill_(m, v)``, ``x[i] = v``): one mechanism.

Every in-place variant is its out-of-place op plus :func:`assign`: ``x.op_(*args)`` computes
``op(x, *args)`` and makes ``x`` hold the result. What "hold" means follows PyTorch:

* **No graph to record** (grad mode off, or neither ``x`` nor any argument requires grad):
  the result is written into ``x``'s own array, so views of ``x`` (``x[0]``, ``x.T``,
  ``p.data``) see the change. This is the path of parameter updates under ``tn.no_grad()``.
* **Inside the graph** (``x`` is a non-leaf that requires grad, or an argument does): the
  op is recorded on a snapshot of ``x``'s old value (a copy, unless the op's backward never
  reads it), the result is written into ``x``'s memory and ``x`` takes the op's node as its
  ``grad_fn``, so ``(x.masked_fill_(m, 0) * w).sum().backward()`` differentiates through the
  fill, as in PyTorch. A view of a tensor in the graph is refused (PyTorch would rebase the
  base tensor's history too; tinynet asks for the one-step form or a clone).
* A **leaf that requires grad** (a parameter) cannot be changed in place while grad mode
  is on: its ``.grad`` would mean nothing. PyTorch refuses the same; use ``with
  tn.no_grad():`` or ``p.data``.

Either way the tensor's version counter is bumped, so a backward that saved the old value
raises instead of silently using the new one. The result's dtype must cast to ``x``'s
under PyTorch's rule (``same_kind``: ``int_tensor.sin_()`` is an error, as in PyTorch).
"""
from __future__ import annotations

from ..autograd.grad_mode import STATE, no_grad
from ..backend.errors import DTypeError, ShapeError
from ..tensor.tensor import Tensor

__all__ = []  # methods only: bound by methods.py as ``<name>_``


def _any_requires_grad(values) -> bool:
    for v in values:
        if isinstance(v, Tensor) and v._requires_grad:
            return True
        if isinstance(v, (tuple, list)) and _any_requires_grad(v):
            return True
    return False


def assign(x: Tensor, op, name: str, args=(), kwargs=None, reads_input: bool = True):
    """Make ``x`` hold ``op(x, *args, **kwargs)`` in place (see the module docstring); returns ``x``.

    ``reads_input=False`` promises that the op's backward never reads ``x``'s old values
    (``relu`` reads its output, ``x[i] = v`` reads nothing), which spares copying them.
    """
    kwargs = kwargs or {}
    recording = STATE.enabled and (x._requires_grad or _any_requires_grad(args)
                                   or _any_requires_grad(kwargs.values()))
    if not recording:
        with no_grad():
            out = op(x, *args, **kwargs)
        if out is not x:
            _check_result(x, out, name)
            _write(x, out, name)
        x._version[0] += 1
        return x
    history = x.grad_fn
    if x._requires_grad and history is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (e.g. a parameter) can't be changed in place "
            f"(shape {tuple(x.shape)}, {x.dtype}) while grad mode is on: its .grad would no longer match its "
            "value. Wrap the update in `with tn.no_grad():`, change `x.data` instead, or use the out-of-place op."
        )
    if history is not None and history.is_view:
        raise RuntimeError(
            f"{name}: the tensor is a view made by {history.op_name()} of a tensor in the graph, so changing it "
            "in place would hide the change from that tensor's gradient; index the base tensor in one step "
            "(`x[i, j] = v` rather than `x[i][j] = v`), use the out-of-place op, or .clone() the view first"
        )
    # the op is recorded on a snapshot of x's old value (a copy when its backward reads it)
    old = Tensor._make(x.array.copy() if reads_input else x.array, x.device, x._requires_grad, history, None)
    args = tuple(old if a is x else a for a in args)  # x.mul_(x): both operands are the old value
    out = op(old, *args, **kwargs)
    if out is old:  # nothing changed (e.g. dropout in evaluation mode)
        return x
    _check_result(x, out, name)
    if out.dtype != x.dtype:
        out = out.to(x.dtype)
    _write(x, out, name)
    x._version[0] += 1  # ops that saved x's old value see the change and refuse to backward
    node = out.grad_fn
    if node is not None:
        # x is now the node's output: the node reads x's memory and watches x's version from here on
        node.out = x.array
        if node._counters is not None and node.saves_output:
            node._counters[-1] = x._version
            node._versions[-1] = x._version[0]
    x.grad_fn = node
    x._requires_grad = out._requires_grad
    return x


def _check_result(x: Tensor, out: Tensor, name: str):
    if tuple(out.shape) != tuple(x.shape):
        raise ShapeError(
            f"{name}: the result has shape {tuple(out.shape)} but an in-place op must keep the tensor's "
            f"shape {tuple(x.shape)}; the other operand can't be broadcast to it. Use the out-of-place op."
        )
    if not x.device.xp.can_cast(out.dtype, x.dtype, casting="same_kind"):
        raise DTypeError(
            f"{name}: the result type {out.dtype} can't be cast to the tensor's dtype {x.dtype} in place "
            f"(e.g. a float result into an integer tensor); use the out-of-place op or convert first "
            f"(`x = x.to(tn.{out.dtype.name})`)"
        )


def _write(x: Tensor, out: Tensor, name: str):
    """Copy the result into ``x``'s own memory (so views of ``x`` see it)."""
    if out.device is not x.device:  # ops refuse mixed devices first; kept as a guard
        raise RuntimeError(f"{name}: the result is on {out.device.type} but the tensor is on {x.device.type}")
    try:
        x.array[...] = out.array
    except ValueError:
        raise RuntimeError(
            f"{name}: the tensor's memory can't be written (shape {tuple(x.shape)}; an expanded or broadcast "
            "tensor has several elements in one memory location, or the memory is read-only); .clone() it first"
        ) from None


def inplace(op, name: str, reads_input: bool = True):
    """The Tensor method ``x.<name>(*args, **kwargs)`` that runs ``op`` in place on ``x``."""
    def method(self, *args, **kwargs):
        return assign(self, op, name, args, kwargs, reads_input)
    method.__name__ = name
    method.__doc__ = f"In-place form of ``{getattr(op, '__name__', name.rstrip('_'))}`` (see tinynet.functional.inplace)."
    return method
