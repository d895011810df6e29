"""Samplers: which dataset indices a DataLoader visits, and in what order (PyTorch's classes).

A sampler is an iterable of indices with a length; a batch sampler is an iterable of lists
of indices. ``DataLoader(ds, shuffle=True)`` builds a :class:`RandomSampler` on the loader's
own generator and a :class:`BatchSampler` around it; pass ``sampler=`` or ``batch_sampler=``
to choose the order yourself (class balancing with :class:`WeightedRandomSampler`, a fixed
validation subset with :class:`SubsetRandomSampler`, ...).

Random samplers draw from their ``generator`` (a :class:`tn.Generator`, a NumPy
``Generator``, or None: tinynet's global generator, so ``tn.manual_seed`` reproduces them).
"""
from __future__ import annotations

import numpy as _np

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


__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]
