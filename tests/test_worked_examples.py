"""The seed documents' worked examples for activations and losses, with the correct values.

Several of the documents' numbers are wrong; each test's docstring says what the document
claims and why it is wrong, and the test asserts the correct value computed by tinynet.
"""
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F


def _t(values, **kw):
    return tn.tensor(values, dtype=tn.float64, **kw)


def test_sigmoid_of_minus_two():
    """Seed 000: sigmoid(-2) ≈ 0.118. Correct: 1 / (1 + e^2) = 0.11920 (≈ 0.1192); the
    document's 0.118 is a rounding slip, off in the third decimal."""
    assert F.sigmoid(_t(-2.0)).item() == pytest.approx(0.1192029, abs=1e-7)
    assert round(F.sigmoid(_t(-2.0)).item(), 4) == 0.1192


def test_relu_of_minus_two():
    """Seed 000: ReLU(-2) = 0. The document is right: max(-2, 0) = 0."""
    assert F.relu(_t(-2.0)).item() == 0.0


def test_tanh_of_minus_two():
    """Seed 000: tanh(-2) ≈ -0.7616. Wrong: -0.7616 is tanh(-1). tanh(-2) = -0.9640."""
    assert F.tanh(_t(-2.0)).item() == pytest.approx(-0.9640276, abs=1e-7)
    assert F.tanh(_t(-1.0)).item() == pytest.approx(-0.7615942, abs=1e-7)  # the document's number


def test_mse_example():
    """Seed 000: MSE of y = [1, 2, 3], ŷ = [1.1, 1.9, 2.8] is 0.1. Wrong: the squared errors
    are 0.01, 0.01, 0.04, whose mean is 0.02 (their sum 0.06; neither is 0.1)."""
    y, y_hat = _t([1.0, 2.0, 3.0]), _t([1.1, 1.9, 2.8])
    assert F.mse_loss(y_hat, y).item() == pytest.approx(0.02, abs=1e-12)
    assert F.mse_loss(y_hat, y, reduction="sum").item() == pytest.approx(0.06, abs=1e-12)


def test_cross_entropy_example():
    """Seed 000: CE of y = [1, 0, 1], ŷ = [0.7, 0.3, 0.6] with natural log, summed, ≈ 0.356.
    Wrong: -(ln 0.7 + ln 0.6) = 0.3567 + 0.5108 = 0.8675; the document's 0.356 is -ln 0.7
    alone (the third term was dropped)."""
    y, y_hat = _t([1.0, 0.0, 1.0]), _t([0.7, 0.3, 0.6])
    ce = -(y * tn.log(y_hat)).sum()
    assert ce.item() == pytest.approx(0.8675, abs=1e-4)
    assert ce.item() == pytest.approx(-math.log(0.7) - math.log(0.6), abs=1e-12)
    # The same number through nll_loss on log-probabilities of the two true positions.
    logp = tn.log(_t([[0.7, 0.3], [0.6, 0.4]]))
    assert F.nll_loss(logp, tn.tensor([0, 0]), reduction="sum").item() == pytest.approx(0.8675, abs=1e-4)


def test_logistic_unit_output():
    """Seed 001: σ(θ1·1 + θ2·0 + b) with θ1 = 1, b = 0.5 is ≈ 0.77. Wrong: the pre-activation
    is 1·1 + θ2·0 + 0.5 = 1.5 whatever θ2 is, and σ(1.5) = 0.8176 (0.77 is σ(1.2))."""
    theta = _t([1.0, -0.7])
    x = _t([1.0, 0.0])
    b = _t(0.5)
    y = F.sigmoid((theta * x).sum() + b)
    assert y.item() == pytest.approx(0.8176, abs=1e-4)


def test_bce_gradient_of_logistic_unit():
    """Seed 001: for L = BCE, ∂L/∂y = 1 − y. Wrong: the document uses one y for both the label
    and the prediction. With label t and prediction ŷ = σ(z): ∂L/∂ŷ = (ŷ − t) / (ŷ (1 − ŷ)),
    and through the sigmoid ∂L/∂z = ŷ − t. Checked with autograd, for t = 1 and t = 0."""
    for t in (1.0, 0.0):
        z = _t(1.5, requires_grad=True)
        y_hat = F.sigmoid(z)
        y_hat.retain_grad()
        loss = F.binary_cross_entropy(y_hat, _t(t))
        loss.backward()
        p = 1 / (1 + math.exp(-1.5))
        assert y_hat.grad.item() == pytest.approx((p - t) / (p * (1 - p)), rel=1e-10)
        assert z.grad.item() == pytest.approx(p - t, rel=1e-10)
        # The logits form gives the same gradient without going through ŷ.
        z2 = _t(1.5, requires_grad=True)
        F.binary_cross_entropy_with_logits(z2, _t(t)).backward()
        assert z2.grad.item() == pytest.approx(p - t, rel=1e-10)


def test_mse_gradient_has_one_over_n():
    """Seed 003: for ŷ = w x + b and L = MSE, ∂L/∂w = −2 Σ (y − ŷ) x. Wrong by a factor n:
    L is a *mean*, so ∂L/∂w = −(2/n) Σ (y − ŷ) x (the document's formula is the gradient
    of the summed squared error). Checked with autograd."""
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal(8), rng.standard_normal(8)
    w = _t(0.3, requires_grad=True)
    b = _t(-0.2, requires_grad=True)
    y_hat = w * _t(xs) + b
    F.mse_loss(y_hat, _t(ys)).backward()
    pred = 0.3 * xs - 0.2
    n = len(xs)
    assert w.grad.item() == pytest.approx(-(2 / n) * np.sum((ys - pred) * xs), rel=1e-10)
    assert b.grad.item() == pytest.approx(-(2 / n) * np.sum(ys - pred), rel=1e-10)
    assert w.grad.item() != pytest.approx(-2 * np.sum((ys - pred) * xs), rel=1e-3)


def test_one_unit_softmax_is_always_one():
    """Seed 004: a softmax over a single output neuron is used as a classifier. It cannot
    work: softmax(z) = e^z / e^z = 1 for every z, so the output carries no information
    and its gradient is 0. Use sigmoid on one unit, or softmax over two units."""
    z = _t([[-30.0], [-1.0], [0.0], [2.5], [40.0]], requires_grad=True)
    p = F.softmax(z, dim=1)
    np.testing.assert_array_equal(p.detach().numpy(), np.ones((5, 1)))
    (p * _t(np.arange(5.0).reshape(5, 1))).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.zeros((5, 1)))
    # Two units do carry the information: softmax([z, 0])[0] = sigmoid(z).
    two = F.softmax(tn.cat([z.detach(), tn.zeros_like(z.detach())], dim=1), dim=1)
    np.testing.assert_allclose(two.numpy()[:, 0], F.sigmoid(z.detach()).numpy()[:, 0], rtol=1e-12)
