"""Run by tests/test_distributed.py under ``mpiexec -n N``: every collective against NumPy.

Each rank builds the same deterministic data (``rank``-dependent), runs the collectives and
compares with what NumPy computes from all ranks' data; any mismatch raises, which makes
this rank exit non-zero and fails the test.
"""
import sys

import numpy as np

import tinynet as tn
import tinynet.distributed as dist


def data(rank, shape=(3, 4), dtype=np.float64):
    return (np.arange(np.prod(shape)).reshape(shape) * (rank + 1) + rank).astype(dtype)


def main():
    dist.init_process_group("mpi", timeout=60)
    rank, n = dist.get_rank(), dist.get_world_size()
    everyone = [data(r) for r in range(n)]

    for op, ref in ((dist.ReduceOp.SUM, sum(everyone)), (dist.ReduceOp.AVG, sum(everyone) / n),
                    (dist.ReduceOp.MAX, np.max(everyone, 0)), (dist.ReduceOp.MIN, np.min(everyone, 0)),
                    (dist.ReduceOp.PRODUCT, np.prod(everyone, 0))):
        t = tn.tensor(data(rank))
        dist.all_reduce(t, op=op)
        np.testing.assert_allclose(t.numpy(), ref, rtol=1e-12)
    t = tn.tensor(data(rank).T)  # a strided view: reduced through a copy, written back
    dist.all_reduce(t)
    np.testing.assert_allclose(t.numpy(), sum(e.T for e in everyone))
    t = tn.tensor(data(rank), dtype=tn.float32)
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() and work.is_completed()
    np.testing.assert_allclose(t.numpy(), sum(everyone).astype(np.float32), rtol=1e-6)

    t = tn.tensor(data(rank))
    dist.broadcast(t, src=n - 1)
    np.testing.assert_array_equal(t.numpy(), everyone[n - 1])

    out = tn.zeros(3 * n, 4, dtype=tn.float64)
    dist.all_gather_into_tensor(out, tn.tensor(data(rank)))
    np.testing.assert_array_equal(out.numpy(), np.concatenate(everyone))
    parts = [tn.zeros(3, 4, dtype=tn.float64) for _ in range(n)]
    dist.all_gather(parts, tn.tensor(data(rank)))
    for r in range(n):
        np.testing.assert_array_equal(parts[r].numpy(), everyone[r])

    big = [data(r, (2 * n, 3)) for r in range(n)]
    out = tn.zeros(2, 3, dtype=tn.float64)
    dist.reduce_scatter_tensor(out, tn.tensor(big[rank]))
    np.testing.assert_allclose(out.numpy(), sum(big)[2 * rank:2 * rank + 2])

    gl = [tn.zeros(3, 4, dtype=tn.float64) for _ in range(n)] if rank == 0 else None
    dist.gather(tn.tensor(data(rank)), gl, dst=0)
    if rank == 0:
        for r in range(n):
            np.testing.assert_array_equal(gl[r].numpy(), everyone[r])
    got = tn.zeros(3, 4, dtype=tn.float64)
    dist.scatter(got, [tn.tensor(e) for e in everyone] if rank == 1 else None, src=1)
    np.testing.assert_array_equal(got.numpy(), everyone[rank])

    # point to point: a ring, each rank sends to the next and receives from the previous
    nxt, prv = (rank + 1) % n, (rank - 1) % n
    recv_buf = tn.zeros(3, 4, dtype=tn.float64)
    pending = dist.irecv(recv_buf, src=prv)
    dist.send(tn.tensor(data(rank)), dst=nxt)
    assert pending.result() == prv
    np.testing.assert_array_equal(recv_buf.numpy(), everyone[prv])
    if rank == 0:
        any_buf = tn.zeros(2, dtype=tn.int64)
        assert dist.recv(any_buf) == n - 1 and any_buf.tolist() == [7, n - 1]
    elif rank == n - 1:
        dist.send(tn.tensor([7, rank]), dst=0)

    # a mismatch across ranks is an error naming both ranks' tensors (shape, then dtype)
    shape = (2, 2) if rank == 0 else (3, 2)
    other = 1 if rank == 0 else 0
    try:
        dist.all_reduce(tn.zeros(*shape, dtype=tn.float64))
    except ValueError as exc:
        assert isinstance(exc, RuntimeError), type(exc)
        assert f"rank {rank} has" in str(exc) and "(2, 2)" in str(exc) and "(3, 2)" in str(exc), exc
    else:
        raise AssertionError("mismatched shapes were not refused")
    dtype = tn.float64 if rank == 0 else tn.float32
    try:
        dist.broadcast(tn.zeros(2, dtype=dtype), src=0)
    except TypeError as exc:
        assert "float64" in str(exc) and "float32" in str(exc) and f"rank {other}" in str(exc), exc
    else:
        raise AssertionError("mismatched dtypes were not refused")

    # asynchronous forms of the other collectives
    t = tn.tensor(data(rank))
    work = dist.broadcast(t, src=0, async_op=True)
    work.wait()
    np.testing.assert_array_equal(t.numpy(), everyone[0])
    out = tn.zeros(2, 3, dtype=tn.float64)
    work = dist.reduce_scatter_tensor(out, tn.tensor(big[rank]), op=dist.ReduceOp.AVG, async_op=True)
    assert work.wait()
    np.testing.assert_allclose(out.numpy(), (sum(big) / n)[2 * rank:2 * rank + 2])

    # wrong arguments: clear errors before anything moves
    for call, kind, words in (
            (lambda: dist.broadcast(tn.ones(2), src=n), ValueError, f"src={n} is not a rank"),
            (lambda: dist.all_gather_into_tensor(tn.zeros(5), tn.ones(2)), ValueError, f"of shape ({2 * n},)"),
            (lambda: dist.all_gather([tn.zeros(2)], tn.ones(2)) if n > 1 else (_ for _ in ()).throw(
                ValueError("list of 1")), ValueError, "list of"),
            (lambda: dist.all_reduce(tn.ones(2, dtype=tn.int64), op=dist.ReduceOp.AVG), TypeError, "floating"),
            (lambda: dist.all_reduce(tn.ones(2), op="sum"), ValueError, "unknown reduce op"),
            (lambda: dist.all_reduce(np.ones(2)), TypeError, "must be a Tensor")):
        try:
            call()
        except kind as exc:
            assert words in str(exc), (words, exc)
        else:
            raise AssertionError(f"no error for {words!r}")

    # cuda tensors in an MPI group go through a host copy (on the simulated GPU in CI) and
    # stay on the GPU
    if "cuda" in tn.backend.available_devices():
        t = tn.tensor(data(rank), device="cuda")
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        assert t.device == "cuda"
        np.testing.assert_allclose(t.cpu().numpy(), sum(everyone) / n, rtol=1e-12)
        t = tn.tensor(data(rank), device="cuda")
        dist.broadcast(t, src=n - 1)
        np.testing.assert_array_equal(t.cpu().numpy(), everyone[n - 1])
        out = tn.zeros(3 * n, 4, dtype=tn.float64, device="cuda")
        dist.all_gather_into_tensor(out, tn.tensor(data(rank), device="cuda"))
        assert out.device == "cuda"
        np.testing.assert_array_equal(out.cpu().numpy(), np.concatenate(everyone))
        recv_buf = tn.zeros(3, 4, dtype=tn.float64, device="cuda")
        pending = dist.irecv(recv_buf, src=prv)
        dist.send(tn.tensor(data(rank), device="cuda"), dst=nxt)
        assert pending.result() == prv and recv_buf.device == "cuda"
        np.testing.assert_array_equal(recv_buf.cpu().numpy(), everyone[prv])

    dist.barrier()
    dist.destroy_process_group()
    devices = "+".join(tn.backend.available_devices())
    print(f"rank {rank}/{n}: all collectives agree with NumPy on {devices}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
