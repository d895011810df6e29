"""``tinynet info``: devices (is cuda real, simulated or absent, and why), versions, kernels, models."""
from __future__ import annotations

import json
import os
import platform
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
    }


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
