"""Bounded waiting: poll until a collective is done, or raise after the group's timeout.

Both engines are polled the same way. MPI moves a non-blocking collective only inside MPI
calls and NCCL's kernels spin on the GPU until every rank has joined; neither has a wait
with a time limit, so a rank that died would leave the others blocked forever. Polling
with a deadline turns that into an error naming the rank and the call.

The poll spins (yielding the core) for the first couple of milliseconds: a collective over
shared memory needs many rounds of progress, each made only inside an MPI call, so a sleep
between polls would add a sleep per round (``time.sleep(0)`` is no help on Linux: it still
sleeps the timer slack, ~50 us). After that it backs off to sleeps of up to 1 ms, so a rank
waiting for a slow one does not burn a core.
"""
from __future__ import annotations

import os
import time

#: how long a wait polls without sleeping before it backs off to sleeps of up to 1 ms
SPIN_SECONDS = 2e-3
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


def poll(done, what, limit, rank, engine="", on_timeout=None):
    """Call ``done()`` until it returns true, at most ``limit`` seconds; past that, call
    ``on_timeout()`` (if given) and raise a RuntimeError naming ``rank`` and the call ``what``
    (``engine``: e.g. " for NCCL", said in the message)."""
    now = time.monotonic()
    deadline, spin_until = now + limit, now + SPIN_SECONDS
    pause = 1e-5
    while not done():
        now = time.monotonic()
        if now < spin_until:
            _yield()
            continue
        if now > deadline:
            if on_timeout is not None:
                on_timeout()
            raise RuntimeError(
                f"tinynet.distributed.{what}: rank {rank} waited {limit:g} s{engine} without the other ranks "
                "joining (one may have failed or be stuck); ending instead of hanging "
                "(init_process_group(timeout=...) sets the limit)")
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)
