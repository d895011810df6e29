"""tinynet.distributed over real MPI processes: ``mpiexec -n 2`` and ``-n 3`` launched from pytest.

The checks themselves run inside the MPI jobs (tests/distributed/*.py): every collective
against NumPy on every rank (cpu tensors, and cuda tensors through host copies), and the
failure behaviour: one rank raising ends the job at once, naming the rank; one rank killed
outright ends the job at once, mpiexec naming its pid and tinynet's pid file naming its
rank; a rank that never joins makes the others raise their timeout error. Without a GPU,
the NCCL backend's error paths, its pure parts (dtype and reduce-op tables, the choice
of GPU) and its code path with a stand-in communicator are checked here; the NCCL
collectives themselves run in tests/gpu/test_nccl.py.
"""
from __future__ import annotations

import importlib.util
import pathlib
import re
import shutil
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import tinynet as tn
import tinynet.distributed as dist
from tinynet.distributed import nccl

pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None or not dist.is_available(),
                                reason="needs the distributed extra (pip install \"tinynet[distributed]\")")


def _timed(mpirun, *args, **kwargs):
    start = time.monotonic()
    proc = mpirun(*args, **kwargs)
    return proc, time.monotonic() - start


@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_matches_numpy(mpirun, n):
    proc = mpirun(n, "collectives_check.py", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    devices = "+".join(tn.backend.available_devices())
    assert proc.stdout.count(f"all collectives agree with NumPy on {devices}") == n, proc.stdout


def test_a_failing_rank_ends_the_job_at_once_naming_it(mpirun):
    proc, seconds = _timed(mpirun, 2, "failure_check.py", "raise", timeout=120)
    assert proc.returncode != 0
    assert "rank 1 of 2 failed with ValueError: rank 1 failed on purpose" in proc.stderr
    assert seconds < 30  # ended by the abort, not by a collective's timeout or a hang


def test_a_killed_rank_ends_the_job_at_once_and_is_named(mpirun, tmp_path, monkeypatch):
    """SIGKILL leaves the killed process no chance to speak: mpiexec (hydra) sees it die,
    kills the others and names it by pid; the rank -> pid file tinynet writes at
    init_process_group (TINYNET_RANK_PIDS) turns that pid into "rank 1"."""
    pids = tmp_path / "ranks.txt"
    monkeypatch.setenv(dist.process_group.RANK_PIDS_ENV, str(pids))
    proc, seconds = _timed(mpirun, 2, "failure_check.py", "kill", timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert seconds < 30, out  # the group's timeout is 60 s: the job did not wait for it
    assert "all_reduce returned" not in out and "waited" not in out, out
    table = {int(pid): int(rank) for rank, pid, _host in (line.split() for line in pids.read_text().splitlines())}
    assert sorted(table.values()) == [0, 1]
    # mpiexec names a pid of the job (under load not always the killed one: the launcher's
    # watch, tested below, names the rank that died first)
    killed = [int(p) for p in re.findall(r"PID (\d+) RUNNING AT", out)]
    assert killed and all(p in table for p in killed), out
    assert "Killed (signal 9)" in out or "EXIT CODE: 9" in out, out


def test_the_launcher_names_a_killed_rank():
    """``tinynet.distributed.launch`` (and ``python -m tinynet.distributed.run``) give the job
    the rank -> pid file and turn mpiexec's pid into a line naming the rank."""
    script = pathlib.Path(__file__).resolve().parent / "distributed" / "failure_check.py"
    start = time.monotonic()
    proc = dist.launch(2, script, "kill", capture=True, timeout=120)
    assert proc.returncode != 0 and time.monotonic() - start < 30
    _assert_names_rank_1(proc.stderr, proc.stdout + proc.stderr)


def test_the_run_command_names_a_killed_rank_too():
    """The terminal path (``python -m tinynet.distributed.run``, ``tinynet train --nproc``):
    output passes through byte for byte and the killed rank is named at the end."""
    script = pathlib.Path(__file__).resolve().parent / "distributed" / "failure_check.py"
    proc = subprocess.run([sys.executable, "-m", "tinynet.distributed.run", "-n", "2", str(script), "kill"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stdout + proc.stderr  # the job's status: rank 1's SIGKILL
    assert "BAD TERMINATION" in proc.stdout
    _assert_names_rank_1(proc.stderr, proc.stderr)


def _assert_names_rank_1(stderr, everything):
    """The launcher names rank 1 as the rank that died first; on a machine so loaded that its
    2 ms watch saw both ranks gone at once it says it cannot tell, listing both."""
    one = re.search(r"tinynet\.distributed: rank (\d) \(pid \d+ on \S+\) died first, without finishing; "
                    r"mpiexec: Killed \(signal 9\); mpiexec ended the other ranks", stderr)
    both = re.search(r"tinynet\.distributed: one of ranks 0 \(pid \d+\), 1 \(pid \d+\) on \S+ died without "
                     r"finishing; mpiexec: Killed \(signal 9\) \(they ended within 2 ms", stderr)
    assert (one and one.group(1) == "1") or both, everything


def test_a_missing_rank_makes_the_others_time_out(mpirun):
    proc, seconds = _timed(mpirun, 2, "failure_check.py", "late", timeout=120)
    assert proc.returncode != 0
    assert "rank 0 waited 3 s without the other ranks joining" in proc.stdout
    assert seconds < 30


@pytest.mark.parametrize("n,version", [(3, 21805), (2, 0)])
def test_nccl_code_path_with_a_stand_in_communicator(mpirun, n, version):
    """Without a GPU: everything tinynet does around NCCL (calls, counts, datatypes, ops,
    roots, peers, grouping, write-backs, AVG by ncclAvg or sum-then-divide) checked against
    NumPy, with only the communicator replaced by one doing each NCCL call over MPI. NCCL
    itself runs in tests/gpu/test_nccl.py."""
    proc = mpirun(n, "nccl_standin_check.py", version, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("nccl collectives agree with NumPy") == n, proc.stdout
    used = "NCCL calls allGather,allReduce,broadcast,recv,reduceScatter,send"
    assert proc.stdout.count(f"{used}; ncclAvg used {5 if version else 0} times") == n, proc.stdout


def test_errors_without_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="not initialized"):
        dist.all_reduce(tn.ones(2))
    with pytest.raises(ValueError, match="unknown backend 'carrier-pigeon'"):
        dist.init_process_group("carrier-pigeon")
    with pytest.raises(ValueError, match="init_method"):
        dist.init_process_group("mpi", init_method="tcp://127.0.0.1:1234")
    with pytest.raises(ValueError, match="device_id=0 binds a GPU to the 'nccl' backend"):
        dist.init_process_group("mpi", device_id=0)
    with pytest.raises(ValueError, match="group_name/pg_options"):
        dist.init_process_group("mpi", pg_options={"x": 1})
    assert dist.ReduceOp.SUM.value == "sum"
    assert not dist.is_initialized()


@pytest.mark.skipif(dist.is_nccl_available(), reason="NCCL works here: tests/gpu/test_nccl.py runs it")
def test_nccl_backend_without_a_gpu_says_what_is_missing():
    """No CuPy (or no NCCL, or no GPU, or the simulated GPU): init_process_group('nccl') is
    refused before MPI starts, naming what is missing and the way out, never silently
    replaced by MPI."""
    reason = nccl.missing()
    assert reason is not None and not dist.is_nccl_available()
    with pytest.raises(tn.backend.DeviceError) as info:
        dist.init_process_group("nccl")
    message = str(info.value)
    assert "backend 'nccl' needs CuPy with NCCL and a GPU" in message and "backend='mpi'" in message
    assert reason in message
    if importlib.util.find_spec("cupy") is None:
        assert "CuPy is not installed" in message and "tinynet[cuda12]" in message
    assert isinstance(info.value, RuntimeError) and not dist.is_initialized()


def test_nccl_dtype_table():
    """Each NumPy dtype maps to NCCL's datatype enum (nccl.h) and a count multiplier."""
    assert nccl.datatype(np.float32) == (7, 1) and nccl.datatype(np.float64) == (8, 1)
    assert nccl.datatype(np.float16) == (6, 1) and nccl.datatype(np.int64) == (4, 1)
    assert nccl.datatype(np.int32) == (2, 1) and nccl.datatype(np.uint8) == (1, 1)
    assert nccl.datatype(np.int8) == (0, 1) and nccl.datatype(np.bool_) == (1, 1)  # bytes
    assert nccl.datatype(np.complex128) == (8, 2) and nccl.datatype(np.complex64) == (7, 2)
    with pytest.raises(TypeError, match=r"all_gather: NCCL cannot move int16 tensors; use one of .*float32"):
        nccl.datatype(np.int16, "all_gather")
    with pytest.raises(RuntimeError, match="object"):
        nccl.datatype(object)


def test_nccl_reduce_op_table():
    new, old = nccl.AVG_VERSION, nccl.AVG_VERSION - 1
    f, i, b, c = np.float32, np.int64, np.bool_, np.complex64
    assert nccl.reduce_op("sum", f, new) == (nccl.NCCL_SUM, False)
    assert nccl.reduce_op("product", i, new) == (nccl.NCCL_PROD, False)
    assert nccl.reduce_op("max", f, new) == (nccl.NCCL_MAX, False)
    assert nccl.reduce_op("min", i, new) == (nccl.NCCL_MIN, False)
    assert nccl.reduce_op("avg", f, new) == (nccl.NCCL_AVG, False)  # ncclAvg from NCCL 2.10
    assert nccl.reduce_op("avg", f, old) == (nccl.NCCL_SUM, True)   # else sum, then divide
    assert nccl.reduce_op("avg", c, new) == (nccl.NCCL_SUM, True)   # complex: sum of the parts, divided
    # bool as PyTorch: sum/max = logical or, product/min = logical and
    assert nccl.reduce_op("sum", b, new) == (nccl.NCCL_MAX, False)
    assert nccl.reduce_op("max", b, new) == (nccl.NCCL_MAX, False)
    assert nccl.reduce_op("product", b, new) == (nccl.NCCL_MIN, False)
    assert nccl.reduce_op("min", b, new) == (nccl.NCCL_MIN, False)
    with pytest.raises(TypeError, match="AVG of a bool tensor"):
        nccl.reduce_op("avg", b, new)
    with pytest.raises(TypeError, match="ReduceOp.AVG needs a floating tensor, got int64"):
        nccl.reduce_op("avg", i, new)
    with pytest.raises(TypeError, match="ReduceOp.MAX of a complex tensor"):
        nccl.reduce_op("max", c, new)
    with pytest.raises(ValueError, match="unknown reduce op 'mean'"):
        nccl.reduce_op("mean", f, new)


def test_nccl_device_id():
    """init_process_group("nccl", device_id=...) as PyTorch names a GPU."""
    assert nccl.device_index(1) == 1 and nccl.device_index("cuda:2") == 2 and nccl.device_index("cuda") == 0
    assert nccl.device_index(types.SimpleNamespace(type="cuda", index=1)) == 1  # a device object
    for bad in ("cpu", "cuda:x", True, 1.5):
        with pytest.raises(ValueError, match="device_id must be a GPU ordinal or 'cuda:N'"):
            nccl.device_index(bad)
    with pytest.raises(ValueError, match="device_id must be >= 0"):
        nccl.device_index(-1)


def test_nccl_device_choice():
    """Local rank modulo the GPUs of the machine: one GPU per process, wrapping around."""
    assert [nccl.pick_device(r, 4) for r in range(4)] == [0, 1, 2, 3]
    assert nccl.pick_device(3, 1) == 0  # CUDA_VISIBLE_DEVICES per process: each sees its GPU as 0
    with pytest.raises(RuntimeError, match="local rank 2 sees no CUDA device"):
        nccl.pick_device(2, 0)
    with pytest.raises(ValueError, match="local rank must be >= 0"):
        nccl.pick_device(-1, 2)
    # two ranks on one GPU (more processes than GPUs, or the same GPU made visible twice)
    assert nccl.shared_gpus(["0000:01:00.0", "0000:02:00.0"]) is None
    assert nccl.shared_gpus(["0000:01:00.0", "0000:02:00.0", "0000:01:00.0"]) == \
        "local ranks [0, 2] on GPU 0000:01:00.0"
