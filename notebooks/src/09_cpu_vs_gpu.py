# %% [markdown]
# # 09 · CPU against GPU: why small problems run faster on the CPU
#
# The source documents (seeds 000, 002, 004) present compute power (算力) as the engine
# of large models and the GPU as its workhorse. That is true for *large* work: a GPU has
# thousands of arithmetic units and several TB/s of memory bandwidth. But every piece of
# GPU work also pays fixed costs that do not shrink with the problem:
#
# * **launching a kernel** (the CPU tells the GPU what to run): microseconds per op;
# * **moving data** between host memory and device memory over PCIe;
# * **the framework's own Python overhead** per op (argument checks, building the graph),
#   which is the same whichever device computes.
#
# So the time of one op is roughly $t(n) \approx t_0 + \text{work}(n)/\text{rate}$. When
# the work is tiny, $t_0$ dominates, and the CPU, whose $t_0$ is smallest (NumPy: about a
# microsecond), wins. This notebook **measures** that on the machine it runs on, and reads
# the benchmark suite's stored results (`benchmarks/results/`) for the GPU rows when no GPU
# is present. It never makes up a GPU number.
#
# The five source documents are Chinese articles on large models, cited by number. Those cited here:
#
# * seed 000: an untitled article on data, algorithms and compute as the three engines of large models (数据、算法、算力), named here by its theme;
# * seed 002: an untitled article on how growing compute and data made large models central to AI (计算能力与数据规模的提升), named by its opening;
# * seed 004: the untitled article that opens with *算力提升推动大模型发展* (Growing compute drives large models).

# %%
import json
import pathlib
import statistics
import time

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.benchmarks as tinynet_benchmarks

FULL = False          # True: larger matrices and more repetitions
tn.manual_seed(0)
print("GPU available to tinynet:", tn.cuda.is_available())


def timeit(fn, sync=lambda: None, rounds=5, min_block=0.02):
    """Median seconds per call of `fn` over `rounds` blocks, each lasting at least `min_block`."""
    fn(); sync()                                   # warm-up (and JIT compilation, if any)
    n = 1
    while True:                                    # find a block size that lasts min_block
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        if time.perf_counter() - t0 >= min_block or n >= 1 << 16:
            break
        n *= 4
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)

# %% [markdown]
# ## 1 · Matrix multiplication from 8×8 to 1024×1024 on the CPU
#
# An $n\times n$ matmul costs $2n^3$ floating-point operations. If time grew like the work,
# the achieved rate (GFLOP/s) would be flat. It is not: for small $n$ the rate collapses,
# because the fixed cost per call dominates.

# %%
sizes = [8, 16, 32, 64, 128, 256, 512, 1024] + ([2048] if FULL else [])
cpu_time, numpy_time = {}, {}
for n in sizes:
    a = tn.randn(n, n)
    b = tn.randn(n, n)
    an, bn = a.numpy(), b.numpy()
    cpu_time[n] = timeit(lambda: a @ b)
    numpy_time[n] = timeit(lambda: an @ bn)
