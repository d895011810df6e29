"""Devices: an array module plus a table of named kernels.

A :class:`Device` is what every layer above asks for math: ``device.xp`` is the array
module (NumPy on ``"cpu"``, CuPy on ``"cuda"``) and ``device.kernels.<name>`` is a hot
loop written for that device (``kernels/cpu`` Numba functions, ``kernels/cuda`` Numba CUDA
kernels). The idea is needle's device table: the autograd core never imports NumPy or CuPy
for math, so the same Op runs on any device.

Kernels are imported on first use, never at ``import tinynet`` (importing Numba alone
costs about 0.4 s, and compiling costs more).
"""
from __future__ import annotations

import importlib
import re

import numpy as _np

from .errors import DeviceError

_F16 = _np.dtype("float16")
_F32 = _np.dtype("float32")


def _float16_via_float32(fn, name: str):
    """Wrap kernel ``fn`` so float16 arrays run through it in float32.

    Numba kernels are compiled for float32/float64 (Numba has no float16 arithmetic on the
    CPU, and the CUDA kernels' math functions take float32/float64). PyTorch computes
    half-precision ops in float32 internally and rounds the result to float16; so does this:
    every float16 array argument is widened to a float32 working copy, the kernel runs, the
    float32 arrays it returns are rounded back to float16, and any float16 argument the
    kernel changed in place (optimizer state, the LSTM gate buffer, output arguments) gets
    the new values written back. Arrays of other dtypes (int64 indices, float64) pass
    through untouched, and calls without float16 arrays go straight to ``fn``.
    """

    def call(*args, **kwargs):
        # The check is inline and cheap (well under a microsecond): it runs on every kernel call.
        for a in args:
            if getattr(a, "dtype", None) is _F16:
                break
        else:
            if not kwargs or all(getattr(a, "dtype", None) is not _F16 for a in kwargs.values()):
                return fn(*args, **kwargs)
        halves = {}  # id(float16 original) -> (original, float32 working copy)

        def widen(a):
            if getattr(a, "dtype", None) is not _F16:
                return a
            if id(a) not in halves:  # one array passed twice gets one working copy
                halves[id(a)] = (a, a.astype(_F32))
            return halves[id(a)][1]

        out = fn(*[widen(a) for a in args], **{k: widen(v) for k, v in kwargs.items()})
        for orig, work in halves.values():
            back = work.astype(_F16)
            # Written back only where the kernel changed it: inputs may be read-only views
            # a graph saved (float16 -> float32 -> float16 is exact, so unchanged compares equal).
            # NaN != NaN, so a position that is NaN in both does not count as a change.
            changed = (back != orig) & ((back == back) | (orig == orig))
            if bool(changed.any()):
                orig[...] = back
        return _narrow(out)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = fn.__doc__
    call.__wrapped__ = fn
    return call


def _narrow(out):
    """Round the float32 arrays of a kernel's result (an array or a tuple of them) to float16."""
    if isinstance(out, tuple):
        return tuple(_narrow(o) for o in out)
    if isinstance(out, list):
        return [_narrow(o) for o in out]
    if getattr(out, "dtype", None) is _F32:
        return out.astype(_F16)
    return out


class KernelTable:
    """Named kernels of one device, imported lazily from a kernels package.

    ``table.softmax_forward`` imports ``tinynet.kernels.<kind>`` the first time any
    kernel is asked for and then caches each function as an attribute. Each kernel is
    cached wrapped by :func:`_float16_via_float32`, so float16 tensors run through kernels
    compiled for float32 (computed in float32, rounded to float16, as PyTorch does).
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
        if callable(fn):
            fn = _float16_via_float32(fn, name)
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
            if other == self.type:
                return True
            # "cuda" and "cuda:0" name this device, "cuda:7" does not; a malformed string is just unequal.
            try:
                kind, index = parse_device(other)
            except DeviceError:
                return False
            return kind == self.type and (index is None or self.type == "cpu" or index == self.index)
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


#: "type" or "type:N" with a non-negative decimal ordinal (no sign, no spaces, no leading zeros),
#: as PyTorch parses device strings. The type is matched case-insensitively ("CUDA"; "gpu" is an alias).
_SPEC = re.compile(r"(?P<type>[A-Za-z_]+)(?::(?P<index>-?[0-9]*))?")


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
