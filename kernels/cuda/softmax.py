"""Fused row-wise softmax, log-softmax and cross-entropy on the GPU (Numba CUDA).

Twins of ``kernels/cpu/softmax.py``: same names and signatures, and the same row math,
``kernels/softmax_math.py`` (formulas there), compiled here as CUDA device functions.
Inputs are 2-D ``(rows, C)`` arrays; the functional layer moves the softmax axis to the
end first.

One thread per row: rows are independent, and in this project's workloads C is small
(10 classes in W1/W2, a 65-symbol vocabulary in W3), so a row's passes stay in one
thread's registers and L1 without any reduction across threads. A large C (a 50k-token
vocabulary) would want a block per row with a shared-memory reduction instead.
``_launch.launch`` sizes the grid from the number of rows; threads past the last row
return at once.
"""
from __future__ import annotations

from numba import cuda

from .. import softmax_math
from .._math_module import compile_math
from ._launch import array_module, launch, prepare

_ROWS = compile_math(softmax_math, cuda.jit(device=True))


@cuda.jit
def _softmax_kernel(x, y):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _ROWS.softmax_row(x, y, i)


@cuda.jit
def _log_softmax_kernel(x, y):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _ROWS.log_softmax_row(x, y, i)


@cuda.jit
def _softmax_backward_kernel(y, g, dx):
    i = cuda.grid(1)
    if i < y.shape[0]:
        _ROWS.softmax_backward_row(y, g, dx, i)


@cuda.jit
def _log_softmax_backward_kernel(y, g, dx):
    i = cuda.grid(1)
    if i < y.shape[0]:
        _ROWS.log_softmax_backward_row(y, g, dx, i)


@cuda.jit
def _cross_entropy_forward_kernel(x, target, ignore_index, label_smoothing, loss, lse):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _ROWS.cross_entropy_row(x, target, ignore_index, label_smoothing, loss, lse, i)


@cuda.jit
def _cross_entropy_backward_kernel(x, lse, target, scale, ignore_index, label_smoothing, dx):
    i = cuda.grid(1)
    if i < x.shape[0]:
        _ROWS.cross_entropy_backward_row(x, lse, target, scale, ignore_index, label_smoothing, dx, i)


def _rowwise(kernel, first, second=None):
    """A new array like ``first`` (rows, C), written by ``kernel`` (one thread per row) from
    ``first`` (and ``second``, converted to first's dtype)."""
    xp = array_module(first)
    first = prepare(first)
    out = xp.empty_like(first)
    if second is None:
        launch(kernel, first.shape[0], first, first, out)
    else:
        launch(kernel, first.shape[0], first, first, prepare(second, first.dtype), out)
    return out


# --- host wrappers: the names, signatures and results of kernels/cpu/softmax.py (documented there)
def _row_wrapper(name, kernel, arguments):
    """The host wrapper ``name(x)`` or ``name(y, g)`` that runs ``kernel`` one thread per row."""
    if arguments == ("x",):
        def wrapper(x):
            return _rowwise(kernel, x)
    else:
        def wrapper(y, g):
            return _rowwise(kernel, y, g)
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = f"{name} of each row: the twin of kernels/cpu/softmax.{name}."
    return wrapper


softmax_forward = _row_wrapper("softmax_forward", _softmax_kernel, ("x",))
log_softmax_forward = _row_wrapper("log_softmax_forward", _log_softmax_kernel, ("x",))
softmax_backward = _row_wrapper("softmax_backward", _softmax_backward_kernel, ("y", "g"))
log_softmax_backward = _row_wrapper("log_softmax_backward", _log_softmax_backward_kernel, ("y", "g"))


def cross_entropy_forward(x, target, ignore_index, label_smoothing):
    """Per-row cross-entropy ``(loss, lse)`` of logits ``x`` (rows, C) and class indices
    (loss in x's dtype, log-sum-exp in float64; see the cpu twin)."""
    xp = array_module(x)
    x = prepare(x)
    target = prepare(target, "int64")
    rows = x.shape[0]
    loss = xp.zeros(rows, dtype=x.dtype)
    lse = xp.zeros(rows, dtype="float64")
    launch(_cross_entropy_forward_kernel, rows, x, x, target, int(ignore_index), float(label_smoothing), loss, lse)
    return loss, lse


def cross_entropy_backward(x, lse, target, scale, ignore_index, label_smoothing):
    """Gradient of the per-row cross-entropy, row ``i`` scaled by ``scale[i]``."""
    xp = array_module(x)
    x = prepare(x)
    lse = prepare(lse, "float64")
    target = prepare(target, "int64")
    scale = prepare(scale, x.dtype)
    dx = xp.empty_like(x)
    launch(_cross_entropy_backward_kernel, x.shape[0], x, x, lse, target, scale, int(ignore_index),
           float(label_smoothing), dx)
    return dx
