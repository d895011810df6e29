"""Semantics of sorting, selection by rank, scans, reductions with dtype=, and sampling:
named-tuple results, dtypes, NaN and tie rules, errors, in-place forms, and the sampling
distributions (fixed seeds, loose statistical bounds that a wrong sampler fails)."""
import math

import numpy as np
import pytest

import tinynet as tn
from tinynet.backend.errors import ShapeError


def _t(a, device, dtype=tn.float64, **kw):
    return tn.tensor(np.asarray(a), dtype=dtype, device=device, **kw)


# --- named tuples -------------------------------------------------------------------------------
NAMED = [
    ("max", lambda x: x.max(1)), ("min", lambda x: tn.min(x, dim=0)), ("sort", lambda x: x.sort()),
    ("topk", lambda x: x.topk(2)), ("kthvalue", lambda x: x.kthvalue(1)), ("median", lambda x: x.median(1)),
    ("nanmedian", lambda x: tn.nanmedian(x, 0)), ("mode", lambda x: x.mode()), ("cummax", lambda x: x.cummax(1)),
    ("cummin", lambda x: tn.cummin(x, 0)),
]


@pytest.mark.parametrize("name,fn", NAMED, ids=[n for n, _ in NAMED])
def test_named_tuple_results(name, fn, device):
    x = _t([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]], device)
    out = fn(x)
    assert type(out).__name__ == name and isinstance(out, getattr(tn.return_types, name))
    assert out._fields == ("values", "indices")
    values, indices = out  # unpacks like a tuple
    assert values is out.values and indices is out.indices and out[0] is values
    assert indices.dtype == tn.int64 and values.dtype == tn.float64
    assert values.device == x.device == indices.device and values.shape == indices.shape


def test_values_are_the_elements_at_indices(device):
    x = _t([[3.0, 1.0, 2.0, 1.0], [0.5, 4.0, -1.0, 4.0]], device)
    for out, dim in ((x.sort(1), 1), (x.topk(3), 1), (x.cummax(1), 1), (x.cummin(1), 1), (x.sort(0), 0)):
        np.testing.assert_array_equal(np.take_along_axis(x.numpy(), out.indices.numpy(), axis=dim),
                                      out.values.numpy())
    for out in (x.max(1), x.min(1), x.kthvalue(2, 1), x.median(1), x.mode(1)):
        np.testing.assert_array_equal(x.numpy()[np.arange(2), out.indices.numpy()], out.values.numpy())


def test_aminmax_fields(device):
    x = _t([[3.0, 1.0], [0.5, 4.0]], device)
    out = tn.aminmax(x)
    assert type(out).__name__ == "aminmax" and out._fields == ("min", "max")
    assert out.min.item() == 0.5 and out.max.item() == 4.0
    lo, hi = x.aminmax(dim=1, keepdim=True)
    assert lo.tolist() == [[1.0], [0.5]] and hi.tolist() == [[3.0], [4.0]]


def test_max_forms(device):
    x = _t([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]], device, requires_grad=True)
    assert isinstance(x.max(), tn.Tensor) and x.max().item() == 7.0
    assert tn.max(x, _t([4.0, 4.0, 4.0], device)).tolist() == [[4.0, 5.0, 5.0], [7.0, 4.0, 7.0]]
    v, i = x.max(1, True)
    assert v.shape == (2, 1) and i.tolist() == [[1], [0]]  # first occurrence of the maximum
    v.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]  # only the element at the index
    assert x.max(axis=0).indices.tolist() == [1, 0, 1]  # NumPy's name is accepted too
    s = _t(2.5, device)
    assert s.max(0).values.item() == 2.5 and s.max(-1).indices.item() == 0


def test_max_errors(device):
    x = _t([[1.0, 2.0]], device)
    with pytest.raises(TypeError, match=r"max: dim must be a single int .* tn.amax"):
        x.max(dim=(0, 1))
    with pytest.raises(TypeError, match="keepdim= needs a dim"):
        x.min(keepdim=True)
    with pytest.raises(IndexError, match="max: axis 2 is out of range"):
        x.max(2)
    with pytest.raises(ShapeError, match="cannot reduce over axis 1"):
        tn.zeros(2, 0, device=device).max(1)
    assert tn.amax(x, dim=(0, 1)).item() == 2.0


