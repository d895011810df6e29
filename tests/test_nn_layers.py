"""Layers: Linear (default init, errors), Flatten/Unflatten, Dropout, BatchNorm (vs torch),
nn.init statistics, activation and loss modules, L1/L2 penalties."""
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F


# --- Linear ------------------------------------------------------------------------------------
def test_linear_default_init_statistics():
    tn.manual_seed(0)
    lin = nn.Linear(400, 300)
    w = lin.weight.detach().numpy()
    b = lin.bias.detach().numpy()
    bound = 1 / math.sqrt(400)
    assert w.shape == (300, 400) and b.shape == (300,)
    assert w.dtype == np.float32 and lin.in_features == 400 and lin.out_features == 300
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-a, a): mean 0, variance a^2/3 (120,000 draws: tight)
    assert abs(w.mean()) < 0.01 * bound
    assert abs(w.var() / (bound ** 2 / 3) - 1) < 0.02
    assert np.abs(w).max() > 0.99 * bound


def test_linear_forward_and_grads_match_formula():
    rng = np.random.default_rng(0)
    lin = nn.Linear(4, 3).double()
    x = rng.standard_normal((2, 5, 4))
    xt = tn.tensor(x, dtype=tn.float64, requires_grad=True)
    out = lin(xt)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), x @ w.T + b, rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(lin.bias.grad.numpy(), np.full(3, 10.0))
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.ones((10, 3)).T @ x.reshape(10, 4), rtol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), np.ones((2, 5, 3)) @ w, rtol=1e-12)
    nobias = nn.Linear(4, 3, bias=False)
    assert nobias.bias is None and len(list(nobias.parameters())) == 1
    assert nobias(tn.randn(2, 4)).shape == (2, 3)
    assert "bias=False" in repr(nobias)


def test_linear_errors_name_the_layer():
    lin = nn.Linear(784, 256)
    with pytest.raises(ValueError) as err:
        lin(tn.randn(32, 100))
    assert str(err.value) == "Linear(784\u2192256): expected input with 784 features (last axis), got shape (32, 100)"
    with pytest.raises(TypeError, match=r"Linear\(784→256\): expected a Tensor"):
        lin(np.zeros((2, 784)))
    with pytest.raises(TypeError, match=r"float64 but the layer's weights are (tinynet\.)?float32"):
        lin(tn.randn(2, 784, dtype=tn.float64))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="linear: input of shape"):
        F.linear(tn.randn(2, 3), tn.randn(4, 5))


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    out = F.linear(tn.tensor(x, dtype=tn.float64), tn.tensor(w, dtype=tn.float64), tn.tensor(b, dtype=tn.float64))
    ref = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12)


def test_flatten_unflatten_identity():
    x = tn.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)
    assert nn.Unflatten(1, (-1, 4, 5))(nn.Flatten()(x)).shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match="cannot be split"):
        nn.Unflatten(1, (7, 9))(nn.Flatten()(x))
    assert nn.Identity(54, unused=1)(x) is x


# --- Dropout -----------------------------------------------------------------------------------
def test_dropout_train_scaling_and_eval_identity(device):
    tn.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = tn.ones(200, 100, device=device)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), 0)


