"""Compile one loop body as a serial and a parallel kernel, each with its own disk cache.

Small arrays run a kernel's serial loop (a parallel launch costs tens of microseconds);
large ones run the same body with ``prange`` spread over threads. Writing the body once
and compiling it twice keeps the two from drifting apart, but Numba's on-disk cache
(``cache=True``) names its files after the Python function and keys the entries by
argument types only, not by ``parallel=``: two dispatchers made from one function share
one cache entry, and whichever compiled first is loaded for both. (Measured: the
"parallel" 2x2 max-pooling kernel ran the serial code, 3.7 ms instead of 1.1 ms.) So each
variant here is compiled from its own copy of the function, named ``<body>_serial`` /
``<body>_parallel``, and gets its own cache files.
"""
from __future__ import annotations

import types

import numba


def serial_and_parallel(body, **options):
    """``(serial, parallel)`` Numba dispatchers of ``body`` (``prange`` loops in it run in
    parallel only in the second); ``options`` go to ``numba.njit`` with ``cache=True``."""
    out = []
    for suffix, parallel in (("serial", False), ("parallel", True)):
        fn = types.FunctionType(body.__code__, body.__globals__, f"{body.__name__}_{suffix}",
                                body.__defaults__, body.__closure__)
        fn.__qualname__ = f"{body.__qualname__}_{suffix}"
        fn.__module__ = body.__module__
        fn.__doc__ = body.__doc__
        out.append(numba.njit(cache=True, parallel=parallel, **options)(fn))
    return tuple(out)
