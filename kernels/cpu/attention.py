"""Fused (flash-style) scaled dot-product attention for the CPU (Numba).

The math of one query row (online softmax, backward from the saved log-sum-exp, dropout by a
counter hash; formulas in ``kernels/attention_math.py``) is shared with the twins in
``kernels/cuda/attention.py``. Here a loop runs over the (batch, head) pairs, in parallel
(``prange``) from ``CPU_PARALLEL_MIN_ELEMENTS["attention"]`` score entries up. Each pair
copies its keys transposed (K^T, d x S), its values (S x dv) and, for the backward, V^T, K,
Q and dO into small scratch arrays first: every inner loop then runs over contiguous memory,
which LLVM vectorises, and the inputs may be any strided 4-D views (the heads of a packed
QKV projection, a ``permute``) without a copy of the whole tensor. The backward goes over
the pair's queries first (each row's dS and P Z, kept in two (L, S) scratch arrays of the
pair, and dq), then over its keys (dk, dv from a column of each). With ``causal`` a query row
stops near key ``i`` (the rest would only add zeros), halving the work.

All of a row's keys form one tile: the running maximum is then the row's maximum, and the
row costs one pass over the keys for the scores, one for the exponentials and one for the
weighted values. float32 input keeps float32 arithmetic in those loops (the scale is passed
in the input's dtype so no float64 creeps in) and uses the vectorisable ``exp_nonpos`` for
the exponentials (``kernels/cpu/_vecmath.py``); float64 input keeps libm's ``exp``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import attention_math
from .._math_module import compile_math
from ..attention_math import (add_mask, axpy_rows, dot_tile, finish_row, grad_tile, keep_scale, row_dot,
                              softmax_tile)
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel
from ._vecmath import exp_nonpos

#: No limit on the head dimension on the cpu (the cuda twin has one: its shared-memory tiles).
ATTENTION_MAX_HEAD_DIM = 1 << 30

_compile_row = njit(cache=True, fastmath={"reassoc", "contract", "nsz"}, error_model="numpy")
_ROWS_LIBM_EXP = compile_math(attention_math, _compile_row, "libm")
_ROWS_VECTOR_EXP = compile_math(attention_math, _compile_row, "vector_exp", exp=exp_nonpos)


# --- the loops over (batch, head) pairs -------------------------------------------------------
@njit(cache=True, inline="always")
def _round_up(n):
    """``n`` rounded up to a multiple of 32: a causal row runs its loops over whole
    vectorised loop bodies (two 16-lane vectors; the extra keys j > i are masked to -inf)
    rather than a scalar tail per row."""
    return (n + 31) // 32 * 32


def _forward_loop(q, k, v, mask, has_mask, causal, scale, seed, p, inv_keep, one, out, lse):
    B, H, L, d = q.shape
    S, dv = k.shape[2], v.shape[3]
    for bh in prange(B * H):
        b, h = bh // H, bh % H
        kt = np.empty((d, S), dtype=out.dtype)
        vs = np.empty((S, dv), dtype=out.dtype)
        qrow = np.empty((1, d), dtype=out.dtype)
        s = np.empty(max(S, 1), dtype=out.dtype)
        for j in range(S):
            for c in range(d):
                kt[c, j] = k[b, h, j, c]
            for c in range(dv):
                vs[j, c] = v[b, h, j, c]
        o = out[b, h]
        for i in range(L):
            for c in range(d):
                qrow[0, c] = q[b, h, i, c]
            n = min(_round_up(i + 1), S) if causal else S
            dot_tile(qrow, 0, kt, 0, n, d, scale, s)
            add_mask(s, n, mask, has_mask, causal, b, h, i, 0, 0, 1)
            m, l, alpha = softmax_tile(s, n, -np.inf, 0.0, seed, bh, i, 0, p, inv_keep)
            for c in range(dv):
                o[i, c] = 0.0
            axpy_rows(o, i, one, s, n, vs, 0, dv, one)
            finish_row(o, i, dv, m, l, o, i, lse, bh, i)


def _backward_loop(q, k, v, out, lse, dout, mask, has_mask, causal, scale, seed, p, inv_keep, one, dq, dk, dv_,
                   dlt):
    B, H, L, d = q.shape
    S, dv = k.shape[2], v.shape[3]
    for bh in prange(B * H):
        b, h = bh // H, bh % H
        kt = np.empty((d, S), dtype=dq.dtype)
        ks = np.empty((S, d), dtype=dq.dtype)
        vt = np.empty((dv, S), dtype=dq.dtype)
        qs = np.empty((L, d), dtype=dq.dtype)
        dos = np.empty((L, dv), dtype=dq.dtype)
        ds = np.zeros((L, S), dtype=dq.dtype)  # row i: the scores, then dS_i (grad_tile works in place)
        pz = np.zeros((L, S), dtype=dq.dtype)  # row i: dO_i . v_j, then P_ij Z_ij
        for j in range(S):
            for c in range(d):
                x = k[b, h, j, c]
                kt[c, j] = x
                ks[j, c] = x
            for c in range(dv):
                vt[c, j] = v[b, h, j, c]
        for i in range(L):
            for c in range(d):
                qs[i, c] = q[b, h, i, c]
            for c in range(dv):
                dos[i, c] = dout[b, h, i, c]
        dqo, dko, dvo, oo = dq[b, h], dk[b, h], dv_[b, h], out[b, h]
        # queries: dS and P Z row by row, dq_i = scale dS_i K
        for i in range(L):
            dlt[bh, i] = row_dot(dos, i, oo, i, dv)
            # a fully masked row (NaN lse) reaches every key, as the unfused softmax's NaN row does
            n = min(_round_up(i + 1), S) if causal and lse[bh, i] == lse[bh, i] else S
            s, dp = ds[i], pz[i]
            dot_tile(qs, i, kt, 0, n, d, scale, s)
            add_mask(s, n, mask, has_mask, causal, b, h, i, 0, 0, 1)
            dot_tile(dos, i, vt, 0, n, dv, one, dp)
            grad_tile(s, dp, n, lse, dlt, bh, i, 0, 0, 1, seed, p, inv_keep)
            axpy_rows(dqo, i, one, s, n, ks, 0, d, scale)
        # keys: dk_j = scale sum_i dS_ij q_i, dv_j = sum_i P_ij Z_ij dO_i (a column of ds, pz;
        # causal: only i >= j)
        for j in range(S):
            i0 = min(j, L) if causal else 0
            axpy_rows(dko, j, one, ds[i0:, j], L - i0, qs, i0, d, scale)
            axpy_rows(dvo, j, one, pz[i0:, j], L - i0, dos, i0, dv, one)


def _dropout_mask_loop(keep, seed, p, inv_keep):
    B, H, L, S = keep.shape
    for bh in prange(B * H):
        b, h = bh // H, bh % H
        for i in range(L):
            for j in range(S):
                keep[b, h, i, j] = keep_scale(seed, bh, i, j, p, inv_keep)


def _compile_loop(body):
    """``loops[uses_vector_exp][runs_parallel]``: ``body`` against the libm-exp or the
    vector-exp compilation of the math, serial or parallel."""
    return serial_and_parallel(body, _ROWS_LIBM_EXP), serial_and_parallel(body, _ROWS_VECTOR_EXP)


_FORWARD = _compile_loop(_forward_loop)
_BACKWARD = _compile_loop(_backward_loop)
_DROPOUT_MASK = serial_and_parallel(_dropout_mask_loop, _ROWS_LIBM_EXP)


def _loop(loops, dtype, scores):
    """The loop for ``dtype``: vectorisable exp for float32, parallel from the policy's size."""
    return loops[dtype == np.float32][scores >= CPU_PARALLEL_MIN_ELEMENTS["attention"]]


