"""Quantized tensors and the quantized functional ops.

* quantize/dequantize against NumPy references written here (round half to even, clamping,
  zero points, per channel along any axis) and bit for bit against PyTorch's
  ``torch.quantize_per_tensor`` / ``quantize_per_channel`` / ``dequantize`` / ``int_repr``;
* the QTensor methods (PyTorch's names) and their errors;
* ``quantize_params`` against PyTorch's observers' ``_calculate_qparams``;
* quantized ``linear`` / ``conv2d`` / ``linear_dynamic`` against PyTorch's quantized CPU ops
  (within one quantization step: PyTorch requantizes in float32, tinynet in float64) and
  against the float ops they approximate. The exact checks of the int8 kernels against a
  float64 reference of the same integer math are in ``tests/test_int8_kernels.py``.
"""
import contextlib
import warnings

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend.errors import ArgumentError, DeviceError, DTypeError, ShapeError
from tinynet.quantization import functional as qF
from tinynet.quantization import (QTensor, dequantize, per_channel_affine, per_channel_symmetric, per_tensor_affine,
                                  per_tensor_symmetric, qint8, qint32, quantize_per_channel, quantize_per_tensor,
                                  quint8)
from tinynet.quantization.qtensor import _make_per_channel_quantized_tensor, _make_per_tensor_quantized_tensor

try:
    import torch
except ImportError:  # the parity tests skip without torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
RANGES = {qint8: (-128, 127), quint8: (0, 255), qint32: (-2 ** 31, 2 ** 31 - 1)}


def _ref_quantize(x, scale, zp, dtype):
    """NumPy reference of the per-tensor formula: float32 reciprocal, one rounding of zp + x*inv."""
    inv = np.float32(1) / np.float32(scale)
    v = (np.float64(zp) + x.astype(np.float32).astype(np.float64) * np.float64(inv)).astype(np.float32)
    lo, hi = RANGES[dtype]
    return np.clip(np.rint(v.astype(np.float64)), lo, hi).astype(np.int64)


def _torch_dtype(dtype):
    return {qint8: torch.qint8, quint8: torch.quint8, qint32: torch.qint32}[dtype]


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.13 warns that quantized tensor creation is deprecated
        yield


# --- quantize / dequantize ------------------------------------------------------------------------
def test_round_half_to_even_and_clamp(device):
    x = tn.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1000.0, -1000.0, 0.0], device=device)
    q = quantize_per_tensor(x, 1.0, 0, qint8)
    assert q.int_repr().tolist() == [0, 2, 2, 0, -2, -2, 127, -128, 0]
    q = quantize_per_tensor(x, 1.0, 10, quint8)
    assert q.int_repr().tolist() == [10, 12, 12, 10, 8, 8, 255, 0, 10]
    assert q.dequantize().tolist() == [0.0, 2.0, 2.0, 0.0, -2.0, -2.0, 245.0, -10.0, 0.0]
    # the zero point is added before rounding: 11.5 + 3 = 14.5 -> 14 (even), not round(11.5) + 3 = 15
    assert quantize_per_tensor(tn.tensor([11.5]), 1.0, 3, qint8).int_repr().tolist() == [14]


@pytest.mark.parametrize("dtype", [qint8, quint8, qint32])
def test_quantize_per_tensor_matches_reference(device, dtype, rng):
    x = (rng.standard_normal((7, 33)) * 4).astype(np.float32)
    for scale, zp in [(0.1, 0), (0.037, 3 if dtype is not quint8 else 130), (1 / 3, 1 if dtype is not qint8 else -5)]:
        q = quantize_per_tensor(tn.tensor(x, device=device), scale, zp, dtype)
        assert q.dtype is dtype and q.int_repr().dtype == dtype.storage
        assert q.q_scale() == scale and q.q_zero_point() == zp and q.qscheme() is per_tensor_affine
        np.testing.assert_array_equal(q.int_repr().numpy().astype(np.int64), _ref_quantize(x, scale, zp, dtype))
        deq = q.dequantize()
        assert deq.dtype == tn.float32
        np.testing.assert_array_equal(deq.numpy(), (q.int_repr().numpy().astype(np.int64) - zp).astype(np.float32)
                                      * np.float32(scale))


