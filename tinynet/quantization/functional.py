"""Quantized linear and conv2d on int8 kernels, dynamic linear, and the qparams formula.

The names and arguments are PyTorch's ``torch.ao.nn.quantized.functional`` where it has
them (``linear``, ``conv2d``). The math of a quantized linear layer, with uint8
activations ``x_q`` (``s_x``, ``z_x``), int8 weights ``w_q`` (``s_w[o]``, zero point 0) and
an output scale ``s`` and zero point ``z``::

    acc[n, o] = sum_k (x_q[n, k] - z_x) * w_q[o, k]              int8 x uint8 products, int32 sum
    y[n, o]   = acc[n, o] * (s_x * s_w[o]) + bias[o]            float64
    y         = max(y, 0)                                       when relu=True (a fused ReLU)
    out_q     = clamp(round_half_to_even(y / s) + z, 0, 255)    requantize to quint8

Why this gives the float answer: ``x ~ s_x (x_q - z_x)`` and ``w ~ s_w w_q``, so
``x @ w.T ~ s_x s_w (x_q - z_x) @ w_q.T``: the whole matrix product runs in integers and
only its result is scaled back. The integer loops run in the device's kernels
(``device.kernels.int8_linear``: Numba on the CPU, Numba CUDA on the GPU; see
``kernels/int8_math.py``), not as float math on rounded values. A weight is flattened
to ``(O, K)`` int8 with ``K`` contiguous and its row sums ``sum_k w_q[o, k]`` computed once,
and both are cached on the weight QTensor: a layer that runs many batches packs once.

``conv2d`` is the same integer product on the receptive fields (im2col): the uint8 input
is unrolled into rows of ``C/groups * kh * kw`` entries, padded with the input's zero
point (the integer that stands for real 0), one GEMM per group.

``linear_dynamic`` quantizes a float input on the fly from its own range (dynamic
quantization of ``nn.Linear``/``nn.LSTM``): weights int8, activations float in and out.

``quantize_params`` is the observers' formula for a scale and zero point from a range.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import get_device
from ..backend.errors import ArgumentError, DeviceError, DTypeError, ShapeError
from ..functional.conv import conv_geometry
from ..tensor import Tensor
from .qtensor import (QTensor, _check_qdtype, _check_scale, _check_zero_point, _inv_scale, _quantize_array,
                      per_tensor_affine, qint8, quint8)

__all__ = ["linear", "conv2d", "linear_dynamic", "quantize_params"]

#: The largest reduction length K for which the int32 accumulator cannot overflow:
#: |sum of K products| <= K * 255 * 128 < 2**31.
MAX_REDUCTION = (2 ** 31 - 1) // (255 * 128)

_FLOAT32_EPS = float(np.finfo(np.float32).eps)


# --- argument checks -------------------------------------------------------------------------------
def _check_activation(op, x, rank=None):
    if not isinstance(x, QTensor):
        hint = ("; quantize it first, e.g. tn.quantize_per_tensor(x, scale, zero_point, tn.quint8)"
                if isinstance(x, Tensor) else "")
        raise TypeError(f"{op}: input must be a quantized tensor (quint8), got {type(x).__name__}{hint}")
    if x.dtype is not quint8:
        raise DTypeError(f"{op}: input must be quint8 (uint8 activations), got {x.dtype} of shape {x.shape}")
    if x.qscheme().per_channel:
        raise ArgumentError(f"{op}: input must be quantized per tensor, got {x.qscheme()} of shape {x.shape}")
    if rank is not None and x.ndim != rank:
        raise ShapeError(f"{op}: input must be {rank}-D (N, C, H, W), got shape {x.shape}")
    if rank is None and x.ndim < 1:
        raise ShapeError(f"{op}: input must have at least one dimension (..., in_features), got a 0-d tensor")


def _check_weight(op, w, rank):
    if not isinstance(w, QTensor):
        raise TypeError(f"{op}: weight must be a quantized tensor (qint8), got {type(w).__name__}; quantize it with "
                        "tn.quantize_per_channel(w, scales, zero_points, 0, tn.qint8)")
    if w.dtype is not qint8:
        raise DTypeError(f"{op}: weight must be qint8, got {w.dtype} of shape {w.shape}")
    if w.ndim != rank:
        expect = "(out_features, in_features)" if rank == 2 else "(out_channels, in_channels/groups, kh, kw)"
        raise ShapeError(f"{op}: weight must be {rank}-D {expect}, got shape {w.shape}")
    if "int8_gemm" in w._cache:
        return  # packed before, so checked before (a QTensor's integers and parameters do not change)
    if w.qscheme().per_channel:
        if w.q_per_channel_axis() != 0:
            raise ArgumentError(f"{op}: a per-channel weight must be quantized along axis 0 (one scale per output), "
                                f"got axis {w.q_per_channel_axis()} for shape {w.shape}")
        if np.any(w._zero_point != 0):
            raise ArgumentError(f"{op}: weight zero points must be 0 (symmetric int8 weights), got "
                                f"{w._zero_point.tolist()}; quantize the weight symmetrically")
    elif w.q_zero_point() != 0:
        raise ArgumentError(f"{op}: weight zero point must be 0 (symmetric int8 weights), got {w.q_zero_point()}; "
                            "quantize the weight symmetrically")


def _check_bias(op, bias, out_features, device):
    if bias is None:
        return np.zeros(out_features, dtype=np.float64)
    if not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a float Tensor or None, got {type(bias).__name__}")
    if bias.array.dtype.kind != "f":
        raise DTypeError(f"{op}: bias must be a floating tensor, got {bias.dtype}")
    if tuple(bias.shape) != (out_features,):
        raise ShapeError(f"{op}: bias must have shape ({out_features},) (one per output), got {tuple(bias.shape)}")
    if bias.device is not device:
        raise DeviceError(f"{op}: bias is on {bias.device.type} but the input is on {device.type}; "
                          f"move it with .to('{device.type}')")
    return bias.array.astype(np.float64)


def _check_same_device(op, x, w):
    if x.device is not w.device:
        raise DeviceError(f"{op}: input is on {x.device.type} but weight is on {w.device.type}; "
                          f"move one with .to('{x.device.type}')")


def _check_reduction(op, k):
    if k > MAX_REDUCTION:
        raise ShapeError(f"{op}: a reduction over {k} inputs could overflow the int32 accumulator "
                         f"(at most {MAX_REDUCTION} = (2**31 - 1) // (255 * 128)); split the layer")


def _output_params(op, x, scale, zero_point):
    scale = x.q_scale() if scale is None else _check_scale(op, scale)
    zero_point = x.q_zero_point() if zero_point is None else _check_zero_point(op, zero_point, quint8)
    return scale, zero_point


# --- the packed weight ------------------------------------------------------------------------------
def _packed(w: QTensor):
    """``(w2d, row_sums, scales)`` of a weight, cached on it: int8 ``(O, K)`` C-contiguous on the
    weight's device, int32 ``sum_k w[o, k]`` on that device, float64 per-output scales (host)."""
    packed = w._cache.get("int8_gemm")
    if packed is None:
        xp = w.device.xp
        o = w.shape[0]
        w2d = xp.ascontiguousarray(w._int.reshape(o, -1))
        sums = w2d.sum(axis=1, dtype=np.int64).astype(np.int32)
        if w.qscheme().per_channel:
            scales = w._scale.astype(np.float64)
        else:
            scales = np.full(o, w._scale, dtype=np.float64)
        packed = w._cache["int8_gemm"] = (w2d, sums, scales)
    return packed


