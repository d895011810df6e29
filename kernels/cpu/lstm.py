"""Fused LSTM gate math for one time step on the CPU (Numba).

The recurrent layer (``tinynet/functional/recurrent.py``) does the GEMMs; these kernels
do everything elementwise in one pass over (N, 4H) instead of about a dozen NumPy
passes. The per-unit math (``kernels/lstm_unit.py``) is shared with the cuda twin.

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

import numpy as np
from numba import njit

from ..lstm_unit import unit_backward, unit_forward


_unit_forward = njit(cache=True, inline="always")(unit_forward)
_unit_backward = njit(cache=True, inline="always")(unit_backward)


@njit(cache=True)
def _forward(a, c_prev, c, tc, h):
    n, H = a.shape[0], a.shape[1] // 4
    for r in range(n):
        for j in range(H):
            _unit_forward(a, c_prev, c, tc, h, r, j, H)


@njit(cache=True)
def _backward(acts, tc, c_prev, dh, dc, dgates):
    n, H = acts.shape[0], acts.shape[1] // 4
    for r in range(n):
        for j in range(H):
            _unit_backward(acts, tc, c_prev, dh, dc, dgates, r, j, H)


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
