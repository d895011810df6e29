"""Fused LSTM gate math for one time step on the CPU (Numba).

The recurrent layer (``tinynet/functional/recurrent.py``) does the GEMMs; these kernels
do everything elementwise in one pass over (N, 4H) instead of about a dozen NumPy
passes. With gate pre-activations ``a = [a_i, a_f, a_g, a_o]``::

    forward   i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
              c = f * c_prev + i * g;  h = o * tanh(c)
    backward  dc_t = dc + dh * o * (1 - tanh(c)^2)
              da_i = dc_t g i (1 - i);  da_f = dc_t c_prev f (1 - f)
              da_g = dc_t i (1 - g^2);  da_o = dh tanh(c) o (1 - o);  dc_prev = dc_t f

Arrays are C-contiguous; ``a`` is overwritten with the activations (i, f, g, o), which
the backward reads. Serial: per step the arrays are small (N x 4H = 32 x 512 at the
benchmark's size), far below where waking a thread pool pays.

Measured at that size (benchmarks/bench_sequence.py, one core): the Numba forward spends
~0.8 ms per step in five scalar libm calls (exp/tanh) per unit, while NumPy's SIMD
``exp``/``tanh`` do the same in ~0.15 ms even as eight separate passes; so the public
forward runs NumPy's vectorised ufuncs in place (``_forward`` stays as the reference the
test compares against). The backward has no transcendental functions and the Numba loop
wins (0.1 ms against ~0.5 ms for NumPy's dozen passes).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _forward(a, c_prev, c, tc, h):
    n, h4 = a.shape
    H = h4 // 4
    for r in range(n):
        for j in range(H):
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


@njit(cache=True)
def _backward(acts, tc, c_prev, dh, dc, dgates):
    n, h4 = acts.shape
    H = h4 // 4
    for r in range(n):
        for j in range(H):
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


def lstm_gates_forward(a, c_prev, c, tc, h):
    """Activate the gate pre-activations ``a`` (N, 4H) in place; write ``c``, ``tanh(c)``, ``h`` (N, H)."""
    H = a.shape[1] // 4
    g = a[:, 2 * H:3 * H]
    gpre = g.copy()
    np.negative(a, out=a)                 # sigmoid on all four blocks, in place ...
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    np.tanh(gpre, out=g)                  # ... then the g block is tanh instead
    np.multiply(a[:, H:2 * H], c_prev, out=c)
    c += a[:, :H] * g
    np.tanh(c, out=tc)
    np.multiply(a[:, 3 * H:], tc, out=h)


def lstm_gates_backward(acts, tc, c_prev, dh, dc, dgates):
    """Write the gate gradients ``dgates`` (N, 4H); update the cell gradient ``dc`` in place to dc_prev."""
    _backward(acts, tc, np.ascontiguousarray(c_prev, dtype=acts.dtype), np.ascontiguousarray(dh, dtype=acts.dtype),
              dc, dgates)
