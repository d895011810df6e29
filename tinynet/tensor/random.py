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


class Generator:
    """PyTorch's ``torch.Generator``: a random stream of its own, passed as ``generator=``.

    ``g = tn.Generator().manual_seed(0)`` then ``tn.randn(3, generator=g)``,
    ``random_split(ds, [0.8, 0.2], generator=g)``, ``DataLoader(..., generator=g)``: draws
    from ``g`` leave the global generator untouched. Backed by NumPy's PCG64 (so the numbers
    differ from PyTorch's Mersenne Twister for the same seed). ``device`` is accepted for
    PyTorch compatibility: draws happen on the host and are moved to the tensor's device.
    """

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = int(_np.random.SeedSequence().entropy % (1 << 63))
        self.gen = _np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        if not isinstance(seed, (int, _np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: expected an int seed, got {type(seed).__name__}")
        self._seed = int(seed)
        self.gen = _np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        return self.manual_seed(int(_np.random.SeedSequence().entropy % (1 << 63)))._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.gen.bit_generator.state

    def set_state(self, state: dict) -> "Generator":
        self.gen.bit_generator.state = state
        return self

    def __repr__(self):
        return f"tinynet.Generator(seed={self._seed})"


def resolve(gen=None) -> _np.random.Generator:
    """The NumPy generator to draw from: that of ``gen`` (a :class:`Generator` or a NumPy
    ``Generator``), or the global one when ``gen`` is None."""
    if gen is None:
        return _STATE["gen"]
    if isinstance(gen, Generator):
        return gen.gen
    if isinstance(gen, _np.random.Generator):
        return gen
    raise TypeError(f"generator must be a tn.Generator (or None for the global one), got {type(gen).__name__}")


def seed() -> int:
    """Seed the global generator from fresh entropy (``torch.seed``); returns the seed."""
    return manual_seed(int(_np.random.SeedSequence().entropy % (1 << 63)))


def get_rng_state() -> dict:
    """The generator's full state, as plain data (saved in training checkpoints)."""
    return _STATE["gen"].bit_generator.state


def set_rng_state(state: dict):
    gen = _np.random.default_rng()
    gen.bit_generator.state = state
    _STATE["gen"] = gen
