"""Semantics of the pointwise ops that used to differ silently from PyTorch, and their error paths.

Each test names the behaviour it pins down; the torch comparisons themselves live in
tests/test_torch_parity_pointwise.py (they skip without torch; these do not).
"""
import math

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend.errors import DeviceError, ShapeError

DEVICES = tn.backend.available_devices()


# --- type promotion ---------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_float_only_ops_give_integer_input_the_default_float(device):
    x = tn.tensor([1, 2, 3], device=device)
    for fn in (tn.exp, tn.log, tn.sqrt, tn.sin, tn.cos, tn.atan, tn.log1p, tn.rsqrt, tn.reciprocal, tn.erfc):
        out = fn(x)
        assert out.dtype == tn.float32, (fn.__name__, out.dtype)  # was float64 (NumPy's int -> double)
    assert tn.exp(tn.tensor([True, False], device=device)).dtype == tn.float32
    np.testing.assert_allclose(tn.exp(x).numpy(), np.exp([1, 2, 3]), rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_binary_promotion_rules(device):
    i64 = tn.tensor([1, 2], device=device)
    i32 = tn.tensor([1, 2], dtype=tn.int32, device=device)
    f32 = tn.tensor([1.0, 2.0], device=device)
    f64_0d = tn.tensor(2.0, dtype=tn.float64, device=device)
    b = tn.tensor([True, False], device=device)
    assert (i64 + 1.5).dtype == tn.float32                     # int tensor + Python float: default float
    assert (i32 + i64).dtype == tn.int64                        # int32 + int64: int64
    assert (i32 + 7).dtype == tn.int32                          # Python int adapts to the tensor
    assert (f32 * f64_0d).dtype == tn.float32                   # a 0-d tensor of the same category doesn't widen
    assert (f32 + 2.5).dtype == tn.float32
    assert (i32 * f64_0d).dtype == tn.float64                   # ... but a higher category counts
    assert (b + b).dtype == tn.bool and (b + b).tolist() == [True, False]
    assert (b + 1).dtype == tn.int64
    assert (i64 / i64).dtype == tn.float32                      # true division of ints: default float
    assert (tn.tensor([1.0], dtype=tn.float16, device=device) + tn.tensor([1], device=device)).dtype == tn.float16
    u8, i8 = tn.tensor([200], dtype=tn.uint8, device=device), tn.tensor([-1], dtype=tn.int8, device=device)
    assert (u8 + i8).dtype == tn.int16 and (u8 + i8).tolist() == [199]


def test_promotion_follows_the_default_dtype():
    tn.set_default_dtype(tn.float64)
    try:
        assert tn.sin(tn.tensor([1])).dtype == tn.float64
        assert (tn.tensor([1]) * 0.5).dtype == tn.float64
    finally:
        tn.set_default_dtype(tn.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_gradient_flows_through_a_promoting_cast_in_the_input_dtype(device):
    a = tn.tensor([1.0, 2.0], device=device, requires_grad=True)                     # float32
    b = tn.tensor([3.0, 4.0], dtype=tn.float64, device=device, requires_grad=True)   # float64
    out = a * b
    assert out.dtype == tn.float64
    out.sum().backward()
    assert a.grad.dtype == tn.float32 and b.grad.dtype == tn.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])
    # second order through the cast
    a2 = tn.tensor([1.5], device=device, requires_grad=True)
    (g,) = tn.autograd.grad((a2 * a2 * tn.tensor([2.0], dtype=tn.float64, device=device)).sum(), [a2], create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(a2.grad.numpy(), [4.0])


# --- arithmetic ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_floor_division_and_remainder_follow_python(device):
    a = tn.tensor([-7, 7, -7, 7], device=device)
    b = tn.tensor([2, -2, -2, 2], device=device)
    assert (a // b).tolist() == [-7 // 2, 7 // -2, -7 // -2, 7 // 2]       # floors (NumPy's too; was missing)
    assert (a % b).tolist() == [-7 % 2, 7 % -2, -7 % -2, 7 % 2]            # sign of the divisor
    assert tn.fmod(a, b).tolist() == [math.fmod(-7, 2), math.fmod(7, -2), math.fmod(-7, -2), math.fmod(7, 2)]
    assert tn.div(a, b, rounding_mode="trunc").tolist() == [-3, -3, 3, 3]
    assert tn.div(a, b, rounding_mode="floor").tolist() == [-4, -4, 3, 3]
    assert (a // b).dtype == tn.int64 and tn.fmod(a, b).dtype == tn.int64
    assert (17 // b).tolist() == [8, -9, -9, 8] and (17 % b).tolist() == [1, -1, -1, 1]
    x = tn.tensor([-3.5, 3.5], device=device)
    assert (x // 2).tolist() == [-2.0, 1.0] and (x % 2).tolist() == [0.5, 1.5]
    assert tn.fmod(x, 2).tolist() == [-1.5, 1.5]
    assert tn.div(x, 2, rounding_mode="trunc").tolist() == [-1.0, 1.0]


@pytest.mark.parametrize("device", DEVICES)
def test_remainder_and_fmod_gradients(device):
    a = tn.tensor([-3.5, 5.25], dtype=tn.float64, device=device, requires_grad=True)
    b = tn.tensor([2.0, -1.5], dtype=tn.float64, device=device, requires_grad=True)
    tn.remainder(a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    assert b.grad.tolist() == [-math.floor(-3.5 / 2.0), -math.floor(5.25 / -1.5)]
    a.grad = b.grad = None
    tn.fmod(a, b).sum().backward()
    assert b.grad.tolist() == [-math.trunc(-3.5 / 2.0), -math.trunc(5.25 / -1.5)]
    a.grad = b.grad = None
    tn.div(a, b, rounding_mode="floor").sum().backward()
    assert a.grad.tolist() == [0.0, 0.0] and b.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
def test_integer_division_by_zero_is_an_error(device):
    a, z = tn.tensor([1, 2], device=device), tn.tensor([1, 0], device=device)
    for fn in (lambda: a // z, lambda: a % z, lambda: tn.fmod(a, z), lambda: tn.div(a, z, rounding_mode="trunc")):
        with pytest.raises(RuntimeError, match="integer division by zero") as info:
            fn()
        assert isinstance(info.value, ZeroDivisionError)
    assert (a / z).tolist() == [1.0, math.inf]           # true division goes to floats: inf, as in PyTorch


def test_div_rejects_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor'"):
        tn.div(tn.tensor([1.0]), 2, rounding_mode="round")


@pytest.mark.parametrize("device", DEVICES)
def test_add_and_sub_alpha(device):
    a, b = tn.tensor([1.0, 2.0], device=device), tn.tensor([10.0, 20.0], device=device)
    assert tn.add(a, b, alpha=0.5).tolist() == [6.0, 12.0]
    assert a.sub(b, alpha=2).tolist() == [-19.0, -38.0]
    assert tn.add(tn.tensor([1], device=device), tn.tensor([2], device=device), alpha=3).tolist() == [7]
    with pytest.raises(TypeError, match="alpha must not be a floating point"):
        tn.add(tn.tensor([1], device=device), tn.tensor([2], device=device), alpha=0.5)
    with pytest.raises(TypeError, match="boolean alpha"):
        tn.add(tn.tensor([True], device=device), tn.tensor([True], device=device), alpha=2)


def test_bool_arithmetic_refusals():
    m = tn.tensor([True, False])
    with pytest.raises(TypeError, match="subtraction"):
        m - m
    with pytest.raises(TypeError, match="subtraction"):
        tn.tensor([1.0]) - True
    with pytest.raises(TypeError, match="negation"):
        -m
    with pytest.raises(TypeError, match="bool"):
        abs(m)


def test_integer_to_negative_power_is_an_error():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        tn.tensor([2, 3]) ** -1
    np.testing.assert_allclose((tn.tensor([2, 3]) ** -1.0).numpy(), [0.5, 1 / 3.0], rtol=1e-6)
    assert (tn.tensor([2, 3]) ** -1.0).dtype == tn.float32


@pytest.mark.parametrize("device", DEVICES)
def test_addcmul_addcdiv(device):
    a, b, c = (tn.tensor(v, device=device) for v in ([1.0, 2.0], [3.0, 4.0], [2.0, 8.0]))
    assert tn.addcmul(a, b, c, value=0.5).tolist() == [4.0, 18.0]
    assert a.addcdiv(b, c, value=2).tolist() == [4.0, 3.0]
    with pytest.raises(TypeError, match="integer division with addcdiv"):
        tn.addcdiv(tn.tensor([1]), tn.tensor([1]), tn.tensor([2]))


# --- pow at its edges (item 6) ----------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_pow_zero_exponent_has_gradient_zero_at_zero(device):
    x = tn.tensor([0.0, 2.0], dtype=tn.float64, device=device, requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]  # was 0 * 0 ** -1 = NaN
    y = tn.tensor([0.0], dtype=tn.float64, device=device, requires_grad=True)
    (g,) = tn.autograd.grad((y ** 0.0).sum(), [y], create_graph=True)
    assert g.tolist() == [0.0]


@pytest.mark.parametrize("device", DEVICES)
def test_pow_exponent_gradient_at_zero_and_negative_bases(device):
    a = tn.tensor([0.0, 0.0, -2.0, 2.0], dtype=tn.float64, device=device)
    b = tn.tensor([2.0, 0.0, 2.0, 3.0], dtype=tn.float64, device=device, requires_grad=True)
    (a ** b).sum().backward()
    g = b.grad.numpy()
    assert g[0] == 0.0 and g[1] == 0.0           # the limit along a = 0 (PyTorch)
    assert math.isnan(g[2])                       # ln of a negative base: NaN, as PyTorch (was 0 silently)
    assert g[3] == pytest.approx(8 * math.log(2))


# --- bitwise and logical ----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_operators_on_integers_are_bitwise(device):
    a = tn.tensor([12, 10, -1], device=device)
    assert (a & 6).tolist() == [4, 2, 6]           # was logical_and -> [True, True, True]
    assert (a | 1).tolist() == [13, 11, -1]
    assert (a ^ 3).tolist() == [15, 9, -4]
    assert (~a).tolist() == [-13, -11, 0]          # was logical_not -> [False, False, False]
    assert (a << 1).tolist() == [24, 20, -2] and (a >> 2).tolist() == [3, 2, -1]
    assert (5 & a).tolist() == [4, 0, 5] and (1 << tn.tensor([0, 3], device=device)).tolist() == [1, 8]
    assert (256 >> tn.tensor([1, 4], device=device)).tolist() == [128, 16]
    assert (~a).dtype == tn.int64


@pytest.mark.parametrize("device", DEVICES)
def test_operators_on_bools_are_logical(device):
    m, n = tn.tensor([True, False, True], device=device), tn.tensor([True, True, False], device=device)
    assert (m & n).tolist() == [True, False, False] and (m & n).dtype == tn.bool
    assert (m | n).tolist() == [True, True, True] and (m ^ n).tolist() == [False, True, True]
    assert (~m).tolist() == [False, True, False]
    assert (True & m).tolist() == [True, False, True]
    assert (m & 1).dtype == tn.int64              # a Python int promotes the mask, as in PyTorch


def test_bitwise_refuses_floats_and_shifting_bools():
    with pytest.raises(TypeError, match="bitwise_and: expected integer or bool tensors, got .*float32"):
        tn.tensor([1.0]) & tn.tensor([1.0])
    with pytest.raises(TypeError, match="bitwise_not"):
        ~tn.tensor([1.0])
    with pytest.raises(TypeError, match="bitwise_or"):
        tn.tensor([1]) | 1.5                       # promotes to float first
    with pytest.raises(TypeError, match="not implemented for bool"):
        tn.tensor([True]) << tn.tensor([True])


def test_bitwise_shape_and_device_errors():
    with pytest.raises(ShapeError, match="bitwise_xor: shapes \\(2,\\) and \\(3,\\)"):
        tn.tensor([1, 2]) ^ tn.tensor([1, 2, 3])
    if "cuda" in DEVICES:
        with pytest.raises(DeviceError, match="cpu and cuda"):
            tn.tensor([1, 2]) & tn.tensor([1, 2], device="cuda")


def test_logical_ops_work_on_any_dtype():
    a, b = tn.tensor([1.5, 0.0, -2.0]), tn.tensor([0, 3, 1])
    assert tn.logical_and(a, b).tolist() == [False, False, True]
    assert tn.logical_or(a, b).tolist() == [True, True, True]
    assert tn.logical_xor(a, b).tolist() == [True, True, False]
    assert a.logical_not().tolist() == [False, True, False]


# --- in-place forms ------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_augmented_assignment_writes_in_place(device):
    x = tn.tensor([1.0, 2.0], device=device)
    ident, version = id(x), x._version[0]
    x += 1
    x *= 3
    x -= tn.tensor([1.0, 1.0], device=device)
    x /= 2
    assert id(x) == ident and x.tolist() == [2.5, 4.0] and x._version[0] == version + 4
    i = tn.tensor([7, 12], device=device)
    i //= 2
    i %= 4
    i <<= 1
    i |= 1
    i ^= 8
    i &= 13
    i >>= 1
    assert i.tolist() == [6, 6] and i.dtype == tn.int64  # 7,12 -> 3,6 -> 3,2 -> 6,4 -> 7,5 -> 15,13 -> 13,13


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_methods(device):
    x = tn.tensor([0.5, -0.25], dtype=tn.float64, device=device)
    assert x.clone().sin_().tolist() == [math.sin(0.5), math.sin(-0.25)]
    assert x.clone().add_(tn.tensor([1.0, 1.0], dtype=tn.float64, device=device), alpha=2).tolist() == [2.5, 1.75]
    assert x.clone().sub_(1, alpha=0.5).tolist() == [0.0, -0.75]
    assert x.clone().div_(-0.5, rounding_mode="floor").tolist() == [-1.0, 0.0]
    assert x.clone().clamp_(min=0).tolist() == [0.5, 0.0]
    assert x.clone().clip_(max=0.1).tolist() == [0.1, -0.25]
    assert x.clone().pow_(2).tolist() == [0.25, 0.0625]
    assert x.clone().abs_().neg_().tolist() == [-0.5, -0.25]
    assert x.clone().exp_().log_().abs_().sqrt_().tolist()[1] == pytest.approx(math.sqrt(0.25))
    assert x.clone().lerp_(tn.tensor([1.0, 1.0], dtype=tn.float64, device=device), 0.5).tolist() == [0.75, 0.375]
    assert x.clone().erf_().tolist()[0] == pytest.approx(math.erf(0.5))
    assert x.clone().round_(decimals=1).tolist() == [0.5, -0.2]
    y = x.clone()
    view = y.data
    y.mul_(2)
    assert view.tolist() == [1.0, -0.5]     # the storage is shared: views see the in-place write


def test_inplace_refusals():
    with pytest.raises(TypeError, match="can't be cast"):
        tn.tensor([1, 2]).sin_()                          # float result into an int tensor
    with pytest.raises(TypeError, match="can't be cast"):
        t = tn.tensor([1, 2])
        t += 0.5
    with pytest.raises(ShapeError, match="must keep the tensor's shape"):
        tn.tensor([1.0]).add_(tn.tensor([1.0, 2.0]))
    p = tn.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        p.add_(1)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        p += 1
    with tn.no_grad():
        p.add_(1, alpha=2)
    assert p.tolist() == [3.0]


def test_inplace_inside_the_graph_is_differentiated():
    x = tn.tensor([0.5, 1.5], dtype=tn.float64, requires_grad=True)
    y = x * 2
    y.pow_(2)            # y = (2x)^2
    y += 1
    y.sin_()
    y.sum().backward()
    expected = np.cos(4 * np.array([0.5, 1.5]) ** 2 + 1) * 8 * np.array([0.5, 1.5])
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


# --- clamp, rounding and the rest -------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_clamp_with_tensor_bounds_and_names(device):
    x = tn.tensor([-2.0, 0.5, 3.0], device=device)
    lo, hi = tn.tensor([-1.0, 1.0, 0.0], device=device), tn.tensor([0.0, 2.0, 2.5], device=device)
    assert tn.clamp(x, lo, hi).tolist() == [-1.0, 1.0, 2.5]
    assert x.clamp(min=lo).tolist() == [-1.0, 1.0, 3.0] and x.clip(max=hi).tolist() == [-2.0, 0.5, 2.5]
    assert tn.clamp(x, min=1.0, max=0.0).tolist() == [0.0, 0.0, 0.0]   # max wins where min > max
    assert x.clamp_min(0).tolist() == [0.0, 0.5, 3.0] and x.clamp_max(0).tolist() == [-2.0, 0.0, 0.0]
    assert tn.clamp(tn.tensor([1, 2, 3], device=device), min=1.5).dtype == tn.float32  # promotes, as PyTorch
    with pytest.raises(ValueError, match="at least one of min and max"):
        tn.clamp(x)


def test_rounding_on_integers_and_errors():
    i = tn.tensor([1, -2])
    assert tn.floor(i).tolist() == [1, -2] and tn.floor(i).dtype == tn.int64
    assert tn.round(tn.tensor([0.5, 1.5, 2.5, -0.5])).tolist() == [0.0, 2.0, 2.0, -0.0]   # half to even
    assert tn.round(tn.tensor([1234.5], dtype=tn.float64), decimals=-2).tolist() == [1200.0]
    with pytest.raises(TypeError, match="frac: expected a floating-point tensor"):
        tn.frac(i)
    with pytest.raises(TypeError, match="decimals must be an int"):
        tn.round(tn.tensor([1.0]), decimals=1.5)
    with pytest.raises(TypeError, match="hypot: expected floating-point"):
        tn.hypot(i, i)
    with pytest.raises(TypeError, match="lerp: expected input and end of one dtype"):
        tn.lerp(tn.tensor([1.0]), tn.tensor([1.0], dtype=tn.float64), 0.5)
    with pytest.raises(TypeError, match="expected a Tensor"):
        tn.sin([1.0, 2.0])


def test_sign_and_sgn_have_zero_gradient():
    x = tn.tensor([-2.0, 3.0], requires_grad=True)
    (tn.sign(x) * x).sum().backward()
    assert x.grad.tolist() == [-1.0, 1.0]      # d(sign(x) * x) = sign(x) + x * 0
    assert tn.sgn(tn.tensor([-2, 0, 5])).tolist() == [-1, 0, 1]
    assert tn.sign(tn.tensor([True, False])).dtype == tn.bool


def test_tests_isclose_and_nan_to_num():
    x = tn.tensor([1.0, math.nan, math.inf, -math.inf])
    assert tn.isinf(x).tolist() == [False, False, True, True]
    assert x.isposinf().tolist() == [False, False, True, False] and x.isneginf().tolist() == [False, False, False, True]
    assert tn.isnan(tn.tensor([1, 2])).tolist() == [False, False] and tn.isfinite(tn.tensor([1])).tolist() == [True]
    assert tn.nan_to_num(x).tolist() == [1.0, 0.0, float(np.finfo(np.float32).max), float(np.finfo(np.float32).min)]
    assert x.nan_to_num(nan=-1.0, posinf=9.0, neginf=-9.0).tolist() == [1.0, -1.0, 9.0, -9.0]
    assert tn.isclose(x, x).tolist() == [True, False, True, True]
    assert tn.isclose(x, x, equal_nan=True).tolist() == [True, True, True, True]
    assert tn.allclose(tn.tensor([1.0]), tn.tensor([1.0 + 1e-6])) and not tn.allclose(tn.tensor([1.0]), tn.tensor([1.1]))
    assert tn.tensor([1.0]).allclose(tn.tensor([1.05]), atol=0.1)
    with pytest.raises(TypeError, match="same dtype"):
        tn.isclose(tn.tensor([1.0]), tn.tensor([1.0], dtype=tn.float64))
    with pytest.raises(ValueError, match="non-negative"):
        tn.isclose(x, x, rtol=-1.0)


def test_erfinv_and_erfc_values():
    y = tn.tensor([-1.0, 1.0, 1.5, 0.5], dtype=tn.float64)
    out = tn.erfinv(y).tolist()
    assert out[0] == -math.inf and out[1] == math.inf and math.isnan(out[2])
    assert math.erf(out[3]) == pytest.approx(0.5, abs=1e-15)
    assert tn.erfc(tn.tensor([8.0], dtype=tn.float64)).item() == pytest.approx(math.erfc(8.0), rel=1e-13)  # 1 - erf: 0


def test_logaddexp_is_stable():
    big = tn.tensor([1000.0, -1000.0], dtype=tn.float64)
    assert tn.logaddexp(big, big).tolist() == [1000.0 + math.log(2), -1000.0 + math.log(2)]
    assert tn.logaddexp2(big, big).tolist() == [1001.0, -999.0]
    assert tn.log1p(tn.tensor([1e-20], dtype=tn.float64)).item() == 1e-20
    assert tn.expm1(tn.tensor([1e-20], dtype=tn.float64)).item() == 1e-20


def test_every_op_is_a_tensor_method_with_an_inplace_form():
    x = tn.tensor([0.5])
    for name in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "atanh", "floor", "ceil",
                 "trunc", "fix", "frac", "round", "sgn", "sign", "rsqrt", "log2", "log10", "log1p", "expm1", "exp2",
                 "erfc", "erfinv", "reciprocal", "square", "abs", "neg", "exp", "log", "sqrt", "sigmoid", "tanh"):
        assert callable(getattr(x, name)) and callable(getattr(x, name + "_")), name
    for name in ("atan2", "arctan2", "copysign", "hypot", "logaddexp", "logaddexp2", "remainder", "fmod",
                 "floor_divide", "true_divide", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                 "logical_xor", "clamp_min", "clamp_max", "isclose", "allclose", "isinf", "nan_to_num", "addcmul",
                 "addcdiv", "lerp", "acosh"):
        assert callable(getattr(x, name)), name


@pytest.mark.parametrize("device", DEVICES)
def test_where_forms(device):
    c = tn.tensor([[True, False], [False, True]], device=device)
    rows, cols = tn.where(c)                                     # where(condition) = nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1] and rows.dtype == tn.int64
    assert tn.where(c, 1.0, 0.0).tolist() == [[1.0, 0.0], [0.0, 1.0]] and tn.where(c, 1.0, 0).dtype == tn.float32
    assert tn.where(c, 2, 3).dtype == tn.int64
    x = tn.tensor([1, 2], device=device)
    assert tn.where(c, x, 0.5).dtype == tn.float32 and tn.where(c, x, 0.5).tolist() == [[1.0, 0.5], [0.5, 2.0]]
    with pytest.raises(TypeError, match="give both input and other"):
        tn.where(c, x)
    if device == "cuda":
        with pytest.raises(DeviceError, match="condition is on cpu"):
            tn.where(tn.tensor([True, False]), x, x)


def test_xlogy_positive_float_power_and_angle_conversions():
    assert tn.xlogy(tn.tensor([0.0, 2.0]), tn.tensor([0.0, 1.0])).tolist() == [0.0, 0.0]   # 0 log 0 = 0
    assert math.isnan(tn.xlogy(tn.tensor([0.0]), tn.tensor([math.nan])).item())
    assert tn.deg2rad(tn.tensor([180])).item() == pytest.approx(math.pi) and tn.deg2rad(tn.tensor([1])).dtype == tn.float32
    assert tn.rad2deg(tn.tensor([math.pi], dtype=tn.float64)).item() == pytest.approx(180.0)
    x = tn.tensor([1.0, -2.0])
    assert tn.positive(x) is x and +x is x
    with pytest.raises(TypeError, match="positive: not supported for bool"):
        tn.positive(tn.tensor([True]))
    assert tn.float_power(x, 2).dtype == tn.float64
    d = tn.tensor([3.0], dtype=tn.float64)
    assert d.float_power_(2) is d and d.tolist() == [9.0]
    with pytest.raises(TypeError, match="float_power_ needs a float64 tensor"):
        x.float_power_(2)
