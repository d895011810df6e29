"""The integer math of quantized linear and conv2d, written once as plain Python for both devices.

``kernels/cpu/int8.py`` compiles these with ``numba.njit`` (inlined into its loops) and
``kernels/cuda/int8.py`` with ``numba.cuda.jit(device=True)`` (one GPU thread per output
value), both through ``kernels/_math_module.compile_math``.

A quantized linear layer maps uint8 activations ``x_q`` (scale ``s_x``, zero point ``z_x``)
and int8 weights ``w_q`` (scale ``s_w[o]`` per output, zero point 0) to uint8 outputs::

    acc[n, o] = sum_k (x_q[n, k] - z_x) * w_q[o, k]                   (exact, in integers)
              = sum_k x_q[n, k] * w_q[o, k]  -  z_x * sum_k w_q[o, k]
    y         = acc * (s_x * s_w[o]) + bias[o]                         (float64)
    y         = max(y, 0)                                              (fused ReLU, optional)
    out_q     = clamp(round_half_to_even(y / s_out) + z_out, 0, 255)   (requantize)

The first line is the hot loop: 8-bit products summed in a 32-bit accumulator
(:func:`dot_u8_i8`). Each product fits in 16 bits (|255 * -128| = 32640 < 2**15) and the sum of
``K`` of them in 32 bits while ``K * 255 * 128 < 2**31``, i.e. ``K < 65794``; the callers
check that bound. The second form moves the zero point out of the loop: ``sum_k w_q[o, k]``
is computed once per weight, and the loop multiplies the raw bytes. Only then does the
result leave the integers, once per output value (:func:`requantize`).
"""
import numpy as np


def dot_u8_i8(x, x_start, w, w_start, k):
    """``sum_i x[x_start + i] * w[w_start + i]`` for ``i < k``, in int32.

    Two details make Numba's loop SIMD code (measured on 32x64x128: 13 us with them, 200-600 us
    without):

    * every step is truncated to int32 (``np.int32``): without it Numba widens the sum to
      int64, which halves the lanes per SIMD register. The true sum fits in int32 (see the
      module docstring), so nothing is lost;
    * the indices are unsigned (``np.uint64``). Numba wraps a negative signed index around
      (``a[-1]`` is the last element), so a signed index whose sign LLVM cannot prove (an
      offset computed by a division, as the callers' ``t // O``) costs a compare and select
      per access, and the loop stays scalar. Unsigned indices have no such branch.
    """
    acc = np.int32(0)
    xs = np.uint64(x_start)
    ws = np.uint64(w_start)
    for i in range(k):
        u = np.uint64(i)
        acc = np.int32(acc + np.int32(x[xs + u]) * np.int32(w[ws + u]))
    return acc


def dot4_u8_i8(x, x_start, w, w_start, k):
    """The dot products of one row of ``x`` with four consecutive rows of ``w`` (row length
    ``k``, the first at ``w_start``): four int32 sums, as :func:`dot_u8_i8` computes each.

    The cpu kernel's register blocking: each byte of ``x`` is loaded once for four weight
    rows, and the four sums are reduced together; 15-50% faster than four separate dot
    products once rows are 16 bytes or longer (measured 32x512x512: 151 us against 183 us).
    """
    a0 = np.int32(0)
    a1 = np.int32(0)
    a2 = np.int32(0)
    a3 = np.int32(0)
    xs = np.uint64(x_start)
    w0 = np.uint64(w_start)
    w1 = w0 + np.uint64(k)
    w2 = w1 + np.uint64(k)
    w3 = w2 + np.uint64(k)
    for i in range(k):
        u = np.uint64(i)
        xv = np.int32(x[xs + u])
        a0 = np.int32(a0 + xv * np.int32(w[w0 + u]))
        a1 = np.int32(a1 + xv * np.int32(w[w1 + u]))
        a2 = np.int32(a2 + xv * np.int32(w[w2 + u]))
        a3 = np.int32(a3 + xv * np.int32(w[w3 + u]))
    return a0, a1, a2, a3


