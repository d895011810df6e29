"""PyTorch parity of the introspection helpers, special functions and statistics: the same
inputs through tinynet and torch, comparing values and gradients (skipped without torch)."""
import numpy as np
import pytest

import tinynet as tn

torch = pytest.importorskip("torch")


def _pair(values, dtype="float64", grad=True):
    arr = np.asarray(values, dtype=dtype)
    return (tn.tensor(arr, requires_grad=grad), torch.tensor(arr, requires_grad=grad))


def _check(tn_fn, torch_fn, *values, rtol=1e-9, atol=1e-12, grad=True):
    """Forward values and (when ``grad``) the gradients of sum(out * w) of every input agree."""
    tins, tors = zip(*(_pair(v, grad=grad) for v in values))
    a, b = tn_fn(*tins), torch_fn(*tors)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)
    if grad:
        w = np.random.default_rng(0).standard_normal(a.shape)
        (a * tn.tensor(w)).sum().backward()
        (b * torch.tensor(w)).sum().backward()
        for x, y in zip(tins, tors):
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=rtol * 100, atol=atol * 100)


X = [[-2.7, -0.4, 0.3, 0.5], [1.0, 2.2, 7.5, 31.0]]
POS = [[0.2, 0.7, 1.3, 2.9], [4.0, 6.5, 12.0, 40.0]]


@pytest.mark.parametrize("name", ["lgamma", "digamma"])
def test_gamma_functions(name):
    _check(getattr(tn, name), getattr(torch, name), X, rtol=1e-11)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_polygamma(n):
    _check(lambda a: tn.polygamma(n, a), lambda a: torch.polygamma(n, a), POS, rtol=1e-8)
    _check(lambda a: a.polygamma(n), lambda a: a.polygamma(n), [[-1.5, -0.3]], rtol=1e-8)


def test_mvlgamma():
    _check(lambda a: tn.mvlgamma(a, 3), lambda a: torch.mvlgamma(a, 3), [[1.2, 2.0, 5.5]])
    _check(lambda a: tn.special.multigammaln(a, 2), lambda a: torch.special.multigammaln(a, 2), [[0.7, 3.0]])


@pytest.mark.parametrize("name", ["i0", "i0e", "i1", "i1e"])
def test_bessel(name):
    vals = [[-20.0, -3.1, -0.5, 0.0], [0.7, 2.0, 14.9, 15.2]]
    _check(getattr(tn.special, name), getattr(torch.special, name), vals, rtol=1e-12)


@pytest.mark.parametrize("name", ["erfcx", "ndtr", "log_ndtr", "expit", "entr", "erf", "erfc", "expm1", "log1p",
                                  "exp2", "sinc"])
def test_special_unary(name):
    vals = [[-30.0, -5.0, -1.2, -0.1], [0.2, 1.0, 7.9, 8.1]]
    if name == "entr":
        vals = POS
    _check(getattr(tn.special, name), getattr(torch.special, name), vals, rtol=1e-10, atol=1e-12)


def test_ndtri_logit_erfinv():
    p = [[0.01, 0.2, 0.5, 0.93]]
    _check(tn.special.ndtri, torch.special.ndtri, p, rtol=1e-7)
    _check(tn.special.logit, torch.special.logit, p)
    _check(lambda a: tn.logit(a, eps=0.1), lambda a: torch.logit(a, eps=0.1), p)
    _check(lambda a: a.logit(0.05), lambda a: a.logit(0.05), p)


def test_binary_special():
    _check(tn.special.xlog1py, torch.special.xlog1py, [[0.0, 1.5, -2.0]], [[3.0, 0.5, 2.0]])
    _check(tn.special.xlogy, torch.special.xlogy, [[0.0, 1.5, -2.0]], [[3.0, 0.5, 2.0]])
    _check(tn.fmax, torch.fmax, [[1.0, np.nan, 3.0, 2.0]], [[2.0, 1.0, np.nan, 2.0]])
    _check(tn.fmin, torch.fmin, [[1.0, np.nan, 3.0, 2.0]], [[2.0, 1.0, np.nan, 2.0]])
    _check(tn.ldexp, torch.ldexp, [[1.5, -2.0]], [[3.0, -1.5]])
    q = np.array([[1.0, 2.5, 10.0]])
    np.testing.assert_allclose(tn.special.zeta(tn.tensor([[2.0, 3.0, 4.5]], dtype=tn.float64),
                                               tn.tensor(q)).numpy(),
                               torch.special.zeta(torch.tensor([[2.0, 3.0, 4.5]], dtype=torch.float64),
                                                  torch.tensor(q)).numpy(), rtol=1e-12)


