"""``tn.amp``: automatic mixed precision, PyTorch's ``torch.amp``.

``tn.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)`` runs the matrix
products, attention and convolutions of a region in float16 and keeps the accuracy-critical
ops in float32; ``tn.amp.GradScaler`` scales the loss so float16 gradients do not underflow.
Both are also reachable as ``tn.cuda.amp.*`` and ``tn.cpu.amp.*`` (PyTorch's older names).
"""
from types import SimpleNamespace as _Namespace

from ..functional.conversion import to_cpu as _cpu
from .autocast_mode import *  # noqa: F401,F403
from .autocast_mode import __all__ as _autocast_all
from .autocast_mode import autocast
from .grad_scaler import GradScaler

__all__ = list(_autocast_all) + ["GradScaler"]


class _CpuAutocast(autocast):
    """``tn.cpu.amp.autocast(enabled=True, dtype=float16, cache_enabled=True)``: PyTorch's older
    spelling of ``tn.autocast("cpu", ...)``."""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class _CpuGradScaler(GradScaler):
    """``tn.cpu.amp.GradScaler(...)``: ``tn.amp.GradScaler("cpu", ...)``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


class _CudaAutocast(autocast):
    """``tn.cuda.amp.autocast(enabled=True, dtype=float16, cache_enabled=True)``: PyTorch's older
    spelling of ``tn.autocast("cuda", ...)``."""

    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class _CudaGradScaler(GradScaler):
    """``tn.cuda.amp.GradScaler(...)``: ``tn.amp.GradScaler("cuda", ...)`` (nanoGPT builds
    ``torch.cuda.amp.GradScaler(enabled=False)`` on the cpu: a pass-through)."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


# tn.cpu is the function tn.cpu(x) (moves a tensor to the cpu); PyTorch's torch.cpu is a module
# with an ``amp`` namespace, so that function carries ``amp`` as an attribute: tn.cpu.amp.autocast.
_cpu.amp = _Namespace(autocast=_CpuAutocast, GradScaler=_CpuGradScaler)
