"""The reference workloads W1–W8, written once for tinynet and PyTorch.

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

def _supervised_step(model, opt, loss_fn, x, y):
    """One training step on the fixed batch (x, y): zero_grad, forward, loss, backward, step."""
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


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

    return _supervised_step(model, opt, F.cross_entropy, x, y)


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

    return _supervised_step(model, opt, F.cross_entropy, x, y)


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

    return _supervised_step(model, opt, loss_fn, x, t)


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


# --- W6: the pytorch/examples MNIST CNN, batch 64, NLL / Adadelta(1.0) --------------------
# github.com/pytorch/examples, mnist/main.py: the network and the optimizer as written there.


def mnist_cnn(lib):
    """conv 1->32 3x3, ReLU, conv 32->64 3x3, ReLU, max-pool 2, dropout .25, flatten (9216),
    fc 128, ReLU, dropout .5, fc 10, log-softmax."""
    nn, F = lib.nn, lib.F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout1(F.max_pool2d(x, 2))
            x = self.dropout2(F.relu(self.fc1(x.flatten(1))))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def w6(lib, batch=64):
    F = lib.F
    rng = np.random.default_rng(0)
    lib.seed(0)
    model = mnist_cnn(lib).to(lib.device)
    model.train()
    opt = lib.optim.Adadelta(model.parameters(), lr=1.0)
    x = lib.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, batch).astype(np.int64))

    return _supervised_step(model, opt, F.nll_loss, x, y)


# --- W7: nanoGPT's character-level CPU configuration, batch 12 / AdamW(1e-3) -----------------
# github.com/karpathy/nanoGPT, README "I only have a macbook": block 64, batch 12, 4 layers,
# 4 heads, 128 wide, dropout 0; model.py's GPT with its defaults (no biases, tied embedding,
# exact GELU), train.py's AdamW (weight decay 0.1 on matrices only, betas 0.9/0.99 as in
# config/train_shakespeare_char.py) and gradient clipping at 1.0.


def nanogpt(lib, vocab=65, block=64, n_layer=4, n_head=4, n_embd=128):
    nn, F = lib.nn, lib.F

    class LayerNorm(nn.Module):  # nanoGPT's LayerNorm "with an optional bias" (here none)
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(lib.mod.ones(n))

        def forward(self, x):
            return F.layer_norm(x, self.weight.shape, self.weight, None, 1e-5)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = LayerNorm(n_embd)
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=False)
            self.attn_proj = nn.Linear(n_embd, n_embd, bias=False)
            self.ln_2 = LayerNorm(n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=False)
            self.gelu = nn.GELU()
            self.mlp_proj = nn.Linear(4 * n_embd, n_embd, bias=False)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(n_embd, dim=2)
            q = q.view(B, T, n_head, C // n_head).transpose(1, 2)
            k = k.view(B, T, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, T, n_head, C // n_head).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
            x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.mlp_proj(self.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, n_embd)
            self.wpe = nn.Embedding(block, n_embd)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT

        def forward(self, idx, targets):
            pos = lib.mod.arange(0, idx.shape[1], dtype=lib.mod.long, device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for blk in self.h:
                x = blk(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), ignore_index=-1)

    return GPT()


def w7(lib, batch=12, block=64, vocab=65):
    rng = np.random.default_rng(0)
    lib.seed(0)
    model = nanogpt(lib, vocab=vocab, block=block).to(lib.device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = lib.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                          lr=1e-3, betas=(0.9, 0.99))
    idx = lib.tensor(rng.integers(0, vocab, (batch, block)).astype(np.int64))
    tgt = lib.tensor(rng.integers(0, vocab, (batch, block)).astype(np.int64))

    def step():
        loss = model(idx, tgt)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss
    return step


# --- W8: the pytorch/examples word-level LSTM language model, SGD(20) with clipping ---------
# github.com/pytorch/examples, word_language_model: RNNModel("LSTM", ntoken, 200, 200, 2,
# dropout 0.2), sequences (35, 20) time-major, NLL of log-softmax, gradients clipped to 0.25,
# the update written by hand (p.data.add_(p.grad, alpha=-lr)), hidden state detached between
# batches. Here a 10k-word vocabulary (WikiText-2 has 33k).


def word_lstm(lib, ntoken=10000, ninp=200, nhid=200, nlayers=2, dropout=0.2):
    nn, F = lib.nn, lib.F

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)

        def forward(self, inp, hidden):
            emb = self.drop(self.encoder(inp))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, ntoken)
            return F.log_softmax(decoded, dim=1), hidden

    return RNNModel()


def w8(lib, bptt=35, batch=20, ntoken=10000, nhid=200, nlayers=2, lr=20.0, clip=0.25):
    F = lib.F
    rng = np.random.default_rng(0)
    lib.seed(0)
    model = word_lstm(lib, ntoken=ntoken, nhid=nhid, nlayers=nlayers).to(lib.device)
    model.train()
    data = lib.tensor(rng.integers(0, ntoken, (bptt, batch)).astype(np.int64))
    targets = lib.tensor(rng.integers(0, ntoken, (bptt * batch,)).astype(np.int64))
    zeros = np.zeros((nlayers, batch, nhid), np.float32)
    hidden = [(lib.tensor(zeros), lib.tensor(zeros))]

    def step():
        h = tuple(t.detach() for t in hidden[0])  # repackage_hidden
        model.zero_grad()
        output, new_hidden = model(data, h)
        loss = F.nll_loss(output, targets)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        hidden[0] = new_hidden
        return loss
    return step


WORKLOADS = {
    "W1": ("MLP 784-256-128-10 ReLU, batch 128, CE/Adam", w1),
    "W2": ("CNN conv16-pool-conv32-pool-fc, batch 64, CE/SGD+momentum", w2),
    "W3": ("GPT-mini 2x(d128, 4 heads), ctx 64, batch 32, CE/AdamW", w3),
    "W4": ("MLP 2-16-16-1 tanh, batch 32, MSE/SGD (nn + optim)", w4),
    "W4-raw": ("W4 from raw tensor ops + hand-written SGD", w4_raw),
    "W5": ("Linear 2048->2048 fwd+bwd, batch 512", w5),
    "W5-raw": ("W5 from raw ops x @ W.T + b", w5_raw),
    "W6": ("pytorch/examples MNIST CNN (conv32-conv64-pool-fc128), batch 64, NLL/Adadelta", w6),
    "W7": ("nanoGPT char CPU config 4x(d128, 4 heads), block 64, batch 12, AdamW+clip", w7),
    "W8": ("word LSTM LM 2x200, 35 steps, batch 20, 10k vocab, SGD+clip", w8),
}
