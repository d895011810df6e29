"""Host allocator tuning (tinynet/backend/allocator.py): freed blocks are reused, not re-faulted."""
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
