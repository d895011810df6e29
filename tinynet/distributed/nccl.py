"""NCCL for cuda tensors: CuPy's ``cupy.cuda.nccl`` under ``init_process_group("nccl")``.

NCCL (NVIDIA's collective library) moves GPU memory between GPUs directly (NVLink, PCIe,
InfiniBand) with ring and tree algorithms, without a copy through host memory. tinynet
reaches it through CuPy, which wraps the C API one call per function: a
``NcclCommunicator(world_size, unique_id, rank)`` per process, and on it
``allReduce(sendbuf, recvbuf, count, datatype, op, stream)`` and friends, whose buffers
are raw device pointers (``array.data.ptr``) and whose work is queued on a CUDA stream.

How a group comes up (the ChainerMN recipe; PyTorch does the same with its own store):

1. ``mpiexec`` starts the processes; MPI gives each its rank and the world size.
2. Each process picks its GPU: its *local* rank (its rank among the processes on the
   same machine, from MPI's ``COMM_TYPE_SHARED`` split) modulo the GPUs it sees, so 8
   processes on an 8-GPU machine take one GPU each. That GPU becomes CuPy's current
   device, which is what tinynet's ``"cuda"`` device allocates on.
3. Rank 0 asks NCCL for a unique id (128 bytes naming the rendezvous) and broadcasts it
   over MPI; every rank then builds its communicator from it.

Each collective runs on the group's own CUDA stream, so communication can overlap the
computation queued on CuPy's current stream (the backward pass, in DDP). The order between
the two streams is kept with CUDA events: the NCCL stream first waits for an event
recorded on the current stream (the inputs are computed), and an event recorded on the
NCCL stream after the collective tells when the result is ready. :class:`NcclGroup`
``wait`` polls that event (``Event.done``) until a deadline, so a dead or missing rank
ends in a clear error instead of a GPU that spins forever, and then makes the current
stream wait on it.

The pure parts (the dtype and reduce-op tables, the choice of GPU) need no GPU and are
used before any CuPy call, so bad input is refused with a clear error on any machine.
"""
from __future__ import annotations

import importlib
import importlib.util

import numpy as _np

from ..backend.errors import ArgumentError, DeviceError, DTypeError
from .waiting import poll

# --- NCCL's enums (nccl.h; fixed since NCCL 2.0 and re-exported by CuPy as NCCL_*) --------
#: ``ncclDataType_t`` values.
NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = 0, 1, 2, 3, 4, 5
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64, NCCL_BFLOAT16 = 6, 7, 8, 9
#: ``ncclRedOp_t`` values (``ncclAvg`` exists from NCCL 2.10 on).
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = 0, 1, 2, 3, 4
#: The first NCCL version with ncclAvg, 2.10.0, as ``ncclGetVersion`` codes it (major * 10000 +
#: minor * 100 + patch since 2.9; major * 1000 + minor * 100 + patch before, all below this).
AVG_VERSION = 21000

#: NumPy dtype -> (NCCL datatype, elements per array element). NCCL has no complex type: a
#: complex array is its real and imaginary parts side by side, reduced as twice as many reals
#: (right for sums and averages, meaningless for max/min/product, which are refused). NCCL
#: has no bool either: a bool array is moved as bytes (see :func:`reduce_op` for reductions).
_DTYPES = {
    _np.dtype(_np.int8): (NCCL_INT8, 1), _np.dtype(_np.uint8): (NCCL_UINT8, 1), _np.dtype(_np.bool_): (NCCL_UINT8, 1),
    _np.dtype(_np.int32): (NCCL_INT32, 1), _np.dtype(_np.uint32): (NCCL_UINT32, 1),
    _np.dtype(_np.int64): (NCCL_INT64, 1), _np.dtype(_np.uint64): (NCCL_UINT64, 1),
    _np.dtype(_np.float16): (NCCL_FLOAT16, 1), _np.dtype(_np.float32): (NCCL_FLOAT32, 1),
    _np.dtype(_np.float64): (NCCL_FLOAT64, 1),
    _np.dtype(_np.complex64): (NCCL_FLOAT32, 2), _np.dtype(_np.complex128): (NCCL_FLOAT64, 2),
}


