"""Fused row-wise softmax, log-softmax and cross-entropy on the GPU (Numba CUDA).

Twins of ``kernels/cpu/softmax.py``: same names, same signatures, same math (see that
module's docstring). Inputs are 2-D ``(rows, C)`` arrays; the functional layer moves the
softmax axis to the end first.

One thread per row: rows are independent, and in this project's workloads C is small
(10 classes in W1/W2, a 65-symbol vocabulary in W3), so a row's three passes stay in
one thread's registers and L1 without any reduction across threads. The grid is
computed from the number of rows (``blocks_for``); a block has at most ``THREADS``
threads, fewer for tiny inputs, and the threads past the last row return at once.
A large C (a 50k-token vocabulary) would want a block per row with a shared-memory
reduction instead.
"""
from __future__ import annotations

import math

from numba import cuda

from ._launch import THREADS, array_module, blocks_for, prepare, stream_for


def _threads(rows: int) -> int:
    """Threads per block: THREADS, or the next multiple of a warp (32) for few rows."""
    return min(THREADS, max(32, (rows + 31) // 32 * 32))


def _launch(kernel, rows, like, *args):
    if rows:
        threads = _threads(rows)
        kernel[blocks_for(rows, threads), threads, stream_for(like)](*args)


@cuda.jit
def _softmax_kernel(x, y):
    i = cuda.grid(1)
    rows, C = x.shape
    if i >= rows:
        return
    m = -math.inf
    for j in range(C):
        if x[i, j] > m:
            m = x[i, j]
    s = 0.0
    for j in range(C):
        e = math.exp(x[i, j] - m)
        y[i, j] = e
        s += e
    inv = 1.0 / s
    for j in range(C):
        y[i, j] = y[i, j] * inv


@cuda.jit
def _log_softmax_kernel(x, y):
    i = cuda.grid(1)
    rows, C = x.shape
    if i >= rows:
        return
    m = -math.inf
    for j in range(C):
        if x[i, j] > m:
            m = x[i, j]
    s = 0.0
    for j in range(C):
        s += math.exp(x[i, j] - m)
    lse = m + math.log(s)
    for j in range(C):
        y[i, j] = x[i, j] - lse


@cuda.jit
def _softmax_backward_kernel(y, g, dx):
    i = cuda.grid(1)
    rows, C = y.shape
    if i >= rows:
        return
    dot = 0.0
    for j in range(C):
        dot += g[i, j] * y[i, j]
    for j in range(C):
        dx[i, j] = y[i, j] * (g[i, j] - dot)


@cuda.jit
def _log_softmax_backward_kernel(y, g, dx):
    i = cuda.grid(1)
    rows, C = y.shape
    if i >= rows:
        return
    s = 0.0
    for j in range(C):
        s += g[i, j]
    for j in range(C):
        dx[i, j] = g[i, j] - math.exp(y[i, j]) * s


@cuda.jit
def _cross_entropy_forward_kernel(x, target, ignore_index, label_smoothing, loss, lse_out):
    i = cuda.grid(1)
    rows, C = x.shape
    if i >= rows:
        return
    t = target[i]
    if t == ignore_index:
        loss[i] = 0.0
        lse_out[i] = 0.0
        return
    m = -math.inf
    for j in range(C):
        if x[i, j] > m:
            m = x[i, j]
    s = 0.0
    total = 0.0  # sum of x - m
    for j in range(C):
        d = x[i, j] - m
        s += math.exp(d)
        total += d
    log_s = math.log(s)
    lse_out[i] = float(m) + log_s
    # lse - (1 - eps) x_t - eps/C sum(x), written with x - m: no difference of large numbers.
    loss[i] = log_s - (1.0 - label_smoothing) * (x[i, t] - m) - (label_smoothing / C) * total


@cuda.jit
def _cross_entropy_backward_kernel(x, lse, target, scale, ignore_index, label_smoothing, dx):
    i = cuda.grid(1)
    rows, C = x.shape
    if i >= rows:
        return
    t = target[i]
    if t == ignore_index:
        for j in range(C):
            dx[i, j] = 0.0
        return
    sc = scale[i]
    spread = label_smoothing / C
    # exp(x - lse) = exp((x - m) - r), r = lse - m rounded to x's dtype through dx[i, 0]
    # (overwritten below): float32 rows then use the single-precision exp.
    m = x[i, 0]
    for j in range(1, C):
        if x[i, j] > m:
            m = x[i, j]
    dx[i, 0] = lse[i] - m
    r = dx[i, 0]
    for j in range(C):
        dx[i, j] = (math.exp(x[i, j] - m - r) - spread) * sc
    dx[i, t] -= (1.0 - label_smoothing) * sc


# --- host wrappers (same names and signatures as kernels/cpu/softmax.py) ---------------
def softmax_forward(x):
    """Softmax of each row of ``x`` (rows, C)."""
    xp = array_module(x)
    x = prepare(x)
    y = xp.empty_like(x)
    _launch(_softmax_kernel, x.shape[0], x, x, y)
    return y


def log_softmax_forward(x):
    """Log-softmax of each row of ``x`` (rows, C)."""
    xp = array_module(x)
    x = prepare(x)
    y = xp.empty_like(x)
    _launch(_log_softmax_kernel, x.shape[0], x, x, y)
    return y


def softmax_backward(y, g):
    """Gradient of softmax given its output ``y`` and the output gradient ``g``."""
    xp = array_module(y)
    y = prepare(y)
    g = prepare(g, y.dtype)
    dx = xp.empty_like(y)
    _launch(_softmax_backward_kernel, y.shape[0], y, y, g, dx)
    return dx


def log_softmax_backward(y, g):
    """Gradient of log-softmax given its output ``y`` and the output gradient ``g``."""
    xp = array_module(y)
    y = prepare(y)
    g = prepare(g, y.dtype)
    dx = xp.empty_like(y)
    _launch(_log_softmax_backward_kernel, y.shape[0], y, y, g, dx)
    return dx


def cross_entropy_forward(x, target, ignore_index, label_smoothing):
    """Per-row cross-entropy ``(loss, lse)`` of logits ``x`` (rows, C) and class indices
    (loss in x's dtype, log-sum-exp in float64; see the cpu twin)."""
    xp = array_module(x)
    x = prepare(x)
    target = prepare(target, "int64")
    rows = x.shape[0]
    loss = xp.zeros(rows, dtype=x.dtype)
    lse = xp.zeros(rows, dtype="float64")
    _launch(_cross_entropy_forward_kernel, rows, x, x, target, int(ignore_index), float(label_smoothing), loss, lse)
    return loss, lse


def cross_entropy_backward(x, lse, target, scale, ignore_index, label_smoothing):
    """Gradient of the per-row cross-entropy, row ``i`` scaled by ``scale[i]``."""
    xp = array_module(x)
    x = prepare(x)
    lse = prepare(lse, "float64")
    target = prepare(target, "int64")
    scale = prepare(scale, x.dtype)
    dx = xp.empty_like(x)
    _launch(_cross_entropy_backward_kernel, x.shape[0], x, x, lse, target, scale, int(ignore_index),
            float(label_smoothing), dx)
    return dx
