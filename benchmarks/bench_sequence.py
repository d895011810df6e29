"""Sequence-model benchmarks: W3 (GPT-mini training step) and an LSTM training step,
tinynet against PyTorch CPU in the same run, alternating A B A B (median of rounds).

    python -m benchmarks.bench_sequence                 # W3 + LSTM, default rounds
    python -m benchmarks.bench_sequence --threads 2     # pin BLAS / PyTorch threads
    python -m benchmarks.bench_sequence --layernorm     # also the layer-norm kernel vs NumPy

* ``W3``: the reference GPT-mini (vocab 65, context 64, d_model 128, 4 heads, 2
  pre-LayerNorm blocks, GELU MLP 4x, learned positions, untied head), batch 32,
  cross-entropy over all positions, AdamW(lr 3e-4). tinynet runs ``tinynet.models.GPTMini``
  (nn.MultiheadAttention with the fused packed attention op); PyTorch runs the same
  architecture written with its own modules (``nn.MultiheadAttention``, need_weights off,
  causal mask). Both in float32.
* ``W3-gelu-tanh``: the same with GELU's tanh approximation (GPT-2's) in both frameworks.
* ``LSTM``: Embedding(65, 64) -> LSTM(64, 128) -> Linear(128, 65), batch 32, 64 steps,
  cross-entropy over all positions, Adam(1e-3).

Timings are for one step: zero_grad, forward, loss, backward, optimizer step.

Threads: PyTorch's OpenMP pool spin-waits after each parallel region, which steals the
cores from NumPy's OpenBLAS threads and Numba's pool when both frameworks live in one
process (measured: tinynet's LSTM step 0.11 s alone, 3.5 s with an idle PyTorch loaded).
So this script sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set) and, with
``--threads N``, every pool's size, before NumPy or PyTorch is imported.
"""
from __future__ import annotations

import argparse
import json
import sys


from ._threads import pin_threads  # noqa: E402  (before NumPy loads)

if "numpy" not in sys.modules:
    pin_threads(sys.argv)

import numpy as np  # noqa: E402

from ._timing import alternate, fmt_time


def tinynet_w3(batch=32, context=64, vocab=65, approximate="none"):
    import tinynet as tn
    import tinynet.functional as F
    from tinynet.models import GPTMini

    tn.manual_seed(0)
    model = GPTMini(vocab, context=context, d_model=128, n_heads=4, n_layers=2,
                    activation="gelu" if approximate == "none" else "gelu_tanh")
    opt = tn.optim.AdamW(model.parameters(), lr=3e-4)
    rng = np.random.default_rng(0)
    x = tn.tensor(rng.integers(0, vocab, (batch, context)))
    y = tn.tensor(rng.integers(0, vocab, (batch * context,)))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y)
        loss.backward()
        opt.step()
    return step


def torch_w3(batch=32, context=64, vocab=65, approximate="none"):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, h, batch_first=True)
            self.fc, self.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.register_buffer("mask", torch.triu(torch.ones(context, context, dtype=torch.bool), 1))

        def forward(self, x):
            h = self.ln_1(x)
            x = x + self.attn(h, h, h, attn_mask=self.mask, need_weights=False, is_causal=True)[0]
            return x + self.proj(nn.functional.gelu(self.fc(self.ln_2(x)), approximate=approximate))

    class GPT(nn.Module):
        def __init__(self, d=128, h=4, layers=2):
            super().__init__()
            self.tok_emb, self.pos_emb = nn.Embedding(vocab, d), nn.Embedding(context, d)
            self.blocks = nn.Sequential(*[Block(d, h) for _ in range(layers)])
            self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            pos = torch.arange(idx.shape[1])
            return self.head(self.ln_f(self.blocks(self.tok_emb(idx) + self.pos_emb(pos))))

    torch.manual_seed(0)
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.integers(0, vocab, (batch, context)))
    y = torch.tensor(rng.integers(0, vocab, (batch * context,)))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), y)
        loss.backward()
        opt.step()
    return step


