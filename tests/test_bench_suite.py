"""The benchmark suite and ``tinynet bench`` run end to end and report honestly.

No timing is asserted (timings are not tests): these check that the suite produces its
table, JSON and plot, that pieces which cannot be built are reported as "not available"
rather than given a number, that a simulated GPU is never timed, and the CLI's errors.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import suite, workloads  # noqa: E402
from benchmarks._timing import alternate, fmt_time  # noqa: E402
from tinynet.cli import bench as cli_bench  # noqa: E402
from tinynet.cli.main import main as cli_main  # noqa: E402


def test_alternate_reports_medians_and_errors():
    calls = []

    def broken():
        raise ImportError("no such layer")

    out = alternate({"a": lambda: calls.append(1), "b": broken}, rounds=3, block_s=0.001, warmup=1)
    assert out["a"]["rounds"] == 3 and len(out["a"]["samples_s"]) == 3
    assert out["a"]["median_s"] > 0 and out["a"]["min_s"] <= out["a"]["median_s"]
    assert out["b"] == {"error": "ImportError: no such layer"}
    assert fmt_time(2.5e-6) == "2.5 µs" and fmt_time(0.0123) == "12.30 ms" and fmt_time(None) == "—"


def test_suite_quick_subset_writes_table_json_and_plot(tmp_path, monkeypatch):
    def missing(lib):
        raise ImportError("cannot import name 'Conv2d'")

    monkeypatch.setitem(workloads.WORKLOADS, "W2", ("CNN", missing))
    res = suite.run(quick=True, only={"W4-raw", "W2", "adam_step"}, log=lambda m: None, memory_steps=0)
    files = suite.write(res, str(tmp_path))
    names = {Path(f).name for f in files}
    assert {"results.md", "results.json", "time_vs_size_cpu.png"} <= names
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["machine"]["cpu_model"] and data["machine"]["numpy"]
    by_id = {w["id"]: w for w in data["workloads"]}
    assert by_id["W4-raw"]["results"]["tinynet/cpu"]["median_s"] > 0
    w2 = by_id["W2"]["results"]["tinynet/cpu"]
    assert "median_s" not in w2 and w2["error"].startswith("not available: ImportError")
    assert {m["size"] for m in data["micro"]} == {10_000, 1_000_000}
    md = (tmp_path / "results.md").read_text()
    assert "| W2 |" in md and "not available: ImportError" in md and "| adam_step | 10000 |" in md
    # The test suite runs with a simulated GPU (or a real one): simulated devices are never timed.
    import tinynet as tn
    if tn.cuda.is_simulated():
        assert data["not_timed"]["tinynet/cuda"] == "simulated, not timed"
        assert "tinynet/cuda" not in by_id["W4-raw"]["results"]


def test_memory_is_measured_per_framework_in_child_processes():
    """Each framework's peak memory comes from its own process: tinynet's child never loads torch,
    and a bigger workload needs more memory than a smaller one."""
    from benchmarks import memory

    small = memory.measure_in_child("tinynet", "W4", steps=1)
    big = memory.measure_in_child("tinynet", "W5", steps=1)
    assert small["peak_reset"] and small["steps"] == 1
    assert 0 <= small["workload_mib"] < big["workload_mib"]
    # W5 keeps a 512x2048 input, its 2048x2048 weight and their gradients: at least 40 MiB.
    assert big["workload_mib"] > 40 and big["peak_mib"] >= big["baseline_mib"] + big["workload_mib"] - 1e-6
    assert memory.measure_in_child("tinynet", "no-such-workload")["error"].startswith("memory run failed (2)")
    res = {"workloads": [{"id": "W7", "memory": {"tinynet": small, "torch": big}}]}
    text = "\n".join(suite._memory_lines(res))
    assert "| W7 |" in text and "≤ 1.0: met" in text


def test_new_workloads_build_and_step_on_tinynet():
    """W6-W8 (the public programs' shapes) run a real training step: the loss is finite and the
    parameters move."""
    from benchmarks.frameworks import tinynet_lib

    lib = tinynet_lib("cpu")
    for wid, kwargs in (("W6", {"batch": 2}), ("W7", {"batch": 2, "block": 8}),
                        ("W8", {"bptt": 3, "batch": 2, "ntoken": 50})):
        step = workloads.WORKLOADS[wid][1](lib, **kwargs)
        first, second = float(step()), float(step())
        assert np.isfinite(first) and np.isfinite(second) and first != second, wid


def test_cli_bench_is_registered_and_builds_the_suite_command(tmp_path):
    from tinynet.cli.main import build_parser

    args = build_parser().parse_args(["bench", "--quick", "--only", "W4", "--out", str(tmp_path), "--threads", "1"])
    location = cli_bench.suite_location(None)
    assert location == (None, "tinynet.benchmarks")
    cmd = cli_bench.command(args, location)
    # isolated mode: the current directory is not on the module path
    assert cmd[1:4] == ["-I", "-m", "tinynet.benchmarks"] and "--quick" in cmd
    assert cmd[cmd.index("--only") + 1] == "W4" and cmd[cmd.index("--threads") + 1] == "1"
    assert cmd[cmd.index("--out") + 1] == str(tmp_path.resolve())
    explicit = cli_bench.command(args, cli_bench.suite_location(str(ROOT / "benchmarks")))
    assert explicit[1:3] == ["-I", "-c"] and explicit[4:6] == [str(ROOT), "benchmarks"]


def test_the_installed_suite_is_this_checkouts_benchmarks_package():
    import tinynet.benchmarks.suite as installed

    assert Path(installed.__file__).resolve() == (ROOT / "benchmarks" / "suite.py").resolve()


def test_cli_bench_without_the_installed_suite_says_what_to_do(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tinynet.benchmarks" else real(name, *a))
    assert cli_main(["bench", "--quick"]) == 1
    err = capsys.readouterr().err
    assert "not installed" in err and "--suite" in err


def test_cli_bench_device_cuda_without_gpu_exits_2(capsys):
    import tinynet as tn

    if tn.cuda.is_available():
        pytest.skip("a real GPU is present")
    assert cli_main(["bench", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "no GPU" in err and "cuda12" in err
