"""Convolution benchmarks: W2 (small CNN training step) and conv2d forward+backward alone,
tinynet against PyTorch CPU in the same run, alternating A B A B (median of rounds).

    python -m benchmarks.bench_conv                  # W2 + conv2d sizes + NumPy GEMM rate
    python -m benchmarks.bench_conv --threads 1      # pin every thread pool (busy machines)
    python -m benchmarks.bench_conv --kernels        # also im2col/col2im: Numba vs NumPy versions

* ``W2`` (reference workload): Conv2d(1,16,3,pad 1)-ReLU-MaxPool2d(2)-Conv2d(16,32,3,pad 1)-
  ReLU-MaxPool2d(2)-Flatten-Linear(1568,10), input 64x1x28x28 float32, cross-entropy,
  SGD(lr 0.01, momentum 0.9); one step = zero_grad, forward, loss, backward, step.
* ``conv2d``: forward + backward (input and weight gradients) of one float32 convolution,
  3x3, padding 1, several sizes; achieved GFLOP/s counts 3 x 2·N·O·C·9·H·W (forward,
  input gradient, weight gradient), the same count for both frameworks. Compared with
  NumPy's float32 GEMM rate (n=1024) measured in the same run: the ceiling for an
  im2col + GEMM convolution.

Threads: PyTorch's OpenMP pool spin-waits after each parallel region and steals the
cores from OpenBLAS and Numba when both frameworks live in one process, so this script
sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set) before anything is imported.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


from ._threads import pin_threads  # noqa: E402  (before NumPy loads)

if "numpy" not in sys.modules:
    pin_threads(sys.argv)

import numpy as np  # noqa: E402

from ._timing import alternate, fmt_time  # noqa: E402

CONV_SIZES = [  # (N, C, H=W, O): 3x3 convolutions, padding 1
    (64, 1, 28, 16),      # W2's first layer
    (64, 16, 14, 32),     # W2's second layer
    (32, 32, 16, 64),
    (16, 64, 8, 128),
]


def gemm_rate(n=1024, rounds=5):
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    res = alternate({"gemm": lambda: a @ b}, rounds=rounds, block_s=0.2)["gemm"]
    return 2 * n ** 3 / res["median_s"] / 1e9


def conv_cases(n, c, h, o, with_torch=True):
    """{label: fn} for one conv2d forward+backward in tinynet (and torch)."""
    import tinynet as tn

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, 3, 3)) * 0.1).astype(np.float32)
    g = rng.standard_normal((n, o, h, h)).astype(np.float32)
    tx, tw = tn.tensor(x, requires_grad=True), tn.tensor(w, requires_grad=True)
    tg = tn.tensor(g)

    def tinynet_step():
        tx.grad = tw.grad = None
        tn.conv2d(tx, tw, padding=1).backward(tg)

    cases = {"tinynet": tinynet_step}
    if with_torch:
        try:
            import torch
        except ImportError:
            return cases
        px, pw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        pg = torch.tensor(g)

        def torch_step():
            px.grad = pw.grad = None
            torch.nn.functional.conv2d(px, pw, padding=1).backward(pg)

        cases["torch"] = torch_step
    return cases


def w2_cases():
    from .frameworks import tinynet_lib, torch_lib
    from .workloads import w2

    cases = {"tinynet": w2(tinynet_lib("cpu"))}
    lib = torch_lib("cpu")
    if lib is not None:
        cases["torch"] = w2(lib)
    return cases


def kernel_cases(n, c, h, k=3, p=1):
    """im2col / col2im: the Numba kernels against NumPy versions (strided view; strided adds)."""
    import tinynet as tn
    from numpy.lib.stride_tricks import as_strided

    kern = tn.device("cpu").kernels
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    oh = h + 2 * p - k + 1
    args = (k, k, 1, 1, p, p, 1, 1, oh, oh)
    cols = kern.im2col(x, *args)

    def np_im2col():
        xp = np.zeros((n, c, h + 2 * p, h + 2 * p), np.float32)
        xp[:, :, p:p + h, p:p + h] = x
        s = xp.strides
        v = as_strided(xp, (c, k, k, n, oh, oh), (s[1], s[2], s[3], s[0], s[2], s[3]))
        return v.reshape(c * k * k, n * oh * oh)

    def np_col2im():
        xp = np.zeros((n, c, h + 2 * p, h + 2 * p), np.float32)
        c6 = cols.reshape(c, k, k, n, oh, oh)
        for i in range(k):
            for j in range(k):
                xp[:, :, i:i + oh, j:j + oh] += c6[:, i, j].transpose(1, 0, 2, 3)
        return xp[:, :, p:p + h, p:p + h]

    assert np.array_equal(np_im2col(), cols)
    return {"im2col numba": lambda: kern.im2col(x, *args), "im2col numpy": np_im2col,
            "col2im numba": lambda: kern.col2im(cols.copy(), n, c, h, h, *args),
            "col2im numpy": np_col2im, "copy of cols (floor)": lambda: cols.copy()}


def _ratio(res):
    t, p = res.get("tinynet", {}).get("median_s"), res.get("torch", {}).get("median_s")
    return t / p if t and p else None


def run(rounds=9, kernels=False):
    out = {"load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    out["gemm_gflops"] = gemm_rate()
    print(f"NumPy float32 GEMM (n=1024): {out['gemm_gflops']:.1f} GFLOP/s")

    res = alternate(w2_cases(), rounds=rounds, block_s=0.3)
    out["W2"] = {k: v.get("median_s", v.get("error")) for k, v in res.items()}
    out["W2"]["ratio"] = _ratio(res)
    line = "  ".join(f"{k} {fmt_time(v['median_s'])}" if "median_s" in v else f"{k} {v['error']}"
                     for k, v in res.items())
    ratio = out["W2"]["ratio"]
    print(f"W2 step: {line}" + (f"  ratio tinynet/torch {ratio:.2f}" if ratio else ""))

    out["conv2d"] = []
    for n, c, h, o in CONV_SIZES:
        flops = 3 * 2 * n * o * c * 9 * h * h
        res = alternate(conv_cases(n, c, h, o), rounds=rounds, block_s=0.2)
        row = {"size": [n, c, h, o], "gflop": flops / 1e9}
        for k, v in res.items():
            if "median_s" in v:
                row[k + "_s"] = v["median_s"]
                row[k + "_gflops"] = flops / v["median_s"] / 1e9
        row["ratio"] = _ratio(res)
        out["conv2d"].append(row)
        rates = "  ".join(f"{k} {fmt_time(row[k + '_s'])} ({row[k + '_gflops']:.1f} GFLOP/s, "
                          f"{100 * row[k + '_gflops'] / out['gemm_gflops']:.0f}% of GEMM)"
                          for k in ("tinynet", "torch") if k + "_s" in row)
        print(f"conv2d fwd+bwd N={n} C={c} {h}x{h} O={o}: {rates}"
              + (f"  ratio {row['ratio']:.2f}" if row["ratio"] else ""))

    if kernels:
        out["kernels"] = {}
        for n, c, h in [(64, 1, 28), (64, 16, 14)]:
            res = alternate(kernel_cases(n, c, h), rounds=rounds, block_s=0.1)
            out["kernels"][f"{n}x{c}x{h}x{h}"] = {k: v["median_s"] for k, v in res.items()}
            print(f"kernels {n}x{c}x{h}x{h}: " + "  ".join(f"{k} {fmt_time(v['median_s'])}" for k, v in res.items()))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--threads", type=int, help="BLAS / PyTorch / Numba threads")
    ap.add_argument("--kernels", action="store_true", help="also time im2col/col2im against NumPy versions")
    ap.add_argument("--json", metavar="PATH", help="write the figures to this file")
    args = ap.parse_args(argv)
    if args.threads:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > (os.cpu_count() or 1) and not args.threads:
        print(f"warning: load average {os.getloadavg()[0]:.1f} exceeds the {os.cpu_count()} CPUs; "
              "multi-threaded pools will spin against other processes (try --threads 1)", file=sys.stderr)
    out = run(args.rounds, args.kernels)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
