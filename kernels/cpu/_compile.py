"""The CPU kernels' loops: one loop body compiled as a serial and a parallel kernel.

Small arrays run a kernel's serial loop (a parallel launch costs tens of microseconds);
large ones run the same body with ``prange`` spread over threads, from the size set per
family in ``kernels/policy.py`` (``CPU_PARALLEL_MIN_ELEMENTS``). Writing the body once
and compiling it twice keeps the two from drifting apart.

How the two devices share the math: a family's formulas live in ``kernels/<family>_math.py``
as plain Python, compiled here by ``kernels/_math_module.compile_math`` with
``numba.njit`` (and on the GPU with ``numba.cuda.jit(device=True)``). For float32 input
the cpu kernels compile the module a second time with ``exp`` (and ``erfc``) bound to the
vectorisable versions in ``_vecmath.py``: LLVM turns a loop into SIMD code only when
every call in it can be vectorised, and libm's cannot. The bound function is fixed at
compile time, so the compiled loop calls it directly.

Disk cache (``cache=True``): Numba names a function's cache files after its qualified name
and source file and keys the entries by argument types only, not by ``parallel=`` or by
the globals it was compiled with. Two dispatchers made from one function under one name
would share one cache entry, and whichever compiled first would be loaded for both (the
"parallel" max-pooling kernel once ran the serial code that way). So each variant here is
compiled from its own copy of the function, named ``<body>_serial`` / ``<body>_parallel``,
with its own cache files.

Numba refreshes a cache entry when the file holding the compiled function changes, not
when a file it calls into does. Loops compiled against a math module (``math=`` below)
carry that module's source digest in their names (``kernels/_math_module.py``), so an edit
to the math compiles them afresh instead of loading the old machine code.
"""
from __future__ import annotations

import types

import numba


def serial_and_parallel(body, math=None, **options):
    """``(serial, parallel)`` Numba dispatchers of ``body`` (``prange`` loops in it run in
    parallel only in the second); ``options`` go to ``numba.njit`` with ``cache=True``.

    ``math``: a math module compiled by ``compile_math``. Its compiled functions replace
    the globals of the same names in ``body`` (the plain Python functions the cpu module
    imports from the ``*_math.py`` module), so one body can be compiled against each
    binding of the math; the copies are then named ``<body>_<compiled math>_serial`` ...,
    where ``<compiled math>`` carries the math's variant and source digest. The copies see
    the body's globals as they are at this call (call it after whatever the body uses).
    """
    name = body.__name__
    namespace = body.__globals__
    if math is not None:
        name = f"{name}_{math.__name__.rsplit('.', 1)[-1]}"
        namespace = {**namespace, **{key: fn for key, fn in vars(math).items() if not key.startswith("__")}}
    out = []
    for suffix, parallel in (("serial", False), ("parallel", True)):
        fn = types.FunctionType(body.__code__, namespace, f"{name}_{suffix}", body.__defaults__, body.__closure__)
        fn.__qualname__ = f"{name}_{suffix}"
        fn.__module__ = body.__module__
        fn.__doc__ = body.__doc__
        out.append(numba.njit(cache=True, parallel=parallel, **options)(fn))
    return tuple(out)
