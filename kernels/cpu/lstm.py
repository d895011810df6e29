"""Fused LSTM gate math for one time step on the CPU.

The recurrent layer (``tinynet/functional/recurrent.py``) does the GEMMs; these kernels
do everything elementwise in one pass over (N, 4H) instead of about a dozen NumPy
passes. The per-unit math is written once in ``kernels/lstm_unit.py`` (with the
formulas); the backward here compiles ``unit_backward`` with ``numba.njit`` into a loop
over rows and units, as the cuda twin compiles both functions for one GPU thread per unit.

The forward is the one place the cpu does not run the shared unit: a Numba loop would
call the scalar libm ``exp``/``tanh`` five times per unit, while NumPy's SIMD ufuncs do
the same work faster even as eight separate in-place passes. The tests check it against
``unit_forward``. The backward has no transcendental functions, and the fused loop beats
NumPy's dozen passes. Serial: per step the arrays are small (N x 4H = 32 x 512 at the
benchmark's size), far below where waking a thread pool pays.

Input handling, the same on both devices: the arrays a kernel only reads are converted to
C-contiguous arrays of the working dtype (that of ``a`` / ``acts``; a copy only when
needed); the arrays it writes (``a``, ``c``, ``tc``, ``h``; ``dc``, ``dgates``) are
written in place as given.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..lstm_unit import unit_backward

_unit_backward = njit(cache=True, inline="always")(unit_backward)


@njit(cache=True)
def _backward(acts, tc, c_prev, dh, dc, dgates):
    n, H = acts.shape[0], acts.shape[1] // 4
    for r in range(n):
        for j in range(H):
            _unit_backward(acts, tc, c_prev, dh, dc, dgates, r, j, H)


def lstm_gates_forward(a, c_prev, c, tc, h):
    """Activate the gate pre-activations ``a`` (N, 4H) in place; write ``c``, ``tanh(c)``, ``h`` (N, H)."""
    c_prev = np.ascontiguousarray(c_prev, dtype=a.dtype)
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
    dtype = acts.dtype
    _backward(np.ascontiguousarray(acts), np.ascontiguousarray(tc, dtype=dtype),
              np.ascontiguousarray(c_prev, dtype=dtype), np.ascontiguousarray(dh, dtype=dtype), dc, dgates)
