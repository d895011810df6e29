"""DataLoader: mini-batches from a dataset, shuffled by the loader's own seeded generator.

Each epoch (each ``for batch in loader``) draws a fresh permutation of the sample indices
from ``loader.generator``, a NumPy ``Generator`` owned by this loader:

* ``DataLoader(ds, shuffle=True, seed=0)`` gives the same sequence of epochs every run,
  whatever else uses tinynet's global generator;
* without ``seed`` the loader's generator is seeded once, at construction, from the
  global generator, so ``tn.manual_seed(s)`` before building the loader also reproduces it;
* the generator advances from epoch to epoch; ``loader.state_dict()`` captures it (training
  checkpoints save it) and ``load_state_dict`` restores it, so a resumed run sees the same
  batches as an uninterrupted one.

Batching ("collate"): a :class:`~tinynet.data.TensorDataset` (or a Subset of one) is batched
by fancy-indexing its arrays with the batch's index array, with no per-sample Python loop.
Other datasets are indexed sample by sample and the samples merged by :func:`default_collate`
(tensors, arrays and numbers are stacked into one Tensor; tuples, lists and dicts are
collated field by field; strings are kept as a list).

``transform`` (e.g. ``transforms.Compose([...])``) is applied to each batch's first field
(the inputs) on the host, with the loader's generator, before the batch is moved to
``device``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as _np

from ..backend import get_device
from ..tensor import random as _random
from ..tensor.random import resolve
from ..tensor.tensor import Tensor
from .dataset import IterableDataset, batch_taker
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker_pool import WorkerPool


def _stack(arrays, xp, who):
    try:
        return xp.stack(arrays)
    except ValueError:
        shapes = sorted({tuple(a.shape) for a in arrays})
        raise ValueError(
            f"default_collate: can't stack {who} of different shapes {shapes} into one batch; "
            "make the samples the same shape, or pass a collate_fn that pads them"
        ) from None


def default_collate(samples):
    """Merge a list of samples into one batch.

    Tensors and NumPy arrays are stacked along a new first axis (into a Tensor on the
    samples' device); Python/NumPy numbers become a 1-D Tensor (floats -> float32,
    ints -> int64, bools -> bool); tuples/lists and dicts are collated per field; strings
    stay a list of strings.
    """
    if not samples:
        raise ValueError("default_collate: got an empty list of samples")
    first = samples[0]
    if isinstance(first, Tensor):
        devices = {s.device for s in samples if isinstance(s, Tensor)}
        if len(devices) != 1 or not all(isinstance(s, Tensor) for s in samples):
            raise TypeError("default_collate: samples mix Tensors of different devices or non-Tensors in one field")
        dev = first.device
        return Tensor._make(_stack([s.array for s in samples], dev.xp, "tensors"), dev)
    if isinstance(first, _np.ndarray):
        return Tensor(_stack([_np.asarray(s) for s in samples], _np, "arrays"))
    if isinstance(first, (bool, int, float, _np.number, _np.bool_)):
        return Tensor(list(samples) if not isinstance(first, _np.generic) else _np.asarray(samples))
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        n = len(first)
        if any(len(s) != n for s in samples):
            raise ValueError("default_collate: samples are sequences of different lengths; each sample needs the same fields")
        fields = [default_collate([s[k] for s in samples]) for k in range(n)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(
        f"default_collate: don't know how to batch samples of type {type(first).__name__}; "
        "return Tensors, arrays, numbers, strings, tuples or dicts from the dataset, or pass collate_fn="
    )


def _apply_transform(transform, x, generator):
    """Run a transform on a batch field; tinynet transforms take the loader's generator."""
    if isinstance(x, Tensor):
        host = x.device.to_host(x.array)
        out = _apply_transform(transform, host, generator)
        out = _np.asarray(out)
        if out.dtype != host.dtype and host.dtype.kind == "f" and out.dtype.kind == "f":
            out = out.astype(host.dtype)
        return Tensor._make(x.device.from_host(out) if x.device.xp is not _np else out, x.device)
    if getattr(transform, "accepts_generator", False):
        return transform(x, generator=generator)
    return transform(x)


