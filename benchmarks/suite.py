"""The benchmark suite: W1–W8 and op microbenchmarks, tinynet against PyTorch, every device.

For every workload and every (op, size) the suite builds one step callable per
(framework, device) and times them together with :func:`benchmarks._timing.alternate`
(warm-up first, then A B A B rounds, GPU work synchronized, medians). Devices: tinynet
"cpu" always; tinynet "cuda" only on a real GPU (under ``TINYNET_CUDA_SIM=1`` the row
says "simulated, not timed": the simulator's speed means nothing); PyTorch cpu/cuda
when installed. Anything that cannot be built yet (a layer another part of the project
has not written, no PyTorch) is reported as "not available: <error>", never as a number.

Outputs (under ``--out``): ``results.md`` (tables of medians and ratios), ``results.json``
(every sample and the machine's description), ``time_vs_size_<device>.png`` per device
and, with a real GPU, ``cpu_vs_gpu_<op>.png`` showing where the GPU overtakes the CPU.
"""
from __future__ import annotations

import json
import os
import time

from . import bench_distributed, bench_quantize, machine, memory, micro, workloads as W
from ._timing import alternate, fmt_time
from .frameworks import tinynet_lib, torch_lib

TARGETS = {"W1": 0.75, "W2": 1.0, "W3": 1.0, "W4": 0.5, "W6": 1.0, "W7": 1.0, "W8": 1.0}
MEMORY_TARGETS = ("W3", "W7")  # peak workload memory <= PyTorch's
W4_RAW_TARGET = 0.5  # issue 2: W4 from raw ops <= 0.5 x PyTorch's W4 step time
W5_TARGET = 0.90
NOT_TIMED_SIM = "simulated, not timed"
NO_GPU = "no GPU"


def _devices(device="all"):
    """[(label, Lib)] to time, and {label: reason} for devices that are not timed.

    ``device`` ("all", "cpu" or "cuda") keeps only that device's entries.
    """
    libs, absent = _all_devices()
    if device != "all":
        libs = [(label, lib) for label, lib in libs if label.endswith("/" + device)]
        absent = {label: why for label, why in absent.items() if label.endswith("/" + device)}
    return libs, absent


def _all_devices():
    import tinynet as tn

    libs, absent = [("tinynet/cpu", tinynet_lib("cpu"))], {}
    if tn.cuda.is_available():
        libs.append(("tinynet/cuda", tinynet_lib("cuda")))
    else:
        absent["tinynet/cuda"] = NOT_TIMED_SIM if tn.cuda.is_simulated() else NO_GPU
    tl = torch_lib("cpu")
    if tl is None:
        absent["torch/cpu"] = "not available: PyTorch not installed"
        absent["torch/cuda"] = "not available: PyTorch not installed"
    else:
        libs.append(("torch/cpu", tl))
        if tl.mod.cuda.is_available():
            libs.append(("torch/cuda", torch_lib("cuda")))
        else:
            absent["torch/cuda"] = NO_GPU
    return libs, absent


def _group(builders: dict, rounds, block_s, clock=time.perf_counter):
    """Build every case ({label: (lib or None, make)}), then time the buildable ones together."""
    cases, syncs, out = {}, {}, {}
    for label, (lib, make) in builders.items():
        try:
            cases[label] = make()
            if lib is not None:
                syncs[label] = lib.sync
        except Exception as exc:
            out[label] = {"error": f"not available: {type(exc).__name__}: {exc}"}
    out.update(alternate(cases, rounds=rounds, block_s=block_s, syncs=syncs, clock=clock))
    return out


def _ratio(res, a, b):
    ra, rb = res.get(a, {}), res.get(b, {})
    if "median_s" in ra and "median_s" in rb:
        return ra["median_s"] / rb["median_s"]
    return None


