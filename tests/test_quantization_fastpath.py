"""The quantized layers' fast paths give exactly what the checked functional ops give.

A quantized Linear/Conv2d keeps its kernel operands (packed weight, row sums, multipliers,
bias, output qparams) and sends a per-tensor quint8 input straight to the kernel; Quantize
keeps its validated qparams; MaxPool2d pools tiling windows on the integers; 8-bit
quantize/dequantize take in-place steps; the CPU kernel runs small products in one call
with 2x4 register blocking. Each is compared integer for integer with the general route
(``tinynet.quantization.functional``, the float path, the int64 reference of the products),
including after the layer's buffers change, and the error paths still name the problem.
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.quantization.functional as qF
from tinynet import nn
from tinynet.backend import get_device
from tinynet.backend.errors import ShapeError
from tinynet.quantization.nn import quantized as nnq
from tinynet.quantization.qtensor import _dequantize_array, _quantize_array

F32 = np.float32


def qweight(shape, per_channel, seed=0):
    rng = np.random.default_rng(seed)
    w = tn.tensor(rng.standard_normal(shape).astype(F32))
    if per_channel:
        scales = (np.abs(rng.standard_normal(shape[0])) * 0.02 + 0.005).astype(np.float64)
        return tn.quantize_per_channel(w, tn.tensor(scales), tn.tensor(np.zeros(shape[0], np.int64)), 0, tn.qint8)
    return tn.quantize_per_tensor(w, 0.02, 0, tn.qint8)


def qinput(shape, scale=0.05, zp=7, seed=1):
    x = np.random.default_rng(seed).standard_normal(shape).astype(F32) * 3
    return tn.quantize_per_tensor(tn.tensor(x), scale, zp, tn.quint8)


def same(a, b):
    assert a.dtype is b.dtype and a.shape == b.shape
    assert a.q_scale() == b.q_scale() and a.q_zero_point() == b.q_zero_point()
    np.testing.assert_array_equal(a.int_repr().numpy(), b.int_repr().numpy())


def linear_layer(cls, k, o, per_channel, bias=True, seed=0):
    layer = cls(k, o, bias, per_channel=per_channel)
    b = tn.tensor(np.random.default_rng(seed + 5).standard_normal(o).astype(F32)) if bias else None
    layer.set_weight_bias(qweight((o, k), per_channel, seed), b)
    layer._set_output_qparams(0.11, 60)
    return layer


@pytest.mark.parametrize("cls", [nnq.Linear, nnq.LinearReLU])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("shape", [(1, 20), (5, 20), (2, 3, 20)])
def test_linear_fast_path_equals_the_functional_op(cls, per_channel, shape):
    layer = linear_layer(cls, 20, 9, per_channel)
    x = qinput(shape)
    ref = qF.linear(x, layer.weight(), layer.bias(), 0.11, 60, relu=cls is nnq.LinearReLU)
    for _ in range(2):  # the second call reuses the cached operands
        same(layer(x), ref)
    assert layer._plan is not None and layer._plan.x_scale == 0.05


def test_linear_cache_follows_buffer_changes_and_input_scale():
    layer = linear_layer(nnq.Linear, 16, 8, True)
    x = qinput((4, 16))
    layer(x)
    # a new weight and bias (set_weight_bias replaces the buffers)
    layer.set_weight_bias(qweight((8, 16), True, seed=3), tn.tensor(np.ones(8, F32)))
    same(layer(x), qF.linear(x, layer.weight(), layer.bias(), 0.11, 60))
    # new output qparams
    layer._set_output_qparams(0.07, 3)
    same(layer(x), qF.linear(x, layer.weight(), layer.bias(), 0.07, 3))
    # a state dict loaded from another layer (in place or replaced: either is seen)
    other = linear_layer(nnq.Linear, 16, 8, True, seed=9)
    layer.load_state_dict(other.state_dict())
    same(layer(x), other(x))
    # a buffer written in place through the tensor API bumps its version
    v = layer.float_bias._version[0]
    layer.float_bias.mul_(2.0)
    assert layer.float_bias._version[0] > v
    same(layer(x), qF.linear(x, layer.weight(), layer.bias(), *layer._out_qparams()))
    # another input scale gives other multipliers
    x2 = qinput((4, 16), scale=0.013, zp=100)
    same(layer(x2), qF.linear(x2, layer.weight(), layer.bias(), *layer._out_qparams()))


def test_linear_errors_still_name_the_problem():
    layer = linear_layer(nnq.Linear, 16, 8, False)
    with pytest.raises(ShapeError, match="expects 16"):
        layer(qinput((2, 15)))
    with pytest.raises(TypeError, match="quantized input"):
        layer(tn.tensor(np.zeros((2, 16), F32)))
    w = tn.quantize_per_channel(tn.tensor(np.ones((2, 16), F32)), tn.tensor(np.full(2, 0.1)),
                                tn.tensor(np.zeros(2, np.int64)), 0, tn.quint8)
    with pytest.raises(Exception, match="per tensor"):
        layer(w)


def conv_layer(cls, c, o, k, per_channel, stride=1, padding=0, dilation=1, groups=1, seed=0):
    layer = cls(c, o, k, stride, padding, dilation, groups, True, per_channel=per_channel)
    kk = (k, k) if isinstance(k, int) else k
    b = tn.tensor(np.random.default_rng(seed + 5).standard_normal(o).astype(F32))
    layer.set_weight_bias(qweight((o, c // groups) + kk, per_channel, seed), b)
    layer._set_output_qparams(0.2, 30)
    return layer


@pytest.mark.parametrize("cls", [nnq.Conv2d, nnq.ConvReLU2d])
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("geom", [dict(c=1, o=6, k=3, padding=1), dict(c=4, o=5, k=(3, 2), stride=2, padding=(1, 0)),
                                  dict(c=3, o=4, k=2, dilation=2), dict(c=4, o=6, k=3, padding=1, groups=2)])
def test_conv_fast_path_equals_the_functional_op(cls, per_channel, geom):
    layer = conv_layer(cls, per_channel=per_channel, **geom)
    x = qinput((3, geom["c"], 7, 6))
    ref = qF.conv2d(x, layer.weight(), layer.bias(), layer.stride, layer.padding, layer.dilation, layer.groups,
                    0.2, 30, relu=cls is nnq.ConvReLU2d)
    for _ in range(2):
        same(layer(x), ref)
    assert (layer._plan is not None) == (layer.groups == 1)  # groups > 1 takes the functional op
    x2 = qinput((2, geom["c"], 9, 8), scale=0.03, zp=0)  # another size and scale: new geometry, new multipliers
    same(layer(x2), qF.conv2d(x2, layer.weight(), layer.bias(), layer.stride, layer.padding, layer.dilation,
                              layer.groups, 0.2, 30, relu=cls is nnq.ConvReLU2d))


def test_conv_errors_still_name_the_problem():
    layer = conv_layer(nnq.Conv2d, 3, 4, 3, False)
    with pytest.raises(ShapeError, match="input channels"):
        layer(qinput((1, 2, 5, 5)))
    with pytest.raises(ShapeError):
        layer(qinput((1, 3, 2, 2)))  # smaller than the kernel
    with pytest.raises(ShapeError, match="4-D"):
        layer(qinput((3, 5, 5)))


def test_quantize_fast_path_equals_quantize_per_tensor():
    q = nnq.Quantize(0.037, 11)
    x = np.random.default_rng(0).standard_normal((4, 33)).astype(F32) * 5
    x[0, :4] = [np.nan, np.inf, -np.inf, 0.037 * 2.5]       # NaN, saturation, a half-way value
    for arr in (x, x.astype(np.float64), x.astype(np.float16)):  # float32: the fast path; others: the general one
        t = tn.tensor(arr)
        same(q(t), tn.quantize_per_tensor(t, 0.037, 11, tn.quint8))
    q.load_state_dict({"scale": tn.tensor(np.asarray(0.25)), "zero_point": tn.tensor(np.asarray(3))})
    same(q(tn.tensor(x)), tn.quantize_per_tensor(tn.tensor(x), 0.25, 3, tn.quint8))
    with pytest.raises(TypeError, match="already quantized"):
        q(q(tn.tensor(x)))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_8bit_quantize_and_dequantize_steps_match_the_general_arithmetic(dtype):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(500).astype(F32) * 4, np.array([np.nan, 1e30, -1e30], F32),
                        (np.arange(-20, 20) * F32(0.5) * F32(0.0625)).astype(F32)])
    qd = tn.quint8 if dtype is np.uint8 else tn.qint8
    zp = 13 if dtype is np.uint8 else -3
    inv = np.float32(1.0) / np.float32(0.0625)
    fast = _quantize_array(np, x, inv, zp, qd, fused=True)
    # the general route: the same formula with a 1-element inverse scale (not a float32 scalar)
    general = _quantize_array(np, x, np.asarray([inv]), zp, qd, fused=True)
    np.testing.assert_array_equal(fast, general)
    assert fast.dtype == dtype
    q = np.arange(np.iinfo(dtype).min, np.iinfo(dtype).max + 1).astype(dtype)
    ref = (q.astype(np.int64) - zp).astype(np.float32) * np.float32(0.0625)
    np.testing.assert_array_equal(_dequantize_array(np, q, 0.0625, zp), ref)


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (3, 1, 3, 5)])
@pytest.mark.parametrize("pool", [dict(kernel_size=2), dict(kernel_size=3), dict(kernel_size=(2, 3)),
                                  dict(kernel_size=2, stride=1), dict(kernel_size=2, ceil_mode=True)])
def test_maxpool_on_integers_equals_the_float_path(shape, pool):
    m = nnq.MaxPool2d.from_float(nn.MaxPool2d(**pool))
    x = qinput(shape)
    tiles = "stride" not in pool and "ceil_mode" not in pool
    assert (m._tiling(x) is not None) == tiles  # the integer path, or the general one
    out = m(x)
    ref = nn.MaxPool2d(**pool)(tn.tensor(x.int_repr().numpy().astype(F32))).numpy().astype(np.uint8)
    np.testing.assert_array_equal(out.int_repr().numpy(), ref)
    assert out.q_scale() == x.q_scale() and out.q_zero_point() == x.q_zero_point()


@pytest.mark.parametrize("m,k,o", [(1, 64, 128), (2, 16, 4), (5, 33, 7), (32, 128, 64), (9, 9, 5), (4, 15, 3),
                                   (3, 300, 13)])
def test_cpu_int8_linear_small_and_general_paths_give_the_exact_integers(m, k, o):
    cpu = get_device("cpu")
    rng = np.random.default_rng(m * 1000 + k)
    x = rng.integers(0, 256, (m, k)).astype(np.uint8)
    w = rng.integers(-128, 128, (o, k)).astype(np.int8)
    sums = w.sum(axis=1, dtype=np.int64).astype(np.int32)
    mult = rng.random(o) * 1e-3
    bias = rng.standard_normal(o)
    acc = (x.astype(np.int64) - 9) @ w.T.astype(np.int64)
    y = np.maximum(acc * mult + bias, 0.0)
    ref = np.clip(np.rint(np.clip(y / 0.01, -1 - 4, 256 - 4)) + 4, 0, 255).astype(np.uint8)
    fast = cpu.kernels.int8_linear(x, w, sums, 9, mult, bias, True, 0.01, 4)
    np.testing.assert_array_equal(fast, ref)
    # a strided input takes the converting path: the same integers
    xs = np.zeros((m, 2 * k), np.uint8)
    xs[:, ::2] = x
    np.testing.assert_array_equal(cpu.kernels.int8_linear(xs[:, ::2], w, sums, 9, mult, bias, True, 0.01, 4), ref)


# 1e38 * (1 / scale) overflows float32 on purpose (it saturates to 255): the CUDA simulator's
# threads run the math in NumPy scalars, which warn about it outside np.errstate's reach.
@pytest.mark.filterwarnings("ignore:.*overflow encountered in cast:RuntimeWarning")
def test_quantize_kernel_equals_the_numpy_rounding(device):
    _check_quantize_kernel(get_device(device))


def test_quantize_kernel_parallel_loop_on_the_cpu(monkeypatch):
    from tinynet.kernels import policy
    monkeypatch.setitem(policy.CPU_PARALLEL_MIN_ELEMENTS, "quantize", 0)
    _check_quantize_kernel(get_device("cpu"))


def _check_quantize_kernel(dev):
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_normal(300).astype(F32) * 3,
                        np.array([np.nan, np.inf, -np.inf, 1e38, -1e38, 0.0, -0.0], F32),
                        (np.arange(-40, 40) * F32(0.5) * F32(0.0625)).astype(F32)]).reshape(3, -1)
    for scale, zp in [(0.0625, 0), (0.037, 11), (0.1, 255), (1e-5, 128)]:
        inv = np.float32(1.0) / np.float32(scale)
        with np.errstate(over="ignore", invalid="ignore"):  # 1e38 / scale overflows float32 (saturates)
            got = dev.to_host(dev.kernels.quantize_per_tensor_u8(dev.from_host(x), inv, zp))
            want = _quantize_array(np, x, np.asarray([inv]), zp, tn.quint8, fused=True)
        np.testing.assert_array_equal(got, want)
        assert got.shape == x.shape and got.dtype == np.uint8
    with pytest.raises(TypeError, match="float32"):
        dev.kernels.quantize_per_tensor_u8(dev.from_host(x.astype(np.float64)), np.float32(1.0), 0)
