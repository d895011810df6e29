"""Fused (flash-style) scaled dot-product attention on the GPU (Numba CUDA).

Twins of ``kernels/cpu/attention.py``: the same names and signatures, and the same math
(``kernels/attention_math.py``, formulas there) compiled as CUDA device functions.

* forward: one block per (batch*head, tile of ``T`` queries), one thread per query row.
  The block walks the keys a tile at a time: its threads load the tile's keys transposed
  (K^T, d x T) and values (T x dv) into shared memory, then each thread updates its row's
  online softmax and output accumulator from them. A causal block stops after the tile
  holding its last query.
* backward, two kernels so no two blocks write the same gradient (no atomics): ``dq`` with
  one block per query tile (as the forward; it also stores ``D_i = dO_i . o_i``), then ``dk``
  and ``dv`` with one block per key tile, one thread per key, walking the query tiles
  (Q, Q^T, dO, dO^T in shared memory) with the same pair math read down a column.
* the dropout mask as an array (for the differentiable backward): one thread per query row.

Shared-memory tiles have a fixed size, so head dimensions up to ``ATTENTION_MAX_HEAD_DIM``
(64) run here; the functional layer uses the unfused op beyond. Tiles hold ``T`` = 32 rows
in float32 and 16 in float64, which keeps the backward's four tiles at 32 KiB (of 48).
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from .. import attention_math
from .._math_module import compile_math
from ._launch import array_module, launch, prepare, stream_for

#: The largest head dimension (of q/k and of v) the shared-memory tiles hold.
ATTENTION_MAX_HEAD_DIM = 64
_DMAX = ATTENTION_MAX_HEAD_DIM

_PAIRS = compile_math(attention_math, cuda.jit(device=True))


def _build(dtype, T):
    """The forward, dq and dk/dv kernels for arrays of ``dtype`` with tiles of ``T`` rows."""

    @cuda.jit
    def forward(q, k, v, mask, has_mask, causal, scale, seed, p, inv_keep, one, out, lse):
        H, L, d = q.shape[1], q.shape[2], q.shape[3]
        S, dv = k.shape[2], v.shape[3]
        bh = cuda.blockIdx.x
        b, h = bh // H, bh % H
        t = cuda.threadIdx.x
        i = cuda.blockIdx.y * T + t
        kt_s = cuda.shared.array((_DMAX, T), dtype)
        v_s = cuda.shared.array((T, _DMAX), dtype)
        qrow = cuda.local.array((1, _DMAX), dtype)
        acc = cuda.local.array((1, _DMAX), dtype)
        s = cuda.local.array(T, dtype)
        active = i < L
        if active:
            for c in range(d):
                qrow[0, c] = q[b, h, i, c]
        for c in range(dv):
            acc[0, c] = 0.0
        m = -math.inf
        l = 0.0
        stop = min(S, (cuda.blockIdx.y + 1) * T) if causal else S
        for j0 in range(0, stop, T):
            cuda.syncthreads()
            if j0 + t < S:
                for c in range(d):
                    kt_s[c, t] = k[b, h, j0 + t, c]
                for c in range(dv):
                    v_s[t, c] = v[b, h, j0 + t, c]
            cuda.syncthreads()
            if active:
                n = min(T, S - j0)
                _PAIRS.dot_tile(qrow, 0, kt_s, 0, n, d, scale, s)
                _PAIRS.add_mask(s, n, mask, has_mask, causal, b, h, i, 0, j0, 1)
                m, l, alpha = _PAIRS.softmax_tile(s, n, m, l, seed, bh, i, j0, p, inv_keep)
                _PAIRS.axpy_rows(acc, 0, alpha, s, n, v_s, 0, dv, one)
        if active:
            _PAIRS.finish_row(acc, 0, dv, m, l, acc, 0, lse, bh, i)
            for c in range(dv):
                out[b, h, i, c] = acc[0, c]

    @cuda.jit
    def backward_dq(q, k, v, out, dout, lse, dlt, mask, has_mask, causal, scale, seed, p, inv_keep, one, dq):
        H, L, d = q.shape[1], q.shape[2], q.shape[3]
        S, dv = k.shape[2], v.shape[3]
        bh = cuda.blockIdx.x
        b, h = bh // H, bh % H
        t = cuda.threadIdx.x
        i = cuda.blockIdx.y * T + t
        kt_s = cuda.shared.array((_DMAX, T), dtype)
        k_s = cuda.shared.array((T, _DMAX), dtype)
        vt_s = cuda.shared.array((_DMAX, T), dtype)
        qrow = cuda.local.array((1, _DMAX), dtype)
        dorow = cuda.local.array((1, _DMAX), dtype)
        orow = cuda.local.array((1, _DMAX), dtype)
        acc = cuda.local.array((1, _DMAX), dtype)
        s = cuda.local.array(T, dtype)
        dp = cuda.local.array(T, dtype)
        active = i < L
        if active:
            for c in range(d):
                qrow[0, c] = q[b, h, i, c]
                acc[0, c] = 0.0
            for c in range(dv):
                dorow[0, c] = dout[b, h, i, c]
                orow[0, c] = out[b, h, i, c]
            dlt[bh, i] = _PAIRS.row_dot(dorow, 0, orow, 0, dv)
        stop = min(S, (cuda.blockIdx.y + 1) * T) if causal else S
        for j0 in range(0, stop, T):
            cuda.syncthreads()
            if j0 + t < S:
                for c in range(d):
                    kt_s[c, t] = k[b, h, j0 + t, c]
                    k_s[t, c] = k[b, h, j0 + t, c]
                for c in range(dv):
                    vt_s[c, t] = v[b, h, j0 + t, c]
            cuda.syncthreads()
            if active:
                n = min(T, S - j0)
                _PAIRS.dot_tile(qrow, 0, kt_s, 0, n, d, scale, s)
                _PAIRS.add_mask(s, n, mask, has_mask, causal, b, h, i, 0, j0, 1)
                _PAIRS.dot_tile(dorow, 0, vt_s, 0, n, dv, one, dp)
                _PAIRS.grad_tile(s, dp, n, lse, dlt, bh, i, 0, j0, 1, seed, p, inv_keep)
                _PAIRS.axpy_rows(acc, 0, one, s, n, k_s, 0, d, scale)
        if active:
            for c in range(d):
                dq[b, h, i, c] = acc[0, c]

    @cuda.jit
    def backward_dkdv(q, k, v, dout, lse, dlt, mask, has_mask, causal, scale, seed, p, inv_keep, one, dk, dv_):
        H, L, d = q.shape[1], q.shape[2], q.shape[3]
        S, dv = k.shape[2], v.shape[3]
        bh = cuda.blockIdx.x
        b, h = bh // H, bh % H
        t = cuda.threadIdx.x
        j = cuda.blockIdx.y * T + t
        qt_s = cuda.shared.array((_DMAX, T), dtype)
        q_s = cuda.shared.array((T, _DMAX), dtype)
        dot_s = cuda.shared.array((_DMAX, T), dtype)
        do_s = cuda.shared.array((T, _DMAX), dtype)
        krow = cuda.local.array((1, _DMAX), dtype)
        vrow = cuda.local.array((1, _DMAX), dtype)
        dkacc = cuda.local.array((1, _DMAX), dtype)
        dvacc = cuda.local.array((1, _DMAX), dtype)
        s = cuda.local.array(T, dtype)
        dp = cuda.local.array(T, dtype)
        active = j < S
        if active:
            for c in range(d):
                krow[0, c] = k[b, h, j, c]
                dkacc[0, c] = 0.0
            for c in range(dv):
                vrow[0, c] = v[b, h, j, c]
                dvacc[0, c] = 0.0
        start = cuda.blockIdx.y * T if causal else 0  # earlier queries see none of these keys
        for i0 in range(start, L, T):
            cuda.syncthreads()
            if i0 + t < L:
                for c in range(d):
                    qt_s[c, t] = q[b, h, i0 + t, c]
                    q_s[t, c] = q[b, h, i0 + t, c]
                for c in range(dv):
                    dot_s[c, t] = dout[b, h, i0 + t, c]
                    do_s[t, c] = dout[b, h, i0 + t, c]
            cuda.syncthreads()
            if active:
                n = min(T, L - i0)
                _PAIRS.dot_tile(krow, 0, qt_s, 0, n, d, scale, s)
                _PAIRS.add_mask(s, n, mask, has_mask, causal, b, h, i0, 1, j, 0)
                _PAIRS.dot_tile(vrow, 0, dot_s, 0, n, dv, one, dp)
                _PAIRS.grad_tile(s, dp, n, lse, dlt, bh, i0, 1, j, 0, seed, p, inv_keep)
                _PAIRS.axpy_rows(dvacc, 0, one, dp, n, do_s, 0, dv, one)
                _PAIRS.axpy_rows(dkacc, 0, one, s, n, q_s, 0, d, scale)
        if active:
            for c in range(d):
                dk[b, h, j, c] = dkacc[0, c]
            for c in range(dv):
                dv_[b, h, j, c] = dvacc[0, c]

    return forward, backward_dq, backward_dkdv


_KERNELS = {np.dtype(np.float32): _build(np.float32, 32), np.dtype(np.float64): _build(np.float64, 16)}
_TILE = {np.dtype(np.float32): 32, np.dtype(np.float64): 16}


@cuda.jit
def _dropout_mask_kernel(keep, seed, p, inv_keep):
    r = cuda.grid(1)
    B, H, L, S = keep.shape
    if r < B * H * L:
        bh, i = r // L, r % L
        b, h = bh // H, bh % H
        for j in range(S):
            keep[b, h, i, j] = _PAIRS.keep_scale(seed, bh, i, j, p, inv_keep)


# --- argument handling (as the cpu twin) -------------------------------------------------------
def _float_dtype(q):
    if q.dtype not in (np.float32, np.float64):
        raise TypeError(f"attention kernel: query must be float32 or float64, got {q.dtype}")
    return np.dtype(q.dtype)


def _check_head_dims(q, v):
    if q.shape[3] > _DMAX or v.shape[3] > _DMAX:
        raise ValueError(f"attention kernel (cuda): head dimensions up to {_DMAX} are supported, got query "
                         f"{q.shape[3]} and value {v.shape[3]}; use the unfused attention beyond")


def _arg(a, dtype=None):
    """``prepare``d for a launch; under the simulator also writeable (it copies every
    argument back to the host after a launch, which a read-only broadcast view refuses)."""
    a = prepare(a, dtype)
    return a.copy() if isinstance(a, np.ndarray) and not a.flags.writeable else a


def _mask_and_flag(mask, dtype, xp):
    if mask is None:
        return xp.zeros((1, 1, 1, 1), dtype=dtype), False
    return _arg(mask, dtype), True


def _dropout(dropout_p):
    p = float(dropout_p)
    return p, (1.0 / (1.0 - p) if p > 0.0 else 1.0)


def _grid(kernel, blocks, rows, like, *args):
    """Launch ``kernel`` on ``(blocks, tiles)`` blocks of ``T`` threads, one tile per ``T`` rows."""
    T = _TILE[np.dtype(like.dtype)]
    tiles = (rows + T - 1) // T
    if blocks and tiles:
        kernel[(blocks, tiles), T, stream_for(like)](*args)


# --- host wrappers: the names, signatures and results of kernels/cpu/attention.py (documented there)
def attention_forward(q, k, v, mask, scale, causal, dropout_p, seed):
    """Fused attention ``(out, lse)`` of 4-D q, k, v: the twin of kernels/cpu/attention.attention_forward."""
    xp = array_module(q)
    dtype = _float_dtype(q)
    q, k, v = _arg(q), _arg(k, dtype), _arg(v, dtype)
    _check_head_dims(q, v)
    mask, has_mask = _mask_and_flag(mask, dtype, xp)
    p, inv_keep = _dropout(dropout_p)
    B, H, L, _ = q.shape
    out = xp.empty((B, H, L, v.shape[3]), dtype=dtype)
    lse = xp.empty((B * H, L), dtype=np.float64)
    _grid(_KERNELS[dtype][0], B * H, L, q, q, k, v, mask, has_mask, bool(causal), dtype.type(scale), int(seed), p,
          inv_keep, dtype.type(1.0), out, lse)
    return out, lse.reshape(B, H, L)


def attention_backward(q, k, v, out, lse, dout, mask, scale, causal, dropout_p, seed):
    """Gradients ``(dq, dk, dv)``: the twin of kernels/cpu/attention.attention_backward."""
    xp = array_module(q)
    dtype = _float_dtype(q)
    q, k, v = _arg(q), _arg(k, dtype), _arg(v, dtype)
    out, dout = _arg(out, dtype), _arg(dout, dtype)
    _check_head_dims(q, v)
    B, H, L, _ = q.shape
    lse = _arg(lse, "float64").reshape(B * H, L)
    mask, has_mask = _mask_and_flag(mask, dtype, xp)
    p, inv_keep = _dropout(dropout_p)
    dq = xp.zeros(q.shape, dtype=dtype)
    dk = xp.zeros(k.shape, dtype=dtype)
    dv = xp.zeros(v.shape, dtype=dtype)
    dlt = xp.empty((B * H, L), dtype=np.float64)
    if k.shape[2]:
        common = (mask, has_mask, bool(causal), dtype.type(scale), int(seed), p, inv_keep, dtype.type(1.0))
        _grid(_KERNELS[dtype][1], B * H, L, q, q, k, v, out, dout, lse, dlt, *common, dq)
        _grid(_KERNELS[dtype][2], B * H, k.shape[2], q, q, k, v, dout, lse, dlt, *common, dk, dv)
    return dq, dk, dv


def attention_dropout_mask(q, S, dropout_p, seed):
    """The dropout factors (B, H, L, S): the twin of kernels/cpu/attention.attention_dropout_mask."""
    xp = array_module(q)
    dtype = _float_dtype(q)
    p, inv_keep = _dropout(dropout_p)
    B, H, L, _ = q.shape
    keep = xp.empty((B, H, L, int(S)), dtype=dtype)
    if keep.size:
        launch(_dropout_mask_kernel, B * H * L, keep, keep, int(seed), p, inv_keep)
    return keep
