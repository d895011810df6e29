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
from ..tensor.tensor import Tensor
from .dataset import batch_taker


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


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Args:
        dataset: a Dataset (``len`` + ``__getitem__``).
        batch_size: samples per batch (a positive int).
        shuffle: draw a new random order every epoch from the loader's generator.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: seed of the loader's own NumPy generator (see the module docstring).
        collate_fn: merges a list of samples into a batch (default: :func:`default_collate`).
        transform: applied to each batch's first field (inputs) with the loader's generator.
        device: move every batch to this device ("cpu", "cuda").
        pin_memory: on a real GPU, stage each batch in page-locked host memory and copy it to
            the device asynchronously on CuPy's current stream; elsewhere a plain copy.
        generator: a NumPy ``Generator`` to use instead of ``seed``.
        num_workers: only 0 (batches are made in the main process).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 collate_fn=None, transform=None, device=None, pin_memory=False, generator=None,
                 num_workers=0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, _np.integer)):
            raise TypeError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        if num_workers != 0:
            raise ValueError(
                f"DataLoader: num_workers={num_workers} is not supported; tinynet makes batches in the "
                "main process (a TensorDataset batch is one array slice), so use num_workers=0"
            )
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass seed= or generator=, not both")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.transform = transform
        self.device = get_device(device) if device is not None else None
        self.pin_memory = bool(pin_memory)
        if generator is None:
            if seed is None:
                seed = int(_random.generator().integers(2**63 - 1))
            generator = _np.random.default_rng(seed)
        self.seed = seed
        self.generator = generator
        self.epoch = 0
        self._take = batch_taker(dataset) if collate_fn is None else None

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else _np.arange(n)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        n = order.size
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self._take is not None:
                batch = self._take(idx)
            else:
                collate = self.collate_fn or default_collate
                batch = collate([self.dataset[int(i)] for i in idx])
            if self.transform is not None:
                batch = self._transform(batch)
            if self.device is not None:
                batch = _move(batch, self.device, self.pin_memory)
            yield batch

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
        return (f"DataLoader(dataset of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")