# --- reductions with dtype, nan-skipping, counts ---------------------------------------------------
def test_integer_sums_promote_to_int64(device):
    for dt in (tn.int32, tn.uint8, tn.bool):
        x = _t([[1, 1], [0, 1]], device, dtype=dt)
        assert x.sum().dtype == tn.int64 and x.sum().item() == 3
        assert x.prod(1).dtype == tn.int64 and x.prod(1).tolist() == [1, 0]
        assert x.cumsum(0).dtype == tn.int64 and x.cumprod(1).dtype == tn.int64
    big = _t([200, 100], device, dtype=tn.uint8)
    assert big.sum().item() == 300  # no uint8 wrap-around
    assert _t([1, 2], device, dtype=tn.int64).sum(dtype=tn.float32).dtype == tn.float32


def test_mean_of_integers_needs_a_dtype(device):
    x = _t([1, 2], device, dtype=tn.int64)
    with pytest.raises(TypeError, match="mean: needs a floating tensor, got int64.*dtype=tn.float32"):
        x.mean()
    assert tn.mean(x, dtype=tn.float64).item() == 1.5
    assert x.mean(dtype=tn.float32).dtype == tn.float32
    with pytest.raises(TypeError, match="nanmean: needs a floating tensor"):
        tn.nanmean(x)


def test_dtype_argument_casts_before_reducing(device):
    x = _t([1e8, 1.0, -1e8], device, dtype=tn.float32)
    assert x.sum(dtype=tn.float64).dtype == tn.float64
    assert tn.prod(_t([2.0, 3.0], device, dtype=tn.float32), dtype=tn.float64).dtype == tn.float64
    y = _t([[1.0, 2.0]], device, dtype=tn.float32, requires_grad=True)
    y.sum(dtype=tn.float64).backward()
    assert y.grad.dtype == tn.float32 and y.grad.tolist() == [[1.0, 1.0]]


def test_nan_reductions(device):
    x = _t([[1.0, math.nan, 3.0], [math.nan, math.nan, math.nan]], device, requires_grad=True)
    assert x.nansum(1).tolist() == [4.0, 0.0]
    m = tn.nanmean(x, 1)
    assert m[0].item() == 2.0 and math.isnan(m[1].item())
    tn.nansum(x).backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]


def test_count_nonzero_and_moments(device):
    x = _t([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]], device)
    c = tn.count_nonzero(x)
    assert c.dtype == tn.int64 and c.item() == 3
    assert x.count_nonzero(dim=0).tolist() == [0, 1, 2] and tn.count_nonzero(x, (0, 1)).item() == 3
    v, m = tn.var_mean(x, 1)
    np.testing.assert_allclose(v.numpy(), x.numpy().var(axis=1, ddof=1))
    np.testing.assert_allclose(m.numpy(), x.numpy().mean(axis=1))
    s, m = tn.std_mean(x, dim=1, unbiased=False, keepdim=True)
    assert s.shape == (2, 1) and np.allclose(s.numpy()[:, 0], x.numpy().std(axis=1))
    with pytest.raises(TypeError, match="var: give only one of"):
        tn.var_mean(x, 1, unbiased=True, correction=0)
    with pytest.raises(TypeError, match="unbiased given twice"):
        tn.var(x, True, unbiased=False)


# --- sorting -------------------------------------------------------------------------------------
def test_sort_stability_nan_and_descending(device):
    x = _t([2.0, math.nan, 1.0, 2.0, -math.inf, 1.0], device)
    assert x.sort().indices.tolist() == [4, 2, 5, 0, 3, 1]
    assert x.sort(descending=True).indices.tolist() == [1, 0, 3, 2, 5, 4]  # NaN first, equal keep order
    assert x.argsort(descending=True).tolist() == [1, 0, 3, 2, 5, 4]
    assert tn.msort(_t([[2.0, 1.0], [0.0, 3.0]], device)).tolist() == [[0.0, 1.0], [2.0, 3.0]]
    ints = _t([3, 1, 2], device, dtype=tn.int32)
    assert ints.sort().values.dtype == tn.int32 and ints.sort().values.tolist() == [1, 2, 3]


