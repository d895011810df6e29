"""``tinynet info``: devices (is cuda real, simulated or absent, and why), versions, kernels, models,
and the engines of training on several processes (MPI through mpi4py; NCCL through CuPy)."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata

PACKAGES = ("numpy", "numba", "numba-cuda", "cupy", "scikit-learn", "tqdm", "matplotlib", "safetensors", "torch")
CUPY_DISTRIBUTIONS = ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy")
ALWAYS_SHOWN = ("numpy", "numba", "numba-cuda", "cupy")


def add_parser(subparsers):
    p = subparsers.add_parser("info", help="devices, backends, versions and kernels",
                              description="Show which devices tinynet can use (cpu; cuda real, simulated or absent "
                                          "and why), package versions, kernels and registered models.")
    p.add_argument("--json", action="store_true", help="print as JSON")
    return p


def _version(name):
    if name == "cupy":  # CuPy ships as cupy-cuda12x, cupy-cuda13x, ...; report whichever is installed
        for dist in CUPY_DISTRIBUTIONS[:-1]:
            v = _version(dist)
            if v:
                return f"{v} ({dist})"
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _kernels(kind):
    """Public kernels of tinynet.kernels.<kind>, by module (imports Numba, compiles nothing)."""
    from ..backend import registry

    try:
        pkg = registry.kernel_package(kind)
    except Exception as exc:  # report, don't crash: info is the diagnostic command
        return {"error": f"{type(exc).__name__}: {exc}"}
    out = {}
    for name in sorted(dir(pkg)):
        obj = getattr(pkg, name)
        if name.startswith("_") or isinstance(obj, type) or type(obj).__name__ == "module" or not callable(obj):
            continue
        module = getattr(obj, "__module__", None) or getattr(getattr(obj, "py_func", None), "__module__", "") or ""
        out.setdefault(module.rsplit(".", 1)[-1] or "?", []).append(name)
    return out


# Run in a child interpreter: asks the MPI library for its version without starting MPI
# (MPI_Get_library_version may be called before MPI_Init), so `tinynet info` never initializes
# MPI in a process that may later want to (a notebook calling collect(), then init_process_group).
_MPI_PROBE = """
import json, mpi4py
mpi4py.rc.initialize = False
mpi4py.rc.finalize = False
from mpi4py import MPI
print(json.dumps({"library": MPI.Get_library_version(), "standard": "%d.%d" % MPI.Get_version()}))
"""


def _mpi_library():
    """``(library version string, MPI standard version)`` from mpi4py's MPI library."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None:  # already loaded in this process: ask it directly
        return mpi.Get_library_version(), "%d.%d" % mpi.Get_version()
    proc = subprocess.run([sys.executable, "-c", _MPI_PROBE], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"mpi4py could not load its MPI library: {last}")
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc["library"], doc["standard"]


def mpi_info() -> dict:
    """MPI for ``init_process_group("mpi")``: mpi4py's version, the MPI library's version
    string (``MPI_Get_library_version``) and standard, and the mpiexec that ``--nproc`` and
    ``python -m tinynet.distributed.run`` would use."""
    from ..distributed.launcher import INSTALL_HINT, find_mpiexec

    version = _version("mpi4py")
    if version is None:
        return {"status": "not installed", "reason": "mpi4py is not installed; " + INSTALL_HINT}
    out = {"status": "available", "mpi4py": version}
    try:
        out["library"], out["standard"] = _mpi_library()
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:  # diagnostic: report, don't crash
        out.update(status="broken", reason=str(exc))
    try:
        out["mpiexec"] = find_mpiexec()
    except RuntimeError as exc:
        out["mpiexec"] = None
        out.setdefault("reason", str(exc))
    return out


def nccl_info() -> dict:
    """NCCL for GPU collectives, through CuPy's ``cupy.cuda.nccl``: its version, or why not."""
    import importlib.util

    if importlib.util.find_spec("cupy") is None:
        return {"status": "not available", "reason": "needs CuPy and a GPU"}
    try:
        from cupy.cuda import nccl

        code = int(nccl.get_version())
    except Exception as exc:  # ImportError (CuPy built without NCCL), a missing libnccl, ...
        return {"status": "not available", "reason": f"CuPy has no usable NCCL ({type(exc).__name__}: {exc})"}
    # NCCL encodes its version as major*10000 + minor*100 + patch since 2.9 (major*1000 + ... before).
    major, rest = divmod(code, 10000) if code >= 20900 else divmod(code, 1000)
    minor, patch = divmod(rest, 100)
    return {"status": "available", "version": f"{major}.{minor}.{patch}", "version_code": code}


