"""Op microbenchmarks over a range of sizes, written once for tinynet and PyTorch.

Each builder ``(lib, size) -> step`` makes float32 inputs on the library's device and
returns a callable doing the op's forward and backward (or, for ``matmul``, the forward
GEMM alone, and for ``adam_step`` one optimizer update), so plots of time against size
show where per-call overhead stops mattering and where a GPU overtakes the CPU.
"""
from __future__ import annotations

import numpy as np


def _rand(lib, shape, requires_grad=False, seed=0):
    rng = np.random.default_rng(seed)
    return lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=requires_grad)


def _zero_grads(*ts):
    for t in ts:
        t.grad = None


def matmul(lib, n):
    """C = A @ B for two n x n matrices (forward only: the GEMM itself)."""
    a, b = _rand(lib, (n, n), seed=1), _rand(lib, (n, n), seed=2)
    return lambda: a @ b


def conv2d(lib, hw):
    """conv2d 16->32 channels, 3x3, padding 1, batch 32, on hw x hw images, fwd+bwd."""
    x = _rand(lib, (32, 16, hw, hw), requires_grad=True)
    w = _rand(lib, (32, 16, 3, 3), requires_grad=True, seed=3)
    b = _rand(lib, (32,), requires_grad=True, seed=4)
    F = lib.F

    def step():
        _zero_grads(x, w, b)
        F.conv2d(x, w, b, padding=1).sum().backward()
    return step


def cross_entropy(lib, rows):
    """softmax + cross-entropy over 1000 classes for ``rows`` rows, fwd+bwd."""
    logits = _rand(lib, (rows, 1000), requires_grad=True)
    target = lib.tensor(np.random.default_rng(5).integers(0, 1000, rows).astype(np.int64))
    F = lib.F

    def step():
        logits.grad = None
        F.cross_entropy(logits, target).backward()
    return step


def layer_norm(lib, rows):
    """LayerNorm over 512 features for ``rows`` rows, with weight and bias, fwd+bwd."""
    x = _rand(lib, (rows, 512), requires_grad=True)
    w = lib.tensor(np.ones(512, np.float32), requires_grad=True)
    b = lib.tensor(np.zeros(512, np.float32), requires_grad=True)
    g = _rand(lib, (rows, 512), seed=6)
    F = lib.F

    def step():
        _zero_grads(x, w, b)
        F.layer_norm(x, (512,), w, b).backward(g)
    return step


def attention(lib, t):
    """Causal scaled dot-product attention, batch 8, 4 heads, head dim 32, sequence t, fwd+bwd."""
    q, k, v = (_rand(lib, (8, 4, t, 32), requires_grad=True, seed=s) for s in (7, 8, 9))
    g = _rand(lib, (8, 4, t, 32), seed=10)
    F = lib.F

    def step():
        _zero_grads(q, k, v)
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)
    return step


def adam_step(lib, n):
    """One Adam update of a parameter with n elements (its gradient already set)."""
    p = _rand(lib, (n,), requires_grad=True)
    p.grad = _rand(lib, (n,), seed=11)
    opt = lib.optim.Adam([p], lr=1e-3)
    return opt.step


#: op -> (builder, what the size means, quick sizes, full sizes, extra work in FLOPs or None)
MICRO = {
    "matmul": (matmul, "n (n x n @ n x n)", [64, 256, 1024], [32, 64, 128, 256, 512, 1024, 2048]),
    "conv2d": (conv2d, "image side (batch 32, 16->32 ch, 3x3)", [8, 16], [8, 16, 32, 64]),
    "cross_entropy": (cross_entropy, "rows (1000 classes)", [32, 512], [8, 32, 128, 512, 2048]),
    "layer_norm": (layer_norm, "rows (512 features)", [64, 1024], [16, 64, 256, 1024, 4096]),
    "attention": (attention, "sequence length (8x4 heads, d 32, causal)", [32, 128], [16, 32, 64, 128, 256, 512]),
    "adam_step": (adam_step, "parameter elements", [10_000, 1_000_000], [1_000, 10_000, 100_000, 1_000_000, 10_000_000]),
}


def matmul_flops(n) -> float:
    return 2.0 * n ** 3