def test_sort_gradient_is_the_permutation(device):
    x = _t([[3.0, 1.0, 2.0]], device, requires_grad=True)
    v, _ = x.sort(descending=True)
    (v * _t([[1.0, 10.0, 100.0]], device)).sum().backward()
    assert x.grad.tolist() == [[1.0, 100.0, 10.0]]


def test_topk_kthvalue_median_mode(device):
    x = _t([[5.0, 1.0, 4.0, 2.0, 3.0]], device)
    assert x.topk(2).values.tolist() == [[5.0, 4.0]] and x.topk(2, largest=False).indices.tolist() == [[1, 3]]
    assert x.topk(0).values.shape == (1, 0)
    assert x.kthvalue(2).values.tolist() == [2.0] and x.kthvalue(2, keepdim=True).indices.tolist() == [[3]]
    assert tn.median(_t([4.0, 1.0, 3.0, 2.0], device)).item() == 2.0  # the lower median, not 2.5
    assert math.isnan(tn.median(_t([1.0, math.nan, 2.0], device)).item())
    assert tn.nanmedian(_t([1.0, math.nan, 2.0, 4.0], device)).item() == 2.0
    assert tn.median(_t([[1.0, math.nan, 0.0]], device), 1).indices.tolist() == [1]
    assert tn.nanmedian(_t([[1.0, math.nan, 0.0]], device), 1).values.tolist() == [0.0]
    m = _t([[2.0, 2.0, 1.0, 1.0, 3.0]], device).mode()
    assert m.values.tolist() == [1.0] and m.indices.tolist() == [3]  # smallest of the most frequent, last index
    assert tn.median(_t([5.0], device), dim=0, keepdim=True).values.shape == (1,)


def test_full_median_shares_the_gradient_among_equal_elements(device):
    x = _t([1.0, 2.0, 2.0, 3.0, 2.0], device, requires_grad=True)
    tn.median(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1 / 3, 1 / 3, 0, 1 / 3])


def test_rank_errors(device):
    x = _t([[1.0, 2.0, 3.0]], device)
    with pytest.raises(ShapeError, match=r"topk: k \(4\) is larger than the size of dim 1 \(3\)") as e:
        x.topk(4)
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(ValueError, match="topk: k must be a non-negative int"):
        x.topk(-1)
    with pytest.raises(IndexError, match=r"kthvalue: k \(0\) must be between 1 and"):
        x.kthvalue(0)
    with pytest.raises(TypeError, match="kthvalue: k must be an int, got float"):
        x.kthvalue(1.0)
    with pytest.raises(ShapeError, match="median: cannot take the median over dim 1 of size 0"):
        tn.zeros(2, 0, device=device).median(1)
    with pytest.raises(ShapeError, match="mode: cannot take the mode over dim 0 of size 0"):
        tn.zeros(0, device=device).mode()
    with pytest.raises(IndexError, match="sort: axis 3 is out of range"):
        x.sort(3)
    assert math.isnan(tn.median(tn.zeros(0, device=device)).item())


