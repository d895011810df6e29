"""ReLU forward and backward on the GPU (Numba CUDA): twins of ``kernels/cpu/relu.py``
(same names and signatures), the math of ``kernels/relu_math.py`` in one thread per
element of the flattened array."""
from __future__ import annotations

from numba import cuda

from .. import relu_math
from .._math_module import compile_math
from ._launch import array_module, launch, prepare

_RELU_MATH = compile_math(relu_math, cuda.jit(device=True))


@cuda.jit
def _relu_kernel(x, y):
    i = cuda.grid(1)
    if i < x.size:
        y[i] = _RELU_MATH.relu(x[i])


@cuda.jit
def _relu_backward_kernel(x, g, dx):
    i = cuda.grid(1)
    if i < x.size:
        dx[i] = _RELU_MATH.relu_grad(x[i], g[i])


def relu_forward(x):
    """max(x, 0) elementwise (NaN propagates)."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    y = xp.empty_like(flat)
    launch(_relu_kernel, flat.size, flat, flat, y)
    return y.reshape(x.shape)


def relu_backward(x, g):
    """``g * (x > 0)``."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    gf = prepare(g, flat.dtype).reshape(-1)
    dx = xp.empty_like(flat)
    launch(_relu_backward_kernel, flat.size, flat, flat, gf, dx)
    return dx.reshape(x.shape)
