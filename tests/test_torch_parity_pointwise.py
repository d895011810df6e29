"""Parity with PyTorch: pointwise math, arithmetic with rounding, bitwise ops and type promotion.

Values and gradients (float64) of every pointwise op against torch on the same inputs, the
result dtype of every binary op over a grid of dtype pairs against ``torch.result_type``, and
the gradients of ``pow`` at its edges (x ** 0 at 0, 0 ** y, negative bases).
"""
import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinynet as tn  # noqa: E402

DEVICES = tn.backend.available_devices()


def _check(tn_fn, torch_fn, *arrays, device="cpu", grad=True, atol=1e-10, rtol=1e-9, seed=0):
    rng = np.random.default_rng(seed)
    ts = [tn.tensor(a, dtype=tn.float64, device=device, requires_grad=grad) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]
    out_t, out_p = tn_fn(*ts), torch_fn(*ps)
    assert tuple(out_t.shape) == tuple(out_p.shape)
    np.testing.assert_allclose(out_t.detach().numpy(), out_p.detach().numpy(), atol=atol, rtol=rtol)
    if not grad:
        return
    w = rng.standard_normal(tuple(out_p.shape))
    (out_t * tn.tensor(w, dtype=tn.float64, device=device)).sum().backward()
    (out_p * torch.tensor(w)).sum().backward()
    for t, p in zip(ts, ps):
        gt = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        gp = p.grad.numpy(force=True) if p.grad is not None else np.zeros(tuple(p.shape))
        np.testing.assert_allclose(gt, gp, atol=atol, rtol=rtol)


def _dn(dtype):
    """A dtype's bare name (float32) from tinynet's or torch's repr."""
    return str(dtype).split(".")[-1]


def _r(*shape, low=-2.0, high=2.0, seed=0):
    return np.random.default_rng(seed + sum(shape)).uniform(low, high, shape)


UNARY = [  # name, input range
    ("sin", (-3, 3)), ("cos", (-3, 3)), ("tan", (-1.2, 1.2)), ("asin", (-0.9, 0.9)), ("acos", (-0.9, 0.9)),
    ("atan", (-3, 3)), ("sinh", (-2, 2)), ("cosh", (-2, 2)), ("asinh", (-3, 3)), ("acosh", (1.1, 4)),
    ("atanh", (-0.9, 0.9)), ("arcsin", (-0.9, 0.9)), ("arccos", (-0.9, 0.9)), ("arctan", (-3, 3)),
    ("arcsinh", (-3, 3)), ("arccosh", (1.1, 4)), ("arctanh", (-0.9, 0.9)),
    ("log2", (0.1, 4)), ("log10", (0.1, 4)), ("log1p", (-0.9, 4)), ("expm1", (-3, 3)), ("exp2", (-3, 3)),
    ("rsqrt", (0.1, 4)), ("reciprocal", (0.2, 3)), ("square", (-3, 3)), ("erfc", (-4, 6)),
    ("erfinv", (-0.99, 0.99)), ("exp", (-3, 3)), ("log", (0.1, 4)), ("sqrt", (0.1, 4)), ("abs", (-3, 3)),
    ("neg", (-3, 3)), ("floor", (-3, 3)), ("ceil", (-3, 3)), ("trunc", (-3, 3)), ("round", (-3, 3)),
    ("frac", (-3, 3)), ("sign", (-3, 3)), ("sgn", (-3, 3)), ("fix", (-3, 3)), ("deg2rad", (-200, 200)),
    ("rad2deg", (-3, 3)), ("sinc", (-3, 3)), ("positive", (-3, 3)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,bounds", UNARY, ids=[u[0] for u in UNARY])
def test_unary_values_and_grads(name, bounds, device):
    x = _r(3, 4, low=bounds[0], high=bounds[1])
    atol = 1e-14 if name != "erfinv" else 1e-12
    _check(getattr(tn, name), getattr(torch, name), x, device=device, atol=atol)
    # the Tensor method and the in-place form (on a copy: out-of-graph)
    t = tn.tensor(x, dtype=tn.float64, device=device)
    np.testing.assert_allclose(getattr(t, name)().numpy(), getattr(torch.tensor(x), name)().numpy(), atol=atol)
    if hasattr(torch.Tensor, name + "_"):
        c = t.clone()
        assert getattr(c, name + "_")() is c
        np.testing.assert_allclose(c.numpy(), getattr(torch.tensor(x), name)().numpy(), atol=atol)


def test_xlogy_sinc_float_power_edges():
    x, y = np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, np.nan, 3.0, 0.0])
    tx, ty = tn.tensor(x, dtype=tn.float64, requires_grad=True), tn.tensor(y, dtype=tn.float64, requires_grad=True)
    px, py = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    out, ref = tn.xlogy(tx, ty), torch.xlogy(px, py)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(tx.grad.numpy(), px.grad.numpy())
    np.testing.assert_array_equal(ty.grad.numpy(), py.grad.numpy())
    z = tn.tensor([0.0, 1.0], dtype=tn.float64, requires_grad=True)
    pz = torch.tensor([0.0, 1.0], requires_grad=True)
    tn.sinc(z).sum().backward()
    torch.sinc(pz).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), pz.grad.numpy(), atol=1e-15)
    assert tn.float_power(tn.tensor([2], dtype=tn.int32), 2).dtype == tn.float64
    assert tn.float_power(tn.tensor([2.0]), tn.tensor([3.0])).tolist() == [8.0]


