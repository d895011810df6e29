"""tinynet.privacy: per-sample gradients, DP-SGD optimizer, RDP accountant (vs dp_accounting), errors, end-to-end."""
import copy
import itertools
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.data import DataLoader, TensorDataset
from tinynet.privacy import (DEFAULT_ALPHAS, DPOptimizer, GradSampleModule, PrivacyEngine, RDPAccountant,
                             UniformWithReplacementSampler, clip_per_sample_gradients, compute_rdp,
                             get_privacy_spent)

F64 = tn.float64


def _weighted_loss(out, r):
    """Per sample: sum(out * r); batch: mean over samples (a 'mean' loss reduction)."""
    n = out.shape[0]
    return (out * r).reshape(n, -1).sum(axis=1).mean()


def _loop_grads(model, x, r):
    """Reference: each sample's gradient from its own forward/backward (one sample at a time)."""
    ref = {name: [] for name, p in model.named_parameters() if p.requires_grad}
    for i in range(x.shape[0]):
        model.zero_grad()
        _weighted_loss(model(x[i:i + 1]), r[i:i + 1]).backward()
        for name, p in model.named_parameters():
            if p.requires_grad:
                ref[name].append(p.grad.numpy())
    return {k: np.stack(v) for k, v in ref.items()}


def _check_per_sample(model, x):
    tn.manual_seed(1)
    model = model.to(F64)
    with tn.no_grad():
        out_shape = model(x).shape
    r = tn.randn(*out_shape, dtype=F64)
    ref = _loop_grads(model, x, r)
    gsm = GradSampleModule(model)
    gsm.zero_grad()
    _weighted_loss(gsm(x), r).backward()
    checked = 0
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        assert p.grad_sample.shape == (x.shape[0],) + tuple(p.shape), name
        np.testing.assert_allclose(p.grad_sample.numpy(), ref[name], rtol=1e-9, atol=1e-11, err_msg=name)
        # the per-sample gradients average to the ordinary (mean-loss) gradient
        np.testing.assert_allclose(p.grad_sample.numpy().mean(axis=0), p.grad.numpy(), rtol=1e-9, atol=1e-11)
        checked += 1
    assert checked == len(ref) > 0
    gsm.remove_hooks()


def test_linear_2d_and_3d():
    tn.manual_seed(0)
    _check_per_sample(nn.Linear(4, 3), tn.randn(5, 4, dtype=F64))
    _check_per_sample(nn.Linear(4, 3), tn.randn(5, 6, 4, dtype=F64))      # (N, T, in): sum over T
    _check_per_sample(nn.Linear(4, 3, bias=False), tn.randn(3, 2, 2, 4, dtype=F64))


@pytest.mark.parametrize("kwargs", [dict(stride=1, padding=0), dict(stride=2, padding=1),
                                    dict(stride=(2, 1), padding=(0, 2), dilation=2),
                                    dict(padding="same", kernel_size=2), dict(groups=2, padding=1, bias=False)])
def test_conv2d(kwargs):
    tn.manual_seed(0)
    kwargs = dict(kwargs)
    k = kwargs.pop("kernel_size", 3)
    _check_per_sample(nn.Conv2d(4, 6, k, **kwargs), tn.randn(3, 4, 7, 6, dtype=F64))


def test_embedding_repeated_ids_and_padding_idx():
    tn.manual_seed(0)
    ids = tn.tensor([[1, 2, 1, 0], [3, 3, 3, 4], [0, 0, 2, 1]])
    _check_per_sample(nn.Embedding(6, 3), ids)
    emb = nn.Embedding(6, 3, padding_idx=0)
    _check_per_sample(emb, ids)
    assert isinstance(emb.weight.grad_sample, tn.Tensor) and np.all(emb.weight.grad_sample.numpy()[:, 0] == 0)
    # a large table takes the scatter (add.at) path instead of the one-hot product
    big = tn.tensor([[5, 19999, 5], [0, 7, 7], [123, 123, 123], [19999, 1, 2]])
    _check_per_sample(nn.Embedding(20000, 2), big.reshape(4, 3, 1).expand(4, 3, 4).reshape(4, 12))


def test_layer_norm():
    tn.manual_seed(0)
    x = tn.randn(4, 5, 6, dtype=F64) * 3 + 1
    _check_per_sample(nn.LayerNorm(6), x)
    _check_per_sample(nn.LayerNorm((5, 6)), x)
    _check_per_sample(nn.LayerNorm(6), tn.randn(4, 6, dtype=F64))


