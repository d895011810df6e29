"""The int8 kernels (``kernels/cpu/int8.py``, ``kernels/cuda/int8.py``) against a float64
reference of the same integer math, exactly, on every device (cpu and the simulated or real GPU).

The reference is written here with NumPy: the int32 accumulator as a float64 matrix product
of the integers (exact: every partial sum is an integer far below 2**53), then the same
float64 requantization::

    acc = (x_q - z_x) @ w_q.T
    y   = acc * (s_x * s_w[o]) + bias[o];   y = max(y, 0) if relu
    q   = clamp(rint(y / s) + z, 0, 255)

Shapes are odd on purpose (K not a multiple of any SIMD width, a batch of one, one output)
and small for the CUDA simulator. The quantized ops' parity with PyTorch is in
``tests/test_quantized_tensor.py``.
"""
import numpy as np
import pytest

import tinynet as tn
from tinynet.backend import get_device
from tinynet.kernels import policy
from tinynet.quantization import functional as qF
from tinynet.quantization import qint8, quantize_per_channel, quantize_per_tensor, quint8


def _requantize_ref(acc, mult, bias, relu, scale, zp):
    y = acc * mult + bias
    if relu:
        y = np.maximum(y, 0.0)
    v = np.clip(y / scale, -zp - 1.0, 255 - zp + 1.0)
    return np.clip(np.rint(v) + zp, 0, 255).astype(np.uint8)


def _acc_ref(xq, zx, wq):
    return (xq.astype(np.float64) - zx) @ wq.astype(np.float64).T


def _operands(rng, m, k, o):
    x = rng.integers(0, 256, (m, k)).astype(np.uint8)
    w = rng.integers(-128, 128, (o, k)).astype(np.int8)
    zx = int(rng.integers(0, 256))
    mult = rng.uniform(1e-5, 1e-4, o)
    bias = rng.standard_normal(o)
    return x, w, zx, mult, bias


def _host(device, a):
    return get_device(device).to_host(a)


@pytest.mark.parametrize("m,k,o", [(1, 1, 1), (5, 9, 6), (3, 17, 5), (1, 67, 9), (6, 33, 1), (4, 130, 7)])
@pytest.mark.parametrize("relu", [False, True])
def test_int8_linear_kernel_exact(device, m, k, o, relu, rng):
    dev = get_device(device)
    x, w, zx, mult, bias = _operands(rng, m, k, o)
    sums = w.astype(np.int64).sum(1).astype(np.int32)
    scale, zp = 0.013, int(rng.integers(0, 256))
    out = dev.kernels.int8_linear(dev.from_host(x), dev.from_host(w), dev.from_host(sums), zx, dev.from_host(mult),
                                  dev.from_host(bias), relu, scale, zp)
    assert out.dtype == np.uint8 and out.shape == (m, o)
    ref = _requantize_ref(_acc_ref(x, zx, w), mult, bias, relu, scale, zp)
    np.testing.assert_array_equal(_host(device, out), ref)
    deq = dev.kernels.int8_linear_dequant(dev.from_host(x), dev.from_host(w), dev.from_host(sums), zx,
                                          dev.from_host(mult), dev.from_host(bias))
    assert deq.dtype == np.float32
    np.testing.assert_array_equal(_host(device, deq), (_acc_ref(x, zx, w) * mult + bias).astype(np.float32))


def test_int8_linear_kernel_extremes_and_ties(device):
    """The largest accumulators (255 * -128 * K) stay exact in int32, and halves round to even."""
    dev = get_device(device)
    k = 301
    x = np.full((2, k), 255, np.uint8)
    x[1] = 0
    w = np.full((3, k), -128, np.int8)
    w[1] = 127
    w[2, ::2] = 1
    sums = w.astype(np.int64).sum(1).astype(np.int32)
    deq = dev.kernels.int8_linear_dequant(dev.from_host(x), dev.from_host(w), dev.from_host(sums), 0,
                                          dev.from_host(np.ones(3)), dev.from_host(np.zeros(3)))
    np.testing.assert_array_equal(_host(device, deq), _acc_ref(x, 0, w).astype(np.float32))
    assert _host(device, deq)[0, 0] == 255 * -128 * k
    # ties: y = acc * 1 + 0.5 with scale 1 lands exactly on halves; rint rounds them to even
    x = np.array([[1], [2], [3], [4]], np.uint8)
    w = np.ones((1, 1), np.int8)
    out = dev.kernels.int8_linear(dev.from_host(x), dev.from_host(w), dev.from_host(np.ones(1, np.int32)), 0,
                                  dev.from_host(np.ones(1)), dev.from_host(np.full(1, 0.5)), False, 1.0, 10)
    assert _host(device, out).ravel().tolist() == [12, 12, 14, 14]  # 1.5->2, 2.5->2, 3.5->4, 4.5->4 (+10)


