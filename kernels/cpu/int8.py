"""Quantized (int8) linear and im2col on the CPU (Numba): the integer math of
``kernels/int8_math.py`` in loops over the output values.

Layouts, the same on both devices (``kernels/cuda/int8.py`` holds the twins):

* ``x``: uint8 activations ``(M, K)``, one row per sample (per output pixel for a
  convolution), ``K`` contiguous;
* ``w``: int8 weights ``(O, K)``, one row per output, ``K`` contiguous (a linear weight as
  it is stored; a conv weight ``(O, C, kh, kw)`` flattened), and ``w_sums[o] = sum_k w[o, k]``
  (int32, computed once per weight by the caller, which caches both on the weight);
* the output ``(M, O)``: requantized uint8 (``int8_linear``) or float32 (``int8_linear_dequant``).

Both operands of every dot product are read contiguously along ``K`` and summed in int32,
so LLVM vectorises the inner loop (widening the bytes to 32-bit lanes; see
``kernels/int8_math.dot_u8_i8`` for the two details that make it). Rows of ``x`` go in
pairs against four weight rows at a time (``int8_math.dot2x4_u8_i8``: each byte of ``x``
serves four outputs and each weight byte two rows; an odd last row uses ``dot4_u8_i8``).
Rows shorter than ``BLOCK_MIN_K`` (a 3x3 kernel on one input channel has K = 9) are too
short for a SIMD loop along K: they are built as K outer-product updates vectorised along
the outputs instead (2x faster at K = 9).

The accumulators are computed first, for all rows, then requantized (or scaled back to
float) in a second loop: loops that do one thing each are scheduled well, where one loop
computing a dot product and requantizing it per output measured 2-4x slower (32x512x512:
630 us against 150 us). Rows run in parallel (``prange``) from
``CPU_PARALLEL_MIN_ELEMENTS["int8"]`` multiply-adds up; below that the serial loops avoid
waking the thread pool.

Below the parallel threshold ``int8_linear`` runs both loops in one compiled call
(``_linear_small``): for the small layers of a quantized model at batch 1-32 the Python
side of the call (argument conversion, one Numba dispatch per loop) cost as much as the
arithmetic.

``quantize_per_tensor_u8`` rounds float32 values to quint8 in one pass
(``int8_math.quantize_value``), what a quantized model does to its input on every call.

``int8_im2col`` unrolls the receptive fields of a uint8 ``(N, C, H, W)`` input into rows
``(n, oy, ox)`` of ``C*kh*kw`` entries ordered ``(c, i, j)`` like a flattened weight,
writing ``pad_value`` (the input's zero point, which stands for real 0) where a tap falls
on the padding. Rows rather than the float kernels' columns: each row is then one
contiguous operand of the dot products.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import int8_math
from .._math_module import compile_math
from ..int8_math import dequantize_acc, dot2x4_u8_i8, dot4_u8_i8, dot_u8_i8, quantize_value, requantize
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel

_INT8_MATH = compile_math(int8_math, njit(cache=True, inline="always"))

#: Rows shorter than this are built by outer-product updates along the outputs: on 2048x9x32
#: (a 3x3 kernel on one channel, a batch of 32 8x8 images) 41 us, against 78 us for one dot
#: product per output and 106 us for four weight rows at a time.
BLOCK_MIN_K = 16


def _accumulate_body(x, w, w_t, acc, m, o, k, block_min_k):
    # Rows in pairs: two rows of x against four weight rows at a time (dot2x4_u8_i8) from
    # K = block_min_k up; an odd last row, and short rows, go one at a time.
    for p in prange((m + 1) // 2):
        r = 2 * p
        if k >= block_min_k and r + 1 < m:
            row = r * o
            start = o - o % 4
            for c in range(0, start, 4):
                a00, a01, a02, a03, a10, a11, a12, a13 = dot2x4_u8_i8(x, r * k, w, c * k, k)
                acc[row + c] = a00
                acc[row + c + 1] = a01
                acc[row + c + 2] = a02
                acc[row + c + 3] = a03
                acc[row + o + c] = a10
                acc[row + o + c + 1] = a11
                acc[row + o + c + 2] = a12
                acc[row + o + c + 3] = a13
            for c in range(start, o):
                acc[row + c] = dot_u8_i8(x, r * k, w, c * k, k)
                acc[row + o + c] = dot_u8_i8(x, (r + 1) * k, w, c * k, k)
        else:
            for rr in range(r, min(r + 2, m)):
                row = rr * o
                if k < block_min_k:
                    # Short rows (a 3x3 kernel on one channel: K = 9): a dot product of 9 bytes
                    # never reaches a SIMD loop, so the row is built as K outer-product updates
                    # instead, vectorised along the O outputs (w_t is the weight transposed, (K, O)).
                    for c in range(o):
                        acc[row + c] = 0
                    for kk in range(k):
                        xv = np.int32(x[np.uint64(rr * k + kk)])
                        base = np.uint64(kk * o)
                        for c in range(o):
                            u = np.uint64(row + c)
                            acc[u] = np.int32(acc[u] + xv * np.int32(w_t[base + np.uint64(c)]))
                else:
                    start = o - o % 4  # four weight rows at a time share each load of x
                    for c in range(0, start, 4):
                        a0, a1, a2, a3 = dot4_u8_i8(x, rr * k, w, c * k, k)
                        acc[row + c] = a0
                        acc[row + c + 1] = a1
                        acc[row + c + 2] = a2
                        acc[row + c + 3] = a3
                    for c in range(start, o):
                        acc[row + c] = dot_u8_i8(x, rr * k, w, c * k, k)


def _requantize_body(acc, w_sums, x_zero_point, multipliers, bias, relu, out_scale, out_zero_point, out, m, o):
    for r in prange(m):
        row = r * o
        for c in range(o):
            out[row + c] = np.uint8(requantize(acc[row + c] - x_zero_point * w_sums[c], multipliers[c], bias[c], relu,
                                               out_scale, out_zero_point, 0.0, 255.0))


def _dequantize_body(acc, w_sums, x_zero_point, multipliers, bias, out, m, o):
    for r in prange(m):
        row = r * o
        for c in range(o):
            out[row + c] = np.float32(dequantize_acc(acc[row + c] - x_zero_point * w_sums[c], multipliers[c], bias[c]))


def _im2col_body(xp, cols, n_img, c_in, hp, wp, kh, kw, sh, sw, dh, dw, oh, ow):
    # xp: the input already padded (see int8_im2col), so no tap needs a bounds check.
    k = c_in * kh * kw
    for row in prange(n_img * oh * ow):
        n = row // (oh * ow)
        rest = row - n * (oh * ow)
        oy = rest // ow
        ox = rest - oy * ow
        col = np.uint64(row * k)
        for c in range(c_in):
            base = ((n * c_in + c) * hp + oy * sh) * wp + ox * sw
            for i in range(kh):
                src = np.uint64(base + i * dh * wp)
                for j in range(kw):
                    cols[col] = xp[src + np.uint64(j * dw)]
                    col += np.uint64(1)


def _quantize_body(x, inv_scale, zero_point, out, n):
    for i in prange(n):
        out[i] = np.uint8(quantize_value(x[i], inv_scale, zero_point, 0, 255))


_accumulate = serial_and_parallel(_accumulate_body, _INT8_MATH)
_quantize = serial_and_parallel(_quantize_body, _INT8_MATH)
_requantize = serial_and_parallel(_requantize_body, _INT8_MATH)
_dequantize = serial_and_parallel(_dequantize_body, _INT8_MATH)
_im2col = serial_and_parallel(_im2col_body, _INT8_MATH)
_accumulate_serial, _requantize_serial, _dequantize_serial = _accumulate[0], _requantize[0], _dequantize[0]


def _linear_small_body(x, w, w_sums, x_zero_point, multipliers, bias, relu, out_scale, out_zero_point, block_min_k):
    """The serial :func:`int8_linear` in one compiled call: the same two loops (accumulate,
    then requantize) and the short-row transpose, with the buffers allocated inside.

    A small layer (a batch of 1 through 64->128) computes in 1-2 us; calling the two loops
    and allocating their buffers from Python costs about as much again per call (each
    Numba dispatch unboxes every array argument). One dispatch halves that overhead."""
    m, k = x.shape
    o = w.shape[0]
    wf = w.reshape(-1)
    w_t = np.ascontiguousarray(w.T).reshape(-1) if k < block_min_k else wf
    acc = np.empty(m * o, dtype=np.int32)
    _accumulate_serial(x.reshape(-1), wf, w_t, acc, m, o, k, block_min_k)
    out = np.empty(m * o, dtype=np.uint8)
    _requantize_serial(acc, w_sums, x_zero_point, multipliers, bias, relu, out_scale, out_zero_point, out, m, o)
    return out.reshape(m, o)


# Compiled against the math module like the loops it calls, so its cached machine code (which
# inlines them) carries the math's digest in its name and is rebuilt when the math changes.
_linear_small = serial_and_parallel(_linear_small_body, _INT8_MATH)[0]

_U8, _I8, _I32, _F64 = np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.int32), np.dtype(np.float64)


def _small_operands(x, w, w_sums, multipliers, bias):
    """True when the operands are as :func:`_linear_small` takes them (exact dtypes; ``x`` and
    ``w`` 2-D and C-contiguous, as its flat indexing needs; the 1-D vectors are indexed, so any
    layout does) and the product is below the parallel threshold; otherwise the general path
    converts them, or rejects wrong integer types."""
    return (x.ndim == 2 and w.ndim == 2 and x.dtype == _U8 and w.dtype == _I8 and w_sums.dtype == _I32
            and multipliers.dtype == _F64 and bias.dtype == _F64 and x.flags.c_contiguous and w.flags.c_contiguous
            and x.shape[0] * w.shape[0] * x.shape[1] < CPU_PARALLEL_MIN_ELEMENTS["int8"])


def _check_bytes(name, a, dtype):
    """The integer operands are not converted: a wider integer cast to 8 bits would wrap around."""
    if a.dtype != dtype:
        raise TypeError(f"{name}: expected {np.dtype(dtype).name} values, got {a.dtype} of shape {tuple(a.shape)}")


def _operands(x, w, w_sums, multipliers, bias):
    _check_bytes("int8 kernel: x", x, np.uint8)
    _check_bytes("int8 kernel: w", w, np.int8)
    m, k = x.shape
    o = w.shape[0]
    return (np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(w), np.ascontiguousarray(w_sums, dtype=np.int32),
            np.ascontiguousarray(multipliers, dtype=np.float64), np.ascontiguousarray(bias, dtype=np.float64), m, o, k)


def _accumulators(x, w, m, o, k):
    """int32 ``sum_k x[r, k] * w[c, k]`` for every (r, c), flat, in parallel from the policy's size."""
    # The (K, O) transpose for short rows costs K*O < 16*O byte copies: made here, per call.
    w_t = np.ascontiguousarray(w.T).reshape(-1) if k < BLOCK_MIN_K else w.reshape(-1)
    acc = np.empty(m * o, dtype=np.int32)
    parallel = m * o * k >= CPU_PARALLEL_MIN_ELEMENTS["int8"]
    _accumulate[parallel](x, w.reshape(-1), w_t, acc, m, o, k, BLOCK_MIN_K)
    return acc, parallel


