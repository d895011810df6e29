"""Recurrent layers on the GPU (Numba CUDA); twins of ``kernels/cpu/lstm.py``.

The time loop runs on the host: per step one cuBLAS GEMM (``xp.matmul`` into a preallocated
buffer) and one kernel launch with a thread per (row, hidden unit), which computes that
unit's gates and state with the per-unit math of ``kernels/lstm_unit.py`` (the cell's
``<cell>_gate`` / ``<cell>_update``, or ``<cell>_step_backward`` backwards), compiled with
``numba.cuda.jit(device=True)``. The step kernels are written once and compiled per cell,
each with the names ``gate``, ``update`` and ``step_backward`` bound to that cell's
functions. Launches go on CuPy's current stream, so they order with the GEMMs.

Input handling, as on the cpu: the arrays a kernel only reads are converted to
C-contiguous arrays of the working dtype (that of ``xg`` / ``acts``; a copy only when
needed); the layer kernels return new arrays.
"""
from __future__ import annotations

import types

from numba import cuda

from .. import lstm_unit
from .._math_module import compile_math
from ._launch import array_module, launch, prepare

_UNITS = compile_math(lstm_unit, cuda.jit(device=True))

#: cell -> (gate blocks G: the layer's gates are G H wide, has a cell state c, width of aux in H)
CELLS = {"lstm": (4, True, 1), "gru": (3, False, 1), "rnn_tanh": (1, False, 0), "rnn_relu": (1, False, 0)}


# --- one step of a layer, one thread per unit: ``gate``, ``update``, ``step_backward`` bound per cell
def _forward_step(x, hg, bh, a, h_prev, c_prev, c, u, h):
    k = cuda.grid(1)
    H = h.shape[1]
    if k < h.shape[0] * H:
        r, j = k // H, k % H
        for b in range(a.shape[1] // H):
            a[r, b * H + j] = gate(x, hg, bh, r, b * H + j, b)  # noqa: F821 (bound per cell)
        update(x, a, h_prev, c_prev, c, u, h, r, j, H)          # noqa: F821


def _backward_step(a, u, h_prev, c_prev, h, g, dh, dc, dx, dg):
    k = cuda.grid(1)
    H = h.shape[1]
    if k < h.shape[0] * H:
        step_backward(a, u, h_prev, c_prev, h, g, dh, dc, dx, dg, k // H, k % H, H)  # noqa: F821


def _compile_step(body, cell, **names):
    """A CUDA kernel of ``body`` with each global ``name`` bound to ``_UNITS.<value>``."""
    namespace = {**body.__globals__, **{key: getattr(_UNITS, value) for key, value in names.items()}}
    fn = types.FunctionType(body.__code__, namespace, f"{body.__name__}_{cell}", body.__defaults__, body.__closure__)
    fn.__qualname__ = fn.__name__
    return cuda.jit(fn)


#: cell -> (forward step kernel, backward step kernel)
_STEPS = {cell: (_compile_step(_forward_step, cell, gate=f"{cell}_gate", update=f"{cell}_update"),
                 _compile_step(_backward_step, cell, step_backward=f"{cell}_step_backward"))
          for cell in CELLS}


def _cell(name, cell):
    if cell not in CELLS:
        raise ValueError(f"{name}: unknown cell {cell!r}; expected one of {sorted(CELLS)}")
    return CELLS[cell]


def _order(T, reverse):
    return list(range(T - 1, -1, -1)) if reverse else list(range(T))


# --- public kernels (same names and signatures as kernels/cpu/lstm.py) -------------------------
def recurrent_forward(cell, xg, h0, c0, w_hh, b_hh, reverse):
    """Run one recurrent layer over time: returns ``(hs, cs, acts, aux)``, time-major
    (see ``kernels/cpu/lstm.recurrent_forward``)."""
    gates, has_c, aux_width = _cell("recurrent_forward", cell)
    xg = prepare(xg)
    xp, dtype = array_module(xg), xg.dtype
    T, N, _ = xg.shape
    h0 = prepare(h0, dtype)
    H = h0.shape[1]
    c0 = prepare(c0, dtype) if has_c else None
    w_hh, b_hh = prepare(w_hh, dtype), prepare(b_hh, dtype)
    acts = xp.empty((T, N, gates * H), dtype)
    cs = xp.empty((T, N, H if has_c else 0), dtype)
    aux = xp.empty((T, N, aux_width * H), dtype)
    hs = xp.empty((T, N, H), dtype)
    hg = xp.empty((N, gates * H), dtype)
    spare = xp.zeros((N, H), dtype)        # stands in for what the cell does not have (c, aux)
    kernel = _STEPS[cell][0]
    h_prev, c_prev = h0, (c0 if has_c else spare)
    for t in _order(T, reverse):
        h, c = hs[t], (cs[t] if has_c else spare)
        xp.matmul(h_prev, w_hh.T, out=hg)  # hg = h_prev W_hh^T
        launch(kernel, N * H, hg, xg[t], hg, b_hh, acts[t], h_prev, c_prev, c, aux[t] if aux_width else spare, h)
        h_prev, c_prev = h, c
    return hs, cs, acts, aux


def recurrent_backward(cell, gh, dc_last, h0, c0, w_hh, hs, cs, acts, aux, reverse):
    """Backpropagate through one layer's time steps: returns ``(dxg, dhg, dh0, dc0)``
    (see ``kernels/cpu/lstm.recurrent_backward``)."""
    gates, has_c, aux_width = _cell("recurrent_backward", cell)
    acts = prepare(acts)
    xp, dtype = array_module(acts), acts.dtype
    T, N, H = hs.shape
    gh, h0, w_hh = prepare(gh, dtype), prepare(h0, dtype), prepare(w_hh, dtype)
    hs, cs, aux = prepare(hs, dtype), prepare(cs, dtype), prepare(aux, dtype)
    dxg = xp.empty((T, N, gates * H), dtype)
    dhg = xp.empty_like(dxg) if cell == "gru" else dxg
    dh = xp.zeros((N, H), dtype)
    # Stand-ins for what the cell neither has nor writes (c, dc, aux; dhg = dxg): never an
    # array the kernel writes, since the simulator copies each argument back after a launch.
    spare, spare_gates = xp.zeros((N, H), dtype), xp.zeros((N, gates * H), dtype)
    if has_c:
        dc, c0 = xp.array(dc_last, dtype=dtype, order="C"), prepare(c0, dtype)
    else:
        dc, c0 = xp.empty((N, 0), dtype), spare
    kernel = _STEPS[cell][1]
    order = _order(T, reverse)
    for s in range(T - 1, -1, -1):
        t, p = order[s], (order[s - 1] if s else None)
        h_prev = h0 if p is None else hs[p]
        c_prev = c0 if p is None or not has_c else cs[p]
        launch(kernel, N * H, dh, acts[t], aux[t] if aux_width else spare, h_prev, c_prev, hs[t], gh[t], dh,
               dc if has_c else spare, dxg[t], dhg[t] if dhg is not dxg else spare_gates)
        dh += dhg[t] @ w_hh               # dh_prev = (what the step left) + dhg W_hh
    return dxg, dhg, dh, dc