# --- argument handling shared by the public kernels -----------------------------------------
def _float_dtype(q):
    if q.dtype not in (np.float32, np.float64):
        raise TypeError(f"attention kernel: query must be float32 or float64, got {q.dtype}")
    return q.dtype


def _as(a, dtype):
    """``a`` in ``dtype`` (a view when it already is: strided inputs are read in place)."""
    return a if a.dtype == dtype else a.astype(dtype)


def _mask_and_flag(mask, dtype):
    """The additive mask as a 4-D array (each axis full or 1) and whether there is one."""
    if mask is None:
        return np.zeros((1, 1, 1, 1), dtype=dtype), False
    return _as(mask, dtype), True


def _dropout(dropout_p):
    p = float(dropout_p)
    return p, (1.0 / (1.0 - p) if p > 0.0 else 1.0)


# --- public kernels (same names and signatures as kernels/cuda/attention.py) -------------------
def attention_forward(q, k, v, mask, scale, causal, dropout_p, seed):
    """Fused attention ``softmax(q k^T scale + mask [causal]) (dropout) v`` on 4-D arrays.

    ``q`` (B, H, L, d), ``k`` (B, H, S, d), ``v`` (B, H, S, dv), any strides (k and v are
    converted to q's dtype); ``mask`` None or an additive 4-D array whose axes are each
    full or 1; ``causal`` masks keys j > i; ``dropout_p`` drops probabilities with the
    hash mask of ``seed`` (a non-negative int below 2**32). Returns ``(out, lse)``: out
    (B, H, L, dv) in q's dtype and each row's log-sum-exp (B, H, L) in float64.
    """
    dtype = _float_dtype(q)
    k, v = _as(k, dtype), _as(v, dtype)
    mask, has_mask = _mask_and_flag(mask, dtype)
    p, inv_keep = _dropout(dropout_p)
    B, H, L, _ = q.shape
    out = np.empty((B, H, L, v.shape[3]), dtype=dtype)
    lse = np.empty((B * H, L), dtype=np.float64)  # (B*H, L) in the loop, (B, H, L) returned
    if lse.size:
        _loop(_FORWARD, dtype, B * H * L * k.shape[2])(
            q, k, v, mask, has_mask, bool(causal), dtype.type(scale), int(seed), p, inv_keep, dtype.type(1.0), out,
            lse)
    return out, lse.reshape(B, H, L)