def _move(batch, device, pinned=False):
    if isinstance(batch, Tensor):
        if batch.device is device:
            return batch
        return Tensor._make(device.from_host(batch.device.to_host(batch.array), pinned=pinned), device)
    if isinstance(batch, tuple):
        return tuple(_move(b, device, pinned) for b in batch)
    if isinstance(batch, list):
        return [_move(b, device, pinned) for b in batch]
    if isinstance(batch, dict):
        return {k: _move(v, device, pinned) for k, v in batch.items()}
    return batch


class _Fetcher:
    """Makes one batch from a list of indices (map-style) or from a stream (iterable)."""

    def __init__(self, dataset, collate_fn, auto_collation, batch_size, drop_last, take):
        self.dataset = dataset
        self.collate_fn = collate_fn
        self.auto_collation = auto_collation
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.take = take

    def __call__(self, source):
        if isinstance(source, list):  # map-style: the batch's indices
            if self.take is not None:
                return self.take(_np.asarray(source, dtype=_np.int64))
            if not self.auto_collation:  # batch_size=None: one sample per "batch", converted
                return self.collate_fn(self.dataset[source[0]])
            return self.collate_fn([self.dataset[i] for i in source])
        if not self.auto_collation:  # iterable, batch_size=None
            for sample in source:
                return self.collate_fn(sample)
            return None
        samples = []
        for sample in source:
            samples.append(sample)
            if len(samples) == self.batch_size:
                break
        if not samples or (self.drop_last and len(samples) < self.batch_size):
            return None
        return self.collate_fn(samples)


def default_convert(sample):
    """What ``batch_size=None`` does to each sample: NumPy arrays and numbers become Tensors,
    containers are converted field by field, everything else is kept (PyTorch's rule)."""
    if isinstance(sample, _np.ndarray) and sample.dtype.kind in "biuf":
        return Tensor(sample)
    if isinstance(sample, Mapping):
        return {k: default_convert(v) for k, v in sample.items()}
    if isinstance(sample, tuple):
        return tuple(default_convert(v) for v in sample)
    if isinstance(sample, list):
        return [default_convert(v) for v in sample]
    return sample


