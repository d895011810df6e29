"""Fused row-wise softmax, log-softmax and cross-entropy kernels for the CPU (Numba).

The math of one row (formulas in ``kernels/softmax_math.py``) is shared with the twins in
``kernels/cuda/softmax.py``; this module compiles it with ``numba.njit`` and runs it over
the rows of a C-contiguous 2-D array ``(rows, C)`` (the functional layer moves the softmax
axis to the end and reshapes to 2-D before calling).

Two compilations of the row math. float32 rows bind ``_vecmath.exp32`` (a float32 exp
that LLVM turns into SIMD code; libm's ``exp`` cannot be vectorised without Intel SVML);
float64 rows keep libm's ``exp``. Both take the row maximum with ``_vecmath.maxnum``, which
vectorises (Python's ``max`` leaves it one scalar compare per element, the largest cost of
a wide row). The row maximum and every sum stay in float64 for float32 rows too:
carrying them in float32 ran wide rows ~30 % faster, but a data-parallel ResNet run on two
processes then drifted 9e-4 away from the one-process run in one epoch (1e-7 with float64
sums; ``tests/test_distributed_cli.py``), a sensitivity not understood yet, so the float64
sums stay. Row sums are compiled with ``fastmath={"reassoc", "contract", "nsz"}`` so they
vectorise (LLVM may add in a different order; NaN and inf behave as in IEEE arithmetic: no
``nnan``/``ninf``).

Each row function runs in a serial loop over the rows or, from
``CPU_PARALLEL_MIN_ELEMENTS["softmax"]`` elements up (``kernels/policy.py``), in a parallel
one (both compiled from one loop body by ``_compile.serial_and_parallel``): waking the
thread pool costs tens of microseconds. Whether tinynet calls these on "cpu" or plain
NumPy is ``CPU_KERNEL_MIN_ELEMENTS["softmax"]``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import softmax_math
from .._math_module import compile_math
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ..softmax_math import (cross_entropy_backward_row, cross_entropy_row, log_softmax_backward_row,
                            log_softmax_row, softmax_backward_row, softmax_row)
from ._compile import serial_and_parallel
from ._vecmath import exp32, maxnum

_compile_row = njit(cache=True, fastmath={"reassoc", "contract", "nsz"}, error_model="numpy")
_ROWS_FLOAT64 = compile_math(softmax_math, _compile_row, "libm", maximum=maxnum)
_ROWS_FLOAT32 = compile_math(softmax_math, _compile_row, "float32", exp=exp32, maximum=maxnum)


# --- the loops over rows: each calls the row function it names, bound to one compilation ---
def _softmax_loop(x, y):
    for i in prange(x.shape[0]):
        softmax_row(x, y, i)


def _log_softmax_loop(x, y):
    for i in prange(x.shape[0]):
        log_softmax_row(x, y, i)


def _softmax_backward_loop(y, g, dx):
    for i in prange(y.shape[0]):
        softmax_backward_row(y, g, dx, i)


def _log_softmax_backward_loop(y, g, dx):
    for i in prange(y.shape[0]):
        log_softmax_backward_row(y, g, dx, i)


def _cross_entropy_loop(x, target, ignore_index, label_smoothing, loss, lse):
    for i in prange(x.shape[0]):
        cross_entropy_row(x, target, ignore_index, label_smoothing, loss, lse, i)


def _cross_entropy_backward_loop(x, lse, target, scale, ignore_index, label_smoothing, dx):
    for i in prange(x.shape[0]):
        cross_entropy_backward_row(x, lse, target, scale, ignore_index, label_smoothing, dx, i)


def _compile_loop(body):
    """``loops[is_float32][runs_parallel]``: ``body`` with its row function from the
    float64 or the float32 compilation of the row math, serial or parallel."""
    return serial_and_parallel(body, _ROWS_FLOAT64), serial_and_parallel(body, _ROWS_FLOAT32)


_SOFTMAX = _compile_loop(_softmax_loop)
_LOG_SOFTMAX = _compile_loop(_log_softmax_loop)
_SOFTMAX_BACKWARD = _compile_loop(_softmax_backward_loop)
_LOG_SOFTMAX_BACKWARD = _compile_loop(_log_softmax_backward_loop)
_CROSS_ENTROPY = _compile_loop(_cross_entropy_loop)
_CROSS_ENTROPY_BACKWARD = _compile_loop(_cross_entropy_backward_loop)


def _loop(loops, a):
    """The loop for array ``a``: the float32 compilation for float32, parallel from the policy's size."""
    is_float32 = a.dtype == np.float32
    runs_parallel = a.size >= CPU_PARALLEL_MIN_ELEMENTS["softmax"]
    return loops[is_float32][runs_parallel]