def test_small_mlp_and_cnn_and_frozen_layers():
    tn.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.LayerNorm(8), nn.Linear(8, 3))
    _check_per_sample(mlp, tn.randn(6, 5, dtype=F64))
    cnn = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 4, 3, stride=2),
                        nn.Flatten(), nn.Linear(4, 2))
    _check_per_sample(cnn, tn.randn(4, 1, 6, 6, dtype=F64))
    # a frozen layer (even an unsupported kind) is simply skipped
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    for p in model[1].parameters():
        p.requires_grad_(False)
    model.eval()
    _check_per_sample(model, tn.randn(5, 3, dtype=F64))
    assert model[1].weight.grad_sample is None


def test_sum_reduction_and_accumulation_and_zero_grad():
    tn.manual_seed(0)
    lin = nn.Linear(3, 2).to(F64)
    x = tn.randn(4, 3, dtype=F64)
    gsm = GradSampleModule(lin, loss_reduction="sum")
    gsm(x).sum().backward()
    first = lin.weight.grad_sample.numpy().copy()
    np.testing.assert_allclose(first, np.broadcast_to(x.numpy()[:, None, :], (4, 2, 3)))   # d(sum y)/dW_oi = x_i
    gsm(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad_sample.numpy(), 2 * first)
    gsm.zero_grad()
    assert lin.weight.grad_sample is None and lin.weight.grad is None
    with tn.no_grad():
        gsm(x)
    assert lin.weight.grad_sample is None


# --- clipping and the DP step -------------------------------------------------------------

def _model_and_batch(n=8):
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).to(F64)
    x = tn.randn(n, 4, dtype=F64)
    y = tn.randint(0, 3, (n,))
    return model, x, y


def test_clipping_bounds_every_sample_norm():
    model, x, y = _model_and_batch()
    gsm = GradSampleModule(model)
    F.cross_entropy(gsm(x), y).backward()
    gs = [p.grad_sample.numpy() for p in model.parameters()]
    norms = np.sqrt(sum((g.reshape(8, -1) ** 2).sum(1) for g in gs))
    c = float(np.median(norms))
    clipped, before = clip_per_sample_gradients(gs, c, np)
    np.testing.assert_allclose(before, norms)
    after = np.sqrt(sum((g.reshape(8, -1) ** 2).sum(1) for g in clipped))
    assert np.all(after <= c * (1 + 1e-9))
    small = norms < c
    assert small.any() and (~small).any()
    np.testing.assert_allclose(after[small], norms[small])          # below C: untouched
    np.testing.assert_allclose(after[~small], c, rtol=1e-5)         # above C: scaled onto the sphere
    # the optimizer writes exactly (sum of clipped) / B when there is no noise
    opt = DPOptimizer(optim.SGD(model.parameters(), lr=0.0), noise_multiplier=0.0, max_grad_norm=c,
                      expected_batch_size=8)
    opt.step()
    for p, cg in zip(model.parameters(), clipped):
        np.testing.assert_allclose(p.grad.numpy(), cg.sum(0) / 8, rtol=1e-12)


def test_no_noise_huge_clip_equals_sgd_on_mean_gradient():
    model, x, y = _model_and_batch()
    ref = copy.deepcopy(model)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1)
    F.cross_entropy(ref(x), y).backward()
    ref_opt.step()
    gsm = GradSampleModule(model)
    opt = DPOptimizer(optim.SGD(model.parameters(), lr=0.1), noise_multiplier=0.0, max_grad_norm=1e6,
                      expected_batch_size=8)
    opt.zero_grad()
    F.cross_entropy(gsm(x), y).backward()
    opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)
    opt.zero_grad()
    assert all(p.grad_sample is None for p in model.parameters())


def test_noise_std_and_reproducibility():
    lin = nn.Linear(100, 100, bias=False).to(F64)
    sigma, c, b = 1.5, 2.0, 16

    def noisy_grad(seed):
        opt = DPOptimizer(optim.SGD(lin.parameters(), lr=0.0), noise_multiplier=sigma, max_grad_norm=c,
                          expected_batch_size=b, generator=tn.Generator().manual_seed(seed))
        lin.weight.grad_sample = tn.zeros(b, 100, 100, dtype=lin.weight.dtype)
        opt.step()
        return lin.weight.grad.numpy().copy()

    g = noisy_grad(0)
    assert abs(g.std() / (sigma * c / b) - 1) < 0.05
    assert abs(g.mean()) < 5 * sigma * c / b / 100
    np.testing.assert_array_equal(g, noisy_grad(0))
    assert not np.array_equal(g, noisy_grad(1))


# --- accountant -----------------------------------------------------------------------------