def test_quantize_per_channel_any_axis(device, rng):
    x = (rng.standard_normal((3, 4, 5)) * 2).astype(np.float32)
    for axis in (0, 1, 2, -1):
        n = x.shape[axis]
        scales = rng.uniform(0.01, 0.2, n)
        zps = rng.integers(0, 256, n)
        q = quantize_per_channel(tn.tensor(x, device=device), tn.tensor(scales), tn.tensor(zps), axis, quint8)
        assert q.qscheme() is per_channel_affine and q.q_per_channel_axis() == axis % 3
        assert q.q_per_channel_scales().dtype == tn.float64 and q.q_per_channel_zero_points().dtype == tn.int64
        np.testing.assert_array_equal(q.q_per_channel_scales().numpy(), scales)
        shape = [1, 1, 1]
        shape[axis] = -1
        inv = (np.float32(1) / scales.astype(np.float32)).reshape(shape)
        ref = np.clip(np.rint(x * inv + zps.reshape(shape).astype(np.float32)), 0, 255)
        np.testing.assert_array_equal(q.int_repr().numpy(), ref.astype(np.uint8))
        ref_deq = ((ref - zps.reshape(shape)) * scales.reshape(shape)).astype(np.float32)
        np.testing.assert_array_equal(q.dequantize().numpy(), ref_deq)


@needs_torch
@pytest.mark.parametrize("dtype", [qint8, quint8, qint32])
def test_quantize_bit_for_bit_with_torch(dtype, rng):
    x = (rng.standard_normal(100003) * 3).astype(np.float32)  # odd size: vector body and scalar tail
    zps = {qint8: [0, 3, -7], quint8: [0, 77, 128], qint32: [0, 5, -1000]}[dtype]
    with _quiet():
        for scale, zp in zip([0.037, 1 / 3, 0.0713], zps):
            q = quantize_per_tensor(tn.tensor(x), scale, zp, dtype)
            qt = torch.quantize_per_tensor(torch.from_numpy(x), scale, zp, _torch_dtype(dtype))
            np.testing.assert_array_equal(q.int_repr().numpy(), qt.int_repr().numpy())
            np.testing.assert_array_equal(q.dequantize().numpy(), qt.dequantize().numpy())
        xc = x[:100000].reshape(1000, 100)
        scales = rng.uniform(0.005, 0.3, 100)
        zp_c = rng.integers(max(-128, RANGES[dtype][0]), min(128, RANGES[dtype][1]), 100) if dtype is not quint8 \
            else rng.integers(0, 256, 100)
        q = quantize_per_channel(tn.tensor(xc), scales, zp_c, 1, dtype)
        qt = torch.quantize_per_channel(torch.from_numpy(xc), torch.from_numpy(scales), torch.from_numpy(zp_c), 1,
                                        _torch_dtype(dtype))
        np.testing.assert_array_equal(q.int_repr().numpy(), qt.int_repr().numpy())
        np.testing.assert_array_equal(q.dequantize().numpy(), qt.dequantize().numpy())


