"""Run by tests/gpu/test_nccl.py under ``mpiexec -n N`` (one GPU per rank): every collective
of an ``init_process_group("nccl")`` group on cuda tensors, against NumPy.

``collectives``: every collective and reduce op on cuda tensors (float64, float32, int64,
bool; contiguous and strided; synchronous and ``async_op=True``), results checked on every
rank against what NumPy computes from all ranks' data, and that the in-place collectives
kept the tensor's own GPU memory (NCCL wrote it directly: no host round trip). Also: cpu
tensors in the NCCL group still go over MPI, a call mixing cpu and cuda tensors is refused,
and (with 2+ ranks) tensors that differ across ranks are refused naming both.
``timeout`` (2+ ranks): rank 1 skips an all_reduce; rank 0's ``wait(timeout=2)`` must raise
instead of spinning on the GPU forever.
"""
import sys
import time

import numpy as np

import tinynet as tn
import tinynet.distributed as dist


def data(rank, shape=(3, 4), dtype=np.float64):
    return (np.arange(np.prod(shape)).reshape(shape) * (rank + 1) + rank).astype(dtype)


def cuda(a, dtype=None):
    return tn.tensor(a, device="cuda", dtype=dtype)


def expect_error(call, kind, *words):
    try:
        call()
    except kind as exc:
        for w in words:
            assert w in str(exc), (w, str(exc))
    else:
        raise AssertionError(f"no {kind.__name__} mentioning {words}")