def _contiguous(a, dtype=None):
    """C-contiguous (and of ``dtype``): one compiled specialisation per dtype, no strided reads."""
    return np.ascontiguousarray(a, dtype=dtype)


def _rowwise(loops, first, second=None):
    """A new array like ``first`` (rows, C), written row by row by the loop of ``loops``
    that suits ``first``, from ``first`` (and ``second``, converted to first's dtype)."""
    first = _contiguous(first)
    out = np.empty_like(first)
    if second is None:
        _loop(loops, first)(first, out)
    else:
        _loop(loops, first)(first, _contiguous(second, first.dtype), out)
    return out


# --- public kernels (same names and signatures as kernels/cuda/softmax.py) -------------
def softmax_forward(x):
    """Softmax of each row of ``x`` (rows, C)."""
    return _rowwise(_SOFTMAX, x)


def log_softmax_forward(x):
    """Log-softmax of each row of ``x`` (rows, C): ``x - logsumexp(x)``."""
    return _rowwise(_LOG_SOFTMAX, x)


def softmax_backward(y, g):
    """Gradient of softmax: ``y * (g - sum(g * y))`` per row (y = softmax output)."""
    return _rowwise(_SOFTMAX_BACKWARD, y, g)


def log_softmax_backward(y, g):
    """Gradient of log-softmax: ``g - exp(y) * sum(g)`` per row (y = log_softmax output)."""
    return _rowwise(_LOG_SOFTMAX_BACKWARD, y, g)


def cross_entropy_forward(x, target, ignore_index, label_smoothing):
    """Per-row cross-entropy of logits ``x`` (rows, C) with class indices ``target`` (rows,).

    Returns ``(loss, lse)``, both (rows,): each row's loss in x's dtype (0 where the
    target is ``ignore_index``) and its log-sum-exp in float64, kept for the backward
    (``exp(x - lse)`` with a float32 lse of a row of logits near 1e4 would be off by
    ~1e-3 relative). Targets must already be checked to lie in [0, C) (the functional
    op does that).
    """
    x = _contiguous(x)
    target = _contiguous(target, np.int64)
    loss = np.empty(x.shape[0], dtype=x.dtype)
    lse = np.empty(x.shape[0], dtype=np.float64)
    _loop(_CROSS_ENTROPY, x)(x, target, int(ignore_index), float(label_smoothing), loss, lse)
    return loss, lse


def cross_entropy_backward(x, lse, target, scale, ignore_index, label_smoothing):
    """Gradient of the per-row cross-entropy, each row multiplied by ``scale[row]``.

    ``dx[i, j] = (exp(x[i, j] - lse[i]) - (1 - eps) [j == t_i] - eps / C) * scale[i]``;
    rows whose target is ``ignore_index`` get zeros. ``scale`` carries the incoming
    gradient and the reduction (1/count for "mean").
    """
    x = _contiguous(x)
    lse = _contiguous(lse, np.float64)
    target = _contiguous(target, np.int64)
    scale = _contiguous(scale, x.dtype)
    dx = np.empty_like(x)
    _loop(_CROSS_ENTROPY_BACKWARD, x)(x, lse, target, scale, int(ignore_index), float(label_smoothing), dx)
    return dx
