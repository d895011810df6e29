"""Softmax, log-softmax and cross-entropy of one row, written once as plain Python.

``kernels/cpu/softmax.py`` compiles these with ``numba.njit`` and loops over the rows
(serially, or in parallel for large arrays); ``kernels/cuda/softmax.py`` compiles them
with ``numba.cuda.jit(device=True)`` and runs one GPU thread per row. Both go through
``kernels/_math_module.compile_math``, so the two devices run the same formulas.

Every function works on row ``i`` of a C-contiguous 2-D array ``(rows, C)``: the class (or
feature) axis is the last one; the functional layer moves the softmax axis to the end and
reshapes to 2-D before calling. ``C`` is at least 1. With ``m = max(x)`` (which keeps
``exp`` from overflowing)::

    softmax            y_j = exp(x_j - m) / sum_k exp(x_k - m)
    log_softmax        y_j = x_j - lse,   lse = m + log(sum_k exp(x_k - m))
    softmax bwd        dx_j = y_j (g_j - sum_k g_k y_k)        (y = softmax output)
    log_softmax bwd    dx_j = g_j - exp(y_j) sum_k g_k          (y = log_softmax output)
    cross-entropy      loss = lse - (1 - eps) x_t - (eps / C) sum_k x_k
    cross-entropy bwd  dx_j = (exp(x_j - lse) - (1 - eps) [j == t] - eps / C) * scale

for a row with class target ``t`` and label smoothing ``eps``; a row whose target equals
``ignore_index`` gets loss 0 and gradient 0.

Precision: the row maximum is returned as a float64, so ``x - m`` and every sum are formed
in float64 for float32 rows too, and the log-sum-exp is kept in float64 for the backward
(``x - lse`` is formed in float64: a float32 lse of logits near 1e4 would be off by ~5e-4).

``exp`` and ``maximum`` (below) are the names a device may bind differently. Every argument
``exp`` gets here is <= 0 (``x - m``, ``x - lse`` or a log-probability); the cpu float32
rows bind ``kernels/cpu/_vecmath.exp32`` (float32, vectorisable), float64 rows and the GPU
keep ``math.exp``. The cpu binds ``maximum`` to ``_vecmath.maxnum``, which LLVM vectorises
in :func:`row_max`; the GPU keeps ``max``.
"""
import math

import numpy as np

#: The exponential of an argument <= 0 (a device may bind a faster one valid only there).
exp = math.exp
#: The larger of two numbers (a device may bind one that its compiler vectorises in the
#: row maximum; with NaN rows the result is NaN either way, through ``exp``).
maximum = max


def row_max(x, i):
    """max(x[i, :]) as a float64 (the row has at least one element)."""
    m = x[i, 0]
    for j in range(1, x.shape[1]):
        m = maximum(m, x[i, j])
    return np.float64(m)  # (Numba's float() would keep a float32 a float32)


def softmax_row(x, y, i):
    C = x.shape[1]
    m = row_max(x, i)
    s = 0.0
    for j in range(C):
        e = exp(x[i, j] - m)
        y[i, j] = e
        s += e
    inv = 1.0 / s
    for j in range(C):
        y[i, j] = y[i, j] * inv


def log_softmax_row(x, y, i):
    C = x.shape[1]
    m = row_max(x, i)
    s = 0.0
    for j in range(C):
        s += exp(x[i, j] - m)
    log_s = math.log(s)
    for j in range(C):
        y[i, j] = (x[i, j] - m) - log_s  # (not x - (m + log s): that rounds a large m + log s)


def softmax_backward_row(y, g, dx, i):
    C = y.shape[1]
    dot = 0.0
    for j in range(C):
        dot += g[i, j] * y[i, j]
    for j in range(C):
        dx[i, j] = y[i, j] * (g[i, j] - dot)


def log_softmax_backward_row(y, g, dx, i):
    C = y.shape[1]
    s = 0.0
    for j in range(C):
        s += g[i, j]
    for j in range(C):
        dx[i, j] = g[i, j] - exp(y[i, j]) * s


def cross_entropy_row(x, target, ignore_index, label_smoothing, loss, lse, i):
    """Row i's loss (in x's dtype) and its log-sum-exp (float64, for the backward)."""
    C = x.shape[1]
    t = target[i]
    if t == ignore_index:
        loss[i] = 0.0
        lse[i] = 0.0
        return
    m = row_max(x, i)
    s = 0.0
    total = 0.0  # sum of x - m
    for j in range(C):
        d = x[i, j] - m
        s += exp(d)
        total += d
    log_s = math.log(s)
    lse[i] = m + log_s
    # lse - (1 - eps) x_t - eps/C sum(x), written with x - m: no difference of large numbers.
    loss[i] = log_s - (1.0 - label_smoothing) * (x[i, t] - m) - (label_smoothing / C) * total


def cross_entropy_backward_row(x, lse, target, scale, ignore_index, label_smoothing, dx, i):
    """Row i of the gradient, times ``scale[i]`` (the incoming gradient and the reduction)."""
    C = x.shape[1]
    t = target[i]
    if t == ignore_index:
        for j in range(C):
            dx[i, j] = 0.0
        return
    sc = scale[i]
    spread = label_smoothing / C
    for j in range(C):
        dx[i, j] = (exp(x[i, j] - lse[i]) - spread) * sc  # lse >= max(x): argument <= 0
    dx[i, t] -= (1.0 - label_smoothing) * sc
