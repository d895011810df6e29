"""Acceptance timing: the README's main job, `tinynet train --model mlp --dataset digits`.

Runs the command as a user would (a fresh process each time, so imports, data loading,
Numba cache loading and the PNG are all counted) and reports, per run, the wall time, the
CPU time (user + sys of the child) and the test accuracy from metrics.json, plus the
machine's load average (timings on a busy machine are inflated; compare CPU time then).

    python benchmarks/bench_train_digits.py [--runs 3] [--seed 0]

Issue 3's target: >= 97 % test accuracy within 30 s on a 2-core machine, the same result
for the same seed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def run_once(seed: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tinynet", "train", "--model", "mlp", "--dataset", "digits",
                        "--seed", str(seed), "--out", out, "--no-progress"], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(os.path.join(out, "metrics.json")) as f:
            doc = json.load(f)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "train_loop_s": round(doc["wall_time_s"], 2),
            "test_accuracy": doc["test"]["accuracy"], "load_avg_1min": os.getloadavg()[0]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(f"tinynet train --model mlp --dataset digits --seed {args.seed}  ({os.cpu_count()} CPU cores)")
    results = [run_once(args.seed) for _ in range(args.runs)]
    for i, r in enumerate(results, 1):
        print(f"run {i}: wall {r['wall_s']:.2f} s  cpu {r['cpu_s']:.2f} s  (train loop {r['train_loop_s']:.2f} s)  "
              f"test accuracy {100 * r['test_accuracy']:.2f} %  load avg {r['load_avg_1min']:.1f}")
    same = len({r["test_accuracy"] for r in results}) == 1
    print(f"same accuracy every run: {same}")


if __name__ == "__main__":
    main()
