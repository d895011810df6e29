"""ReLU forward and backward on the GPU (Numba CUDA): twins of ``kernels/cpu/relu.py``,
one thread per element of the flattened array."""
from __future__ import annotations

from numba import cuda

from ._launch import THREADS, array_module, blocks_for, prepare, stream_for



@cuda.jit
def _relu_kernel(x, y):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        y[i] = v if not v <= 0 else 0


@cuda.jit
def _relu_backward_kernel(x, g, dx):
    i = cuda.grid(1)
    if i < x.size:
        dx[i] = g[i] * (x[i] > 0)


def relu_forward(x):
    """max(x, 0) elementwise (NaN propagates)."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    y = xp.empty_like(flat)
    if flat.size:
        _relu_kernel[blocks_for(flat.size), THREADS, stream_for(flat)](flat, y)
    return y.reshape(x.shape)


def relu_backward(x, g):
    """``g * (x > 0)``."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    gf = prepare(g, flat.dtype).reshape(-1)
    dx = xp.empty_like(flat)
    if flat.size:
        _relu_backward_kernel[blocks_for(flat.size), THREADS, stream_for(flat)](flat, gf, dx)
    return dx.reshape(x.shape)
