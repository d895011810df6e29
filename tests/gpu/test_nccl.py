"""The NCCL backend on real GPUs: ``init_process_group("nccl")`` jobs under ``mpiexec``.

Part of the GPU tier (``pytest -m gpu``; see tests/gpu/README.md). Needs CuPy with NCCL, a
GPU and ``mpiexec`` (the distributed extra); skipped otherwise, with the reason (``-ra``).
The simulated GPU cannot stand in: NCCL reads real GPU memory. One rank runs on any GPU
machine; two ranks (a real exchange between GPUs, point to point, the timeout) need two GPUs,
since NCCL wants one GPU per rank. The checks run inside the jobs
(tests/distributed/nccl_check.py): every collective against NumPy.
"""
import shutil

import pytest

import tinynet as tn
import tinynet.distributed as dist
from tinynet.distributed import nccl

pytestmark = pytest.mark.gpu

if shutil.which("mpiexec") is None or not dist.is_available():
    pytest.skip("needs the distributed extra (pip install \"tinynet[distributed]\")", allow_module_level=True)
if not dist.is_nccl_available():
    pytest.skip(f"NCCL is not usable here: {nccl.missing()}", allow_module_level=True)
if tn.backend.simulated_cuda():
    pytest.skip("TINYNET_CUDA_SIM=1: the simulated GPU holds NumPy arrays, which NCCL cannot reach",
                allow_module_level=True)

TWO_GPUS = pytest.mark.skipif(tn.backend.cuda_device_count() < 2, reason="needs 2 GPUs (one per rank)")


def test_every_collective_on_one_gpu(mpirun):
    proc = mpirun(1, "nccl_check.py", "collectives", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rank 0/1: nccl collectives agree with NumPy" in proc.stdout


@TWO_GPUS
def test_every_collective_between_two_gpus(mpirun):
    proc = mpirun(2, "nccl_check.py", "collectives", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("nccl collectives agree with NumPy") == 2


@TWO_GPUS
def test_a_missing_rank_makes_the_nccl_wait_time_out(mpirun):
    proc = mpirun(2, "nccl_check.py", "timeout", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rank 0: NCCL wait timed out as it should" in proc.stdout
