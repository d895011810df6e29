"""Samplers: which dataset indices a DataLoader visits, and in what order (PyTorch's classes).

A sampler is an iterable of indices with a length; a batch sampler is an iterable of lists
of indices. ``DataLoader(ds, shuffle=True)`` builds a :class:`RandomSampler` on the loader's
own generator and a :class:`BatchSampler` around it; pass ``sampler=`` or ``batch_sampler=``
to choose the order yourself (class balancing with :class:`WeightedRandomSampler`, a fixed
validation subset with :class:`SubsetRandomSampler`, ...).

:class:`DistributedSampler` gives each of several processes (data-parallel training) its own
equal share of the dataset, in an order all of them agree on.

Random samplers draw from their ``generator`` (a :class:`tn.Generator`, a NumPy
``Generator``, or None: tinynet's global generator, so ``tn.manual_seed`` reproduces them).
"""
from __future__ import annotations

import math

import numpy as _np

from ..distributed import get_rank, get_world_size, is_initialized
from ..tensor.random import resolve
from ..tensor.tensor import Tensor


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _positive_int(value, who, what):
    if isinstance(value, bool) or not isinstance(value, (int, _np.integer)) or value <= 0:
        raise ValueError(f"{who}: {what} must be a positive integer, got {value!r}")
    return int(value)


class RandomSampler(Sampler):
    """A random order: a fresh permutation each epoch, or ``num_samples`` draws with
    ``replacement=True`` (``num_samples`` may then exceed the dataset's size; without
    replacement it cycles through whole permutations, as PyTorch)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = None if num_samples is None else _positive_int(num_samples, "RandomSampler", "num_samples")
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, gen = len(self.data_source), resolve(self.generator)
        if self.replacement:
            yield from (int(i) for i in gen.integers(0, n, size=self.num_samples))
            return
        left = self.num_samples
        while left > 0:
            perm = gen.permutation(n)[:left]
            yield from (int(i) for i in perm)
            left -= perm.size

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a new one each epoch)."""

    def __init__(self, indices, generator=None):
        self.indices = list(indices.tolist() if isinstance(indices, (Tensor, _np.ndarray)) else indices)
        self.generator = generator

    def __iter__(self):
        for i in resolve(self.generator).permutation(len(self.indices)):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights[i]``
    (with or without replacement): oversampling rare classes, e.g. weights = 1 / class count."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        w = _np.asarray(weights.tolist() if isinstance(weights, Tensor) else weights, dtype=_np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights must be 1-D, got shape {w.shape}")
        if not _np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not isinstance(replacement, bool):
            raise TypeError(f"WeightedRandomSampler: replacement must be a bool, got {replacement!r}")
        self.num_samples = _positive_int(num_samples, "WeightedRandomSampler", "num_samples")
        if not replacement and self.num_samples > int((w > 0).sum()):
            raise ValueError(f"WeightedRandomSampler: can't draw {self.num_samples} samples without replacement "
                             f"from {int((w > 0).sum())} indices of non-zero weight")
        self.weights = w
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        idx = resolve(self.generator).choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        return iter(int(i) for i in idx)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "BatchSampler", "batch_size")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """Each of ``num_replicas`` processes takes its own share of the dataset (PyTorch's
    ``torch.utils.data.distributed.DistributedSampler``)::

        sampler = DistributedSampler(ds)                  # replicas and rank from tn.distributed
        loader = DataLoader(ds, batch_size=32, sampler=sampler)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)                      # a new order every epoch
            for x, y in loader: ...

    Each epoch the index list ``0 .. len(dataset) - 1`` is permuted (``shuffle=True``) by a
    generator seeded with ``seed + epoch`` -- the same on every rank, so the ranks agree on
    the order without talking -- then made a multiple of ``num_replicas``:

    * ``drop_last=False``: padded by repeating indices from its start (as many times over as
      needed when the dataset has fewer samples than replicas) up to
      ``total_size = ceil(len / num_replicas) · num_replicas``; a few samples are then seen
      twice in the epoch;
    * ``drop_last=True``: cut to ``floor(len / num_replicas) · num_replicas``; the tail is
      not seen this epoch (a different one each epoch when shuffling).

    Rank ``r`` takes ``indices[r : total_size : num_replicas]`` (strided, so every rank gets
    ``num_samples = total_size / num_replicas`` indices and the shards are disjoint but for
    the padding). The permutation comes from NumPy's PCG64, so it differs from PyTorch's for
    the same seed; the non-shuffled shards are PyTorch's exactly.

    Args: ``dataset`` (anything with ``len``), ``num_replicas`` (default: the world size of
    the initialized process group), ``rank`` (default: this process's rank), ``shuffle``,
    ``seed`` (must be the same on every rank), ``drop_last``.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        who = "DistributedSampler"
        if num_replicas is None or rank is None:
            if not is_initialized():
                missing = " and ".join(n for n, v in (("num_replicas", num_replicas), ("rank", rank)) if v is None)
                raise RuntimeError(
                    f"{who}: {missing} not given and no process group is initialized to take them from; call "
                    "tn.distributed.init_process_group('mpi') first (in processes started by mpiexec), or pass "
                    "num_replicas= and rank= explicitly"
                )
            if num_replicas is None:
                num_replicas = get_world_size()
            if rank is None:
                rank = get_rank()
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, _np.integer)):
                raise TypeError(f"{who}: {name} must be an int, got {type(value).__name__} {value!r}")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, _np.bool_)):
                raise TypeError(f"{who}: {name} must be a bool, got {type(value).__name__} {value!r}")
        num_replicas, rank = int(num_replicas), int(rank)
        if num_replicas <= 0:
            raise ValueError(f"{who}: num_replicas must be a positive int, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"{who}: invalid rank {rank}; rank should be in the interval [0, {num_replicas - 1}] "
                             f"for num_replicas={num_replicas}")
        try:
            n = len(dataset)
        except TypeError:
            raise TypeError(f"{who}: the dataset ({type(dataset).__name__}) has no len(); a DistributedSampler "
                            "splits the indices of a map-style dataset (shard an IterableDataset inside its "
                            "__iter__ instead)") from None
        self.dataset = dataset
        self._length = n
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        if self.drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)  # = floor(n / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if n != self._length:
            raise RuntimeError(f"DistributedSampler: the dataset had {self._length} samples when the sampler was built "
                               f"but has {n} now; build a new sampler after changing the dataset")
        if self.shuffle:
            # PyTorch's manual_seed takes any int (a negative one wraps to 64 bits); NumPy's seeds must not be negative
            gen = _np.random.default_rng((self.seed + self.epoch) % (1 << 64))
            indices = gen.permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch: with ``shuffle=True`` it seeds this epoch's order (``seed + epoch``),
        so call it at the start of every epoch, with the same value on every rank."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, _np.integer)):
            raise TypeError(f"DistributedSampler.set_epoch: epoch must be an int, got {type(epoch).__name__} "
                            f"{epoch!r}")
        self.epoch = int(epoch)


__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "DistributedSampler"]
