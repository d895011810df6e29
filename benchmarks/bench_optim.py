"""Fused optimizer updates against NumPy written by hand (and PyTorch when installed).

One Adam step on a 1M-element float32 parameter:

* ``numpy multi-pass``: the update as a NumPy user writes it (moments, bias corrections,
  sqrt, divide, subtract: about ten passes over memory, several temporaries);
* ``numpy in-place``: the same with ``out=`` everywhere (no temporaries, same passes);
* ``fused kernel``: ``kernels/cpu/optim.adam_step``, one pass (tinynet's path);
* ``tinynet Adam.step``: the optimizer object around the kernel (Python overhead included);
* ``torch Adam.step`` (foreach, the default on CPU) when PyTorch is installed.

Also SGD with momentum on the same size, and Adam on a W4-sized model (6 small tensors)
where the per-parameter Python overhead dominates.

    python -m benchmarks.bench_optim [--n 1000000] [--rounds 9]
"""
from __future__ import annotations

import argparse
import json
import math

import numpy as np

from ._timing import alternate, fmt_time


def numpy_adam_multipass(p, g, m, v, step, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m[:] = b1 * m + (1 - b1) * g
    v[:] = b2 * v + (1 - b2) * g * g
    mhat = m / (1 - b1 ** step)
    vhat = v / (1 - b2 ** step)
    p -= lr * mhat / (np.sqrt(vhat) + eps)


def numpy_adam_inplace(p, g, m, v, tmp, step, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m *= b1
    np.multiply(g, 1 - b1, out=tmp)
    m += tmp
    v *= b2
    np.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp /= math.sqrt(1 - b2 ** step)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / (1 - b1 ** step)
    p -= tmp


def run(n: int = 1_000_000, rounds: int = 9) -> dict:
    import tinynet as tn
    import tinynet.nn as nn
    import tinynet.optim as optim

    kern = tn.device("cpu").kernels
    rng = np.random.default_rng(0)
    dt = np.float32
    p = rng.standard_normal(n).astype(dt)
    g = rng.standard_normal(n).astype(dt) * 1e-2
    m, v, tmp = np.zeros(n, dt), np.zeros(n, dt), np.zeros(n, dt)
    empty = np.empty(0, dt)
    state = {"t": 0}

    def step_count():
        state["t"] = state["t"] % 1000 + 1
        return state["t"]

    param = nn.Parameter(tn.tensor(p.copy()))
    param.grad = tn.tensor(g.copy())
    opt = optim.Adam([param], lr=1e-3)
    sgd_param = nn.Parameter(tn.tensor(p.copy()))
    sgd_param.grad = tn.tensor(g.copy())
    sgd = optim.SGD([sgd_param], lr=1e-3, momentum=0.9)
    buf = np.zeros(n, dt)

    cases = {
        "adam numpy multi-pass": lambda: numpy_adam_multipass(p, g, m, v, step_count()),
        "adam numpy in-place": lambda: numpy_adam_inplace(p, g, m, v, tmp, step_count()),
        "adam fused kernel": lambda: kern.adam_step(p, g, m, v, empty, 1e-3, 0.9, 0.999, 1e-8, 0.0, step_count(),
                                                   False, False, False),
        "adam tinynet Adam.step": opt.step,
        "sgd numpy multi-pass": lambda: (buf.__imul__(0.9), buf.__iadd__(g), p.__isub__(1e-3 * buf)),
        "sgd fused kernel": lambda: kern.sgd_step(p, g, buf, 1e-3, 0.9, 0.0, 0.0, False, False, False),
        "sgd tinynet SGD.step": sgd.step,
    }
    try:
        import torch

        tp = torch.tensor(p.copy(), requires_grad=True)
        tp.grad = torch.tensor(g.copy())
        topt = torch.optim.Adam([tp], lr=1e-3)
        cases["adam torch Adam.step"] = topt.step
        tsp = torch.tensor(p.copy(), requires_grad=True)
        tsp.grad = torch.tensor(g.copy())
        cases["sgd torch SGD.step"] = torch.optim.SGD([tsp], lr=1e-3, momentum=0.9).step
    except ImportError:
        torch = None

    # A W4-sized model: 2-16-16-1 (6 tensors, 337 numbers) - Python overhead per parameter.
    small = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
    for q in small.parameters():
        q.grad = tn.ones(*q.shape)
    small_opt = optim.Adam(small.parameters(), lr=1e-3)
    cases["W4-size Adam.step (6 tensors)"] = small_opt.step
    if torch is not None:
        tsmall = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
                                     torch.nn.Tanh(), torch.nn.Linear(16, 1))
        for q in tsmall.parameters():
            q.grad = torch.ones_like(q)
        cases["W4-size torch Adam.step"] = torch.optim.Adam(tsmall.parameters(), lr=1e-3).step

    return alternate(cases, rounds=rounds, block_s=0.05)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--json", help="write the results to this JSON file")
    args = ap.parse_args(argv)
    res = run(args.n, args.rounds)
    base = res["adam numpy multi-pass"]["median_s"]
    print(f"optimizer step, {args.n:,} float32 parameters (median of {args.rounds} rounds)")
    print(f"{'case':34s} {'median':>10s} {'min':>10s}  vs numpy multi-pass (Adam rows)")
    for label, r in res.items():
        if "error" in r:
            print(f"{label:34s} error: {r['error']}")
            continue
        ratio = f"{base / r['median_s']:.2f}x faster" if label.startswith("adam") else ""
        print(f"{label:34s} {fmt_time(r['median_s']):>10s} {fmt_time(r['min_s']):>10s}  {ratio}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {kk: vv for kk, vv in v.items() if kk != "samples_s"} for k, v in res.items()}, f, indent=2)


if __name__ == "__main__":
    main()
