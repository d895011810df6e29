"""GELU and erf on the GPU (Numba CUDA): twins of ``kernels/cpu/gelu.py`` (same names and
signatures), one thread per element over the flattened array.

The math of one element is ``kernels/gelu_math.py`` (formulas there), compiled here with
the module's own ``math.exp``/``math.erfc``: on a GPU they are fast intrinsics, so there
is no separate float32 formula as on the cpu. ``gelu_forward(..., with_grad=True)``
computes the value and the derivative in one kernel, sharing the gate (Phi or the
sigmoid) between them.
"""
from __future__ import annotations

import math

from numba import cuda

from .. import gelu_math
from .._math_module import compile_math
from ._launch import array_module, launch, prepare

_GELU_MATH = compile_math(gelu_math, cuda.jit(device=True))


@cuda.jit
def _gelu_kernel(x, tanh_approx, y):
    i = cuda.grid(1)
    if i < x.size:
        y[i] = _GELU_MATH.gelu(x[i], tanh_approx)


@cuda.jit
def _gelu_and_grad_kernel(x, tanh_approx, y, d):
    i = cuda.grid(1)
    if i < x.size:
        y[i], d[i] = _GELU_MATH.gelu_and_grad(x[i], tanh_approx)


@cuda.jit
def _gelu_backward_kernel(x, g, tanh_approx, dx):
    i = cuda.grid(1)
    if i < x.size:
        dx[i] = g[i] * _GELU_MATH.gelu_grad(x[i], tanh_approx)


@cuda.jit
def _erf_kernel(x, y):
    i = cuda.grid(1)
    if i < x.size:
        y[i] = math.erf(x[i])


def _elementwise(kernel, x, *args, outputs=1):
    """``outputs`` new arrays shaped like ``x``, written by ``kernel`` (one thread per
    element of the flattened ``x``) from ``x`` and ``args``."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    out = [xp.empty_like(flat) for _ in range(outputs)]
    launch(kernel, flat.size, flat, flat, *args, *out)
    return tuple(o.reshape(x.shape) for o in out) if outputs > 1 else out[0].reshape(x.shape)


def erf(x):
    """The error function, elementwise."""
    return _elementwise(_erf_kernel, x)


def gelu_forward(x, tanh_approx, with_grad=False):
    """GELU of every element (exact, or the tanh approximation); with ``with_grad``,
    ``(y, dy/dx)`` from one kernel (as on the cpu, so the backward is one multiply)."""
    if with_grad:
        return _elementwise(_gelu_and_grad_kernel, x, bool(tanh_approx), outputs=2)
    return _elementwise(_gelu_kernel, x, bool(tanh_approx))


def gelu_backward(x, g, tanh_approx):
    """``g * GELU'(x)`` elementwise."""
    return _elementwise(_gelu_backward_kernel, x, prepare(g, x.dtype).reshape(-1), bool(tanh_approx))
