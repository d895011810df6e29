"""Fused softmax-family CPU kernels (Numba) against plain NumPy, at the W1/W3 sizes.

    python benchmarks/bench_softmax_kernels.py [--repeat 300] [--dtype float64]

For every (rows, C) in rows 128..2048 x C 10..65 (float32: W1 has 128 rows x 10 classes,
W3 2048 rows x 65 symbols) it times, alternating A B A B, the median of
``--repeat`` calls of each kernel of ``kernels/cpu/softmax.py`` and of the NumPy code
that ``tinynet.functional`` runs when the kernel is not used (same formulas), and prints
NumPy time / kernel time (> 1: the kernel is faster).

The result decides ``KERNEL_MIN_ELEMENTS["softmax"]`` in ``kernels/policy.py``. Runs on 2 cores,
AVX-512, 2026-11-22, with other jobs on the machine (load 6-13; ratios from alternated
runs), ``--repeat 300 --classes 10 16 65``, NumPy us / kernel us (ratio):

    float32, final kernels (vectorisable exp, kernels/cpu/_vecmath.py):
    kernel                  128x10            2048x10            2048x65
    softmax_forward         30.2/17.7 (1.71)  229.4/169.1 (1.36) 615.8/445.2 (1.38)
    log_softmax_forward     31.5/14.4 (2.19)  197.0/130.6 (1.51) 639.5/427.3 (1.50)
    softmax_backward        15.3/8.6  (1.78)   72.6/39.1  (1.86) 209.3/114.9 (1.82)
    log_softmax_backward    17.9/13.9 (1.29)  108.3/106.2 (1.02) 475.6/344.8 (1.38)
    cross_entropy_forward   73.0/22.4 (3.25)  315.1/214.6 (1.47) 699.1/497.5 (1.41)
    cross_entropy_backward  56.9/21.8 (2.61)  439.3/246.4 (1.78)   ~8000/464.7 (noisy)

    float64 (libm exp), --dtype float64:
    softmax_forward         39.8/22.2 (1.79)  438.7/304.7 (1.44) 2044/1574 (1.30)
    log_softmax_backward    27.3/20.5 (1.33)  301.6/257.7 (1.17) 1728/1343 (1.29)
    cross_entropy_forward   80.1/28.5 (2.81)  523.6/334.2 (1.57) 5878/1504 (3.91)

    float32, first version (scalar libm exp in every loop), for comparison:
    softmax_forward         25.8/14.7 (1.76)  243.5/185.3 (1.31) 683.0/886.9 (0.77)
    log_softmax_backward     9.7/7.7  (1.26)  150.3/190.1 (0.79) 513.3/949.0 (0.54)
    cross_entropy_forward   35.3/14.6 (2.42)  336.2/254.0 (1.32) 808.6/971.6 (0.83)

With scalar exp, NumPy's SIMD exp won at C = 65; with the vectorisable exp every kernel
wins at every measured size, for both dtypes, so on "cpu" the kernels serve every width.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tinynet as tn


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def np_log_softmax(x):
    s = x - x.max(axis=1, keepdims=True)
    s -= np.log(np.exp(s).sum(axis=1, keepdims=True))
    return s


def np_softmax_backward(y, g):
    return y * (g - (g * y).sum(axis=1, keepdims=True))


def np_log_softmax_backward(y, g):
    return g - np.exp(y) * g.sum(axis=1, keepdims=True)


def np_ce_forward(x, t, ignore_index, eps):
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    m = x.max(axis=1, keepdims=True)
    shifted = x - m
    log_s = np.log(np.exp(shifted).sum(axis=1))
    loss = log_s - (1 - eps) * np.take_along_axis(shifted, safe[:, None], axis=1)[:, 0]
    if eps:
        loss = loss - (eps / x.shape[1]) * shifted.sum(axis=1)
    loss = (loss * valid).astype(x.dtype, copy=False)
    return loss, m[:, 0].astype(np.float64) + log_s


def np_ce_backward(x, lse, t, scale, ignore_index, eps):
    valid = t != ignore_index
    C = x.shape[1]
    p = np.exp(x - lse[:, None]).astype(x.dtype, copy=False)
    q = (np.arange(C)[None, :] == t[:, None]).astype(x.dtype) * (1 - eps) + eps / C
    return ((p - q) * valid[:, None] * scale[:, None]).astype(x.dtype, copy=False)


def median_pair(fa, fb, args, repeat):
    fa(*args), fb(*args)  # warm up (and compile)
    ta, tb = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fa(*args)
        t1 = time.perf_counter()
        fb(*args)
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return float(np.median(ta)) * 1e6, float(np.median(tb)) * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=400)
    ap.add_argument("--rows", type=int, nargs="*", default=[128, 512, 2048])
    ap.add_argument("--classes", type=int, nargs="*", default=[10, 16, 65])
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    k = tn.device("cpu").kernels
    rng = np.random.default_rng(0)
    print(f"dtype {args.dtype}")
    print(f"{'kernel':24s} {'rows':>5s} {'C':>4s} {'numpy us':>9s} {'kernel us':>10s} {'numpy/kernel':>12s}")
    for rows in args.rows:
        for C in args.classes:
            x = rng.standard_normal((rows, C)).astype(args.dtype)
            g = rng.standard_normal((rows, C)).astype(args.dtype)
            t = rng.integers(0, C, rows)
            y = np_softmax(x)
            ly = np_log_softmax(x)
            _, lse = np_ce_forward(x, t, -100, 0.0)
            scale = np.full(rows, 1.0 / rows, dtype=args.dtype)
            cases = [
                ("softmax_forward", np_softmax, k.softmax_forward, (x,)),
                ("log_softmax_forward", np_log_softmax, k.log_softmax_forward, (x,)),
                ("softmax_backward", np_softmax_backward, k.softmax_backward, (y, g)),
                ("log_softmax_backward", np_log_softmax_backward, k.log_softmax_backward, (ly, g)),
                ("cross_entropy_forward", np_ce_forward, k.cross_entropy_forward, (x, t, -100, 0.0)),
                ("cross_entropy_backward", np_ce_backward, k.cross_entropy_backward, (x, lse, t, scale, -100, 0.0)),
            ]
            for name, fn_np, fn_k, a in cases:
                tnp, tk = median_pair(fn_np, fn_k, a, args.repeat)
                print(f"{name:24s} {rows:5d} {C:4d} {tnp:9.1f} {tk:10.1f} {tnp / tk:12.2f}")


if __name__ == "__main__":
    main()
