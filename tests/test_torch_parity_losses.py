"""Parity with PyTorch (float64, forward and gradients) for every activation and loss.

Skipped when torch is not installed (CI installs torch==2.13.0, so these run there).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinynet as tn
import tinynet.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _pair(a, requires_grad=True):
    """The same float64 data as a tinynet tensor and a torch tensor."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return (tn.tensor(a, dtype=tn.float64, requires_grad=requires_grad),
                torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad))
    return tn.tensor(a), torch.tensor(a)


def _check(ours, theirs, inputs, seed=0, rtol=1e-10, atol=1e-12):
    """Compare outputs, then gradients for a random output weighting."""
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(seed).standard_normal(tuple(theirs.shape))
    (ours * tn.tensor(w, dtype=tn.float64)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    for a, b in inputs:
        if b.requires_grad:
            assert a.grad is not None, "tinynet gave no gradient where torch did"
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


def _x(*shape, seed=0, scale=2.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


ACTIVATIONS = {
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "relu": (F.relu, TF.relu),
    "tanh": (F.tanh, torch.tanh),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, negative_slope=0.2), lambda x: TF.leaky_relu(x, negative_slope=0.2)),
    "gelu": (F.gelu, TF.gelu),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, TF.silu),
    "softplus": (F.softplus, TF.softplus),
    "softplus_beta": (lambda x: F.softplus(x, beta=3.0, threshold=4.0), lambda x: TF.softplus(x, beta=3.0, threshold=4.0)),
    "elu": (lambda x: F.elu(x, alpha=0.5), lambda x: TF.elu(x, alpha=0.5)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: TF.hardtanh(x, -0.5, 1.5)),
    "erf": (F.erf, torch.erf),
    "softmax_last": (lambda x: F.softmax(x, dim=-1), lambda x: TF.softmax(x, dim=-1)),
    "softmax_dim1": (lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1)),
    "softmax_dim0": (lambda x: x.softmax(0), lambda x: x.softmax(0)),
    "log_softmax_last": (lambda x: F.log_softmax(x, dim=-1), lambda x: TF.log_softmax(x, dim=-1)),
    "log_softmax_dim1": (lambda x: x.log_softmax(1), lambda x: x.log_softmax(1)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(4, 5), (2, 20, 3)])
def test_activation_parity(name, shape):
    ours_fn, torch_fn = ACTIVATIONS[name]
    a, b = _pair(_x(*shape))
    _check(ours_fn(a), torch_fn(b), [(a, b)])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "gelu", "gelu_tanh", "softplus", "elu", "silu", "erf",
                                  "softmax_dim1", "log_softmax_last"])