def run(quick=False, only=None, device="all", log=print, clock="wall", memory_steps=None):
    """Run the suite; return the results dict (see module docstring).

    ``memory_steps``: after timing each workload, run that many of its steps once per
    framework in a child process and record the peak resident memory
    (:mod:`benchmarks.memory`); 0 skips it; default 2 in quick mode, 3 otherwise.

    ``clock="cpu"`` times with the process's CPU time (for single-threaded runs on a busy
    machine); GPUs are then not timed, since their work is not CPU time.
    """
    rounds, block_s = (5, 0.01) if quick else (9, 0.05)
    if memory_steps is None:
        memory_steps = 2 if quick else 3
    libs, absent = _devices(device)
    if clock == "cpu":  # GPU work is not CPU time: a real GPU is left out of a CPU-clock run
        absent.update({label: "GPU present, not timed with --clock cpu" for label, _ in libs if label.endswith("/cuda")})
        libs = [(label, lib) for label, lib in libs if not label.endswith("/cuda")]
    timer = time.process_time if clock == "cpu" else time.perf_counter
    t_start = time.perf_counter()
    res = {"machine": machine.describe(),
           "settings": {"quick": quick, "rounds": rounds, "block_s": block_s, "clock": clock},
           "not_timed": absent, "workloads": [], "micro": []}

    def wanted(name):
        return only is None or name in only

    for wid, (desc, builder) in W.WORKLOADS.items():
        if not wanted(wid):
            continue
        builders = {label: (lib, (lambda lib=lib: builder(lib))) for label, lib in libs}
        if wid == "W4":
            builders["numpy/cpu (by hand)"] = (None, W.w4_numpy)
        if wid in ("W5", "W5-raw"):
            builders["numpy GEMM/cpu"] = (None, W.numpy_gemm)
        log(f"[{time.perf_counter() - t_start:6.1f}s] {wid}: {desc}")
        out = _group(builders, rounds, block_s * (2 if wid == "W4-raw" or wid == "W4" else 1), timer)
        entry = {"id": wid, "description": desc, "results": out,
                 "ratios": {dev: _ratio(out, f"tinynet/{dev}", f"torch/{dev}") for dev in ("cpu", "cuda")}}
        if wid in TARGETS:
            entry["target_ratio"] = TARGETS[wid]
        if wid in ("W5", "W5-raw"):
            flops, gemm = W.w5_flops(), 2.0 * W.W5_SHAPE[0] * W.W5_SHAPE[1] * W.W5_SHAPE[2]
            rates = {label: flops / r["median_s"] / 1e9 for label, r in out.items()
                     if "median_s" in r and not label.startswith("numpy")}
            np_rate = gemm / out["numpy GEMM/cpu"]["median_s"] / 1e9 if "median_s" in out.get("numpy GEMM/cpu", {}) else None
            entry["gflops"] = rates
            entry["numpy_gemm_gflops"] = np_rate
            entry["fraction_of_numpy_gemm"] = {k: v / np_rate for k, v in rates.items()} if np_rate else {}
            entry["target_fraction"] = W5_TARGET
        if memory_steps and device != "cuda":
            threads = 1 if clock == "cpu" else None
            entry["memory"] = {fw: memory.measure_in_child(fw, wid, memory_steps, threads=threads)
                               for fw in ("tinynet", "torch")}
        res["workloads"].append(entry)

    by_id = {e["id"]: e["results"] for e in res["workloads"]}
    r = _ratio({"a": by_id.get("W4-raw", {}).get("tinynet/cpu", {}), "b": by_id.get("W4", {}).get("torch/cpu", {})}, "a", "b")
    if r is not None:
        res["w4_raw_vs_torch_w4"] = {"ratio": r, "target": W4_RAW_TARGET, "met": r <= W4_RAW_TARGET}

    for op, (builder, size_label, quick_sizes, full_sizes) in micro.MICRO.items():
        if not wanted(op):
            continue
        for size in (quick_sizes if quick else full_sizes):
            log(f"[{time.perf_counter() - t_start:6.1f}s] {op} {size}")
            builders = {label: (lib, (lambda lib=lib, size=size: builder(lib, size))) for label, lib in libs}
            out = _group(builders, rounds, block_s, timer)
            res["micro"].append({"op": op, "size": size, "size_label": size_label, "results": out,
                                 "ratios": {dev: _ratio(out, f"tinynet/{dev}", f"torch/{dev}") for dev in ("cpu", "cuda")}})
    if wanted("DDP") and device != "cuda" and clock == "wall":
        log(f"[{time.perf_counter() - t_start:6.1f}s] DDP: 2 processes x 1 thread vs 1 process x 2 threads")
        try:
            res["distributed"] = bench_distributed.run(quick=quick, log=log)
        except RuntimeError as exc:  # no mpiexec (the distributed extra is not installed)
            res["not_timed"]["DDP"] = str(exc).splitlines()[0]
    if wanted("QUANT") and device != "cuda":
        log(f"[{time.perf_counter() - t_start:6.1f}s] QUANT: float32 vs int8 digits MLP and CNN")
        res["quantize"] = bench_quantize.run(quick=quick, log=log, clock=timer)
    res["elapsed_s"] = time.perf_counter() - t_start
    return res


# --- reports --------------------------------------------------------------------------
def _cell(res, label, absent):
    r = res.get(label)
    if r is None:
        return absent.get(label, "—")
    if "median_s" in r:
        return fmt_time(r["median_s"])
    return r["error"]


