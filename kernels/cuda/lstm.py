"""Fused LSTM gate math for one time step on the GPU (Numba CUDA); twin of ``kernels/cpu/lstm.py``.

One thread per (row, hidden unit): it reads that unit's four gates and writes its cell,
tanh(cell) and hidden values (forward) or its four gate gradients and the carried cell
gradient (backward), with the per-unit math of ``kernels/lstm_unit.py`` (shared with the cpu kernel); arrays must be C-contiguous (the
recurrent layer allocates them so) because the kernels write into them in place.
"""
from __future__ import annotations

from numba import cuda

from ..lstm_unit import unit_backward, unit_forward

from ._launch import THREADS, blocks_for, stream_for


_unit_forward = cuda.jit(device=True)(unit_forward)
_unit_backward = cuda.jit(device=True)(unit_backward)


@cuda.jit
def _forward_kernel(a, c_prev, c, tc, h):
    k = cuda.grid(1)
    H = a.shape[1] // 4
    if k < a.shape[0] * H:
        _unit_forward(a, c_prev, c, tc, h, k // H, k % H, H)


@cuda.jit
def _backward_kernel(acts, tc, c_prev, dh, dc, dgates):
    k = cuda.grid(1)
    H = acts.shape[1] // 4
    if k < acts.shape[0] * H:
        _unit_backward(acts, tc, c_prev, dh, dc, dgates, k // H, k % H, H)


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
