"""``tinynet bench``: run the benchmark suite (W1–W5 and op microbenchmarks vs PyTorch).

The suite is installed with tinynet as the package ``tinynet.benchmarks`` (the
``benchmarks/`` folder of the source tree). It imports PyTorch to compare against, so it
runs in a child process -- ``python -I -m tinynet.benchmarks`` -- never inside tinynet.
Isolated mode (``-I``) keeps the current directory off the module path, so a
``benchmarks/`` or ``tinynet/`` folder wherever the user stands is never executed.
``--suite PATH`` runs another copy of the suite explicitly (a checkout's ``benchmarks/``
folder, say): only then is code outside the installed package run.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .common import CLIError, positive_int

INSTALLED_SUITE = "tinynet.benchmarks"

# Runs the package named argv[2] found in the folder argv[1] as ``python -m`` would, with the
# remaining arguments; used for --suite (isolated mode leaves that folder off sys.path).
_RUN_FROM_FOLDER = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
                    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)")


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
    p.add_argument("--threads", type=positive_int, help="limit BLAS, Numba and PyTorch to this many threads")
    p.add_argument("--suite", metavar="PATH", default=None,
                   help="run the suite in this folder (a checkout's benchmarks/) instead of the installed one")
    return p


def suite_location(path=None):
    """``(folder to put on sys.path or None, package name)`` of the suite to run.

    Without ``path``: the installed ``tinynet.benchmarks``. With ``path``: that folder, which
    must hold a suite (``__main__.py`` and ``suite.py``).
    """
    if path is None:
        if importlib.util.find_spec(INSTALLED_SUITE) is None:
            raise CLIError(f"the benchmark suite ({INSTALLED_SUITE}) is not installed; reinstall tinynet "
                           "(`pip install tinynet`, or `pip install -e .` in a checkout), or name one with --suite PATH",
                           code=1)
        return None, INSTALLED_SUITE
    folder = Path(path).resolve()
    if not ((folder / "__main__.py").is_file() and (folder / "suite.py").is_file()):
        raise CLIError(f"--suite {path}: not a benchmark suite folder (it needs __main__.py and suite.py, as "
                       "a checkout's benchmarks/ has)")
    return str(folder.parent), folder.name


def command(args, location) -> list:
    """The command line that runs the suite at ``location`` (see :func:`suite_location`)."""
    folder, package = location
    cmd = [sys.executable, "-I"] + (["-m", package] if folder is None else ["-c", _RUN_FROM_FOLDER, folder, package])
    cmd += ["--out", str(Path(args.out).resolve())]
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
    location = suite_location(args.suite)
    return subprocess.call(command(args, location), cwd=os.getcwd())
