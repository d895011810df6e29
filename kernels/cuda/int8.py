"""Quantized (int8) linear and im2col on the GPU (Numba CUDA): twins of ``kernels/cpu/int8.py``
(same names, signatures and layouts), the math of ``kernels/int8_math.py``.

One thread per output value: thread ``t`` owns output ``(m, o) = divmod(t, O)``, runs the
int32 dot product of row ``m`` of ``x`` with row ``o`` of ``w`` and requantizes it.
Consecutive threads share the row of ``x`` (a broadcast read) and walk consecutive weight
rows. ``int8_im2col``: one thread per entry of the ``(N*OH*OW, C*kh*kw)`` patch matrix;
``quantize_per_tensor_u8``: one thread per value.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from .. import int8_math
from .._math_module import compile_math
from ._launch import array_module, launch

_INT8_MATH = compile_math(int8_math, cuda.jit(device=True))


@cuda.jit
def _linear_kernel(x, w, w_sums, x_zero_point, multipliers, bias, relu, out_scale, out_zero_point, out, m, o, k):
    t = cuda.grid(1)
    if t < m * o:
        r = t // o
        c = t - r * o
        acc = _INT8_MATH.dot_u8_i8(x, r * k, w, c * k, k) - x_zero_point * w_sums[c]
        out[t] = np.uint8(_INT8_MATH.requantize(acc, multipliers[c], bias[c], relu, out_scale, out_zero_point,
                                                0.0, 255.0))


@cuda.jit
def _linear_dequant_kernel(x, w, w_sums, x_zero_point, multipliers, bias, out, m, o, k):
    t = cuda.grid(1)
    if t < m * o:
        r = t // o
        c = t - r * o
        acc = _INT8_MATH.dot_u8_i8(x, r * k, w, c * k, k) - x_zero_point * w_sums[c]
        out[t] = np.float32(_INT8_MATH.dequantize_acc(acc, multipliers[c], bias[c]))


@cuda.jit
def _im2col_kernel(x, pad_value, cols, n_img, c_in, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    t = cuda.grid(1)
    k = c_in * kh * kw
    if t < n_img * oh * ow * k:
        row = t // k
        col = t - row * k
        n = row // (oh * ow)
        rest = row - n * (oh * ow)
        oy = rest // ow
        ox = rest - oy * ow
        c = col // (kh * kw)
        tap = col - c * (kh * kw)
        i = tap // kw
        j = tap - i * kw
        hh = _INT8_MATH.source_pixel(oy, sh, i, dh, ph)
        ww = _INT8_MATH.source_pixel(ox, sw, j, dw, pw)
        if 0 <= hh < h and 0 <= ww < w:
            cols[t] = x[((n * c_in + c) * h + hh) * w + ww]
        else:
            cols[t] = pad_value


@cuda.jit
def _quantize_kernel(x, inv_scale, zero_point, out, n):
    t = cuda.grid(1)
    if t < n:
        out[t] = np.uint8(_INT8_MATH.quantize_value(x[t], inv_scale, zero_point, 0, 255))


def _flat(a, dtype):
    xp = array_module(a)
    return xp.ascontiguousarray(a, dtype=dtype).reshape(-1)


def _check_bytes(name, a, dtype):
    """The integer operands are not converted: a wider integer cast to 8 bits would wrap around."""
    if a.dtype != dtype:
        raise TypeError(f"{name}: expected {np.dtype(dtype).name} values, got {a.dtype} of shape {tuple(a.shape)}")


def _operands(x, w, w_sums, multipliers, bias):
    _check_bytes("int8 kernel: x", x, np.uint8)
    _check_bytes("int8 kernel: w", w, np.int8)
    m, k = x.shape
    o = w.shape[0]
    return (_flat(x, np.uint8), _flat(w, np.int8), _flat(w_sums, np.int32), _flat(multipliers, np.float64),
            _flat(bias, np.float64), m, o, k)


def int8_linear(x, w, w_sums, x_zero_point, multipliers, bias, relu, out_scale, out_zero_point):
    """uint8 ``(M, O)``: the requantized int8 linear layer (see ``kernels/cpu/int8.py``)."""
    xf, wf, sums, mult, b, m, o, k = _operands(x, w, w_sums, multipliers, bias)
    out = array_module(xf).empty(m * o, dtype=np.uint8)
    launch(_linear_kernel, m * o, xf, xf, wf, sums, int(x_zero_point), mult, b, bool(relu), float(out_scale),
           float(out_zero_point), out, m, o, k)
    return out.reshape(m, o)


def int8_linear_dequant(x, w, w_sums, x_zero_point, multipliers, bias):
    """float32 ``(M, O)``: ``acc * multipliers[o] + bias[o]`` (see ``kernels/cpu/int8.py``)."""
    xf, wf, sums, mult, b, m, o, k = _operands(x, w, w_sums, multipliers, bias)
    out = array_module(xf).empty(m * o, dtype=np.float32)
    launch(_linear_dequant_kernel, m * o, xf, xf, wf, sums, int(x_zero_point), mult, b, out, m, o, k)
    return out.reshape(m, o)


def int8_im2col(x, pad_value, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """uint8 ``(N*OH*OW, C*kh*kw)`` patches, ``pad_value`` on the padding (see ``kernels/cpu/int8.py``)."""
    _check_bytes("int8_im2col: x", x, np.uint8)
    n, c, h, w = x.shape
    flat = _flat(x, np.uint8)
    cols = array_module(flat).empty(n * oh * ow * c * kh * kw, dtype=np.uint8)
    launch(_im2col_kernel, cols.size, flat, flat, np.uint8(pad_value), cols, n, c, h, w, kh, kw, sh, sw, ph, pw,
           dh, dw, oh, ow)
    return cols.reshape(n * oh * ow, c * kh * kw)


def quantize_per_tensor_u8(x, inv_scale, zero_point):
    """uint8 array of ``x``'s shape, each float32 value quantized (see ``kernels/cpu/int8.py``)."""
    if x.dtype != np.float32:
        raise TypeError(f"quantize_per_tensor_u8: expected float32 values, got {x.dtype} of shape {tuple(x.shape)}")
    flat = _flat(x, np.float32)
    out = array_module(flat).empty(flat.size, dtype=np.uint8)
    launch(_quantize_kernel, flat.size, flat, flat, float(np.float32(inv_scale)), int(zero_point), out, flat.size)
    return out.reshape(x.shape)