def test_qtensor_methods(device):
    x = tn.arange(24, dtype=tn.float32, device=device).reshape(2, 3, 4) / 10
    q = quantize_per_tensor(x, 0.1, 5, quint8)
    assert isinstance(q, QTensor) and q.is_quantized
    assert q.shape == (2, 3, 4) and q.size() == (2, 3, 4) and q.size(1) == 3 and q.dim() == 3 and q.numel() == 24
    assert q.device == device and q.dtype is quint8 and repr(q.dtype) == "tinynet.quint8"
    assert repr(qint8) == "tinynet.qint8" and str(qint32) == "tinynet.qint32"
    assert tn.qint8 is qint8 and tn.quint8 is quint8 and tn.qint32 is qint32
    assert tn.quantize_per_tensor is quantize_per_tensor and tn.dequantize is dequantize
    assert repr(per_channel_symmetric) == "tinynet.per_channel_symmetric"
    assert q.int_repr().tolist() == (np.arange(24).reshape(2, 3, 4) + 5).tolist()
    r = q.int_repr()
    r.array[...] = 0  # int_repr is a copy
    assert q.int_repr().numpy()[0, 0, 1] == 6
    assert "quantization_scheme=tinynet.per_tensor_affine" in repr(q) and "zero_point=5" in repr(q)
    moved = q.to("cpu")
    assert moved.device == "cpu"
    np.testing.assert_array_equal(moved.int_repr().numpy(), q.int_repr().numpy())
    assert moved.q_scale() == 0.1 and moved.q_zero_point() == 5
    assert dequantize(q).tolist() == q.dequantize().tolist()
    assert [t.shape for t in dequantize([q, q])] == [(2, 3, 4), (2, 3, 4)]
    with pytest.raises(ArgumentError, match="q_per_channel_scales"):
        q.q_per_channel_scales()
    pc = quantize_per_channel(x, [0.1, 0.2, 0.3], [0, 0, 0], 1, qint8)
    with pytest.raises(ArgumentError, match="q_scale"):
        pc.q_scale()
    with pytest.raises(TypeError, match="int_repr"):
        q.numpy()


def test_symmetric_qschemes_and_make_from_ints(device):
    x = tn.tensor([[-1.0, 0.5], [0.25, 2.0]], device=device)
    q = quantize_per_tensor(x, 0.02, 0, qint8, qscheme=per_tensor_symmetric)
    assert q.qscheme() is per_tensor_symmetric
    with pytest.raises(ArgumentError, match="symmetric"):
        quantize_per_tensor(x, 0.02, 3, qint8, qscheme=per_tensor_symmetric)
    with pytest.raises(ArgumentError, match="does not fit a per-tensor"):
        quantize_per_tensor(x, 0.02, 0, qint8, qscheme=per_channel_symmetric)
    qc = quantize_per_channel(x, [0.01, 0.02], [128, 128], 0, quint8, qscheme=per_channel_symmetric)
    assert qc.qscheme() is per_channel_symmetric
    again = _make_per_tensor_quantized_tensor(q.int_repr(), q.q_scale(), q.q_zero_point())
    assert again.dtype is qint8 and again.int_repr().tolist() == q.int_repr().tolist()
    again_c = _make_per_channel_quantized_tensor(qc.int_repr(), qc.q_per_channel_scales(),
                                                 qc.q_per_channel_zero_points(), 0)
    np.testing.assert_array_equal(again_c.dequantize().numpy(), qc.dequantize().numpy())
    with pytest.raises(DTypeError, match="int8, uint8 or int32"):
        _make_per_tensor_quantized_tensor(tn.tensor([1.0]), 0.1, 0)


