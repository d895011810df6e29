"""The reference workloads W1–W5, written once for tinynet and PyTorch.

A builder takes a :class:`~benchmarks.frameworks.Lib` and returns ``step()``: one
training step (zero_grad, forward, loss, backward, optimizer step) on fixed random
float32 data. Builders use only the public, PyTorch-shaped API, so the same code runs
on both frameworks; if a piece tinynet has not built yet is missing, building raises
and the suite prints "not available: <error>" instead of a number.

Also here: W4-raw (W4 from raw tensor ops and a hand-written SGD update, the per-op
overhead test of issue 2) and W4 in NumPy by hand (the no-autograd floor), plus the
GEMM the W5 rate is compared against.
"""
from __future__ import annotations

import numpy as np

# --- W1: MLP 784-256-128-10, ReLU, batch 128, cross-entropy / Adam(1e-3) -----------------


def w1(lib, batch=128):
    nn, F = lib.nn, lib.F
    rng = np.random.default_rng(0)
    lib.seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    model = model.to(lib.device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, batch).astype(np.int64))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


# --- W2: small CNN, batch 64, cross-entropy / SGD(0.01, momentum 0.9) --------------------


def w2(lib, batch=64):
    nn, F = lib.nn, lib.F
    rng = np.random.default_rng(0)
    lib.seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10),
    ).to(lib.device)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = lib.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, batch).astype(np.int64))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


# --- W3: GPT-mini, batch 32, cross-entropy over all positions / AdamW(3e-4) -------------


def gpt_mini(lib, vocab=65, context=64, d_model=128, heads=4, layers=2):
    """A decoder-only Transformer (pre-LayerNorm, causal attention, GELU MLP 4x, learned
    positions, untied head), written with the shared nn/F API so both frameworks build the
    same network."""
    nn, F = lib.nn, lib.F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(d_model)
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)
            self.ln2 = nn.LayerNorm(d_model)
            self.fc1 = nn.Linear(d_model, 4 * d_model)
            self.fc2 = nn.Linear(4 * d_model, d_model)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).reshape(B, T, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(B, T, C))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, d_model)
            self.pos = nn.Embedding(context, d_model)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.ln = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab)

        def forward(self, idx, positions):
            return self.head(self.ln(self.blocks(self.tok(idx) + self.pos(positions))))

    return GPT()


def w3(lib, batch=32, context=64, vocab=65):
    F = lib.F
    rng = np.random.default_rng(0)
    lib.seed(0)
    model = gpt_mini(lib, vocab=vocab, context=context).to(lib.device)
    opt = lib.optim.AdamW(model.parameters(), lr=3e-4)
    idx = lib.tensor(rng.integers(0, vocab, (batch, context)).astype(np.int64))
    tgt = lib.tensor(rng.integers(0, vocab, (batch * context,)).astype(np.int64))
    pos = lib.tensor(np.arange(context, dtype=np.int64))

    def step():
        opt.zero_grad()
        logits = model(idx, pos)
        loss = F.cross_entropy(logits.reshape(batch * context, vocab), tgt)
        loss.backward()
        opt.step()
        return loss
    return step


# --- W4: tiny MLP 2-16-16-1, tanh, batch 32, MSE / SGD(0.1) ------------------------------


def _w4_data(lib, batch):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.uniform(-1, 1, (batch, 2)).astype(np.float32))
    t = lib.tensor(rng.uniform(-1, 1, (batch, 1)).astype(np.float32))
    return x, t


def w4(lib, batch=32):
    """W4 with nn.Sequential, nn.MSELoss and optim.SGD."""
    nn = lib.nn
    lib.seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)).to(lib.device)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    x, t = _w4_data(lib, batch)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        return loss
    return step


def _w4_params(batch):
    rng = np.random.default_rng(1)
    shapes = [(2, 16), (16,), (16, 16), (16,), (16, 1), (1,)]
    return [(rng.standard_normal(s) * (0.5 if len(s) == 2 else 0.1)).astype(np.float32) for s in shapes]


