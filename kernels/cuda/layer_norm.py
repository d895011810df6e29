"""Fused layer normalisation on the GPU (Numba CUDA), twin of ``kernels/cpu/layer_norm.py``.

Same math as the cpu kernel. The forward and ``dx`` use one thread per row (rows are
independent and the widths of this project's models are small: 64-512), ``dw``/``db``
one thread per column summing down the rows, so no atomics are needed and the result
does not depend on scheduling.
"""
from __future__ import annotations

import math

from numba import cuda

from ._launch import THREADS, array_module, blocks_for, prepare, stream_for


@cuda.jit
def _forward_kernel(x, w, b, eps, y, mean, rstd):
    r = cuda.grid(1)
    rows, n = x.shape
    if r >= rows:
        return
    s = 0.0
    for j in range(n):
        s += x[r, j]
    mu = s / n
    v = 0.0
    for j in range(n):
        d = x[r, j] - mu
        v += d * d
    rs = 1.0 / math.sqrt(v / n + eps)
    mean[r] = mu
    rstd[r] = rs
    for j in range(n):
        y[r, j] = (x[r, j] - mu) * rs * w[j] + b[j]


@cuda.jit
def _dx_kernel(g, x, w, mean, rstd, dx):
    r = cuda.grid(1)
    rows, n = x.shape
    if r >= rows:
        return
    mu = mean[r]
    rs = rstd[r]
    s1 = 0.0
    s2 = 0.0
    for j in range(n):
        gx = g[r, j] * w[j]
        s1 += gx
        s2 += gx * (x[r, j] - mu) * rs
    m1 = s1 / n
    m2 = s2 / n
    for j in range(n):
        dx[r, j] = rs * (g[r, j] * w[j] - m1 - (x[r, j] - mu) * rs * m2)


@cuda.jit
def _dwdb_kernel(g, x, mean, rstd, dw, db):
    j = cuda.grid(1)
    rows, n = x.shape
    if j >= n:
        return
    sw = 0.0
    sb = 0.0
    for r in range(rows):
        sw += g[r, j] * (x[r, j] - mean[r]) * rstd[r]
        sb += g[r, j]
    dw[j] = sw
    db[j] = sb


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
    if rows:
        _forward_kernel[blocks_for(rows), THREADS, stream_for(x)](x, w, b, float(eps), y, mean, rstd)
    return y, mean, rstd


def layer_norm_backward(g, x, w, mean, rstd):
    """Gradients of :func:`layer_norm_forward`: ``(dx, dw, db)``."""
    xp = array_module(x)
    x = prepare(x)
    g = prepare(g, x.dtype)
    w = prepare(w, x.dtype)
    rows, n = x.shape
    dx = xp.empty_like(x)
    dw = xp.zeros(n, dtype=x.dtype)
    db = xp.zeros(n, dtype=x.dtype)
    if rows and n:
        stream = stream_for(x)
        _dx_kernel[blocks_for(rows), THREADS, stream](g, x, w, mean, rstd, dx)
        _dwdb_kernel[blocks_for(n), THREADS, stream](g, x, mean, rstd, dw, db)
    return dx, dw, db
