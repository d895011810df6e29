"""The further activations, losses, distances and one_hot: modules, arguments, in-place
semantics, devices and every error path (values against PyTorch are in
tests/test_torch_parity_activations_losses_more.py; gradients in the op registry)."""
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet.backend.errors import DeviceError, ShapeError


def _t(a, device="cpu", requires_grad=False, dtype=tn.float64):
    return tn.tensor(np.asarray(a, dtype=float), dtype=dtype, device=device, requires_grad=requires_grad)


X = np.array([[-4.0, -2.5, -0.7, 0.4, 1.6, 3.5, 7.0, -0.2]])


# --- activations: values on every device --------------------------------------------------------
def _sig(x):
    return 1 / (1 + np.exp(-x))


REFS = {
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "selu": (F.selu, lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    "celu": (lambda x: F.celu(x, 2.0), lambda x: np.where(x > 0, x, 2.0 * np.expm1(x / 2.0))),
    "mish": (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "logsigmoid": (F.logsigmoid, lambda x: np.log(_sig(x))),
    "softmin": (lambda x: F.softmin(x, 1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
    "glu": (F.glu, lambda x: x[:, :4] * _sig(x[:, 4:])),
    "rrelu_eval": (F.rrelu, lambda x: np.where(x >= 0, x, x * (1 / 8 + 1 / 3) / 2)),
    "hardshrink": (F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    "softshrink": (F.softshrink, lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0)),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
    "threshold": (lambda x: F.threshold(x, 0.5, 9.0), lambda x: np.where(x > 0.5, x, 9.0)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
}


@pytest.mark.parametrize("name", sorted(REFS))
def test_activation_values_on_every_device(device, name):
    fn, ref = REFS[name]
    y = fn(_t(X, device))
    assert y.device.type == device and y.dtype == tn.float64
    np.testing.assert_allclose(y.numpy(), ref(X), rtol=1e-12, atol=1e-15)
    y32 = fn(_t(X, device, dtype=tn.float32))
    assert y32.dtype == tn.float32  # float32 stays float32
    np.testing.assert_allclose(y32.numpy(), ref(X), rtol=2e-6, atol=2e-6)


def test_logsigmoid_is_stable_at_extremes(device):
    y = F.logsigmoid(_t([-1e4, 1e4, -50.0], device))
    np.testing.assert_allclose(y.numpy(), [-1e4, 0.0, -50.0], atol=1e-15)
    x = _t([-1e4, 1e4], device, requires_grad=True)
    F.logsigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0], atol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh"])
def test_tensor_inplace_methods(device, name):
    x = _t(X, device)
    view = x[0]
    out = getattr(x, name + "_")()
    assert out is x
    np.testing.assert_allclose(view.numpy(), getattr(F, name)(_t(X)).numpy()[0])  # written into the storage
    leaf = _t(X, device, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{name}_: a leaf tensor that requires grad"):
        getattr(leaf, name + "_")()


def test_tensor_methods_hardshrink_prelu(device):
    x = _t(X, device)
    np.testing.assert_array_equal(x.hardshrink(1.0).numpy(), np.where(np.abs(X) > 1, X, 0))
    np.testing.assert_allclose(x.prelu(_t([0.5], device)).numpy(), np.where(X > 0, X, 0.5 * X))


# --- in-place forms -----------------------------------------------------------------------------------
INPLACE = {
    "relu_": (F.relu_, lambda x: np.maximum(x, 0)),
    "elu_": (F.elu_, lambda x: np.where(x > 0, x, np.expm1(x))),
    "leaky_relu_": (lambda x: F.leaky_relu_(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "hardtanh_": (lambda x: F.hardtanh_(x, -2, 2), lambda x: np.clip(x, -2, 2)),
    "threshold_": (lambda x: F.threshold_(x, 0.0, -1.0), lambda x: np.where(x > 0, x, -1.0)),
    "selu_": (F.selu_, REFS["selu"][1]),
    "celu_": (lambda x: F.celu_(x, 2.0), REFS["celu"][1]),
    "rrelu_": (F.rrelu_, REFS["rrelu_eval"][1]),
    "relu6(inplace)": (lambda x: F.relu6(x, inplace=True), REFS["relu6"][1]),
    "hardsigmoid(inplace)": (lambda x: F.hardsigmoid(x, inplace=True), REFS["hardsigmoid"][1]),
    "hardswish(inplace)": (lambda x: F.hardswish(x, inplace=True), REFS["hardswish"][1]),
    "mish(inplace)": (lambda x: F.mish(x, inplace=True), REFS["mish"][1]),
    "rrelu(training, inplace)": (lambda x: F.rrelu(x, 0.3, 0.3, True, True), lambda x: np.where(x >= 0, x, 0.3 * x)),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_forms_write_into_the_input(device, name):
    fn, ref = INPLACE[name]
    x = _t(X, device)
    version = x._version[0]
    out = fn(x)
    assert out is x and x._version[0] > version
    np.testing.assert_allclose(x.numpy(), ref(X), rtol=1e-12, atol=1e-15)
    # through a graph: the history continues through the op, gradients as out of place
    leaf = _t(X, device, requires_grad=True)
    h = leaf * 2
    assert fn(h) is h
    (h * h).sum().backward()
    leaf2 = _t(X, device, requires_grad=True)
    eps = 1e-6
    num = (ref(2 * (X + eps)) ** 2 - ref(2 * (X - eps)) ** 2) / (2 * eps)
    np.testing.assert_allclose(leaf.grad.numpy(), num, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        fn(leaf2)


def test_inplace_module_flag_is_honoured(device):
    for module in [nn.ReLU6(inplace=True), nn.Hardsigmoid(True), nn.Hardswish(True), nn.SELU(True),
                   nn.CELU(inplace=True), nn.Mish(True), nn.Threshold(0.1, 2.0, inplace=True),
                   nn.Hardtanh(inplace=True), nn.RReLU(inplace=True), nn.ReLU(inplace=True)]:
        x = _t(X, device)
        assert module(x) is x, type(module).__name__
        assert "inplace=True" in repr(module)
    x = _t(X, device)
    assert nn.SELU()(x) is not x


# --- rrelu ------------------------------------------------------------------------------------------
def test_rrelu_training_draws_reproducible_slopes(device):
    x = _t(-np.ones((3, 50)), device)
    tn.manual_seed(1)
    a = F.rrelu(x, 0.1, 0.3, training=True).numpy()
    tn.manual_seed(1)
    b = F.rrelu(x, 0.1, 0.3, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    slopes = -a
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and len(np.unique(slopes)) > 100
    assert abs(slopes.mean() - 0.2) < 0.02
    c = F.rrelu(x, 0.1, 0.3, training=True).numpy()
    assert not np.array_equal(a, c)  # a new draw each call


def test_rrelu_module_follows_train_and_eval(device):
    m = nn.RReLU(0.1, 0.5)
    x = _t(-np.ones(200), device)
    train = m(x).numpy()
    assert len(np.unique(train)) > 100
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), -0.3 * np.ones(200))


# --- modules -------------------------------------------------------------------------------------
def test_prelu_module_parameter_and_training(device):
    m = nn.PReLU(3, init=0.2).to(device)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert tuple(m.weight.shape) == (3,) and np.allclose(m.weight.detach().numpy(), 0.2)
    assert repr(m).startswith("PReLU(num_parameters=3)")
    assert set(m.state_dict()) == {"weight"}
    x = _t(-np.ones((2, 3, 4)), device, dtype=tn.float32)
    m(x).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), [-8.0, -8.0, -8.0])
    shared = nn.PReLU(dtype=tn.float64)
    assert shared.weight.dtype == tn.float64 and tuple(shared.weight.shape) == (1,)
    np.testing.assert_allclose(shared(_t([[-2.0, 3.0]], device="cpu")).detach().numpy(), [[-0.5, 3.0]])
    with pytest.raises(ValueError, match="PReLU: num_parameters must be a positive int"):
        nn.PReLU(0)
    with pytest.raises(TypeError, match="PReLU: num_parameters must be an int"):
        nn.PReLU(2.0)


def test_module_reprs_and_arguments():
    assert repr(nn.Hardtanh(-2.0, 3.0)) == "Hardtanh(min_val=-2.0, max_val=3.0)"
    assert repr(nn.CELU(0.5)) == "CELU(alpha=0.5)"
    assert repr(nn.Threshold(0.1, 20)) == "Threshold(threshold=0.1, value=20.0)"
    assert repr(nn.Softshrink(0.3)) == "Softshrink(0.3)" and repr(nn.Hardshrink()) == "Hardshrink(0.5)"
    assert repr(nn.GLU()) == "GLU(dim=-1)" and repr(nn.Softmin(0)) == "Softmin(dim=0)"
    assert repr(nn.RReLU()) == f"RReLU(lower={1 / 8}, upper={1 / 3})"
    assert repr(nn.CosineSimilarity()) == "CosineSimilarity(dim=1, eps=1e-08)"
    assert repr(nn.PairwiseDistance(1, keepdim=True)) == "PairwiseDistance(p=1.0, eps=1e-06, keepdim=True)"
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    assert nn.SmoothL1Loss(size_average=False).reduction == "sum"
    assert nn.SoftMarginLoss(reduce=False).reduction == "none"
    assert nn.MultiMarginLoss(p=2).p == 2 and nn.TripletMarginLoss(p=1).p == 1.0
    assert nn.HuberLoss(delta=2).delta == 2.0 and nn.PoissonNLLLoss(log_input=False).log_input is False


def test_softmin_and_softmax2d_modules(device):
    x = _t(np.arange(24.0).reshape(2, 3, 2, 2) / 10, device)
    np.testing.assert_allclose(nn.Softmin(1)(x).numpy(), F.softmax(-x, dim=1).numpy())
    np.testing.assert_allclose(nn.Softmax2d()(x).numpy(), F.softmax(x, dim=1).numpy())
    np.testing.assert_allclose(nn.Softmax2d()(x[0]).numpy(), F.softmax(x[0], dim=0).numpy())
    with pytest.raises(ValueError, match=r"Softmax2d: expected a 3-D or 4-D input .* got shape \(3, 2\)"):
        nn.Softmax2d()(x[0, :, 0])


def test_distance_modules(device):
    a, b = _t([[3.0, 4.0], [1.0, 0.0]], device), _t([[3.0, 4.0], [0.0, 2.0]], device)
    np.testing.assert_allclose(nn.CosineSimilarity()(a, b).numpy(), [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(nn.CosineSimilarity(dim=0)(a, b).numpy(),
                               F.cosine_similarity(a, b, 0).numpy())
    d = nn.PairwiseDistance(p=1, eps=0.0)(a, b)
    np.testing.assert_allclose(d.numpy(), [0.0, 3.0])
    assert tuple(nn.PairwiseDistance(keepdim=True)(a, b).shape) == (2, 1)


def test_loss_modules_match_functional(device):
    x, y = _t([[0.3, -1.2], [2.0, 0.1]], device), _t([[0.0, 1.0], [1.0, 0.2]], device)
    assert np.isclose(nn.SmoothL1Loss(beta=0.5)(x, y).item(), F.smooth_l1_loss(x, y, beta=0.5).item())
    assert np.isclose(nn.HuberLoss(reduction="sum")(x, y).item(), F.huber_loss(x, y, reduction="sum").item())
    assert np.isclose(nn.SoftMarginLoss()(x, y * 2 - 1).item(), F.soft_margin_loss(x, y * 2 - 1).item())
    c = tn.tensor([1, 0], device=device)
    assert np.isclose(nn.MultiMarginLoss(margin=0.5)(x, c).item(), F.multi_margin_loss(x, c, margin=0.5).item())
    v = _t([1.0, 2.0], device)
    assert np.isclose(nn.GaussianNLLLoss()(x, y, v).item(), F.gaussian_nll_loss(x, y, v).item())


# --- losses: values on every device, arguments -------------------------------------------------
def test_losses_on_every_device(device):
    x, y = np.array([[0.3, -1.2, 2.0], [0.5, 0.1, -0.4]]), np.array([[0.0, 1.0, 1.5], [0.5, 0.0, 0.3]])
    a, b = _t(x, device), _t(y, device)
    d = np.abs(x - y)
    assert np.isclose(F.smooth_l1_loss(a, b).item(), np.where(d < 1, 0.5 * d * d, d - 0.5).mean())
    assert np.isclose(F.huber_loss(a, b, delta=0.5).item(), np.where(d < 0.5, 0.5 * d * d, 0.5 * (d - 0.25)).mean())
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    kl = (p * (np.log(p) - x)).sum()
    assert np.isclose(F.kl_div(a, _t(p, device), reduction="batchmean").item(), kl / 2)
    assert np.isclose(F.kl_div(a, _t(p, device), reduction="mean").item(), kl / 6)
    assert np.isclose(F.kl_div(a, _t(np.log(p), device), reduction="sum", log_target=True).item(), kl)
    assert np.isclose(F.poisson_nll_loss(a, b, reduction="sum").item(), (np.exp(x) - y * x).sum())
    pm = np.array([1.0, -1.0])
    assert np.isclose(F.margin_ranking_loss(a[0, :2], a[1, :2], _t(pm, device), margin=0.1).item(),
                      np.maximum(-pm * (x[0, :2] - x[1, :2]) + 0.1, 0).mean())
    loss = F.hinge_embedding_loss(a, _t([[1, -1, -1], [-1, 1, 1]], device), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [[0.3, 2.2, 0.0], [0.5, 0.1, -0.4]])


def test_kl_div_zero_target_contributes_zero():
    x = _t([[-1.0, -2.0]], requires_grad=True)
    t = _t([[0.0, 1.0]], requires_grad=True)
    loss = F.kl_div(x, t, reduction="sum")
    assert np.isclose(loss.item(), 2.0)
    loss.backward()
    assert np.isfinite(t.grad.numpy()).all()


def test_gaussian_nll_loss_var_forms_and_clamp():
    x, y = _t([[1.0, 2.0], [0.0, 1.0]]), _t([[0.0, 2.0], [1.0, 1.0]])
    full = F.gaussian_nll_loss(x, y, _t([[2.0, 2.0], [3.0, 3.0]]), reduction="none")
    np.testing.assert_allclose(F.gaussian_nll_loss(x, y, _t([2.0, 3.0]), reduction="none").numpy(), full.numpy())
    np.testing.assert_allclose(F.gaussian_nll_loss(x, y, _t([[2.0], [3.0]]), reduction="none").numpy(), full.numpy())
    np.testing.assert_allclose(F.gaussian_nll_loss(x, y, 2.0, reduction="none").numpy(),
                               F.gaussian_nll_loss(x, y, _t([[2.0, 2.0], [2.0, 2.0]]), reduction="none").numpy())
    assert np.isclose(F.gaussian_nll_loss(x, y, 1.0, full=True).item() - F.gaussian_nll_loss(x, y, 1.0).item(),
                      0.5 * math.log(2 * math.pi))
    v = _t([[1e-9, 1.0], [1.0, 1.0]], requires_grad=True)
    loss = F.gaussian_nll_loss(x, y, v, eps=1e-3, reduction="sum")
    assert np.isclose(loss.item(), 0.5 * (math.log(1e-3) + 1 / 1e-3) + 0.5 * 1 + 0)
    loss.backward()
    # the clamp changes the value, not the gradient path: d/dv = 0.5 (1/v - d^2/v^2) at v = eps
    assert np.isclose(v.grad.numpy()[0, 0], 0.5 * (1 / 1e-3 - 1 / 1e-6))


def test_poisson_full_adds_stirling_for_targets_above_one():
    x, t = _t([0.5, 0.5, 0.5]), _t([0.0, 1.0, 4.0])
    diff = (F.poisson_nll_loss(x, t, full=True, reduction="none") - F.poisson_nll_loss(x, t, reduction="none")).numpy()
    np.testing.assert_allclose(diff, [0.0, 0.0, 4 * math.log(4) - 4 + 0.5 * math.log(8 * math.pi)])
    rate = F.poisson_nll_loss(_t([2.0]), _t([3.0]), log_input=False, eps=0.5).item()
    assert np.isclose(rate, 2.0 - 3.0 * math.log(2.5))


def test_triplet_swap_uses_the_smaller_negative_distance():
    a, p, n = _t([[0.0, 0.0]]), _t([[3.0, 0.0]]), _t([[4.0, 0.0]])
    plain = F.triplet_margin_loss(a, p, n, margin=1.0, eps=0.0).item()
    swapped = F.triplet_margin_loss(a, p, n, margin=1.0, eps=0.0, swap=True).item()
    assert np.isclose(plain, 0.0) and np.isclose(swapped, 3.0 - 1.0 + 1.0)


def test_multilabel_margin_loss_stops_at_minus_one():
    x = _t([[0.1, 0.2, 0.4, 0.8]])
    y = tn.tensor([[3, 0, -1, 1]])
    # targets {3, 0}; others {1, 2}: sum of max(0, 1 - (x_j - x_c)) / 4
    want = sum(max(0, 1 - (x.numpy()[0, j] - x.numpy()[0, c])) for j in (3, 0) for c in (1, 2)) / 4
    assert np.isclose(F.multilabel_margin_loss(x, y).item(), want)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_every_new_loss_honours_reduction(reduction):
    x, y = _t(np.linspace(-1, 1, 8).reshape(2, 4)), _t(np.linspace(0.2, 1.4, 8).reshape(2, 4))
    calls = {
        "smooth_l1_loss": lambda r: F.smooth_l1_loss(x, y, reduction=r),
        "huber_loss": lambda r: F.huber_loss(x, y, reduction=r),
        "kl_div": lambda r: F.kl_div(x, y, reduction=r),
        "poisson_nll_loss": lambda r: F.poisson_nll_loss(x, y, reduction=r),
        "gaussian_nll_loss": lambda r: F.gaussian_nll_loss(x, y, y, reduction=r),
        "soft_margin_loss": lambda r: F.soft_margin_loss(x, y, reduction=r),
        "cosine_embedding_loss": lambda r: F.cosine_embedding_loss(x, y, tn.tensor([1, -1]), reduction=r),
        "margin_ranking_loss": lambda r: F.margin_ranking_loss(x, y, -y, reduction=r),
        "triplet_margin_loss": lambda r: F.triplet_margin_loss(x, y, -y, reduction=r),
        "hinge_embedding_loss": lambda r: F.hinge_embedding_loss(x, y, reduction=r),
        "multilabel_soft_margin_loss": lambda r: F.multilabel_soft_margin_loss(x, y, reduction=r),
        "multi_margin_loss": lambda r: F.multi_margin_loss(x, tn.tensor([0, 3]), reduction=r),
        "multilabel_margin_loss": lambda r: F.multilabel_margin_loss(x, tn.tensor([[0, -1, 0, 0], [3, 1, -1, 0]]),
                                                                     reduction=r),
    }
    for name, call in calls.items():
        none = call("none").numpy()
        got = call(reduction).numpy()
        want = {"mean": none.mean(), "sum": none.sum(), "none": none}[reduction]
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=name)
        with pytest.raises(ValueError, match=f"{name}: reduction must be"):
            call("avg")


# --- distances -----------------------------------------------------------------------------------
def test_normalize_arguments_and_out(device):
    x = _t([[3.0, 4.0], [0.0, 0.0]], device, requires_grad=True)
    y = F.normalize(x)
    np.testing.assert_allclose(y.detach().numpy(), [[0.6, 0.8], [0.0, 0.0]])
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(F.normalize(_t([[3.0, 4.0]], device), p=1).numpy(), [[3 / 7, 4 / 7]])
    np.testing.assert_allclose(F.normalize(_t([[3.0, -4.0]], device), p=math.inf).numpy(), [[0.75, -1.0]])
    np.testing.assert_allclose(F.normalize(_t([[1e-14, 0.0]], device), eps=1e-12).numpy(), [[0.01, 0.0]])
    out = _t(np.zeros((1, 2)), device)
    assert F.normalize(_t([[3.0, 4.0]], device), out=out) is out
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8]])
    ints = F.normalize(tn.tensor([[3, 4]], device=device))
    assert ints.dtype == tn.float32  # integer input is computed in the default float type, as PyTorch


def test_cosine_similarity_broadcasts_and_stays_in_range(device):
    a = _t(np.random.default_rng(0).standard_normal((4, 3)) * 1e150, device)
    b = _t(np.ones((1, 3)), device)
    c = F.cosine_similarity(a, b)
    assert tuple(c.shape) == (4,) and (np.abs(c.numpy()) <= 1).all()
    assert np.isclose(F.cosine_similarity(a[:1], a[:1] * 2).item(), 1.0)
    z = F.cosine_similarity(_t([[0.0, 0.0]], device), _t([[1.0, 0.0]], device))
    assert z.item() == 0.0


# --- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["hardsigmoid", "hardswish", "relu6", "selu", "celu", "mish", "logsigmoid",
                                  "glu", "rrelu", "hardshrink", "softshrink", "tanhshrink", "softmin"])
def test_activations_refuse_integer_input(name):
    with pytest.raises(TypeError, match=rf"{name}: expected a floating-point tensor, got (tinynet\.)?int64"):
        getattr(F, name)(tn.tensor([[1, 2]]))


def test_threshold_and_prelu_refuse_integer_input():
    with pytest.raises(TypeError, match="threshold: expected a floating-point tensor"):
        F.threshold(tn.tensor([1, 2]), 0.5, 0.0)
    with pytest.raises(TypeError, match="prelu: expected a floating-point tensor"):
        F.prelu(tn.tensor([1, 2]), tn.tensor([0.1]))


def test_activation_argument_errors(device):
    x = _t(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        F.celu(x, 0.0)
    with pytest.raises(ValueError, match="CELU: alpha must not be 0"):
        nn.CELU(0)
    with pytest.raises(ShapeError, match=r"glu: halving dimension must be even.*shape \(2, 3\)\) has size 3"):
        F.glu(x)
    with pytest.raises(RuntimeError, match="glu: halving dimension must be even"):
        nn.GLU()(x)  # a ShapeError is also a RuntimeError, as PyTorch's
    with pytest.raises(ShapeError, match="glu: does not support 0-d"):
        F.glu(_t(1.0, device))
    with pytest.raises(ValueError, match=r"rrelu: lower bound \(0.5\) must not exceed the upper bound \(0.1\)"):
        F.rrelu(x, 0.5, 0.1, training=True)
    with pytest.raises(ValueError, match="RReLU: lower"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match="softshrink: lambd must be non-negative"):
        F.softshrink(x, -0.1)
    with pytest.raises(ValueError, match="Softshrink: lambd must be non-negative"):
        nn.Softshrink(-1)
    with pytest.raises(ValueError, match="Hardtanh: min_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(TypeError, match="Threshold: threshold must be a number"):
        nn.Threshold("a", 1.0)


def test_prelu_errors(device):
    x = _t(np.ones((2, 3, 4)), device)
    with pytest.raises(ShapeError, match=r"prelu: weight of shape \(4,\) matches neither .* 3 channel\(s\).*"
                                         r"num_parameters=3"):
        F.prelu(x, _t(np.ones(4), device))
    with pytest.raises(ShapeError, match=r"prelu: weight of shape \(2,\) .* 1 channel"):
        F.prelu(_t(np.ones(5), device), _t([0.1, 0.2], device))
    with pytest.raises(ShapeError, match="prelu: weight of shape"):
        F.prelu(x, _t(np.ones((3, 1)), device))
    with pytest.raises(TypeError, match="prelu: weight must be a Tensor, got float"):
        F.prelu(x, 0.25)
    with pytest.raises(ShapeError, match=r"PReLU\(num_parameters=2\)|weight of shape \(2,\)"):
        nn.PReLU(2).to(tn.float64).to(device)(x)


@pytest.mark.skipif("cuda" not in tn.backend.available_devices(), reason="needs the cuda (or simulated) device")
def test_device_mismatch_errors():
    cpu, gpu = _t(np.ones((2, 3))), _t(np.ones((2, 3)), "cuda")
    with pytest.raises(DeviceError, match=r"prelu: input is on cpu but weight is on cuda.*weight\.to\('cpu'\)"):
        F.prelu(cpu, _t([0.1], "cuda"))
    with pytest.raises(DeviceError, match=r"cosine_similarity: x1 is on cpu but x2 is on cuda"):
        F.cosine_similarity(cpu, gpu)
    with pytest.raises(DeviceError, match=r"pairwise_distance: x1 is on cpu but x2 is on cuda"):
        F.pairwise_distance(cpu, gpu)
    with pytest.raises(RuntimeError, match=r"smooth_l1_loss: input is on cpu but target is on cuda"):
        F.smooth_l1_loss(cpu, gpu)
    with pytest.raises(DeviceError, match="normalize: out is on cuda but input is on cpu"):
        F.normalize(cpu, out=gpu)


def test_distance_errors(device):
    x = _t(np.ones((2, 3)), device)
    with pytest.raises(ShapeError, match=r"cosine_similarity: x1 of shape \(2, 3\) and x2 of shape \(4,\) cannot be "
                                         r"broadcast"):
        F.cosine_similarity(x, _t(np.ones(4), device))
    with pytest.raises(ShapeError, match="pairwise_distance: x1 of shape"):
        F.pairwise_distance(x, _t(np.ones((3, 3)), device))
    with pytest.raises(ShapeError, match="cosine_similarity: inputs are 0-d"):
        F.cosine_similarity(_t(1.0, device), _t(2.0, device))
    with pytest.raises(ShapeError, match="pairwise_distance: inputs are 0-d"):
        F.pairwise_distance(_t(1.0, device), _t(2.0, device))
    with pytest.raises(ValueError, match="normalize: p must be non-negative"):
        F.normalize(x, p=-1)
    with pytest.raises(TypeError, match="normalize: p must be a number"):
        F.normalize(x, p="fro")
    with pytest.raises(IndexError, match="normalize: axis 2 is out of range"):
        F.normalize(x, dim=2)
    with pytest.raises(ShapeError, match=r"normalize: out must be a Tensor of shape \(2, 3\)"):
        F.normalize(x, out=_t(np.ones(3), device))
    with pytest.raises(TypeError, match="cosine_similarity: x2 must be a Tensor"):
        F.cosine_similarity(x, [1.0, 2.0, 3.0])


def test_loss_errors(device):
    x, y = _t(np.ones((2, 3)), device), _t(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be non-negative"):
        F.smooth_l1_loss(x, y, beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be positive"):
        F.huber_loss(x, y, delta=0.0)
    with pytest.raises(ShapeError, match=r"huber_loss: weight has shape \(3,\) but must have the input's shape"):
        F.huber_loss(x, y, weight=_t(np.ones(3), device))
    with pytest.raises(ShapeError, match=r"smooth_l1_loss: input has shape \(2, 3\) but target has shape \(3,\)"):
        F.smooth_l1_loss(x, _t(np.ones(3), device))
    with pytest.raises(ValueError, match="kl_div: reduction must be one of 'mean', 'sum', 'none', 'batchmean'"):
        F.kl_div(x, y, reduction="batch")
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entry"):
        F.gaussian_nll_loss(x, y, _t([[1.0, -1.0, 1.0], [1.0, 1.0, 1.0]], device))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative"):
        F.gaussian_nll_loss(x, y, -1.0)
    with pytest.raises(ShapeError, match=r"gaussian_nll_loss: var of shape \(3,\) is of incorrect size for input of "
                                         r"shape \(2, 3\)"):
        F.gaussian_nll_loss(x, y, _t(np.ones(3), device))
    with pytest.raises(ShapeError, match="cosine_embedding_loss: target has shape"):
        F.cosine_embedding_loss(x, y, tn.tensor([1, -1, 1], device=device))
    with pytest.raises(ShapeError, match="cosine_embedding_loss: input1 .* must have the same shape"):
        F.cosine_embedding_loss(x, _t(np.ones((2, 4)), device), tn.tensor([1, -1], device=device))
    with pytest.raises(ShapeError, match="margin_ranking_loss: .* same number of dimensions"):
        F.margin_ranking_loss(x[0], _t(np.ones((3, 1)), device), x[0])
    with pytest.raises(ShapeError, match="triplet_margin_loss: anchor .* must all be"):
        F.triplet_margin_loss(x, x[0], x)
    with pytest.raises(ValueError, match="triplet_margin_loss: margin must be greater than 0"):
        F.triplet_margin_loss(x, y, x, margin=0.0)
    with pytest.raises(ValueError, match="TripletMarginLoss: margin must be greater than 0"):
        nn.TripletMarginLoss(margin=-1)
    with pytest.raises(ValueError, match="multi_margin_loss: only p == 1 and p == 2"):
        F.multi_margin_loss(x, tn.tensor([0, 1], device=device), p=3)
    with pytest.raises(ValueError, match="MultiMarginLoss: only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(TypeError, match="multi_margin_loss: target must hold integer class indices"):
        F.multi_margin_loss(x, _t([0.0, 1.0], device))
    with pytest.raises(IndexError, match="multi_margin_loss: target value 3 is out of range for 3 classes"):
        F.multi_margin_loss(x, tn.tensor([0, 3], device=device))
    with pytest.raises(ShapeError, match=r"multi_margin_loss: input of shape \(2, 3\) needs a target of shape \(2,\)"):
        F.multi_margin_loss(x, tn.tensor([0, 1, 2], device=device))
    with pytest.raises(ShapeError, match=r"multi_margin_loss: weight must have shape \(3,\)"):
        F.multi_margin_loss(x, tn.tensor([0, 1], device=device), weight=_t([1.0, 2.0], device))
    with pytest.raises(ShapeError, match="multi_margin_loss: input must be"):
        F.multi_margin_loss(_t(np.ones((2, 3, 1)), device), tn.tensor([0, 1], device=device))
    with pytest.raises(ShapeError, match="multilabel_margin_loss: target must have the input's shape"):
        F.multilabel_margin_loss(x, tn.tensor([0, 1], device=device))
    with pytest.raises(IndexError, match=r"multilabel_margin_loss: target values must lie in \[-1, 2\]"):
        F.multilabel_margin_loss(x, tn.tensor([[0, 3, -1], [0, 1, 2]], device=device))
    with pytest.raises(ShapeError, match="multilabel_soft_margin_loss: input must have a class dimension"):
        F.multilabel_soft_margin_loss(_t(1.0, device), _t(1.0, device))
    with pytest.raises(TypeError, match="poisson_nll_loss: input must be floating point"):
        F.poisson_nll_loss(tn.tensor([1, 2], device=device), y[0, :2])
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be non-negative"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="HuberLoss: delta must be positive"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be one of"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match="SoftMarginLoss: reduction must be"):
        nn.SoftMarginLoss(reduction="avg")


def test_hinge_embedding_target_broadcasts():
    x = _t(np.full((3, 4), 0.5))
    loss = F.hinge_embedding_loss(x, tn.tensor([1, -1, 1, -1]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), np.tile([0.5, 0.5, 0.5, 0.5], (3, 1)))
    with pytest.raises(ShapeError, match="where: .* cannot be broadcast"):
        F.hinge_embedding_loss(x, tn.tensor([1, -1, 1]))


# --- one_hot ---------------------------------------------------------------------------------------
def test_one_hot_infers_the_class_count(device):
    labels = tn.tensor([[0, 3], [1, 1]], device=device)
    out = F.one_hot(labels)
    assert out.dtype == tn.int64 and tuple(out.shape) == (2, 2, 4) and out.device.type == device
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.int64)[[[0, 3], [1, 1]]])
    assert tuple(F.one_hot(labels, 6).shape) == (2, 2, 6)
    assert tuple(F.one_hot(tn.tensor([], dtype=tn.int64, device=device), 3).shape) == (0, 3)
    assert tuple(F.one_hot(tn.tensor(2, device=device)).shape) == (3,)
    assert tuple(tn.one_hot(tn.tensor([1], dtype=tn.int32, device=device), 2).shape) == (1, 2)


def test_one_hot_errors(device):
    with pytest.raises(IndexError, match=r"one_hot: class labels must be non-negative, got -1"):
        F.one_hot(tn.tensor([0, -1], device=device))
    with pytest.raises(ValueError, match=r"one_hot: label 3 is out of range for num_classes=3 .*\[0, 2\]"):
        F.one_hot(tn.tensor([0, 3], device=device), 3)
    with pytest.raises(IndexError, match="one_hot: label 3 is out of range"):
        F.one_hot(tn.tensor([0, 3], device=device), 0)
    with pytest.raises(ValueError, match="one_hot: cannot infer num_classes from an empty tensor"):
        F.one_hot(tn.tensor([], dtype=tn.int64, device=device))
    with pytest.raises(TypeError, match=r"one_hot: labels must be an integer tensor .*float32; convert with "
                                        r"\.long\(\)"):
        F.one_hot(tn.tensor([0.0, 1.0], device=device))
    with pytest.raises(TypeError, match="one_hot: labels must be an integer tensor"):
        F.one_hot(tn.tensor([True, False], device=device))
    with pytest.raises(TypeError, match="one_hot: num_classes must be an int, got float"):
        F.one_hot(tn.tensor([0, 1], device=device), 2.0)
    with pytest.raises(ValueError, match=r"one_hot: num_classes must be a non-negative int or -1 \(infer\), got -2"):
        F.one_hot(tn.tensor([0, 1], device=device), -2)