def test_non_differentiable_pointwise():
    a = np.array([-1.5, 0.0, -0.0, 2.0, 3.0])
    tt, to = tn.tensor(a), torch.tensor(a)
    assert tn.signbit(tt).tolist() == torch.signbit(to).tolist()
    v = np.array([0.5])
    assert tn.heaviside(tt, tn.tensor(v)).tolist() == torch.heaviside(to, torch.tensor(v)).tolist()
    m, e = tn.frexp(tt)
    mt, et = torch.frexp(to)
    assert m.tolist() == mt.tolist() and e.tolist() == et.tolist() and str(e.dtype)[-5:] == str(et.dtype)[-5:]
    assert tn.nextafter(tt, tn.tensor(0.0, dtype=tn.float64)).tolist() == \
        torch.nextafter(to, torch.tensor(0.0, dtype=torch.float64)).tolist()
    i, j = [12, -18, 0, 7], [8, 12, 5, 0]
    assert tn.gcd(tn.tensor(i), tn.tensor(j)).tolist() == torch.gcd(torch.tensor(i), torch.tensor(j)).tolist()
    assert tn.lcm(tn.tensor(i), tn.tensor(j)).tolist() == torch.lcm(torch.tensor(i), torch.tensor(j)).tolist()


def test_dtype_questions():
    pairs = [("int64", "float16"), ("uint8", "int8"), ("bool", "int32"), ("int16", "uint8"), ("float32", "float64")]
    for a, b in pairs:
        assert str(tn.promote_types(getattr(tn, a), getattr(tn, b))).split(".")[-1] == \
            str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[-1]
        assert tn.can_cast(getattr(tn, a), getattr(tn, b)) == torch.can_cast(getattr(torch, a), getattr(torch, b))
        assert tn.can_cast(getattr(tn, b), getattr(tn, a)) == torch.can_cast(getattr(torch, b), getattr(torch, a))
    for name in ("float16", "float32", "float64"):
        f, g = tn.finfo(getattr(tn, name)), torch.finfo(getattr(torch, name))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(f, attr) == getattr(g, attr), (name, attr)
    for name in ("int8", "int16", "int32", "int64", "uint8"):
        f, g = tn.iinfo(getattr(tn, name)), torch.iinfo(getattr(torch, name))
        assert (f.bits, f.min, f.max) == (g.bits, g.min, g.max)
    assert tn.broadcast_shapes((5, 1, 3), (4, 1)) == tuple(torch.broadcast_shapes((5, 1, 3), (4, 1)))


def test_index_helpers():
    idx = [0, 5, 11, 23]
    ours = tn.unravel_index(tn.tensor(idx), (2, 3, 4))
    theirs = torch.unravel_index(torch.tensor(idx), (2, 3, 4))
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    for r, rep in ((2, False), (3, False), (2, True), (1, False)):
        _check(lambda a: tn.combinations(a, r, rep), lambda a: torch.combinations(a, r, rep), [1.0, 2.5, -1.0, 4.0])
    _check(lambda a: tn.diagflat(a, -1), lambda a: torch.diagflat(a, -1), [[1.0, 2.0], [3.0, 4.0]])
    _check(lambda a, b: tn.rsub(a, b, alpha=0.5), lambda a, b: torch.rsub(a, b, alpha=0.5), [1.0, 2.0], [3.0, 1.0])
    _check(lambda a: a.sum_to_size(2, 1), lambda a: a.sum_to_size(2, 1), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = np.zeros((7, 3))
    for wrap in (False, True):
        a, b = tn.tensor(x), torch.tensor(x)
        a.fill_diagonal_(2.5, wrap=wrap)
        b.fill_diagonal_(2.5, wrap=wrap)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    i = [1, -1, 1]
    _check(lambda a, s: a.put(tn.tensor(i), s, accumulate=True),
           lambda a, s: a.put(torch.tensor(i), s, accumulate=True), [[1.0, 2.0], [3.0, 4.0]], [5.0, 6.0, 7.0])
    a, b = tn.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0])
    for name in ("eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_equal_", "less_"):
        assert getattr(a.clone(), name)(2.0).tolist() == getattr(b.clone(), name)(2.0).tolist(), name
    assert a.is_signed() == b.is_signed()
    assert tn.tensor([1], dtype=tn.uint8).is_signed() == torch.tensor([1], dtype=torch.uint8).is_signed()