def test_unique_searchsorted_bucketize(device):
    x = _t([[3, 1], [3, 2]], device, dtype=tn.int64)
    u, inv, cnt = tn.unique(x, return_inverse=True, return_counts=True)
    assert u.tolist() == [1, 2, 3] and inv.tolist() == [[2, 0], [2, 1]] and cnt.tolist() == [1, 1, 2]
    assert x.unique().tolist() == [1, 2, 3] and x.unique(dim=1).tolist() == [[1, 3], [2, 3]]
    assert tn.unique_consecutive(_t([1, 1, 2, 1], device, dtype=tn.int64)).tolist() == [1, 2, 1]
    seq = _t([1.0, 2.0, 2.0, 4.0], device)
    assert tn.searchsorted(seq, _t([2.0, 3.0, 5.0], device)).tolist() == [1, 3, 4]
    assert tn.searchsorted(seq, _t([2.0], device), right=True).tolist() == [3]
    assert tn.searchsorted(seq, _t([2.0], device), side="right", out_int32=True).dtype == tn.int32
    assert tn.bucketize(_t([2.0, 0.0], device), seq).tolist() == [1, 0]
    assert tn.bucketize(_t([2.0, 0.0], device), seq, True).tolist() == [3, 0]  # right= also positionally
    assert tn.searchsorted(seq, _t([2.0], device), True).tolist() == [3]
    with pytest.raises(ValueError, match="side='left' contradicts right=True"):
        tn.searchsorted(seq, _t([2.0], device), right=True, side="left")
    with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
        tn.searchsorted(seq, _t([2.0], device), side="middle")
    with pytest.raises(ShapeError, match="needs values with the same leading dimensions"):
        tn.searchsorted(_t([[1.0, 2.0]], device), _t([[1.0], [2.0]], device))
    with pytest.raises(ShapeError, match="bucketize: boundaries must be a 1-D tensor"):
        tn.bucketize(_t([1.0], device), _t([[1.0]], device))
    with pytest.raises(ShapeError, match="sorter has shape"):
        tn.searchsorted(seq, _t([1.0], device), sorter=_t([0, 1], device, dtype=tn.int64))


# --- scans ---------------------------------------------------------------------------------------
def test_cumprod_gradient_with_zeros(device):
    a = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    x = _t(a, device, requires_grad=True)
    x.cumprod(0).sum().backward()
    expected = [sum(np.prod(np.delete(a[:j + 1], i)) for j in range(i, 5)) for i in range(5)]
    np.testing.assert_allclose(x.grad.numpy(), expected)  # d/dx_1 = 2 + 2*3 (not y/x = nan)


def test_cumsum_gradients_of_every_order(device):
    x = _t([1.0, 2.0, 3.0], device, requires_grad=True)
    y = (x.cumsum(0) ** 2).sum()
    (g,) = tn.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [2 * (1 + 3 + 6), 2 * (3 + 6), 2 * 6])
    (gg,) = tn.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), [2 * 6, 2 * 5, 2 * 3])


def test_logcumsumexp_is_stable(device):
    x = _t([-1000.0, 0.0, 1000.0, 1000.0], device)
    np.testing.assert_allclose(x.logcumsumexp(0).numpy(), [-1000.0, 0.0, 1000.0, 1000.0 + math.log(2)])
    with pytest.raises(TypeError, match="logcumsumexp: needs a floating tensor"):
        _t([1, 2], device, dtype=tn.int64).logcumsumexp(0)


def test_scan_errors_and_inplace(device):
    x = _t([[1.0, 2.0], [3.0, 4.0]], device)
    with pytest.raises(TypeError, match="cumsum: missing the dim argument"):
        tn.cumsum(x)
    with pytest.raises(IndexError, match="cumprod: axis 2 is out of range"):
        x.cumprod(2)
    view = x[0]
    assert x.cumsum_(1) is x and x.tolist() == [[1.0, 3.0], [3.0, 7.0]]
    assert view.tolist() == [1.0, 3.0]  # written into x's own memory
    x.cumprod_(0)
    assert x.tolist() == [[1.0, 3.0], [3.0, 21.0]]
    w = _t([1.0, 2.0], device, requires_grad=True)
    h = w * 1
    h.cumsum_(0)
    h.sum().backward()
    assert w.grad.tolist() == [2.0, 1.0]  # the graph continues through the in-place scan
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.cumsum_(0)


# --- sampling ------------------------------------------------------------------------------------
N = 20000