def w4_raw(lib, batch=32, lr=0.1):
    """W4 from raw tensor ops: x @ W + b, tanh, ((y - t)**2).mean(), SGD as ``p -= lr * p.grad``."""
    mod = lib.mod
    tanh = mod.tanh
    params = [lib.tensor(p, requires_grad=True) for p in _w4_params(batch)]
    w1_, b1, w2_, b2, w3_, b3 = params
    x, t = _w4_data(lib, batch)

    def step():
        for p in params:
            p.grad = None
        h = tanh(x @ w1_ + b1)
        h = tanh(h @ w2_ + b2)
        y = h @ w3_ + b3
        loss = ((y - t) ** 2).mean()
        loss.backward()
        with mod.no_grad():
            for p in params:
                p -= lr * p.grad
        return loss
    return step


def w4_numpy(batch=32, lr=0.1):
    """W4 in NumPy by hand: forward, backward and update written out (no autograd)."""
    params = _w4_params(batch)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, 2)).astype(np.float32)
    t = rng.uniform(-1, 1, (batch, 1)).astype(np.float32)
    w1_, b1, w2_, b2, w3_, b3 = params
    n = np.float32(2.0 / t.size)

    def step():
        h1 = np.tanh(x @ w1_ + b1)
        h2 = np.tanh(h1 @ w2_ + b2)
        y = h2 @ w3_ + b3
        d = y - t
        loss = (d * d).mean()
        gy = d * n
        gw3 = h2.T @ gy
        gb3 = gy.sum(0)
        gz2 = (gy @ w3_.T) * (1 - h2 * h2)
        gw2 = h1.T @ gz2
        gb2 = gz2.sum(0)
        gz1 = (gz2 @ w2_.T) * (1 - h1 * h1)
        gw1 = x.T @ gz1
        gb1 = gz1.sum(0)
        for p, g in zip(params, (gw1, gb1, gw2, gb2, gw3, gb3)):
            p -= lr * g
        return loss
    return step


# --- W5: one Linear 2048->2048 forward+backward, batch 512 ------------------------------

W5_SHAPE = (512, 2048, 2048)  # batch, in, out


def w5_flops(batch=512, n_in=2048, n_out=2048) -> float:
    """Forward (x W^T) plus backward (dX = dY W and dW = dY^T X): three GEMMs of 2·B·I·O."""
    return 3 * 2.0 * batch * n_in * n_out


def w5(lib, batch=512, n_in=2048, n_out=2048):
    """Linear fwd+bwd with the input requiring grad, so backward runs both GEMMs."""
    rng = np.random.default_rng(0)
    lib.seed(0)
    layer = lib.nn.Linear(n_in, n_out).to(lib.device)
    x = lib.tensor(rng.standard_normal((batch, n_in)).astype(np.float32), requires_grad=True)

    def step():
        layer.weight.grad = None
        layer.bias.grad = None
        x.grad = None
        layer(x).sum().backward()
    return step


def w5_raw(lib, batch=512, n_in=2048, n_out=2048):
    """W5 from raw ops (x @ W^T + b), for when nn is not built, and to see nn's overhead."""
    rng = np.random.default_rng(0)
    w = lib.tensor((rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32), requires_grad=True)
    b = lib.tensor(np.zeros(n_out, np.float32), requires_grad=True)
    x = lib.tensor(rng.standard_normal((batch, n_in)).astype(np.float32), requires_grad=True)

    def step():
        w.grad = b.grad = x.grad = None
        (x @ w.T + b).sum().backward()
    return step


def numpy_gemm(batch=512, n_in=2048, n_out=2048):
    """NumPy's raw float32 GEMM for W5's forward shape: the ceiling W5 is compared with."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)

    def step():
        return x @ w.T
    return step


WORKLOADS = {
    "W1": ("MLP 784-256-128-10 ReLU, batch 128, CE/Adam", w1),
    "W2": ("CNN conv16-pool-conv32-pool-fc, batch 64, CE/SGD+momentum", w2),
    "W3": ("GPT-mini 2x(d128, 4 heads), ctx 64, batch 32, CE/AdamW", w3),
    "W4": ("MLP 2-16-16-1 tanh, batch 32, MSE/SGD (nn + optim)", w4),
    "W4-raw": ("W4 from raw tensor ops + hand-written SGD", w4_raw),
    "W5": ("Linear 2048->2048 fwd+bwd, batch 512", w5),
    "W5-raw": ("W5 from raw ops x @ W.T + b", w5_raw),
}