def test_quantize_errors():
    x = tn.randn(3, 4)
    with pytest.raises(DTypeError, match="floating tensor"):
        quantize_per_tensor(tn.tensor([1, 2]), 0.1, 0, qint8)
    with pytest.raises(TypeError, match="already quantized"):
        quantize_per_tensor(quantize_per_tensor(x, 0.1, 0, qint8), 0.1, 0, qint8)
    with pytest.raises(DTypeError, match="qint8, tinynet.quint8"):
        quantize_per_tensor(x, 0.1, 0, tn.int8)
    with pytest.raises(ArgumentError, match="positive"):
        quantize_per_tensor(x, 0.0, 0, qint8)
    with pytest.raises(ArgumentError, match="positive"):
        quantize_per_tensor(x, float("nan"), 0, qint8)
    with pytest.raises(ArgumentError, match=r"outside the range of tinynet.quint8 \[0, 255\]"):
        quantize_per_tensor(x, 0.1, -1, quint8)
    with pytest.raises(TypeError, match="integer"):
        quantize_per_tensor(x, 0.1, 0.5, qint8)
    with pytest.raises(ShapeError, match="4 channels, but got 3 scales"):
        quantize_per_channel(x, [0.1] * 3, [0] * 4, 1, qint8)
    with pytest.raises(ArgumentError, match="axis 2 is out of range"):
        quantize_per_channel(x, [0.1] * 3, [0] * 3, 2, qint8)
    with pytest.raises(ArgumentError, match="positive"):
        quantize_per_channel(x, [0.1, -0.1, 0.1], [0] * 3, 0, qint8)
    with pytest.raises(ArgumentError, match="outside the range"):
        quantize_per_channel(x, [0.1] * 3, [0, 200, 0], 0, qint8)
    with pytest.raises(TypeError, match="quantized tensor"):
        dequantize(tn.tensor([1, 2]))


# --- quantize_params: the observers' formula ---------------------------------------------------------
@needs_torch
def test_quantize_params_match_torch_observers(rng):
    from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver
    cases = [(-1.3, 2.7), (0.5, 3.0), (-4.0, -0.25), (0.0, 0.0), (-1e-9, 1e-9), (-0.37, 0.37)]
    for (lo, hi) in cases:
        for dtype, tdtype in ((quint8, torch.quint8), (qint8, torch.qint8)):
            for symmetric in (False, True):
                for reduce_range in (False, True):
                    if symmetric and reduce_range and dtype is quint8:
                        with pytest.raises(ArgumentError, match="reduce_range"):
                            qF.quantize_params(lo, hi, dtype, symmetric=True, reduce_range=True)
                        continue  # PyTorch refuses it too (NotImplementedError)
                    with _quiet():  # torch warns that reduce_range will be deprecated
                        obs = MinMaxObserver(dtype=tdtype, reduce_range=reduce_range, qscheme=torch.per_tensor_symmetric
                                             if symmetric else torch.per_tensor_affine)
                    obs(torch.tensor([lo, hi]))
                    ts, tz = obs.calculate_qparams()
                    s, z = qF.quantize_params(lo, hi, dtype, symmetric=symmetric, reduce_range=reduce_range)
                    assert (s, z) == (float(ts), int(tz)), (lo, hi, dtype, symmetric, reduce_range)
    lo = (rng.standard_normal(6) - 1).astype(np.float32)
    hi = (rng.standard_normal(6) + 1).astype(np.float32)
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(torch.from_numpy(np.stack([lo, hi], 1)))
    ts, tz = obs.calculate_qparams()
    s, z = qF.quantize_params(tn.tensor(lo), tn.tensor(hi), qint8, symmetric=True)
    np.testing.assert_array_equal(s.numpy(), ts.numpy())
    np.testing.assert_array_equal(z.numpy(), tz.numpy())


def test_quantize_params_formula_and_errors():
    s, z = qF.quantize_params(-1.0, 2.0, quint8)
    assert s == float(np.float32(3.0) / np.float32(255)) and z == 0 - int(np.rint(np.float32(-1.0) / np.float32(s)))
    assert qF.quantize_params(-1.0, 2.0, qint8, symmetric=True) == (float(np.float32(2.0) / np.float32(127.5)), 0)
    assert qF.quantize_params(-1.0, 2.0, quint8, symmetric=True)[1] == 128
    assert qF.quantize_params(0.0, 0.0, quint8) == (float(np.finfo(np.float32).eps), 0)
    assert qF.quantize_params(float("inf"), float("-inf"), quint8) == (1.0, 0)  # an observer that saw nothing
    assert qF.quantize_params(0.0, 1.27, quint8, quant_min=0, quant_max=127)[0] == float(np.float32(1.27) / 127)
    with pytest.raises(ArgumentError, match="must not exceed"):
        qF.quantize_params(2.0, 1.0, quint8)
    with pytest.raises(ArgumentError, match="both quant_min and quant_max"):
        qF.quantize_params(0.0, 1.0, quint8, quant_min=0)