def _lstm_data(batch, steps, vocab):
    rng = np.random.default_rng(0)
    return rng.integers(0, vocab, (batch, steps)), rng.integers(0, vocab, (batch * steps,))


def tinynet_lstm(batch=32, steps=64, hidden=128, vocab=65, embed=64):
    import tinynet as tn
    import tinynet.functional as F
    from tinynet.models import LSTMLanguageModel

    tn.manual_seed(0)
    model = LSTMLanguageModel(vocab, embed_dim=embed, hidden_size=hidden)
    opt = tn.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = _lstm_data(batch, steps, vocab)
    x, y = tn.tensor(xs), tn.tensor(ys)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y)
        loss.backward()
        opt.step()
    return step


def torch_lstm(batch=32, steps=64, hidden=128, vocab=65, embed=64):
    import torch
    from torch import nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True)
            self.head = nn.Linear(hidden, vocab)

        def forward(self, x):
            return self.head(self.lstm(self.embedding(x))[0])

    torch.manual_seed(0)
    model = LM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = _lstm_data(batch, steps, vocab)
    x, y = torch.tensor(xs), torch.tensor(ys)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), y)
        loss.backward()
        opt.step()
    return step


def layernorm_cases(rows=2048, width=128):
    """The fused layer-norm kernel (forward + backward) against the same math in NumPy."""
    from tinynet.kernels.cpu import layer_norm as k

    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal((rows, width)).astype(np.float32) for _ in range(2))
    w, b = (rng.standard_normal(width).astype(np.float32) for _ in range(2))

    def numpy_ln():
        mu = x.mean(1, keepdims=True)
        xc = x - mu
        rs = 1 / np.sqrt((xc * xc).mean(1, keepdims=True) + 1e-5)
        xh = xc * rs
        _ = xh * w + b
        gx = g * w
        _ = rs * (gx - gx.mean(1, keepdims=True) - xh * (gx * xh).mean(1, keepdims=True))
        _ = (g * xh).sum(0), g.sum(0)

    def kernel_ln():
        _, m, s = k.layer_norm_forward(x, w, b, 1e-5)
        k.layer_norm_backward(g, x, w, m, s)
    return {"layernorm numpy": numpy_ln, "layernorm kernel": kernel_ln}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_sequence", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, help="BLAS / PyTorch / Numba threads")
    ap.add_argument("--layernorm", action="store_true", help="also time the layer-norm kernel against NumPy")
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args(argv)
    results = {}
    try:
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    tanh = dict(approximate="tanh")
    pairs = {"W3": (tinynet_w3, torch_w3),
             "W3-gelu-tanh": (lambda: tinynet_w3(**tanh), lambda: torch_w3(**tanh)),
             "LSTM": (tinynet_lstm, torch_lstm)}
    for name, (tn_case, torch_case) in pairs.items():
        cases = {f"{name} tinynet": tn_case()}
        if torch is not None:
            cases[f"{name} torch"] = torch_case()
        res = alternate(cases, rounds=args.rounds, block_s=0.5, warmup=3)
        results.update(res)
        line = "  ".join(f"{k}: {fmt_time(v.get('median_s'))}" for k, v in res.items())
        if torch is not None and "median_s" in res.get(f"{name} torch", {}):
            line += f"  ratio tinynet/torch: {res[f'{name} tinynet']['median_s'] / res[f'{name} torch']['median_s']:.2f}"
        print(line, flush=True)
    if args.layernorm:
        res = alternate(layernorm_cases(), rounds=args.rounds, block_s=0.2)
        results.update(res)
        print("  ".join(f"{k}: {fmt_time(v['median_s'])}" for k, v in res.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {kk: vv for kk, vv in v.items() if kk != "samples_s"} for k, v in results.items()}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
