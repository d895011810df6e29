"""Run by tests/test_distributed.py under ``mpiexec -n N``: tinynet's NCCL code path, without a GPU.

On a machine without a GPU, NCCL cannot run; this check drives everything tinynet does
around it (which NCCL call each collective makes, with which count, datatype, reduce op,
root and peers; the grouping of point-to-point calls; contiguous copies and their write
back; AVG by ncclAvg or by sum-then-divide; the results in the tensors) through
``tests/distributed/nccl_check.py``'s checks against NumPy. Only the communicator is a
stand-in: each NCCL call it receives is carried out with the MPI equivalent on the raw
memory the pointer names (NCCL's semantics: in-place when the pointers are equal, sends
and receives of one group progress together). Simulated cuda tensors (NumPy arrays) are
the "GPU" memory. The real NCCL runs in tests/gpu/test_nccl.py on GPU machines.

argv[1]: the NCCL version to claim (21805 has ncclAvg; 0 makes AVG a sum and a division).
"""
import ctypes
import os
import sys
import types

os.environ["TINYNET_CUDA_SIM"] = "1"  # cuda tensors hold NumPy arrays: the stand-in reads their memory
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

import tinynet.distributed as dist  # noqa: E402
from tinynet.distributed import collectives, nccl, process_group  # noqa: E402

#: NCCL's datatype and reduce-op enums (nccl.h) -> NumPy dtypes and MPI ops.
DTYPES = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64, 6: np.float16,
          7: np.float32, 8: np.float64}
OPS = {0: MPI.SUM, 1: MPI.PROD, 2: MPI.MAX, 3: MPI.MIN, 4: MPI.SUM}
CALLS = []  # (NCCL function, ...) as tinynet made them


def memory(ptr, count, datatype):
    """The ``count`` elements of NCCL ``datatype`` at address ``ptr``, as a NumPy view."""
    dtype = np.dtype(DTYPES[datatype])
    if count == 0:
        return np.empty(0, dtype)
    raw = ctypes.cast(ptr, ctypes.POINTER(ctypes.c_uint8))
    return np.ctypeslib.as_array(raw, shape=(count * dtype.itemsize,)).view(dtype)


class Event:
    done = True  # the stand-in works synchronously


class Stream:
    ptr = 0

    def record(self):
        return Event()

    def wait_event(self, event):
        pass


class Device:
    def __init__(self, index):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class StandInCommunicator:
    """CuPy's ``NcclCommunicator`` methods, each carried out with MPI on the pointed memory."""

    def __init__(self, mpi):
        self.mpi = mpi
        self.group = None  # the calls of an open groupStart()

    def _run(self, fn):
        if self.group is not None:
            self.group.append(fn)
        else:
            fn()

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802 (CuPy's name)
        CALLS.append(("allReduce", count, datatype, op))

        def run():
            send, recv = memory(sendbuf, count, datatype), memory(recvbuf, count, datatype)
            self.mpi.Allreduce(send.copy() if sendbuf == recvbuf else send, recv, op=OPS[op])
            if op == 4:  # ncclAvg
                recv[...] = recv / self.mpi.Get_size()
        self._run(run)

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        CALLS.append(("broadcast", count, datatype, root))

        def run():
            recv = memory(recvbuf, count, datatype)
            if self.mpi.Get_rank() == root and sendbuf != recvbuf:
                recv[...] = memory(sendbuf, count, datatype)
            self.mpi.Bcast(recv, root=root)
        self._run(run)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):  # noqa: N802
        CALLS.append(("allGather", count, datatype))
        n = self.mpi.Get_size()
        self._run(lambda: self.mpi.Allgather(memory(sendbuf, count, datatype).copy(),
                                             memory(recvbuf, count * n, datatype)))

    def reduceScatter(self, sendbuf, recvbuf, recvcount, datatype, op, stream):  # noqa: N802
        CALLS.append(("reduceScatter", recvcount, datatype, op))

        def run():
            recv = memory(recvbuf, recvcount, datatype)
            send = memory(sendbuf, recvcount * self.mpi.Get_size(), datatype).copy()
            self.mpi.Reduce_scatter_block(send, recv, op=OPS[op])
            if op == 4:
                recv[...] = recv / self.mpi.Get_size()
        self._run(run)

    def send(self, sendbuf, count, datatype, peer, stream):
        CALLS.append(("send", count, datatype, peer))
        assert self.group is not None, "an ungrouped NCCL send: a ring of them deadlocks on one stream"
        self.group.append(("send", memory(sendbuf, count, datatype), peer))

    def recv(self, recvbuf, count, datatype, peer, stream):
        CALLS.append(("recv", count, datatype, peer))
        assert self.group is not None, "an ungrouped NCCL recv: a ring of them deadlocks on one stream"
        self.group.append(("recv", memory(recvbuf, count, datatype), peer))

    def check_async_error(self):
        pass

    def destroy(self):
        pass


def main(version):
    dist.init_process_group("mpi", timeout=60)
    comm = StandInCommunicator(process_group.comm().Dup())

    def group_start():
        comm.group = []

    def group_end():
        calls, comm.group = comm.group, None
        requests = []
        for call in calls:  # sends and receives of one group progress together, as in NCCL
            if callable(call):
                call()
            elif call[0] == "send":
                requests.append(comm.mpi.Isend(call[1], dest=call[2]))
            else:
                requests.append(comm.mpi.Irecv(call[1], source=call[2]))
        MPI.Request.Waitall(requests)

    # An NcclGroup as init_process_group("nccl") builds it, with the stand-in in place of
    # CuPy's communicator, streams and events.
    group = object.__new__(nccl.NcclGroup)
    group.cupy = types.SimpleNamespace(ascontiguousarray=np.ascontiguousarray, empty=np.empty, stack=np.stack,
                                       cuda=types.SimpleNamespace(get_current_stream=Stream, Device=Device))
    group.nccl = types.SimpleNamespace(groupStart=group_start, groupEnd=group_end)
    group.rank, group.world_size = dist.get_rank(), dist.get_world_size()
    group.local_rank, group.device_id, group.version = dist.get_rank(), 0, version
    group.comm, group.stream, group.broken, group._p2p_calls, group._p2p_batch = comm, Stream(), None, [], None
    group.check_array = lambda arr, what, name: None  # NumPy arrays have no GPU to compare
    collectives._ptr = lambda arr: arr.ctypes.data
    process_group._GROUP.update(backend="nccl", nccl=group)

    import nccl_check
    nccl_check.collectives()
    used = sorted({call[0] for call in CALLS})
    avg = sum(1 for call in CALLS if call[0] in ("allReduce", "reduceScatter") and call[3] == 4)
    print(f"rank {group.rank}: NCCL calls {','.join(used)}; ncclAvg used {avg} times", flush=True)
    process_group._GROUP["nccl"] = None
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
