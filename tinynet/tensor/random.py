"""The global random generator behind ``tn.rand``, ``tn.randn``, dropout, init and shuffling.

``tn.manual_seed(s)`` makes every draw reproducible. Draws are made on the host with
NumPy's PCG64 generator and moved to the device, so a seed gives the same numbers on
cpu and cuda.
"""
from __future__ import annotations

import numpy as _np

_STATE = {"gen": _np.random.default_rng(0), "seed": 0}


def manual_seed(seed: int):
    """Seed the global generator (returns the seed)."""
    if not isinstance(seed, (int, _np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an int seed, got {type(seed).__name__}")
    _STATE["gen"] = _np.random.default_rng(int(seed))
    _STATE["seed"] = int(seed)
    return int(seed)


def initial_seed() -> int:
    return _STATE["seed"]


def generator() -> _np.random.Generator:
    """The global NumPy generator (for library code that needs host randomness)."""
    return _STATE["gen"]


def get_rng_state() -> dict:
    """The generator's full state, as plain data (saved in training checkpoints)."""
    return _STATE["gen"].bit_generator.state


def set_rng_state(state: dict):
    gen = _np.random.default_rng()
    gen.bit_generator.state = state
    _STATE["gen"] = gen