def _multipliers(w: QTensor, x_scale):
    """``s_x * s_w[o]`` in float64 on the weight's device. The last one is kept on the weight:
    a statically quantized layer sees one input scale, so it is computed once."""
    last = w._cache.get("int8_multipliers")
    if last is not None and last[0] == x_scale:
        return last[1]
    mult = w.device.xp.asarray(float(x_scale) * _packed(w)[2])
    w._cache["int8_multipliers"] = (x_scale, mult)
    return mult


# --- public ops ------------------------------------------------------------------------------------
def linear(input: QTensor, weight: QTensor, bias: Tensor | None = None, scale=None, zero_point=None,
           relu: bool = False) -> QTensor:
    """Quantized ``input @ weight.T + bias`` (``torch.ao.nn.quantized.functional.linear``).

    ``input``: quint8, per tensor, shape ``(..., in_features)``; ``weight``: qint8
    ``(out_features, in_features)``, per tensor or per channel along axis 0, zero point 0;
    ``bias``: float ``(out_features,)`` or None. The output is quint8 with ``scale`` and
    ``zero_point`` (default: the input's). ``relu=True`` clamps at 0 before requantizing
    (the fused ``LinearReLU``). The math is in the module docstring.
    """
    op = "quantized linear"
    _check_activation(op, input)
    _check_weight(op, weight, 2)
    _check_same_device(op, input, weight)
    o, k = weight.shape
    if input.shape[-1] != k:
        raise ShapeError(f"{op}: input has {input.shape[-1]} features (shape {input.shape}) but the weight "
                         f"{weight.shape} expects {k}")
    _check_reduction(op, k)
    bias64 = _check_bias(op, bias, o, input.device)
    scale, zero_point = _output_params(op, input, scale, zero_point)
    dev = input.device
    w2d, sums, _ = _packed(weight)
    x2d = input._int.reshape(-1, k)
    out = dev.kernels.int8_linear(x2d, w2d, sums, input.q_zero_point(), _multipliers(weight, input.q_scale()),
                                  dev.xp.asarray(bias64), bool(relu), scale, zero_point)
    return QTensor(out.reshape(input.shape[:-1] + (o,)), dev, quint8, per_tensor_affine, scale, zero_point)