def test_dropout_gradient_is_the_mask_and_seeded():
    x = tn.randn(50, requires_grad=True)
    tn.manual_seed(5)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    mask = (y.detach().numpy() != 0) * 2.0
    np.testing.assert_array_equal(x.grad.numpy(), mask)
    tn.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x, 0.5).detach().numpy(), y.detach().numpy())


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True])
def test_dropout_bad_p(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(tn.ones(2), p)


# --- BatchNorm ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,cls", [((8, 3), "BatchNorm1d"), ((6, 3, 5), "BatchNorm1d"),
                                       ((4, 3, 3, 2), "BatchNorm2d")])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_torch(shape, cls, momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    bn = getattr(nn, cls)(3, momentum=momentum).double()
    tbn = getattr(torch.nn, cls)(3, momentum=momentum).double()
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    bn.weight.array[...] = w
    bn.bias.array[...] = b
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(w))
        tbn.bias.copy_(torch.tensor(b))
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + step
        g = rng.standard_normal(shape)
        xt = tn.tensor(x, dtype=tn.float64, requires_grad=True)
        out = bn(xt)
        out.backward(tn.tensor(g, dtype=tn.float64))
        txt = torch.tensor(x, requires_grad=True)
        tout = tbn(txt)
        tout.backward(torch.tensor(g))
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(xt.grad.numpy(), txt.grad.numpy(), rtol=1e-8, atol=1e-11)
        np.testing.assert_allclose(bn.weight.grad.numpy(), tbn.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bn.bias.grad.numpy(), tbn.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
        bn.zero_grad()
        tbn.zero_grad()
    np.testing.assert_allclose(bn.running_mean.numpy(), tbn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-12)
    assert bn.num_batches_tracked.item() == tbn.num_batches_tracked.item() == 3
    bn.eval()
    tbn.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(bn(tn.tensor(x, dtype=tn.float64)).detach().numpy(),
                               tbn(torch.tensor(x)).detach().numpy(), rtol=1e-9, atol=1e-12)


def test_batchnorm_running_stats_formula(device):
    bn = nn.BatchNorm1d(2, momentum=0.5).to(device)
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]], dtype=np.float32)
    bn(tn.tensor(x, device=device))
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * x.var(axis=0, ddof=1), rtol=1e-6)
    bn.eval()
    out = bn(tn.tensor(x, device=device)).detach().numpy()
    expected = (x - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_batchnorm_options():
    x = tn.randn(5, 4, 3, 3)
    plain = nn.BatchNorm2d(4, affine=False, track_running_stats=False)
    assert list(plain.parameters()) == [] and plain.state_dict() == {}
    out = plain(x).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)
    plain.eval()  # without running statistics, eval still uses the batch's
    np.testing.assert_allclose(plain(x).numpy(), out, atol=1e-6)
    bn = nn.BatchNorm2d(4)
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def test_batchnorm_errors():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input with 3 channels \(axis 1\), got shape \(2, 4, 5, 5\)"):
        bn(tn.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected a 4-D"):
        bn(tn.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tn.randn(1, 3))
    nn.BatchNorm1d(3).eval()(tn.randn(1, 3))  # fine in eval mode
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)


