"""tinynet.distributed over real MPI processes: ``mpiexec -n 2`` and ``-n 3`` launched from pytest.

The checks themselves run inside the MPI jobs (tests/distributed/*.py): every collective
against NumPy on every rank, and the failure behaviour (one rank raising ends the job at
once, naming the rank; a rank that never joins makes the others raise their timeout error).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

import tinynet as tn
import tinynet.distributed as dist

HERE = pathlib.Path(__file__).resolve().parent
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None or not dist.is_available(),
                                reason="needs the distributed extra (pip install \"tinynet[distributed]\")")


def _mpirun(n, script, *args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    start = time.monotonic()
    proc = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, str(HERE / "distributed" / script), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc, time.monotonic() - start


@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_matches_numpy(n):
    proc, _ = _mpirun(n, "collectives_check.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("all collectives agree with NumPy") == n


def test_a_failing_rank_ends_the_job_at_once_naming_it():
    proc, seconds = _mpirun(2, "failure_check.py", "raise")
    assert proc.returncode != 0
    assert "rank 1 of 2 failed with ValueError: rank 1 failed on purpose" in proc.stderr
    assert seconds < 30  # ended by the abort, not by a collective's timeout or a hang


def test_a_missing_rank_makes_the_others_time_out():
    proc, seconds = _mpirun(2, "failure_check.py", "late")
    assert proc.returncode != 0
    assert "rank 0 waited 3 s without the other ranks joining" in proc.stdout
    assert seconds < 30


def test_errors_without_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="not initialized"):
        dist.all_reduce(tn.ones(2))
    with pytest.raises(ValueError, match="nccl"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("carrier-pigeon")
    with pytest.raises(ValueError, match="init_method"):
        dist.init_process_group("mpi", init_method="tcp://127.0.0.1:1234")
    assert dist.ReduceOp.SUM.value == "sum" and not dist.is_nccl_available()