def int8_linear(x, w, w_sums, x_zero_point, multipliers, bias, relu, out_scale, out_zero_point):
    """uint8 ``(M, O)``: ``clamp(rint((acc * multipliers[o] + bias[o]) / out_scale) + out_zero_point, 0, 255)``
    with ``acc = sum_k (x[m, k] - x_zero_point) * w[o, k]`` in int32 (``max(., 0)`` before
    the division when ``relu``). ``x`` uint8 (M, K), ``w`` int8 (O, K), ``w_sums`` int32 (O,),
    ``multipliers``/``bias`` float64 (O,)."""
    if _small_operands(x, w, w_sums, multipliers, bias):
        return _linear_small(x, w, w_sums, int(x_zero_point), multipliers, bias, bool(relu), float(out_scale),
                             float(out_zero_point), BLOCK_MIN_K)
    xf, wc, sums, mult, b, m, o, k = _operands(x, w, w_sums, multipliers, bias)
    acc, parallel = _accumulators(xf, wc, m, o, k)
    out = np.empty(m * o, dtype=np.uint8)
    _requantize[parallel](acc, sums, int(x_zero_point), mult, b, bool(relu), float(out_scale), float(out_zero_point),
                          out, m, o)
    return out.reshape(m, o)


def int8_linear_dequant(x, w, w_sums, x_zero_point, multipliers, bias):
    """float32 ``(M, O)``: ``acc * multipliers[o] + bias[o]`` with ``acc`` as in :func:`int8_linear`."""
    xf, wc, sums, mult, b, m, o, k = _operands(x, w, w_sums, multipliers, bias)
    acc, parallel = _accumulators(xf, wc, m, o, k)
    out = np.empty(m * o, dtype=np.float32)
    _dequantize[parallel](acc, sums, int(x_zero_point), mult, b, out, m, o)
    return out.reshape(m, o)


