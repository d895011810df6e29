"""DataLoader worker processes: each loads and collates whole batches, as PyTorch's do.

The main process sends a worker tasks on its own index queue -- ``(task id, indices)`` for
a map-style dataset, ``(task id, None)`` ("your next batch") for an iterable one -- and
every worker puts ``(task id, worker id, result)`` on one shared result queue. The main
process hands batches out in task order, whichever worker finishes first.

Each worker, on start:

* seeds tinynet's global generator, NumPy's legacy global generator and Python's
  ``random`` with ``base_seed + worker_id`` (``base_seed`` is drawn from the loader's
  generator for every epoch, so workers differ from each other and from epoch to epoch, yet
  a seeded loader reproduces them);
* sets :func:`get_worker_info` (id, num_workers, seed, its copy of the dataset), which an
  :class:`IterableDataset` uses to split its stream between workers;
* calls ``worker_init_fn(worker_id)`` if given.

An exception in a worker (in ``__getitem__``, the collate function or ``worker_init_fn``)
is sent back as an :class:`ExceptionWrapper` and re-raised in the main process with the
worker's traceback in the message.
"""
from __future__ import annotations

import random as _pyrandom
import traceback
from dataclasses import dataclass

import numpy as _np

from ..tensor import random as _random

_INFO = [None]


@dataclass(frozen=True)
class WorkerInfo:
    """What :func:`get_worker_info` returns inside a worker."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """In a DataLoader worker process: its :class:`WorkerInfo`; in the main process: None."""
    return _INFO[0]


class IterableEnd:
    """A worker's iterable dataset is exhausted (sent instead of a batch)."""


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process."""

    def __init__(self, exc: BaseException, where: str):
        self.exc_type = type(exc)
        self.where = where
        self.text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        try:
            err = self.exc_type(msg)
        except Exception:  # an exception type whose constructor takes other arguments
            err = RuntimeError(msg)
        raise err


def seed_worker(seed: int):
    """Seed every generator a dataset might use in this process."""
    _random.manual_seed(seed)
    _np.random.seed(seed % (2 ** 32))
    _pyrandom.seed(seed)


def worker_loop(dataset, is_iterable, index_queue, result_queue, fetch, worker_id, num_workers, base_seed,
                worker_init_fn):
    """The body of a worker process (see the module docstring). ``fetch(indices_or_iterator)``
    makes one batch; ``"reset"`` on the index queue restarts an iterable dataset's stream (a
new epoch of persistent workers); ``None`` stops the worker."""
    seed = base_seed + worker_id
    where = f"in DataLoader worker process {worker_id}"
    init_error = None
    try:
        seed_worker(seed)
        _INFO[0] = WorkerInfo(worker_id, num_workers, seed, dataset)
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
        stream = iter(dataset) if is_iterable else None
    except Exception as exc:  # reported on the first task, like PyTorch
        init_error = ExceptionWrapper(exc, where)
    while True:
        task = index_queue.get()
        if task is None:
            return
        if task == "reset":  # a new epoch of persistent workers: restart the stream
            if is_iterable and init_error is None:
                try:
                    stream = iter(dataset)
                except Exception as exc:
                    init_error = ExceptionWrapper(exc, where)
            continue
        task_id, indices = task
        if init_error is not None:
            result_queue.put((task_id, worker_id, init_error))
            continue
        try:
            if is_iterable:
                batch = fetch(stream)
                result = IterableEnd() if batch is None else batch
            else:
                result = fetch(indices)
        except Exception as exc:
            result = ExceptionWrapper(exc, where)
        result_queue.put((task_id, worker_id, result))
