"""The main-process side of DataLoader workers: start them, keep them busy, collect in order.

Up to ``prefetch_factor * num_workers`` tasks are in flight; tasks go to the workers in
turn and results are handed out in task order (a fast worker's batch waits in a buffer for
a slow one's). While waiting, the pool checks every second that its workers are alive (a
worker killed by the OS raises a clear error instead of hanging) and honours the loader's
``timeout``. Workers are daemon processes, stopped by :meth:`WorkerPool.shutdown` at the end
of an epoch (or kept, with ``persistent_workers``, until the loader is deleted).
"""
from __future__ import annotations

import multiprocessing as _mp
import queue as _queue
import time

from .worker import ExceptionWrapper, IterableEnd, worker_loop

_POLL_SECONDS = 1.0


def _context(name):
    if name is None:
        name = "fork" if "fork" in _mp.get_all_start_methods() else "spawn"
    return _mp.get_context(name) if isinstance(name, str) else name


class WorkerPool:
    """``num_workers`` processes serving one DataLoader (see the module docstring)."""

    def __init__(self, loader, base_seed: int):
        ctx = _context(loader.multiprocessing_context)
        n = loader.num_workers
        self.n = n
        self.timeout = loader.timeout
        self.in_flight_limit = loader.prefetch_factor * n
        self.is_iterable = loader.is_iterable
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        self.closed = False
        for w in range(n):
            q = ctx.Queue()
            p = ctx.Process(target=worker_loop, daemon=True,
                            args=(loader.dataset, loader.is_iterable, q, self.result_queue, loader._fetch, w, n,
                                  base_seed, loader.worker_init_fn))
            p.start()
            self.index_queues.append(q)
            self.workers.append(p)

    def alive(self) -> bool:
        return not self.closed and all(p.is_alive() for p in self.workers)

    def reset(self):
        """Start a new epoch on persistent workers (iterable datasets restart their streams)."""
        for q in self.index_queues:
            q.put("reset")

    def _get(self):
        """The next ``(task id, worker id, result)``, watching for dead workers and the timeout."""
        waited = 0.0
        while True:
            step = _POLL_SECONDS if self.timeout <= 0 else min(_POLL_SECONDS, self.timeout - waited)
            start = time.monotonic()
            try:
                return self.result_queue.get(timeout=max(step, 0.01))
            except _queue.Empty:
                waited += time.monotonic() - start
                dead = [p for p in self.workers if not p.is_alive()]
                if dead:
                    self.shutdown()
                    pids = ", ".join(f"{p.pid} (exit code {p.exitcode})" for p in dead)
                    raise RuntimeError(f"DataLoader worker(s) {pids} exited unexpectedly; if a worker was "
                                       "killed for memory, use fewer workers or smaller batches") from None
                if 0 < self.timeout <= waited:
                    self.shutdown()
                    raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds waiting for a batch "
                                       "from its workers (timeout=)") from None

    def batches(self, index_lists):
        """Yield batches in order: ``index_lists`` (map-style) or None (an iterable dataset)."""
        active = list(range(self.n))  # workers whose stream isn't exhausted (iterable datasets)
        turn = 0
        sent = received = 0
        buffer, owner = {}, {}
        exhausted = False

        def send():
            nonlocal sent, turn, exhausted
            if index_lists is not None:
                indices = next(index_lists, None)
                if indices is None:
                    exhausted = True
                    return
            else:
                if not active:
                    exhausted = True
                    return
                indices = None
            w = active[turn % len(active)] if index_lists is None else turn % self.n
            turn += 1
            owner[sent] = w
            self.index_queues[w].put((sent, indices))
            sent += 1

        while not exhausted and sent - received < self.in_flight_limit:
            send()
        while received < sent:
            while received not in buffer:
                task_id, worker_id, result = self._get()
                buffer[task_id] = result
            result = buffer.pop(received)
            received += 1
            if isinstance(result, ExceptionWrapper):
                self.shutdown()
                result.reraise()
            if isinstance(result, IterableEnd):
                w = owner[received - 1]
                if w in active:
                    active.remove(w)
            else:
                yield result
            while not exhausted and sent - received < self.in_flight_limit:
                send()

    def shutdown(self):
        """Stop every worker (politely, then by force) and release the queues."""
        if self.closed:
            return
        self.closed = True
        for q, p in zip(self.index_queues, self.workers):
            if p.is_alive():
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
        for p in self.workers:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()
            q.close()