# --- the quantized ops against PyTorch and the float ops ----------------------------------------------
def _q_inputs(rng, n, k, o, per_channel):
    x = rng.uniform(-1, 3, (n, k)).astype(np.float32)
    w = (rng.standard_normal((o, k)) * 0.3).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    sx, zx = qF.quantize_params(float(x.min()), float(x.max()), quint8)
    if per_channel:
        ws, wz = qF.quantize_params(tn.tensor(w.min(1)), tn.tensor(w.max(1)), qint8, symmetric=True)
        ws = ws.numpy().astype(np.float64)
    else:
        ws, _ = qF.quantize_params(float(w.min()), float(w.max()), qint8, symmetric=True)
    return x, w, b, sx, zx, ws


@needs_torch
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_linear_matches_torch(per_channel, relu, rng):
    x, w, b, sx, zx, ws = _q_inputs(rng, 9, 37, 11, per_channel)
    out_s, out_z = 0.08, 128
    xq = quantize_per_tensor(tn.tensor(x), sx, zx, quint8)
    wq = (quantize_per_channel(tn.tensor(w), ws, np.zeros(11, np.int64), 0, qint8) if per_channel
          else quantize_per_tensor(tn.tensor(w), ws, 0, qint8))
    y = qF.linear(xq, wq, tn.tensor(b), out_s, out_z, relu=relu)
    with _quiet():
        import torch.ao.nn.quantized.functional as TQF
        txq = torch.quantize_per_tensor(torch.from_numpy(x), sx, zx, torch.quint8)
        twq = (torch.quantize_per_channel(torch.from_numpy(w), torch.from_numpy(ws), torch.zeros(11, dtype=torch.long),
                                          0, torch.qint8) if per_channel
               else torch.quantize_per_tensor(torch.from_numpy(w), ws, 0, torch.qint8))
        np.testing.assert_array_equal(xq.int_repr().numpy(), txq.int_repr().numpy())
        np.testing.assert_array_equal(wq.int_repr().numpy(), twq.int_repr().numpy())
        if relu:
            packed = torch.ops.quantized.linear_prepack(twq, torch.from_numpy(b))
            ty = torch.ops.quantized.linear_relu(txq, packed, out_s, out_z)
        else:
            ty = TQF.linear(txq, twq, torch.from_numpy(b), out_s, out_z)
    diff = np.abs(y.int_repr().numpy().astype(int) - ty.int_repr().numpy().astype(int))
    assert diff.max() <= 1, diff.max()
    assert y.q_scale() == out_s and y.q_zero_point() == out_z and y.dtype is quint8
    # and it approximates the float layer
    ref = np.maximum(x @ w.T + b, 0) if relu else x @ w.T + b
    assert np.abs(y.dequantize().numpy() - ref).max() < 0.25


