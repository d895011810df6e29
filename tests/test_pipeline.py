"""nn.parallel.Pipeline (GPipe schedule) over real MPI processes: ``mpiexec -n 1``, ``-n 2``, ``-n 3``.

The checks run inside the MPI jobs (tests/distributed/pipeline_check.py): in float64, for
several balances, chunks = 1, 2, 4, uneven batches and a batch smaller than ``chunks``,
the pipeline's output and loss (on every rank) and every stage parameter's gradient
equal the unsplit nn.Sequential's on one process (allclose 1e-10); SGD steps stay equal;
the GPipe order (all forwards, then backwards in reverse micro-batch order) on every rank;
Embedding/cross_entropy, reduction="sum", BatchNorm, stages without parameters, cuda
tensors (simulated GPU in CI); errors.
Here: each job passed on every rank, and the argument checks that need no process group.
"""
from __future__ import annotations

import shutil

import pytest

import tinynet as tn
import tinynet.distributed as dist
import tinynet.nn as nn
from tinynet.nn.parallel import Pipeline
from tinynet.nn.parallel.pipeline import _split_sizes

pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None or not dist.is_available(),
                                reason="needs the distributed extra (pip install \"tinynet[distributed]\")")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pipeline_equals_the_unsplit_model(mpirun, n):
    proc = mpirun(n, "pipeline_check.py", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rank in range(n):
        assert f"rank {rank}: pipeline checks passed" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("n,m", [(8, 1), (8, 2), (8, 4), (7, 3), (10, 4), (3, 3), (5, 5), (1, 1)])
def test_micro_batch_sizes_follow_tensor_split(n, m):
    want = {(8, 1): [8], (8, 2): [4, 4], (8, 4): [2, 2, 2, 2], (7, 3): [3, 2, 2], (10, 4): [3, 3, 2, 2],
            (3, 3): [1, 1, 1], (5, 5): [1] * 5, (1, 1): [1]}[(n, m)]
    assert _split_sizes(n, m) == want
    torch = pytest.importorskip("torch")
    assert [c.shape[0] for c in torch.tensor_split(torch.zeros(n), m)] == want


def model():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_argument_errors_without_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(TypeError, match=r"module must be an nn.Sequential.*got Linear"):
        Pipeline(nn.Linear(2, 2), [1])
    with pytest.raises(ValueError, match="balance must be a non-empty list of ints"):
        Pipeline(model(), 3)
    with pytest.raises(ValueError, match="balance must be a non-empty list of ints"):
        Pipeline(model(), [])
    with pytest.raises(ValueError, match=r"balance=\[3, 0\] has a stage with 0 layers"):
        Pipeline(model(), [3, 0])
    for chunks in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="chunks must be an int >= 1"):
            Pipeline(model(), [3], chunks=chunks)
    with pytest.raises(RuntimeError, match="process group is not initialized"):
        Pipeline(model(), [3], chunks=2)
    assert tn.nn.parallel.Pipeline is Pipeline
