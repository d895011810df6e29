"""``tinynet bench``: run the benchmark suite (W1–W5 and op microbenchmarks vs PyTorch).

The suite lives in the source checkout's ``benchmarks/`` folder, not in the installed
package: it imports PyTorch to compare against, and tinynet itself never imports torch.
This command finds that folder (the current directory's ``benchmarks/``, else the one
next to an editable install's ``tinynet/`` package) and runs ``python -m benchmarks``
there with the same options, so ``tinynet bench`` and ``python -m benchmarks`` are one
program. Without a checkout it says how to get one.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .common import CLIError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "bench", help="benchmark tinynet against PyTorch (W1–W5, op microbenchmarks)",
        description="Time the reference workloads W1–W5 and op microbenchmarks (matmul, conv2d, cross-entropy, "
                    "layer norm, attention, Adam step) over a range of sizes on every available device, "
                    "alternating with PyTorch where it is installed. Writes results.md, results.json and PNG plots.")
    p.add_argument("--quick", action="store_true", help="fewer sizes and rounds (under two minutes on a quiet machine)")
    p.add_argument("--out", default="bench-results", help="output folder (default: %(default)s)")
    p.add_argument("--only", help="comma-separated workload ids / op names, e.g. W1,W4,matmul")
    p.add_argument("--device", choices=("all", "cpu", "cuda"), default="all",
                   help="devices to time (default: every available one)")
    p.add_argument("--threads", type=int, help="limit BLAS, Numba and PyTorch to this many threads")
    return p


def find_suite(start=None):
    """The folder holding ``benchmarks/`` (a source checkout), or None."""
    candidates = [Path(start or os.getcwd())]
    candidates.append(Path(__file__).resolve().parents[2])  # <checkout>/tinynet/cli/bench.py
    for root in candidates:
        if (root / "benchmarks" / "suite.py").is_file():
            return root
    return None


def command(args, root: Path) -> list:
    """The ``python -m benchmarks`` command line for these options."""
    cmd = [sys.executable, "-m", "benchmarks", "--out", str(Path(args.out).resolve())]
    if args.quick:
        cmd.append("--quick")
    if args.only:
        cmd += ["--only", args.only]
    if args.device != "all":
        cmd += ["--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd


def run(args) -> int:
    if args.device == "cuda":
        from .. import cuda
        from ..backend import cuda_unavailable_reason

        if not cuda.is_available():
            why = "it runs in Numba's simulator (TINYNET_CUDA_SIM=1), which is not worth timing" if cuda.is_simulated() \
                else f"CuPy/GPU not found ({cuda_unavailable_reason()})"
            raise CLIError(f"--device cuda: no GPU to benchmark: {why}. On a machine with an NVIDIA GPU install "
                           "the CUDA extra, `pip install -e \".[cuda12]\"` (or `.[cuda13]`), or use --device cpu.", code=2)
    root = find_suite()
    if root is None:
        raise CLIError("the benchmark suite is not installed with the package: it lives in the `benchmarks/` folder "
                       "of a source checkout (it imports PyTorch, which tinynet never does). Clone the repository, "
                       "`pip install -e .` there, and run `tinynet bench` (or `python -m benchmarks`) from its root.",
                       code=1)
    return subprocess.call(command(args, root), cwd=root)