def test_accountant_matches_dp_accounting_grid():
    dpa = pytest.importorskip("dp_accounting")
    from dp_accounting.rdp import RdpAccountant
    for sigma, q, steps in itertools.product([0.5, 1, 2, 5], [0.001, 0.01, 0.1, 1.0], [1, 100, 10000]):
        acc = RDPAccountant()
        acc.history = [(sigma, q, steps)]
        ref = RdpAccountant(orders=DEFAULT_ALPHAS)
        ref.compose(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), steps)
        want = ref.get_epsilon(1e-5)
        got = acc.get_epsilon(1e-5)
        assert got == pytest.approx(want, rel=1e-2), (sigma, q, steps)


def test_accountant_steps_history_and_closed_forms():
    acc = RDPAccountant()
    for _ in range(3):
        acc.step(noise_multiplier=1.0, sample_rate=0.01)
    acc.step(noise_multiplier=2.0, sample_rate=0.01)
    assert acc.history == [(1.0, 0.01, 3), (2.0, 0.01, 1)] and len(acc) == 4
    # RDP composes additively
    a = RDPAccountant()
    a.history = [(1.0, 0.01, 3)]
    b = RDPAccountant()
    b.history = [(2.0, 0.01, 1)]
    combined = [x + y for x, y in zip(compute_rdp(1.0, 0.01, 3), compute_rdp(2.0, 0.01, 1))]
    assert acc.get_epsilon(1e-5) == pytest.approx(get_privacy_spent(DEFAULT_ALPHAS, combined, 1e-5)[0])
    # full batch: the Gaussian mechanism, rho(alpha) = alpha / (2 sigma^2)
    assert compute_rdp(2.0, 1.0, 5, orders=[3, 7.5]) == pytest.approx([5 * 3 / 8, 5 * 7.5 / 8])
    # small-q integer order 2: A_2 = (1-q)^2 + 2q(1-q) + q^2 e^{1/sigma^2}, so rho = log(1 + q^2 (e^{1/s^2} - 1))
    q, s = 0.05, 1.3
    assert compute_rdp(s, q, 1, orders=[2])[0] == pytest.approx(math.log1p(q * q * math.expm1(1 / s ** 2)))
    # the improved conversion, by hand, for one order
    eps, order = get_privacy_spent([4.0], [0.5], 1e-5)
    assert order == 4.0 and eps == pytest.approx(0.5 + math.log1p(-1 / 4) - math.log(4e-5) / 3)
    assert compute_rdp(0.0, 0.1, 1, orders=[2])[0] == math.inf
    assert compute_rdp(1.0, 0.0, 10, orders=[2])[0] == 0.0
    # more steps or less noise cost more privacy
    e1 = RDPAccountant()
    e1.history = [(1.0, 0.01, 100)]
    e2 = RDPAccountant()
    e2.history = [(1.0, 0.01, 1000)]
    assert 0 < e1.get_epsilon(1e-5) < e2.get_epsilon(1e-5)


# --- errors ---------------------------------------------------------------------------------