def test_int8_linear_kernel_parallel_variant(monkeypatch, rng):
    """The prange loop gives the serial loop's numbers (cpu; forced on for a small problem)."""
    dev = get_device("cpu")
    x, w, zx, mult, bias = _operands(rng, 5, 70, 6)
    sums = w.astype(np.int64).sum(1).astype(np.int32)
    serial = dev.kernels.int8_linear(x, w, sums, zx, mult, bias, True, 0.02, 3)
    serial_f = dev.kernels.int8_linear_dequant(x, w, sums, zx, mult, bias)
    monkeypatch.setitem(policy.CPU_PARALLEL_MIN_ELEMENTS, "int8", 0)
    monkeypatch.setitem(policy.CPU_PARALLEL_MIN_ELEMENTS, "im2col", 0)
    parallel = dev.kernels.int8_linear(x, w, sums, zx, mult, bias, True, 0.02, 3)
    np.testing.assert_array_equal(parallel, serial)
    np.testing.assert_array_equal(dev.kernels.int8_linear_dequant(x, w, sums, zx, mult, bias), serial_f)
    np.testing.assert_array_equal(serial, _requantize_ref(_acc_ref(x, zx, w), mult, bias, True, 0.02, 3))
    xi = rng.integers(0, 256, (2, 3, 5, 6)).astype(np.uint8)
    cols = dev.kernels.int8_im2col(xi, 7, 3, 2, 2, 1, 1, 1, 1, 2, 3, 3)
    np.testing.assert_array_equal(cols, _im2col_ref(xi, 7, 3, 2, 2, 1, 1, 1, 1, 2, 3, 3))


