"""ReLU forward and backward for the CPU (Numba): one pass over the elements.

The math of one element (``kernels/relu_math.py``) is shared with the twins in
``kernels/cuda/relu.py``. NumPy needs one pass for ``maximum`` and two for
``g * (x > 0)`` (a bool temporary), all on one thread; these loops make one pass, in
parallel from ``CPU_PARALLEL_MIN_ELEMENTS["relu"]`` elements up. The functional layer calls
them only from ``CPU_KERNEL_MIN_ELEMENTS["relu"]`` elements up (``kernels/policy.py``): below
that NumPy's call is cheaper than Numba's dispatch and a thread launch.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import relu_math
from .._math_module import compile_math
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ..relu_math import relu, relu_grad
from ._compile import serial_and_parallel

_RELU_MATH = compile_math(relu_math, njit(cache=True, inline="always"))


def _relu_loop(x, y):
    for i in prange(x.size):
        y[i] = relu(x[i])


def _relu_backward_loop(x, g, dx):
    for i in prange(x.size):
        dx[i] = relu_grad(x[i], g[i])


_relu = serial_and_parallel(_relu_loop, _RELU_MATH)
_relu_backward = serial_and_parallel(_relu_backward_loop, _RELU_MATH)


def relu_forward(x):
    """max(x, 0) elementwise (NaN propagates), same shape and dtype as ``x``."""
    flat = np.ascontiguousarray(x).reshape(-1)
    y = np.empty_like(flat)
    _relu[flat.size >= CPU_PARALLEL_MIN_ELEMENTS["relu"]](flat, y)
    return y.reshape(np.shape(x))


def relu_backward(x, g):
    """``g * (x > 0)``: the gradient of ReLU (0 at x = 0)."""
    flat = np.ascontiguousarray(x).reshape(-1)
    gf = np.ascontiguousarray(g, dtype=flat.dtype).reshape(-1)
    dx = np.empty_like(flat)
    _relu_backward[flat.size >= CPU_PARALLEL_MIN_ELEMENTS["relu"]](flat, gf, dx)
    return dx.reshape(np.shape(x))
