"""Collectives on tensors over MPI and NCCL (PyTorch's ``torch.distributed`` functions).

Which engine moves a tensor:

- cpu tensors: MPI, always. Every collective is an MPI non-blocking call (``Iallreduce``,
  ``Ibcast``, ...) on the tensor's own memory when it is a contiguous host array (no
  copy), else on a contiguous host copy written back at the end.
- cuda tensors in an ``init_process_group("nccl")`` group: NCCL, on the GPU memory itself
  (see :mod:`.nccl`); a collective's tensors must then all be cuda tensors.
- cuda tensors in an ``"mpi"`` group: MPI through a host copy.

``async_op=True`` returns a :class:`Work` whose ``wait()`` finishes it; otherwise the call
waits itself. Every wait is bounded by the group's timeout: a rank that died or never
joins makes the others raise instead of hang. (For NCCL that means a synchronous call
waits on the host for its CUDA event, where PyTorch would only order the streams and
return: the price of a bounded wait. ``async_op=True``, as DDP uses, defers it to
``wait()``.)

Before the data moves, the ranks exchange each buffer's dtype and shape (one small
``Iallgather``), so a collective whose tensors differ across ranks fails with an error
naming both, instead of reading garbage (PyTorch checks this only in debug mode). In an
NCCL group the device type is part of that check: one rank passing a cpu tensor (MPI)
while another passes a cuda tensor (NCCL) would otherwise wait in two different engines.
"""
from __future__ import annotations

import numpy as _np

from ..backend.errors import ArgumentError, DeviceError, DTypeError, ShapeError
from ..tensor.tensor import Tensor
from . import nccl as _nccl
from .process_group import ReduceOp, _mpi, comm, get_rank, get_world_size, nccl_group, timeout, wait_requests

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


class _NcclWork(Work):
    """A collective queued on the NCCL stream: complete when the CUDA event recorded after
    it has fired. ``wait()`` polls the event (bounded by the timeout), then orders CuPy's
    current stream after it; until then it keeps the arrays the GPU reads and writes alive."""

    def __init__(self, group, batch, finish, what, keep):
        super().__init__([], finish, what)
        self._group = group
        self._batch = batch
        self._keep = keep

    def is_completed(self) -> bool:
        if not self._done and self._group.done(self._batch):
            self._group.cupy.cuda.get_current_stream().wait_event(self._batch.event)
            self._complete()
            self._keep = None
        return self._done

    def wait(self, timeout=None) -> bool:
        if self._done:
            return True
        limit = _group_timeout() if timeout is None else float(timeout)
        self._group.wait(self._batch, limit, self._what)
        self._complete()
        self._keep = None
        return True


_group_timeout = timeout


def _wait_all(requests, what, limit=None, statuses=None):
    """Wait for the MPI ``requests``, bounded by ``limit`` (default: the group's timeout)."""
    wait_requests(requests, what, timeout() if limit is None else float(limit), get_rank(), statuses)


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


_DEVICE_CODES = {0: "cpu", 1: "cuda"}
#: NumPy's dtype numbers (what the ranks exchange) back to names, for the error messages.
_DTYPE_NAMES = {_np.dtype(c).num: _np.dtype(c).name for c in "?bBhHiIlLqQefdgFDG"}


def _meta(arr, on_gpu):
    """One row describing a buffer: dtype number, device (0 cpu / 1 cuda), ndim, dims."""
    row = _np.full(3 + _MAX_DIMS, -1, dtype=_np.int64)
    row[0] = arr.dtype.num
    row[1] = int(on_gpu)
    row[2] = arr.ndim
    row[3:3 + min(arr.ndim, _MAX_DIMS)] = arr.shape[:_MAX_DIMS]
    return row


def _describe(row):
    dims = tuple(int(d) for d in row[3:3 + int(row[2])])
    dtype = _DTYPE_NAMES.get(int(row[0]), f"dtype number {int(row[0])}")
    return f"{_DEVICE_CODES[int(row[1])]} {dtype} {dims}"


