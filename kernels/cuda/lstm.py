"""Fused LSTM gate math for one time step on the GPU (Numba CUDA); twin of ``kernels/cpu/lstm.py``.

One thread per (row, hidden unit): it reads that unit's four gates and writes its cell,
tanh(cell) and hidden values (forward) or its four gate gradients and the carried cell
gradient (backward). The same math as the cpu kernel; arrays must be C-contiguous (the
recurrent layer allocates them so) because the kernels write into them in place.
"""
from __future__ import annotations

import math

from numba import cuda

from ._launch import THREADS, blocks_for, stream_for


@cuda.jit
def _forward_kernel(a, c_prev, c, tc, h):
    k = cuda.grid(1)
    n, h4 = a.shape
    H = h4 // 4
    if k >= n * H:
        return
    r = k // H
    j = k - r * H
    i = 1.0 / (1.0 + math.exp(-a[r, j]))
    f = 1.0 / (1.0 + math.exp(-a[r, H + j]))
    g = math.tanh(a[r, 2 * H + j])
    o = 1.0 / (1.0 + math.exp(-a[r, 3 * H + j]))
    a[r, j] = i
    a[r, H + j] = f
    a[r, 2 * H + j] = g
    a[r, 3 * H + j] = o
    cc = f * c_prev[r, j] + i * g
    t = math.tanh(cc)
    c[r, j] = cc
    tc[r, j] = t
    h[r, j] = o * t


@cuda.jit
def _backward_kernel(acts, tc, c_prev, dh, dc, dgates):
    k = cuda.grid(1)
    n, h4 = acts.shape
    H = h4 // 4
    if k >= n * H:
        return
    r = k // H
    j = k - r * H
    i = acts[r, j]
    f = acts[r, H + j]
    g = acts[r, 2 * H + j]
    o = acts[r, 3 * H + j]
    t = tc[r, j]
    d = dh[r, j]
    dct = dc[r, j] + d * o * (1.0 - t * t)
    dgates[r, j] = dct * g * i * (1.0 - i)
    dgates[r, H + j] = dct * c_prev[r, j] * f * (1.0 - f)
    dgates[r, 2 * H + j] = dct * i * (1.0 - g * g)
    dgates[r, 3 * H + j] = d * t * o * (1.0 - o)
    dc[r, j] = dct * f


def _contiguous(*arrays):
    for x in arrays:
        if not x.flags.c_contiguous:
            raise ValueError("lstm gate kernels: every array must be C-contiguous (they are written in place)")


def lstm_gates_forward(a, c_prev, c, tc, h):
    """Activate the gate pre-activations ``a`` (N, 4H) in place; write ``c``, ``tanh(c)``, ``h`` (N, H)."""
    _contiguous(a, c_prev, c, tc, h)
    total = a.shape[0] * (a.shape[1] // 4)
    if total:
        _forward_kernel[blocks_for(total), THREADS, stream_for(a)](a, c_prev, c, tc, h)


def lstm_gates_backward(acts, tc, c_prev, dh, dc, dgates):
    """Write the gate gradients ``dgates`` (N, 4H); update the cell gradient ``dc`` in place to dc_prev."""
    _contiguous(acts, tc, c_prev, dh, dc, dgates)
    total = acts.shape[0] * (acts.shape[1] // 4)
    if total:
        _backward_kernel[blocks_for(total), THREADS, stream_for(acts)](acts, tc, c_prev, dh, dc, dgates)
