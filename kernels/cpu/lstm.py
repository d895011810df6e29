"""Recurrent layers on the CPU: every time step of a layer in one compiled call.

A recurrent step is small (at the word-language-model size one (20, 200) x (200, 800)
GEMM and 4,000 gate units), so driving the steps from Python pays NumPy's call overhead
per GEMM and per elementwise pass, several passes per step. Here the loop over time runs
inside ``numba.njit``, forward and backward through time: per step one GEMM
(``_blas.gemm_nt`` / ``gemm_nn``: NumPy's own BLAS called from compiled code) and passes
over the (N, H) units running the cell's math from ``kernels/lstm_unit.py`` (formulas
there): ``<cell>_gate`` element by element, then ``<cell>_update`` per unit (forward), or
``<cell>_step_backward`` per unit.

One loop body per direction serves every cell: ``_forward_loop`` calls ``gate`` and
``update``, ``_backward_loop`` calls ``step_backward``; ``_compile_loop`` binds these names
to one cell's functions (``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``) in a compilation
of the math module, as ``_compile.serial_and_parallel`` does for the other families.

What lets the unit passes vectorise (a pass that does not runs several times slower):
float32 layers use the math compiled with ``exp`` bound to
``_vecmath.exp_nonpos`` (float64 arithmetic: ``tanh = 2 sigmoid(2a) - 1`` near 0 needs
more than a float32-accurate exp); float64 layers keep libm. The loops are compiled with
``_nrt=False``: with Numba's reference counting, each call of a math function that takes
arrays increments and decrements their reference counts, opaque calls that keep LLVM
from vectorising the loop around them (so nothing in the loops allocates: buffers come in
as arguments). The gate pass counts its unit index from 0 within each block. The loops
are serial: per step the unit passes touch a few thousand elements, far below where
waking a thread pool pays; the GEMMs use BLAS's threads.

Input handling, the same on both devices: arrays a kernel only reads are converted to
C-contiguous arrays of the working dtype (that of ``xg`` / ``acts``; a copy only when
needed); the layer kernels return new arrays.
"""
from __future__ import annotations

import types

import numpy as np
from numba import njit

from .. import lstm_unit
from .._math_module import compile_math
from ._blas import BINDING, gemm_nn, gemm_nt
from ._vecmath import exp_nonpos

_compile_math = njit(cache=True, inline="always", error_model="numpy")
_UNITS_LIBM_EXP = compile_math(lstm_unit, _compile_math, "libm")
_UNITS_VECTOR_EXP = compile_math(lstm_unit, _compile_math, "vector_exp", exp=exp_nonpos)

#: cell -> (gate blocks G: the layer's gates are G H wide, has a cell state c, width of aux in H)
CELLS = {"lstm": (4, True, 1), "gru": (3, False, 1), "rnn_tanh": (1, False, 0), "rnn_relu": (1, False, 0)}


# --- the whole-layer loops: ``gate``, ``update``, ``step_backward`` are bound per cell -------
def _forward_loop(xg, h0, c0, w_hh, bh, reverse, acts, cs, aux, hs, hg):
    T, N, H = hs.shape
    G = acts.shape[2] // max(H, 1)
    h_prev = h0
    c_prev = c0
    for s in range(T):
        t = T - 1 - s if reverse else s
        x, a, c, u, h = xg[t], acts[t], cs[t], aux[t], hs[t]
        gemm_nt(h_prev, w_hh, hg)                               # hg = h_prev W_hh^T
        for r in range(N):
            for b in range(G):
                for j in range(H):                              # (counting j from 0 lets LLVM vectorise)
                    a[r, b * H + j] = gate(x, hg, bh, r, b * H + j, b)  # noqa: F821 (bound per cell)
            for j in range(H):
                update(x, a, h_prev, c_prev, c, u, h, r, j, H)  # noqa: F821
        h_prev = h
        c_prev = c


def _backward_loop(gh, h0, c0, w_hh, reverse, acts, cs, aux, hs, dxg, dhg, dh, dc, back):
    T, N, H = hs.shape
    for s in range(T - 1, -1, -1):
        t = T - 1 - s if reverse else s
        if s > 0:
            p = t + 1 if reverse else t - 1     # the step that ran before t
            h_prev = hs[p]
            c_prev = cs[p]
        else:
            h_prev = h0
            c_prev = c0
        a, u, h, g, dx, dg = acts[t], aux[t], hs[t], gh[t], dxg[t], dhg[t]
        for r in range(N):
            for j in range(H):
                step_backward(a, u, h_prev, c_prev, h, g, dh, dc, dx, dg, r, j, H)  # noqa: F821
        gemm_nn(dg, w_hh, back)
        for r in range(N):
            for j in range(H):
                dh[r, j] += back[r, j]          # dh_prev = (what the step left) + dhg W_hh