def collectives():
    rank, n = dist.get_rank(), dist.get_world_size()
    assert dist.get_backend() == "nccl"
    everyone = [data(r) for r in range(n)]

    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        e = [x.astype(dtype) for x in everyone]
        for op, ref in ((dist.ReduceOp.SUM, sum(e)), (dist.ReduceOp.AVG, sum(e) / n),
                        (dist.ReduceOp.MAX, np.max(e, 0)), (dist.ReduceOp.MIN, np.min(e, 0)),
                        (dist.ReduceOp.PRODUCT, np.prod(e, 0))):
            t = cuda(data(rank, dtype=dtype))
            ptr = dist.collectives._ptr(t.array)
            dist.all_reduce(t, op=op)
            assert t.device == "cuda" and dist.collectives._ptr(t.array) == ptr, "all_reduce left the tensor's GPU memory"
            np.testing.assert_allclose(t.cpu().numpy(), ref, rtol=rtol)
    ints = [data(r, dtype=np.int64) for r in range(n)]
    for op, ref in ((dist.ReduceOp.SUM, sum(ints)), (dist.ReduceOp.MAX, np.max(ints, 0)),
                    (dist.ReduceOp.MIN, np.min(ints, 0)), (dist.ReduceOp.PRODUCT, np.prod(ints, 0))):
        t = cuda(ints[rank])
        dist.all_reduce(t, op=op)
        assert t.dtype == tn.int64
        np.testing.assert_array_equal(t.cpu().numpy(), ref)
    flags = [np.array([r == 0, True, False, r % 2 == 1]) for r in range(n)]
    t = cuda(flags[rank])
    dist.all_reduce(t)  # bool SUM = logical or
    np.testing.assert_array_equal(t.cpu().numpy(), np.logical_or.reduce(flags))
    t = cuda(flags[rank])
    dist.all_reduce(t, op=dist.ReduceOp.MIN)  # logical and
    np.testing.assert_array_equal(t.cpu().numpy(), np.logical_and.reduce(flags))
    expect_error(lambda: dist.all_reduce(cuda(ints[rank]), op=dist.ReduceOp.AVG), TypeError, "floating")

    t = cuda(data(rank).T)  # a strided view: reduced through a contiguous GPU copy, written back
    dist.all_reduce(t)
    np.testing.assert_allclose(t.cpu().numpy(), sum(x.T for x in everyone))
    t = cuda(data(rank), dtype=tn.float32)
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    assert work.wait() and work.is_completed()
    np.testing.assert_allclose(t.cpu().numpy(), (sum(everyone) / n).astype(np.float32), rtol=1e-6)
    # DDP's entry point, without the cross-rank check
    t = cuda(data(rank))
    dist.collectives.all_reduce_unchecked(t, dist.ReduceOp.AVG, async_op=True).wait()
    np.testing.assert_allclose(t.cpu().numpy(), sum(everyone) / n, rtol=1e-12)

    t = cuda(data(rank))
    dist.broadcast(t, src=n - 1)
    np.testing.assert_array_equal(t.cpu().numpy(), everyone[n - 1])
    t = cuda(data(rank))
    dist.broadcast(t, src=0, async_op=True).wait()
    np.testing.assert_array_equal(t.cpu().numpy(), everyone[0])

    out = tn.zeros(3 * n, 4, dtype=tn.float64, device="cuda")
    dist.all_gather_into_tensor(out, cuda(data(rank)))
    np.testing.assert_array_equal(out.cpu().numpy(), np.concatenate(everyone))
    parts = [tn.zeros(3, 4, dtype=tn.float64, device="cuda") for _ in range(n)]
    dist.all_gather(parts, cuda(data(rank)), async_op=True).wait()
    for r in range(n):
        np.testing.assert_array_equal(parts[r].cpu().numpy(), everyone[r])

    big = [data(r, (2 * n, 3)) for r in range(n)]
    for op, ref in ((dist.ReduceOp.SUM, sum(big)), (dist.ReduceOp.AVG, sum(big) / n),
                    (dist.ReduceOp.MAX, np.max(big, 0))):
        out = tn.zeros(2, 3, dtype=tn.float64, device="cuda")
        dist.reduce_scatter_tensor(out, cuda(big[rank]), op=op)
        np.testing.assert_allclose(out.cpu().numpy(), ref[2 * rank:2 * rank + 2], rtol=1e-12)

    gl = [tn.zeros(3, 4, dtype=tn.float64, device="cuda") for _ in range(n)] if rank == 0 else None
    dist.gather(cuda(data(rank)), gl, dst=0)
    if rank == 0:
        for r in range(n):
            np.testing.assert_array_equal(gl[r].cpu().numpy(), everyone[r])
    got = tn.zeros(3, 4, dtype=tn.float64, device="cuda")
    src = n - 1
    dist.scatter(got, [cuda(x) for x in everyone] if rank == src else None, src=src)
    np.testing.assert_array_equal(got.cpu().numpy(), everyone[rank])

    if n > 1:  # point to point: a ring (NCCL needs a peer; a rank cannot send to itself alone)
        nxt, prv = (rank + 1) % n, (rank - 1) % n
        recv_buf = tn.zeros(3, 4, dtype=tn.float64, device="cuda")
        pending = dist.irecv(recv_buf, src=prv)
        dist.send(cuda(data(rank)), dst=nxt)
        assert pending.result() == prv
        np.testing.assert_array_equal(recv_buf.cpu().numpy(), everyone[prv])
        expect_error(lambda: dist.recv(tn.zeros(2, device="cuda")), ValueError, "pass src=")

        # tensors that differ across ranks: shape, then device type, each naming both ranks
        shape = (2, 2) if rank == 0 else (3, 2)
        expect_error(lambda: dist.all_reduce(tn.zeros(*shape, device="cuda")), ValueError, "(2, 2)", "(3, 2)")
        mixed = tn.zeros(2) if rank == 0 else tn.zeros(2, device="cuda")
        expect_error(lambda: dist.all_reduce(mixed), ValueError, "cpu", "cuda", "NCCL group")

    # cpu tensors in an NCCL group go over MPI
    t = tn.tensor(data(rank))
    dist.all_reduce(t)
    assert t.device == "cpu"
    np.testing.assert_allclose(t.numpy(), sum(everyone))
    # one call mixing cpu and cuda tensors has no engine: refused before anything moves
    expect_error(lambda: dist.all_gather_into_tensor(tn.zeros(3 * n, 4, dtype=tn.float64, device="cuda"),
                                                     tn.tensor(data(rank))),
                 ValueError, "output_tensor on cuda", "input_tensor on cpu")

    dist.barrier()
    print(f"rank {rank}/{n}: nccl collectives agree with NumPy", flush=True)


def timeout():
    rank = dist.get_rank()
    if rank == 1:
        time.sleep(4)  # never joins rank 0's all_reduce
    else:
        start = time.monotonic()
        expect_error(lambda: dist.all_reduce(cuda(data(0)), async_op=True).wait(timeout=2), RuntimeError,
                     "rank 0 waited 2 s for NCCL")
        assert time.monotonic() - start < 10
        print("rank 0: NCCL wait timed out as it should", flush=True)
    dist.process_group.nccl_group().comm.abort()  # both ranks: the communicator is unusable now
    dist.barrier()


def main(mode):
    dist.init_process_group("nccl", timeout=60)
    {"collectives": collectives, "timeout": timeout}[mode]()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
