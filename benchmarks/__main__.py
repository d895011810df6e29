"""``python -m benchmarks``: run the suite and write results.md, results.json and plots.

    python -m benchmarks --quick --out benchmarks/results     # under two minutes
    python -m benchmarks                                       # the full size sweep
    python -m benchmarks --only W4,W4-raw,matmul               # a subset
    python -m benchmarks.bench_overhead                        # per-op overhead table

OpenBLAS reads ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` when NumPy loads; set to
values that do not match the CPU they slow every GEMM. Unless ``--keep-openblas-env`` is
given, this command restarts itself once with those two variables removed *for this
run only* (the shell, tests and CI keep theirs) and records what they were in the JSON.
"""
from __future__ import annotations

import argparse
import os
import sys

_OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def parse(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description="tinynet benchmark suite: W1–W8 and op "
                                 "microbenchmarks against PyTorch on every available device.")
    ap.add_argument("--quick", action="store_true", help="fewer sizes and rounds (under two minutes)")
    ap.add_argument("--out", default=os.path.join("benchmarks", "results"), help="output folder (default: %(default)s)")
    ap.add_argument("--only", help="comma-separated workload ids / op names to run (e.g. W1,W4,matmul)")
    ap.add_argument("--device", choices=("all", "cpu", "cuda"), default="all",
                    help="devices to time (default: every available one)")
    ap.add_argument("--threads", type=int, help="limit BLAS and PyTorch to this many threads (default: their own)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall-clock time (default), or this process's CPU time: steadier on a machine shared "
                         "with other jobs; implies --threads 1 and skips GPU timing")
    ap.add_argument("--memory-steps", type=int, default=None,
                    help="steps per framework in the peak-memory child processes (default: 2 quick, 3 full; 0 skips)")
    ap.add_argument("--keep-openblas-env", action="store_true",
                    help="do not drop OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for this run")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error(f"--threads: expected a positive integer, got {args.threads}")
    return args


def _reexec_without_openblas_overrides(argv):
    """Restart this run without the OpenBLAS overrides (they only take effect at NumPy load)."""
    found = {k: os.environ[k] for k in _OPENBLAS_OVERRIDES if k in os.environ}
    if not found or "numpy" in sys.modules:
        return
    env = {k: v for k, v in os.environ.items() if k not in _OPENBLAS_OVERRIDES}
    env["TINYNET_BENCH_DROPPED_ENV"] = ";".join(f"{k}={v}" for k, v in found.items())
    print(f"benchmarks: running without {', '.join(found)} (this run only)", file=sys.stderr)
    os.execve(sys.executable, list(sys.orig_argv), env)  # the very same command line


def _cuda_ok() -> bool:
    import tinynet as tn

    try:
        import torch
        torch_cuda = torch.cuda.is_available()
    except ImportError:
        torch_cuda = False
    return tn.cuda.is_available() or torch_cuda


def unknown_names(only) -> list:
    """The names in the comma-separated ``only`` that are neither a workload nor a microbenchmark."""
    from . import micro, workloads  # (imported late: NumPy must load after the thread settings)

    return [n for n in only.split(",") if n not in workloads.WORKLOADS and n not in micro.MICRO and n not in ("DDP", "QUANT")]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    if args.clock == "cpu":
        args.threads = 1  # CPU time per call is only meaningful single-threaded
    if not args.keep_openblas_env:
        _reexec_without_openblas_overrides(argv)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    import tinynet  # noqa: F401  (first: its thread-pool settings must precede NumPy's load)
    if args.threads:
        from ._threads import limit_threads
        limit_threads(args.threads)
    from . import micro, suite, workloads

    if args.only is not None and unknown_names(args.only):  # (after the thread settings: this loads NumPy)
        print(f"benchmarks: error: --only: unknown name(s) {', '.join(unknown_names(args.only))}; choose from "
              f"{', '.join([*workloads.WORKLOADS, *micro.MICRO, 'DDP', 'QUANT'])}", file=sys.stderr)
        return 2

    if hasattr(os, "getloadavg") and os.getloadavg()[0] > (os.cpu_count() or 1) and not args.threads:
        print(f"benchmarks: warning: load average {os.getloadavg()[0]:.1f} exceeds the {os.cpu_count()} cpus; "
              "multi-threaded BLAS/PyTorch/Numba then spin against other processes and times become "
              "meaningless. Run on a quiet machine, or compare with --threads 1.", file=sys.stderr)

    only = set(args.only.split(",")) if args.only else None
    if args.device == "cuda" and not _cuda_ok():
        print("benchmarks: --device cuda: no GPU found (CuPy missing or no device; a simulated GPU is not timed). "
              "Install the CUDA extra on a GPU machine: pip install -e \".[cuda12]\"", file=sys.stderr)
        return 2
    res = suite.run(quick=args.quick, only=only, device=args.device, clock=args.clock,
                    memory_steps=args.memory_steps, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    res["settings"]["threads"] = args.threads
    res["settings"]["command"] = " ".join(["python -m benchmarks", *argv])
    res["settings"]["dropped_env"] = os.environ.get("TINYNET_BENCH_DROPPED_ENV")
    files = suite.write(res, args.out)
    print(suite.markdown(res))
    print("wrote " + ", ".join(files), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