def _fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}"


def markdown(res) -> str:
    absent = res["not_timed"]
    m = res["machine"]
    lines = ["# tinynet benchmark results", "",
             f"Machine: {machine.summary_line(m)}.", "",
             f"Run {m['date_utc']}, {'quick' if res['settings']['quick'] else 'full'} mode "
             f"({res['settings']['rounds']} alternating rounds per case after warm-up; medians; "
             f"{'CPU time of the process, one thread' if res['settings'].get('clock') == 'cpu' else 'wall-clock time'}), "
             f"{res['elapsed_s']:.0f} s. Ratios are tinynet / PyTorch on the same device in the same run "
             "(below 1: tinynet is faster).", ""]
    if res["settings"].get("command"):
        lines[-1:-1] = ["", f"Command: `{res['settings']['command']}`"]
    if res["workloads"]:
        lines += ["## Workloads (one training step each)", "",
                  "| id | workload | tinynet cpu | PyTorch cpu | ratio | target | met | tinynet cuda | PyTorch cuda | ratio cuda |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for e in res["workloads"]:
            r, ratio = e["results"], e["ratios"]["cpu"]
            target = e.get("target_ratio")
            met = "—" if ratio is None or target is None else ("yes" if ratio <= target else "no")
            tgt = f"≤ {target}" if target is not None else ("≥ 90 % GEMM" if e["id"] == "W5" else "—")
            if e["id"] == "W5" and e.get("fraction_of_numpy_gemm", {}).get("tinynet/cpu") is not None:
                met = "yes" if e["fraction_of_numpy_gemm"]["tinynet/cpu"] >= W5_TARGET else "no"
            lines.append(f"| {e['id']} | {e['description']} | {_cell(r, 'tinynet/cpu', absent)} | "
                         f"{_cell(r, 'torch/cpu', absent)} | {_fmt_ratio(ratio)} | {tgt} | {met} | "
                         f"{_cell(r, 'tinynet/cuda', absent)} | {_cell(r, 'torch/cuda', absent)} | "
                         f"{_fmt_ratio(e['ratios']['cuda'])} |")
        by_id = {e["id"]: e["results"] for e in res["workloads"]}
        raw, nn_ = by_id.get("W4-raw", {}).get("tinynet/cpu", {}), by_id.get("W4", {}).get("torch/cpu", {})
        if "median_s" in raw and "median_s" in nn_:
            r = raw["median_s"] / nn_["median_s"]
            lines += ["", f"W4-raw (tinynet, raw ops) / PyTorch's W4 step (nn + optim): {r:.2f} "
                          f"(target ≤ {W4_RAW_TARGET}: {'met' if r <= W4_RAW_TARGET else 'not met'}). "
                          "The W4-raw row's ratio compares raw ops with the same raw ops in PyTorch; "
                          "W5-raw is informational."]
        for e in res["workloads"]:
            if e["id"] == "W4" and "median_s" in e["results"].get("numpy/cpu (by hand)", {}):
                lines += ["", f"W4 in NumPy by hand (no autograd, the floor): "
                              f"{fmt_time(e['results']['numpy/cpu (by hand)']['median_s'])}."]
            if e["id"].startswith("W5") and e.get("numpy_gemm_gflops"):
                rates = ", ".join(f"{k} {v:.0f} GFLOP/s ({e['fraction_of_numpy_gemm'][k] * 100:.0f} %)"
                                  for k, v in e["gflops"].items())
                lines += ["", f"{e['id']}: NumPy's raw GEMM on the same shape runs at {e['numpy_gemm_gflops']:.0f} GFLOP/s; "
                              f"{rates} of it (target ≥ {W5_TARGET * 100:.0f} %)."]
        lines += _memory_lines(res)
        lines.append("")
    if res["micro"]:
        lines += ["## Op microbenchmarks (forward + backward unless noted; medians)", "",
                  "| op | size | tinynet cpu | PyTorch cpu | ratio | tinynet cuda | PyTorch cuda | ratio cuda |",
                  "|---|---|---|---|---|---|---|---|"]
        for e in res["micro"]:
            r = e["results"]
            lines.append(f"| {e['op']} | {e['size']} | {_cell(r, 'tinynet/cpu', absent)} | {_cell(r, 'torch/cpu', absent)} | "
                         f"{_fmt_ratio(e['ratios']['cpu'])} | {_cell(r, 'tinynet/cuda', absent)} | "
                         f"{_cell(r, 'torch/cuda', absent)} | {_fmt_ratio(e['ratios']['cuda'])} |")
        lines += ["", "Sizes: " + "; ".join(f"{op}: {spec[1]}" for op, spec in micro.MICRO.items()) + "."]
    if res.get("distributed"):
        lines += ["", bench_distributed.markdown(res["distributed"])]
    if res.get("quantize"):
        lines += ["", bench_quantize.markdown(res["quantize"])]
    if absent:
        lines += ["", "Not timed: " + "; ".join(f"{k}: {v}" for k, v in absent.items()) + "."]
    return "\n".join(lines) + "\n"


def _memory_lines(res) -> list:
    """The peak-memory table (MiB; workload = peak minus the resident set after importing the framework)."""
    rows = [e for e in res["workloads"] if e.get("memory")]
    if not rows:
        return []
    lines = ["", "### Peak resident memory (cpu, a few steps in a fresh process per framework)", "",
             "| id | tinynet workload | PyTorch workload | ratio | tinynet peak | PyTorch peak | target |",
             "|---|---|---|---|---|---|---|"]

    def cell(m, key):
        return f"{m[key]:.0f} MiB" if key in m else m.get("error", "—")

    for e in rows:
        t, p = e["memory"].get("tinynet", {}), e["memory"].get("torch", {})
        ratio = t["workload_mib"] / p["workload_mib"] if "workload_mib" in t and p.get("workload_mib") else None
        target = "—"
        if e["id"] in MEMORY_TARGETS:
            target = "≤ 1.0: " + ("—" if ratio is None else ("met" if ratio <= 1.0 else "not met"))
        lines.append(f"| {e['id']} | {cell(t, 'workload_mib')} | {cell(p, 'workload_mib')} | {_fmt_ratio(ratio)} | "
                     f"{cell(t, 'peak_mib')} | {cell(p, 'peak_mib')} | {target} |")
    lines += ["", "Workload memory = peak resident set during the steps minus the resident set right after "
                  "importing the framework (tinynet: with its compiled kernels loaded); peak = the whole process."]
    return lines


def plots(res, out_dir) -> list:
    """PNG plots of median time against size: one per device, plus cpu-vs-gpu per op."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(e["op"] for e in res["micro"]))
    if not ops:
        return []
    labels = sorted({lab for e in res["micro"] for lab, r in e["results"].items() if "median_s" in r})
    devices = sorted({lab.split("/")[1] for lab in labels})
    files = []

    def series(op, label):
        pts = [(e["size"], e["results"][label]["median_s"]) for e in res["micro"]
               if e["op"] == op and "median_s" in e["results"].get(label, {})]
        return [p[0] for p in pts], [p[1] for p in pts]

    for dev in devices:
        cols = min(3, len(ops))
        rows = (len(ops) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
        for ax, op in zip(axes.flat, ops):
            for fw, style in (("tinynet", "o-"), ("torch", "s--")):
                xs, ys = series(op, f"{fw}/{dev}")
                if xs:
                    ax.loglog(xs, ys, style, label=f"{'PyTorch' if fw == 'torch' else fw} {dev}")
            ax.set_title(op)
            ax.set_xlabel(micro.MICRO[op][1])
            ax.set_ylabel("median time (s)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        for ax in list(axes.flat)[len(ops):]:
            ax.axis("off")
        fig.suptitle(f"time against size on {dev}")
        fig.tight_layout()
        path = os.path.join(out_dir, f"time_vs_size_{dev}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files.append(path)
    if len(devices) > 1:
        for op in ops:
            fig, ax = plt.subplots(figsize=(6, 4))
            for label in labels:
                xs, ys = series(op, label)
                if xs:
                    ax.loglog(xs, ys, "o-" if label.endswith("cuda") else "s--", label=label)
            ax.set_title(f"{op}: where the GPU starts to beat the CPU")
            ax.set_xlabel(micro.MICRO[op][1])
            ax.set_ylabel("median time (s)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            path = os.path.join(out_dir, f"cpu_vs_gpu_{op}.png")
            fig.savefig(path, dpi=90)
            plt.close(fig)
            files.append(path)
    return files


def write(res, out_dir) -> list:
    """Write results.md, results.json and the plots into ``out_dir``; return the paths."""
    os.makedirs(out_dir, exist_ok=True)
    md = os.path.join(out_dir, "results.md")
    with open(md, "w") as fh:
        fh.write(markdown(res))
    js = os.path.join(out_dir, "results.json")
    with open(js, "w") as fh:
        json.dump(res, fh, indent=1, default=str)
    extra = bench_distributed.plot(res["distributed"], out_dir) if res.get("distributed") else []
    return [md, js] + plots(res, out_dir) + extra
