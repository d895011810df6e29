"""Semantics and error paths of the introspection helpers, the special functions and the
statistics (tinynet/functional/introspection.py, special.py, statistics.py; tn.special).

Differentiable ops are also in the op registry (tests/registry/special_stats.py); the torch
comparisons live in tests/test_torch_parity_special_stats.py. These run without torch.
"""
import math

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend.errors import DeviceError, ShapeError

DEVICES = tn.backend.available_devices()


# --- dtypes -----------------------------------------------------------------------------------------
def test_promote_types_result_type_can_cast():
    assert tn.promote_types(tn.int64, tn.float16) == tn.float16
    assert tn.promote_types(tn.uint8, tn.int8) == tn.int16
    assert tn.promote_types(tn.bool, tn.int32) == tn.int32
    assert tn.promote_types(tn.float32, tn.float64) is tn.float64
    assert tn.result_type(tn.tensor([1, 2]), 2.5) == tn.float32
    assert tn.result_type(tn.tensor([1.0], dtype=tn.float32), tn.tensor(1.0, dtype=tn.float64)) == tn.float32
    assert tn.result_type(tn.tensor([1], dtype=tn.int32), tn.tensor([1])) == tn.int64
    assert tn.can_cast(tn.float64, tn.float16) and tn.can_cast(tn.int64, tn.float32)
    assert not tn.can_cast(tn.float32, tn.int64) and not tn.can_cast(tn.int8, tn.bool)
    with pytest.raises(TypeError, match="pass `x.dtype`"):
        tn.promote_types(tn.tensor([1.0]), tn.float32)
    with pytest.raises(TypeError, match="result_type"):
        tn.result_type(tn.tensor([1.0]), "x")


def test_finfo_iinfo():
    f = tn.finfo(tn.float32)
    assert f.bits == 32 and f.eps == np.finfo(np.float32).eps and f.max == float(np.finfo(np.float32).max)
    assert f.min == -f.max and f.tiny == f.smallest_normal == float(np.finfo(np.float32).tiny)
    assert f.resolution == 1e-6 and f.dtype == "float32"
    assert tn.finfo().dtype == "float32" and tn.finfo(tn.float16).bits == 16
    i = tn.iinfo(tn.int8)
    assert (i.bits, i.min, i.max, i.dtype) == (8, -128, 127, "int8")
    assert tn.iinfo(tn.uint8).max == 255
    with pytest.raises(TypeError, match="tn.iinfo"):
        tn.finfo(tn.int32)
    with pytest.raises(TypeError, match="tn.finfo"):
        tn.iinfo(tn.float32)


# --- broadcasting -----------------------------------------------------------------------------------
def test_broadcast_shapes_and_tensors():
    assert tn.broadcast_shapes((2, 1), (3,), ()) == (2, 3)
    assert tn.broadcast_shapes(4, (1, 1)) == (1, 4)
    with pytest.raises(ShapeError, match=r"\(2, 3\), \(4,\)"):
        tn.broadcast_shapes((2, 3), (4,))
    a, b = tn.broadcast_tensors(tn.ones(3, 1), tn.zeros(4))
    assert a.shape == b.shape == (3, 4)
    with pytest.raises(ShapeError, match="broadcast_tensors"):
        tn.broadcast_tensors(tn.ones(3), tn.ones(4))
    with pytest.raises(TypeError):
        tn.broadcast_tensors(tn.ones(3), [1, 2, 3])


# --- predicates and construction --------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_predicates(device):
    x = tn.tensor([[1.0, 2.0]], device=device)
    assert tn.is_tensor(x) and not tn.is_tensor(np.ones(2))
    assert tn.is_floating_point(x) and not tn.is_floating_point(tn.tensor([1], device=device))
    assert tn.numel(x) == 2
    assert tn.is_nonzero(tn.tensor([3], device=device)) and not tn.is_nonzero(tn.tensor(0.0, device=device))
    assert tn.tensor([1.5]).is_nonzero()
    with pytest.raises(RuntimeError, match="more than one value"):
        tn.is_nonzero(x)
    with pytest.raises(RuntimeError, match="no values"):
        tn.is_nonzero(tn.tensor([], device=device))
    assert tn.equal(x, x.clone()) and not tn.equal(x, x + 1)
    assert x.is_signed() and not tn.tensor([1], dtype=tn.uint8).is_signed() and not tn.tensor([True]).is_signed()
    assert x.is_same_size(tn.zeros(1, 2, device=device)) and not x.is_same_size(tn.zeros(2, device=device))