def _agree(arr, what, same_shape=True, on_gpu=False):
    """Check that every rank passes a buffer of this dtype (and shape, and in an NCCL group
    device type): one small allgather of a row per rank."""
    c = comm()
    mine = _meta(arr, on_gpu)
    rows = _np.empty((c.Get_size(), mine.size), dtype=_np.int64)
    _wait_all([c.Iallgather(mine, rows)], what)
    for r, row in enumerate(rows):
        if row[1] != mine[1]:
            raise DeviceError(f"tinynet.distributed.{what}: rank {get_rank()} has {_describe(mine)} but rank {r} has "
                              f"{_describe(row)}; in an NCCL group every rank must pass cuda tensors (NCCL) or "
                              "every rank cpu tensors (MPI)")
        if row[0] != mine[0] or (same_shape and not _np.array_equal(row, mine)):
            kind = DTypeError if row[0] != mine[0] else ShapeError
            raise kind(f"tinynet.distributed.{what}: rank {get_rank()} has {_describe(mine)} but rank {r} has "
                       f"{_describe(row)}; every rank must pass tensors of the same dtype and shape")


def _nccl_for(what, named):
    """The NCCL group when this call's tensors go through NCCL (an NCCL group and cuda
    tensors), None for MPI. ``named``: ``(argument name, tensor)`` pairs. A call mixing cpu
    and cuda tensors in an NCCL group is refused (NCCL reads GPU memory only, MPI host
    memory: there is no one engine for it)."""
    group = nccl_group()
    if group is None:
        return None
    on_gpu = [(name, t) for name, t in named if t.device.type == "cuda"]
    if not on_gpu:
        return None
    if len(on_gpu) != len(named):
        listed = ", ".join(f"{name} on {t.device}" for name, t in named)
        raise DeviceError(f"tinynet.distributed.{what}: {listed}; in an NCCL group a collective's tensors must all "
                          "be cuda tensors (NCCL) or all cpu tensors (MPI); move them with .to('cuda') or .cpu()")
    for name, t in named:
        group.check_array(t.array, what, name)
    return group


def _ptr(arr) -> int:
    """The GPU address NCCL reads and writes: a CuPy array's ``data.ptr`` (its first element)."""
    return arr.data.ptr


def _contiguous(group, arr):
    """The GPU array itself when C-contiguous (NCCL reads it in place), else a contiguous copy."""
    return arr if arr.flags.c_contiguous else group.cupy.ascontiguousarray(arr)


def _run_nccl(group, calls, finish, what, async_op, keep, grouped=False):
    work = _NcclWork(group, group.launch(calls, grouped), finish, what, keep)
    if async_op:
        return work
    work.wait()
    return None


def _reduce_op_name(op, what):
    if not isinstance(op, ReduceOp):
        raise ArgumentError(f"tinynet.distributed.{what}: unknown reduce op {op!r}; use tn.distributed.ReduceOp.SUM/"
                            "AVG/PRODUCT/MAX/MIN")
    return op.value


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
    group = _nccl_for("all_reduce", [("tensor", tensor)])
    if group is not None:
        return _all_reduce_nccl(group, tensor, op, async_op, check)
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