def conv2d(input: QTensor, weight: QTensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1,
           scale=None, zero_point=None, relu: bool = False) -> QTensor:
    """Quantized 2-D convolution (``torch.ao.nn.quantized.functional.conv2d``).

    ``input``: quint8 ``(N, C, H, W)`` per tensor; ``weight``: qint8 ``(O, C/groups, kh, kw)``
    per tensor or per channel along axis 0, zero point 0; ``bias`` float ``(O,)``.
    ``stride``, ``padding`` (zeros in real terms: the input's zero point), ``dilation``:
    an int or a pair. Output quint8 ``(N, O, OH, OW)`` with ``scale``/``zero_point`` (default:
    the input's); ``relu=True`` fuses a ReLU (``ConvReLU2d``). Computed as a uint8 im2col
    and the int8 GEMM of :func:`linear`, one per group.
    """
    op = "quantized conv2d"
    _check_activation(op, input, rank=4)
    _check_weight(op, weight, 4)
    _check_same_device(op, input, weight)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ArgumentError(f"{op}: groups must be a positive integer, got {groups!r}")
    n, c, h, w = input.shape
    o, cg, kh, kw = weight.shape
    if cg * groups != c:
        raise ShapeError(f"{op}: the weight {weight.shape} with groups={groups} expects {cg * groups} input channels, "
                         f"got input of shape {input.shape}")
    if o % groups:
        raise ShapeError(f"{op}: groups={groups} must divide the {o} output channels")
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = conv_geometry((h, w), (kh, kw), stride, padding, dilation, op)
    kdim = cg * kh * kw
    _check_reduction(op, kdim)
    bias64 = _check_bias(op, bias, o, input.device)
    scale, zero_point = _output_params(op, input, scale, zero_point)
    dev = input.device
    xp = dev.xp
    w2d, sums, _ = _packed(weight)
    mult = _multipliers(weight, input.q_scale())
    bias_d = xp.asarray(bias64)
    og = o // groups
    outs = []
    for g in range(groups):
        xg = input._int if groups == 1 else input._int[:, g * cg:(g + 1) * cg]
        cols = dev.kernels.int8_im2col(xg, input.q_zero_point(), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        rows = slice(g * og, (g + 1) * og)
        outs.append(dev.kernels.int8_linear(cols, w2d[rows], sums[rows], input.q_zero_point(), mult[rows],
                                            bias_d[rows], bool(relu), scale, zero_point))
    y = outs[0] if groups == 1 else xp.concatenate(outs, axis=1)          # (N*OH*OW, O)
    y = xp.ascontiguousarray(y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))
    return QTensor(y, dev, quint8, per_tensor_affine, scale, zero_point)