def datatype(dtype, what: str = "collective"):
    """``(NCCL datatype, elements per array element)`` for a NumPy/CuPy dtype, or a
    DTypeError naming the collective, the dtype and the dtypes NCCL can move."""
    key = _np.dtype(dtype)
    if key not in _DTYPES:
        names = ", ".join(sorted({d.name for d in _DTYPES}))
        raise DTypeError(f"tinynet.distributed.{what}: NCCL cannot move {key.name} tensors; use one of {names} "
                         "(or a cpu tensor, which goes over MPI)")
    return _DTYPES[key]


def reduce_op(op_name: str, dtype, nccl_version: int, what: str = "all_reduce"):
    """``(NCCL reduce op, divide by world size afterwards)`` for a ``ReduceOp`` value
    (``"sum"``, ``"avg"``, ``"product"``, ``"max"``, ``"min"``) on ``dtype``.

    ``AVG`` is NCCL's own ``ncclAvg`` from NCCL 2.10 on (floating dtypes), else a sum
    followed by a division on the GPU. ``bool`` follows PyTorch: ``SUM``/``MAX`` are a
    logical or (``ncclMax`` on bytes), ``PRODUCT``/``MIN`` a logical and (``ncclMin``);
    ``AVG`` of booleans is refused. Complex numbers have no order and NCCL multiplies
    their parts separately, so ``MAX``/``MIN``/``PRODUCT`` of complex tensors are refused.
    """
    kind = _np.dtype(dtype).kind
    table = {"sum": NCCL_SUM, "avg": NCCL_SUM, "product": NCCL_PROD, "max": NCCL_MAX, "min": NCCL_MIN}
    if op_name not in table:
        raise ArgumentError(f"tinynet.distributed.{what}: unknown reduce op {op_name!r}; use "
                            "tn.distributed.ReduceOp.SUM/AVG/PRODUCT/MAX/MIN")
    if kind == "b":
        if op_name == "avg":
            raise DTypeError(f"tinynet.distributed.{what}: ReduceOp.AVG of a bool tensor is undefined; convert it "
                             "to a floating dtype first")
        return (NCCL_MAX if op_name in ("sum", "max") else NCCL_MIN), False
    if kind == "c" and op_name in ("product", "max", "min"):
        raise DTypeError(f"tinynet.distributed.{what}: ReduceOp.{op_name.upper()} of a complex tensor is not "
                         "supported by NCCL (it treats the real and imaginary parts as separate numbers); "
                         "use SUM or AVG")
    if op_name == "avg":
        if kind not in "fc":
            raise DTypeError(f"tinynet.distributed.{what}: ReduceOp.AVG needs a floating tensor, got "
                             f"{_np.dtype(dtype).name}")
        if kind == "f" and nccl_version >= AVG_VERSION:
            return NCCL_AVG, False
        return NCCL_SUM, True
    return table[op_name], False


def pick_device(local_rank: int, device_count: int) -> int:
    """The GPU of the process with this local rank (its rank among the processes on its
    machine): ``local_rank % device_count``, so the processes of a machine spread over its
    GPUs. With ``CUDA_VISIBLE_DEVICES`` set per process (each sees one GPU) every rank takes
    its GPU 0; :func:`shared_gpus` then checks that no two ranks landed on one GPU."""
    if device_count < 1:
        raise DeviceError(f"init_process_group('nccl'): local rank {local_rank} sees no CUDA device; NCCL needs "
                          "a GPU per process (use backend='mpi' for cpu tensors)")
    if local_rank < 0:
        raise ArgumentError(f"init_process_group('nccl'): the local rank must be >= 0, got {local_rank}")
    return local_rank % device_count


