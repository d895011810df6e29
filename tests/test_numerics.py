"""Numerical stability and dtype of activations and losses.

Logits of ±1e4 (far beyond exp's float32 range of about ±88) must give finite outputs
and finite gradients with no overflow / divide / invalid RuntimeWarning, on every
device; float32 inputs give float32 outputs and float32 gradients.
"""
import warnings

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F

BIG = [[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, -1e4, 2.0]]


class _strict:
    """Turn floating-point trouble into errors: NumPy overflow/divide/invalid and any warning."""

    def __enter__(self):
        self._err = np.errstate(over="raise", divide="raise", invalid="raise")
        self._err.__enter__()
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("error")
        return self

    def __exit__(self, *exc):
        self._warn.__exit__(*exc)
        self._err.__exit__(*exc)
        return False


def _wide(rows, C, dtype):
    """BIG padded to C classes (C > 16 takes the NumPy path on cpu, C <= 16 the kernel)."""
    x = np.full((rows, C), -3.0)
    x[:, :4] = np.asarray(BIG)[:rows]
    return tn.tensor(x, dtype=dtype)


LOSSES = {
    "softmax": lambda x, t: (F.softmax(x, dim=1) * tn.arange(x.shape[1], dtype=x.dtype, device=x.device)).sum(),
    "log_softmax": lambda x, t: (F.log_softmax(x, dim=1) * tn.ones_like(x) * 0.1).sum(),
    "log_softmax_axis0": lambda x, t: F.log_softmax(x, dim=0).sum(),
    "cross_entropy": lambda x, t: F.cross_entropy(x, t),
    "cross_entropy_smoothing_sum": lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1, reduction="sum"),
    "cross_entropy_weighted": lambda x, t: F.cross_entropy(x, t, weight=tn.ones(x.shape[1], dtype=x.dtype, device=x.device)),
    "nll_of_log_softmax": lambda x, t: F.nll_loss(F.log_softmax(x, dim=1), t),
    "sigmoid": lambda x, t: F.sigmoid(x).sum(),
    "bce_with_logits": lambda x, t: F.binary_cross_entropy_with_logits(x, (x.detach() > 0).to(x.dtype)),
    "bce_with_logits_pos_weight": lambda x, t: F.binary_cross_entropy_with_logits(
        x, tn.ones_like(x) * 0.5, pos_weight=tn.ones(x.shape[1], dtype=x.dtype, device=x.device) * 3),
    "tanh": lambda x, t: F.tanh(x).sum(),
    "gelu": lambda x, t: F.gelu(x).sum(),
    "gelu_tanh": lambda x, t: F.gelu(x, approximate="tanh").sum(),
    "silu": lambda x, t: F.silu(x).sum(),
    "softplus": lambda x, t: F.softplus(x).sum(),
    "elu": lambda x, t: F.elu(x).sum(),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("C", [4, 20])
@pytest.mark.parametrize("dtype", [tn.float32, tn.float64])
def test_extreme_logits_are_finite_and_warning_free(device, name, C, dtype):
    x = _wide(3, C, dtype).to(device).requires_grad_()
    t = tn.tensor([0, 3, 2], device=device)
    with _strict():
        loss = LOSSES[name](x, t)
        loss.backward()
    out = loss.detach().numpy()
    grad = x.grad.numpy()
    assert np.isfinite(out).all(), f"{name}: loss {out}"
    assert np.isfinite(grad).all(), f"{name}: grad {grad}"
    assert loss.dtype == dtype and x.grad.dtype == dtype


@pytest.mark.parametrize("C", [4, 20])
def test_softmax_extreme_values_are_right(device, C):
    x = _wide(3, C, tn.float32).to(device)
    with _strict():
        p = F.softmax(x, dim=1).numpy()
        lp = F.log_softmax(x, dim=1).numpy()
        ce = F.cross_entropy(x, tn.tensor([1, 0, 0], device=device), reduction="none").numpy()
    np.testing.assert_allclose(p[0, :4], [1, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(p[2, :2], [0.5, 0.5], atol=1e-7)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    assert lp[0, 1] == pytest.approx(-2e4, rel=1e-6)  # not -inf: computed as x - logsumexp
    assert ce[0] == pytest.approx(2e4, rel=1e-6)
    assert ce[2] == pytest.approx(np.log(2), rel=1e-5)


def test_sigmoid_and_bce_with_logits_saturate_exactly(device):
    z = tn.tensor([-1e4, -50.0, 0.0, 50.0, 1e4], device=device, requires_grad=True)
    with _strict():
        s = F.sigmoid(z)
        s.sum().backward()
    np.testing.assert_allclose(s.detach().numpy(), [0, 1.9287e-22, 0.5, 1, 1], rtol=1e-4)
    np.testing.assert_allclose(z.grad.numpy(), [0, 1.9287e-22, 0.25, 0, 0], rtol=1e-4, atol=0)
    # BCE with logits: z = -1e4 with target 1 costs exactly 1e4 (softplus(1e4) = 1e4).
    z2 = tn.tensor([-1e4, 1e4], device=device, requires_grad=True)
    with _strict():
        loss = F.binary_cross_entropy_with_logits(z2, tn.tensor([1.0, 1.0], device=device), reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), [1e4, 0], rtol=1e-6)
    np.testing.assert_allclose(z2.grad.numpy(), [-1, 0], atol=1e-7)


def test_bce_clamps_log_of_zero(device):
    """Probabilities of exactly 0 and 1 give the clamped loss 100 (PyTorch), not inf/nan."""
    p = tn.tensor([0.0, 1.0, 0.0, 1.0], device=device, requires_grad=True)
    t = tn.tensor([1.0, 0.0, 0.0, 1.0], device=device)
    with _strict():
        loss = F.binary_cross_entropy(p, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), [100, 100, 0, 0])
    assert np.isfinite(p.grad.numpy()).all()


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_float32_in_float32_out(device, name):
    rng = np.random.default_rng(0)
    x = tn.tensor(rng.standard_normal((3, 5)), dtype=tn.float32, device=device, requires_grad=True)
    t = tn.tensor([0, 4, 2], device=device)
    loss = LOSSES[name](x, t)
    loss.backward()
    assert loss.dtype == tn.float32
    assert x.grad.dtype == tn.float32


@pytest.mark.parametrize("fn", [F.sigmoid, F.relu, F.tanh, F.gelu, F.silu, F.softplus, F.elu, F.hardtanh,
                                F.leaky_relu, lambda x: F.softmax(x, dim=1), lambda x: F.log_softmax(x, dim=1)])
def test_activation_keeps_float32(device, fn):
    x = tn.randn(2, 3, device=device, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    assert y.dtype == tn.float32 and x.grad.dtype == tn.float32 and y.shape == (2, 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_float32_losses(device, reduction):
    a = tn.randn(4, 3, device=device, requires_grad=True)
    b = tn.rand(4, 3, device=device)
    for loss in (F.mse_loss(a, b, reduction=reduction), F.l1_loss(a, b, reduction=reduction),
                 F.binary_cross_entropy(F.sigmoid(a), b, reduction=reduction),
                 F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
                 F.cross_entropy(a, tn.tensor([0, 1, 2, 1], device=device), reduction=reduction),
                 F.nll_loss(a, tn.tensor([0, 1, 2, 1], device=device), reduction=reduction)):
        assert loss.dtype == tn.float32
        a.grad = None
        loss.sum().backward()
        assert a.grad.dtype == tn.float32
