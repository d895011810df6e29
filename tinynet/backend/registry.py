"""The device registry: turns "cpu", "cuda", "cuda:0" or a Device into a Device.

``"cpu"`` is NumPy plus ``kernels/cpu``. ``"cuda"`` is CuPy plus ``kernels/cuda`` when a GPU
works, or, with ``TINYNET_CUDA_SIM=1``, NumPy arrays with every ``kernels/cuda`` kernel run
in Numba's CUDA simulator (how CI, which has no GPU, checks the GPU path).
"""
from __future__ import annotations

import importlib
import os

import numpy

from .device import Device, parse_device  # (parse_device is re-exported here)
from .errors import DeviceError

#: The kernels package of each device type (the backend is the only layer that imports kernels).
KERNEL_PACKAGES = {"cpu": "tinynet.kernels.cpu", "cuda": "tinynet.kernels.cuda"}

_CPU = Device("cpu", numpy, KERNEL_PACKAGES["cpu"])
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
        _CUDA = Device("cuda", numpy, KERNEL_PACKAGES["cuda"], simulated=True)
        return _CUDA
    try:
        import cupy  # noqa: WPS433 (optional dependency, probed on demand)

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("CuPy found no CUDA device")  # caught below: becomes the reason
        cupy.zeros(1).sum().item()  # a real round trip: driver and runtime both work
    except Exception as exc:  # ImportError, CUDARuntimeError, ...
        _CUDA_ERROR = f"{type(exc).__name__}: {exc}"
        return None
    _CUDA = Device("cuda", cupy, KERNEL_PACKAGES["cuda"])
    return _CUDA


def cuda_available() -> bool:
    """True only with a working GPU (CuPy imports and a device answers); False when simulated."""
    dev = _probe_cuda()
    return dev is not None and not dev.simulated


def cuda_unavailable_reason() -> str | None:
    """Why device "cuda" cannot be used, or None when it can."""
    _probe_cuda()
    return _CUDA_ERROR


def cuda_device_count() -> int:
    """How many CUDA devices this process sees: CuPy's count on a real GPU, 1 when simulated
    (the simulator has one device, ordinal 0), 0 when device "cuda" is unavailable."""
    dev = _probe_cuda()
    if dev is None:
        return 0
    if dev.simulated:
        return 1
    return int(dev.xp.cuda.runtime.getDeviceCount())


def _ordinals(count: int) -> str:
    if count == 1:
        return "1 CUDA device: cuda:0"
    listed = ", ".join(f"cuda:{i}" for i in range(min(count, 8))) + (", ..." if count > 8 else "")
    return f"{count} CUDA devices: {listed}"


def kernel_package(kind: str):
    """The kernels package of device type ``kind`` ("cpu" or "cuda"), imported: Numba loads,
    nothing compiles. For diagnostics (``tinynet info``); ops use ``device.kernels``."""
    return importlib.import_module(KERNEL_PACKAGES[kind])


#: The device of new tensors made without ``device=`` (``tn.set_default_device``).
_DEFAULT = [None]


def set_default_device(spec):
    """Make ``spec`` (``"cpu"``, ``"cuda"``, a Device, or None for cpu) the device of tensors
    created without ``device=`` (``tn.tensor``, ``tn.zeros``, ``tn.randn``, layers' weights ...),
    as ``torch.set_default_device``. Tensors made from other tensors keep their device."""
    _DEFAULT[0] = None if spec is None else get_device(spec)


def get_default_device() -> Device:
    """The device of tensors created without ``device=`` (cpu unless changed)."""
    return _DEFAULT[0] or _CPU


def get_device(spec=None) -> Device:
    """Resolve a device spec (None means the default device, cpu unless
    :func:`set_default_device` changed it) to a Device, with a clear error if unknown.

    Accepted: a :class:`Device`, ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` where GPU ``N`` exists.
    tinynet computes on one GPU, ``cuda:0`` (the first GPU the process sees; pick another
    with ``CUDA_VISIBLE_DEVICES``): a higher ordinal is refused with a DeviceError naming the
    GPUs that exist, never silently mapped to GPU 0. As in PyTorch, ``"cpu:N"`` is the CPU
    (there is one). Malformed strings ("cuda:x", "cuda:", "cuda:-1") and unknown device
    types raise DeviceError (a ValueError and a RuntimeError).
    """
    if spec is None:
        return _DEFAULT[0] or _CPU
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool) and spec >= 0:
        spec = f"cuda:{spec}"  # PyTorch: an integer device is that CUDA ordinal
    if not isinstance(spec, str):
        raise TypeError(f"device must be a string like 'cpu', 'cuda' or 'cuda:0', or a Device; got {type(spec).__name__}")
    kind, index = parse_device(spec)
    if kind == "cpu":
        return _CPU
    dev = _probe_cuda()
    if dev is None:
        raise DeviceError(
            f"device {spec!r} is not available ({_CUDA_ERROR}). Install CuPy for your CUDA "
            "version with `pip install tinynet[cuda12]` or `tinynet[cuda13]` on a machine "
            "with an NVIDIA GPU, set TINYNET_CUDA_SIM=1 to simulate it, or use device='cpu'."
        )
    if index:
        count = cuda_device_count()
        if index >= count:
            sim = " (the simulated GPU)" if dev.simulated else ""
            raise DeviceError(f"{spec}: no such GPU; this machine has {_ordinals(count)}{sim}")
        raise DeviceError(
            f"{spec}: tinynet computes on one GPU, cuda:0 ({_ordinals(count)} here). To run on GPU {index}, "
            f"start the process with CUDA_VISIBLE_DEVICES={index} (that GPU is then cuda:0) and use 'cuda'"
        )
    return dev


def available_devices() -> list[str]:
    """Devices usable here: always "cpu"; "cuda" with a GPU or when simulated."""
    return ["cpu"] + (["cuda"] if _probe_cuda() is not None else [])
