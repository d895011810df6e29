"""The small systems of the seed documents, built with nn + optim and trained from scratch.

The values below are the correct ones where the documents err:
* seed 003's momentum rule ``v = γv − lr·∇θ; θ = θ + v`` is SGD(momentum=γ) at constant lr;
* seed 003's 1-10-1 MLP regression (100 samples, MSE, gradient descent);
* seed 001's logistic unit: σ(θ1·1 + θ2·0 + b) with θ1 = 1, b = 0.5 is σ(1.5) = 0.8176 (the
  document says ≈ 0.77), and its BCE gradient with respect to z is ŷ − t;
* seed 004's 2-3-1 network: one output unit must use a sigmoid (a one-unit softmax is always 1).
"""
import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim


def test_seed003_momentum_rule_is_sgd_with_momentum():
    """Textbook momentum (v ← γv − lr·g; θ ← θ + v) and PyTorch-style SGD(momentum=γ),
    run on the same quadratic bowl, give the same trajectory."""
    gamma, lr = 0.9, 0.05
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    start = np.array([2.0, -1.5])

    def grad(theta):
        return A @ theta  # ∇ of ½ θᵀAθ

    theta, v = start.copy(), np.zeros(2)
    textbook = []
    for _ in range(80):
        v = gamma * v - lr * grad(theta)
        theta = theta + v
        textbook.append(theta.copy())

    p = nn.Parameter(tn.tensor(start, dtype=tn.float64))
    opt = optim.SGD([p], lr=lr, momentum=gamma)
    At = tn.tensor(A, dtype=tn.float64)
    ours = []
    for _ in range(80):
        opt.zero_grad()
        loss = 0.5 * (p @ (At @ p))
        loss.backward()
        opt.step()
        ours.append(p.detach().numpy().copy())
    np.testing.assert_allclose(np.array(ours), np.array(textbook), rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(ours[-1]) < 0.1 * np.linalg.norm(start)  # and it converges


def test_seed003_mlp_1_10_1_regression_fits_noisy_curve():
    tn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = np.linspace(-3, 3, 100).reshape(-1, 1)
    y = np.sin(x) + 0.1 * rng.standard_normal(x.shape)
    xt, yt = tn.tensor(x, dtype=tn.float32), tn.tensor(y, dtype=tn.float32)
    model = nn.Sequential(nn.Linear(1, 10), nn.Tanh(), nn.Linear(10, 1))
    opt = optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.MSELoss()
    first = loss_fn(model(xt), yt).item()
    for _ in range(600):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
    final = loss.item()
    assert final < 0.1 * float(y.var())  # far below predicting the mean
    assert final < 0.03  # the noise variance is 0.01
    assert final < first


def test_seed001_logistic_unit_value_and_gradient():
    theta = nn.Parameter(tn.tensor([1.0, 0.0], dtype=tn.float64))  # θ1 = 1 (θ2 multiplies x2 = 0)
    b = nn.Parameter(tn.tensor(0.5, dtype=tn.float64))
    x = tn.tensor([1.0, 0.0], dtype=tn.float64)
    y_hat = F.sigmoid((theta * x).sum() + b)
    assert y_hat.item() == pytest.approx(0.8176, abs=1e-4)  # the document says ≈ 0.77
    assert y_hat.item() == pytest.approx(1 / (1 + np.exp(-1.5)), rel=1e-12)
    # BCE with label t = 1: dL/dz = ŷ − t, so dL/db = ŷ − 1 and dL/dθ1 = (ŷ − 1)·x1.
    loss = F.binary_cross_entropy(y_hat.reshape(1), tn.tensor([1.0], dtype=tn.float64))
    loss.backward()
    assert b.grad.item() == pytest.approx(y_hat.item() - 1.0, rel=1e-10)
    np.testing.assert_allclose(theta.grad.numpy(), [y_hat.item() - 1.0, 0.0], rtol=1e-10)


def test_seed001_logistic_regression_separates_2d_set():
    tn.manual_seed(0)
    rng = np.random.default_rng(1)
    pos = rng.normal([2.0, 2.0], 0.6, size=(50, 2))
    neg = rng.normal([-2.0, -1.0], 0.6, size=(50, 2))
    x = np.concatenate([pos, neg]).astype(np.float32)
    t = np.concatenate([np.ones(50), np.zeros(50)]).astype(np.float32).reshape(-1, 1)
    unit = nn.Linear(2, 1)
    opt = optim.SGD(unit.parameters(), lr=0.5)
    xt, tt = tn.tensor(x), tn.tensor(t)
    for _ in range(100):
        opt.zero_grad()
        loss = F.binary_cross_entropy(F.sigmoid(unit(xt)), tt)
        loss.backward()
        opt.step()
    pred = (F.sigmoid(unit(xt)).detach().numpy() > 0.5).astype(np.float32)
    assert (pred == t).mean() == 1.0
    assert loss.item() < 0.1


def test_seed004_2_3_1_network_with_sigmoid_output():
    # The document's one-unit softmax is constant: softmax over one output is always 1.
    z = tn.randn(5, 1)
    np.testing.assert_array_equal(F.softmax(z, dim=1).numpy(), 1.0)
    # Corrected: a 2-3-1 network with a sigmoid output, trained with BCE on XOR-like data
    # (needs the hidden layer: no single line separates it).
    tn.manual_seed(0)
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(200, 2)).astype(np.float32)
    t = ((x[:, 0] * x[:, 1]) > 0).astype(np.float32).reshape(-1, 1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    opt = optim.Adam(model.parameters(), lr=0.1)
    xt, tt = tn.tensor(x), tn.tensor(t)
    for _ in range(400):
        opt.zero_grad()
        loss = F.binary_cross_entropy(model(xt), tt)
        loss.backward()
        opt.step()
    acc = ((model(xt).detach().numpy() > 0.5) == t).mean()
    assert acc >= 0.9
    # Hidden-layer error (seed 004, corrected): δ_j = f'(z_j) Σ_k δ_k w_kj equals autograd's gradient.
    lin1, lin2 = model[0], model[2]
    xs = tn.tensor(x[:4])
    h_pre = lin1(xs)
    y = model(xs)
    loss = F.binary_cross_entropy(y, tn.tensor(t[:4]), reduction="sum")
    model.zero_grad()
    loss.backward()
    delta_k = (y.detach().numpy() - t[:4])  # dL/d(output pre-activation) for sigmoid + BCE
    f_prime = 1 - np.tanh(h_pre.detach().numpy()) ** 2
    delta_j = f_prime * (delta_k @ lin2.weight.detach().numpy())
    np.testing.assert_allclose(lin1.weight.grad.numpy(), delta_j.T @ x[:4], rtol=1e-4, atol=1e-6)
