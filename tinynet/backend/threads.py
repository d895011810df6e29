"""Keep idle worker threads from spinning on the cores the other thread pool needs.

tinynet runs two thread pools on the CPU: OpenBLAS's (NumPy's matmul) and Numba's (the
``parallel=True`` kernels). After a parallel region, each pool's idle workers busy-wait
for a while in case more work comes (OpenBLAS for 2^28 cycles; OpenMP, Numba's default
layer, for ~300,000 spins). A training step alternates the two (GEMM, then a fused GELU
or softmax kernel, then a GEMM ...), so the idle workers of one pool spin on the cores
the other pool needs, and each pool runs at a fraction of its speed (a GEMM followed by
a GELU kernel took almost twice as long as the two apart; the measurements are in
``benchmarks/NOTES.md``).

So, unless the user set them already, tinynet sets before NumPy and Numba load:

* ``OPENBLAS_THREAD_TIMEOUT=4``: OpenBLAS workers spin 2^4 cycles, then sleep;
* ``NUMBA_THREADING_LAYER=workqueue``: Numba's own pool, whose workers sleep when idle.
  Not ``OMP_WAIT_POLICY=PASSIVE``: every OpenMP runtime in the process reads that one
  (PyTorch's too, whose small ops it slowed 1.5-2x). The workqueue layer must not be
  entered by two threads at once; tinynet's kernels hold the GIL while they run, so
  they cannot be.

An environment variable only acts on a pool that has not started: if NumPy was imported
before tinynet, OpenBLAS keeps its default (import tinynet first, or export the variable
in the shell). ``TINYNET_THREAD_TUNING=0`` leaves both alone. :func:`tuning` says what
happened.
"""
from __future__ import annotations

import os
import sys

SETTINGS = {"OPENBLAS_THREAD_TIMEOUT": "4", "NUMBA_THREADING_LAYER": "workqueue"}

_state: dict = {}


def quiet_idle_threads() -> dict:
    """Set :data:`SETTINGS` where the user has not; record which can still take effect."""
    if os.environ.get("TINYNET_THREAD_TUNING", "1") in ("0", "false", "no", "off"):
        _state.update({name: "left alone (TINYNET_THREAD_TUNING=0)" for name in SETTINGS})
        return dict(_state)
    started = {"OPENBLAS_THREAD_TIMEOUT": "numpy" in sys.modules,  # OpenBLAS reads it when NumPy loads
               "NUMBA_THREADING_LAYER": _numba_pool_started()}
    for name, value in SETTINGS.items():
        if name in os.environ:
            _state[name] = f"{os.environ[name]} (set by the user)"
        elif started[name]:
            _state[name] = "not set: its thread pool was loaded before tinynet"
        else:
            os.environ[name] = value
            _state[name] = value
            if name == "NUMBA_THREADING_LAYER" and "numba" in sys.modules:  # read at import: set it there too
                sys.modules["numba"].config.THREADING_LAYER = value
    return dict(_state)


def _numba_pool_started() -> bool:
    """True once Numba has chosen and launched its threading layer (then it is fixed)."""
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    return bool(parallel is not None and getattr(parallel, "_is_initialized", False))


def tuning() -> dict:
    """``{variable: what tinynet did}`` for the variables of :data:`SETTINGS`."""
    return dict(_state)