def linear_dynamic(input: Tensor, weight: QTensor, bias: Tensor | None = None, reduce_range: bool = False) -> Tensor:
    """Dynamically quantized ``input @ weight.T + bias``: float32 in, float32 out
    (PyTorch's ``quantized::linear_dynamic``, what ``quantize_dynamic`` puts in a Linear).

    The input is quantized per call to quint8 with the scale and zero point of its own
    range (:func:`quantize_params` of ``min(x.min(), 0)``, ``max(x.max(), 0)``; with
    ``reduce_range`` to 0..127, which leaves headroom on CPUs whose int8 instructions
    saturate 16-bit intermediate sums), multiplied with the int8 weight in int32, and the
    accumulators scaled back: ``y = acc * (s_x * s_w[o]) + bias[o]``.
    """
    op = "dynamic quantized linear"
    if not isinstance(input, Tensor) or input.array.dtype.kind != "f":
        got = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise DTypeError(f"{op}: input must be a float Tensor, got {got}")
    if input.ndim < 1:
        raise ShapeError(f"{op}: input must have at least one dimension (..., in_features), got a 0-d tensor")
    _check_weight(op, weight, 2)
    _check_same_device(op, input, weight)
    o, k = weight.shape
    if input.shape[-1] != k:
        raise ShapeError(f"{op}: input has {input.shape[-1]} features (shape {tuple(input.shape)}) but the weight "
                         f"{weight.shape} expects {k}")
    _check_reduction(op, k)
    bias64 = _check_bias(op, bias, o, input.device)
    dev = input.device
    xp = dev.xp
    x = input.array.astype(np.float32, copy=False)
    if x.size:
        lo, hi = float(x.min()), float(x.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ArgumentError(f"{op}: the input holds inf or NaN (range [{lo}, {hi}]); it cannot be quantized")
    else:
        lo = hi = 0.0
    s_x, z_x = quantize_params(lo, hi, quint8, reduce_range=reduce_range)
    xq = _quantize_array(xp, x, _inv_scale(s_x), z_x, quint8, fused=True)
    w2d, sums, _ = _packed(weight)
    y = dev.kernels.int8_linear_dequant(xq.reshape(-1, k), w2d, sums, z_x, _multipliers(weight, s_x),
                                        xp.asarray(bias64))
    return Tensor._make(y.reshape(tuple(input.shape[:-1]) + (o,)), dev)


def _range_limits(op, dtype, reduce_range, quant_min, quant_max):
    if (quant_min is None) != (quant_max is None):
        raise ArgumentError(f"{op}: give both quant_min and quant_max, or neither")
    if quant_min is not None:
        if not dtype.qmin <= quant_min < quant_max <= dtype.qmax:
            raise ArgumentError(f"{op}: quant_min/quant_max ({quant_min}, {quant_max}) must satisfy "
                                f"{dtype.qmin} <= quant_min < quant_max <= {dtype.qmax} for {dtype}")
        return int(quant_min), int(quant_max), True
    qmin, qmax = dtype.qmin, dtype.qmax
    if reduce_range:
        # One bit less of range (PyTorch's reduce_range): 0..127 for quint8, -64..63 for qint8.
        qmin, qmax = qmin // 2, qmax // 2
    return qmin, qmax, False


def quantize_params(min_val, max_val, dtype, symmetric: bool = False, reduce_range: bool = False,
                    eps: float = _FLOAT32_EPS, *, quant_min=None, quant_max=None):
    """``(scale, zero_point)`` for values in ``[min_val, max_val]``: PyTorch's observer formula
    (``_ObserverBase._calculate_qparams``), computed in float32 as PyTorch does.

    The range is first widened to include 0 (so real 0 is exactly representable). With
    ``[qmin, qmax]`` the integer range (``reduce_range`` drops one bit; ``quant_min``/
    ``quant_max`` set it explicitly)::

        affine:     scale = (max - min) / (qmax - qmin),  zero_point = clamp(qmin - round(min / scale), qmin, qmax)
        symmetric:  scale = max(-min, max) / ((qmax - qmin) / 2),  zero_point = 0 (qint8) or 128 (quint8)

    and ``scale`` is at least ``eps``. Scalars give ``(float, int)``; 1-D ranges (per channel,
    a Tensor or array) give ``(float32 Tensor, int64 Tensor)`` of scales and zero points.
    An empty range (``min_val = +inf``, ``max_val = -inf``: an observer that saw nothing)
    gives ``(1.0, 0)``, as PyTorch does.
    """
    op = "quantize_params"
    dtype = _check_qdtype(op, dtype)
    qmin, qmax, custom = _range_limits(op, dtype, reduce_range, quant_min, quant_max)
    if symmetric and reduce_range and dtype is quint8 and not custom:
        raise ArgumentError(f"{op}: reduce_range is not supported for symmetric quint8 (the zero point 128 would "
                            "fall outside 0..127); use qint8 or an affine scheme")
    lo = np.asarray(min_val.device.to_host(min_val.array) if isinstance(min_val, Tensor) else min_val, np.float32)
    hi = np.asarray(max_val.device.to_host(max_val.array) if isinstance(max_val, Tensor) else max_val, np.float32)
    per_channel = lo.ndim > 0
    if lo.shape != hi.shape:
        raise ShapeError(f"{op}: min_val {lo.shape} and max_val {hi.shape} must have the same shape")
    empty = np.isposinf(lo) & np.isneginf(hi)
    valid = ~empty
    if np.any(np.isnan(lo) | np.isnan(hi)):
        raise ArgumentError(f"{op}: the range holds NaN (min {lo}, max {hi})")
    if np.any(lo[valid] > hi[valid]):
        raise ArgumentError(f"{op}: min_val must not exceed max_val, got min {lo} and max {hi}")
    eps32 = np.float32(eps)
    lo_neg = np.minimum(np.where(empty, 0, lo), np.float32(0)).astype(np.float32)
    hi_pos = np.maximum(np.where(empty, 0, hi), np.float32(0)).astype(np.float32)
    if symmetric:
        hi_pos = np.maximum(-lo_neg, hi_pos)
        scale = (hi_pos / np.float32((qmax - qmin) / 2)).astype(np.float32)
        scale = np.maximum(scale, eps32)
        if dtype.qmin < 0:
            zp = np.zeros(scale.shape, np.int64)
        else:
            zp = np.full(scale.shape, (qmin + qmax) // 2 if custom else 128, np.int64)
    else:
        scale = ((hi_pos - lo_neg) / np.float32(qmax - qmin)).astype(np.float32)
        scale = np.maximum(scale, eps32)
        zp = qmin - np.rint(lo_neg / scale).astype(np.int64)
        zp = np.clip(zp, qmin, qmax)
    scale = np.where(empty, np.float32(1.0), scale).astype(np.float32)
    zp = np.where(empty, 0, zp).astype(np.int64)
    if not per_channel:
        return float(scale.reshape(())), int(zp.reshape(()))
    cpu = get_device("cpu")
    return Tensor._make(scale, cpu), Tensor._make(zp, cpu)