def test_detach_retains_grad_and_complex_faces():
    x = tn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad and not x.retains_grad
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 8.0])
    d = tn.detach(y)
    assert d.grad_fn is None and not d.requires_grad and np.shares_memory(d.array, y.array)
    assert x.real is x and tn.real(x) is x and x.conj() is x and not x.is_conj() and not tn.is_conj(x)
    assert x.resolve_conj() is x and x.resolve_neg() is x and tn.resolve_neg(x) is x
    with pytest.raises(RuntimeError, match="non-complex"):
        x.imag
    with pytest.raises(RuntimeError, match="non-complex"):
        tn.imag(x)
    c = tn.conj_physical(x)
    assert c is not x and np.array_equal(c.detach().numpy(), x.detach().numpy())


def test_asarray_shares_memory_when_it_can():
    a = np.arange(4.0, dtype=np.float32)
    t = tn.asarray(a)
    a[0] = 9.0
    assert t[0].item() == 9.0 and t.dtype == tn.float32
    c = tn.asarray(a, copy=True)
    a[1] = 7.0
    assert c[1].item() == 1.0
    x = tn.tensor([1.0, 2.0])
    assert tn.asarray(x) is x
    assert tn.asarray(x, dtype=tn.float64).dtype == tn.float64
    with pytest.raises(ValueError, match="copy=False"):
        tn.asarray(x, dtype=tn.float64, copy=False)
    with pytest.raises(ValueError, match="copy=False"):
        tn.asarray([1, 2], copy=False)
    assert tn.asarray([1, 2]).dtype == tn.int64
    r = tn.asarray([1.0, 2.0], requires_grad=True)
    assert r.requires_grad and r.is_leaf
    s = tn.scalar_tensor(3)
    assert s.shape == () and s.dtype == tn.float32 and s.item() == 3.0
    assert tn.scalar_tensor(2, dtype=tn.int64).dtype == tn.int64
    with pytest.raises(TypeError, match="scalar_tensor"):
        tn.scalar_tensor("a")


# --- index arithmetic -------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_unravel_index(device):
    rows, cols = tn.unravel_index(tn.tensor([5, 7, -1], device=device), (2, 4))
    assert rows.tolist() == [1, 1, 1] and cols.tolist() == [1, 3, 3] and rows.dtype == tn.int64
    assert [t.item() for t in tn.unravel_index(11, (2, 3, 2))] == [1, 2, 1]
    with pytest.raises(IndexError, match="out of range"):
        tn.unravel_index(tn.tensor([8]), (2, 4))
    with pytest.raises(TypeError, match="integer"):
        tn.unravel_index(tn.tensor([1.0]), (2, 4))


def test_combinations_edge_cases():
    x = tn.tensor([1.0, 2.0, 3.0])
    assert tn.combinations(x, 1).tolist() == [[1.0], [2.0], [3.0]]
    assert tn.combinations(x, 4).shape == (0, 4)
    assert tn.combinations(x, 0).shape == (0,)
    assert tn.combinations(x, with_replacement=True).shape == (6, 2)
    with pytest.raises(ShapeError, match="1-D"):
        tn.combinations(tn.ones(2, 2))


def test_diagflat_rsub_sum_to_size():
    assert tn.diagflat(tn.tensor([[1.0, 2.0]]), -1).tolist() == [[0, 0, 0], [1, 0, 0], [0, 2, 0]]
    assert tn.rsub(tn.tensor([1.0, 2.0]), 10, alpha=3).tolist() == [7.0, 4.0]
    x = tn.ones(2, 3)
    assert x.sum_to_size(1, 3).tolist() == [[2.0, 2.0, 2.0]] and x.sum_to_size((2, 1)).tolist() == [[3.0], [3.0]]
    with pytest.raises(ShapeError, match="not expandable"):
        x.sum_to_size(2)
    assert x.sum_to_size(3).tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("device", DEVICES)
