"""Launch helpers shared by the CUDA kernels.

Kernels receive CuPy arrays (through ``__cuda_array_interface__``) on a real GPU, or
NumPy arrays under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``). Launches go on
CuPy's current stream so they order correctly with CuPy's own work.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

THREADS = 128  # threads per block for 1-D launches


def array_module(a):
    """numpy for host arrays (simulator), cupy for device arrays."""
    if isinstance(a, np.ndarray):
        return np
    import cupy

    return cupy


def stream_for(a):
    """The Numba stream wrapping CuPy's current stream (0 = default under the simulator)."""
    if isinstance(a, np.ndarray):
        return 0
    import cupy

    return cuda.external_stream(cupy.cuda.get_current_stream().ptr)


def blocks_for(n: int, threads: int = THREADS) -> int:
    """Enough blocks of ``threads`` to cover ``n`` items (at least one)."""
    return max(1, (int(n) + threads - 1) // threads)


def prepare(a, dtype=None):
    """A C-contiguous array of a supported dtype: kernels index flat memory, so a
    non-contiguous view or an unexpected dtype is converted rather than misread."""
    xp = array_module(a)
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    if a.dtype not in (np.float32, np.float64, np.int64, np.int32, np.bool_):
        raise TypeError(f"CUDA kernel: unsupported dtype {a.dtype}")
    return xp.ascontiguousarray(a)


def threads_for(n: int) -> int:
    """Threads per block for ``n`` items: ``THREADS``, or fewer (a multiple of the 32-thread
    warp) when there are fewer items, so a small launch does not idle most of its block."""
    return min(THREADS, max(32, (int(n) + 31) // 32 * 32))


def launch(kernel, n: int, like, *args):
    """Run ``kernel(*args)`` with one thread per item for ``n`` items (rows, elements or
    output cells), on the stream of the array ``like``; nothing to do when ``n`` is 0.

    Every kernel launch goes through here: the grid is derived from ``n`` (a kernel guards
    its own ``i >= n`` tail), so launch geometry is written once for both the simulator and
    a real GPU.
    """
    if n:
        threads = threads_for(n)
        kernel[blocks_for(n, threads), threads, stream_for(like)](*args)


def launch_in_place(kernel, n, written, *rest):
    """Launch ``kernel(*written, *rest)`` for ``n`` items, where ``written`` are the arrays the
    kernel updates in place: one that is not C-contiguous is updated through a C-contiguous
    copy, written back after the launch (the simulator, like a host-to-device copy, moves
    one contiguous block per array), so strided arrays work as they do on the cpu."""
    work = [a if a.flags.c_contiguous else array_module(a).ascontiguousarray(a) for a in written]
    launch(kernel, n, work[0], *work, *rest)
    for given, result in zip(written, work):
        if result is not given:
            given[...] = result
