"""Peak resident memory of one workload's training steps, per framework, each in its own process.

Resident memory belongs to a process, not to a framework, so the two frameworks cannot
be measured side by side in the timing process (and importing PyTorch alone costs a few
hundred MB that tinynet never pays). Each (framework, workload) pair runs in a fresh
``python -m benchmarks.memory`` child that imports only its framework, records its
resident set after the import (``baseline``; for tinynet after loading its compiled kernel table too, as PyTorch's
import loads its kernels), resets the kernel's high-water mark,
builds the workload and runs a few steps, then reads the high-water mark again
(``peak``). ``peak - baseline`` is the memory the workload itself needed: parameters,
optimizer state, activations kept for the backward, temporaries, allocator caches.

The high-water mark is Linux's ``VmHWM`` (``/proc/self/status``), reset by writing ``5``
to ``/proc/self/clear_refs``; elsewhere the child falls back to ``ru_maxrss``, which
cannot be reset (the import's peak then counts too, noted in the result).

    python -m benchmarks.memory --framework tinynet --workload W7   # one child's JSON line
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def _status_kib(field):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_kib():
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def measure(framework: str, workload: str, steps: int = 3) -> dict:
    """Run ``steps`` training steps of ``workload`` under ``framework`` in this process; MiB figures."""
    from . import workloads
    from .frameworks import tinynet_lib, torch_lib

    lib = tinynet_lib("cpu") if framework == "tinynet" else torch_lib("cpu")
    if lib is None:
        return {"error": f"not available: {framework} is not installed"}
    baseline = _status_kib("VmRSS")
    reset = _reset_peak()
    step = workloads.WORKLOADS[workload][1](lib)
    for _ in range(steps):
        step()
    peak = _peak_kib()
    out = {"peak_mib": peak / 1024, "steps": steps, "peak_reset": reset}
    if baseline is not None:
        out["baseline_mib"] = baseline / 1024
        out["workload_mib"] = (peak - baseline) / 1024
    return out


def measure_in_child(framework: str, workload: str, steps: int = 3, threads: int | None = None,
                     timeout_s: float = 300) -> dict:
    """:func:`measure` in a fresh interpreter (so neither framework's memory counts for the other)."""
    cmd = [sys.executable, "-m", f"{__package__}.memory", "--framework", framework, "--workload", workload,
           "--steps", str(steps)]
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where the package is importable
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env[var] = str(threads)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"memory run timed out after {timeout_s:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"memory run failed ({proc.returncode}): {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                 description="peak resident memory of a few training steps of one workload")
    ap.add_argument("--framework", choices=("tinynet", "torch"), required=True)
    ap.add_argument("--workload", required=True, help="a workload id, e.g. W3")
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args(argv)
    if args.framework == "tinynet":
        import tinynet  # (first: its thread settings precede NumPy's load)

        tinynet.device("cpu").kernels.KERNEL_MIN_ELEMENTS  # load the compiled kernels, part of the framework
    else:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    from . import workloads

    if args.workload not in workloads.WORKLOADS:
        ap.error(f"--workload: unknown id {args.workload!r}; choose from {', '.join(workloads.WORKLOADS)}")
    print(json.dumps(measure(args.framework, args.workload, args.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