def test_put_and_fill_diagonal(device):
    x = tn.zeros(2, 3, device=device)
    x.put_(tn.tensor([0, 4, -1], device=device), tn.tensor([1.0, 2.0, 3.0], device=device))
    assert x.tolist() == [[1, 0, 0], [0, 2, 3]]
    x.put_(tn.tensor([0, 0], device=device), tn.tensor([5.0, 6.0], device=device), accumulate=True)
    assert x[0, 0].item() == 12.0
    with pytest.raises(IndexError, match="out of range"):
        x.put(tn.tensor([6], device=device), tn.tensor([1.0], device=device))
    with pytest.raises(ShapeError, match="one to one"):
        x.put(tn.tensor([0, 1], device=device), tn.tensor([1.0], device=device))
    with pytest.raises(TypeError, match="integer"):
        x.put(tn.tensor([0.0], device=device), tn.tensor([1.0], device=device))
    tall = tn.zeros(7, 3, device=device)
    tall.fill_diagonal_(1.0)
    assert tall.numpy().sum() == 3
    wrapped = tn.zeros(7, 3, device=device).fill_diagonal_(1.0, wrap=True)
    ref = np.zeros((7, 3))
    np.fill_diagonal(ref, 1.0, wrap=True)
    np.testing.assert_array_equal(wrapped.numpy(), ref)
    cube = tn.zeros(3, 3, 3, device=device).fill_diagonal_(2.0)
    assert cube[1, 1, 1].item() == 2.0 and cube.numpy().sum() == 6
    with pytest.raises(ShapeError, match="all sizes equal"):
        tn.zeros(2, 3, 3).fill_diagonal_(1.0)
    with pytest.raises(ShapeError, match="at least 2"):
        tn.zeros(3).fill_diagonal_(1.0)


def test_put_gradient_and_device_error():
    x = tn.zeros(2, 2, requires_grad=True)
    s = tn.tensor([1.0, 2.0], requires_grad=True)
    (x.put(tn.tensor([0, 3]), s) * tn.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [[0.0, 2.0], [3.0, 0.0]] and s.grad.tolist() == [1.0, 4.0]
    if "cuda" in DEVICES:
        with pytest.raises(DeviceError, match="one device"):
            tn.zeros(3).put(tn.tensor([0], device="cuda"), tn.tensor([1.0]))


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_comparisons(device):
    x = tn.tensor([1.0, 2.0, 3.0], device=device)
    assert x.clone().eq_(2.0).tolist() == [0.0, 1.0, 0.0]
    assert x.clone().lt_(tn.tensor([2.0, 2.0, 2.0], device=device)).tolist() == [1.0, 0.0, 0.0]
    for name, ref in (("ne_", [1, 0, 1]), ("le_", [1, 1, 0]), ("gt_", [0, 0, 1]), ("ge_", [0, 1, 1]),
                      ("not_equal_", [1, 0, 1]), ("less_", [1, 0, 0]), ("less_equal_", [1, 1, 0]),
                      ("greater_", [0, 0, 1]), ("greater_equal_", [0, 1, 1])):
        y = x.clone()
        out = getattr(y, name)(2.0)
        assert out is y and y.dtype == tn.float32 and y.tolist() == ref, name


def test_top_level_inplace_functions():
    from tinynet.functional.introspection import INPLACE_FUNCTIONS
    for name in INPLACE_FUNCTIONS:
        assert hasattr(tn.Tensor, name), name
        assert callable(getattr(tn, name)), name
    x = tn.tensor([0.0, 1.0])
    assert tn.exp_(x) is x and x.tolist() == [1.0, math.e] or np.allclose(x.numpy(), [1.0, math.e])
    y = tn.tensor([-1.0, 2.0])
    tn.clamp_(y, min=0.0)
    assert y.tolist() == [0.0, 2.0]
    tn.zero_(y)
    assert y.tolist() == [0.0, 0.0]
    tn.fill_(y, 3.0)
    assert y.tolist() == [3.0, 3.0]
    z = tn.tensor([0.5])
    tn.logit_(z)
    assert abs(z.item()) < 1e-7
    with pytest.raises(TypeError, match="exp_"):
        tn.exp_([1.0])


# --- special functions ------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_gamma_family_values(device):
    x = tn.tensor([0.5, 1.0, 2.0, 5.0, -0.5], dtype=tn.float64, device=device)
    np.testing.assert_allclose(tn.lgamma(x).numpy(), [math.lgamma(v) for v in x.tolist()], rtol=1e-13)
    euler = 0.5772156649015329
    np.testing.assert_allclose(tn.digamma(x).numpy()[:3], [-euler - 2 * math.log(2), -euler, 1 - euler],
                               rtol=1e-13)
    np.testing.assert_allclose(tn.polygamma(1, x).numpy()[1], math.pi ** 2 / 6, rtol=1e-13)
    assert tn.polygamma(0, x).tolist() == tn.digamma(x).tolist()
    poles = tn.tensor([0.0, -1.0, -2.0], dtype=tn.float64, device=device)
    assert np.isinf(tn.lgamma(poles).numpy()).all()
    assert tn.digamma(poles).numpy()[0] == -np.inf and np.isnan(tn.digamma(poles).numpy()[1:]).all()
    assert tn.lgamma(tn.tensor([1, 2], device=device)).dtype == tn.float32  # integers: the default float
    np.testing.assert_allclose(tn.mvlgamma(tn.tensor([2.5], dtype=tn.float64), 2).item(),
                               math.log(math.pi) / 2 + math.lgamma(2.5) + math.lgamma(2.0), rtol=1e-13)
    with pytest.raises(ValueError, match="greater than"):
        tn.mvlgamma(tn.tensor([0.2]), 2)
    with pytest.raises(ValueError, match="non-negative int"):
        tn.polygamma(-1, x)
    assert x.polygamma(1).tolist() == tn.polygamma(1, x).tolist()


def test_gamma_gradients_chain():
    x = tn.tensor([1.5, 3.0], dtype=tn.float64, requires_grad=True)
    (g,) = tn.autograd.grad(tn.lgamma(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tn.digamma(x).detach().numpy())
    (gg,) = tn.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), tn.polygamma(1, x).detach().numpy())


