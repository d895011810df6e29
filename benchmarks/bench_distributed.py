"""Scaling out: data-parallel training (DDP over MPI) against one process, on this machine.

    python -m benchmarks.bench_distributed [--quick] [--out DIR]   # alone
    python -m benchmarks --only DDP                                 # as a section of the suite

What it measures, for W1 (MLP) and W3 (GPT-mini), on the same global batch:

* **1 process x 2 threads** (BLAS and Numba use both cores) against **2 processes x 1
  thread** (``mpiexec -n 2``, DistributedDataParallel, half the batch each): throughput in
  samples per second and their ratio (the goal on a 2-core machine: the 2-process run at
  >= 90 % of the 1-process throughput for W3).
* **Overlap**: in the 2-process run, the step time with DDP (``t_ddp``), the same step with
  the reduction switched off (``no_sync``: compute only, ``t_local``) and the bucket
  all-reduces alone after a finished backward (``t_comm``). The communication DDP did not
  hide is what the last rank to finish its backward still waits for (``exposed``: DDP's
  ``comm_stats["wait_seconds"]``, the smallest over the ranks, which leaves the ranks' skew
  out); the fraction hidden behind the backward pass is ``1 - exposed / t_comm``. Also: the
  share of gradient bytes already reduced when the backward ended.
* **Bucket sweep**: ``t_ddp`` for several ``bucket_cap_mb``.
* **A paper model of 8-64 GPUs** with NCCL's ring all-reduce (each GPU sends and receives
  ``2 (p-1)/p`` of the gradient bytes, plus ``2 (p-1)`` latency hops), for W3 and a
  GPT-2-small-sized model, from stated link figures: the scaling efficiency
  ``t_compute / (t_compute + exposed communication)``.

Every process pins its thread pools before NumPy loads (the worker is a fresh interpreter).
Steps alternate between the compared variants (A B A B) and medians are reported, so a
noisy machine shifts both alike.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

WORKLOADS = {"W1": 128, "W3": 32}  # global batch sizes (the suite's)
SWEEP_MB = (0.05, 0.25, 1.0, 25.0)

# Paper model (stated figures, not measured here): NVLink-class intra-node bus bandwidth and
# an InfiniBand HDR link between nodes (8 GPUs per node), per-hop latency of a ring step.
LINKS = {"NVLink (8 GPUs, 1 node)": (150e9, 5e-6), "InfiniBand HDR 200 Gb/s (8-64 GPUs)": (23e9, 10e-6)}
MODELS = {  # parameters, assumed per-GPU compute time of one step (forward + backward)
    "W3 GPT-mini (0.42 M params, 32 seq x 64 tokens per GPU)": (0.42e6, 4e-3),
    "GPT-2 small (124 M params, 8 seq x 1024 tokens per GPU)": (124e6, 0.25),
}


# --- the worker: one process of a measurement (run under mpiexec or alone) ------------------
def _worker(args):
    import numpy as np

    import tinynet as tn
    import tinynet.distributed as dist
    from tinynet.nn.parallel import DistributedDataParallel

    from . import workloads as W
    from .frameworks import tinynet_lib

    lib = tinynet_lib("cpu")
    distributed = args.nproc > 1
    if distributed:
        dist.init_process_group("mpi", timeout=600)
    rank, n = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    batch = WORKLOADS[args.workload] // n
    rng = np.random.default_rng(rank)
    lib.seed(0)
    if args.workload == "W1":
        nn = lib.nn
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        x = tn.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
        y = tn.tensor(rng.integers(0, 10, batch).astype(np.int64))
        inputs, loss_of = (x,), (lambda out: lib.F.cross_entropy(out, y))
    else:
        model = W.gpt_mini(lib)
        idx = tn.tensor(rng.integers(0, 65, (batch, 64)).astype(np.int64))
        tgt = tn.tensor(rng.integers(0, 65, (batch * 64,)).astype(np.int64))
        inputs = (idx, tn.tensor(np.arange(64, dtype=np.int64)))
        loss_of = (lambda out: lib.F.cross_entropy(out.reshape(batch * 64, 65), tgt))
    caps = [float(c) for c in args.caps.split(",")]
    wrapped = {cap: DistributedDataParallel(model, bucket_cap_mb=cap) for cap in caps} if distributed else {}
    opt = lib.optim.Adam(model.parameters(), lr=1e-4)

    def step(net, sync=True):
        opt.zero_grad()
        if distributed and not sync:
            with net.no_sync():
                loss_of(net(*inputs)).backward()
        else:
            loss_of(net(*inputs)).backward()
        opt.step()

    variants = {}
    if distributed:
        for cap, ddp in wrapped.items():
            variants[f"ddp_{cap:g}"] = (lambda ddp=ddp: step(ddp))
        main = wrapped[caps[-1]]
        variants["local"] = lambda: step(main, sync=False)

        def comm_only(ddp):
            for b in ddp._buckets:
                dist.collectives.all_reduce_unchecked(tn.Tensor._make(b.flat, b.params[0].device), dist.ReduceOp.AVG)
        for cap, ddp in wrapped.items():
            variants[f"comm_{cap:g}"] = (lambda ddp=ddp: comm_only(ddp))
    else:
        variants["single"] = lambda: step(model)
    times = {k: [] for k in variants}
    hidden = {f"{cap:g}": [] for cap in caps}
    waits = {f"{cap:g}": [] for cap in caps}
    for _ in range(2):  # warm-up (JIT, allocator)
        for fn in variants.values():
            fn()
    for _ in range(args.steps):
        for name, fn in variants.items():
            if distributed:
                dist.barrier()
            t0 = time.perf_counter()
            fn()
            if distributed:  # every variant's time is the slowest rank's (DDP's steps wait for it anyway)
                dist.barrier()
            times[name].append(time.perf_counter() - t0)
        for cap, ddp in wrapped.items():
            stats = ddp.comm_stats
            hidden[f"{cap:g}"].append(stats["hidden_bytes"] / stats["bytes"])
            waits[f"{cap:g}"].append(stats["wait_seconds"])
    if distributed:  # the hidden fractions of every rank, not only rank 0's
        mine = tn.tensor(np.array([np.mean(v) for v in hidden.values()]))
        dist.all_reduce(mine, dist.ReduceOp.AVG)
        hidden = dict(zip(hidden, mine.tolist()))
        # The last rank to finish its backward waits only for the communication still in flight
        # (the others also wait for it): per step, the smallest wait over the ranks is the exposed
        # communication, free of the ranks' skew.
        mine = tn.tensor(np.array(list(waits.values())))
        dist.all_reduce(mine, dist.ReduceOp.MIN)
        waits = {k: float(np.median(v)) for k, v in zip(waits, mine.numpy())}
    if rank == 0:
        med = {k: float(np.median(v)) for k, v in times.items()}
        out = {"workload": args.workload, "nproc": n, "local_batch": batch, "median_s": med}
        if distributed:
            out["buckets"] = {f"{cap:g}": len(ddp._buckets) for cap, ddp in wrapped.items()}
            out["hidden_bytes_fraction"] = hidden
            out["exposed_wait_s"] = waits
            out["gradient_bytes"] = int(sum(b.flat.nbytes for b in main._buckets))
        print("RESULT " + json.dumps(out), flush=True)
    if distributed:
        dist.destroy_process_group()


# --- the driver ----------------------------------------------------------------------------------
def _mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def _launch(workload, nproc, threads, steps, caps, log):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", f"{__package__}.bench_distributed", "--worker", "--workload", workload,
           "--nproc", str(nproc), "--steps", str(steps), "--caps", ",".join(map(str, caps))]
    if nproc > 1:
        mpiexec = _mpiexec()
        if mpiexec is None:
            raise RuntimeError("mpiexec not found: pip install \"tinynet[distributed]\"")
        cmd = [mpiexec, "-n", str(nproc)] + cmd
    log(f"  {workload}: {nproc} process(es) x {threads} thread(s)")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker failed ({' '.join(cmd)}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def ring_model():
    """Scaling efficiency of data parallelism with a ring all-reduce, from stated figures.

    Per step each GPU moves ``2 (p-1)/p * S`` bytes (reduce-scatter then all-gather) at the
    link's bus bandwidth ``B`` and pays ``2 (p-1)`` hops of latency ``a``::

        t_comm(p) = 2 (p-1)/p * S / B + 2 (p-1) a

    With a fraction ``h`` of it hidden behind the backward pass (DDP's buckets), the
    efficiency is ``t_compute / (t_compute + (1-h) t_comm)``.
    """
    rows = []
    for model, (params, t_compute) in MODELS.items():
        size = 4 * params  # float32 gradients
        for link, (bandwidth, latency) in LINKS.items():
            for p in (8, 16, 32, 64):
                if link.startswith("NVLink") and p > 8:
                    continue
                t_comm = 2 * (p - 1) / p * size / bandwidth + 2 * (p - 1) * latency
                for hidden in (0.0, 0.5, 0.9):
                    rows.append({"model": model, "link": link, "gpus": p, "t_compute_s": t_compute,
                                 "t_comm_s": t_comm, "hidden": hidden,
                                 "efficiency": t_compute / (t_compute + (1 - hidden) * t_comm)})
    return rows


def run(quick=False, log=print):
    """Measure every workload; returns the results dict (see the module docstring)."""
    steps = 8 if quick else 25
    caps = SWEEP_MB
    res = {"steps": steps, "workloads": [], "ring_model": ring_model()}
    for workload in WORKLOADS:
        single = _launch(workload, 1, 2, steps, caps, log)
        multi = _launch(workload, 2, 1, steps, caps, log)
        med = multi["median_s"]
        t_ddp, t_local, t_comm = med[f"ddp_{caps[-1]:g}"], med["local"], med[f"comm_{caps[-1]:g}"]
        batch = WORKLOADS[workload]
        best = min(caps, key=lambda c: med[f"ddp_{c:g}"])
        t_best = med[f"ddp_{best:g}"]
        entry = {"workload": workload, "global_batch": batch, "single": single, "ddp": multi,
                 "throughput_single": batch / single["median_s"]["single"], "throughput_ddp": batch / t_ddp,
                 "comm_s": t_comm, "overhead_s": t_ddp - t_local,
                 "overlap": {c: min(max(1.0 - w / med[f"comm_{c}"], 0.0), 1.0)
                             for c, w in multi["exposed_wait_s"].items()},
                 "best_cap_mb": best, "throughput_best": batch / t_best,
                 "hidden_bytes": multi["hidden_bytes_fraction"],
                 "sweep": {f"{c:g}": med[f"ddp_{c:g}"] for c in caps}}
        entry["ratio"] = entry["throughput_ddp"] / entry["throughput_single"]
        res["workloads"].append(entry)
    return res


def markdown(res) -> str:
    lines = ["## Scaling out: 2 processes x 1 thread (DDP over MPI) vs 1 process x 2 threads", "",
             "Same global batch; throughput in samples/s at the default bucket_cap_mb=25; medians of alternating "
             "steps, each timed to the slowest rank. t_local: the DDP step under no_sync (compute only); "
             "t_comm: the buckets' all-reduces alone, after a finished backward; exposed: the time the last "
             "rank to finish its backward still waited for all-reduces (DDP's comm_stats; the smallest wait "
             "over the ranks, so the ranks' skew is left out); overlap = 1 - exposed / t_comm. Hidden bytes: the "
             "share of gradient bytes already reduced when the backward pass ended (mean over ranks).", "",
             "| workload | global batch | 1 proc x 2 thr | 2 procs x 1 thr (DDP) | ratio | goal | t_local | t_ddp | "
             "t_comm | exposed | overlap | hidden bytes | buckets |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    default = f"{SWEEP_MB[-1]:g}"
    for e in res["workloads"]:
        med = e["ddp"]["median_s"]
        goal = "≥ 0.90" if e["workload"] == "W3" else "—"
        lines.append(f"| {e['workload']} | {e['global_batch']} | {e['throughput_single']:.0f} | "
                     f"{e['throughput_ddp']:.0f} | {e['ratio']:.2f} | {goal} | {med['local'] * 1e3:.2f} ms | "
                     f"{e['sweep'][default] * 1e3:.2f} ms | {e['comm_s'] * 1e3:.2f} ms | "
                     f"{e['ddp']['exposed_wait_s'][default] * 1e3:.2f} ms | {e['overlap'][default] * 100:.0f} % | "
                     f"{e['hidden_bytes'][default] * 100:.0f} % | {e['ddp']['buckets'][default]} |")
    lines += ["", "Bucket size sweep (DDP step time; t_comm; overlap; hidden bytes; buckets):", "",
              "| workload | " + " | ".join(f"{c:g} MB" for c in SWEEP_MB) + " |",
              "|---|" + "---|" * len(SWEEP_MB)]
    for e in res["workloads"]:
        cells = [f"{e['sweep'][f'{c:g}'] * 1e3:.2f} ms; {e['ddp']['median_s'][f'comm_{c:g}'] * 1e3:.2f} ms; "
                 f"{e['overlap'][f'{c:g}'] * 100:.0f} %; "
                 f"{e['hidden_bytes'][f'{c:g}'] * 100:.0f} %; {e['ddp']['buckets'][f'{c:g}']}" for c in SWEEP_MB]
        lines.append(f"| {e['workload']} | " + " | ".join(cells) + " |")
    lines += ["", "Paper model: ring all-reduce on 8-64 GPUs (stated link figures, float32 gradients; "
                  "efficiency = t_compute / (t_compute + (1 - hidden) t_comm)):", "",
              "| model | link | GPUs | t_compute | t_comm | efficiency (0 / 50 / 90 % hidden) |", "|---|---|---|---|---|---|"]
    rows = {}
    for r in res["ring_model"]:
        rows.setdefault((r["model"], r["link"], r["gpus"]), []).append(r)
    for (model, link, p), rs in rows.items():
        effs = " / ".join(f"{r['efficiency'] * 100:.0f} %" for r in rs)
        lines.append(f"| {model} | {link} | {p} | {rs[0]['t_compute_s'] * 1e3:.1f} ms | "
                     f"{rs[0]['t_comm_s'] * 1e3:.2f} ms | {effs} |")
    return "\n".join(lines) + "\n"


def plot(res, out_dir) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    names = [e["workload"] for e in res["workloads"]]
    axes[0].bar(names, [e["ratio"] for e in res["workloads"]], 0.5, color="tab:orange")
    axes[0].axhline(1.0, color="gray", lw=1)
    axes[0].axhline(0.9, color="tab:red", ls="--", lw=1, label="goal for W3: 0.90")
    axes[0].set_ylabel("throughput: 2 procs x 1 thread / 1 proc x 2 threads")
    axes[0].set_title("data parallel on 2 cores (same global batch)")
    axes[0].legend(fontsize=8)
    for e in res["workloads"]:
        axes[1].semilogx(SWEEP_MB, [e["overlap"][f"{c:g}"] * 100 for c in SWEEP_MB], "o-",
                         label=f"{e['workload']}: time hidden")
        axes[1].semilogx(SWEEP_MB, [e["hidden_bytes"][f"{c:g}"] * 100 for c in SWEEP_MB], "s--",
                         label=f"{e['workload']}: bytes hidden")
    axes[1].axhline(50, color="tab:red", ls="--", lw=1)
    axes[1].set_xlabel("bucket_cap_mb")
    axes[1].set_ylabel("communication hidden behind backward (%)")
    axes[1].set_ylim(-5, 105)
    axes[1].set_title("bucket size sweep")
    axes[1].legend(fontsize=7)
    for model in MODELS:
        for link in LINKS:
            pts = [(r["gpus"], r["efficiency"]) for r in res["ring_model"]
                   if r["model"] == model and r["link"] == link and r["hidden"] == 0.5]
            if len(pts) > 1:
                axes[2].plot([p for p, _ in pts], [e * 100 for _, e in pts], "o-",
                             label=f"{model.split(' (')[0]}, {link.split(' (')[0]}")
    axes[2].set_xlabel("GPUs")
    axes[2].set_ylabel("scaling efficiency (%)")
    axes[2].set_title("paper model: ring all-reduce, 50 % hidden")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "scaling_out.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_distributed", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join("benchmarks", "results"))
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workload", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    ap.add_argument("--nproc", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=10, help=argparse.SUPPRESS)
    ap.add_argument("--caps", default="25", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    from . import machine

    res = run(quick=args.quick, log=lambda m: print(m, file=sys.stderr, flush=True))
    res["machine"] = machine.describe()
    text = f"Machine: {machine.summary_line(res['machine'])}.\n\n" + markdown(res)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "distributed.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(args.out, "distributed.json"), "w") as fh:
        json.dump(res, fh, indent=1, default=str)
    files = plot(res, args.out)
    print(text)
    print("wrote " + ", ".join([os.path.join(args.out, "distributed.md"), os.path.join(args.out, "distributed.json"),
                                *files]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
