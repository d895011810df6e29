"""GELU and erf kernels for the CPU (Numba): one pass over the elements each.

NumPy has no ``erf``, and GELU written with NumPy ufuncs takes 4-8 passes over memory
(forward) and more for the gradient; these fuse each into one loop.

* ``erf(x)``
* ``gelu_forward(x, tanh_approx)``: ``x * Phi(x)`` with ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``,
  or ``0.5 x (1 + tanh(u))``, ``u = sqrt(2/pi) (x + 0.044715 x^3)``
* ``gelu_backward(x, g, tanh_approx)``: ``g * (Phi(x) + x phi(x))``, ``phi`` the normal pdf,
  or ``g * (0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx)``

Serial loop for small arrays, ``prange`` from ``PARALLEL_MIN_ELEMENTS`` up (a parallel
launch costs tens of microseconds). Twins of the same names in ``kernels/cuda/gelu.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

PARALLEL_MIN_ELEMENTS = 1 << 16

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def _gelu_one(v, tanh_approx):
    if tanh_approx:
        return 0.5 * v * (1.0 + math.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)))
    return 0.5 * v * (1.0 + math.erf(v * _INV_SQRT_2))


@njit(cache=True)
def _gelu_grad_one(v, tanh_approx):
    if tanh_approx:
        t = math.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))
        du = _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v)
        return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du
    return 0.5 * (1.0 + math.erf(v * _INV_SQRT_2)) + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI


@njit(cache=True)
def _erf_s(x, y):
    for i in range(x.size):
        y[i] = math.erf(x[i])


@njit(parallel=True, cache=True)
def _erf_p(x, y):
    for i in prange(x.size):
        y[i] = math.erf(x[i])


@njit(cache=True)
def _gelu_s(x, tanh_approx, y):
    for i in range(x.size):
        y[i] = _gelu_one(x[i], tanh_approx)


@njit(parallel=True, cache=True)
def _gelu_p(x, tanh_approx, y):
    for i in prange(x.size):
        y[i] = _gelu_one(x[i], tanh_approx)


@njit(cache=True)
def _gelu_bwd_s(x, g, tanh_approx, dx):
    for i in range(x.size):
        dx[i] = g[i] * _gelu_grad_one(x[i], tanh_approx)


@njit(parallel=True, cache=True)
def _gelu_bwd_p(x, g, tanh_approx, dx):
    for i in prange(x.size):
        dx[i] = g[i] * _gelu_grad_one(x[i], tanh_approx)


def _flat(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def erf(x):
    """The error function, elementwise."""
    flat = _flat(x)
    y = np.empty_like(flat)
    (_erf_p if flat.size >= PARALLEL_MIN_ELEMENTS else _erf_s)(flat, y)
    return y.reshape(np.shape(x))


def gelu_forward(x, tanh_approx):
    """GELU of every element (exact, or the tanh approximation)."""
    flat = _flat(x)
    y = np.empty_like(flat)
    (_gelu_p if flat.size >= PARALLEL_MIN_ELEMENTS else _gelu_s)(flat, bool(tanh_approx), y)
    return y.reshape(np.shape(x))


def gelu_backward(x, g, tanh_approx):
    """``g * GELU'(x)`` elementwise."""
    flat = _flat(x)
    gf = _flat(g, flat.dtype)
    dx = np.empty_like(flat)
    (_gelu_bwd_p if flat.size >= PARALLEL_MIN_ELEMENTS else _gelu_bwd_s)(flat, gf, bool(tanh_approx), dx)
    return dx.reshape(np.shape(x))