@pytest.mark.parametrize("device", DEVICES)
def test_bessel_and_normal_values(device):
    x = tn.tensor([0.0, 1.0, -2.0, 20.0], dtype=tn.float64, device=device)
    np.testing.assert_allclose(tn.i0(x).numpy(), np.i0(x.numpy()), rtol=1e-13)
    assert tn.special.i1(x).numpy()[2] < 0  # odd
    np.testing.assert_allclose(tn.special.i0e(x).numpy(), np.i0(x.numpy()) * np.exp(-np.abs(x.numpy())),
                               rtol=1e-13)
    np.testing.assert_allclose(tn.special.ndtr(x).numpy()[:3], [0.5, 0.8413447460685429, 0.022750131948179195],
                               rtol=1e-12)
    p = tn.tensor([0.5, 0.8413447460685429], dtype=tn.float64, device=device)
    np.testing.assert_allclose(tn.special.ndtri(p).numpy(), [0.0, 1.0], atol=1e-9)
    big = tn.tensor([-40.0, 30.0, 1e4], dtype=tn.float64, device=device)
    ln = tn.special.log_ndtr(big).numpy()
    assert np.isfinite(ln[0]) and abs(ln[0] - (-800 - math.log(40 * math.sqrt(2 * math.pi)))) < 1e-2
    cx = tn.special.erfcx(big).numpy()
    assert np.isinf(cx[0]) and abs(cx[2] * 1e4 * math.sqrt(math.pi) - 1) < 1e-8


def test_logit_xlog1py_entr():
    p = tn.tensor([0.0, 0.25, 1.0])
    assert np.isinf(tn.logit(p).numpy()[[0, 2]]).all()
    np.testing.assert_allclose(tn.logit(p, eps=0.1).numpy(), [math.log(1 / 9), math.log(1 / 3), math.log(9)],
                               rtol=1e-6)
    q = p.clone()
    q.logit_(eps=0.1)
    np.testing.assert_allclose(q.numpy(), tn.logit(p, eps=0.1).numpy())
    np.testing.assert_allclose(tn.special.xlog1py(tn.tensor([0.0, 2.0]), tn.tensor([-1.0, 1.0])).numpy(),
                               [0.0, 2 * math.log(2.0)], rtol=1e-6)
    assert np.isnan(tn.special.xlog1py(tn.tensor([0.0]), tn.tensor([float("nan")])).item())
    e = tn.special.entr(tn.tensor([0.0, -1.0, 0.5])).numpy()
    assert e[0] == 0 and e[1] == -np.inf and abs(e[2] - 0.5 * math.log(2)) < 1e-7


