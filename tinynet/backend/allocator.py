"""Keep freed host memory for reuse instead of handing it back to the kernel at once.

Why: a training step allocates and frees the same large arrays (activations, gradients,
im2col buffers) every iteration. glibc serves blocks above its mmap threshold with a
fresh ``mmap`` and returns them with ``munmap`` on free, so the next step touches brand
new pages: one page fault plus zeroing per 4 KiB, which can cost a large share of a
training step's time (the GPT-mini workload's measurements are in ``benchmarks/NOTES.md``).
Raising glibc's mmap and trim thresholds (``mallopt``) makes freed blocks stay in the heap
and be handed out again: the faults per step drop to about zero.

The cost is that memory freed by a large array is kept by the process (up to the trim
threshold) rather than returned to the system; it is reused by the next allocation.

This is applied once, at import, on Linux with glibc only. Set ``TINYNET_MALLOC_TUNING=0``
to leave the C allocator untouched (for example inside a larger application that
tunes malloc itself). :func:`tuning` says what was done.
"""
from __future__ import annotations

import os
import sys

#: glibc's ``mallopt`` parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (glibc caps the threshold at 32 MiB on 64-bit).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the top of the heap kept for reuse before it is trimmed back to the OS.
TRIM_THRESHOLD = 512 * 1024 * 1024

_state = {"applied": False, "reason": "not attempted"}


def tune_glibc_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds (see the module docstring); True if applied."""
    if os.environ.get("TINYNET_MALLOC_TUNING", "1") in ("0", "false", "no", "off"):
        _state.update(applied=False, reason="disabled by TINYNET_MALLOC_TUNING=0")
        return False
    if not sys.platform.startswith("linux"):
        _state.update(applied=False, reason=f"not Linux ({sys.platform})")
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
            _state.update(applied=False, reason="the C library is not glibc")
            return False
        ok = (libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
              and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    except OSError as exc:  # no dynamic C library to talk to
        _state.update(applied=False, reason=f"libc not loadable: {exc}")
        return False
    _state.update(applied=ok, reason="applied" if ok else "mallopt refused the values")
    return ok


def tuning() -> dict:
    """``{"applied": bool, "reason": str, "mmap_threshold": int, "trim_threshold": int}``."""
    return dict(_state, mmap_threshold=MMAP_THRESHOLD, trim_threshold=TRIM_THRESHOLD)
