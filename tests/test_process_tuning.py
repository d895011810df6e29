"""What ``import tinynet`` sets up for the process: host memory reuse
(tinynet/backend/allocator.py) and quiet idle threads (tinynet/backend/threads.py)."""
import json
import os
import subprocess
import sys

import pytest

import tinynet as tn

PROBE = r"""
import json, resource
import numpy as np
import tinynet as tn
def step():  # a training step: activations of several sizes made, then all freed
    kept = [np.ones((1 << 20) + 4096 * i, dtype=np.float32) for i in range(12)]
    del kept
for _ in range(3):  # warm up
    step()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0) / 10
print(json.dumps({"faults": faults, "tuning": tn.backend.allocator.tuning()}))
"""


def _probe(env_value):
    env = dict(os.environ, TINYNET_MALLOC_TUNING=env_value)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux-only")
def test_freed_blocks_are_reused_without_page_faults():
    on, off = _probe("1"), _probe("0")
    assert on["tuning"]["applied"], on["tuning"]["reason"]
    assert not off["tuning"]["applied"] and "TINYNET_MALLOC_TUNING" in off["tuning"]["reason"]
    # Untouched, glibc hands the ~50 MiB back to the kernel after each step and faults it in
    # again (~12,000 page faults per step); tuned, the same pages are reused.
    assert off["faults"] > 2000, off
    assert on["faults"] < 200, on


def test_tuning_reports_its_state():
    t = tn.backend.allocator.tuning()
    assert set(t) == {"applied", "reason", "mmap_threshold", "trim_threshold"}
    assert isinstance(t["applied"], bool) and t["reason"]


THREADS_PROBE = r"""
import json, os, sys
first = sys.argv[1]
if first == "numpy":
    import numpy
import tinynet as tn
x = tn.randn(1 << 17)
tn.nn.functional.gelu(x)  # a parallel kernel: Numba picks its threading layer now
import numba
print(json.dumps({"tuning": tn.backend.threads.tuning(), "layer": numba.threading_layer(),
                  "OPENBLAS_THREAD_TIMEOUT": os.environ.get("OPENBLAS_THREAD_TIMEOUT")}))
"""


def _threads_probe(first="tinynet", **env):
    base = {k: v for k, v in os.environ.items()
            if k not in ("OPENBLAS_THREAD_TIMEOUT", "NUMBA_THREADING_LAYER", "TINYNET_THREAD_TUNING")}
    out = subprocess.run([sys.executable, "-c", THREADS_PROBE, first], env={**base, **env},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_idle_thread_settings_are_applied_before_the_pools_start():
    got = _threads_probe()
    assert got["OPENBLAS_THREAD_TIMEOUT"] == "4"
    assert got["layer"] == "workqueue"
    assert got["tuning"] == {"OPENBLAS_THREAD_TIMEOUT": "4", "NUMBA_THREADING_LAYER": "workqueue"}


def test_idle_thread_settings_respect_the_user_and_say_what_was_not_applied():
    mine = _threads_probe(NUMBA_THREADING_LAYER="omp", OPENBLAS_THREAD_TIMEOUT="8")
    assert mine["layer"] == "omp" and mine["OPENBLAS_THREAD_TIMEOUT"] == "8"
    assert "set by the user" in mine["tuning"]["NUMBA_THREADING_LAYER"]
    late = _threads_probe(first="numpy")  # OpenBLAS loaded before tinynet: too late to set
    assert late["OPENBLAS_THREAD_TIMEOUT"] is None
    assert "before tinynet" in late["tuning"]["OPENBLAS_THREAD_TIMEOUT"]
    off = _threads_probe(TINYNET_THREAD_TUNING="0")
    assert off["OPENBLAS_THREAD_TIMEOUT"] is None and off["layer"] != "workqueue"
    assert all("TINYNET_THREAD_TUNING=0" in v for v in off["tuning"].values())