def cpu_model() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what ``platform`` says: benchmark
    figures are reported with it, since CPUs differ in their kernels."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect() -> dict:
    import tinynet
    from ..backend import allocator, registry, threads

    cuda = {"status": "absent", "reason": None}
    if registry.simulated_cuda():
        cuda = {"status": "simulated",
                "reason": "TINYNET_CUDA_SIM=1: device 'cuda' keeps NumPy arrays and runs kernels/cuda in Numba's "
                          "CUDA simulator (correct, slow; no GPU used)"}
    elif registry.cuda_available():
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        cuda = {"status": "real", "reason": None, "name": name,
                "memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
                "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion()}
    else:
        cuda["reason"] = (registry.cuda_unavailable_reason() or "unknown") + \
            " -- install CuPy with `pip install \"tinynet[cuda12]\"` on a machine with an NVIDIA GPU"
    try:
        from ..models import list_models
        from .recipes import RECIPES

        models = {name: list(r.datasets) for name, r in sorted(RECIPES.items())}
        registered = list_models()
    except Exception as exc:  # pragma: no cover - diagnostic
        models, registered = {"error": str(exc)}, []
    return {
        "tinynet": tinynet.__version__,
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu_cores": os.cpu_count(),
        "packages": {name: _version(name) for name in PACKAGES if name in ALWAYS_SHOWN or _version(name)},
        "devices": {"cpu": {"status": "available", "array_module": "numpy"}, "cuda": cuda},
        "host_allocator": allocator.tuning(),
        "thread_pools": threads.tuning(),
        "kernels": {"cpu": _kernels("cpu"), "cuda": _kernels("cuda")},
        "models": registered,
        "train_recipes": models,
        "distributed": {"mpi": mpi_info(), "nccl": nccl_info()},
    }


def format_mpi(mpi: dict) -> str:
    """One line: mpi4py and MPI library versions and the mpiexec, or why MPI is unusable."""
    if mpi["status"] == "not installed":
        return f"not available -- {mpi['reason']}"
    if mpi["status"] == "broken":
        return f"mpi4py {mpi['mpi4py']}, but {mpi['reason']}"
    first = " ".join(mpi["library"].strip().splitlines()[0].split()) if mpi["library"].strip() else "unknown library"
    where = f"mpiexec {mpi['mpiexec']}" if mpi.get("mpiexec") else f"no mpiexec ({mpi.get('reason')})"
    return f"mpi4py {mpi['mpi4py']}, {first} (MPI {mpi['standard']}), {where}"


def format_nccl(nccl: dict) -> str:
    if nccl["status"] == "available":
        return f"NCCL {nccl['version']} (through cupy.cuda.nccl)"
    return f"not available ({nccl['reason']})"


def run(args) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"tinynet {info['tinynet']}  (Python {info['python']}, {info['platform']}, {info['cpu_cores']} CPU cores)")
    print("packages: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in info["packages"].items()))
    print("devices:")
    print("  cpu    available (NumPy + Numba kernels)")
    cuda = info["devices"]["cuda"]
    detail = {"real": lambda c: f"real GPU: {c['name']}, {c['memory_gib']} GiB, CUDA runtime {c['cuda_runtime']}",
              "simulated": lambda c: f"simulated -- {c['reason']}",
              "absent": lambda c: f"absent -- {c['reason']}"}[cuda["status"]](cuda)
    print(f"  cuda   {detail}")
    print("distributed:")
    print(f"  mpi    {format_mpi(info['distributed']['mpi'])}")
    print(f"  nccl   {format_nccl(info['distributed']['nccl'])}")
    alloc = info["host_allocator"]
    print("host memory: " + (f"freed blocks kept for reuse (glibc mmap threshold {alloc['mmap_threshold'] >> 20} MiB; "
                             "TINYNET_MALLOC_TUNING=0 turns this off)" if alloc["applied"]
                             else f"C allocator untouched ({alloc['reason']})"))
    print("idle threads: " + ", ".join(f"{k}={v}" for k, v in info["thread_pools"].items()))
    for kind, table in info["kernels"].items():
        if "error" in table:
            print(f"kernels ({kind}): unavailable ({table['error']})")
            continue
        total = sum(len(v) for v in table.values())
        print(f"kernels ({kind}): {total} in {len(table)} modules")
        for module, names in sorted(table.items()):
            print(f"  {module}: {', '.join(names)}")
    print("models: " + ", ".join(info["models"]))
    print("train recipes: " + "; ".join(f"--model {m} (--dataset {'|'.join(d)})" for m, d in info["train_recipes"].items()))
    return 0
