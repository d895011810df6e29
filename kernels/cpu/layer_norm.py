"""Fused layer normalisation on the CPU (Numba): one pass per row in each direction.

The math of one row (formulas in ``kernels/layer_norm_math.py``) is shared with the twin
in ``kernels/cuda/layer_norm.py``; this module compiles it with ``numba.njit`` and loops
over the rows, instead of NumPy's six to eight whole-array passes. The backward splits
the rows into chunks (one per thread): each chunk adds its rows' ``dw``/``db`` terms into
its own partial row, and the partial rows are summed at the end (no write races).

Serial loops up to ``CPU_PARALLEL_MIN_ELEMENTS["layer_norm"]`` elements
(``kernels/policy.py``), parallel above: on busy cores the thread pool waits for cores.
Row sums are compiled with ``fastmath={"reassoc", "contract", "arcp", "nsz"}`` so LLVM can
vectorise them (it may add in a different order; NaN and inf behave as in IEEE
arithmetic: no ``nnan``/``ninf``, so bad inputs still show).
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from .. import layer_norm_math
from .._math_module import compile_math
from ..layer_norm_math import backward_row, forward_row
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel

_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
# Inlined into the loops below: the row's loops then see the partial-sum rows and the
# input rows as the loop's own arrays (a call per row ran 15-50% slower).
_ROWS = compile_math(layer_norm_math, njit(cache=True, inline="always", fastmath=_FASTMATH))


def _forward_loop(x, w, b, eps, y, mean, rstd):
    for r in prange(x.shape[0]):
        forward_row(x, w, b, eps, y, mean, rstd, r)


def _backward_loop(g, x, w, mean, rstd, dx, dw_parts, db_parts):
    """Chunk c of the rows writes its dx rows and adds into ``dw_parts[c]``/``db_parts[c]``."""
    rows = x.shape[0]
    chunks = dw_parts.shape[0]
    step = (rows + chunks - 1) // chunks
    for c in prange(chunks):
        dw_part = dw_parts[c]
        db_part = db_parts[c]
        for r in range(c * step, min(rows, (c + 1) * step)):
            backward_row(g, x, w, mean, rstd, dx, r, dw_part, db_part, True)


_FORWARD = serial_and_parallel(_forward_loop, _ROWS, fastmath=_FASTMATH)
_BACKWARD = serial_and_parallel(_backward_loop, _ROWS, fastmath=_FASTMATH)


def layer_norm_forward(x, w, b, eps):
    """Normalise each row of the 2-D array ``x``; returns ``(y, mean, rstd)`` (mean/rstd per row)."""
    x = np.ascontiguousarray(x)
    rows = x.shape[0]
    y = np.empty_like(x)
    mean = np.empty(rows, dtype=x.dtype)
    rstd = np.empty(rows, dtype=x.dtype)
    runs_parallel = x.size >= CPU_PARALLEL_MIN_ELEMENTS["layer_norm"]
    _FORWARD[runs_parallel](x, np.ascontiguousarray(w, dtype=x.dtype), np.ascontiguousarray(b, dtype=x.dtype),
                            x.dtype.type(eps), y, mean, rstd)
    return y, mean, rstd


def layer_norm_backward(g, x, w, mean, rstd):
    """Gradients of :func:`layer_norm_forward`: returns ``(dx, dw, db)`` for the 2-D ``g``."""
    x = np.ascontiguousarray(x)
    g = np.ascontiguousarray(g, dtype=x.dtype)
    rows, n = x.shape
    runs_parallel = x.size >= CPU_PARALLEL_MIN_ELEMENTS["layer_norm"]
    chunks = max(1, min(get_num_threads(), rows)) if runs_parallel else 1
    dx = np.empty_like(x)
    dw_parts = np.zeros((chunks, n), dtype=x.dtype)
    db_parts = np.zeros((chunks, n), dtype=x.dtype)
    _BACKWARD[runs_parallel](g, x, np.ascontiguousarray(w, dtype=x.dtype), np.ascontiguousarray(mean, dtype=x.dtype),
                             np.ascontiguousarray(rstd, dtype=x.dtype), dx, dw_parts, db_parts)
    return dx, dw_parts.sum(axis=0), db_parts.sum(axis=0)
