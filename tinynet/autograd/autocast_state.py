"""Autocast state: is mixed precision on for a device type, and in which dtype.

The ops (``tinynet.functional``) read this state; ``tn.autocast`` (``tinynet.amp``) sets it.
It lives below the ops, like ``grad_mode``, so that any op can read it without importing
the context manager's layer. One entry per device type ("cpu", "cuda"): PyTorch keeps a
separate autocast switch and dtype for each.

The cast cache: inside an autocast region, the low-precision copy of a parameter (a leaf
tensor that requires grad) is made once and reused by every op that reads it, as PyTorch
does (``cache_enabled``); it is dropped when the outermost autocast region exits.
"""
from __future__ import annotations

#: device types autocast knows (PyTorch also has xpu, mps, ...: tinynet has these two devices)
DEVICE_TYPES = ("cpu", "cuda")


class _AutocastState:
    __slots__ = ("enabled", "dtype", "active", "cache_enabled", "nesting", "cache")

    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": "float16", "cuda": "float16"}  # NumPy dtype names; see tinynet.amp
        self.active = False  # any device type enabled: the ops' one-attribute fast check
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}  # id(source) -> (source, source version, cast tensor)


STATE = _AutocastState()


def _check_device_type(device_type, what):
    if device_type not in DEVICE_TYPES:
        raise ValueError(f"{what}: device_type must be one of {DEVICE_TYPES}, got {device_type!r}")


def is_autocast_enabled(device_type=None) -> bool:
    """True when autocast is on for ``device_type`` (PyTorch's default: "cuda")."""
    device_type = "cuda" if device_type is None else device_type
    _check_device_type(device_type, "is_autocast_enabled")
    return STATE.enabled[device_type]


def set_autocast_enabled(device_type, enabled: bool):
    """Switch autocast on or off for ``device_type`` (what ``tn.autocast`` does on entry/exit)."""
    _check_device_type(device_type, "set_autocast_enabled")
    STATE.enabled[device_type] = bool(enabled)
    STATE.active = any(STATE.enabled.values())


def get_autocast_dtype_name(device_type) -> str:
    _check_device_type(device_type, "get_autocast_dtype")
    return STATE.dtype[device_type]


def set_autocast_dtype_name(device_type, name: str):
    _check_device_type(device_type, "set_autocast_dtype")
    STATE.dtype[device_type] = name


def is_autocast_cache_enabled() -> bool:
    return STATE.cache_enabled


def set_autocast_cache_enabled(enabled: bool):
    STATE.cache_enabled = bool(enabled)


def clear_autocast_cache():
    """Drop the cached low-precision copies of parameters."""
    STATE.cache.clear()


def increment_nesting() -> int:
    STATE.nesting += 1
    return STATE.nesting


def decrement_nesting() -> int:
    STATE.nesting -= 1
    return STATE.nesting
