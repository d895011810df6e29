"""The device registry: turns "cpu", "cuda", "cuda:0" or a Device into a Device.

``"cpu"`` is NumPy plus ``kernels/cpu``. ``"cuda"`` is CuPy plus ``kernels/cuda`` when a GPU
works, or, with ``TINYNET_CUDA_SIM=1``, NumPy arrays with every ``kernels/cuda`` kernel run
in Numba's CUDA simulator (how CI, which has no GPU, checks the GPU path).
"""
from __future__ import annotations

import os

import numpy

from .device import Device

_CPU = Device("cpu", numpy, "tinynet.kernels.cpu")
_CUDA: Device | None = None
_CUDA_ERROR: str | None = None


def simulated_cuda() -> bool:
    """True when ``TINYNET_CUDA_SIM=1`` asks for the simulated GPU."""
    return os.environ.get("TINYNET_CUDA_SIM", "") not in ("", "0")


def _probe_cuda() -> Device | None:
    """Build the cuda device once; remember why it failed, for the error message."""
    global _CUDA, _CUDA_ERROR
    if _CUDA is not None or _CUDA_ERROR is not None:
        return _CUDA
    if simulated_cuda():
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
        _CUDA = Device("cuda", numpy, "tinynet.kernels.cuda", simulated=True)
        return _CUDA
    try:
        import cupy  # noqa: WPS433 (optional dependency, probed on demand)

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("CuPy found no CUDA device")
        cupy.zeros(1).sum().item()  # a real round trip: driver and runtime both work
    except Exception as exc:  # ImportError, CUDARuntimeError, ...
        _CUDA_ERROR = f"{type(exc).__name__}: {exc}"
        return None
    _CUDA = Device("cuda", cupy, "tinynet.kernels.cuda")
    return _CUDA


def cuda_available() -> bool:
    """True only with a working GPU (CuPy imports and a device answers); False when simulated."""
    dev = _probe_cuda()
    return dev is not None and not dev.simulated


def cuda_unavailable_reason() -> str | None:
    """Why device "cuda" cannot be used, or None when it can."""
    _probe_cuda()
    return _CUDA_ERROR


def get_device(spec=None) -> Device:
    """Resolve a device spec (None means cpu) to a Device, with a clear error if unknown."""
    if spec is None:
        return _CPU
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device must be a string like 'cpu' or 'cuda', or a Device; got {type(spec).__name__}")
    kind = spec.split(":")[0].strip().lower()
    if kind == "cpu":
        return _CPU
    if kind in ("cuda", "gpu"):
        dev = _probe_cuda()
        if dev is None:
            raise RuntimeError(
                f"device 'cuda' is not available ({_CUDA_ERROR}). Install CuPy for your CUDA "
                "version with `pip install tinynet[cuda12]` or `tinynet[cuda13]` on a machine "
                "with an NVIDIA GPU, set TINYNET_CUDA_SIM=1 to simulate it, or use device='cpu'."
            )
        return dev
    raise ValueError(f"unknown device {spec!r}: expected 'cpu' or 'cuda'")


def available_devices() -> list[str]:
    """Devices usable here: always "cpu"; "cuda" with a GPU or when simulated."""
    return ["cpu"] + (["cuda"] if _probe_cuda() is not None else [])
