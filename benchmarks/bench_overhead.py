"""Per-op Python overhead of tinynet against PyTorch CPU and raw NumPy, in one run.

On tiny tensors (8x8 float32) an op's arithmetic takes well under a microsecond, so the
time measured is what the framework adds around it: argument coercion, the Op
node, the Tensor wrapper, graph recording, and in backward the engine's walk.

    python -m benchmarks.bench_overhead            # table on stdout
    python -m benchmarks.bench_overhead --json out.json

Columns: ``fwd`` = one op on inputs that require grad (graph recorded); ``fwd no_grad`` =
the same under no_grad; ``fwd+bwd`` = the op, then backward of its output with a given
gradient (the grads are reset to None each time, in every framework). NumPy's ``fwd+bwd``
is the forward plus the hand-written gradient formulas. The W4 rows time one training
step of W4 (MLP 2-16-16-1, batch 32) built every way the frameworks allow.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from ._threads import limit_threads
from ._timing import alternate, fmt_time
from .frameworks import tinynet_lib, torch_lib
from . import workloads as W

SHAPE = (8, 8)


def _ops_numpy(a, b, g):
    """NumPy forward and hand-written forward+backward for each op."""
    def tanh_fb():
        y = np.tanh(a)
        return g * (1 - y * y)
    return {
        "add": (lambda: a + b, lambda: (a + b, g, g)),
        "mul": (lambda: a * b, lambda: (a * b, g * b, g * a)),
        "matmul": (lambda: a @ b, lambda: (a @ b, g @ b.T, a.T @ g)),
        "tanh": (lambda: np.tanh(a), tanh_fb),
        "sum": (lambda: a.sum(), lambda: (a.sum(), np.broadcast_to(np.float32(1), a.shape).copy())),
    }


def _ops_lib(lib, a_np, b_np, g_np):
    """For a framework: {op: (fwd, fwd_nograd, fwd_bwd)} callables on 8x8 float32 tensors."""
    mod = lib.mod
    a = lib.tensor(a_np, requires_grad=True)
    b = lib.tensor(b_np, requires_grad=True)
    g = lib.tensor(g_np)
    fns = {"add": lambda: a + b, "mul": lambda: a * b, "matmul": lambda: a @ b,
           "tanh": lambda: mod.tanh(a), "sum": lambda: a.sum()}

    def make(op, f):
        def fwd():
            return f()

        def fwd_nograd():
            with mod.no_grad():
                return f()

        def fwd_bwd():
            a.grad = None
            b.grad = None
            y = f()
            if op == "sum":
                y.backward()
            else:
                y.backward(g)
        return fwd, fwd_nograd, fwd_bwd

    out = {}
    for op, f in fns.items():
        try:
            if op == "tanh":
                mod.tanh  # noqa: B018  (raises AttributeError while tanh is not built)
            out[op] = make(op, f)
        except AttributeError as exc:
            out[op] = exc
    return out


def run(rounds=7, block_s=0.02):
    rng = np.random.default_rng(0)
    a_np, b_np, g_np = (rng.standard_normal(SHAPE).astype(np.float32) for _ in range(3))
    libs = [tinynet_lib("cpu")]
    tl = torch_lib("cpu")
    if tl is not None:
        libs.append(tl)
    results = {"shape": list(SHAPE), "ops": {}, "w4": {}}
    np_ops = _ops_numpy(a_np, b_np, g_np)
    lib_ops = {lib.name: _ops_lib(lib, a_np, b_np, g_np) for lib in libs}
    for op in np_ops:
        row = {}
        for mode, idx in (("fwd", 0), ("fwd_nograd", 1), ("fwd_bwd", 2)):
            cases = {}
            for lib in libs:
                fns = lib_ops[lib.name][op]
                if isinstance(fns, Exception):
                    row[f"{lib.name}:{mode}"] = {"error": f"not available: {type(fns).__name__}: {fns}"}
                else:
                    cases[f"{lib.name}:{mode}"] = fns[idx]
            cases[f"numpy:{mode}"] = np_ops[op][0 if mode != "fwd_bwd" else 1]
            row.update(alternate(cases, rounds=rounds, block_s=block_s))
        results["ops"][op] = row
    # W4 every way: raw ops, nn/optim, NumPy by hand.
    cases, errors = {}, {}
    for lib in libs:
        for name, builder in (("W4-raw", W.w4_raw), ("W4", W.w4)):
            try:
                cases[f"{lib.name}:{name}"] = builder(lib)
            except Exception as exc:
                errors[f"{lib.name}:{name}"] = {"error": f"not available: {type(exc).__name__}: {exc}"}
    cases["numpy:W4"] = W.w4_numpy()
    results["w4"] = {**alternate(cases, rounds=rounds, block_s=block_s * 2), **errors}
    return results


def _cell(entry):
    if entry is None:
        return "—"
    return fmt_time(entry["median_s"]) if "median_s" in entry else entry["error"]


def _ratio(num, den):
    if num and den and "median_s" in num and "median_s" in den:
        r = num['median_s'] / den['median_s']
        return f"{r:.2f}" if r >= 0.1 else f"{r:.3f}"
    return "—"


def markdown(results) -> str:
    lines = [f"Per-op overhead, {results['shape'][0]}x{results['shape'][1]} float32, cpu (medians)", "",
             "| op | mode | tinynet | PyTorch | NumPy | tinynet/PyTorch | tinynet/NumPy |",
             "|---|---|---|---|---|---|---|"]
    for op, row in results["ops"].items():
        for mode in ("fwd", "fwd_nograd", "fwd_bwd"):
            t, p, n = row.get(f"tinynet:{mode}"), row.get(f"torch:{mode}"), row.get(f"numpy:{mode}")
            lines.append(f"| {op} | {mode} | {_cell(t)} | {_cell(p)} | {_cell(n)} | {_ratio(t, p)} | {_ratio(t, n)} |")
    lines += ["", "W4 training step (2-16-16-1 tanh, batch 32, MSE, SGD 0.1)", "",
              "| variant | median | / PyTorch nn | / PyTorch raw |", "|---|---|---|---|"]
    w = results["w4"]
    for key in sorted(w):
        lines.append(f"| {key} | {_cell(w[key])} | {_ratio(w[key], w.get('torch:W4'))} | {_ratio(w[key], w.get('torch:W4-raw'))} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="also write every figure to this JSON file")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, help="limit BLAS and PyTorch to this many threads")
    args = ap.parse_args(argv)
    if args.threads:
        limit_threads(args.threads)
    res = run(rounds=args.rounds)
    print(markdown(res))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
