"""A background thread that drives MPI's progress while collectives are in flight.

MPI libraries like MPICH move a non-blocking collective forward only inside MPI calls
made by the process (there is no progress thread unless configured, and one per process
would compete for cores). An ``Iallreduce`` of a 1 MB bucket through shared memory takes
many such steps, so if the only MPI calls come from the training loop, the all-reduce
started during the backward pass barely moves until ``wait()`` -- no overlap.

While :func:`hold` is active (DDP holds it from a bucket's launch to the end of the
backward), this thread calls ``MPI_Iprobe`` -- a cheap call that runs the progress
engine without touching any request -- every ``interval`` seconds. mpi4py releases the
GIL inside MPI calls and the main thread releases it inside NumPy's kernels, so the
probes slot into the compute. MPI is initialized with ``MPI_THREAD_MULTIPLE`` (mpi4py's
default), which makes calls from two threads safe.
"""
from __future__ import annotations

import threading
import time

from .process_group import _mpi, comm

#: seconds between two probes while a collective is in flight
INTERVAL = 100e-6

_STATE = {"thread": None, "holders": 0}
_LOCK = threading.Lock()
_WAKE = threading.Condition(_LOCK)


def _loop():
    mpi = _mpi()
    while True:
        with _WAKE:
            while _STATE["holders"] == 0:
                _WAKE.wait()
            c = _STATE["comm"]
        try:
            c.Iprobe(source=mpi.ANY_SOURCE, tag=mpi.ANY_TAG)
        except Exception:  # the communicator was freed under us (destroy_process_group): stop probing it
            with _WAKE:
                _STATE["holders"] = 0
        time.sleep(INTERVAL)


def hold() -> bool:
    """Start probing (nested holds count); returns False (and does nothing) when MPI was
    initialized without thread support. Pair every True with one :func:`release`."""
    mpi = _mpi()
    if mpi.Query_thread() != mpi.THREAD_MULTIPLE:
        return False  # no background MPI calls allowed
    with _WAKE:
        _STATE["comm"] = comm()
        _STATE["holders"] += 1
        if _STATE["thread"] is None:
            _STATE["thread"] = threading.Thread(target=_loop, name="tinynet-mpi-progress", daemon=True)
            _STATE["thread"].start()
        _WAKE.notify()
    return True


def release():
    """Stop probing once every :func:`hold` has been released."""
    with _WAKE:
        _STATE["holders"] = max(_STATE["holders"] - 1, 0)
