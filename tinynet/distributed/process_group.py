"""The process group: which processes train together, over which engine (PyTorch's names).

``init_process_group(backend="mpi")`` joins the processes started by ``mpiexec -n N``
(MPI through ``mpi4py``: rank and world size come from MPI, never from a home-made
transport). One default group per process, as in PyTorch's common use; the communicator
is ``MPI.COMM_WORLD`` duplicated, so tinynet's messages never mix with the user's own MPI
traffic. ``timeout`` bounds every wait of a collective (see :mod:`.collectives`), and an
exception that ends one rank aborts the whole job at once, naming the rank.

``backend="nccl"`` adds NVIDIA's NCCL (through CuPy) for cuda tensors: the processes
still come from ``mpiexec`` and MPI still gives ranks, carries NCCL's rendezvous id, checks
that the ranks' tensors agree, and moves cpu tensors; cuda tensors go GPU to GPU through
NCCL (see :mod:`.nccl`). Without CuPy, NCCL or a GPU it is refused with an error naming
what is missing, never silently replaced by MPI.
"""
from __future__ import annotations

import datetime
import enum
import importlib
import importlib.util
import os
import socket
import sys

import numpy as _np

from ..backend.errors import ArgumentError, DeviceError
from ..backend.registry import simulated_cuda
from . import nccl as _nccl
from .waiting import poll


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce_scatter_tensor`` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"


#: The default group's state: the communicator, the backend name and the timeout (seconds).
_GROUP = {"comm": None, "backend": None, "timeout": None, "nccl": None}
#: mpi4py's MPI module, imported on first use: importing it starts MPI (MPI_Init), which
#: ``import tinynet`` must not do in every process.
_MPI = []


def _mpi():
    if not _MPI:
        try:
            _MPI.append(importlib.import_module("mpi4py.MPI"))
        except ImportError as exc:
            raise RuntimeError(
                f"tinynet.distributed needs mpi4py and an MPI library ({exc}); install them with "
                "`pip install \"tinynet[distributed]\"` (mpi4py + the mpich wheel, which brings mpiexec)"
            ) from None
    return _MPI[0]


def init_process_group(backend: str = "mpi", init_method=None, timeout=None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None):
    """Join the default process group (PyTorch's signature).

    ``backend``: ``"mpi"`` (tensors of any device over MPI; cuda tensors through a host
    copy) or ``"nccl"`` (cuda tensors GPU to GPU through CuPy's NCCL, cpu tensors still over
    MPI; each process takes GPU ``local rank % GPUs on its machine``, which becomes the
    ``"cuda"`` device: call this before making cuda tensors). The processes are those of
    ``mpiexec`` either way. ``rank`` and
    ``world_size``, when given, must agree with MPI's (MPI decides them); ``init_method`` and
    ``store`` are PyTorch's rendezvous for its own transports and are refused here, since
    mpiexec is the rendezvous. ``timeout`` (a ``datetime.timedelta`` or seconds; default 30
    minutes, PyTorch's) bounds every collective's wait. ``device_id`` (``"nccl"`` only: a GPU
    ordinal or ``"cuda:N"``) picks this process's GPU instead of its local rank.
    ``group_name`` and ``pg_options`` (PyTorch's names for its own transports' groups and
    options) have no meaning over MPI and are refused when set.
    """
    if _GROUP["comm"] is not None:
        raise RuntimeError("init_process_group: the default process group is already initialized; call "
                           "destroy_process_group() first")
    if not isinstance(backend, str) or backend.lower() not in ("mpi", "gloo", "nccl"):
        raise ArgumentError(f"init_process_group: unknown backend {backend!r}; tinynet has 'mpi' (cpu tensors, "
                            "any device through host copies) and 'nccl' (cuda tensors on NVIDIA GPUs)")
    backend = "mpi" if backend.lower() == "gloo" else backend.lower()
    if backend == "nccl":
        reason = _nccl.missing()
        if reason is None and simulated_cuda():
            reason = ("TINYNET_CUDA_SIM=1 makes device 'cuda' a simulated GPU holding NumPy arrays, which NCCL "
                      "cannot reach; unset it to use the real GPU")
        if reason is not None:
            raise DeviceError(f"init_process_group: backend 'nccl' needs CuPy with NCCL and a GPU: {reason}. "
                              "Use backend='mpi' to train on cpu tensors (cuda tensors then go through host copies)")
    if group_name or pg_options is not None:
        raise ArgumentError("init_process_group: group_name/pg_options configure PyTorch's own transports; tinynet's "
                            "default group has neither, so leave them unset")
    if device_id is not None and backend != "nccl":
        raise ArgumentError(f"init_process_group: device_id={device_id!r} binds a GPU to the 'nccl' backend; the "
                            f"{backend!r} backend has no device binding, so leave it unset")
    gpu = None if device_id is None else _nccl.device_index(device_id)
    if init_method is not None or store is not None:
        raise ArgumentError("init_process_group: init_method/store are PyTorch's rendezvous; with MPI the processes "
                            "come from `mpiexec -n N` (or `python -m tinynet.distributed.run`), so leave them unset")
    mpi = _mpi()
    comm = mpi.COMM_WORLD.Dup()
    for name, given, actual in (("rank", rank, comm.Get_rank()), ("world_size", world_size, comm.Get_size())):
        if given not in (-1, None) and given != actual:
            comm.Free()
            raise ArgumentError(f"init_process_group: {name}={given} but MPI says {actual}; MPI decides ranks "
                                "(leave it unset or pass MPI's value)")
    if timeout is None:
        seconds = 1800.0
    elif isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    else:
        seconds = float(timeout)
    if not seconds > 0:
        comm.Free()
        raise ArgumentError(f"init_process_group: timeout must be positive, got {timeout!r}")
    group = None
    if backend == "nccl":
        local = comm.Split_type(mpi.COMM_TYPE_SHARED)  # the processes on this machine: local rank
        try:
            group = _nccl.NcclGroup(comm, local, lambda reqs, what: wait_requests(reqs, what, seconds,
                                                                                 comm.Get_rank()), gpu)
        except BaseException:
            comm.Free()
            raise
        finally:
            local.Free()
    _GROUP.update(comm=comm, backend=backend, timeout=seconds, nccl=group)
    _abort_on_uncaught_exception(comm)
    if os.environ.get(RANK_PIDS_ENV):
        _write_rank_pids(comm, os.environ[RANK_PIDS_ENV], seconds)


