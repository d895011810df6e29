"""Devices: an array module plus a table of named kernels.

A :class:`Device` is what every layer above asks for math: ``device.xp`` is the array
module (NumPy on ``"cpu"``, CuPy on ``"cuda"``) and ``device.kernels.<name>`` is a hot
loop written for that device (``kernels/cpu`` Numba functions, ``kernels/cuda`` Numba CUDA
kernels). The idea is needle's device table: the autograd core never imports NumPy or CuPy
for math, so the same Function runs on any device.

Kernels are imported on first use, never at ``import tinynet`` (importing Numba alone
costs about 0.4 s, and compiling costs more).
"""
from __future__ import annotations

import importlib


class KernelTable:
    """Named kernels of one device, imported lazily from a kernels package.

    ``table.softmax_forward`` imports ``tinynet.kernels.<kind>`` the first time any
    kernel is asked for and then caches each function as an attribute.
    """

    def __init__(self, package: str):
        self._package = package
        self._module = None

    def _load(self):
        if self._module is None:
            self._module = importlib.import_module(self._package)
        return self._module

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        module = self._load()
        try:
            fn = getattr(module, name)
        except AttributeError:
            raise AttributeError(
                f"device kernel table {self._package!r} has no kernel named {name!r}"
            ) from None
        setattr(self, name, fn)
        return fn

    def has(self, name: str) -> bool:
        """True when the kernels package defines ``name``."""
        return hasattr(self._load(), name)


class Device:
    """A place where tensors live: ``type`` ("cpu" or "cuda"), ``xp`` and ``kernels``.

    Devices are singletons, so ``a.device is b.device`` is the (fast) same-device test.
    A device compares equal to its name: ``t.device == "cpu"``.
    """

    __slots__ = ("type", "xp", "kernels", "simulated", "index", "_staged")

    def __init__(self, type: str, xp, kernel_package: str, simulated: bool = False):
        self.type = type
        self.xp = xp
        self.kernels = KernelTable(kernel_package)
        self.simulated = simulated
        self.index = 0 if type == "cuda" else None
        self._staged = []  # (event, pinned host buffer) of in-flight host-to-device copies

    def __repr__(self):
        sim = ", simulated=True" if self.simulated else ""
        return f"device(type='{self.type}'{sim})"

    def __str__(self):
        return self.type

    def __eq__(self, other):
        if isinstance(other, Device):
            return self is other
        if isinstance(other, str):
            return other.split(":")[0] == self.type
        return NotImplemented

    def __hash__(self):
        return hash(self.type)

    # --- moving arrays between host and device -------------------------------------
    def from_host(self, array, pinned: bool = False):
        """Copy a host (NumPy) array onto this device.

        With ``pinned=True`` on a real GPU the array is first staged in page-locked host
        memory and copied on CuPy's current stream without blocking the host (the DMA
        engine reads pinned pages directly; pageable memory needs an extra driver copy).
        On the CPU and the simulated GPU there is nothing to pin, so it is a plain copy.
        """
        if self.xp.__name__ == "numpy":
            return self.xp.array(array, copy=True)
        if pinned:
            import cupyx
            host = cupyx.empty_pinned(array.shape, dtype=array.dtype)
            host[...] = array
            out = self.xp.empty(array.shape, dtype=array.dtype)
            stream = self.xp.cuda.get_current_stream()
            out.set(host, stream=stream)
            # The staging buffer must outlive the asynchronous copy: keep it with an event
            # and release the oldest ones only once their copies have finished.
            self._staged.append((stream.record(), host))
            while len(self._staged) > 4:
                event, _ = self._staged.pop(0)
                event.synchronize()
            return out
        return self.xp.asarray(array)

    def to_host(self, array):
        """Copy an array of this device to a host NumPy array."""
        if self.xp.__name__ == "numpy":
            return array
        return self.xp.asnumpy(array)

    def synchronize(self):
        """Wait for queued work on this device (a no-op on the CPU)."""
        if self.type == "cuda" and not self.simulated:
            self.xp.cuda.get_current_stream().synchronize()