gflops = {n: 2 * n ** 3 / cpu_time[n] / 1e9 for n in sizes}
for n in sizes:
    print(f"n={n:5d}  tinynet {cpu_time[n] * 1e6:10.1f} µs   NumPy {numpy_time[n] * 1e6:10.1f} µs"
          f"   {gflops[n]:7.2f} GFLOP/s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].loglog(sizes, [cpu_time[n] for n in sizes], "o-", label="tinynet a @ b (cpu)")
axes[0].loglog(sizes, [numpy_time[n] for n in sizes], "s--", label="NumPy a @ b")
ref = [cpu_time[sizes[-1]] * (n / sizes[-1]) ** 3 for n in sizes]
axes[0].loglog(sizes, ref, ":", color="0.5", label="∝ n³ (pure work)")
axes[0].set(xlabel="n", ylabel="seconds per matmul", title="time: flat at the left = fixed cost")
axes[0].legend(fontsize=8)
axes[1].semilogx(sizes, [gflops[n] for n in sizes], "o-")
axes[1].set(xlabel="n", ylabel="GFLOP/s", title="achieved rate on this CPU")
for ax in axes:
    ax.grid(alpha=0.3, which="both")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2 · Where the fixed cost comes from
#
# For an 8×8 matmul the arithmetic is 1024 flops (well under a microsecond). The rest is
# overhead: NumPy's own call, then tinynet's wrapper (a `Tensor`, a `Function` node, and,
# when an input requires grad, recording the graph). A GPU framework adds a kernel launch
# (and, if the data starts on the host, a copy) on top of the same Python work.

# %%
a8 = tn.randn(8, 8)
b8 = tn.randn(8, 8)
a8g = a8.detach().requires_grad_()
a8n, b8n = a8.numpy(), b8.numpy()
over = {
    "NumPy a @ b": timeit(lambda: a8n @ b8n),
    "tinynet, no grad": timeit(lambda: a8 @ b8),
    "tinynet, graph recorded": timeit(lambda: a8g @ b8),
    "tinynet, forward + backward": timeit(lambda: (a8g @ b8).sum().backward()),
}
for k, v in over.items():
    print(f"{k:30s} {v * 1e6:8.2f} µs")
plt.figure(figsize=(7, 2.6))
plt.barh(list(over), [v * 1e6 for v in over.values()], color=["0.6", "C0", "C1", "C3"])
plt.xlabel("µs per call (8×8 matmul)")
plt.gca().invert_yaxis()
plt.title("per-op overhead dominates tiny problems")
plt.show()

# %% [markdown]
# ## 3 · A whole training step of a tiny network (workload W4)
#
# W4 of the benchmark suite is an MLP 2-16-16-1 with tanh, batch 32, MSE, SGD. One step is
# a few dozen small ops. Its time is nearly all overhead, so it says how lean the
# framework is; on a GPU each of those ops would also be a kernel launch, which is why the
# CPU wins here.

# %%
mlp = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
opt = tn.optim.SGD(mlp.parameters(), lr=0.1)
xw, yw = tn.randn(32, 2), tn.randn(32, 1)


def w4_step():
    opt.zero_grad()
    loss = F.mse_loss(mlp(xw), yw)
    loss.backward()
    opt.step()


w4_time = timeit(w4_step, rounds=7)
print(f"W4 step on cpu: {w4_time * 1e3:.3f} ms  (PyTorch CPU on this machine class: 0.40–0.47 ms)")

# %% [markdown]
# ## 4 · The GPU side
#
# If this machine has a GPU, we measure the same matmuls there (synchronising before
# reading the clock: GPU work is asynchronous). Otherwise we read the benchmark suite's
# stored results, `benchmarks/results/results.json`, written by `tinynet bench` /
# `python -m benchmarks` on whatever machines ran it; each row says which device it came
# from. If neither exists, we only have the CPU curve above, and say so.

# %%
gpu_time = {}
if tn.cuda.is_available():
    for n in sizes:
        a = tn.randn(n, n, device="cuda")
        b = tn.randn(n, n, device="cuda")
        gpu_time[n] = timeit(lambda: a @ b, sync=tn.cuda.synchronize)
    gpu_source = "measured in this notebook"
else:
    gpu_source = None

# The suite is installed with tinynet (as tinynet.benchmarks), so its stored results are
# found next to it, wherever the notebook is run from.
RESULTS = pathlib.Path(tinynet_benchmarks.__file__).parent / "results" / "results.json"
stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else None
if stored is None:
    print(f"no stored benchmark results at {RESULTS.resolve()}: run `python -m benchmarks` to make them.")
else:
    m = stored["machine"]
    print("stored results from:", {k: m[k] for k in list(m)[:8]})
    print("devices not timed in that run:", stored.get("not_timed", {}))

if gpu_time:
    print("GPU matmul measured here:", {n: f"{t * 1e6:.1f} µs" for n, t in gpu_time.items()})


def stored_series(op, label):
    """(sizes, median seconds) of one microbenchmark row of the stored results."""
    pts = [(e["size"], e["results"][label]["median_s"]) for e in stored["micro"]
           if e["op"] == op and "median_s" in e["results"].get(label, {})]
    return [p[0] for p in pts], [p[1] for p in pts]


stored_labels, stored_medians = [], []
if stored is not None:
    stored_medians = [r["median_s"] for group in ("workloads", "micro") for e in stored[group]
                      for r in e["results"].values() if "median_s" in r]
    ops = list(dict.fromkeys(e["op"] for e in stored["micro"]))
    stored_labels = sorted({lab for e in stored["micro"] for lab, r in e["results"].items() if "median_s" in r})
    print("timed rows in the stored results:", stored_labels)
    if ops:
        cols = min(3, len(ops))
        rows = (len(ops) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
        for ax, op in zip(axes.flat, ops):
            for label in stored_labels:
                xs, ys = stored_series(op, label)
                if xs:
                    ax.loglog(xs, ys, "o-" if label.endswith("cuda") else "s--", label=label)
            ax.set_title(op, fontsize=10)
            ax.set_xlabel(next(e["size_label"] for e in stored["micro"] if e["op"] == op), fontsize=8)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(ops):]:
            ax.axis("off")
        fig.suptitle("stored benchmark results: median time against size")
        plt.tight_layout()
        plt.show()
    rows_w = [(e["id"], {lab: r["median_s"] for lab, r in e["results"].items() if "median_s" in r})
              for e in stored["workloads"]]
    for wid, times in rows_w:
        print(f"{wid:7s}", "  ".join(f"{lab} {t * 1e3:.3f} ms" for lab, t in times.items()))
has_stored_gpu = any(lab.endswith("cuda") for lab in stored_labels)
print("GPU rows available:", "measured here" if gpu_time else ("stored" if has_stored_gpu else "none"))

# %% [markdown]
# Reading the curves: wherever a GPU row exists, it is flat at the left (the launch and
# synchronisation cost, the same for every small size) and crosses below the CPU curve
# only once the work is large enough. Where the stored results have no GPU rows (the
# machines this project was built on have none), the CPU curves above and the overhead
# measurements of sections 1–3 are the part of the story we can show with real numbers.
# The rule of thumb the measurements support: keep tiny models (like W4) on the CPU, and
# move to a GPU when a single op does millions of flops.

# %% [markdown]
# ## Checks

# %%
assert all(t > 0 for t in cpu_time.values())
assert gflops[sizes[-1]] > 20 * gflops[8], "large matmuls must use the CPU far better than tiny ones"
assert cpu_time[8] < 1e-3 and cpu_time[sizes[-1]] > 10 * cpu_time[8]
assert over["tinynet, no grad"] > over["NumPy a @ b"]          # the wrapper costs something
assert over["tinynet, forward + backward"] > over["tinynet, no grad"]
assert 0 < w4_time < 0.05
assert stored is not None and stored_medians and all(t > 0 for t in stored_medians)  # found from the package
if gpu_time:
    assert all(t > 0 for t in gpu_time.values())
print("all checks passed")
