"""Devices: ``"cpu"`` (NumPy + ``kernels/cpu``) and ``"cuda"`` (CuPy + ``kernels/cuda``).

The only layer that imports the kernels. Everything above asks a tensor's device for
its array module (``device.xp``) and its kernels (``device.kernels.<name>``).
"""
import os as _os

# Numba reads NUMBA_ENABLE_CUDASIM when it is first imported, so the simulated GPU must be
# switched on before any kernel module loads.
if _os.environ.get("TINYNET_CUDA_SIM", "") not in ("", "0"):
    _os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

from . import allocator, threads

# Before NumPy and Numba start their thread pools (see threads.py).
threads.quiet_idle_threads()

from .device import Device, KernelTable  # noqa: E402
from .errors import ArgumentError, DeviceError, DTypeError, ShapeError  # noqa: E402
from .registry import (available_devices, cuda_available, cuda_device_count, cuda_unavailable_reason,
                       get_default_device, get_device, parse_device, set_default_device, simulated_cuda)

allocator.tune_glibc_malloc()  # reuse freed host memory across training steps (see allocator.py)

__all__ = ["ArgumentError", "Device", "DeviceError", "DTypeError", "ShapeError", "KernelTable", "get_device", "get_default_device", "set_default_device", "parse_device", "available_devices",
           "cuda_available", "cuda_device_count", "cuda_unavailable_reason", "simulated_cuda"]