class DataLoader:
    """Iterate over ``dataset`` in mini-batches, PyTorch's ``torch.utils.data.DataLoader``.

    Args (PyTorch's, in PyTorch's order):
        dataset: a map-style Dataset (``len`` + ``__getitem__``) or an :class:`IterableDataset`.
        batch_size: samples per batch (a positive int), or None for unbatched samples.
        shuffle: a new random order every epoch, from the loader's generator.
        sampler: an iterable of indices (a :mod:`~tinynet.data.sampler` sampler); excludes ``shuffle``.
        batch_sampler: an iterable of index lists; excludes batch_size/shuffle/sampler/drop_last.
        num_workers: 0 makes batches in this process; N > 0 starts N worker processes that load
            and collate batches in parallel (see :mod:`tinynet.data.worker`).
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        pin_memory: on a real GPU with ``device=``, stage batches in page-locked host memory.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a worker's batch before raising (0: wait as long as the
            workers are alive).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: "fork" (the default where it exists), "spawn" or "forkserver".
        generator: a :class:`tn.Generator` or NumPy ``Generator`` for shuffling and worker seeds.
        prefetch_factor: batches loaded ahead per worker (default 2 with workers).
        persistent_workers: keep the workers alive from one epoch to the next.
        pin_memory_device: accepted for compatibility (the device is ``device=``).

    tinynet's additions: ``seed`` (seed of the loader's own generator: the same epochs every
    run), ``transform`` (applied to each batch's inputs in the main process, with the
    loader's generator) and ``device`` (move each batch there). ``state_dict`` captures the
    generator, so a resumed run sees the same batches. A :class:`TensorDataset` (or a Subset
    of one) without ``collate_fn`` is batched by slicing its arrays (no per-sample loop).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", seed=None, transform=None, device=None):
        self.is_iterable = isinstance(dataset, IterableDataset)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, _np.integer))):
            raise TypeError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")
        if batch_size is not None and batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, _np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout}")
        if num_workers == 0 and (prefetch_factor is not None or persistent_workers):
            raise ValueError("DataLoader: prefetch_factor and persistent_workers need num_workers > 0")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor <= 0):
            raise ValueError(f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}")
        if self.is_iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader: an IterableDataset has no indices, so shuffle, sampler and batch_sampler "
                             "can't be used with it; shuffle inside the dataset's __iter__ instead")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive (the sampler decides the order)")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler and "
                             "drop_last (it makes the batches itself)")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass seed= or generator=, not both")
        if multiprocessing_context not in (None, "fork", "spawn", "forkserver") and not hasattr(multiprocessing_context, "Process"):
            raise ValueError(f"DataLoader: unknown multiprocessing_context {multiprocessing_context!r}; use "
                             "'fork', 'spawn' or 'forkserver'")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = (2 if prefetch_factor is None else prefetch_factor) if num_workers else None
        self.persistent_workers = bool(persistent_workers)
        self.pin_memory_device = pin_memory_device
        self.transform = transform
        self.device = get_device(device) if device is not None else None
        if generator is None:
            if seed is None:
                seed = int(_random.generator().integers(2**63 - 1))
            generator = _np.random.default_rng(seed)
        self.seed = seed
        self.generator = resolve(generator)
        self.epoch = 0
        if not self.is_iterable:
            if batch_sampler is None and batch_size is not None:
                if sampler is None:
                    sampler = RandomSampler(dataset, generator=self.generator) if self.shuffle else SequentialSampler(dataset)
                batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)
            elif sampler is None and batch_sampler is None:
                sampler = RandomSampler(dataset, generator=self.generator) if self.shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        auto = batch_sampler is not None or (self.is_iterable and batch_size is not None)
        collate = collate_fn or (default_collate if auto else default_convert)
        take = batch_taker(dataset) if collate_fn is None and auto and not self.is_iterable else None
        self._fetch = _Fetcher(dataset, collate, auto, self.batch_size, self.drop_last, take)
        self._workers = None  # the persistent worker pool, when persistent_workers=True

    def __len__(self):
        if self.is_iterable:
            n = len(self.dataset)  # a TypeError for a stream without __len__, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def _index_lists(self):
        if self.batch_sampler is not None:
            return ([int(i) for i in b] for b in self.batch_sampler)
        return ([i] for i in self.sampler)

    def __iter__(self):
        self.epoch += 1
        if self.num_workers == 0:
            batches = self._single_process()
        else:
            batches = self._multi_process()
        for batch in batches:
            if self.transform is not None:
                batch = self._transform(batch)
            if self.device is not None:
                batch = _move(batch, self.device, self.pin_memory)
            yield batch

    def _single_process(self):
        if self.is_iterable:
            stream = iter(self.dataset)
            while True:
                batch = self._fetch(stream)
                if batch is None:
                    return
                yield batch
        for indices in self._index_lists():
            yield self._fetch(indices)

    def _multi_process(self):
        base_seed = int(self.generator.integers(2**62))
        pool = self._workers
        if pool is None or not pool.alive():
            pool = WorkerPool(self, base_seed)
            if self.persistent_workers:
                self._workers = pool
        else:
            pool.reset()
        try:
            yield from pool.batches(None if self.is_iterable else self._index_lists())
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def __del__(self):
        pool = getattr(self, "_workers", None)
        if pool is not None:
            pool.shutdown()

    def _transform(self, batch):
        if isinstance(batch, (tuple, list)):
            first = _apply_transform(self.transform, batch[0], self.generator)
            rest = list(batch[1:])
            return tuple([first] + rest) if isinstance(batch, tuple) else [first] + rest
        if isinstance(batch, dict):
            key = next(iter(batch))
            return {**batch, key: _apply_transform(self.transform, batch[key], self.generator)}
        return _apply_transform(self.transform, batch, self.generator)

    # --- checkpointing --------------------------------------------------------------
    def state_dict(self) -> dict:
        """The generator state and epoch count, as plain data (JSON-able)."""
        return {"generator": self.generator.bit_generator.state, "epoch": self.epoch}

    def load_state_dict(self, state: dict):
        """Restore :meth:`state_dict` output: the next epoch is the one that would have come."""
        bg = self.generator.bit_generator
        gen_state = state["generator"]
        if gen_state.get("bit_generator") != bg.state.get("bit_generator"):
            raise ValueError(
                f"DataLoader.load_state_dict: the saved generator is {gen_state.get('bit_generator')!r} but this "
                f"loader uses {bg.state.get('bit_generator')!r}"
            )
        bg.state = gen_state
        self.epoch = int(state.get("epoch", 0))

    def __repr__(self):
        size = "an iterable dataset" if self.is_iterable else f"dataset of {len(self.dataset)}"
        return (f"DataLoader({size}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, num_workers={self.num_workers})")