def test_batch_norm_second_order():
    """The create_graph path of the backward is the exact derivative (gradgradcheck)."""
    rng = np.random.default_rng(1)
    x = tn.tensor(rng.standard_normal((4, 3)), dtype=tn.float64, requires_grad=True)
    w = tn.tensor(rng.uniform(0.5, 1.5, 3), dtype=tn.float64, requires_grad=True)
    b = tn.tensor(rng.standard_normal(3), dtype=tn.float64, requires_grad=True)

    def fn(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    assert tn.gradcheck(fn, (x, w, b))
    assert tn.gradgradcheck(fn, (x, w, b))


# --- init --------------------------------------------------------------------------------------
def test_init_statistics():
    tn.manual_seed(0)
    w = tn.empty(500, 400)
    fan_in, fan_out = 400, 500
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w.numpy()).max() <= a and abs(w.numpy().var() / (a * a / 3) - 1) < 0.02
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() / (2.0 * math.sqrt(2 / (fan_in + fan_out))) - 1) < 0.02
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(w.numpy()).max() <= bound and abs(w.numpy().var() / (bound ** 2 / 3) - 1) < 0.02
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() / (math.sqrt(2) / math.sqrt(fan_out)) - 1) < 0.02
    nn.init.normal_(w, 3.0, 0.5)
    assert abs(w.numpy().mean() - 3.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    nn.init.uniform_(w, -2, 4)
    assert w.numpy().min() >= -2 and w.numpy().max() <= 4 and abs(w.numpy().mean() - 1) < 0.02
    nn.init.zeros_(w)
    assert np.all(w.numpy() == 0)
    nn.init.ones_(w)
    assert np.all(w.numpy() == 1)
    nn.init.constant_(w, 0.25)
    assert np.all(w.numpy() == 0.25)
    nn.init.trunc_normal_(w, std=1.0, a=-1.0, b=1.0)
    assert np.abs(w.numpy()).max() <= 1.0


def test_init_conv_fans_gain_and_errors():
    w = tn.empty(16, 3, 5, 5)
    assert nn.init._calculate_fan_in_and_fan_out(w) == (75, 400)
    assert nn.init.calculate_gain("tanh") == 5 / 3
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert nn.init.calculate_gain("conv2d") == 1.0
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(tn.empty(5))
    with pytest.raises(ValueError, match="fan_in"):
        nn.init.kaiming_uniform_(w, mode="fan_middle")
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.init.zeros_(np.zeros(3))


def test_init_is_in_place_seeded_and_keeps_graph_clean(device):
    p = nn.Parameter(tn.zeros(3, 4, device=device))
    v = p._version[0]
    tn.manual_seed(7)
    out = nn.init.normal_(p)
    assert out is p and p.requires_grad and p.grad_fn is None and p._version[0] > v
    first = p.detach().numpy().copy()
    tn.manual_seed(7)
    nn.init.normal_(p)
    np.testing.assert_array_equal(first, p.detach().numpy())


# --- activation and loss modules -----------------------------------------------------------------
def test_activation_modules_call_functional():
    x = tn.tensor([[-2.0, -0.5, 0.0, 1.5]])
    assert nn.ReLU()(x).tolist() == [[0.0, 0.0, 0.0, 1.5]]
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh(x.numpy()), rtol=1e-6)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).numpy().sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(nn.LogSoftmax(dim=-1)(x).numpy()).sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).numpy(), np.where(x.numpy() > 0, x.numpy(), 0.1 * x.numpy()),
                               rtol=1e-6)
    np.testing.assert_allclose(nn.SiLU()(x).numpy(), x.numpy() / (1 + np.exp(-x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(nn.ELU()(x).numpy(), np.where(x.numpy() > 0, x.numpy(), np.expm1(x.numpy())),
                               rtol=1e-6)
    np.testing.assert_allclose(nn.Softplus()(x).numpy(), np.log1p(np.exp(x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(nn.Softsign()(x).numpy(), x.numpy() / (1 + np.abs(x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(nn.GELU()(x).numpy(), F.gelu(x).numpy())
    np.testing.assert_allclose(nn.GELU("tanh")(x).numpy(), F.gelu(x, approximate="tanh").numpy())
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_loss_modules_match_functional():
    rng = np.random.default_rng(0)
    logits = tn.tensor(rng.standard_normal((6, 4)))
    labels = tn.tensor(rng.integers(0, 4, 6))
    pred = tn.tensor(rng.standard_normal((6, 1)))
    target = tn.tensor(rng.standard_normal((6, 1)))
    prob = tn.tensor(rng.uniform(0.1, 0.9, (6, 1)))
    binary = tn.tensor(rng.integers(0, 2, (6, 1)).astype(np.float32))
    pairs = [
        (nn.MSELoss()(pred, target), F.mse_loss(pred, target)),
        (nn.MSELoss(reduction="sum")(pred, target), F.mse_loss(pred, target, reduction="sum")),
        (nn.L1Loss()(pred, target), F.l1_loss(pred, target)),
        (nn.BCELoss()(prob, binary), F.binary_cross_entropy(prob, binary)),
        (nn.BCEWithLogitsLoss()(pred, binary), F.binary_cross_entropy_with_logits(pred, binary)),
        (nn.BCEWithLogitsLoss(pos_weight=tn.tensor([2.0]))(pred, binary),
         F.binary_cross_entropy_with_logits(pred, binary, pos_weight=tn.tensor([2.0]))),
        (nn.CrossEntropyLoss()(logits, labels), F.cross_entropy(logits, labels)),
        (nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels), F.cross_entropy(logits, labels, label_smoothing=0.1)),
        (nn.CrossEntropyLoss(weight=tn.tensor([1.0, 2.0, 0.5, 1.0]), reduction="none")(logits, labels),
         F.cross_entropy(logits, labels, weight=tn.tensor([1.0, 2.0, 0.5, 1.0]), reduction="none")),
        (nn.NLLLoss(ignore_index=0)(F.log_softmax(logits, dim=1), labels),
         F.nll_loss(F.log_softmax(logits, dim=1), labels, ignore_index=0)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


def test_seed_000_losses():
    """The seed-000 worked examples, with their corrected values."""
    mse = nn.MSELoss()(tn.tensor([1.1, 1.9, 2.8]), tn.tensor([1.0, 2.0, 3.0]))
    assert abs(mse.item() - 0.02) < 1e-6  # the document says 0.1
    # Cross-entropy -sum(y * ln(y_hat)) of the document's example (it says 0.356).
    y, y_hat = tn.tensor([1.0, 0.0, 1.0]), tn.tensor([0.7, 0.3, 0.6])
    ce = -(y * y_hat.log()).sum()
    assert abs(ce.item() - 0.8675) < 1e-4


# --- penalties -------------------------------------------------------------------------------------
def test_l1_l2_penalties_and_gradients():
    lin = nn.Linear(3, 2).double()
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    l1 = nn.l1_penalty(lin.parameters())
    l2 = nn.l2_penalty(lin.parameters())
    assert abs(l1.item() - (np.abs(w).sum() + np.abs(b).sum())) < 1e-12
    assert abs(l2.item() - ((w ** 2).sum() + (b ** 2).sum())) < 1e-12
    (0.5 * l2 + 0.1 * l1).backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), w + 0.1 * np.sign(w), rtol=1e-12)
    with pytest.raises(ValueError, match="no parameters"):
        nn.l2_penalty([])
