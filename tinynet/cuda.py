"""``tn.cuda``: is a GPU here, and the device's housekeeping.

``is_available()`` is True only with a working GPU (CuPy imports and a device answers).
With ``TINYNET_CUDA_SIM=1`` the "cuda" device exists but runs Numba's CUDA simulator on
NumPy arrays; ``is_simulated()`` says so.
"""
from __future__ import annotations

from .backend import registry as _reg


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