def test_fills_follow_their_distributions(device):
    tn.manual_seed(0)
    x = tn.empty(N, dtype=tn.float64, device=device)
    u = x.uniform_(2.0, 4.0).numpy().copy()
    assert u.min() >= 2.0 and u.max() < 4.0 and abs(u.mean() - 3.0) < 0.03 and abs(u.var() - 4 / 12) < 0.02
    n = x.normal_(1.0, 2.0).numpy().copy()
    assert abs(n.mean() - 1.0) < 0.05 and abs(n.std() - 2.0) < 0.05
    e = x.exponential_(4.0).numpy().copy()
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.01
    g = x.geometric_(0.25).numpy().copy()
    assert g.min() >= 1 and np.all(g == np.round(g)) and abs(g.mean() - 4.0) < 0.15
    ln = x.log_normal_(0.5, 0.25).numpy().copy()
    assert ln.min() > 0 and abs(np.median(np.log(ln)) - 0.5) < 0.02
    c = x.cauchy_(3.0, 0.5).numpy().copy()
    assert abs(np.median(c) - 3.0) < 0.03 and abs(np.percentile(c, 75) - 3.5) < 0.05
    b = x.bernoulli_(0.3).numpy().copy()
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.02
    r = x.random_(3, 7).numpy().copy()
    assert set(np.unique(r)) == {3.0, 4.0, 5.0, 6.0}
    r = tn.empty(N, dtype=tn.int64, device=device).random_(5).numpy()
    assert set(np.unique(r)) == {0, 1, 2, 3, 4}
    r = tn.empty(N, dtype=tn.float32, device=device).random_().numpy()
    assert r.min() >= 0 and r.max() <= 2 ** 24 and r.max() > 2 ** 23 and np.all(r == np.round(r))
    assert set(np.unique(tn.empty(100, dtype=tn.bool, device=device).random_().numpy())) == {False, True}
    p = tn.full((N,), 0.8, dtype=tn.float64, device=device)
    assert abs(tn.empty(N, device=device).bernoulli_(p).numpy().mean() - 0.8) < 0.02


def test_functional_samplers(device):
    tn.manual_seed(1)
    probs = tn.tensor([[0.1, 0.0, 0.6, 0.3]] * 2, device=device)
    draws = tn.multinomial(probs, 5000, replacement=True)
    assert draws.shape == (2, 5000) and draws.dtype == tn.int64
    freq = np.bincount(draws.numpy().ravel(), minlength=4) / 10000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.02)
    w = tn.tensor([1.0, 0.0, 3.0, 2.0], device=device)
    no_rep = probs[0].multinomial(3)
    assert sorted(no_rep.tolist()) == [0, 2, 3]  # each positive category once
    firsts = np.array([tn.multinomial(w, 1).item() for _ in range(3000)])
    np.testing.assert_allclose(np.bincount(firsts, minlength=4) / 3000, [1 / 6, 0, 1 / 2, 1 / 3], atol=0.03)
    # the second draw without replacement: P(second = 3 | first = 2) = 2/3
    pairs = np.array([tn.multinomial(w, 2).tolist() for _ in range(3000)])
    after2 = pairs[pairs[:, 0] == 2, 1]
    assert abs(np.mean(after2 == 3) - 2 / 3) < 0.05
    b = tn.bernoulli(tn.tensor([0.0, 1.0, 0.5] * 4000, device=device)).numpy().reshape(-1, 3)
    assert b[:, 0].sum() == 0 and b[:, 1].all() and abs(b[:, 2].mean() - 0.5) < 0.03
    assert tn.bernoulli(tn.zeros(3, device=device), 1.0).tolist() == [1.0, 1.0, 1.0]
    z = tn.normal(tn.full((N,), 2.0, device=device), 0.5)
    assert z.device.type == device and z.dtype == tn.float32 and abs(z.numpy().mean() - 2) < 0.02
    z = tn.normal(-1.0, tn.full((2, N), 3.0, dtype=tn.float64, device=device))
    assert z.shape == (2, N) and z.dtype == tn.float64 and abs(z.numpy().std() - 3) < 0.06
    z = tn.normal(1.0, 2.0, (N,), dtype=tn.float64)
    assert z.shape == (N,) and abs(z.numpy().mean() - 1) < 0.05
    pz = tn.poisson(tn.full((N,), 3.5, device=device)).numpy()
    assert np.all(pz == np.round(pz)) and abs(pz.mean() - 3.5) < 0.05 and abs(pz.var() - 3.5) < 0.15


