"""Pin every thread pool to ``--threads N`` before NumPy loads (imports nothing heavy itself)."""
from __future__ import annotations

import os


def pin_threads(argv):
    """Set the thread-count variables of OpenMP, OpenBLAS, MKL and Numba from ``--threads N``
    in ``argv``, and make idle OpenMP workers sleep; must run before NumPy is imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if "--threads" in argv:
        n = argv[argv.index("--threads") + 1]
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[var] = n


def limit_threads(n):
    """Limit the already loaded pools to ``n`` threads: BLAS (threadpoolctl, when installed),
    Numba (the variable, read when its pool starts) and PyTorch (when installed)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = str(n)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