@pytest.mark.parametrize("device", DEVICES)
def test_pointwise_helpers(device):
    t = lambda v, **k: tn.tensor(v, device=device, **k)  # noqa: E731
    assert tn.heaviside(t([-1.0, 0.0, 2.0]), t([0.5])).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(TypeError, match="same dtype"):
        tn.heaviside(t([1.0]), t([1]))
    assert tn.signbit(t([-0.0, 0.0, -2.0])).tolist() == [True, False, True]
    assert tn.signbit(t([-1, 1])).tolist() == [True, False]
    nan = float("nan")
    assert tn.fmax(t([1.0, nan, 3.0]), t([2.0, 1.0, nan])).tolist() == [2.0, 1.0, 3.0]
    assert tn.fmin(t([1.0, nan, 3.0]), t([2.0, 1.0, nan])).tolist() == [1.0, 1.0, 3.0]
    assert tn.gcd(t([12, 0, -9]), t([18, 0, 6])).tolist() == [6, 0, 3]
    assert tn.lcm(t([4, 3]), t([6, 5])).tolist() == [12, 15]
    with pytest.raises(TypeError, match="integer"):
        tn.gcd(t([1.0]), t([2.0]))
    g = t([12, 9])
    g.gcd_(t([8, 6]))
    assert g.tolist() == [4, 3]
    assert tn.ldexp(t([1.0, 3.0]), t([3, -1])).tolist() == [8.0, 1.5]
    m, e = tn.frexp(t([8.0, -3.0, 0.0]))
    assert m.tolist() == [0.5, -0.75, 0.0] and e.tolist() == [4, 2, 0] and e.dtype == tn.int32
    with pytest.raises(TypeError, match="floating"):
        tn.frexp(t([1]))
    one = t([1.0], dtype=tn.float64)
    assert tn.nextafter(one, t([2.0], dtype=tn.float64)).item() == np.nextafter(1.0, 2.0)


def test_special_namespace():
    x = tn.tensor([0.3, 1.2], dtype=tn.float64)
    assert tn.special.gammaln is tn.lgamma and tn.special.psi is tn.digamma
    np.testing.assert_allclose(tn.special.multigammaln(x + 1, 2).numpy(), tn.mvlgamma(x + 1, 2).numpy())
    np.testing.assert_allclose(tn.special.expit(x).numpy(), 1 / (1 + np.exp(-x.numpy())))
    assert tn.special.softmax(x, 0, dtype=tn.float32).dtype == tn.float32
    np.testing.assert_allclose(tn.special.log_softmax(x, 0).numpy(), tn.log_softmax(x, 0).numpy())
    for name in ("erf", "erfc", "erfinv", "exp2", "expm1", "log1p", "round", "sinc", "xlogy", "logsumexp",
                 "i0", "logit", "polygamma", "digamma"):
        assert callable(getattr(tn.special, name)), name
    z = tn.special.zeta(tn.tensor([2.0, 1.0, 0.5]), tn.tensor([1.0, 1.0, 1.0])).numpy()
    assert abs(z[0] - math.pi ** 2 / 6) < 1e-6 and np.isinf(z[1]) and np.isnan(z[2])


# --- statistics -------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_bincount_histc_histogram(device):
    x = tn.tensor([0, 1, 1, 4], device=device)
    assert tn.bincount(x).tolist() == [1, 2, 0, 0, 1] and x.bincount(minlength=7).shape == (7,)
    w = tn.bincount(x, weights=tn.tensor([0.5, 1.0, 1.0, 2.0], device=device))
    assert w.tolist() == [0.5, 2.0, 0.0, 0.0, 2.0] and w.dtype == tn.float32
    with pytest.raises(ValueError, match="non-negative"):
        tn.bincount(tn.tensor([-1, 2]))
    with pytest.raises(ShapeError, match="1-D integer"):
        tn.bincount(tn.tensor([[1, 2]]))
    with pytest.raises(ShapeError, match="weights"):
        tn.bincount(tn.tensor([1, 2]), weights=tn.tensor([1.0]))
    f = tn.tensor([1.0, 2.0, 1.0, 9.0], device=device)
    assert tn.histc(f, bins=4, min=0, max=3).tolist() == [0.0, 2.0, 1.0, 0.0]  # 9 is outside
    assert tn.histc(f, bins=2).tolist() == [3.0, 1.0]
    with pytest.raises(ValueError, match="max"):
        tn.histc(f, bins=2, min=3, max=1)
    with pytest.raises(TypeError, match="floating"):
        tn.histc(x)
    h = tn.histogram(f, 4, range=(0.0, 4.0))
    assert h.hist.tolist() == [0.0, 2.0, 1.0, 0.0] and h.bin_edges.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    edges = tn.tensor([0.0, 1.5, 10.0], device=device)
    hist, be = f.histogram(edges, weight=tn.tensor([1.0, 2.0, 3.0, 4.0], device=device), density=True)
    ref, _ = np.histogram([1.0, 2.0, 1.0, 9.0], bins=[0.0, 1.5, 10.0], weights=[1, 2, 3, 4], density=True)
    np.testing.assert_allclose(hist.numpy(), ref, rtol=1e-6)
    with pytest.raises(ValueError, match="monotonically"):
        tn.histogram(f, tn.tensor([1.0, 0.0]))


