"""int8 linear and conv2d kernels against float32, one layer at a time, on the CPU.

    python -m benchmarks.bench_int8 [--quick] [--out DIR]
    python -m benchmarks.bench_int8 --threads 1 --clock cpu   # on a machine shared with other jobs

Layers: the digits MLP's linears (64->128, 128->64), the digits CNN's convolutions
(1->32 on 8x8 and 32->64 on 4x4, 3x3, padding 1) and head (256->128), and a 512x512
linear, each at batch 1, 32 and 256. Per layer and batch, one forward call of:

* **tn int8**: ``tinynet.quantization.functional.linear``/``conv2d`` on a quint8 input and a
  per-channel qint8 weight (the packed weight is cached on the weight, as in a converted
  model): int8 x uint8 products summed in int32 by ``device.kernels.int8_linear`` (Numba),
  requantized to quint8;
* **tn float32**: ``tinynet.nn.functional.linear``/``conv2d`` under ``no_grad``;
* **numpy float32**: ``x @ w.T + b`` (BLAS; linears only): the floor of any float path;
* **torch int8** / **torch float32**: PyTorch's quantized ops (``quantized::linear`` /
  ``quantized::conv2d`` with prepacked weights, x86/fbgemm engine) and ``torch.nn.functional``,
  when PyTorch is installed, with PyTorch's threads set to the CPUs this process may use.

Times are medians of alternating rounds (``benchmarks._timing.alternate``). ``--threads N``
pins every thread pool (Numba's, BLAS's, PyTorch's) to N threads; ``--clock cpu`` times this
process's CPU time instead of wall time (steadier when other jobs share the cores; it
implies ``--threads 1``, where CPU time per call is the time per call). The goal set for
the int8 kernels: faster than float32 at batch <= 32 on the CPU; the table reports what is
measured, including where it is not met.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

from ._threads import pin_threads

if __name__ == "__main__":
    if "--clock" in sys.argv and "cpu" in sys.argv and "--threads" not in sys.argv:
        sys.argv += ["--threads", "1"]
    pin_threads(sys.argv)  # before NumPy loads

import numpy as np  # noqa: E402

from ._timing import alternate, fmt_time  # noqa: E402
from .machine import describe, summary_line  # noqa: E402

BATCHES = (1, 32, 256)
#: name -> ("linear", in, out) or ("conv", c_in, c_out, h, w, k, padding)
LAYERS = {
    "mlp fc1 64->128": ("linear", 64, 128),
    "mlp fc2 128->64": ("linear", 128, 64),
    "cnn head 256->128": ("linear", 256, 128),
    "linear 512->512": ("linear", 512, 512),
    "cnn conv1 1->32 8x8": ("conv", 1, 32, 8, 8, 3, 1),
    "cnn conv2 32->64 4x4": ("conv", 32, 64, 4, 4, 3, 1),
}


def _cases(spec, batch, rng):
    import tinynet as tn
    import tinynet.nn.functional as F
    from tinynet.autograd import no_grad
    from tinynet.quantization import functional as qF
    from tinynet.quantization import qint8, quantize_per_channel, quantize_per_tensor, quint8

    kind = spec[0]
    if kind == "linear":
        _, k, o = spec
        x = rng.uniform(0, 2, (batch, k)).astype(np.float32)
        w = (rng.standard_normal((o, k)) * 0.1).astype(np.float32)
    else:
        _, c, o, h, wd, ks, pad = spec
        x = rng.uniform(0, 2, (batch, c, h, wd)).astype(np.float32)
        w = (rng.standard_normal((o, c, ks, ks)) * 0.1).astype(np.float32)
    b = (rng.standard_normal(o) * 0.1).astype(np.float32)
    flat = w.reshape(o, -1)
    ws, _ = qF.quantize_params(tn.tensor(flat.min(1)), tn.tensor(flat.max(1)), qint8, symmetric=True)
    xs, xz = qF.quantize_params(float(x.min()), float(x.max()), quint8)
    xt, wt, bt = tn.tensor(x), tn.tensor(w), tn.tensor(b)
    xq = quantize_per_tensor(xt, xs, xz, quint8)
    wq = quantize_per_channel(wt, ws, np.zeros(o, np.int64), 0, qint8)
    cases = {}
    if kind == "linear":
        cases["tn int8"] = lambda: qF.linear(xq, wq, bt, 0.05, 64)

        def tn_float():
            with no_grad():
                return F.linear(xt, wt, bt)
        cases["tn float32"] = tn_float
        cases["numpy float32"] = lambda: x @ w.T + b
    else:
        cases["tn int8"] = lambda: qF.conv2d(xq, wq, bt, 1, pad, 1, 1, 0.05, 64)

        def tn_float():
            with no_grad():
                return F.conv2d(xt, wt, bt, 1, pad)
        cases["tn float32"] = tn_float
    try:
        import torch
    except ImportError:
        return cases
    threads = os.environ.get("NUMBA_NUM_THREADS")
    torch.set_num_threads(int(threads) if threads else
                          len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        txq = torch.quantize_per_tensor(tx, xs, xz, torch.quint8)
        twq = torch.quantize_per_channel(tw, torch.from_numpy(ws.numpy().astype(np.float64)),
                                         torch.zeros(o, dtype=torch.long), 0, torch.qint8)
        if kind == "linear":
            packed = torch.ops.quantized.linear_prepack(twq, tb)
            cases["torch int8"] = lambda: torch.ops.quantized.linear(txq, packed, 0.05, 64)
            cases["torch float32"] = lambda: torch.nn.functional.linear(tx, tw, tb)
        else:
            packed = torch.ops.quantized.conv2d_prepack(twq, tb, [1, 1], [pad, pad], [1, 1], 1)
            cases["torch int8"] = lambda: torch.ops.quantized.conv2d(txq, packed, 0.05, 64)
            cases["torch float32"] = lambda: torch.nn.functional.conv2d(tx, tw, tb, 1, pad)
    return cases


def run(quick=False, clock="wall"):
    try:
        import torch
        torch_ctx = torch.no_grad()
    except ImportError:
        import contextlib
        torch_ctx = contextlib.nullcontext()
    rng = np.random.default_rng(0)
    rows = []
    with torch_ctx:
        for name, spec in LAYERS.items():
            for batch in BATCHES:
                cases = _cases(spec, batch, rng)
                timed = alternate(cases, rounds=3 if quick else 7, block_s=0.01 if quick else 0.03,
                                  clock=time.process_time if clock == "cpu" else time.perf_counter)
                row = {"layer": name, "batch": batch}
                for label, r in timed.items():
                    row[label] = r.get("median_s", r.get("error"))
                rows.append(row)
                print(_line(row), flush=True)
    return rows


LABELS = ("tn int8", "tn float32", "numpy float32", "torch int8", "torch float32")


def _cell(v):
    return "-" if v is None else (v if isinstance(v, str) else fmt_time(v))


def _line(row):
    speed = ""
    a, f = row.get("tn int8"), row.get("tn float32")
    if isinstance(a, float) and isinstance(f, float):
        speed = f"  int8/float32 speed-up {f / a:.2f}x"
    return (f"{row['layer']:<22} batch {row['batch']:>3}: "
            + ", ".join(f"{k} {_cell(row.get(k))}" for k in LABELS if k in row) + speed)


def markdown(rows, info):
    settings = info.get("settings", {})
    out = ["# int8 kernels vs float32 (one layer, one forward call)", "", summary_line(info), "",
           f"Threads: {settings.get('threads') or 'default'}; clock: {settings.get('clock', 'wall')}; "
           "median seconds per call.", "",
           "| layer | batch | " + " | ".join(LABELS) + " | tn float32 / tn int8 |",
           "|---|---:|" + "---:|" * (len(LABELS) + 1)]
    for r in rows:
        a, f = r.get("tn int8"), r.get("tn float32")
        ratio = f"{f / a:.2f}x" if isinstance(a, float) and isinstance(f, float) else "-"
        out.append(f"| {r['layer']} | {r['batch']} | " + " | ".join(_cell(r.get(k)) for k in LABELS)
                   + f" | {ratio} |")
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    ap.add_argument("--threads", type=int, help="pin Numba, BLAS and PyTorch to this many threads")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall-clock time (default) or this process's CPU time (implies --threads 1)")
    ap.add_argument("--out", default=os.path.join("benchmarks", "results"), help="output folder (default: %(default)s)")
    args = ap.parse_args(argv)
    info = describe()
    print(summary_line(info), flush=True)
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads: expected a positive integer, got {args.threads}")
    if args.clock == "cpu" and args.threads not in (None, 1):
        ap.error("--clock cpu measures time per call only single-threaded: use it with --threads 1")
    info["settings"] = {"threads": args.threads, "clock": args.clock, "quick": args.quick}
    rows = run(args.quick, args.clock)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "int8.md"), "w") as fh:
        fh.write(markdown(rows, info))
    with open(os.path.join(args.out, "int8.json"), "w") as fh:
        json.dump({"machine": info, "rows": rows}, fh, indent=1, default=str)
    print(f"wrote {os.path.join(args.out, 'int8.md')} and int8.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