def test_round_decimals():
    x = np.array([1.2345, -2.5, 2.5, 0.5, 1234.5, -0.051])
    for d in (0, 1, 2, -1, -2):
        np.testing.assert_allclose(tn.round(tn.tensor(x, dtype=tn.float64), decimals=d).numpy(),
                                   torch.round(torch.tensor(x), decimals=d).numpy(), atol=1e-12)


BINARY = [  # name, a range, b range, tinynet fn, torch fn
    ("atan2", (-2, 2), (-2, 2), tn.atan2, torch.atan2),
    ("arctan2", (-2, 2), (0.1, 2), tn.arctan2, torch.arctan2),
    ("hypot", (-2, 2), (-2, 2), tn.hypot, torch.hypot),
    ("copysign", (-2, 2), (-2, 2), tn.copysign, torch.copysign),
    ("logaddexp", (-30, 30), (-30, 30), tn.logaddexp, torch.logaddexp),
    ("logaddexp2", (-30, 30), (-30, 30), tn.logaddexp2, torch.logaddexp2),
    ("remainder", (-5, 5), (0.3, 2), tn.remainder, torch.remainder),
    ("remainder_neg", (-5, 5), (-2, -0.3), tn.remainder, torch.remainder),
    ("fmod", (-5, 5), (0.3, 2), tn.fmod, torch.fmod),
    ("fmod_neg", (-5, 5), (-2, -0.3), tn.fmod, torch.fmod),
    ("div_floor", (-5, 5), (-2, 2), lambda a, b: tn.div(a, b, rounding_mode="floor"),
     lambda a, b: torch.div(a, b, rounding_mode="floor")),
    ("div_trunc", (-5, 5), (-2, 2), lambda a, b: tn.div(a, b, rounding_mode="trunc"),
     lambda a, b: torch.div(a, b, rounding_mode="trunc")),
    ("true_divide", (-5, 5), (0.3, 2), tn.true_divide, torch.true_divide),
    ("add_alpha", (-5, 5), (-2, 2), lambda a, b: tn.add(a, b, alpha=-1.5), lambda a, b: torch.add(a, b, alpha=-1.5)),
    ("sub_alpha", (-5, 5), (-2, 2), lambda a, b: a.sub(b, alpha=3), lambda a, b: a.sub(b, alpha=3)),
    ("pow", (0.2, 2), (-2, 2), tn.pow, torch.pow),
    ("maximum", (-2, 2), (-2, 2), tn.maximum, torch.maximum),
    ("xlogy", (-2, 2), (0.1, 3), tn.xlogy, torch.xlogy),
    ("float_power", (0.2, 2), (-2, 2), tn.float_power, torch.float_power),
    ("lerp", (-2, 2), (-2, 2), lambda a, b: tn.lerp(a, b, 0.3), lambda a, b: torch.lerp(a, b, 0.3)),
    ("clamp_tensor", (-2, 2), (-1, 0), lambda a, b: tn.clamp(a, min=b, max=b + 0.7),
     lambda a, b: torch.clamp(a, min=b, max=b + 0.7)),
    ("clamp_max_only", (-2, 2), (-1, 0), lambda a, b: tn.clamp(a, max=b), lambda a, b: torch.clamp(a, max=b)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,ra,rb,f_tn,f_torch", BINARY, ids=[b[0] for b in BINARY])
def test_binary_values_and_grads(name, ra, rb, f_tn, f_torch, device):
    a = _r(3, 4, low=ra[0], high=ra[1], seed=1)
    b = _r(4, low=rb[0], high=rb[1], seed=2)  # broadcast along the first axis
    _check(f_tn, f_torch, a, b, device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_ternary_values_and_grads(device):
    a, b, c = _r(3, 4, seed=3), _r(4, seed=4), _r(3, 1, low=0.5, high=2, seed=5)
    _check(lambda x, y, z: tn.lerp(x, y, z), torch.lerp, a, np.broadcast_to(b, (3, 4)).copy(), np.broadcast_to(c, (3, 4)).copy(),
           device=device)
    _check(lambda x, y, z: tn.addcmul(x, y, z, value=0.7), lambda x, y, z: torch.addcmul(x, y, z, value=0.7),
           a, b, c, device=device)
    _check(lambda x, y, z: x.addcdiv(y, z, value=-3), lambda x, y, z: x.addcdiv(y, z, value=-3), a, b, c, device=device)
    _check(lambda x, lo, hi: tn.clamp(x, lo, hi), torch.clamp, a, b - 1, np.broadcast_to(c, (3, 4)).copy(), device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_integer_division_family_matches_torch(device):
    a = np.array([-7, 7, -7, 7, 0, 5, -1])
    b = np.array([2, -2, -2, 2, 3, 5, 4])
    ta, tb = tn.tensor(a, device=device), tn.tensor(b, device=device)
    pa, pb = torch.tensor(a), torch.tensor(b)
    for f_tn, f_torch in [(lambda x, y: x // y, lambda x, y: x // y), (lambda x, y: x % y, lambda x, y: x % y),
                          (tn.fmod, torch.fmod), (tn.remainder, torch.remainder),
                          (lambda x, y: tn.div(x, y, rounding_mode="trunc"), lambda x, y: torch.div(x, y, rounding_mode="trunc")),
                          (lambda x, y: tn.div(x, y, rounding_mode="floor"), lambda x, y: torch.div(x, y, rounding_mode="floor")),
                          (lambda x, y: x / y, lambda x, y: x / y)]:
        out, ref = f_tn(ta, tb), f_torch(pa, pb)
        assert _dn(out.dtype) == _dn(ref.dtype)
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)
    # reflected forms with Python numbers
    assert (7 // tb).tolist() == (7 // pb).tolist()
    assert (7 % tb).tolist() == (7 % pb).tolist()
    assert (-7.5 // tb).tolist() == (-7.5 // pb).tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_bitwise_matches_torch(device):
    a = np.array([0, 1, 5, -3, 12, -128])
    b = np.array([3, 1, 2, 7, -5, 1])
    ta, tb, pa, pb = tn.tensor(a, device=device), tn.tensor(b, device=device), torch.tensor(a), torch.tensor(b)
    for f in [lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: x & 6, lambda x, y: 6 | x,
              lambda x, y: 3 ^ x, lambda x, y: x << 2, lambda x, y: x >> 1, lambda x, y: 1 << (y & 3),
              lambda x, y: 1024 >> (y & 3), lambda x, y: ~x]:
        assert f(ta, tb).tolist() == f(pa, pb).tolist()
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
        y = tb & 3 if "shift" in name else tb
        assert getattr(tn, name)(ta, y).tolist() == getattr(torch, name)(pa, torch.tensor(y.tolist())).tolist()
    m, n = np.array([True, False, True, False]), np.array([True, True, False, False])
    tm, tnn, pm, pn = tn.tensor(m, device=device), tn.tensor(n, device=device), torch.tensor(m), torch.tensor(n)
    for f in [lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: ~x, lambda x, y: x & 1,
              lambda x, y: True ^ x]:
        out, ref = f(tm, tnn), f(pm, pn)
        assert out.tolist() == ref.tolist() and _dn(out.dtype) == _dn(ref.dtype)
    u = np.array([0, 1, 200], dtype=np.uint8)
    assert (~tn.tensor(u, dtype=tn.uint8, device=device)).tolist() == (~torch.tensor(u)).tolist()


def test_logical_ops_on_any_dtype():
    a, b = np.array([1.5, 0.0, -2.0, 0.0]), np.array([0, 3, 1, 0])
    for name in ("logical_and", "logical_or", "logical_xor"):
        assert getattr(tn, name)(tn.tensor(a), tn.tensor(b)).tolist() == \
            getattr(torch, name)(torch.tensor(a), torch.tensor(b)).tolist()
    assert tn.logical_not(tn.tensor(a)).tolist() == torch.logical_not(torch.tensor(a)).tolist()


def test_tests_and_nan_to_num():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -0.0, 3.0])
    t, p = tn.tensor(x, dtype=tn.float64), torch.tensor(x)
    for name in ("isnan", "isinf", "isposinf", "isneginf", "isfinite"):
        assert getattr(tn, name)(t).tolist() == getattr(torch, name)(p).tolist()
        assert getattr(t, name)().tolist() == getattr(p, name)().tolist()
    for kw in ({}, {"nan": 2.0}, {"nan": 1.0, "posinf": 9.0, "neginf": -9.0}):
        np.testing.assert_array_equal(tn.nan_to_num(t, **kw).numpy(), torch.nan_to_num(p, **kw).numpy())
    t32 = tn.tensor(x, dtype=tn.float32)
    np.testing.assert_array_equal(tn.nan_to_num(t32).numpy(), torch.nan_to_num(torch.tensor(x, dtype=torch.float32)).numpy())
    # gradient: passes through finite entries only
    tg, pg = tn.tensor(x, dtype=tn.float64, requires_grad=True), torch.tensor(x, requires_grad=True)
    tn.nan_to_num(tg).sum().backward()
    torch.nan_to_num(pg).sum().backward()
    np.testing.assert_array_equal(tg.grad.numpy(), pg.grad.numpy())


def test_isclose_allclose():
    a = np.array([1.0, 2.0, np.nan, 1e-9, 100.0])
    b = np.array([1.0 + 1e-6, 2.1, np.nan, 0.0, 100.001])
    for kw in ({}, {"rtol": 1e-3}, {"atol": 1e-2, "equal_nan": True}, {"rtol": 0.0, "atol": 0.0}):
        assert tn.isclose(tn.tensor(a), tn.tensor(b), **kw).tolist() == torch.isclose(torch.tensor(a), torch.tensor(b), **kw).tolist()
        assert tn.tensor(a).isclose(tn.tensor(b), **kw).tolist() == torch.tensor(a).isclose(torch.tensor(b), **kw).tolist()
        assert tn.allclose(tn.tensor(a[:2]), tn.tensor(b[:2]), **kw) == torch.allclose(torch.tensor(a[:2]), torch.tensor(b[:2]), **kw)
    assert tn.tensor([1, 2]).isclose(tn.tensor([1, 3])).tolist() == torch.tensor([1, 2]).isclose(torch.tensor([1, 3])).tolist()


# --- type promotion -------------------------------------------------------------------------------
_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _tn_value(kind, dt, device):
    if kind == "scalar":
        return {"bool": True, "int": 3, "float": 1.5}[dt]
    shape = (2,) if kind == "tensor" else ()
    return tn.ones(shape, dtype=dt, device=device)


def _torch_value(kind, dt):
    if kind == "scalar":
        return {"bool": True, "int": 3, "float": 1.5}[dt]
    shape = (2,) if kind == "tensor" else ()
    return torch.ones(shape, dtype=getattr(torch, dt))


_OPERANDS = ([("tensor", d) for d in _DTYPES] + [("zerodim", d) for d in _DTYPES]
             + [("scalar", s) for s in ("bool", "int", "float")])


def test_result_type_matches_torch_over_dtype_pairs():
    from tinynet.functional._util import result_type
    checked = 0
    for (ka, da), (kb, db) in itertools.product(_OPERANDS, _OPERANDS):
        if ka == "scalar" and kb == "scalar":
            continue
        ref = torch.result_type(_torch_value(ka, da), _torch_value(kb, db))
        got = result_type(_tn_value(ka, da, "cpu"), _tn_value(kb, db, "cpu"))
        assert _dn(got) == _dn(ref), (ka, da, kb, db, got, ref)
        checked += 1
    assert checked > 300


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["add", "mul", "maximum", "eq_dtype", "sub", "div", "pow", "where"])
def test_binary_ops_promote_as_torch(op, device):
    for (ka, da), (kb, db) in itertools.product(_OPERANDS, _OPERANDS):
        if ka == "scalar" and kb == "scalar":
            continue
        if op in ("maximum", "where") and (ka == "scalar" or kb == "scalar"):
            continue  # torch.maximum takes tensors only
        if op == "pow" and (da == "bool" and db == "bool"):
            continue
        a_t, b_t = _tn_value(ka, da, device), _tn_value(kb, db, device)
        a_p, b_p = _torch_value(ka, da), _torch_value(kb, db)
        if op == "where":
            cond = tn.tensor([True, False], device=device)
            out, ref = tn.where(cond, a_t, b_t), torch.where(torch.tensor([True, False]), a_p, b_p)
        elif op == "eq_dtype":
            out, ref = tn.eq(a_t, b_t) if isinstance(a_t, tn.Tensor) else tn.eq(b_t, a_t), torch.eq(a_p, b_p) \
                if isinstance(a_p, torch.Tensor) else torch.eq(b_p, a_p)
        else:
            fn = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "maximum": tn.maximum, "sub": lambda x, y: x - y,
                  "div": lambda x, y: x / y, "pow": lambda x, y: x ** y}[op]
            fp = {"maximum": torch.maximum}.get(op, fn)
            try:
                ref = fp(a_p, b_p)
            except RuntimeError:
                with pytest.raises((TypeError, ValueError, RuntimeError)):
                    fn(a_t, b_t)
                continue
            out = fn(a_t, b_t)
        assert _dn(out.dtype) == _dn(ref.dtype), (op, ka, da, kb, db, out.dtype, ref.dtype)
        np.testing.assert_allclose(out.numpy().astype(float), ref.numpy().astype(float), rtol=1e-3)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tan", "asin", "atan", "sinh", "tanh", "sigmoid",
                                  "log2", "log10", "log1p", "expm1", "exp2", "rsqrt", "reciprocal", "erfc", "erfinv",
                                  "acosh", "atanh"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_float_ops_on_integer_tensors_give_the_default_float(name, dtype):
    x = np.array([0, 1, 1, 0]) if dtype == "bool" else np.array([1, 2, 3, 0])
    t = tn.tensor(x, dtype=dtype)
    p = torch.tensor(x, dtype=getattr(torch, dtype))
    ref = getattr(torch, name)(p)
    out = getattr(tn, name)(t)
    assert out.dtype == tn.float32 == tn.get_default_dtype()
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)


def test_float_ops_follow_the_default_dtype():
    tn.set_default_dtype(tn.float64)
    try:
        assert tn.exp(tn.tensor([1, 2])).dtype == tn.float64
        assert (tn.tensor([1, 2]) / tn.tensor([2, 2])).dtype == tn.float64
        assert (tn.tensor([1, 2]) + 0.5).dtype == tn.float64
    finally:
        tn.set_default_dtype(tn.float32)


# --- pow at its edges -------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_pow_edge_gradients_match_torch(device):
    a = np.array([0.0, 0.0, 0.0, -2.0, -2.0, 0.0, 2.0, -1.5, 0.0])
    b = np.array([2.0, 0.0, 0.5, 2.0, 0.5, -1.0, 0.0, 3.0, 1.0])
    ta = tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True)
    tb = tn.tensor(b, dtype=tn.float64, device=device, requires_grad=True)
    pa, pb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, ref = ta ** tb, pa ** pb
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(ta.grad.numpy(), pa.grad.numpy())
    np.testing.assert_array_equal(tb.grad.numpy(), pb.grad.numpy())
    # the same through create_graph (the Tensor formula, not the array fast path)
    ta2 = tn.tensor(a, dtype=tn.float64, device=device, requires_grad=True)
    tb2 = tn.tensor(b, dtype=tn.float64, device=device, requires_grad=True)
    ga, gb = tn.autograd.grad((ta2 ** tb2).sum(), [ta2, tb2], create_graph=True)
    np.testing.assert_array_equal(ga.detach().numpy(), pa.grad.numpy())
    np.testing.assert_array_equal(gb.detach().numpy(), pb.grad.numpy())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("exponent", [0, 0.0, 1, 2, 3, 0.5, -1])
