"""GELU and erf on the GPU (Numba CUDA): twins of ``kernels/cpu/gelu.py`` (same math,
names and signatures), one thread per element over the flattened array. Phi comes from
``erfc`` and the tanh form is written as ``x * sigmoid(2u)``, as on the cpu (no
cancellation in the negative tail); the GPU's erfc/exp are fast intrinsics, so there
is no separate float32 formula here."""
from __future__ import annotations

import math

from numba import cuda

from ._launch import THREADS, array_module, blocks_for, prepare, stream_for

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@cuda.jit
def _erf_kernel(x, y):
    i = cuda.grid(1)
    if i < x.size:
        y[i] = math.erf(x[i])


@cuda.jit(device=True)
def _sigmoid2(u):
    """sigmoid(2u) = 0.5 (1 + tanh u), without the cancellation of 1 + tanh(u) for u << 0."""
    e = math.exp(-2.0 * abs(u))
    if u >= 0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


@cuda.jit
def _gelu_kernel(x, tanh_approx, y):
    i = cuda.grid(1)
    if i >= x.size:
        return
    v = x[i]
    if tanh_approx:
        y[i] = v * _sigmoid2(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))
    else:
        y[i] = 0.5 * v * math.erfc(-v * _INV_SQRT_2)


@cuda.jit(device=True)
def _gelu_grad(v, tanh_approx):
    if tanh_approx:
        s = _sigmoid2(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v)
        return s + v * 2.0 * s * (1.0 - s) * du
    return 0.5 * math.erfc(-v * _INV_SQRT_2) + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI


@cuda.jit
def _gelu_backward_kernel(x, g, tanh_approx, dx):
    i = cuda.grid(1)
    if i < x.size:
        dx[i] = g[i] * _gelu_grad(x[i], tanh_approx)


@cuda.jit
def _gelu_grad_kernel(x, tanh_approx, d):
    i = cuda.grid(1)
    if i < x.size:
        d[i] = _gelu_grad(x[i], tanh_approx)


def _threads(n):
    return min(THREADS, max(32, (n + 31) // 32 * 32))


def _run(kernel, n, like, *args):
    if n:
        t = _threads(n)
        kernel[blocks_for(n, t), t, stream_for(like)](*args)


def erf(x):
    """The error function, elementwise."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    y = xp.empty_like(flat)
    _run(_erf_kernel, flat.size, flat, flat, y)
    return y.reshape(x.shape)


def gelu_forward(x, tanh_approx, with_grad=False):
    """GELU of every element (exact, or the tanh approximation); with ``with_grad``,
    ``(y, dy/dx)`` (as on the cpu, so the backward is one multiply)."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    y = xp.empty_like(flat)
    _run(_gelu_kernel, flat.size, flat, flat, bool(tanh_approx), y)
    if with_grad:
        d = xp.empty_like(flat)
        _run(_gelu_grad_kernel, flat.size, flat, flat, bool(tanh_approx), d)
        return y.reshape(x.shape), d.reshape(x.shape)
    return y.reshape(x.shape)


def gelu_backward(x, g, tanh_approx):
    """``g * GELU'(x)`` elementwise."""
    xp = array_module(x)
    flat = prepare(x).reshape(-1)
    gf = prepare(g, flat.dtype).reshape(-1)
    dx = xp.empty_like(flat)
    _run(_gelu_backward_kernel, flat.size, flat, flat, gf, bool(tanh_approx), dx)
    return dx.reshape(x.shape)