def device_index(device_id) -> int:
    """The GPU ordinal of ``init_process_group(device_id=...)``: an int ``N``, ``"cuda:N"`` or
    ``"cuda"`` (GPU 0), as ``torch.device`` would name it."""
    if isinstance(device_id, bool):
        raise ArgumentError(f"init_process_group: device_id must be a GPU ordinal or 'cuda:N', got {device_id!r}")
    if isinstance(device_id, (int, _np.integer)):
        index = int(device_id)
    elif getattr(device_id, "type", None) == "cuda":  # a device object
        index = int(getattr(device_id, "index", None) or 0)
    elif isinstance(device_id, str):
        kind, _, tail = device_id.lower().partition(":")
        if kind != "cuda" or (tail and not tail.isdigit()):
            raise ArgumentError(f"init_process_group: device_id must be a GPU ordinal or 'cuda:N', got {device_id!r}")
        index = int(tail) if tail else 0
    else:
        raise ArgumentError(f"init_process_group: device_id must be a GPU ordinal or 'cuda:N', got "
                            f"{type(device_id).__name__}")
    if index < 0:
        raise ArgumentError(f"init_process_group: device_id must be >= 0, got {device_id!r}")
    return index


def shared_gpus(bus_ids) -> str | None:
    """Which local ranks would share a GPU, given each local rank's GPU PCI bus id (None
    when every rank has its own). NCCL refuses two ranks of one communicator on the same
    GPU ("duplicate GPU"); saying which ranks and how to fix it beats NCCL's error."""
    seen = {}
    for local_rank, bus in enumerate(bus_ids):
        seen.setdefault(bus, []).append(local_rank)
    clashes = [f"local ranks {ranks} on GPU {bus}" for bus, ranks in seen.items() if len(ranks) > 1]
    return "; ".join(clashes) or None


def missing() -> str | None:
    """Why NCCL cannot be used in this process (None when it can): no CuPy, a CuPy built
    without NCCL, or no GPU. Imports CuPy only when it is installed; starts no MPI."""
    if importlib.util.find_spec("cupy") is None:
        return ("CuPy is not installed (install it for your CUDA version: pip install \"tinynet[cuda12]\" or "
                "\"tinynet[cuda13]\", on a machine with an NVIDIA GPU)")
    try:
        cupy = importlib.import_module("cupy")
        nccl = importlib.import_module("cupy.cuda.nccl")
    except Exception as exc:  # a broken CuPy install: say what it said
        return f"CuPy does not import ({type(exc).__name__}: {exc})"
    if not getattr(nccl, "available", False):
        return ("CuPy has no NCCL (cupy.cuda.nccl.available is False); install NCCL, e.g. pip install "
                "nvidia-nccl-cu12, or CuPy's wheel that loads it")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, no device
        return f"CUDA reports no usable GPU ({type(exc).__name__}: {exc})"
    if count < 1:
        return "CUDA found no GPU in this process (check CUDA_VISIBLE_DEVICES)"
    return None


class Batch:
    """NCCL calls launched together: ``event`` is recorded on the NCCL stream after them
    (None while queued point-to-point calls wait for their flush)."""

    __slots__ = ("event",)

    def __init__(self, event):
        self.event = event