def _all_reduce_nccl(group, tensor, op, async_op, check):
    arr = tensor.array
    code, parts = _nccl.datatype(arr.dtype, "all_reduce")
    nccl_op, divide = _nccl.reduce_op(_reduce_op_name(op, "all_reduce"), arr.dtype, group.version)
    if check:
        _agree(arr, "all_reduce", on_gpu=True)
    buf = _contiguous(group, arr)
    ptr, count = _ptr(buf), buf.size * parts

    def call(stream):
        group.comm.allReduce(ptr, ptr, count, code, nccl_op, stream)

    def finish():
        if divide:
            buf[...] /= group.world_size
        if buf is not arr:
            arr[...] = buf
        _bump(tensor)
    return _run_nccl(group, [call], finish, "all_reduce", async_op, (tensor, buf))


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    _check_tensor(tensor, "broadcast", "tensor")
    _check_rank(src, "broadcast", "src")
    nccl = _nccl_for("broadcast", [("tensor", tensor)])
    if nccl is not None:
        arr = tensor.array
        code, parts = _nccl.datatype(arr.dtype, "broadcast")
        _agree(arr, "broadcast", on_gpu=True)
        buf = _contiguous(nccl, arr)
        ptr, count = _ptr(buf), buf.size * parts

        def call(stream):
            nccl.comm.broadcast(ptr, ptr, count, code, src, stream)

        def finish_gpu():
            if buf is not arr:
                arr[...] = buf
            _bump(tensor)
        return _run_nccl(nccl, [call], finish_gpu, "broadcast", async_op, (tensor, buf))
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
    shape = tuple(input_tensor.shape)
    dtype = input_tensor.array.dtype
    want = (shape[0] * n,) + shape[1:] if shape else (n,)
    if tuple(output_tensor.shape) != want or output_tensor.array.dtype != dtype:
        raise ShapeError(f"tinynet.distributed.all_gather_into_tensor: output_tensor must be {dtype} of shape "
                         f"{want} (world size {n} x input {shape}), got "
                         f"{output_tensor.array.dtype} {tuple(output_tensor.shape)}")
    nccl = _nccl_for("all_gather_into_tensor", [("output_tensor", output_tensor), ("input_tensor", input_tensor)])
    if nccl is not None:
        code, parts = _nccl.datatype(dtype, "all_gather_into_tensor")
        _agree(input_tensor.array, "all_gather_into_tensor", on_gpu=True)
        send = _contiguous(nccl, input_tensor.array)
        out = output_tensor.array
        recv = _contiguous(nccl, out)
        sptr, rptr, count = _ptr(send), _ptr(recv), send.size * parts

        def call(stream):
            nccl.comm.allGather(sptr, rptr, count, code, stream)

        def finish_gpu():
            if recv is not out:
                out[...] = recv
            _bump(output_tensor)
        return _run_nccl(nccl, [call], finish_gpu, "all_gather_into_tensor", async_op,
                         (output_tensor, input_tensor, send, recv))
    send = _np.ascontiguousarray(input_tensor.device.to_host(input_tensor.array))
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
    shape, dtype = tuple(tensor.shape), tensor.array.dtype
    for i, t in enumerate(tensor_list):
        _check_tensor(t, "all_gather", f"tensor_list[{i}]")
        if tuple(t.shape) != shape or t.array.dtype != dtype:
            raise ShapeError(f"tinynet.distributed.all_gather: tensor_list[{i}] is {t.array.dtype} "
                             f"{tuple(t.shape)} but tensor is {dtype} {shape}")
    nccl = _nccl_for("all_gather", [("tensor", tensor)] + [(f"tensor_list[{i}]", t)
                                                           for i, t in enumerate(tensor_list)])
    if nccl is not None:
        code, parts = _nccl.datatype(dtype, "all_gather")
        _agree(tensor.array, "all_gather", on_gpu=True)
        send = _contiguous(nccl, tensor.array)
        gathered_gpu = nccl.cupy.empty((n,) + shape, dtype=dtype)
        sptr, rptr, count = _ptr(send), _ptr(gathered_gpu), send.size * parts

        def call(stream):
            nccl.comm.allGather(sptr, rptr, count, code, stream)

        def finish_gpu():
            for t, part in zip(tensor_list, gathered_gpu):
                t.array[...] = part
                _bump(t)
        return _run_nccl(nccl, [call], finish_gpu, "all_gather", async_op, (tensor, send, gathered_gpu))
    send = _np.ascontiguousarray(tensor.device.to_host(tensor.array))
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
    n = get_world_size()
    if (len(input.shape) == 0 or input.shape[0] != output.shape[0] * n
            or tuple(input.shape[1:]) != tuple(output.shape[1:])):
        raise ShapeError(f"tinynet.distributed.reduce_scatter_tensor: input {tuple(input.shape)} must be world size "
                         f"{n} x output {tuple(output.shape)} along dim 0")
    nccl = _nccl_for("reduce_scatter_tensor", [("output", output), ("input", input)])
    if nccl is not None:
        if output.array.dtype != input.array.dtype:
            raise DTypeError(f"tinynet.distributed.reduce_scatter_tensor: output is {output.array.dtype} but input "
                             f"is {input.array.dtype}; they must match")
        code, parts = _nccl.datatype(input.array.dtype, "reduce_scatter_tensor")
        nccl_op, divide = _nccl.reduce_op(_reduce_op_name(op, "reduce_scatter_tensor"), input.array.dtype,
                                          nccl.version, "reduce_scatter_tensor")
        _agree(input.array, "reduce_scatter_tensor", on_gpu=True)
        send = _contiguous(nccl, input.array)
        out = output.array
        recv = _contiguous(nccl, out)
        sptr, rptr, count = _ptr(send), _ptr(recv), recv.size * parts

        def call(stream):
            nccl.comm.reduceScatter(sptr, rptr, count, code, nccl_op, stream)

        def finish_gpu():
            if divide:
                recv[...] /= n
            if recv is not out:
                out[...] = recv
            _bump(output)
        return _run_nccl(nccl, [call], finish_gpu, "reduce_scatter_tensor", async_op, (output, input, send, recv))
    mpi_op = _op(op)
    send = _np.ascontiguousarray(input.device.to_host(input.array))
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
    """Start sending ``tensor`` to rank ``dst``; returns a :class:`Work`.

    In an NCCL group a cuda tensor goes through NCCL (the receiver must pass a cuda tensor
    too; NCCL has no tags, so ``tag`` is ignored there, as in PyTorch). The send is queued
    and launched with the other pending sends/receives at the next ``wait()`` or collective,
    in one NCCL group, so that rings of ``irecv``/``send`` cannot deadlock."""
    _check_tensor(tensor, "isend", "tensor")
    _check_rank(dst, "isend", "dst")
    nccl = _nccl_for("send", [("tensor", tensor)])
    if nccl is not None:
        code, parts = _nccl.datatype(tensor.array.dtype, "send")
        buf = _contiguous(nccl, tensor.array)
        ptr, count = _ptr(buf), buf.size * parts

        def call(stream):
            nccl.comm.send(ptr, count, code, dst, stream)
        return _NcclWork(nccl, nccl.queue_p2p(call), None, "send", (tensor, buf))
    buf = _np.ascontiguousarray(tensor.device.to_host(tensor.array))
    return Work([comm().Isend(buf, dest=dst, tag=tag)], None, "send")