def dot2x4_u8_i8(x, x_start, w, w_start, k):
    """The dot products of two consecutive rows of ``x`` (the first at ``x_start``) with four
    consecutive rows of ``w`` (the first at ``w_start``), rows of length ``k``: eight int32
    sums, ``(a00, a01, a02, a03, a10, a11, a12, a13)`` with ``a<i><j>`` = row ``i`` of ``x``
    times row ``j`` of ``w``, each as :func:`dot_u8_i8` computes it.

    The cpu kernel's 2x4 register blocking: each weight byte loaded serves two inputs and each
    input byte four weight rows, so a batch reads the weights half as often as with
    :func:`dot4_u8_i8` (measured on 512x288x64, a batch of 32 through the digits CNN's second
    convolution: 147 us against 258 us; 32x256x128: 28 us against 33 us).
    """
    a00 = np.int32(0)
    a01 = np.int32(0)
    a02 = np.int32(0)
    a03 = np.int32(0)
    a10 = np.int32(0)
    a11 = np.int32(0)
    a12 = np.int32(0)
    a13 = np.int32(0)
    x0 = np.uint64(x_start)
    x1 = x0 + np.uint64(k)
    w0 = np.uint64(w_start)
    w1 = w0 + np.uint64(k)
    w2 = w1 + np.uint64(k)
    w3 = w2 + np.uint64(k)
    for i in range(k):
        u = np.uint64(i)
        xv0 = np.int32(x[x0 + u])
        xv1 = np.int32(x[x1 + u])
        b0 = np.int32(w[w0 + u])
        b1 = np.int32(w[w1 + u])
        b2 = np.int32(w[w2 + u])
        b3 = np.int32(w[w3 + u])
        a00 = np.int32(a00 + xv0 * b0)
        a01 = np.int32(a01 + xv0 * b1)
        a02 = np.int32(a02 + xv0 * b2)
        a03 = np.int32(a03 + xv0 * b3)
        a10 = np.int32(a10 + xv1 * b0)
        a11 = np.int32(a11 + xv1 * b1)
        a12 = np.int32(a12 + xv1 * b2)
        a13 = np.int32(a13 + xv1 * b3)
    return a00, a01, a02, a03, a10, a11, a12, a13


def requantize(acc, multiplier, bias, relu, out_scale, out_zero_point, qmin, qmax):
    """One output value: ``clamp(round_half_even(y / out_scale) + out_zero_point, qmin, qmax)``
    with ``y = acc * multiplier + bias`` (``max(y, 0)`` when ``relu``), all in float64.

    ``y / out_scale`` is clamped to one step beyond the output range before rounding (a huge
    or NaN value would overflow the float-to-integer step); NaN goes to ``qmin``.

    Python's ``round(v)`` rounds half to even, and so does each compiled form: Numba lowers
    it to LLVM's ``rint`` on the CPU and to ``__nv_llrint`` (round to nearest even) on the GPU.
    A hand-written floor-and-compare version gave the same numbers 4-5x slower (16 ns against
    3.5 ns per value on the CPU), which made requantizing cost more than the dot products of
    short rows (a 3x3 convolution over one channel has K = 9).
    """
    y = acc * multiplier + bias
    if relu and y < 0.0:
        y = 0.0
    v = y / out_scale
    lo = qmin - out_zero_point - 1.0
    hi = qmax - out_zero_point + 1.0
    if not v >= lo:
        v = lo
    if v > hi:
        v = hi
    q = round(v) + out_zero_point
    if q < qmin:
        q = qmin
    if q > qmax:
        q = qmax
    return q


def quantize_value(x, inv_scale, zero_point, qmin, qmax):
    """One float32 value to its integer: ``clamp(round_half_even(float32(x * inv_scale +
    zero_point)), qmin, qmax)``, NaN to ``zero_point`` (``torch.quantize_per_tensor``'s rounding,
    ``tinynet.quantization.qtensor``).

    ``inv_scale`` is the float32 reciprocal of the scale. The product of two float32 numbers
    is exact in float64, so ``x * inv_scale + zero_point`` rounded once to float64 and then to
    float32 is the fused multiply-add PyTorch computes, whether or not the compiler contracts
    the two operations. Clamping before rounding gives the same integer as after (the bounds
    are integers) and keeps huge values away from the float-to-integer conversion.
    """
    v = np.float32(np.float64(x) * np.float64(inv_scale) + np.float64(zero_point))
    if v != v:
        return zero_point
    if v < qmin:
        v = qmin
    if v > qmax:
        v = qmax
    return round(np.float64(v))


def dequantize_acc(acc, multiplier, bias):
    """The real value of an accumulator: ``acc * multiplier + bias`` (dynamic quantization's output)."""
    return acc * multiplier + bias


def source_pixel(out_pos, stride, tap, dilation, pad):
    """The input position that output ``out_pos`` reads through kernel tap ``tap`` along one axis
    (negative or past the end: padding)."""
    return out_pos * stride + tap * dilation - pad
