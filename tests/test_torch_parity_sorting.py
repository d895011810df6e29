"""Parity with PyTorch (float64): sorting, selection by rank, scans, reductions with dtype=.

Values, indices (including how ties and NaN are resolved) and gradients of the same
inputs, on every device. Inputs with ties check the indices PyTorch picks; gradients
flow to exactly the element at the returned index in both libraries.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinynet as tn  # noqa: E402

NAN = float("nan")


def _as_np(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def _check(tn_fn, torch_fn, *arrays, device="cpu", grad=True, seed=0):
    """Compare every output (values and integer indices) and the gradients of a random weighting."""
    rng = np.random.default_rng(seed)
    ts = [tn.tensor(a, dtype=tn.float64, device=device, requires_grad=grad) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]
    out_t, out_p = tn_fn(*ts), torch_fn(*ps)
    outs_t = list(out_t) if isinstance(out_t, (tuple, list)) else [out_t]
    outs_p = list(out_p) if isinstance(out_p, (tuple, list)) else [out_p]
    assert len(outs_t) == len(outs_p)
    if hasattr(out_p, "_fields"):
        assert type(out_t).__name__ == type(out_p).__name__ and out_t._fields == out_p._fields
    for a, b in zip(outs_t, outs_p):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        if b.dtype == torch.int64:
            assert a.dtype == tn.int64
            np.testing.assert_array_equal(_as_np(a), _as_np(b))
        else:
            np.testing.assert_allclose(_as_np(a), _as_np(b), atol=1e-10, rtol=1e-10)
    if not grad:
        return
    pairs = [(a, b) for a, b in zip(outs_t, outs_p) if b.dtype == torch.float64]
    if not pairs:  # indices only (argsort): nothing to differentiate
        return
    ws = [np.nan_to_num(rng.standard_normal(tuple(b.shape))) for _, b in pairs]
    sum((a * tn.tensor(w, dtype=tn.float64, device=device)).nansum() for (a, _), w in zip(pairs, ws)).backward()
    sum((b * torch.tensor(w)).nansum() for (_, b), w in zip(pairs, ws)).backward()
    for t, p in zip(ts, ps):
        gt = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        gp = p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))
        np.testing.assert_allclose(gt, gp, atol=1e-10, rtol=1e-9)


TIES = np.array([[3.0, 1.0, 3.0, 2.0, 1.0, 5.0], [2.0, 2.0, 2.0, 1.0, 1.0, 1.0], [0.5, -1.0, 0.5, 0.5, 4.0, -1.0]])
# rows whose mode value has one index PyTorch can return: it occurs twice, the second time last
MODE_ROWS = np.array([[3.0, 1.0, 3.0, 2.0, 1.0, 5.0], [4.0, 0.5, 0.5, -2.0, 4.0, 4.0], [7.0, 8.0, 9.0, 6.0, 1.0, 2.0]])
RAND = np.random.default_rng(3).standard_normal((4, 5))
WITH_NAN = np.array([[1.0, NAN, 3.0, -2.0, 0.5], [2.0, 1.0, 0.0, 5.0, 4.0]])

CASES = [
    ("max_dim", lambda a: a.max(1), lambda a: a.max(1), TIES),
    ("max_dim_keepdim", lambda a: tn.max(a, 0, keepdim=True), lambda a: torch.max(a, 0, keepdim=True), TIES),
    ("min_dim", lambda a: a.min(dim=-1), lambda a: a.min(dim=-1), TIES),
    ("max_dim_nan", lambda a: a.max(1), lambda a: a.max(1), WITH_NAN),
    ("aminmax", lambda a: tn.aminmax(a, dim=0), lambda a: torch.aminmax(a, dim=0), RAND),
    ("sort", lambda a: a.sort(1, stable=True), lambda a: a.sort(dim=1, stable=True), TIES),
    ("sort_descending", lambda a: tn.sort(a, 1, descending=True, stable=True),
     lambda a: torch.sort(a, dim=1, descending=True, stable=True), TIES),
    ("sort_nan", lambda a: a.sort(-1, stable=True), lambda a: a.sort(stable=True, dim=-1), WITH_NAN),
    ("sort_nan_descending", lambda a: a.sort(-1, True, stable=True),
     lambda a: a.sort(dim=-1, descending=True, stable=True), WITH_NAN),
    ("argsort", lambda a: a.argsort(0, stable=True), lambda a: a.argsort(dim=0, stable=True), TIES),
    ("sort_default", lambda a: a.sort(), lambda a: a.sort(), RAND),
    ("msort", tn.msort, torch.msort, RAND),
    ("topk", lambda a: a.topk(3), lambda a: a.topk(3), RAND),
    ("topk_smallest_dim0", lambda a: tn.topk(a, 2, 0, largest=False), lambda a: torch.topk(a, 2, 0, largest=False),
     RAND),
    ("kthvalue", lambda a: a.kthvalue(3, 1), lambda a: a.kthvalue(3, 1), RAND),
    ("kthvalue_keepdim", lambda a: tn.kthvalue(a, 2, 0, True), lambda a: torch.kthvalue(a, 2, 0, True), RAND),
    ("median_all", lambda a: a.median(), lambda a: a.median(), RAND),
    ("median_all_even", lambda a: tn.median(a[:, :4]), lambda a: torch.median(a[:, :4]), RAND),
    ("median_dim", lambda a: a.median(1), lambda a: a.median(1), RAND),
    ("median_dim_ties", lambda a: a.median(0), lambda a: a.median(0), TIES[:, :5]),
    ("median_nan", lambda a: a.median(1), lambda a: a.median(1), WITH_NAN),
    ("median_all_nan", lambda a: a.median(), lambda a: a.median(), WITH_NAN),
    ("nanmedian_dim", lambda a: a.nanmedian(1, keepdim=True), lambda a: a.nanmedian(1, keepdim=True), WITH_NAN),
    ("nanmedian_all", tn.nanmedian, torch.nanmedian, WITH_NAN),
    ("mode", lambda a: a.mode(1), lambda a: a.mode(1), MODE_ROWS),
    ("mode_dim0", lambda a: tn.mode(a, 0, keepdim=True), lambda a: torch.mode(a, 0, keepdim=True), TIES[:2]),
    ("cumsum", lambda a: a.cumsum(1), lambda a: a.cumsum(1), RAND),
    ("cumsum_dim0", lambda a: tn.cumsum(a, dim=0), lambda a: torch.cumsum(a, dim=0), RAND),
    ("cumprod", lambda a: a.cumprod(1), lambda a: a.cumprod(1), RAND),
    ("cumprod_zeros", lambda a: a.cumprod(1), lambda a: a.cumprod(1),
     np.array([[2.0, 0.0, 3.0, -1.5, 0.0, 2.0], [0.0, 1.5, 2.0, 0.5, -1.0, 3.0]])),
    ("cummax_ties", lambda a: a.cummax(1), lambda a: a.cummax(1), TIES),
    ("cummin_ties", lambda a: tn.cummin(a, 1), lambda a: torch.cummin(a, 1), TIES),
    ("cummax_nan", lambda a: a.cummax(1), lambda a: a.cummax(1), WITH_NAN),
    ("cummin_dim0", lambda a: a.cummin(0), lambda a: a.cummin(0), RAND),
    ("logcumsumexp", lambda a: a.logcumsumexp(1), lambda a: a.logcumsumexp(1), RAND),
    ("logcumsumexp_wide_range", lambda a: tn.logcumsumexp(a * 400, 1), lambda a: torch.logcumsumexp(a * 400, 1),
     RAND),
    ("logcumsumexp_long", lambda a: tn.logcumsumexp(a, 1), lambda a: torch.logcumsumexp(a, 1),
     20 * np.random.default_rng(4).standard_normal((2, 300))),  # several blocks chained by a carry
    ("nansum", lambda a: a.nansum(1), lambda a: a.nansum(1), WITH_NAN),
    ("nanmean", lambda a: tn.nanmean(a, 1, keepdim=True), lambda a: torch.nanmean(a, 1, keepdim=True), WITH_NAN),
    ("var_mean", lambda a: tn.var_mean(a, 1), lambda a: torch.var_mean(a, 1), RAND),
    ("std_mean_correction0", lambda a: tn.std_mean(a, dim=(0, 1), correction=0),
     lambda a: torch.std_mean(a, dim=(0, 1), correction=0), RAND),
    ("var_mean_unbiased_positional", lambda a: tn.var_mean(a, False), lambda a: torch.var_mean(a, False), RAND),
    ("sum_dtype", lambda a: a.sum(0, dtype=tn.float32).double(), lambda a: a.sum(0, dtype=torch.float32).double(),
     RAND),
    ("prod_dim_keepdim", lambda a: a.prod(1, keepdim=True), lambda a: a.prod(1, keepdim=True), RAND),
]


@pytest.mark.parametrize("name,f_tn,f_torch,x", CASES, ids=[c[0] for c in CASES])
def test_parity(name, f_tn, f_torch, x, device):
    _check(f_tn, f_torch, x, device=device)


def _tt(a, device, dtype=None):
    return tn.tensor(a, device=device, dtype=dtype)


def test_integer_reductions_and_scans_match_torch_dtypes(device):
    for dt, tdt in ((tn.int32, torch.int32), (tn.uint8, torch.uint8), (tn.bool, torch.bool)):
        a = np.array([[1, 0, 1], [1, 1, 0]])
        x, p = tn.tensor(a, dtype=dt, device=device), torch.tensor(a, dtype=tdt)
        for f in (lambda t: t.sum(), lambda t: t.sum(1), lambda t: t.prod(0), lambda t: t.cumsum(1),
                  lambda t: t.cumprod(0)):
            got, want = f(x), f(p)
            assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (dt, got.dtype, want.dtype)
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_unique_and_friends_match_torch(device):
    a = np.array([[3, 1, 3], [2, 1, 3], [3, 1, 3]])
    x, p = _tt(a, device), torch.tensor(a)
    for kw in ({}, {"return_inverse": True}, {"return_counts": True}, {"return_inverse": True, "return_counts": True},
               {"dim": 0, "return_inverse": True, "return_counts": True}, {"dim": 1, "return_counts": True}):
        got, want = tn.unique(x, **kw), torch.unique(p, **kw)
        got, want = (got if isinstance(got, tuple) else (got,)), (want if isinstance(want, tuple) else (want,))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    seq = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    got = tn.unique_consecutive(_tt(seq, device), return_inverse=True, return_counts=True)
    want = torch.unique_consecutive(torch.tensor(seq), return_inverse=True, return_counts=True)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    got = tn.unique_consecutive(x, dim=0, return_counts=True)
    want = torch.unique_consecutive(p, dim=0, return_counts=True)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_searchsorted_bucketize_count_nonzero_match_torch(device):
    seq = np.array([1.0, 3.0, 3.0, 5.0, 7.0])
    vals = np.array([[0.0, 3.0, 4.0], [7.0, 8.0, 3.0]])
    for right in (False, True):
        np.testing.assert_array_equal(
            tn.searchsorted(_tt(seq, device), _tt(vals, device), right=right).numpy(),
            torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right).numpy())
        np.testing.assert_array_equal(
            tn.bucketize(_tt(vals, device), _tt(seq, device), right=right).numpy(),
            torch.bucketize(torch.tensor(vals), torch.tensor(seq), right=right).numpy())
    rows = np.array([[1.0, 2.0, 4.0], [0.0, 5.0, 6.0]])
    np.testing.assert_array_equal(
        tn.searchsorted(_tt(rows, device), _tt(vals, device), side="right").numpy(),
        torch.searchsorted(torch.tensor(rows), torch.tensor(vals), side="right").numpy())
    unsorted, sorter = np.array([5.0, 1.0, 3.0]), np.array([1, 2, 0])
    np.testing.assert_array_equal(
        tn.searchsorted(_tt(unsorted, device), _tt(vals, device)[0], sorter=_tt(sorter, device)).numpy(),
        torch.searchsorted(torch.tensor(unsorted), torch.tensor(vals)[0], sorter=torch.tensor(sorter)).numpy())
    assert tn.searchsorted(_tt(seq, device), 3.0).item() == torch.searchsorted(torch.tensor(seq), 3.0).item()
    a = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    for dim in (None, 0, 1, (0, 1)):
        np.testing.assert_array_equal(tn.count_nonzero(_tt(a, device), dim=dim).numpy(),
                                      torch.count_nonzero(torch.tensor(a), dim=dim).numpy())


def test_mode_with_repeated_mode_value_matches_torch_values_and_points_at_it(device):
    """With the mode value at several places PyTorch returns one of them (its sort is not
    stable); tinynet returns the last. Values agree; both indices hold the value."""
    x = tn.tensor(TIES, dtype=tn.float64, device=device)
    got, want = x.mode(1), torch.tensor(TIES).mode(1)
    np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(TIES[np.arange(3), got.indices.numpy()], want.values.numpy())
    assert got.indices.tolist() == [4, 5, 3]  # the last position of the mode value


def test_kthvalue_with_ties_matches_torch_values_and_points_at_it(device):
    """Among equal k-th values PyTorch returns one of their positions (its selection is not
    stable); tinynet returns the one the stable sorted order puts k-th. Values agree."""
    x = tn.tensor(TIES, dtype=tn.float64, device=device)
    for k in range(1, 7):
        got, want = x.kthvalue(k, 1), torch.tensor(TIES).kthvalue(k, 1)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(TIES[np.arange(3), got.indices.numpy()], want.values.numpy())
        stable = np.argsort(TIES, axis=1, kind="stable")[:, k - 1]
        np.testing.assert_array_equal(got.indices.numpy(), stable)