class NcclGroup:
    """One rank's NCCL communicator, its GPU and the CUDA stream its collectives run on.

    Built by ``init_process_group("nccl")`` after MPI is up (``mpi_comm`` is the group's
    MPI communicator: it carries the NCCL unique id, and ``local_comm`` is MPI's split of
    the processes sharing this machine; ``wait_for(requests, what)`` waits for MPI requests
    within the group's timeout; ``device_id`` overrides the local-rank choice of GPU).
    """

    def __init__(self, mpi_comm, local_comm, wait_for, device_id=None):
        reason = missing()
        if reason is not None:
            raise DeviceError(f"init_process_group('nccl'): {reason}")
        self.cupy = importlib.import_module("cupy")
        self.nccl = importlib.import_module("cupy.cuda.nccl")
        self.rank = mpi_comm.Get_rank()
        self.world_size = mpi_comm.Get_size()
        self.local_rank = local_comm.Get_rank()
        # Every rank picks its GPU and says whether that worked before any rank enters
        # ncclCommInitRank, which blocks until all ranks have joined: one rank failing here
        # must make the others fail too, not wait for it forever.
        problem = ""
        try:
            for name, value in (("NCCL_FLOAT32", NCCL_FLOAT32), ("NCCL_UINT8", NCCL_UINT8), ("NCCL_MIN", NCCL_MIN)):
                if getattr(self.nccl, name, value) != value:  # NCCL's ABI; a mismatch would corrupt data
                    raise RuntimeError(f"CuPy's {name} is {getattr(self.nccl, name)}, not NCCL's {value}; this "
                                       "CuPy is not supported")
            count = int(self.cupy.cuda.runtime.getDeviceCount())
            if device_id is None:
                self.device_id = pick_device(self.local_rank, count)
            elif device_id < count:
                self.device_id = device_id
            else:
                raise DeviceError(f"device_id={device_id} but this process sees {count} GPU(s): 0..{count - 1}")
            self.cupy.cuda.Device(self.device_id).use()  # tinynet's "cuda" is CuPy's current device
            self.version = int(self.nccl.get_version())
            bus = str(self.cupy.cuda.runtime.deviceGetPCIBusId(self.device_id))
        except Exception as exc:  # noqa: BLE001 (reported to every rank below)
            problem = f"{type(exc).__name__}: {exc}"
            bus = f"unknown (local rank {self.local_rank})"
        mine = _np.zeros(64, dtype=_np.uint8)
        raw = bus.encode()[:64]
        mine[:len(raw)] = _np.frombuffer(raw, dtype=_np.uint8)
        buses = _np.zeros((local_comm.Get_size(), 64), dtype=_np.uint8)
        wait_for([local_comm.Iallgather(mine, buses)], "init_process_group")
        clash = shared_gpus([row.tobytes().rstrip(bytes(1)).decode(errors="replace") for row in buses])
        if clash and not problem:
            problem = (f"DeviceError: {clash}; NCCL needs one GPU per process: start at most as many processes per "
                       "machine as it has GPUs (or give each its own with CUDA_VISIBLE_DEVICES), or use "
                       "backend='mpi'")
        flags = _np.zeros(self.world_size, dtype=_np.int8)
        wait_for([mpi_comm.Iallgather(_np.array([0 if problem else 1], dtype=_np.int8), flags)],
                 "init_process_group")
        if problem:
            raise DeviceError(f"init_process_group('nccl'): rank {self.rank} (local rank {self.local_rank}) cannot "
                              f"use its GPU: {problem}")
        if not flags.all():
            failed = [r for r in range(self.world_size) if not flags[r]]
            raise DeviceError(f"init_process_group('nccl'): rank(s) {failed} could not set up their GPU (see their "
                              "error); no NCCL communicator was built")
        # Rank 0 names the rendezvous; the id travels as a small int array over MPI.
        uid = _np.zeros(128, dtype=_np.int16)
        if self.rank == 0:
            uid[:] = self.nccl.get_unique_id()
        wait_for([mpi_comm.Ibcast(uid, root=0)], "init_process_group")
        with self.cupy.cuda.Device(self.device_id):
            self.comm = self.nccl.NcclCommunicator(self.world_size, tuple(int(v) for v in uid), self.rank)
            self.stream = self.cupy.cuda.Stream(non_blocking=True)
        self.broken = None  # why the communicator was aborted, once it was
        self._p2p_calls = []  # point-to-point calls queued until the next flush (see queue_p2p)
        self._p2p_batch = None

    # --- checks ---------------------------------------------------------------------------
    def check_array(self, arr, what, name):
        """The array lives on this rank's GPU (NCCL reads device pointers of its own GPU only)."""
        if self.broken is not None:
            raise RuntimeError(f"tinynet.distributed.{what}: the NCCL communicator was aborted ({self.broken}); "
                               "destroy_process_group() and initialize again")
        dev = getattr(getattr(arr, "device", None), "id", None)
        if dev != self.device_id:
            raise DeviceError(
                f"tinynet.distributed.{what}: {name} is on GPU {dev} but rank {self.rank}'s NCCL communicator is on "
                f"GPU {self.device_id} (local rank {self.local_rank}); create cuda tensors after "
                "init_process_group('nccl'), which makes this rank's GPU the 'cuda' device")

    # --- launching ---------------------------------------------------------------------------
    def launch(self, calls, group=False):
        """Queue ``calls`` (each ``f(stream_ptr)``) on the NCCL stream after the work already on
        the current stream, optionally inside one ``ncclGroupStart/End`` (point-to-point pairs
        must be grouped or they deadlock). Returns a :class:`Batch` holding the event recorded
        after them. Queued point-to-point calls go first, keeping the order of the calls."""
        self.flush()
        return Batch(self._launch(calls, group))

    def queue_p2p(self, call) -> "Batch":
        """Queue one ``send``/``recv`` until the next :meth:`flush` (a ``wait()``, or any other
        collective), then launch all queued ones in one NCCL group.

        On one stream, an ungrouped ``recv`` blocks every later call until its peer sends, so
        the ring ``irecv(from previous); send(to next)`` run by every rank would deadlock.
        Inside a group NCCL progresses all of them together (what PyTorch's
        ``batch_isend_irecv`` asks for explicitly; here it is implicit)."""
        if self._p2p_batch is None:
            self._p2p_batch = Batch(None)
        self._p2p_calls.append(call)
        return self._p2p_batch

    def flush(self):
        """Launch the queued point-to-point calls (one NCCL group)."""
        if self._p2p_calls:
            calls, batch = self._p2p_calls, self._p2p_batch
            self._p2p_calls, self._p2p_batch = [], None
            batch.event = self._launch(calls, True)

    def _launch(self, calls, group):
        cupy = self.cupy
        with cupy.cuda.Device(self.device_id):
            self.stream.wait_event(cupy.cuda.get_current_stream().record())
            if group:
                self.nccl.groupStart()
            try:
                for call in calls:
                    call(self.stream.ptr)
            finally:
                if group:
                    self.nccl.groupEnd()
            return self.stream.record()

    def done(self, batch) -> bool:
        """Whether the calls behind ``batch`` finished (raises NCCL's asynchronous error)."""
        if self.broken is not None:
            raise RuntimeError(f"tinynet.distributed: the NCCL communicator was aborted ({self.broken})")
        if batch.event is None:
            self.flush()
        if batch.event.done:
            return True
        self.comm.check_async_error()
        return False

    def wait(self, batch, limit, what):
        """Wait (at most ``limit`` seconds) for ``batch``'s event, then order the current stream after it.

        NCCL kernels spin on the GPU until every rank has joined: a rank that died would keep
        them (and any later ``synchronize``) waiting forever. Polling the event with a deadline
        turns that into an error; the communicator is then aborted (``ncclCommAbort`` stops its
        kernels), since a half-done collective leaves it unusable.
        """
        def abort():
            self.broken = f"{what} timed out after {limit:g} s"
            try:
                self.comm.abort()
            except Exception:  # noqa: BLE001 (an old NCCL without abort: the error raised still stands)
                pass
        poll(lambda: self.done(batch), what, limit, self.rank, " for NCCL", abort)
        self.cupy.cuda.get_current_stream().wait_event(batch.event)

    def destroy(self):
        if self.comm is not None:
            self.comm.destroy()
            self.comm = None
