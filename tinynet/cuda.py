"""``tn.cuda``: is a GPU here, and the device's housekeeping.

``is_available()`` is True only with a working GPU (CuPy imports and a device answers).
With ``TINYNET_CUDA_SIM=1`` the "cuda" device exists but runs Numba's CUDA simulator on
NumPy arrays; ``is_simulated()`` says so. ``manual_seed``/``manual_seed_all`` seed the
generator that cuda draws come from (tinynet's one global generator).
"""
from __future__ import annotations

from .backend import registry as _reg
from .tensor import random as _random


def is_available() -> bool:
    return _reg.cuda_available()


def is_simulated() -> bool:
    return _reg.simulated_cuda()


def device_count() -> int:
    """GPUs this process sees (CuPy's count); 0 without a real GPU, also when simulated.
    tinynet computes on ``cuda:0`` (see ``tn.device``)."""
    return _reg.cuda_device_count() if is_available() else 0


def synchronize():
    """Wait for all queued GPU work (a no-op without a GPU)."""
    if is_available():
        _reg.get_device("cuda").synchronize()


def _pool():
    dev = _reg.get_device("cuda")
    return None if dev.simulated else dev.xp.get_default_memory_pool()


def memory_allocated() -> int:
    """Bytes held by live CuPy arrays (0 without a real GPU)."""
    if not is_available():
        return 0
    return int(_pool().used_bytes())


def memory_reserved() -> int:
    if not is_available():
        return 0
    return int(_pool().total_bytes())


def empty_cache():
    """Return cached, unused GPU blocks to the driver."""
    if is_available():
        _pool().free_all_blocks()


# --- seeding (PyTorch's torch.cuda.manual_seed & co.) -----------------------------------------
# tinynet draws every random number on the host, from one generator, and moves it to the
# tensor's device: a seed gives the same numbers on cpu and cuda. So seeding "the CUDA
# generator" is seeding that one generator; these exist so PyTorch scripts run unchanged.

def manual_seed(seed: int):
    """Seed the generator behind cuda draws (tinynet's one global generator, see above)."""
    return _random.manual_seed(seed)


def manual_seed_all(seed: int):
    """Seed the generators of every GPU: tinynet has one generator for all devices."""
    return _random.manual_seed(seed)


def seed():
    """Seed the generator from fresh entropy (``torch.cuda.seed``)."""
    return _random.seed()


def seed_all():
    return _random.seed()


def initial_seed() -> int:
    return _random.initial_seed()


def current_device() -> int:
    """The ordinal tinynet computes on: 0 (one GPU per process; pick it with CUDA_VISIBLE_DEVICES)."""
    if not is_available() and not is_simulated():
        raise RuntimeError("current_device(): no CUDA device is available (tn.cuda.is_available() is False)")
    return 0


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. 'NVIDIA H200' ('Numba CUDA simulator' when simulated)."""
    if is_simulated():
        return "Numba CUDA simulator"
    if not is_available():
        raise RuntimeError("get_device_name(): no CUDA device is available (tn.cuda.is_available() is False)")
    dev = _reg.get_device("cuda")
    props = dev.xp.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)
