"""The device registry: turns "cpu", "cuda", "cuda:0" or a Device into a Device.

``"cpu"`` is NumPy plus ``kernels/cpu``. ``"cuda"`` is CuPy plus ``kernels/cuda`` when a GPU
works, or, with ``TINYNET_CUDA_SIM=1``, NumPy arrays with every ``kernels/cuda`` kernel run
in Numba's CUDA simulator (how CI, which has no GPU, checks the GPU path).
"""
from __future__ import annotations

import os
import re

import numpy

from .device import Device
from .errors import DeviceError

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
            raise RuntimeError("CuPy found no CUDA device")  # caught below: becomes the reason
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


#: "type" or "type:N" with a non-negative decimal ordinal (no sign, no spaces, no leading zeros),
#: as PyTorch parses device strings. The type is matched case-insensitively ("CUDA"; "gpu" is an alias).
_SPEC = re.compile(r"(?P<type>[A-Za-z_]+)(?::(?P<index>-?[0-9]*))?")


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


def parse_device(spec: str) -> tuple[str, int | None]:
    """``"cuda:1"`` -> ``("cuda", 1)``, ``"cpu"`` -> ``("cpu", None)``; DeviceError when malformed
    or of an unknown type. Does not check that the device exists (see :func:`get_device`)."""
    m = _SPEC.fullmatch(spec.strip())
    if m is None:
        raise DeviceError(
            f"invalid device string {spec!r}: expected 'cpu', 'cuda' or 'cuda:N' with N a GPU ordinal (0, 1, ...)"
        )
    kind, index = m.group("type").lower(), m.group("index")
    if kind == "gpu":
        kind = "cuda"
    if kind not in ("cpu", "cuda"):
        raise DeviceError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    if index is None:
        return kind, None
    if index.startswith("-") and index[1:].isdigit():
        raise DeviceError(f"invalid device {spec!r}: the device ordinal must be non-negative, got {index}")
    if not index.isdigit() or (len(index) > 1 and index[0] == "0"):
        what = "is missing" if index == "" else f"must be a non-negative integer (no sign or leading zeros), got {index!r}"
        raise DeviceError(f"invalid device string {spec!r}: the ordinal after ':' {what} "
                          f"(write '{kind}' or '{kind}:0')")
    return kind, int(index)


def get_device(spec=None) -> Device:
    """Resolve a device spec (None means cpu) to a Device, with a clear error if unknown.

    Accepted: a :class:`Device`, ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` where GPU ``N`` exists.
    tinynet computes on one GPU, ``cuda:0`` (the first GPU the process sees; pick another
    with ``CUDA_VISIBLE_DEVICES``): a higher ordinal is refused with a DeviceError naming the
    GPUs that exist, never silently mapped to GPU 0. As in PyTorch, ``"cpu:N"`` is the CPU
    (there is one). Malformed strings ("cuda:x", "cuda:", "cuda:-1") and unknown device
    types raise DeviceError (a ValueError and a RuntimeError).
    """
    if spec is None:
        return _CPU
    if isinstance(spec, Device):
        return spec
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