def _im2col_ref(x, pad, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    n, c, h, w = x.shape
    padded = np.full((n, c, h + 2 * ph + dh * kh + sh * oh, w + 2 * pw + dw * kw + sw * ow), pad, np.uint8)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    cols = np.empty((n, oh, ow, c, kh, kw), np.uint8)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = padded[:, :, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw].transpose(
                0, 2, 3, 1)
    return cols.reshape(n * oh * ow, c * kh * kw)


@pytest.mark.parametrize("geom", [
    # kh, kw, sh, sw, ph, pw, dh, dw
    (3, 3, 1, 1, 1, 1, 1, 1),
    (2, 3, 2, 1, 0, 2, 1, 1),
    (3, 2, 1, 2, 2, 1, 2, 1),
    (1, 1, 2, 2, 0, 0, 1, 1),
])
def test_int8_im2col_pads_with_the_zero_point(device, geom, rng):
    kh, kw, sh, sw, ph, pw, dh, dw = geom
    n, c, h, w = 2, 3, 5, 6
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    x = rng.integers(0, 256, (n, c, h, w)).astype(np.uint8)
    dev = get_device(device)
    cols = dev.kernels.int8_im2col(dev.from_host(x), 131, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    assert cols.dtype == np.uint8
    np.testing.assert_array_equal(_host(device, cols), _im2col_ref(x, 131, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow))


# --- the quantized ops, end to end, against the reference ------------------------------------------
def _quantized_weight(w, per_channel, device):
    o = w.shape[0]
    flat = w.reshape(o, -1)
    if per_channel:
        scales, _ = qF.quantize_params(tn.tensor(flat.min(1)), tn.tensor(flat.max(1)), qint8, symmetric=True)
        return quantize_per_channel(tn.tensor(w, device=device), scales, np.zeros(o, np.int64), 0, qint8)
    s, _ = qF.quantize_params(float(w.min()), float(w.max()), qint8, symmetric=True)
    return quantize_per_tensor(tn.tensor(w, device=device), s, 0, qint8)


def _weight_scales(wq):
    if wq.qscheme().per_channel:
        return wq.q_per_channel_scales().numpy()
    return np.full(wq.shape[0], wq.q_scale())


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_quantized_linear_exact(device, per_channel, relu, rng):
    x = rng.uniform(-2, 2, (3, 2, 19)).astype(np.float32)
    w = rng.standard_normal((5, 19)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    xq = quantize_per_tensor(tn.tensor(x, device=device), 0.02, 97, quint8)
    wq = _quantized_weight(w, per_channel, device)
    y = qF.linear(xq, wq, tn.tensor(b, device=device), 0.1, 120, relu=relu)
    assert y.device == device and y.shape == (3, 2, 5)
    acc = _acc_ref(xq.int_repr().numpy().reshape(-1, 19), 97, wq.int_repr().numpy())
    ref = _requantize_ref(acc, 0.02 * _weight_scales(wq), b.astype(np.float64), relu, 0.1, 120).reshape(3, 2, 5)
    np.testing.assert_array_equal(y.int_repr().numpy(), ref)
    # the packed weight is made once and reused
    packed = wq._cache["int8_gemm"]
    qF.linear(xq, wq, None, 0.1, 120)
    assert wq._cache["int8_gemm"] is packed


@pytest.mark.parametrize("shape,geom", [
    # (n, c, h, w, o, kh, kw), (stride, padding, dilation, groups)
    ((1, 2, 5, 5, 3, 3, 3), (1, 1, 1, 1)),
    ((2, 4, 6, 5, 6, 2, 3), (2, (1, 2), 1, 2)),
    ((1, 3, 7, 6, 3, 3, 2), ((1, 2), 2, (2, 1), 3)),
])
def test_quantized_conv2d_exact(device, shape, geom, rng):
    n, c, h, wd, o, kh, kw = shape
    stride, padding, dilation, groups = geom
    x = rng.uniform(-1, 1, (n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    xq = quantize_per_tensor(tn.tensor(x, device=device), 0.01, 140, quint8)
    wq = _quantized_weight(w, True, device)
    y = qF.conv2d(xq, wq, tn.tensor(b, device=device), stride, padding, dilation, groups, 0.05, 128, relu=True)
    # reference: float64 conv of (x_q - z_x) with w_q (zero padding of the centred input = padding with z_x)
    import itertools
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xc = np.pad(xq.int_repr().numpy().astype(np.float64) - 140, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    wi = wq.int_repr().numpy().astype(np.float64)
    acc = np.zeros((n, o, oh, ow))
    cg, og = c // groups, o // groups
    for oc, i, j in itertools.product(range(o), range(kh), range(kw)):
        g = oc // og
        patch = xc[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
        acc[:, oc] += np.einsum("nchw,c->nhw", patch, wi[oc, :, i, j])
    mult = (0.01 * _weight_scales(wq)).reshape(1, o, 1, 1)
    ref = _requantize_ref(acc, mult, b.astype(np.float64).reshape(1, o, 1, 1), True, 0.05, 128)
    assert y.shape == (n, o, oh, ow)
    np.testing.assert_array_equal(y.int_repr().numpy(), ref)


def test_linear_dynamic_exact(device, rng):
    x = rng.standard_normal((4, 23)).astype(np.float32)
    w = rng.standard_normal((6, 23)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    wq = _quantized_weight(w, True, device)
    for reduce_range in (False, True):
        y = qF.linear_dynamic(tn.tensor(x, device=device), wq, tn.tensor(b, device=device), reduce_range=reduce_range)
        s, z = qF.quantize_params(float(x.min()), float(x.max()), quint8, reduce_range=reduce_range)
        xq = quantize_per_tensor(tn.tensor(x), s, z, quint8).int_repr().numpy()
        assert xq.max() <= (127 if reduce_range else 255)
        ref = (_acc_ref(xq, z, wq.int_repr().numpy()) * (s * _weight_scales(wq)) + b).astype(np.float32)
        np.testing.assert_array_equal(y.numpy(), ref)


def test_int8_kernels_refuse_other_integer_types(device):
    """A wider integer would wrap around when cast to 8 bits: the kernels refuse it instead."""
    dev = get_device(device)
    x = dev.from_host(np.zeros((2, 3), np.int64))
    w = dev.from_host(np.zeros((4, 3), np.int8))
    ones = dev.from_host(np.ones(4))
    sums = dev.from_host(np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="expected uint8 values, got int64"):
        dev.kernels.int8_linear(x, w, sums, 0, ones, ones, False, 1.0, 0)
    with pytest.raises(TypeError, match="expected int8 values, got uint8"):
        dev.kernels.int8_linear_dequant(dev.from_host(np.zeros((2, 3), np.uint8)),
                                        dev.from_host(np.zeros((4, 3), np.uint8)), sums, 0, ones, ones)
    with pytest.raises(TypeError, match="int8_im2col"):
        dev.kernels.int8_im2col(dev.from_host(np.zeros((1, 1, 3, 3), np.float32)), 0, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)
