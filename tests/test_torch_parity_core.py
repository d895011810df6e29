"""Parity with PyTorch (float64): forward values and gradients of the core ops.

Each case runs the same function on tinynet tensors and on torch tensors made from the same
data, then backpropagates the same random weighting of the output, and compares both.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import tinynet as tn  # noqa: E402


def _check(tn_fn, torch_fn, *arrays, device="cpu", grad=True, atol=1e-10, seed=0):
    rng = np.random.default_rng(seed)
    ts = [tn.tensor(a, dtype=tn.float64, device=device, requires_grad=grad) for a in arrays]
    ps = [torch.tensor(a, dtype=torch.float64, requires_grad=grad) for a in arrays]
    out_t, out_p = tn_fn(*ts), torch_fn(*ps)
    outs_t = list(out_t) if isinstance(out_t, (tuple, list)) else [out_t]
    outs_p = list(out_p) if isinstance(out_p, (tuple, list)) else [out_p]
    assert len(outs_t) == len(outs_p)
    for a, b in zip(outs_t, outs_p):
        assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-10)
    if not grad:
        return
    ws = [rng.standard_normal(tuple(o.shape)) for o in outs_p]
    sum((o * tn.tensor(w, dtype=tn.float64, device=device)).sum() for o, w in zip(outs_t, ws)).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(outs_p, ws)).backward()
    for t, p in zip(ts, ps):
        gt = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
        gp = p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape))
        np.testing.assert_allclose(gt, gp, atol=atol, rtol=1e-9)


def _rand(*shape, seed=1, low=None, high=None):
    rng = np.random.default_rng(seed + len(shape) * 7 + sum(shape))
    if low is not None:
        return rng.uniform(low, high, shape)
    return rng.standard_normal(shape)


# --- elementwise ----------------------------------------------------------------------------------
ELEMENTWISE = [
    ("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, ((3, 1, 4), (2, 1))),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, ((2, 3), (3,))),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, ((4, 1), (1, 5))),
    ("div", lambda a, b: a / (b * b + 0.5), lambda a, b: a / (b * b + 0.5), ((2, 3), (2, 3))),
    ("pow_tensor", lambda a, b: (a * a + 0.1) ** b, lambda a, b: (a * a + 0.1) ** b, ((3, 2), (2,))),
    ("pow_scalar", lambda a: a ** 3 - 2.0 ** a, lambda a: a ** 3 - 2.0 ** a, ((5,),)),
    ("exp_log_sqrt", lambda a: tn.exp(a) + tn.log(a * a + 1) * tn.sqrt(a * a + 2),
     lambda a: torch.exp(a) + torch.log(a * a + 1) * torch.sqrt(a * a + 2), ((3, 3),)),
    ("abs_neg", lambda a: abs(-a) * a, lambda a: torch.abs(-a) * a, ((6,),)),
    ("clip", lambda a: tn.clip(a, -0.5, 0.7), lambda a: torch.clamp(a, -0.5, 0.7), ((4, 4),)),
    ("maximum_minimum", lambda a, b: tn.maximum(a, b) - tn.minimum(a, 0.2 * b),
     lambda a, b: torch.maximum(a, b) - torch.minimum(a, 0.2 * b), ((3, 4), (4,))),
    ("where", lambda a, b: tn.where(a > b, a * 2, b), lambda a, b: torch.where(a > b, a * 2, b), ((3, 4), (3, 4))),
]


@pytest.mark.parametrize("name,f_tn,f_torch,shapes", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_elementwise_parity(name, f_tn, f_torch, shapes, device):
    _check(f_tn, f_torch, *[_rand(*s, seed=i) for i, s in enumerate(shapes)], device=device)


# --- matmul ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4,)),
                                   ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((0, 3), (3, 2)), ((2, 0), (0, 3))])
def test_matmul_parity(sa, sb, device):
    _check(lambda a, b: a @ b, lambda a, b: a @ b, _rand(*sa), _rand(*sb, seed=5), device=device)


# --- reductions -------------------------------------------------------------------------------------
REDUCTIONS = [
    ("sum_all", lambda a: a.sum(), lambda a: a.sum()),
    ("sum_dims_keep", lambda a: a.sum(dim=(0, 2), keepdim=True), lambda a: a.sum(dim=(0, 2), keepdim=True)),
    ("mean_dim", lambda a: a.mean(dim=1), lambda a: a.mean(dim=1)),
    ("amax_dims", lambda a: a.amax(dim=(1, 2)), lambda a: a.amax(dim=(1, 2))),
    ("max_dim_values", lambda a: a.max(dim=-1).values, lambda a: a.max(dim=-1).values),
    ("min_all", lambda a: a.min(), lambda a: a.min()),
    ("amin_keep", lambda a: tn.amin(a, 0, keepdims=True), lambda a: torch.amin(a, 0, keepdim=True)),
    ("var_default", lambda a: a.var(), lambda a: a.var()),
    ("var_dim_correction0", lambda a: a.var(dim=1, correction=0), lambda a: a.var(dim=1, correction=0)),
    ("std_dims_unbiased", lambda a: a.std(dim=(0, 2), unbiased=True, keepdim=True),
     lambda a: a.std(dim=(0, 2), unbiased=True, keepdim=True)),
    ("logsumexp_dim", lambda a: tn.logsumexp(a, dim=2), lambda a: torch.logsumexp(a, dim=2)),
    ("logsumexp_dims_keep", lambda a: a.logsumexp(dim=(0, 1), keepdim=True), lambda a: a.logsumexp(dim=(0, 1), keepdim=True)),
    ("prod_dim", lambda a: a.prod(dim=1), lambda a: a.prod(dim=1)),
]


@pytest.mark.parametrize("name,f_tn,f_torch", REDUCTIONS, ids=[c[0] for c in REDUCTIONS])
def test_reduction_parity(name, f_tn, f_torch, device):
    _check(f_tn, f_torch, _rand(2, 3, 4), device=device)


def test_max_ties_share_the_gradient_like_torch_amax(device):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    _check(lambda a: a.amax(dim=1), lambda a: a.amax(dim=1), x, device=device)
    _check(lambda a: a.min(), lambda a: a.amin(), x, device=device)


def test_prod_with_zeros_matches_torch(device):
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.5, -2.0, 0.5]])
    _check(lambda a: a.prod(dim=1), lambda a: a.prod(dim=1), x, device=device)


def test_logsumexp_of_large_values_matches_torch(device):
    x = np.array([[1000.0, 1000.5, -1000.0], [-800.0, -801.0, -799.0]])
    _check(lambda a: tn.logsumexp(a, 1), lambda a: torch.logsumexp(a, 1), x, device=device)


def test_argmax_argmin_match_torch(device):
    x = _rand(3, 4, 5)
    t, p = tn.tensor(x, device=device), torch.tensor(x)
    assert t.argmax().item() == p.argmax().item()
    for d in (0, 1, -1):
        assert t.argmax(dim=d).tolist() == p.argmax(dim=d).tolist()
        assert t.argmin(dim=d, keepdim=True).tolist() == p.argmin(dim=d, keepdim=True).tolist()


# --- indexing ------------------------------------------------------------------------------------------
INDEXING = [
    ("int", lambda a: a[1]),
    ("slices", lambda a: a[1:, ::2]),
    ("negative_index", lambda a: a[-1, :, -2]),
    ("none_ellipsis", lambda a: a[None, ..., 1]),
    ("int_list_repeats", lambda a: a[[0, 2, 0, 0]]),
    ("two_lists", lambda a: a[[0, 1, 1], [2, 0, 2]]),
    ("list_after_slice", lambda a: a[:, [3, 3, 1]]),
]


@pytest.mark.parametrize("name,fn", INDEXING, ids=[c[0] for c in INDEXING])
def test_indexing_parity(name, fn, device):
    _check(fn, fn, _rand(3, 4, 2), device=device)


def test_negative_step_slice_matches_torch_flip(device):
    _check(lambda a: a[::-1, 1::-1], lambda a: torch.flip(a, [0])[:, :2].flip(1), _rand(3, 4), device=device)


def test_tensor_and_bool_mask_indices_match_torch(device):
    x = _rand(4, 3)
    idx = np.array([[3, 0], [0, 0]])
    mask = x[:, 0] > 0
    _check(lambda a: a[tn.tensor(idx, device=device)], lambda a: a[torch.tensor(idx)], x, device=device)
    _check(lambda a: a[tn.tensor(mask, device=device)], lambda a: a[torch.tensor(mask)], x, device=device)
    _check(lambda a: a[a.detach() > 0], lambda a: a[a.detach() > 0], x, device=device)


def test_gather_index_select_masked_fill_match_torch(device):
    x = _rand(3, 4)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    _check(lambda a: tn.gather(a, 1, tn.tensor(idx, device=device)), lambda a: torch.gather(a, 1, torch.tensor(idx)), x,
           device=device)
    sel = np.array([2, 0, 2])
    _check(lambda a: a.index_select(0, tn.tensor(sel, device=device)), lambda a: a.index_select(0, torch.tensor(sel)),
           x, device=device)
    m = np.array([True, False, True, False])
    _check(lambda a: a.masked_fill(tn.tensor(m, device=device), -2.0), lambda a: a.masked_fill(torch.tensor(m), -2.0),
           x, device=device)


# --- join / split / pad ----------------------------------------------------------------------------------
def test_cat_stack_parity(device):
    a, b, c = _rand(2, 3), _rand(2, 1), _rand(2, 4)
    _check(lambda x, y, z: tn.cat([x, y, z], dim=1), lambda x, y, z: torch.cat([x, y, z], dim=1), a, b, c, device=device)
    _check(lambda x, y: tn.stack([x, y], dim=1), lambda x, y: torch.stack([x, y], dim=1), a, a * 2, device=device)
    _check(lambda x, y: tn.stack([x, y], -1), lambda x, y: torch.stack([x, y], -1), a, a + 1, device=device)


def test_split_chunk_parity(device):
    x = _rand(7, 3)
    _check(lambda a: tn.split(a, 3), lambda a: torch.split(a, 3), x, device=device)
    _check(lambda a: a.split([2, 1], dim=1), lambda a: a.split([2, 1], dim=1), x, device=device)
    _check(lambda a: a.chunk(3), lambda a: a.chunk(3), x, device=device)
    _check(lambda a: tn.chunk(a, 4, dim=0), lambda a: torch.chunk(a, 4, dim=0), x, device=device)
    _check(lambda a: tn.chunk(a, 2, dim=1), lambda a: torch.chunk(a, 2, dim=1), x, device=device)


@pytest.mark.parametrize("pad,mode,shape", [
    ((1, 2), "constant", (2, 3)), ((1, 0, 2, 1), "constant", (2, 3, 4)), ((2, 1, 1, 1, 0, 1), "constant", (2, 2, 2)),
    ((2, 1), "reflect", (1, 2, 4)), ((1, 2, 2, 0), "reflect", (1, 2, 3, 4)),
    ((2, 3), "replicate", (1, 2, 3)), ((1, 1, 2, 1), "replicate", (1, 1, 3, 2)),
    ((2, 1), "circular", (1, 2, 3)), ((1, 2, 1, 0), "circular", (1, 1, 3, 3)),
])
def test_pad_parity(pad, mode, shape, device):
    _check(lambda a: tn.pad(a, pad, mode=mode), lambda a: F.pad(a, pad, mode=mode), _rand(*shape), device=device)


def test_pad_value_parity(device):
    _check(lambda a: tn.pad(a, (1, 1), value=-3.0), lambda a: F.pad(a, (1, 1), value=-3.0), _rand(2, 2), device=device)


def test_one_hot_parity(device):
    y = np.array([[0, 3], [2, 2]])
    got = tn.one_hot(tn.tensor(y, device=device), 5)
    want = F.one_hot(torch.tensor(y), 5)
    assert got.dtype == tn.int64 and got.tolist() == want.tolist()
    assert tn.one_hot(tn.tensor(y, device=device)).tolist() == F.one_hot(torch.tensor(y)).tolist()


# --- second order -----------------------------------------------------------------------------------------
def test_second_derivatives_match_torch(device):
    x = _rand(3, 4)
    t = tn.tensor(x, dtype=tn.float64, device=device, requires_grad=True)
    p = torch.tensor(x, requires_grad=True)

    def f(a, lib):
        lse = tn.logsumexp(a, 1) if lib is tn else torch.logsumexp(a, 1)
        return (lse * a.var(dim=1) + (a[:, 1:] ** 3).sum(dim=1)).sum()

    (gt,) = tn.autograd.grad(f(t, tn), [t], create_graph=True)
    (gp,) = torch.autograd.grad(f(p, torch), [p], create_graph=True)
    np.testing.assert_allclose(gt.detach().numpy(), gp.detach().numpy(), rtol=1e-10)
    (ggt,) = tn.autograd.grad((gt * gt).sum(), [t])
    (ggp,) = torch.autograd.grad((gp * gp).sum(), [p])
    np.testing.assert_allclose(ggt.numpy(), ggp.numpy(), rtol=1e-9)
