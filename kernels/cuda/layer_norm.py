"""Fused layer normalisation on the GPU (Numba CUDA), twin of ``kernels/cpu/layer_norm.py``.

The math of one row (formulas in ``kernels/layer_norm_math.py``) is shared with the cpu
kernel, compiled here as CUDA device functions. The forward and ``dx`` use one thread per
row (rows are independent and the widths of this project's models are small: 64-512),
``dw``/``db`` one thread per column summing down the rows, so no atomics are needed and
the result does not depend on scheduling.
"""
from __future__ import annotations

from numba import cuda

from .. import layer_norm_math
from .._math_module import compile_math
from ._launch import array_module, launch, prepare

_ROWS = compile_math(layer_norm_math, cuda.jit(device=True))


@cuda.jit
def _forward_kernel(x, w, b, eps, y, mean, rstd):
    r = cuda.grid(1)
    if r < x.shape[0]:
        _ROWS.forward_row(x, w, b, eps, y, mean, rstd, r)


@cuda.jit
def _dx_kernel(g, x, w, mean, rstd, dx, dw, db):
    r = cuda.grid(1)
    if r < x.shape[0]:
        _ROWS.backward_row(g, x, w, mean, rstd, dx, r, dw, db, False)  # dx only: dw, db untouched


@cuda.jit
def _dw_db_kernel(g, x, mean, rstd, dw, db):
    j = cuda.grid(1)
    if j < x.shape[1]:
        _ROWS.dw_db_column(g, x, mean, rstd, dw, db, j)


def layer_norm_forward(x, w, b, eps):
    """Normalise each row of the 2-D array ``x``; returns ``(y, mean, rstd)``."""
    xp = array_module(x)
    x = prepare(x)
    w = prepare(w, x.dtype)
    b = prepare(b, x.dtype)
    rows = x.shape[0]
    y = xp.empty_like(x)
    mean = xp.empty(rows, dtype=x.dtype)
    rstd = xp.empty(rows, dtype=x.dtype)
    launch(_forward_kernel, rows, x, x, w, b, float(eps), y, mean, rstd)
    return y, mean, rstd


def layer_norm_backward(g, x, w, mean, rstd):
    """Gradients of :func:`layer_norm_forward`: ``(dx, dw, db)``."""
    xp = array_module(x)
    x = prepare(x)
    g = prepare(g, x.dtype)
    w = prepare(w, x.dtype)
    mean = prepare(mean, x.dtype)
    rstd = prepare(rstd, x.dtype)
    rows, n = x.shape
    dx = xp.empty_like(x)
    dw = xp.zeros(n, dtype=x.dtype)
    db = xp.zeros(n, dtype=x.dtype)
    if rows and n:
        launch(_dx_kernel, rows, x, g, x, w, mean, rstd, dx, dw, db)
        launch(_dw_db_kernel, n, x, g, x, mean, rstd, dw, db)
    return dx, dw, db