def test_top_level_inplace_functions_match_torch():
    from tinynet.functional.introspection import INPLACE_FUNCTIONS
    for name in INPLACE_FUNCTIONS:
        assert hasattr(torch, name), name  # only names PyTorch has at the top level
    a, b = tn.tensor([0.3, 0.6]), torch.tensor([0.3, 0.6])
    for name in ("exp_", "sigmoid_", "sqrt_", "logit_", "tanh_", "i0_"):
        getattr(tn, name)(a)
        getattr(torch, name)(b)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_histograms_and_counts():
    x = np.array([0.2, 1.7, 1.9, 3.3, -1.0, 2.5, 2.5], dtype=np.float32)
    for kwargs in ({"bins": 4}, {"bins": 3, "min": 0.0, "max": 3.0}):
        np.testing.assert_array_equal(tn.histc(tn.tensor(x), **kwargs).numpy(),
                                      torch.histc(torch.tensor(x), **kwargs).numpy())
    for bins, kw in ((5, {}), (3, {"range": (0.0, 3.0), "density": True}),
                     (np.array([-1.0, 0.5, 2.0, 4.0], dtype=np.float32), {"weight": np.arange(7, dtype=np.float32)})):
        tb = tn.tensor(bins) if isinstance(bins, np.ndarray) else bins
        ob = torch.tensor(bins) if isinstance(bins, np.ndarray) else bins
        tkw = {k: (tn.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        okw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        h, e = tn.histogram(tn.tensor(x), tb, **tkw)
        ht, et = torch.histogram(torch.tensor(x), ob, **okw)
        np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-6)
        np.testing.assert_allclose(e.numpy(), et.numpy(), rtol=1e-6)
    i = [1, 3, 3, 0, 7]
    w = [0.5, 1.0, 2.0, 3.0, 4.0]
    assert tn.bincount(tn.tensor(i), minlength=10).tolist() == torch.bincount(torch.tensor(i), minlength=10).tolist()
    ours = tn.bincount(tn.tensor(i), weights=tn.tensor(w))
    theirs = torch.bincount(torch.tensor(i), weights=torch.tensor(w))
    assert ours.tolist() == theirs.tolist() and str(ours.dtype)[-7:] == str(theirs.dtype)[-7:]


def test_diff_and_integrals():
    y = [[1.0, 4.0, 2.0, 8.0], [0.5, -1.0, 3.0, 3.5]]
    _check(lambda a: tn.diff(a, n=2), lambda a: torch.diff(a, n=2), y)
    _check(lambda a, p: tn.diff(a, dim=0, prepend=p), lambda a, p: torch.diff(a, dim=0, prepend=p), y,
           [[0.0, 1.0, 2.0, 3.0]])
    _check(lambda a: tn.trapezoid(a, dx=0.5), lambda a: torch.trapezoid(a, dx=0.5), y)
    _check(lambda a, x: tn.trapezoid(a, x), lambda a, x: torch.trapezoid(a, x), y, [0.0, 0.5, 2.0, 2.5])
    _check(lambda a, x: tn.trapezoid(a, x, dim=0), lambda a, x: torch.trapezoid(a, x, dim=0), y,
           [[0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 4.0, 5.0]])
    _check(lambda a: tn.trapz(a, dx=2.0, dim=0), lambda a: torch.trapz(a, dx=2.0, dim=0), y)
    _check(lambda a, x: tn.cumulative_trapezoid(a, x), lambda a, x: torch.cumulative_trapezoid(a, x), y,
           [0.0, 0.5, 2.0, 2.5])


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantiles(interpolation):
    data = [[3.0, 1.0, 4.5, -2.0, 5.0], [0.5, 9.0, -3.0, 2.0, 7.0]]
    kw = {"interpolation": interpolation}
    _check(lambda a: tn.quantile(a, 0.35, **kw), lambda a: torch.quantile(a, 0.35, **kw), data)
    _check(lambda a: tn.quantile(a, tn.tensor([0.1, 0.5, 0.875], dtype=tn.float64), dim=1, keepdim=True, **kw),
           lambda a: torch.quantile(a, torch.tensor([0.1, 0.5, 0.875], dtype=torch.float64), dim=1, keepdim=True, **kw),
           data)
    _check(lambda a: a.quantile(0.6, 0, **kw), lambda a: a.quantile(0.6, 0, **kw), data)
    nan = [[3.0, np.nan, 4.5, -2.0, 5.0], [np.nan] * 5]
    _check(lambda a: tn.nanquantile(a, 0.3, dim=1, **kw), lambda a: torch.nanquantile(a, 0.3, dim=1, **kw), nan,
           grad=False)
    _check(lambda a: tn.quantile(a, 0.3, dim=1, **kw), lambda a: torch.quantile(a, 0.3, dim=1, **kw), nan,
           grad=False)


def test_cov_corrcoef_renorm():
    x = [[1.0, 2.5, -1.0, 4.0, 0.0], [0.3, -2.0, 1.0, 1.5, 2.0], [5.0, 4.0, 1.0, 0.0, -1.0]]
    _check(tn.cov, torch.cov, x)
    _check(lambda a: tn.cov(a, correction=0), lambda a: torch.cov(a, correction=0), x)
    fw = [1, 3, 1, 2, 1]
    _check(lambda a, w: tn.cov(a, fweights=tn.tensor(fw), aweights=w),
           lambda a, w: torch.cov(a, fweights=torch.tensor(fw), aweights=w), x, [0.5, 1.0, 2.0, 0.3, 1.2])
    _check(tn.cov, torch.cov, [1.0, 3.0, 2.0, 7.0])
    _check(tn.corrcoef, torch.corrcoef, x)
    _check(lambda a: a.corrcoef(), lambda a: a.corrcoef(), x)
    _check(lambda a: tn.renorm(a, 2, 0, 3.0), lambda a: torch.renorm(a, 2, 0, 3.0), x)
    _check(lambda a: a.renorm(1, 1, 2.0), lambda a: a.renorm(1, 1, 2.0), x)
    a, b = tn.tensor(x), torch.tensor(x)
    a.renorm_(3, 0, 1.0)
    b.renorm_(3, 0, 1.0)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