def test_activation_second_derivative_parity(name):
    ours_fn, torch_fn = ACTIVATIONS[name]
    a, b = _pair(_x(3, 4, seed=1))
    w = np.random.default_rng(5).standard_normal((3, 4))
    (ga,) = [tn.autograd.grad((ours_fn(a) * tn.tensor(w, dtype=tn.float64)).sum(), a, create_graph=True)]
    (gb,) = torch.autograd.grad((torch_fn(b) * torch.tensor(w)).sum(), b, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gb.detach().numpy(), rtol=1e-10, atol=1e-12)
    (ga * ga).sum().backward()
    (gb * gb).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_and_l1_parity(reduction):
    a, b = _pair(_x(3, 4))
    c, d = _pair(_x(3, 4, seed=1))
    _check(F.mse_loss(a, c, reduction=reduction), TF.mse_loss(b, d, reduction=reduction), [(a, b), (c, d)])
    a, b = _pair(_x(3, 4))
    c, d = _pair(_x(3, 4, seed=1))
    _check(F.l1_loss(a, c, reduction=reduction), TF.l1_loss(b, d, reduction=reduction), [(a, b), (c, d)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_parity(reduction, weighted):
    rng = np.random.default_rng(0)
    p, pt = _pair(rng.uniform(0.02, 0.98, (3, 4)))
    t, tt = _pair(rng.uniform(0, 1, (3, 4)))
    w = rng.uniform(0.5, 2, 4)
    kw = dict(weight=tn.tensor(w, dtype=tn.float64)) if weighted else {}
    tkw = dict(weight=torch.tensor(w)) if weighted else {}
    _check(F.binary_cross_entropy(p, t, reduction=reduction, **kw),
           TF.binary_cross_entropy(pt, tt, reduction=reduction, **tkw), [(p, pt), (t, tt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True])
def test_bce_with_logits_parity(reduction, pos_weight):
    rng = np.random.default_rng(0)
    z, zt = _pair(rng.standard_normal((3, 4)) * 4)
    t, tt = _pair(rng.uniform(0, 1, (3, 4)))
    w = rng.uniform(0.5, 2, (3, 4))
    pw = rng.uniform(0.5, 3, 4)
    kw = dict(weight=tn.tensor(w, dtype=tn.float64))
    tkw = dict(weight=torch.tensor(w))
    if pos_weight:
        kw["pos_weight"] = tn.tensor(pw, dtype=tn.float64)
        tkw["pos_weight"] = torch.tensor(pw)
    _check(F.binary_cross_entropy_with_logits(z, t, reduction=reduction, **kw),
           TF.binary_cross_entropy_with_logits(zt, tt, reduction=reduction, **tkw), [(z, zt), (t, tt)])


def _targets(shape, C, ignore=0, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, C, size=shape)
    if ignore:
        flat = t.reshape(-1)
        flat[rng.choice(flat.size, ignore, replace=False)] = -100
    return t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (6, 20), (3, 4, 2, 2), (5,)])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_parity(reduction, shape, smoothing, weighted):
    C = shape[1] if len(shape) > 1 else shape[0]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    x, xt = _pair(_x(*shape))
    t = _targets(tshape, C, ignore=1 if tshape and np.prod(tshape) > 2 else 0)
    w = np.random.default_rng(3).uniform(0.5, 2, C)
    kw = dict(weight=tn.tensor(w, dtype=tn.float64)) if weighted else {}
    tkw = dict(weight=torch.tensor(w)) if weighted else {}
    ours = F.cross_entropy(x, tn.tensor(t), reduction=reduction, label_smoothing=smoothing, **kw)
    theirs = TF.cross_entropy(xt, torch.tensor(t), reduction=reduction, label_smoothing=smoothing, **tkw)
    _check(ours, theirs, [(x, xt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets_parity(reduction, smoothing, weighted):
    x, xt = _pair(_x(4, 3, 2))
    q = np.random.default_rng(1).uniform(0, 1, (4, 3, 2))
    q /= q.sum(1, keepdims=True)
    qa, qt = _pair(q)
    w = np.array([0.5, 1.0, 2.0])
    kw = dict(weight=tn.tensor(w, dtype=tn.float64)) if weighted else {}
    tkw = dict(weight=torch.tensor(w)) if weighted else {}
    _check(F.cross_entropy(x, qa, reduction=reduction, label_smoothing=smoothing, **kw),
           TF.cross_entropy(xt, qt, reduction=reduction, label_smoothing=smoothing, **tkw), [(x, xt), (qa, qt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2), (4,)])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_parity(reduction, shape, weighted):
    C = shape[1] if len(shape) > 1 else shape[0]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    x, xt = _pair(_x(*shape))
    t = _targets(tshape, C, ignore=1 if tshape else 0)
    w = np.random.default_rng(3).uniform(0.5, 2, C)
    kw = dict(weight=tn.tensor(w, dtype=tn.float64)) if weighted else {}
    tkw = dict(weight=torch.tensor(w)) if weighted else {}
    _check(F.nll_loss(x, tn.tensor(t), reduction=reduction, **kw),
           TF.nll_loss(xt, torch.tensor(t), reduction=reduction, **tkw), [(x, xt)])


def test_cross_entropy_ignore_index_custom_and_all_ignored():
    x, xt = _pair(_x(4, 3))
    t = np.array([1, 7, 2, 7])
    _check(F.cross_entropy(x, tn.tensor(t), ignore_index=7), TF.cross_entropy(xt, torch.tensor(t), ignore_index=7),
           [(x, xt)])
    # Every target ignored: the mean is 0/0 = nan in both.
    allign = np.array([-100, -100, -100, -100])
    ours = F.cross_entropy(tn.tensor(_x(4, 3)), tn.tensor(allign)).item()
    theirs = TF.cross_entropy(torch.tensor(_x(4, 3)), torch.tensor(allign)).item()
    assert np.isnan(ours) and np.isnan(theirs)
    assert F.cross_entropy(tn.tensor(_x(4, 3)), tn.tensor(allign), reduction="sum").item() == 0.0


def test_cross_entropy_second_derivative_parity():
    x, xt = _pair(_x(5, 4))
    t = _targets(5, 4, ignore=1)
    (ga,) = [tn.autograd.grad(F.cross_entropy(x, tn.tensor(t), label_smoothing=0.1), x, create_graph=True)]
    (gb,) = torch.autograd.grad(TF.cross_entropy(xt, torch.tensor(t), label_smoothing=0.1), xt, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gb.detach().numpy(), rtol=1e-10, atol=1e-12)
    (ga ** 3).sum().backward()
    (gb ** 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


@given(n=st.integers(1, 7), c=st.integers(1, 24), d=st.integers(0, 3), reduction=st.sampled_from(REDUCTIONS),
       smoothing=st.sampled_from([0.0, 0.3]))
def test_cross_entropy_parity_hypothesis(n, c, d, reduction, smoothing):
    shape = (n, c) + ((d,) if d else ())
    tshape = (n,) + ((d,) if d else ())
    x, xt = _pair(_x(*shape, seed=n * 100 + c))
    t = _targets(tshape, c, seed=d)
    _check(F.cross_entropy(x, tn.tensor(t), reduction=reduction, label_smoothing=smoothing),
           TF.cross_entropy(xt, torch.tensor(t), reduction=reduction, label_smoothing=smoothing), [(x, xt)])


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), dim=st.integers(-1, 2),
       log=st.booleans(), transpose=st.booleans())
def test_softmax_parity_hypothesis(shape, dim, log, transpose):
    dim = dim % len(shape)
    data = _x(*shape, seed=sum(shape))
    a, b = _pair(data)
    if transpose and len(shape) > 1:  # a non-contiguous input
        a, b = a.transpose(0, -1), b.transpose(0, -1)
    fa, fb = (F.log_softmax, TF.log_softmax) if log else (F.softmax, TF.softmax)
    out_a, out_b = fa(a, dim=dim), fb(b, dim=dim)
    np.testing.assert_allclose(out_a.detach().numpy(), out_b.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(0).standard_normal(tuple(out_b.shape))
    ga = tn.autograd.grad((out_a * tn.tensor(w, dtype=tn.float64)).sum(), a)
    gb = torch.autograd.grad((out_b * torch.tensor(w)).sum(), b)[0]
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-10, atol=1e-12)


@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), reduction=st.sampled_from(REDUCTIONS))
def test_bce_with_logits_parity_hypothesis(shape, reduction):
    rng = np.random.default_rng(len(shape))
    z, zt = _pair(rng.standard_normal(shape) * 5)
    t, tt = _pair(rng.uniform(0, 1, shape))
    _check(F.binary_cross_entropy_with_logits(z, t, reduction=reduction),
           TF.binary_cross_entropy_with_logits(zt, tt, reduction=reduction), [(z, zt), (t, tt)])