def test_pow_scalar_exponent_gradients_at_zero_match_torch(exponent, device):
    x = np.array([0.0, -1.5, 2.0])
    t = tn.tensor(x, dtype=tn.float64, device=device, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)
    (t ** exponent).sum().backward()
    (p ** exponent).sum().backward()
    # (1-ulp differences: torch computes x ** -0.5 as rsqrt)
    np.testing.assert_allclose(t.grad.numpy(), p.grad.numpy(), rtol=1e-15, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("base", [0, 0.0, 2.0, -2.0])
def test_pow_scalar_base_gradients_match_torch(base, device):
    y = np.array([0.0, 1.0, 2.5, -1.0])
    t = tn.tensor(y, dtype=tn.float64, device=device, requires_grad=True)
    p = torch.tensor(y, requires_grad=True)
    out, ref = base ** t, base ** p
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), p.grad.numpy())


def test_erfc_keeps_its_digits_in_the_tail():
    x = np.array([5.0, 10.0, 20.0, 26.0, -5.0])
    np.testing.assert_allclose(tn.erfc(tn.tensor(x, dtype=tn.float64)).numpy(), torch.erfc(torch.tensor(x)).numpy(),
                               rtol=1e-13, atol=0)
    for v in (5.0, 9.0):  # float32 too (erfc(9) = 4e-37 is still a normal float32)
        assert math.isclose(tn.erfc(tn.tensor([v])).item(), math.erfc(v), rel_tol=1e-5)


def test_erfinv_ends():
    y = np.array([-1.0, 1.0, 1.5, -1.5, 0.0, 0.999999])
    np.testing.assert_allclose(tn.erfinv(tn.tensor(y, dtype=tn.float64)).numpy(), torch.erfinv(torch.tensor(y)).numpy(),
                               rtol=1e-12)