def irecv(tensor, src=None, group=None, tag=0):
    """Start receiving into ``tensor`` from rank ``src`` (None: any rank, over MPI only:
    NCCL needs the sender's rank); after ``wait()``, ``result()`` is the sender's rank."""
    _check_tensor(tensor, "irecv", "tensor")
    mpi = _mpi()
    if src is not None:
        _check_rank(src, "irecv", "src")
    nccl = _nccl_for("recv", [("tensor", tensor)])
    if nccl is not None:
        if src is None:
            raise ArgumentError("tinynet.distributed.recv: NCCL cannot receive from any rank; pass src= (the "
                                "sender's rank) for a cuda tensor, or receive into a cpu tensor (MPI)")
        code, parts = _nccl.datatype(tensor.array.dtype, "recv")
        arr = tensor.array
        buf = _contiguous(nccl, arr)
        ptr, count = _ptr(buf), buf.size * parts

        def call(stream):
            nccl.comm.recv(ptr, count, code, src, stream)

        def finish_gpu():
            if buf is not arr:
                arr[...] = buf
            _bump(tensor)
            return src
        return _NcclWork(nccl, nccl.queue_p2p(call), finish_gpu, "recv", (tensor, buf))
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
    """Rank ``dst`` gets every rank's ``tensor`` in ``gather_list`` (other ranks pass None).

    Over NCCL (which has no gather) it is one NCCL group of sends to ``dst`` and, on
    ``dst``, one receive per rank."""
    _check_tensor(tensor, "gather", "tensor")
    _check_rank(dst, "gather", "dst")
    n = get_world_size()
    root = get_rank() == dst
    if root and (not isinstance(gather_list, (list, tuple)) or len(gather_list) != n):
        raise ArgumentError(f"tinynet.distributed.gather: on the destination rank gather_list must be a list of {n} "
                            "tensors")
    named = [("tensor", tensor)]
    if root:
        for i, t in enumerate(gather_list):
            _check_tensor(t, "gather", f"gather_list[{i}]")
            named.append((f"gather_list[{i}]", t))
    nccl = _nccl_for("gather", named)
    if nccl is not None:
        arr = tensor.array
        code, parts = _nccl.datatype(arr.dtype, "gather")
        _agree(arr, "gather", on_gpu=True)
        if root:
            for i, t in enumerate(gather_list):
                if tuple(t.shape) != arr.shape or t.array.dtype != arr.dtype:
                    raise ShapeError(f"tinynet.distributed.gather: gather_list[{i}] is {t.array.dtype} "
                                     f"{tuple(t.shape)} but tensor is {arr.dtype} {arr.shape}")
        send_buf = _contiguous(nccl, arr)
        count = send_buf.size * parts
        slots = nccl.cupy.empty((n,) + arr.shape, dtype=arr.dtype) if root else None
        calls = []
        if root:
            slots[dst] = send_buf  # this rank's own part: a copy on the current stream
            for r in range(n):
                if r != dst:
                    calls.append(lambda stream, r=r: nccl.comm.recv(_ptr(slots[r]), count, code, r, stream))
        else:
            calls.append(lambda stream: nccl.comm.send(_ptr(send_buf), count, code, dst, stream))

        def finish_gpu():
            if root:
                for t, part in zip(gather_list, slots):
                    t.array[...] = part
                    _bump(t)
        return _run_nccl(nccl, calls, finish_gpu, "gather", async_op, (tensor, send_buf, slots), grouped=True)
    send = _np.ascontiguousarray(tensor.device.to_host(tensor.array))
    _agree(send, "gather")
    gathered = _np.empty((n,) + send.shape, dtype=send.dtype) if root else None
    req = comm().Igather(send, gathered, root=dst)

    def finish():
        if root:
            for t, part in zip(gather_list, gathered):
                t.array[...] = t.device.from_host(part) if t.device.type != "cpu" else part
                _bump(t)
    return _run([req], finish, "gather", async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank ``r`` gets ``scatter_list[r]`` from rank ``src`` into ``tensor``.

    Over NCCL (which has no scatter) it is one NCCL group: ``src`` sends one part to each
    rank, every other rank receives its part."""
    _check_tensor(tensor, "scatter", "tensor")
    _check_rank(src, "scatter", "src")
    n = get_world_size()
    root = get_rank() == src
    if root and (not isinstance(scatter_list, (list, tuple)) or len(scatter_list) != n):
        raise ArgumentError(f"tinynet.distributed.scatter: on the source rank scatter_list must be a list of {n} "
                            "tensors")
    named = [("tensor", tensor)]
    if root:
        for i, t in enumerate(scatter_list):
            _check_tensor(t, "scatter", f"scatter_list[{i}]")
            named.append((f"scatter_list[{i}]", t))
    nccl = _nccl_for("scatter", named)
    if nccl is not None:
        arr = tensor.array
        code, parts = _nccl.datatype(arr.dtype, "scatter")
        _agree(arr, "scatter", on_gpu=True)
        recv_buf = _contiguous(nccl, arr)
        count = recv_buf.size * parts
        chunks = None
        calls = []
        if root:
            for i, t in enumerate(scatter_list):
                if tuple(t.shape) != arr.shape or t.array.dtype != arr.dtype:
                    raise ShapeError(f"tinynet.distributed.scatter: scatter_list[{i}] is {t.array.dtype} "
                                     f"{tuple(t.shape)} but tensor is {arr.dtype} {arr.shape}")
            chunks = nccl.cupy.ascontiguousarray(nccl.cupy.stack([t.array for t in scatter_list]))
            recv_buf[...] = chunks[src]  # this rank's own part: a copy on the current stream
            for r in range(n):
                if r != src:
                    calls.append(lambda stream, r=r: nccl.comm.send(_ptr(chunks[r]), count, code, r, stream))
        else:
            calls.append(lambda stream: nccl.comm.recv(_ptr(recv_buf), count, code, src, stream))

        def finish_gpu():
            if recv_buf is not arr:
                arr[...] = recv_buf
            _bump(tensor)
        return _run_nccl(nccl, calls, finish_gpu, "scatter", async_op, (tensor, recv_buf, chunks), grouped=True)
    buf, write_back = _host(tensor)
    _agree(buf, "scatter")
    chunks = None
    if root:
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
    """Wait until every rank has reached this call (bounded by the group's timeout). In an
    NCCL group, sends/receives still queued are launched first."""
    nccl = nccl_group()
    if nccl is not None:
        nccl.flush()
    return _run([comm().Ibarrier()], None, "barrier", async_op)