def int8_im2col(x, pad_value, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """uint8 ``(N*OH*OW, C*kh*kw)``: row ``(n, oy, ox)``, entry ``(c, i, j)`` is
    ``x[n, c, oy*sh + i*dh - ph, ox*sw + j*dw - pw]``, or ``pad_value`` on the padding.

    The input is first copied into a buffer already padded with ``pad_value`` (N*C planes
    of ``(H + padding) x (W + padding)`` bytes, small next to the ``kh*kw`` times larger
    result), so the copy loop reads every tap without a bounds check: about 2x faster
    than testing each tap against the edges (a 32x32x4x4 input, 3x3 taps: 133 us against 254 us).
    """
    _check_bytes("int8_im2col: x", x, np.uint8)
    n, c, h, w = x.shape
    hp = max(h + ph, (oh - 1) * sh + (kh - 1) * dh + 1)  # rows the windows reach, past the bottom padding too
    wp = max(w + pw, (ow - 1) * sw + (kw - 1) * dw + 1)
    padded = np.full((n, c, hp, wp), pad_value, dtype=np.uint8)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    cols = np.empty(n * oh * ow * c * kh * kw, dtype=np.uint8)
    _im2col[cols.size >= CPU_PARALLEL_MIN_ELEMENTS["im2col"]](
        padded.reshape(-1), cols, n, c, hp, wp, kh, kw, sh, sw, dh, dw, oh, ow)
    return cols.reshape(n * oh * ow, c * kh * kw)


def quantize_per_tensor_u8(x, inv_scale, zero_point):
    """uint8 array of ``x``'s shape: ``clamp(round_half_even(float32(x * inv_scale + zero_point)), 0, 255)``
    per element, NaN to ``zero_point`` (``int8_math.quantize_value``; what ``quantize_per_tensor``
    computes for quint8). ``x`` float32; ``inv_scale`` the float32 reciprocal of the scale;
    ``zero_point`` an integer in 0..255. One pass instead of NumPy's eight (a quantized
    model quantizes its input on every call)."""
    if x.dtype != np.float32:
        raise TypeError(f"quantize_per_tensor_u8: expected float32 values, got {x.dtype} of shape {tuple(x.shape)}")
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.size, dtype=np.uint8)
    _quantize[flat.size >= CPU_PARALLEL_MIN_ELEMENTS["quantize"]](flat, float(np.float32(inv_scale)), int(zero_point),
                                                                  out, flat.size)
    return out.reshape(x.shape)
