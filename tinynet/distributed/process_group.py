"""The process group: which processes train together, over which engine (PyTorch's names).

``init_process_group(backend="mpi")`` joins the processes started by ``mpiexec -n N``
(MPI through ``mpi4py``: rank and world size come from MPI, never from a home-made
transport). One default group per process, as in PyTorch's common use; the communicator
is ``MPI.COMM_WORLD`` duplicated, so tinynet's messages never mix with the user's own MPI
traffic. ``timeout`` bounds every wait of a collective (see :mod:`.collectives`), and an
exception that ends one rank aborts the whole job at once, naming the rank.

``backend="nccl"`` (CuPy's NCCL for cuda tensors) is not built yet: it is refused with a
clear error rather than silently falling back.
"""
from __future__ import annotations

import datetime
import enum
import importlib
import importlib.util
import sys

from ..backend.errors import ArgumentError


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce_scatter_tensor`` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"


#: The default group's state: the communicator, the backend name and the timeout (seconds).
_GROUP = {"comm": None, "backend": None, "timeout": None}
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

    ``backend``: ``"mpi"`` (cpu tensors; the processes are those of ``mpiexec``). ``rank`` and
    ``world_size``, when given, must agree with MPI's (MPI decides them); ``init_method`` and
    ``store`` are PyTorch's rendezvous for its own transports and are refused here, since
    mpiexec is the rendezvous. ``timeout`` (a ``datetime.timedelta`` or seconds; default 30
    minutes, PyTorch's) bounds every collective's wait.
    """
    if _GROUP["comm"] is not None:
        raise RuntimeError("init_process_group: the default process group is already initialized; call "
                           "destroy_process_group() first")
    if backend == "nccl":
        raise ArgumentError("init_process_group: backend 'nccl' (GPU tensors through CuPy's NCCL) is not available "
                            "yet in tinynet; use backend='mpi' with cpu tensors")
    if backend not in ("mpi", "gloo"):
        raise ArgumentError(f"init_process_group: unknown backend {backend!r}; tinynet has 'mpi'")
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
    _GROUP.update(comm=comm, backend="mpi", timeout=seconds)
    _abort_on_uncaught_exception(comm)


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
    """False: tinynet's NCCL backend is not built yet."""
    return False


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
    if c is not None:
        c.Free()
        previous = getattr(sys.excepthook, "previous", None)
        if previous is not None:
            sys.excepthook = previous
    _GROUP.update(comm=None, backend=None, timeout=None)
