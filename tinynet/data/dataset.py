"""Datasets: indexable collections of samples.

A dataset is anything with ``__len__`` and ``__getitem__(i)`` returning one sample
(a tensor, a tuple ``(input, target)``, a dict ...). :class:`~tinynet.data.DataLoader`
turns a dataset into shuffled mini-batches.

* :class:`TensorDataset` wraps equal-length arrays/tensors; sample ``i`` is the tuple of
  their ``i``-th rows. The loader batches it by slicing the arrays directly (no Python
  loop per sample), so it is the fast way to feed in-memory data.
* :class:`Subset` views a dataset through a list of indices; :func:`random_split` cuts a
  dataset into random, non-overlapping subsets (train/validation splits).
* :class:`ConcatDataset` chains datasets end to end (``a + b`` does the same).
"""
from __future__ import annotations

import bisect
import math
from typing import Sequence

import numpy as _np

from ..tensor import random as _random
from ..tensor.tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(index)``.

    ``dataset_a + dataset_b`` gives a :class:`ConcatDataset`.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (and may define ``__len__``).

    For data that isn't indexable (generated on the fly, read from a stream). The
    DataLoader batches consecutive samples; it can't shuffle or sample a stream. With
    ``num_workers=N`` every worker iterates its own copy of the dataset, so split the work
    in ``__iter__`` with :func:`~tinynet.data.get_worker_info` (its ``id`` and
    ``num_workers``) or each sample comes N times -- PyTorch's rule.
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__()")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it has no indices")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Iterable datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def _check_index(index, n: int, who: str) -> int:
    if isinstance(index, Tensor):
        index = index.item()
    if not isinstance(index, (int, _np.integer)) or isinstance(index, bool):
        raise TypeError(f"{who}: index must be an int, got {type(index).__name__}")
    i = int(index)
    if i < -n or i >= n:
        raise IndexError(f"{who}: index {i} is out of range for a dataset of {n} samples")
    return i + n if i < 0 else i


class TensorDataset(Dataset):
    """Samples are rows of equal-length tensors: ``ds[i] == (t0[i], t1[i], ...)``.

    Accepts tinynet Tensors or NumPy arrays (arrays become Tensors with tinynet's dtype
    rules: float arrays keep their dtype, integer labels become int64). ``ds.tensors`` holds
    them. The loader batches a TensorDataset by slicing these arrays with an index array.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        ts = []
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                t = Tensor(_np.asarray(t))
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is 0-d; each tensor needs a first (sample) axis")
            ts.append(t.detach())
        n = ts[0].shape[0]
        for k, t in enumerate(ts):
            if t.shape[0] != n:
                sizes = ", ".join(str(t.shape[0]) for t in ts)
                raise ValueError(
                    f"TensorDataset: all tensors must have the same first dimension, got sizes {sizes} "
                    f"(tensor {k} has shape {tuple(t.shape)})"
                )
        self.tensors = tuple(ts)

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(Tensor._make(t.array[i], t.device) for t in self.tensors)

    def take(self, indices):
        """The batch of samples at ``indices`` (an int array), as a tuple of Tensors (fast path)."""
        out = []
        for t in self.tensors:
            xp = t.device.xp
            idx = indices if xp is _np else xp.asarray(indices)
            out.append(Tensor._make(t.array[idx], t.device))
        return tuple(out)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices: Sequence[int]):
        idx = _np.asarray(indices, dtype=_np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx[(idx < -n) | (idx >= n)][0])
            raise IndexError(f"Subset: index {bad} is out of range for a dataset of {n} samples")
        self.dataset = dataset
        self.indices = _np.where(idx < 0, idx + n, idx)

    def __len__(self):
        return int(self.indices.size)

    def __getitem__(self, index):
        i = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    def __getattr__(self, name):
        # Only called for attributes a Subset lacks: forward them to the parent dataset, so
        # e.g. ``train_subset.num_classes`` works. Dunder and own names are never forwarded.
        if name.startswith("__") or name in ("dataset", "indices"):
            raise AttributeError(name)
        return getattr(self.dataset, name)


def batch_taker(dataset):
    """A function ``take(indices) -> tuple of Tensors`` that gathers a whole batch at once,
    or None when ``dataset`` has no such fast path.

    TensorDatasets gather by fancy-indexing their arrays; Subsets of them compose the
    index arrays first. The DataLoader uses this instead of a per-sample Python loop.
    """
    if isinstance(dataset, TensorDataset):
        return dataset.take
    if isinstance(dataset, Subset):
        inner = batch_taker(dataset.dataset)
        if inner is not None:
            indices = dataset.indices
            return lambda idx: inner(indices[_np.asarray(idx)])
    return None


class ConcatDataset(Dataset):
    """Datasets end to end: index ``i`` falls in the dataset whose cumulative size covers it."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        i = _check_index(index, len(self), "ConcatDataset")
        k = bisect.bisect_right(self.cumulative_sizes, i)
        start = 0 if k == 0 else self.cumulative_sizes[k - 1]
        return self.datasets[k][i - start]


def _lengths(lengths, n: int) -> list[int]:
    """Integer lengths, or fractions summing to 1 turned into lengths (PyTorch's rule:
    floor each, then hand the remainder out one by one from the first subset on)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(x, (int, _np.integer)) and not isinstance(x, bool) for x in lengths):
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
        if sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {lengths} sum to {sum(lengths)} but the dataset has {n} samples; "
                "give lengths that sum to the dataset size, or fractions that sum to 1"
            )
        return [int(x) for x in lengths]
    fracs = [float(x) for x in lengths]
    if any(f < 0 or f > 1 for f in fracs) or not math.isclose(sum(fracs), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractions {lengths} must each be in [0, 1] and sum to 1")
    out = [int(math.floor(n * f)) for f in fracs]
    for k in range(n - sum(out)):
        out[k % len(out)] += 1
    return out


def random_split(dataset, lengths, seed: int | None = None, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    ``lengths`` are sample counts summing to ``len(dataset)`` or fractions summing to 1
    (``random_split(ds, [0.8, 0.2], seed=0)``). The permutation comes from ``generator`` (a
    :class:`tn.Generator` or NumPy Generator, as ``generator=tn.Generator().manual_seed(42)``
    in PyTorch scripts), else from ``seed``, else from tinynet's global generator
    (``tn.manual_seed``).
    """
    n = len(dataset)
    sizes = _lengths(lengths, n)
    if generator is None:
        generator = _np.random.default_rng(seed) if seed is not None else _random.generator()
    perm = _random.resolve(generator).permutation(n)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start:start + size]))
        start += size
    return out
