"""A description of the machine a benchmark ran on (stored with every result).

Absolute times only mean something next to the hardware and software that produced
them: CPU model and cores, load, BLAS library and threads (through ``threadpoolctl``
when installed), NumPy/PyTorch/tinynet versions, the OpenBLAS environment variables
that change NumPy's speed, and the GPU if any.
"""
from __future__ import annotations

import datetime
import os
import platform
import sys

from tinynet.cli.info import cpu_model

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _cpu_flags() -> list:
    """The SIMD extensions that matter for GEMM speed."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(f for f in flags if f.startswith(("avx", "fma", "amx")))
    except OSError:
        pass
    return []


def _blas() -> list:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed"}]
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer", "filepath")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def _gpu():
    import tinynet as tn

    if tn.cuda.is_available():
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        return {"status": "real", "name": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
                "memory_bytes": int(props["totalGlobalMem"]), "cupy": cupy.__version__}
    if tn.cuda.is_simulated():
        return {"status": "simulated (TINYNET_CUDA_SIM=1): not timed"}
    return {"status": "no GPU", "reason": tn.backend.cuda_unavailable_reason()}


def describe() -> dict:
    """Everything about this machine and run that a reader needs to judge the figures."""
    import numpy

    import tinynet

    info = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "numpy": numpy.__version__,
        "blas": _blas(),
        "tinynet": tinynet.__version__,
        "env": {k: os.environ.get(k) for k in OPENBLAS_VARS},
        "tinynet_process_tuning": {"threads": tinynet.backend.threads.tuning(),
                                   "host_allocator": tinynet.backend.allocator.tuning()},
        "gpu": _gpu(),
    }
    try:
        import torch

        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                         "cuda": torch.cuda.is_available(),
                         "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    except ImportError:
        info["torch"] = None
    return info


def summary_line(info: dict) -> str:
    """One line for the Markdown report."""
    blas = next((b for b in info["blas"] if b.get("user_api") == "blas"), {})
    torch = info.get("torch") or {}
    load = info.get("load_average")
    return (f"{info['cpu_model']} ({info['usable_cpus']} cpus, {' '.join(info['cpu_flags'][:6])}); "
            f"load {load[0]:.1f}; " if load else f"{info['cpu_model']} ({info['usable_cpus']} cpus); ") + (
        f"Python {info['python']}, NumPy {info['numpy']} ({blas.get('internal_api', '?')} "
        f"{blas.get('version', '')}, {blas.get('num_threads', '?')} threads), "
        f"PyTorch {torch.get('version', 'not installed')} ({torch.get('threads', '?')} threads), "
        f"tinynet {info['tinynet']}; GPU: {info['gpu']['status']}"
    )