def test_diff_and_trapezoid_semantics():
    x = tn.tensor([[1.0, 4.0, 9.0]])
    assert tn.diff(x).tolist() == [[3.0, 5.0]] and x.diff(n=2).tolist() == [[2.0]]
    assert tn.diff(x, n=0) is x
    assert tn.diff(x, prepend=tn.tensor(0.0)).tolist() == [[1.0, 3.0, 5.0]]
    assert tn.diff(tn.tensor([True, True, False])).tolist() == [False, True]
    with pytest.raises(ShapeError, match="0-d"):
        tn.diff(tn.tensor(1.0))
    assert tn.trapezoid(x).item() == 9.0 and tn.trapz(x, dx=2.0).item() == 18.0
    assert tn.trapezoid(x, tn.tensor([0.0, 1.0, 3.0])).item() == 2.5 + 13.0
    assert tn.cumulative_trapezoid(x).tolist() == [[2.5, 9.0]]
    with pytest.raises(ShapeError, match="points"):
        tn.trapezoid(x, tn.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="either x or dx"):
        tn.trapezoid(x, tn.tensor([0.0, 1.0, 2.0]), dx=1.0)


def test_quantile_semantics():
    x = tn.tensor([[1.0, 3.0, 2.0, 4.0], [5.0, float("nan"), 7.0, 6.0]])
    for how, ref in (("linear", 1.9), ("lower", 1.0), ("higher", 2.0), ("midpoint", 1.5), ("nearest", 2.0)):
        np.testing.assert_allclose(tn.quantile(x[0], 0.3, interpolation=how).item(), ref, rtol=1e-6)
    row = tn.quantile(x, 0.5, dim=1)
    assert row[0].item() == 2.5 and np.isnan(row[1].item())
    assert tn.nanquantile(x, 0.5, dim=1).tolist() == [2.5, 6.0]
    assert tn.nanquantile(tn.tensor([float("nan")] * 2), 0.5).isnan().item()
    assert tn.quantile(x, tn.tensor([0.25, 0.5]), dim=0).shape == (2, 4)
    assert tn.quantile(x[0], 0.5, dim=0, keepdim=True).shape == (1,)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tn.quantile(x, 1.5)
    with pytest.raises(ValueError, match="interpolation"):
        tn.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(TypeError, match="floating"):
        tn.quantile(tn.tensor([1, 2]), 0.5)
    with pytest.raises(TypeError, match="dtype"):
        tn.quantile(x, tn.tensor([0.5], dtype=tn.float64))


def test_cov_corrcoef_renorm_semantics():
    x = tn.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    np.testing.assert_allclose(tn.cov(x).numpy(), [[1.0, -1.0], [-1.0, 1.0]])
    np.testing.assert_allclose(x.cov(correction=0).numpy(), np.cov(x.numpy(), ddof=0), rtol=1e-6)
    assert tn.cov(tn.tensor([1.0, 2.0, 3.0])).shape == ()
    np.testing.assert_allclose(x.corrcoef().numpy(), [[1.0, -1.0], [-1.0, 1.0]])
    with pytest.raises(ShapeError, match="fweights"):
        tn.cov(x, fweights=tn.tensor([1, 2]))
    with pytest.raises(TypeError, match="integer"):
        tn.cov(x, fweights=tn.tensor([1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="negative"):
        tn.cov(x, aweights=tn.tensor([1.0, -2.0, 1.0]))
    with pytest.raises(ShapeError, match="1-D or 2-D"):
        tn.cov(tn.ones(2, 2, 2))
    r = tn.tensor([[3.0, 4.0], [0.3, 0.4]])
    np.testing.assert_allclose(r.renorm(2, 0, 1.0).numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    r.renorm_(2, 0, 1.0)
    np.testing.assert_allclose(r.numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    with pytest.raises(ShapeError, match="at least 2"):
        tn.renorm(tn.ones(3), 2, 0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        tn.renorm(r, 0, 0, 1.0)
