"""The op registry: every differentiable op with an input generator and a reference.

Each module in this package defines ``ENTRIES``, a list of :class:`OpEntry`. The suite
(``tests/test_op_registry.py``) checks every entry on every available device against

* its float64 NumPy reference (forward),
* ``tn.gradcheck`` (backward) and ``tn.gradgradcheck`` (second order) where supported,

and fails if any :class:`tinynet.autograd.Function` subclass is not exercised by some
entry, so a new op cannot be added without being checked.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass
class OpEntry:
    """One registry entry.

    ``make(rng)`` returns the op's arguments as NumPy arrays (float arrays become float64
    tensors that require grad unless listed in ``no_grad``; integer/bool arrays become
    constant tensors) or plain Python values, passed through unchanged.
    ``fn(*args)`` calls the tinynet op on those tensors; ``ref(*arrays)`` computes the
    expected output in NumPy float64 (None: no forward reference, e.g. random ops).
    """

    name: str
    fn: Callable
    make: Callable[[np.random.Generator], list]
    ref: Optional[Callable] = None
    gradgrad: bool = True
    no_grad: tuple = ()
    atol: float = 1e-5
    rtol: float = 1e-3
    fwd_atol: float = 1e-7
    mode: str = "auto"
    eps: float = 1e-6
    devices: tuple = ("cpu", "cuda")
    tags: tuple = field(default_factory=tuple)

    def __repr__(self):
        return f"OpEntry({self.name})"


def all_entries() -> list:
    """Every entry from every module of this package."""
    entries = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        entries.extend(getattr(module, "ENTRIES", []))
    names = [e.name for e in entries]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate registry entry names: {sorted(dupes)}")
    return entries


def build_args(entry: OpEntry, device: str, seed: int = 0):
    """The entry's arguments as tinynet tensors on ``device`` (float64, grad where floating)."""
    import tinynet as tn

    rng = np.random.default_rng(seed)
    raw = entry.make(rng)
    args = []
    for i, a in enumerate(raw):
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                t = tn.tensor(a.astype(np.float64), dtype=tn.float64, device=device)
                if i not in entry.no_grad:
                    t.requires_grad_(True)
            else:
                t = tn.tensor(a, device=device)
            args.append(t)
        else:
            args.append(a)
    return raw, args