def attention_backward(q, k, v, out, lse, dout, mask, scale, causal, dropout_p, seed):
    """Gradients ``(dq, dk, dv)`` of :func:`attention_forward`, given its ``out`` and ``lse``
    and the output gradient ``dout``, with the same mask, scale, causal flag, dropout
    probability and seed (so the dropout mask is regenerated, not stored)."""
    dtype = _float_dtype(q)
    k, v, out, dout = _as(k, dtype), _as(v, dtype), _as(out, dtype), _as(dout, dtype)
    B, H, L, _ = q.shape
    lse = np.ascontiguousarray(lse, dtype=np.float64).reshape(B * H, L)
    mask, has_mask = _mask_and_flag(mask, dtype)
    p, inv_keep = _dropout(dropout_p)
    dq = np.zeros(q.shape, dtype=dtype)
    dk = np.zeros(k.shape, dtype=dtype)
    dv = np.zeros(v.shape, dtype=dtype)
    dlt = np.empty((B * H, L), dtype=np.float64)  # D_i = dO_i . o_i of each row
    if dq.size and k.shape[2]:
        _loop(_BACKWARD, dtype, B * H * L * k.shape[2])(
            q, k, v, out, lse, dout, mask, has_mask, bool(causal), dtype.type(scale), int(seed), p, inv_keep,
            dtype.type(1.0), dq, dk, dv, dlt)
    return dq, dk, dv


def attention_dropout_mask(q, S, dropout_p, seed):
    """The dropout factors ``Z`` (B, H, L, S) that :func:`attention_forward` applies with
    ``dropout_p`` and ``seed`` for a query ``q`` (B, H, L, d): 0 or ``1 / (1 - p)``, in q's
    dtype. For the differentiable (create_graph) backward, which needs Z as an array."""
    dtype = _float_dtype(q)
    p, inv_keep = _dropout(dropout_p)
    B, H, L, _ = q.shape
    keep = np.empty((B, H, L, int(S)), dtype=dtype)
    if keep.size:
        _DROPOUT_MASK[keep.size >= CPU_PARALLEL_MIN_ELEMENTS["attention"]](keep, int(seed), p, inv_keep)
    return keep
