"""Collectives on tensors over MPI (PyTorch's ``torch.distributed`` functions).

Every collective is an MPI non-blocking call (``Iallreduce``, ``Ibcast``, ...) on the
tensor's own memory when it is a contiguous host array (no copy), else on a contiguous
host copy written back at the end. ``async_op=True`` returns a :class:`Work` whose
``wait()`` finishes it; otherwise the call waits itself. Every wait is bounded by the
group's timeout: a rank that died or never joins makes the others raise instead of hang.

Before the data moves, the ranks exchange each buffer's dtype and shape (one small
``Iallgather``), so a collective whose tensors differ across ranks fails with an error
naming both, instead of reading garbage (PyTorch checks this only in debug mode).
"""
from __future__ import annotations

import time

import numpy as _np

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..tensor.tensor import Tensor
from .process_group import ReduceOp, _mpi, comm, get_rank, get_world_size, timeout

_MAX_DIMS = 8


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` completes it (bounded by the
    group's timeout) and returns True; ``is_completed()`` tests without waiting."""

    def __init__(self, requests, finish=None, what="collective", statuses=None):
        self._requests = list(requests)
        self._statuses = statuses
        self._finish = finish
        self._what = what
        self._done = False
        self._result = None

    def is_completed(self) -> bool:
        if not self._done and _mpi().Request.Testall(self._requests, self._statuses):
            self._complete()
        return self._done

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._result = self._finish()

    def wait(self, timeout=None) -> bool:
        if self._done:
            return True
        _wait_all(self._requests, self._what, timeout, self._statuses)
        self._complete()
        return True

    def result(self):
        """What the collective produced (e.g. the sender's rank for ``recv``), after ``wait()``."""
        self.wait()
        return self._result


def _wait_all(requests, what, limit=None, statuses=None):
    limit = timeout() if limit is None else float(limit)
    deadline = time.monotonic() + limit
    mpi = _mpi()
    pause = 1e-5
    while not mpi.Request.Testall(requests, statuses):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"tinynet.distributed.{what}: rank {get_rank()} waited {limit:g} s without the other ranks "
                "joining (one may have failed or be stuck); ending instead of hanging "
                "(init_process_group(timeout=...) sets the limit)"
            )
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


def _check_tensor(t, what, name):
    if not isinstance(t, Tensor):
        raise TypeError(f"tinynet.distributed.{what}: {name} must be a Tensor, got {type(t).__name__}")


def _host(t):
    """``(buffer, write_back)``: the tensor's own contiguous host array, or a contiguous
    host copy and a function that writes it back into the tensor."""
    arr = t.array
    if t.device.type == "cpu" and arr.flags.c_contiguous and arr.flags.writeable:
        return arr, None
    host = _np.ascontiguousarray(t.device.to_host(arr))

    def write_back():
        t.array[...] = t.device.from_host(host) if t.device.type != "cpu" else host
    return host, write_back


def _meta(arr):
    row = _np.full(2 + _MAX_DIMS, -1, dtype=_np.int64)
    row[0] = arr.dtype.num
    row[1] = arr.ndim
    row[2:2 + min(arr.ndim, _MAX_DIMS)] = arr.shape[:_MAX_DIMS]
    return row


def _describe(row):
    dims = tuple(int(d) for d in row[2:2 + int(row[1])])
    return f"{_np.dtype(_np.sctypeDict[int(row[0])]) if int(row[0]) in _np.sctypeDict else int(row[0])} {dims}"


def _agree(arr, what, same_shape=True):
    """Check that every rank passes a buffer of this dtype (and shape): one small allgather."""
    c = comm()
    mine = _meta(arr)
    rows = _np.empty((c.Get_size(), mine.size), dtype=_np.int64)
    _wait_all([c.Iallgather(mine, rows)], what)
    for r, row in enumerate(rows):
        if row[0] != mine[0] or (same_shape and not _np.array_equal(row, mine)):
            kind = DTypeError if row[0] != mine[0] else ShapeError
            raise kind(f"tinynet.distributed.{what}: rank {get_rank()} has {_describe(mine)} but rank {r} has "
                       f"{_describe(row)}; every rank must pass tensors of the same dtype and shape")


def _op(op):
    mpi = _mpi()
    table = {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.PRODUCT: mpi.PROD, ReduceOp.MAX: mpi.MAX,
             ReduceOp.MIN: mpi.MIN}
    if op not in table:
        raise ArgumentError(f"tinynet.distributed: unknown reduce op {op!r}; use tn.distributed.ReduceOp.SUM/AVG/"
                            "PRODUCT/MAX/MIN")
    return table[op]


def _run(requests, finish, what, async_op):
    work = Work(requests, finish, what)
    if async_op:
        return work
    work.wait()
    return None


def _bump(*tensors):
    for t in tensors:
        t._version[0] += 1


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across ranks in place (sum, average, product, max or min)."""
    return all_reduce_unchecked(tensor, op, async_op, check=True)


def all_reduce_unchecked(tensor, op=ReduceOp.SUM, async_op=False, check=False):
    """``all_reduce`` without the cross-rank shape/dtype exchange (``check=False``).

    For callers that proved once that every rank passes the same buffers (DDP checks its
    bucket layout at construction): the exchange is a blocking round trip per call, which
    would make the ranks wait for each other at every gradient bucket."""
    _check_tensor(tensor, "all_reduce", "tensor")
    mpi_op = _op(op)
    buf, write_back = _host(tensor)
    if check:
        _agree(buf, "all_reduce")
    if op is ReduceOp.AVG and buf.dtype.kind != "f":
        raise DTypeError(f"tinynet.distributed.all_reduce: ReduceOp.AVG needs a floating tensor, got {tensor.dtype}")
    req = comm().Iallreduce(_mpi().IN_PLACE, buf, mpi_op)

    def finish():
        if op is ReduceOp.AVG:
            buf[...] /= get_world_size()
        if write_back is not None:
            write_back()
        _bump(tensor)
    return _run([req], finish, "all_reduce", async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    _check_tensor(tensor, "broadcast", "tensor")
    _check_rank(src, "broadcast", "src")
    buf, write_back = _host(tensor)
    _agree(buf, "broadcast")
    req = comm().Ibcast(buf, root=src)

    def finish():
        if write_back is not None:
            write_back()
        _bump(tensor)
    return _run([req], finish, "broadcast", async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's ``input_tensor`` concatenated along dim 0 (rank order) into ``output_tensor``."""
    _check_tensor(output_tensor, "all_gather_into_tensor", "output_tensor")
    _check_tensor(input_tensor, "all_gather_into_tensor", "input_tensor")
    n = get_world_size()
    send = _np.ascontiguousarray(input_tensor.device.to_host(input_tensor.array))
    want = (send.shape[0] * n,) + send.shape[1:] if send.ndim else (n,)
    if tuple(output_tensor.shape) != want or output_tensor.array.dtype != send.dtype:
        raise ShapeError(f"tinynet.distributed.all_gather_into_tensor: output_tensor must be {send.dtype} of shape "
                         f"{want} (world size {n} x input {tuple(input_tensor.shape)}), got "
                         f"{output_tensor.array.dtype} {tuple(output_tensor.shape)}")
    _agree(send, "all_gather_into_tensor")
    buf, write_back = _host(output_tensor)
    req = comm().Iallgather(send, buf)

    def finish():
        if write_back is not None:
            write_back()
        _bump(output_tensor)
    return _run([req], finish, "all_gather_into_tensor", async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` gets rank ``r``'s ``tensor`` (a list of ``world_size`` tensors)."""
    _check_tensor(tensor, "all_gather", "tensor")
    n = get_world_size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != n:
        raise ArgumentError(f"tinynet.distributed.all_gather: tensor_list must be a list of {n} tensors (one per rank)")
    send = _np.ascontiguousarray(tensor.device.to_host(tensor.array))
    for i, t in enumerate(tensor_list):
        _check_tensor(t, "all_gather", f"tensor_list[{i}]")
        if tuple(t.shape) != send.shape or t.array.dtype != send.dtype:
            raise ShapeError(f"tinynet.distributed.all_gather: tensor_list[{i}] is {t.array.dtype} "
                             f"{tuple(t.shape)} but tensor is {send.dtype} {send.shape}")
    _agree(send, "all_gather")
    gathered = _np.empty((n,) + send.shape, dtype=send.dtype)
    req = comm().Iallgather(send, gathered)

    def finish():
        for t, part in zip(tensor_list, gathered):
            t.array[...] = t.device.from_host(part) if t.device.type != "cpu" else part
            _bump(t)
    return _run([req], finish, "all_gather", async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` across ranks, then rank ``r`` keeps block ``r`` of it (dim 0) in ``output``."""
    _check_tensor(output, "reduce_scatter_tensor", "output")
    _check_tensor(input, "reduce_scatter_tensor", "input")
    mpi_op = _op(op)
    n = get_world_size()
    send = _np.ascontiguousarray(input.device.to_host(input.array))
    if send.ndim == 0 or send.shape[0] != output.shape[0] * n or tuple(send.shape[1:]) != tuple(output.shape[1:]):
        raise ShapeError(f"tinynet.distributed.reduce_scatter_tensor: input {tuple(input.shape)} must be world size "
                         f"{n} x output {tuple(output.shape)} along dim 0")
    _agree(send, "reduce_scatter_tensor")
    buf, write_back = _host(output)
    req = comm().Ireduce_scatter_block(send, buf, mpi_op)

    def finish():
        if op is ReduceOp.AVG:
            buf[...] /= n
        if write_back is not None:
            write_back()
        _bump(output)
    return _run([req], finish, "reduce_scatter_tensor", async_op)


def _check_rank(r, what, name):
    n = get_world_size()
    if isinstance(r, bool) or not isinstance(r, (int, _np.integer)) or not 0 <= r < n:
        raise ArgumentError(f"tinynet.distributed.{what}: {name}={r!r} is not a rank of this group (0..{n - 1})")


def isend(tensor, dst, group=None, tag=0):
    """Start sending ``tensor`` to rank ``dst``; returns a :class:`Work`."""
    _check_tensor(tensor, "isend", "tensor")
    _check_rank(dst, "isend", "dst")
    buf = _np.ascontiguousarray(tensor.device.to_host(tensor.array))
    return Work([comm().Isend(buf, dest=dst, tag=tag)], None, "send")


def irecv(tensor, src=None, group=None, tag=0):
    """Start receiving into ``tensor`` from rank ``src`` (None: any rank); after ``wait()``,
    ``result()`` is the sender's rank."""
    _check_tensor(tensor, "irecv", "tensor")
    mpi = _mpi()
    if src is not None:
        _check_rank(src, "irecv", "src")
    buf, write_back = _host(tensor)
    statuses = [mpi.Status()]
    req = comm().Irecv(buf, source=mpi.ANY_SOURCE if src is None else src, tag=tag)

    def finish():
        if write_back is not None:
            write_back()
        _bump(tensor)
        return statuses[0].Get_source()
    return Work([req], finish, "recv", statuses)


def send(tensor, dst, group=None, tag=0):
    """Send ``tensor`` to rank ``dst`` (returns when the buffer may be reused)."""
    isend(tensor, dst, group, tag).wait()


def recv(tensor, src=None, group=None, tag=0) -> int:
    """Receive into ``tensor`` from rank ``src`` (None: any rank); returns the sender's rank."""
    return irecv(tensor, src, group, tag).result()


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Rank ``dst`` gets every rank's ``tensor`` in ``gather_list`` (other ranks pass None)."""
    _check_tensor(tensor, "gather", "tensor")
    _check_rank(dst, "gather", "dst")
    n = get_world_size()
    send = _np.ascontiguousarray(tensor.device.to_host(tensor.array))
    _agree(send, "gather")
    root = get_rank() == dst
    if root and (not isinstance(gather_list, (list, tuple)) or len(gather_list) != n):
        raise ArgumentError(f"tinynet.distributed.gather: on the destination rank gather_list must be a list of {n} "
                            "tensors")
    gathered = _np.empty((n,) + send.shape, dtype=send.dtype) if root else None
    req = comm().Igather(send, gathered, root=dst)

    def finish():
        if root:
            for t, part in zip(gather_list, gathered):
                t.array[...] = t.device.from_host(part) if t.device.type != "cpu" else part
                _bump(t)
    return _run([req], finish, "gather", async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank ``r`` gets ``scatter_list[r]`` from rank ``src`` into ``tensor``."""
    _check_tensor(tensor, "scatter", "tensor")
    _check_rank(src, "scatter", "src")
    n = get_world_size()
    buf, write_back = _host(tensor)
    _agree(buf, "scatter")
    chunks = None
    if get_rank() == src:
        if not isinstance(scatter_list, (list, tuple)) or len(scatter_list) != n:
            raise ArgumentError(f"tinynet.distributed.scatter: on the source rank scatter_list must be a list of {n} "
                                "tensors")
        chunks = _np.ascontiguousarray(_np.stack([t.device.to_host(t.array) for t in scatter_list]))
        if chunks.shape[1:] != buf.shape or chunks.dtype != buf.dtype:
            raise ShapeError(f"tinynet.distributed.scatter: scatter_list holds {chunks.dtype} {chunks.shape[1:]} but "
                             f"tensor is {buf.dtype} {buf.shape}")
    req = comm().Iscatter(chunks, buf, root=src)

    def finish():
        if write_back is not None:
            write_back()
        _bump(tensor)
    return _run([req], finish, "scatter", async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached this call (bounded by the group's timeout)."""
    return _run([comm().Ibarrier()], None, "barrier", async_op)