@needs_torch
@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2), (2, 1, 1, 4)])
def test_conv2d_matches_torch(stride, padding, dilation, groups, rng):
    n, c, h, wd, o, k = 2, 4, 9, 8, 8, 3
    x = rng.uniform(-1, 2, (n, c, h, wd)).astype(np.float32)
    w = (rng.standard_normal((o, c // groups, k, k)) * 0.3).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    sx, zx = qF.quantize_params(float(x.min()), float(x.max()), quint8)
    ws, _ = qF.quantize_params(tn.tensor(w.reshape(o, -1).min(1)), tn.tensor(w.reshape(o, -1).max(1)), qint8,
                               symmetric=True)
    ws = ws.numpy().astype(np.float64)
    xq = quantize_per_tensor(tn.tensor(x), sx, zx, quint8)
    wq = quantize_per_channel(tn.tensor(w), ws, np.zeros(o, np.int64), 0, qint8)
    out_s, out_z = 0.08, 100
    y = qF.conv2d(xq, wq, tn.tensor(b), stride, padding, dilation, groups, out_s, out_z)
    with _quiet():
        import torch.ao.nn.quantized.functional as TQF
        txq = torch.quantize_per_tensor(torch.from_numpy(x), sx, zx, torch.quint8)
        twq = torch.quantize_per_channel(torch.from_numpy(w), torch.from_numpy(ws), torch.zeros(o, dtype=torch.long),
                                         0, torch.qint8)
        ty = TQF.conv2d(txq, twq, torch.from_numpy(b), stride, padding, dilation, groups, scale=out_s,
                        zero_point=out_z)
    assert y.shape == tuple(ty.shape)
    diff = np.abs(y.int_repr().numpy().astype(int) - ty.int_repr().numpy().astype(int))
    assert diff.max() <= 1, diff.max()
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, padding,
                                     dilation, groups).numpy()
    assert np.abs(y.dequantize().numpy() - ref).max() < 0.3


@needs_torch
def test_linear_dynamic_close_to_torch_and_float(rng):
    x = (rng.standard_normal((5, 40)) * 2).astype(np.float32)
    w = (rng.standard_normal((7, 40)) * 0.2).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    ws, _ = qF.quantize_params(tn.tensor(w.min(1)), tn.tensor(w.max(1)), qint8, symmetric=True)
    wq = quantize_per_channel(tn.tensor(w), ws, np.zeros(7, np.int64), 0, qint8)
    y = qF.linear_dynamic(tn.tensor(x), wq, tn.tensor(b))
    assert y.dtype == tn.float32 and y.shape == (5, 7)
    ref = x @ w.T + b
    assert np.abs(y.numpy() - ref).max() < 0.1
    with _quiet():
        twq = torch.quantize_per_channel(torch.from_numpy(w), torch.from_numpy(ws.numpy().astype(np.float64)),
                                         torch.zeros(7, dtype=torch.long), 0, torch.qint8)
        packed = torch.ops.quantized.linear_prepack(twq, torch.from_numpy(b))
        ty = torch.ops.quantized.linear_dynamic(torch.from_numpy(x), packed).numpy()
    assert np.abs(y.numpy() - ty).max() < 0.05
    # a 3-d input keeps its leading axes; an all-zero input quantizes with scale eps and gives the bias
    y3 = qF.linear_dynamic(tn.tensor(x.reshape(5, 1, 40)), wq, tn.tensor(b))
    np.testing.assert_array_equal(y3.numpy().reshape(5, 7), y.numpy())
    np.testing.assert_allclose(qF.linear_dynamic(tn.zeros(2, 40), wq, tn.tensor(b)).numpy(), np.stack([b, b]),
                               rtol=0, atol=1e-6)


def test_linear_defaults_to_the_input_qparams_and_keeps_leading_axes(device, rng):
    x = rng.uniform(0, 1, (2, 3, 6)).astype(np.float32)
    xq = quantize_per_tensor(tn.tensor(x, device=device), 0.01, 0, quint8)
    wq = quantize_per_tensor(tn.tensor(np.eye(6, dtype=np.float32), device=device), 1 / 127, 0, qint8)
    y = qF.linear(xq, wq)
    assert y.shape == (2, 3, 6) and y.q_scale() == 0.01 and y.q_zero_point() == 0
    # identity weights: y = x_q * (0.01 * 1/127 * 127) / 0.01 -> x_q again (up to the scale's rounding)
    assert np.abs(y.int_repr().numpy().astype(int) - xq.int_repr().numpy().astype(int)).max() <= 1


def test_quantized_op_errors(rng):
    x = tn.tensor(rng.uniform(0, 1, (2, 4)).astype(np.float32))
    xq = quantize_per_tensor(x, 0.01, 0, quint8)
    w = tn.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    wq = quantize_per_tensor(w, 0.02, 0, qint8)
    with pytest.raises(TypeError, match="quantize it first"):
        qF.linear(x, wq)
    with pytest.raises(DTypeError, match="input must be quint8"):
        qF.linear(quantize_per_tensor(x, 0.01, 0, qint8), wq)
    with pytest.raises(DTypeError, match="weight must be qint8"):
        qF.linear(xq, quantize_per_tensor(w, 0.02, 0, quint8))
    with pytest.raises(ArgumentError, match="zero point must be 0"):
        qF.linear(xq, quantize_per_tensor(w, 0.02, 3, qint8))
    with pytest.raises(ArgumentError, match="zero points must be 0"):
        qF.linear(xq, quantize_per_channel(w, [0.02] * 3, [0, 1, 0], 0, qint8))
    with pytest.raises(ArgumentError, match="along axis 0"):
        qF.linear(xq, quantize_per_channel(w, [0.02] * 4, [0] * 4, 1, qint8))
    with pytest.raises(ShapeError, match="input has 4 features .* expects 5"):
        qF.linear(xq, quantize_per_tensor(tn.randn(3, 5), 0.02, 0, qint8))
    with pytest.raises(ShapeError, match=r"bias must have shape \(3,\)"):
        qF.linear(xq, wq, tn.zeros(4))
    with pytest.raises(DTypeError, match="bias must be a floating"):
        qF.linear(xq, wq, tn.tensor([1, 2, 3]))
    with pytest.raises(ArgumentError, match="outside the range of tinynet.quint8"):
        qF.linear(xq, wq, None, 0.1, 300)
    with pytest.raises(ShapeError, match="overflow the int32 accumulator"):
        big = qF.MAX_REDUCTION + 1
        qF.linear(quantize_per_tensor(tn.zeros(1, big), 0.1, 0, quint8), quantize_per_tensor(tn.zeros(1, big), 0.1, 0,
                                                                                             qint8))
    xc = quantize_per_tensor(tn.zeros(1, 4, 5, 5), 0.1, 0, quint8)
    with pytest.raises(ShapeError, match="must be 4-D"):
        qF.conv2d(xq, quantize_per_tensor(tn.zeros(2, 4, 3, 3), 0.1, 0, qint8))
    with pytest.raises(ShapeError, match="expects 6 input channels"):
        qF.conv2d(xc, quantize_per_tensor(tn.zeros(2, 3, 3, 3), 0.1, 0, qint8), groups=2)
    with pytest.raises(ShapeError, match="larger than the padded input"):
        qF.conv2d(xc, quantize_per_tensor(tn.zeros(2, 4, 7, 7), 0.1, 0, qint8))
    with pytest.raises(ArgumentError, match="groups must be a positive integer"):
        qF.conv2d(xc, quantize_per_tensor(tn.zeros(2, 4, 3, 3), 0.1, 0, qint8), groups=0)
    with pytest.raises(DTypeError, match="input must be a float Tensor"):
        qF.linear_dynamic(xq, wq)
    with pytest.raises(ArgumentError, match="inf or NaN"):
        qF.linear_dynamic(tn.tensor([[1.0, float("nan"), 0.0, 0.0]]), wq)


@pytest.mark.skipif("cuda" not in tn.backend.available_devices(), reason="no cuda device, real or simulated")
def test_mixed_devices_are_refused():
    xq = quantize_per_tensor(tn.zeros(2, 4), 0.01, 0, quint8)
    wq = quantize_per_tensor(tn.zeros(3, 4, device="cuda"), 0.02, 0, qint8)
    with pytest.raises(DeviceError, match="input is on cpu but weight is on cuda"):
        qF.linear(xq, wq)
    with pytest.raises(DeviceError, match="bias is on cuda"):
        qF.linear(xq, wq.to("cpu"), tn.zeros(3, device="cuda"))
