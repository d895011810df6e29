"""Parity with PyTorch (float64 values and gradients) for the further activations, losses
(every reduction), distances and one_hot.

Skipped when torch is not installed.
"""
import math
import warnings

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def _pair(a, requires_grad=True):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return (tn.tensor(a, dtype=tn.float64, requires_grad=requires_grad),
                torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad))
    return tn.tensor(a), torch.tensor(a)


def _check(ours_fn, torch_fn, arrays, no_grad=(), seed=0, rtol=1e-10, atol=1e-12):
    """Run both on the same float64 data; compare outputs and the gradients of a random
    weighting of the output with respect to every float input."""
    pairs = [_pair(a, requires_grad=i not in no_grad) for i, a in enumerate(arrays)]
    ours = ours_fn(*[p[0] for p in pairs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's kl_div 'mean' warning
        theirs = torch_fn(*[p[1] for p in pairs])
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(seed).standard_normal(tuple(theirs.shape))
    (ours * tn.tensor(w, dtype=tn.float64)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    checked = 0
    for a, b in pairs:
        if b.requires_grad and b.grad is not None:
            assert a.grad is not None, "tinynet gave no gradient where torch did"
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
            checked += 1
    assert checked or not any(b.requires_grad for _, b in pairs)


def _x(*shape, seed=0, scale=2.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# PyTorch computes hardsigmoid's slope 1/6 and celu's 1/alpha as float32 constants even in
# float64, so its gradients differ from the exact ones by up to ~2e-7 relative.
_LOOSE = {"hardsigmoid", "hardsigmoid_inplace", "celu", "celu_inplace", "Hardsigmoid", "CELU"}

ACTIVATIONS = {
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid),
    "hardswish": (F.hardswish, TF.hardswish),
    "relu6": (F.relu6, TF.relu6),
    "selu": (F.selu, TF.selu),
    "celu": (lambda x: F.celu(x, 0.7), lambda x: TF.celu(x, 0.7)),
    "mish": (F.mish, TF.mish),
    "softsign": (F.softsign, TF.softsign),
    "softmin": (lambda x: F.softmin(x, 1), lambda x: TF.softmin(x, 1)),
    "softmin_dim0_dtype": (lambda x: F.softmin(x.float(), dim=0, dtype=tn.float64),
                           lambda x: TF.softmin(x.float(), dim=0, dtype=torch.float64)),
    "softmax_dtype": (lambda x: F.softmax(x.float(), -1, dtype=tn.float64),
                      lambda x: TF.softmax(x.float(), -1, dtype=torch.float64)),
    "log_softmax_dtype": (lambda x: F.log_softmax(x.float(), 1, dtype=tn.float64),
                          lambda x: TF.log_softmax(x.float(), 1, dtype=torch.float64)),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid),
    "glu": (lambda x: F.glu(x, 1), lambda x: TF.glu(x, 1)),
    "glu_default_dim": (lambda x: F.glu(x[..., :2]), lambda x: TF.glu(x[..., :2])),
    "glu_dim_minus2": (lambda x: F.glu(x, -2), lambda x: TF.glu(x, -2)),
    "rrelu_eval": (lambda x: F.rrelu(x, 0.1, 0.3), lambda x: TF.rrelu(x, 0.1, 0.3)),
    "hardshrink": (F.hardshrink, TF.hardshrink),
    "hardshrink_method": (lambda x: x.hardshrink(1.1), lambda x: x.hardshrink(1.1)),
    "softshrink": (lambda x: F.softshrink(x, 0.7), lambda x: TF.softshrink(x, 0.7)),
    "tanhshrink": (F.tanhshrink, TF.tanhshrink),
    "threshold": (lambda x: F.threshold(x, 0.3, -2.0), lambda x: TF.threshold(x, 0.3, -2.0)),
    "elu_alpha": (lambda x: F.elu(x, alpha=0.3), lambda x: TF.elu(x, alpha=0.3)),
    "leaky_relu_slope": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    "hardtanh_bounds": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: TF.hardtanh(x, -0.5, 1.5)),
    "softplus_beta_threshold": (lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(4, 6), (2, 4, 3)])
def test_activation_parity(name, shape):
    ours, theirs = ACTIVATIONS[name]
    rtol = 1e-6 if name in _LOOSE else 1e-10
    _check(ours, theirs, [_x(*shape, scale=3.0)], rtol=rtol)


INPLACE = {  # F.<name>(x, inplace=True) on a non-leaf, and the F.<name>_ forms
    "hardsigmoid_inplace": (lambda x: F.hardsigmoid(x, inplace=True), lambda x: TF.hardsigmoid(x, inplace=True)),
    "hardswish_inplace": (lambda x: F.hardswish(x, inplace=True), lambda x: TF.hardswish(x, inplace=True)),
    "relu6_inplace": (lambda x: F.relu6(x, inplace=True), lambda x: TF.relu6(x, inplace=True)),
    "selu_": (F.selu_, TF.selu_),
    "celu_": (lambda x: F.celu_(x, 0.5), lambda x: TF.celu_(x, 0.5)),
    "mish_inplace": (lambda x: F.mish(x, inplace=True), lambda x: TF.mish(x, inplace=True)),
    "threshold_": (lambda x: F.threshold_(x, 0.2, 9.0), lambda x: TF.threshold_(x, 0.2, 9.0)),
    "rrelu_": (lambda x: F.rrelu_(x, 0.1, 0.5), lambda x: TF.rrelu_(x, 0.1, 0.5)),
    "relu_": (F.relu_, TF.relu_),
    "elu_": (lambda x: F.elu_(x, 0.4), lambda x: TF.elu_(x, 0.4)),
    "leaky_relu_": (lambda x: F.leaky_relu_(x, 0.3), lambda x: TF.leaky_relu_(x, 0.3)),
    "hardtanh_": (lambda x: F.hardtanh_(x, -0.5, 0.5), lambda x: TF.hardtanh_(x, -0.5, 0.5)),
    "relu_method": (lambda x: x.relu_(), lambda x: x.relu_()),
    "sigmoid_method": (lambda x: x.sigmoid_(), lambda x: x.sigmoid_()),
    "tanh_method": (lambda x: x.tanh_(), lambda x: x.tanh_()),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_activation_parity(name):
    ours, theirs = INPLACE[name]
    rtol = 1e-6 if name.startswith(("hardsigmoid", "celu")) else 1e-10

    def run(fn):
        def inner(x):
            h = x * 1  # a non-leaf, so the in-place op records its gradient
            out = fn(h)
            assert out is h
            return out
        return inner

    _check(run(ours), run(theirs), [_x(3, 5, scale=3.0)], rtol=rtol)


def test_rrelu_training_gradient_is_the_drawn_slope():
    x = _x(4, 5, scale=3.0)
    a, _ = _pair(x)
    tn.manual_seed(7)
    y = F.rrelu(a, 0.2, 0.6, training=True)
    y.sum().backward()
    slope = y.detach().numpy() / x
    neg = x < 0
    assert np.all(slope[~neg] == 1) and np.all((slope[neg] >= 0.2) & (slope[neg] <= 0.6))
    assert len(np.unique(slope[neg])) == neg.sum()  # one slope per element
    np.testing.assert_allclose(a.grad.numpy(), slope)
    tn.manual_seed(7)
    np.testing.assert_array_equal(F.rrelu(tn.tensor(x), 0.2, 0.6, training=True).numpy(), y.detach().numpy())


@pytest.mark.parametrize("wshape", [(1,), (3,)])
def test_prelu_parity(wshape):
    w = np.linspace(0.1, 0.5, wshape[0])
    _check(F.prelu, TF.prelu, [_x(2, 3, 4), w])
    _check(lambda x, w: x.prelu(w), lambda x, w: x.prelu(w), [_x(4, 3), w])


def test_nn_prelu_parity():
    ours, theirs = nn.PReLU(3, init=0.1).to(tn.float64), torch.nn.PReLU(3, init=0.1).double()
    x = _x(2, 3, 4)
    a, b = _pair(x)
    ya, yb = ours(a), theirs(b)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-12)
    ya.sum().backward()
    yb.sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


MODULES = [  # (tinynet module, torch module)
    (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
    (nn.ReLU6(), torch.nn.ReLU6()), (nn.SELU(), torch.nn.SELU()), (nn.CELU(0.6), torch.nn.CELU(0.6)),
    (nn.Mish(), torch.nn.Mish()), (nn.Softmin(dim=1), torch.nn.Softmin(dim=1)),
    (nn.LogSigmoid(), torch.nn.LogSigmoid()), (nn.GLU(dim=1), torch.nn.GLU(dim=1)),
    (nn.Hardshrink(0.8), torch.nn.Hardshrink(0.8)), (nn.Softshrink(0.8), torch.nn.Softshrink(0.8)),
    (nn.Tanhshrink(), torch.nn.Tanhshrink()), (nn.Threshold(0.5, -1.0), torch.nn.Threshold(0.5, -1.0)),
    (nn.Hardtanh(-2.0, 0.5), torch.nn.Hardtanh(-2.0, 0.5)),
    (nn.RReLU(0.1, 0.2).eval(), torch.nn.RReLU(0.1, 0.2).eval()),
    (nn.Softmax2d(), torch.nn.Softmax2d()),
]


@pytest.mark.parametrize("pair", MODULES, ids=lambda p: type(p[0]).__name__ if isinstance(p, tuple) else None)
def test_activation_module_parity(pair):
    ours, theirs = pair
    rtol = 1e-6 if type(ours).__name__ in _LOOSE else 1e-10
    _check(ours, theirs, [_x(2, 4, 3, 2, scale=3.0)], rtol=rtol)


# --- losses -----------------------------------------------------------------------------------
def _r(seed=1):
    return np.random.default_rng(seed)


def _probs(*shape, seed=2):
    p = _r(seed).uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def _pm1(*shape, seed=3):
    return np.where(_r(seed).random(shape) < 0.5, -1.0, 1.0)


def _loss_cases():
    x, y = _x(4, 5, seed=10), _x(4, 5, seed=11)
    var = _r(4).uniform(0.1, 2.0, (4, 5))
    counts = _r(5).integers(0, 5, (4, 5)).astype(float)
    labels = (_r(6).random((4, 5)) > 0.5).astype(float)
    w5 = _r(7).uniform(0.5, 2.0, 5)
    classes = np.array([0, 3, 2, 4])
    lists = np.array([[3, 0, -1, 1, 0], [1, 2, 3, 4, 0], [-1, 0, 0, 0, 0], [4, 4, -1, 0, 0]])
    pm = np.array([1, -1, 1, -1])
    return {
        "smooth_l1_loss": ("smooth_l1_loss", {"beta": 0.7}, [x, y], ()),
        "smooth_l1_loss_beta0": ("smooth_l1_loss", {"beta": 0.0}, [x, y], ()),
        "huber_loss": ("huber_loss", {"delta": 0.6}, [x, y], ()),
        "huber_loss_weight": ("huber_loss", {"weight": var}, [x, y], ()),
        "kl_div": ("kl_div", {}, [x, _probs(4, 5)], ()),
        "kl_div_log_target": ("kl_div", {"log_target": True}, [x, np.log(_probs(4, 5))], ()),
        # (count targets: torch's Stirling-term gradient is nan at a zero count, ours is finite)
        "poisson_nll_loss": ("poisson_nll_loss", {}, [x, counts], ()),
        "poisson_nll_loss_rate_full": ("poisson_nll_loss", {"log_input": False, "full": True, "eps": 1e-6},
                                       [var, counts], (1,)),
        "gaussian_nll_loss": ("gaussian_nll_loss", {}, [x, y, var], ()),
        "gaussian_nll_loss_row_var_full": ("gaussian_nll_loss", {"full": True}, [x, y, var[:, 0]], ()),
        "gaussian_nll_loss_col_var_eps": ("gaussian_nll_loss", {"eps": 0.5}, [x, y, var[:, :1]], ()),
        "cosine_embedding_loss": ("cosine_embedding_loss", {"margin": 0.2}, [x, y, pm], ()),
        "margin_ranking_loss": ("margin_ranking_loss", {"margin": 0.3}, [x[0], y[0], _pm1(5)], ()),
        "triplet_margin_loss": ("triplet_margin_loss", {"margin": 2.0}, [x, y, var], ()),
        "triplet_margin_loss_swap_p1": ("triplet_margin_loss", {"margin": 1.5, "p": 1, "swap": True}, [x, y, var], ()),
        "triplet_margin_loss_p3_eps": ("triplet_margin_loss", {"p": 3, "eps": 1e-3}, [x, y, var], ()),
        "hinge_embedding_loss": ("hinge_embedding_loss", {"margin": 0.5}, [x, _pm1(4, 5)], (1,)),
        "soft_margin_loss": ("soft_margin_loss", {}, [x, _pm1(4, 5)], (1,)),
        "multilabel_soft_margin_loss": ("multilabel_soft_margin_loss", {}, [x, labels], ()),
        "multilabel_soft_margin_loss_weight": ("multilabel_soft_margin_loss", {"weight": w5}, [x, labels], ()),
        "multi_margin_loss": ("multi_margin_loss", {}, [x, classes], ()),
        "multi_margin_loss_p2_weight": ("multi_margin_loss", {"p": 2, "margin": 0.7, "weight": w5}, [x, classes], ()),
        "multilabel_margin_loss": ("multilabel_margin_loss", {}, [x, lists], ()),
    }


LOSSES = _loss_cases()


def _kw(kwargs, lib):
    return {k: (lib.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(LOSSES))
def test_loss_parity(case, reduction):
    name, kwargs, arrays, no_grad = LOSSES[case]
    ours = getattr(F, name)
    theirs = getattr(TF, name)
    _check(lambda *a: ours(*a, reduction=reduction, **_kw(kwargs, tn)),
           lambda *a: theirs(*a, reduction=reduction, **_kw(kwargs, torch)), arrays, no_grad=no_grad)


@pytest.mark.parametrize("reduction", ["batchmean", "sum"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_batchmean_and_log_target(reduction, log_target):
    t = _probs(3, 4)
    t = np.log(t) if log_target else t
    _check(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
           lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [_x(3, 4), t])


def test_kl_div_zero_target_gives_zero_loss_term():
    t = _probs(3, 4)
    t[0, 0] = 0.0
    _check(lambda a, b: F.kl_div(a, b, reduction="sum"), lambda a, b: TF.kl_div(a, b, reduction="sum"),
           [_x(3, 4), t], no_grad=(1,))  # (torch's target gradient is nan at 0; ours is finite)


@pytest.mark.parametrize("case", ["multi_margin_loss", "multilabel_margin_loss", "cosine_embedding_loss"])
def test_unbatched_losses(case):
    name, kwargs, arrays, no_grad = LOSSES[case]
    arrays = [a[1] for a in arrays]
    _check(lambda *a: getattr(F, name)(*a, **_kw(kwargs, tn)), lambda *a: getattr(TF, name)(*a, **_kw(kwargs, torch)),
           arrays, no_grad=no_grad)


@pytest.mark.parametrize("legacy", [dict(size_average=False), dict(reduce=False), dict(size_average=True)])
def test_legacy_size_average_and_reduce(legacy):
    _check(lambda a, b: F.smooth_l1_loss(a, b, **legacy), lambda a, b: TF.smooth_l1_loss(a, b, **legacy),
           [_x(3, 4), _x(3, 4, seed=1)])
    _check(lambda a, b: F.kl_div(a, b, **legacy), lambda a, b: TF.kl_div(a, b, **legacy), [_x(3, 4), _probs(3, 4)])


LOSS_MODULES = [  # (tinynet module, torch module, kind of inputs: see test_loss_module_parity)
    (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), 2),
    (nn.HuberLoss(delta=0.5, reduction="sum"), torch.nn.HuberLoss(delta=0.5, reduction="sum"), 2),
    (nn.KLDivLoss(reduction="batchmean", log_target=True),
     torch.nn.KLDivLoss(reduction="batchmean", log_target=True), 2),
    (nn.PoissonNLLLoss(full=True), torch.nn.PoissonNLLLoss(full=True), "counts"),
    (nn.GaussianNLLLoss(full=True), torch.nn.GaussianNLLLoss(full=True), 3),
    (nn.CosineEmbeddingLoss(margin=0.1), torch.nn.CosineEmbeddingLoss(margin=0.1), "pm_rows"),
    (nn.MarginRankingLoss(margin=0.2), torch.nn.MarginRankingLoss(margin=0.2), "pm"),
    (nn.TripletMarginLoss(swap=True), torch.nn.TripletMarginLoss(swap=True), 3),
    (nn.HingeEmbeddingLoss(2.0), torch.nn.HingeEmbeddingLoss(2.0), "sign"),
    (nn.SoftMarginLoss(), torch.nn.SoftMarginLoss(), "sign"),
    (nn.MultiLabelSoftMarginLoss(weight=tn.tensor([1.0, 2, 3, 4, 5], dtype=tn.float64)),
     torch.nn.MultiLabelSoftMarginLoss(weight=torch.tensor([1.0, 2, 3, 4, 5], dtype=torch.float64)), 2),
    (nn.MultiMarginLoss(p=2, weight=tn.tensor([1.0, 2, 3, 4, 5], dtype=tn.float64)),
     torch.nn.MultiMarginLoss(p=2, weight=torch.tensor([1.0, 2, 3, 4, 5], dtype=torch.float64)), "classes"),
    (nn.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss(), "lists"),
]


@pytest.mark.parametrize("entry", LOSS_MODULES, ids=lambda e: type(e[0]).__name__)
def test_loss_module_parity(entry):
    ours, theirs, kind = entry
    x, y = _x(4, 5, seed=20), _x(4, 5, seed=21)
    var = _r(8).uniform(0.1, 2.0, (4, 5))
    arrays, no_grad = {
        2: ([x, np.abs(y) / 3], ()), 3: ([x, y, var], ()),
        "counts": ([x, _r(9).integers(0, 5, (4, 5)).astype(float)], (1,)),
        "pm_rows": ([x, y, np.array([1, -1, -1, 1])], ()),
        "pm": ([x[0], y[0], _pm1(5)], ()),
        "sign": ([x, _pm1(4, 5)], (1,)),
        "classes": ([x, np.array([1, 0, 4, 2])], ()),
        "lists": ([x, np.array([[1, -1, 0, 0, 0], [0, 2, 4, -1, 1], [3, 3, -1, 0, 0], [4, 0, 1, 2, 3]])], ()),
    }[kind]
    _check(ours, theirs, arrays, no_grad=no_grad)


# --- distances ----------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("dim", [1, 0, -1, (0, 1)])
def test_normalize_parity(p, dim):
    x = _x(3, 4, 2)
    x[1, :, 0] = 0.0  # a zero vector: finite gradients, as torch
    _check(lambda a: F.normalize(a, p=p, dim=dim), lambda a: TF.normalize(a, p=p, dim=dim), [x])


@pytest.mark.parametrize("shapes,dim", [(((3, 4), (3, 4)), 1), (((3, 4), (1, 4)), 1), (((2, 3, 4), (3, 4)), -1),
                                        (((3, 4), (3, 1)), 0), (((5,), (5,)), 0)])
def test_cosine_similarity_parity(shapes, dim):
    a, b = _x(*shapes[0], seed=1), _x(*shapes[1], seed=2)
    _check(lambda u, v: F.cosine_similarity(u, v, dim=dim), lambda u, v: TF.cosine_similarity(u, v, dim=dim), [a, b])


def test_cosine_similarity_tiny_norm_clamps_the_value_not_the_gradient():
    a, b = _x(3, 4, seed=1) * 1e-9, _x(3, 4, seed=2)
    _check(lambda u, v: F.cosine_similarity(u, v, eps=1e-6), lambda u, v: TF.cosine_similarity(u, v, eps=1e-6),
           [a, b], rtol=1e-9)
    _check(nn.CosineSimilarity(dim=0, eps=1e-3), torch.nn.CosineSimilarity(dim=0, eps=1e-3), [a, b], rtol=1e-9)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (1, 4)), ((4,), (4,))])
def test_pairwise_distance_parity(p, keepdim, shapes):
    a, b = _x(*shapes[0], seed=3), _x(*shapes[1], seed=4)
    _check(lambda u, v: F.pairwise_distance(u, v, p, 1e-6, keepdim),
           lambda u, v: TF.pairwise_distance(u, v, p, 1e-6, keepdim), [a, b])
    _check(nn.PairwiseDistance(p, 1e-4, keepdim), torch.nn.PairwiseDistance(p, 1e-4, keepdim), [a, b])


# --- one_hot --------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels,num_classes", [([0, 2, 1], -1), ([[3], [0]], -1), ([1, 1], 4), ([], 3)])
def test_one_hot_parity(labels, num_classes):
    ours = F.one_hot(tn.tensor(labels, dtype=tn.int64), num_classes)
    theirs = TF.one_hot(torch.tensor(labels, dtype=torch.int64), num_classes)
    assert ours.dtype == tn.int64 and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