def test_sampling_is_reproducible_and_device_independent(device):
    def draw():
        x = tn.empty(6, device=device)
        return (x.uniform_().tolist(), x.normal_().tolist(), tn.multinomial(tn.ones(5, device=device), 3).tolist(),
                tn.bernoulli(tn.full((4,), 0.5, device=device)).tolist(),
                tn.poisson(tn.ones(3, device=device)).tolist())

    tn.manual_seed(7)
    a = draw()
    tn.manual_seed(7)
    assert draw() == a
    tn.manual_seed(7)
    x = tn.empty(6)
    assert x.uniform_().tolist() == a[0]  # the cpu draws equal this device's
    gen = np.random.default_rng(3)
    first = tn.empty(4, device=device).normal_(generator=gen).tolist()
    assert tn.empty(4, device=device).normal_(generator=np.random.default_rng(3)).tolist() == first
    assert tn.multinomial(tn.ones(5, device=device), 5, generator=np.random.default_rng(1)).tolist() == \
        tn.multinomial(tn.ones(5, device=device), 5, generator=np.random.default_rng(1)).tolist()
    g = tn.Generator().manual_seed(5)
    before = tn.get_rng_state()
    drawn = tn.bernoulli(tn.full((8,), 0.5, device=device), generator=g).tolist()
    assert tn.get_rng_state() == before  # a generator of its own leaves the global stream alone
    g.manual_seed(5)
    assert tn.bernoulli(tn.full((8,), 0.5, device=device), generator=g).tolist() == drawn
    assert tn.empty(3, device=device).exponential_(generator=g.manual_seed(2)).tolist() == \
        tn.empty(3, device=device).exponential_(generator=tn.Generator().manual_seed(2)).tolist()


def test_sampling_errors(device):
    x = tn.empty(3, device=device)
    with pytest.raises(ValueError, match="weights must be finite and non-negative"):
        tn.multinomial(tn.tensor([0.5, -0.1], device=device), 1)
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement"):
        tn.multinomial(tn.tensor([0.5, 0.0, 0.5], device=device), 3)
    with pytest.raises(ValueError, match="positive sum"):
        tn.multinomial(tn.zeros(2, 3, device=device), 1, True)
    with pytest.raises(ShapeError, match="multinomial: input must be 1-D or 2-D"):
        tn.multinomial(tn.ones(1, 2, 3, device=device), 1)
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        tn.multinomial(tn.ones(3, device=device), 0)
    with pytest.raises(ValueError, match=r"bernoulli: probabilities must be in \[0, 1\]"):
        tn.bernoulli(tn.tensor([1.5], device=device))
    with pytest.raises(ValueError, match="bernoulli_: probabilities"):
        x.bernoulli_(-0.5)
    with pytest.raises(ShapeError, match="bernoulli_: p of shape"):
        x.bernoulli_(tn.full((2,), 0.5, device=device))
    with pytest.raises(ValueError, match="normal: std must be non-negative"):
        tn.normal(tn.zeros(2, device=device), -1.0)
    with pytest.raises(TypeError, match="normal: with number mean and std give the output size"):
        tn.normal(0.0, 1.0)
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        tn.normal(tn.zeros(2, device=device), tn.ones(3, device=device))
    with pytest.raises(TypeError, match="uniform_: needs a floating tensor"):
        tn.zeros(2, dtype=tn.int64, device=device).uniform_()
    with pytest.raises(ValueError, match="uniform_: expects from <= to"):
        x.uniform_(2.0, 1.0)
    with pytest.raises(ValueError, match="random_: expects from < to"):
        x.random_(3, 3)
    with pytest.raises(ValueError, match="geometric_: p must be in"):
        x.geometric_(0.0)
    with pytest.raises(ValueError, match="exponential_: lambd must be positive"):
        x.exponential_(0.0)
    with pytest.raises(TypeError, match="normal_: generator must be a tn.Generator"):
        x.normal_(generator=42)
    with pytest.raises(ValueError, match="poisson: rates must be non-negative"):
        tn.poisson(tn.tensor([-1.0], device=device))
    p = tn.zeros(2, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        p.normal_()
    with tn.no_grad():
        p.normal_()
    assert p.requires_grad and p.abs().sum().item() > 0
