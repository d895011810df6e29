"""In-place ops (``x.add_(y)``, ``x.sin_()``, ``x.masked_fill_(m, v)``, ``x[i] = v``): one mechanism.

Every in-place variant is its out-of-place op plus :func:`assign`: ``x.op_(*args)`` computes
``op(x, *args)`` and makes ``x`` hold the result. What "hold" means follows PyTorch:

* **No graph to record** (grad mode off, or neither ``x`` nor any argument requires grad):
  the result is written into ``x``'s own array, so views of ``x`` (``x[0]``, ``x.T``,
  ``p.data``) see the change. This is the path of parameter updates under ``tn.no_grad()``.
* **Inside the graph** (``x`` is a non-leaf that requires grad, or an argument does): ``x``
  is *rebased*: the op is recorded on a snapshot of ``x``'s old value and ``x`` takes the
  result's array and ``grad_fn``, so ``(x.masked_fill_(m, 0) * w).sum().backward()``
  differentiates through the fill, as in PyTorch. (Views of ``x`` taken before are not
  rebased with it; PyTorch rebases them too.)
* A **leaf that requires grad** (a parameter) cannot be changed in place while grad mode
  is on: its ``.grad`` would mean nothing. PyTorch refuses the same; use ``with
  tn.no_grad():`` or ``p.data``.

Either way the tensor's version counter is bumped, so a backward that saved the old value
raises instead of silently using the new one. The result's dtype must cast to ``x``'s
under PyTorch's rule (``same_kind``: ``int_tensor.sin_()`` is an error, as in PyTorch).
"""
from __future__ import annotations

from ..autograd.grad_mode import STATE, no_grad
from ..backend.errors import ShapeError
from ..tensor.tensor import Tensor

__all__ = []  # methods only: bound by methods.py as ``<name>_``


def _any_requires_grad(values) -> bool:
    for v in values:
        if isinstance(v, Tensor) and v._requires_grad:
            return True
        if isinstance(v, (tuple, list)) and _any_requires_grad(v):
            return True
    return False


def assign(x: Tensor, op, name: str, args=(), kwargs=None):
    """Make ``x`` hold ``op(x, *args, **kwargs)`` in place (see the module docstring)."""
    kwargs = kwargs or {}
    recording = STATE.enabled and (x._requires_grad or _any_requires_grad(args)
                                   or _any_requires_grad(kwargs.values()))
    if recording and x._requires_grad and x.grad_fn is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad (e.g. a parameter) can't be changed in place "
            "while grad mode is on: its .grad would no longer match its value. Wrap the update in "
            "`with tn.no_grad():`, change `x.data` instead, or use the out-of-place op."
        )
    if not recording:
        with no_grad():
            out = op(x, *args, **kwargs)
        _write_into(x, out, name)
        x._version[0] += 1
        return x
    old = Tensor._make(x.array, x.device, x._requires_grad, x.grad_fn, [x._version[0]])
    out = op(old, *args, **kwargs)
    _check_result(x, out, name)
    if out.dtype != x.dtype:
        out = out.to(x.dtype)
    x._version[0] += 1  # ops that saved x's old value see the change and refuse to backward
    x.array = out.array
    x.grad_fn = out.grad_fn
    x._requires_grad = out._requires_grad
    x._version = out._version
    return x


def _check_result(x: Tensor, out: Tensor, name: str):
    if tuple(out.shape) != tuple(x.shape):
        raise ShapeError(
            f"{name}: the result has shape {tuple(out.shape)} but an in-place op must keep the tensor's "
            f"shape {tuple(x.shape)}; the other operand can't be broadcast to it. Use the out-of-place op."
        )
    if not x.device.xp.can_cast(out.dtype, x.dtype, casting="same_kind"):
        raise TypeError(
            f"{name}: the result type {out.dtype} can't be cast to the tensor's dtype {x.dtype} in place "
            f"(e.g. a float result into an integer tensor); use the out-of-place op or convert first "
            f"(`x = x.to(tn.{out.dtype})`)"
        )


def _write_into(x: Tensor, out: Tensor, name: str):
    _check_result(x, out, name)
    if out.device is not x.device:  # ops refuse mixed devices first; kept as a guard
        raise RuntimeError(f"{name}: the result is on {out.device.type} but the tensor is on {x.device.type}")
    x.array[...] = out.array


def inplace(op, name: str):
    """The Tensor method ``x.<name>(*args, **kwargs)`` that runs ``op`` in place on ``x``."""
    def method(self, *args, **kwargs):
        return assign(self, op, name, args, kwargs)
    method.__name__ = name
    method.__doc__ = f"In-place form of ``{getattr(op, '__name__', name.rstrip('_'))}`` (see tinynet.functional.inplace)."
    return method