def _compile_loop(body, units, tag, **names):
    """``body`` compiled with each global ``name`` bound to the function ``units.<value>``
    of the compiled math ``units``; named after ``tag``, the math's variant and digest and
    the BLAS binding, so each binding gets its own disk-cache entry (``kernels/cpu/_compile.py``)."""
    name = "_".join([body.__name__, tag, units.__name__.rsplit(".", 1)[-1], BINDING])
    namespace = {**body.__globals__, **{key: getattr(units, value) for key, value in names.items()}}
    fn = types.FunctionType(body.__code__, namespace, name, body.__defaults__, body.__closure__)
    fn.__qualname__ = name
    fn.__module__ = body.__module__
    fn.__doc__ = body.__doc__
    return njit(cache=True, error_model="numpy", _nrt=False)(fn)


def _layer_loops(cell, units):
    forward = _compile_loop(_forward_loop, units, cell, gate=f"{cell}_gate", update=f"{cell}_update")
    backward = _compile_loop(_backward_loop, units, cell, step_backward=f"{cell}_step_backward")
    return forward, backward


#: (cell, float32?) -> (forward loop, backward loop)
_LOOPS = {(cell, single): _layer_loops(cell, units)
          for cell in CELLS for single, units in ((False, _UNITS_LIBM_EXP), (True, _UNITS_VECTOR_EXP))}


def _cell(name, cell):
    if cell not in CELLS:
        raise ValueError(f"{name}: unknown cell {cell!r}; expected one of {sorted(CELLS)}")
    return CELLS[cell]


def _contiguous(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def _no_state(like, n):
    return np.empty((n, 0), dtype=like.dtype)


# --- public kernels (same names and signatures as kernels/cuda/lstm.py) -------------------------
def recurrent_forward(cell, xg, h0, c0, w_hh, b_hh, reverse):
    """Run one recurrent layer over time: returns ``(hs, cs, acts, aux)``, time-major.

    ``xg`` (T, N, G·H): every step's ``x_t W_ih^T + b_ih``; ``h0`` (N, H); ``c0`` (N, H)
    for ``cell="lstm"`` (ignored, may be None, otherwise); ``w_hh`` (G·H, H); ``b_hh``
    (G·H,); ``reverse``: run t = T-1 .. 0. ``hs`` (T, N, H) are the hidden states, ``cs``
    the LSTM's cell states ((T, N, 0) for other cells); ``acts`` (T, N, G·H) and ``aux``
    hold what ``recurrent_backward`` reads (``kernels/lstm_unit.py``).
    """
    gates, has_c, aux_width = _cell("recurrent_forward", cell)
    xg = np.ascontiguousarray(xg)
    dtype = xg.dtype
    T, N, _ = xg.shape
    h0 = _contiguous(h0, dtype)
    H = h0.shape[1]
    c0 = _contiguous(c0, dtype) if has_c else _no_state(xg, N)
    acts = np.empty((T, N, gates * H), dtype)
    cs = np.empty((T, N, H if has_c else 0), dtype)
    aux = np.empty((T, N, aux_width * H), dtype)
    hs = np.empty((T, N, H), dtype)
    forward, _ = _LOOPS[cell, dtype == np.float32]
    forward(xg, h0, c0, _contiguous(w_hh, dtype), _contiguous(b_hh, dtype), bool(reverse), acts, cs, aux, hs,
            np.empty((N, gates * H), dtype))
    return hs, cs, acts, aux


def recurrent_backward(cell, gh, dc_last, h0, c0, w_hh, hs, cs, acts, aux, reverse):
    """Backpropagate through one layer's time steps: returns ``(dxg, dhg, dh0, dc0)``.

    ``gh`` (T, N, H): the loss gradient of each step's hidden state (time-major);
    ``dc_last`` (N, H): that of the final cell state (LSTM; ignored otherwise); the rest as
    given to and returned by ``recurrent_forward``. ``dxg`` (T, N, G·H) is the gradient of
    the pre-activations on the input side (so of ``xg``), ``dhg`` on the hidden side (of
    ``h_{t-1} W_hh^T + b_hh``): the same array except for the GRU. ``dc0`` is (N, 0) for
    cells without a cell state.
    """
    gates, has_c, _ = _cell("recurrent_backward", cell)
    acts = np.ascontiguousarray(acts)
    dtype = acts.dtype
    T, N, H = hs.shape
    dxg = np.empty((T, N, gates * H), dtype)
    dhg = np.empty_like(dxg) if cell == "gru" else dxg
    dh = np.zeros((N, H), dtype)
    if has_c:
        dc, c0 = np.array(dc_last, dtype=dtype, order="C"), _contiguous(c0, dtype)
    else:
        dc, c0 = _no_state(acts, N), _no_state(acts, N)
    _, backward = _LOOPS[cell, dtype == np.float32]
    backward(_contiguous(gh, dtype), _contiguous(h0, dtype), c0, _contiguous(w_hh, dtype), bool(reverse), acts,
             _contiguous(cs, dtype), _contiguous(aux, dtype), _contiguous(hs, dtype), dxg, dhg, dh, dc,
             np.empty_like(dh))
    return dxg, dhg, dh, dc