#: When this environment variable names a file, ``init_process_group`` has rank 0 write one
#: line per rank to it, ``rank pid host``: a process killed outright (``SIGKILL``, the
#: out-of-memory killer) cannot say who it was, and ``mpiexec`` reports it by pid and host
#: ("BAD TERMINATION ... PID 1234 RUNNING AT node7"), so a launcher reads this file to name
#: the rank.
RANK_PIDS_ENV = "TINYNET_RANK_PIDS"


def _write_rank_pids(comm, path, seconds):
    n = comm.Get_size()
    mine = _np.zeros(1 + 64, dtype=_np.int64)
    mine[0] = os.getpid()
    host = socket.gethostname().encode()[:64 * 8]
    mine.view(_np.uint8)[8:8 + len(host)] = _np.frombuffer(host, dtype=_np.uint8)
    rows = _np.empty((n, mine.size), dtype=_np.int64)
    wait_requests([comm.Iallgather(mine, rows)], "init_process_group", seconds, comm.Get_rank())
    if comm.Get_rank() == 0:
        lines = [f"{r} {int(row[0])} {row[1:].tobytes().rstrip(bytes(1)).decode(errors='replace')}\n"
                 for r, row in enumerate(rows)]
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.writelines(lines)
        os.replace(tmp, path)  # atomic: a reader never sees half a file


def wait_requests(requests, what, limit, rank, statuses=None):
    """Wait for MPI ``requests`` at most ``limit`` seconds, else raise naming the rank and the
    call (:func:`.waiting.poll`: spin briefly, then back off)."""
    mpi = _mpi()
    poll(lambda: mpi.Request.Testall(requests, statuses), what, limit, rank)


def _abort_on_uncaught_exception(comm):
    """An exception that ends one rank ends the whole job at once (``MPI_Abort``), with a line
    naming the rank, instead of leaving the other ranks waiting in a collective until their
    timeout. The previous ``sys.excepthook`` still prints the traceback first."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.write(f"tinynet.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed with "
                         f"{kind.__name__}: {value}; aborting the job\n")
        sys.stderr.flush()
        comm.Abort(1)

    hook.previous = previous
    sys.excepthook = hook


def is_available() -> bool:
    """True when mpi4py is installed (checked without starting MPI)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    return _GROUP["comm"] is not None


def is_mpi_available() -> bool:
    return is_available()


def is_nccl_available() -> bool:
    """True when ``init_process_group("nccl")`` can work here: CuPy imports with NCCL and
    sees a GPU (checked without starting MPI)."""
    return _nccl.missing() is None


def nccl_group():
    """This rank's :class:`.nccl.NcclGroup` in an NCCL process group, else None."""
    return _GROUP["nccl"]


def comm():
    """The default group's MPI communicator (raises when no group is initialized)."""
    c = _GROUP["comm"]
    if c is None:
        raise RuntimeError("tinynet.distributed: the default process group is not initialized; call "
                           "tn.distributed.init_process_group('mpi') first (in processes started by mpiexec)")
    return c


def timeout() -> float:
    """Seconds a collective may wait (``init_process_group(timeout=)``)."""
    comm()
    return _GROUP["timeout"]


def get_backend(group=None) -> str:
    comm()
    return _GROUP["backend"]


def get_rank(group=None) -> int:
    """This process's rank in the default group (0 .. world_size - 1)."""
    return comm().Get_rank()


def get_world_size(group=None) -> int:
    """How many processes the default group has."""
    return comm().Get_size()


def destroy_process_group(group=None):
    """Leave the default group (it can be initialized again)."""
    c = _GROUP["comm"]
    if _GROUP["nccl"] is not None:
        _GROUP["nccl"].destroy()
    if c is not None:
        c.Free()
        previous = getattr(sys.excepthook, "previous", None)
        if previous is not None:
            sys.excepthook = previous
    _GROUP.update(comm=None, backend=None, timeout=None, nccl=None)