def test_errors():
    with pytest.raises(TypeError, match="BatchNorm1d"):
        GradSampleModule(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    with pytest.raises(TypeError, match="nn.Module"):
        GradSampleModule(lambda x: x)
    with pytest.raises(ValueError, match="loss_reduction"):
        GradSampleModule(nn.Linear(2, 2), loss_reduction="none")
    lin = nn.Linear(2, 2)
    base = optim.SGD(lin.parameters(), lr=0.1)
    for kw, err, msg in [(dict(noise_multiplier=-1.0), ValueError, "noise_multiplier"),
                         (dict(noise_multiplier=float("nan")), ValueError, "noise_multiplier"),
                         (dict(max_grad_norm=0.0), ValueError, "max_grad_norm"),
                         (dict(max_grad_norm=-2.0), ValueError, "max_grad_norm"),
                         (dict(max_grad_norm="1"), TypeError, "max_grad_norm"),
                         (dict(expected_batch_size=0), ValueError, "expected_batch_size")]:
        args = dict(noise_multiplier=1.0, max_grad_norm=1.0, expected_batch_size=4)
        args.update(kw)
        with pytest.raises(err, match=msg):
            DPOptimizer(base, **args)
    opt = DPOptimizer(base, noise_multiplier=1.0, max_grad_norm=1.0, expected_batch_size=4)
    lin(tn.randn(4, 2)).sum().backward()            # not wrapped: no per-sample gradients
    with pytest.raises(RuntimeError, match="GradSampleModule"):
        opt.step()
    acc = RDPAccountant()
    acc.step(noise_multiplier=1.0, sample_rate=0.1)
    for delta in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match="delta"):
            acc.get_epsilon(delta)
    with pytest.raises(ValueError, match="sample_rate"):
        acc.step(noise_multiplier=1.0, sample_rate=1.5)
    with pytest.raises(ValueError, match="noise_multiplier"):
        acc.step(noise_multiplier=-0.5, sample_rate=0.1)
    with pytest.raises(TypeError, match="Conv2d"):
        GradSampleModule(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"))(tn.randn(1, 1, 4, 4)).sum().backward()


# --- end to end -------------------------------------------------------------------------------

def test_poisson_sampler():
    s = UniformWithReplacementSampler(num_samples=200, sample_rate=0.05, steps=400,
                                      generator=tn.Generator().manual_seed(0))
    batches = list(s)
    assert len(batches) == len(s) == 400 and s.expected_batch_size == 10
    counts = np.zeros(200)
    for b in batches:
        assert b == sorted(set(b)) and all(0 <= i < 200 for i in b)
        counts[b] += 1
    sizes = np.array([len(b) for b in batches])
    assert abs(sizes.mean() - 10) < 0.6 and sizes.std() > 2          # Binomial(200, 0.05): mean 10, std ~3.1
    assert abs(counts.mean() / 400 - 0.05) < 0.005
    again = UniformWithReplacementSampler(num_samples=200, sample_rate=0.05, steps=400,
                                          generator=tn.Generator().manual_seed(0))
    assert list(again) == batches
    assert len(UniformWithReplacementSampler(num_samples=10, sample_rate=0.25)) == 4
    for kw in (dict(num_samples=0, sample_rate=0.1), dict(num_samples=10, sample_rate=0.0),
               dict(num_samples=10, sample_rate=1.5), dict(num_samples=10, sample_rate=0.1, steps=0)):
        with pytest.raises(ValueError):
            UniformWithReplacementSampler(**kw)


def test_empty_poisson_batch_is_a_noise_only_step():
    ds = TensorDataset(tn.randn(6, 30, dtype=F64), tn.randint(0, 2, (6,)))
    loader = DataLoader(ds, batch_sampler=[[]])
    lin = nn.Linear(30, 40).to(F64)
    gsm = GradSampleModule(lin)
    opt = DPOptimizer(optim.SGD(lin.parameters(), lr=0.0), noise_multiplier=2.0, max_grad_norm=1.0,
                      expected_batch_size=4, generator=tn.Generator().manual_seed(3))
    for xb, yb in loader:
        assert xb.shape == (0, 30)
        opt.zero_grad()
        F.cross_entropy(gsm(xb), yb, reduction="sum").backward()
        opt.step()
    assert lin.weight.grad_sample.shape == (0, 40, 30)
    g = np.concatenate([lin.weight.grad.numpy().ravel(), lin.bias.grad.numpy()])
    assert abs(g.std() / (2.0 * 1.0 / 4) - 1) < 0.1


@pytest.mark.parametrize("poisson_sampling", [True, False])
def test_dp_sgd_end_to_end_learns_and_reports_epsilon(poisson_sampling):
    rng = np.random.default_rng(0)
    n = 512
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    ds = TensorDataset(tn.tensor(x.astype(np.float32)), tn.tensor(y))
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.5)
    loader = DataLoader(ds, batch_size=64, shuffle=True, seed=0)
    engine = PrivacyEngine()
    model, opt, loader = engine.make_private(module=model, optimizer=opt, data_loader=loader,
                                             noise_multiplier=1.0, max_grad_norm=1.0,
                                             poisson_sampling=poisson_sampling,
                                             generator=tn.Generator().manual_seed(0))
    assert isinstance(model, GradSampleModule) and isinstance(opt, DPOptimizer)
    assert len(loader) == n // 64
    if poisson_sampling:
        sizes = [len(xb) for xb, _ in loader]
        assert len(set(sizes)) > 1 and abs(np.mean(sizes) - 64) < 16      # random sizes around N q = 64
    for _ in range(4):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    with tn.no_grad():
        acc = (model(tn.tensor(x.astype(np.float32))).numpy().argmax(1) == y).mean()
    assert acc > 0.85
    steps = 4 * (n // 64)
    assert engine.accountant.history == [(1.0, 64 / n, steps)]
    eps = engine.get_epsilon(1e-5)
    ref = RDPAccountant()
    ref.history = [(1.0, 64 / n, steps)]
    assert eps == pytest.approx(ref.get_epsilon(1e-5))
    assert 0 < eps < 50
