"""DistributedDataParallel over real MPI processes (``mpiexec -n 2`` and ``-n 3``).

The checks run inside the MPI job (tests/distributed/ddp_check.py), in float64: 20 SGD and
Adam steps of DDP over 2 and 3 ranks (even and uneven shares, one bucket and many) equal one
process training on the concatenated batch to 1e-10; buckets start during the backward
pass; ``no_sync`` accumulation equals the large batch; ``find_unused_parameters``;
``broadcast_buffers``; ``state_dict`` keys; different models across ranks are refused.
"""
from __future__ import annotations

import pytest

import tinynet as tn
import tinynet.distributed as dist
from tinynet.nn.parallel import DistributedDataParallel

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="needs the distributed extra")


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_equals_one_process_on_the_whole_batch(mpirun, n):
    proc = mpirun(n, "ddp_check.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("all DDP checks passed") == n
    assert proc.stdout.count("adam batch 12 buckets 5 ok") == n


def test_ddp_needs_a_process_group_and_a_module():
    with pytest.raises(RuntimeError, match="not initialized"):
        DistributedDataParallel(tn.nn.Linear(2, 2))


def test_the_scaling_benchmark_runs_end_to_end():
    """benchmarks/bench_distributed.py: one tiny measurement through mpiexec (figures live in
    the benchmark's report, never in asserts) and the ring all-reduce model's formula."""
    from benchmarks import bench_distributed as bd

    out = bd._launch("W1", 2, 1, steps=1, caps=[0.05, 25], log=lambda m: None)
    assert out["nproc"] == 2 and out["local_batch"] == 64 and out["buckets"]["25"] == 1 and out["buckets"]["0.05"] > 1
    assert all(0.0 <= f <= 1.0 for f in out["hidden_bytes_fraction"].values())
    assert set(out["median_s"]) == {"ddp_0.05", "ddp_25", "local", "comm_0.05", "comm_25"}
    assert out["gradient_bytes"] == 4 * (784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10)
    row = next(r for r in bd.ring_model() if r["gpus"] == 8 and r["hidden"] == 0.0 and r["link"].startswith("NVLink")
               and r["model"].startswith("GPT-2"))
    bandwidth, latency = bd.LINKS[row["link"]]
    assert abs(row["t_comm_s"] - (2 * 7 / 8 * 4 * 124e6 / bandwidth + 14 * latency)) < 1e-12
    assert abs(row["efficiency"] - 0.25 / (0.25 + row["t_comm_s"])) < 1e-12
