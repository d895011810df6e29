"""``tn.cuda``: is a GPU here, and the device's housekeeping.

``is_available()`` is True only with a working GPU (CuPy imports and a device answers).
With ``TINYNET_CUDA_SIM=1`` the "cuda" device exists but runs Numba's CUDA simulator on
NumPy arrays; ``is_simulated()`` says so. ``manual_seed``/``manual_seed_all`` seed the
generator that cuda draws come from (tinynet's one global generator).

``tn.cuda.amp.autocast`` / ``tn.cuda.amp.GradScaler`` are PyTorch's older names for
``tn.autocast("cuda")`` and ``tn.amp.GradScaler("cuda")``. ``max_memory_allocated`` and
``reset_peak_memory_stats`` report the peak of ``memory_allocated`` as sampled after each GPU
allocation by a CuPy memory hook, installed by the first call of either (so the peak counts
from then on; PyTorch counts from the start of the process).
"""
from __future__ import annotations

from types import SimpleNamespace as _Namespace

from .amp import _CudaAutocast, _CudaGradScaler
from .backend import registry as _reg
from .tensor import random as _random

#: ``tn.cuda.amp``: PyTorch's ``torch.cuda.amp`` names (autocast(enabled, dtype, cache_enabled), GradScaler)
amp = _Namespace(autocast=_CudaAutocast, GradScaler=_CudaGradScaler)


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


class _Peak:
    """The largest ``memory_allocated()`` since the last reset, updated by a CuPy memory hook
    after every allocation of this thread (CuPy's hooks are per thread)."""

    hook = None
    peak = 0


def _peak_hook():
    if _Peak.hook is None and is_available():
        cupy = _reg.get_device("cuda").xp
        pool = _pool()

        class _PeakHook(cupy.cuda.MemoryHook):
            name = "tinynet_peak_memory"

            def malloc_postprocess(self, **kwargs):
                used = pool.used_bytes()
                if used > _Peak.peak:
                    _Peak.peak = used

        _Peak.hook = _PeakHook()
        _Peak.hook.__enter__()  # installed for the life of the process (this thread)
        _Peak.peak = memory_allocated()
    return _Peak.hook


def max_memory_allocated(device=None) -> int:
    """The most bytes held by live CuPy arrays at once since ``reset_peak_memory_stats()``
    (or since the first call of either); 0 without a real GPU, as ``memory_allocated``."""
    if _peak_hook() is None:
        return 0
    _Peak.peak = max(_Peak.peak, memory_allocated())
    return int(_Peak.peak)


def reset_peak_memory_stats(device=None):
    """Restart ``max_memory_allocated`` from the current ``memory_allocated()``."""
    if _peak_hook() is not None:
        _Peak.peak = memory_allocated()


def set_device(device):
    """Select the GPU: tinynet computes on ``cuda:0`` only, so 0 (or "cuda", "cuda:0") is accepted
    and anything else raises (pick the GPU with CUDA_VISIBLE_DEVICES instead)."""
    index = device
    if isinstance(device, str):
        kind, _, num = device.partition(":")
        if kind != "cuda" or (num and not num.isdigit()):
            raise ValueError(f"set_device: expected a cuda device (0, 'cuda' or 'cuda:0'), got {device!r}")
        index = int(num) if num else 0
    elif hasattr(device, "type") and hasattr(device, "index"):  # a tn.device
        if device.type != "cuda":
            raise ValueError(f"set_device: expected a cuda device, got {device}")
        index = device.index or 0
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"set_device: expected an int or a device string, got {type(device).__name__}")
    if index < 0:  # PyTorch: a negative index is a no-op
        return
    if index != 0:
        raise ValueError(f"set_device({device!r}): tinynet computes on cuda:0 only; choose the GPU with "
                         f"CUDA_VISIBLE_DEVICES={index} before starting Python")


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: tinynet has no bfloat16 dtype (NumPy has none), whatever the GPU supports.
    Code that picks ``bfloat16 if is_bf16_supported() else float16`` then picks float16."""
    return False


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
