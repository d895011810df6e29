"""Fused LSTM gate math for one time step on the GPU (Numba CUDA); twin of ``kernels/cpu/lstm.py``.

One thread per (row, hidden unit): it reads that unit's four gates and writes its cell,
tanh(cell) and hidden values (forward) or its four gate gradients and the carried cell
gradient (backward), with the per-unit math of ``kernels/lstm_unit.py``.

Input handling, as on the cpu: the arrays a kernel only reads are converted to
C-contiguous arrays of the working dtype (that of ``a`` / ``acts``; a copy only when
needed); the arrays it writes (``a``, ``c``, ``tc``, ``h``; ``dc``, ``dgates``) are
written in place whatever their layout: one that is not C-contiguous is updated through a
contiguous copy, written back after the launch (the simulator, like a host-to-device copy,
moves one contiguous block per array).
"""
from __future__ import annotations

from numba import cuda

from ..lstm_unit import unit_backward, unit_forward
from ._launch import launch_in_place, prepare

_unit_forward = cuda.jit(device=True)(unit_forward)
_unit_backward = cuda.jit(device=True)(unit_backward)


@cuda.jit
def _forward_kernel(a, c, tc, h, c_prev):
    k = cuda.grid(1)
    H = a.shape[1] // 4
    if k < a.shape[0] * H:
        _unit_forward(a, c_prev, c, tc, h, k // H, k % H, H)


@cuda.jit
def _backward_kernel(dc, dgates, acts, tc, c_prev, dh):
    k = cuda.grid(1)
    H = acts.shape[1] // 4
    if k < acts.shape[0] * H:
        _unit_backward(acts, tc, c_prev, dh, dc, dgates, k // H, k % H, H)


def lstm_gates_forward(a, c_prev, c, tc, h):
    """Activate the gate pre-activations ``a`` (N, 4H) in place; write ``c``, ``tanh(c)``, ``h`` (N, H)."""
    launch_in_place(_forward_kernel, a.shape[0] * (a.shape[1] // 4), (a, c, tc, h), prepare(c_prev, a.dtype))


def lstm_gates_backward(acts, tc, c_prev, dh, dc, dgates):
    """Write the gate gradients ``dgates`` (N, 4H); update the cell gradient ``dc`` in place to dc_prev."""
    dtype = acts.dtype
    launch_in_place(_backward_kernel, acts.shape[0] * (acts.shape[1] // 4), (dc, dgates),
                    prepare(acts), prepare(tc, dtype), prepare(c_prev, dtype), prepare(dh, dtype))
