"""Matrix products callable from compiled CPU loops, through NumPy's own BLAS.

Inside ``numba.njit`` code ``np.dot`` calls the BLAS that SciPy ships, which need not be the
one NumPy uses: SciPy's and NumPy's wheels each bundle their own OpenBLAS build, and on the
small products of a recurrent step (a (20, 200) x (200, 800) GEMM) SciPy's was markedly
slower here (figures in benchmarks/NOTES.md), a loss a loop running a layer's time steps in
compiled code would pay on every step. So
this module looks NumPy's ``cblas_?gemm`` up in NumPy's extension module (the dynamic
loader searches the libraries it links), registers its address with LLVM under a name of
ours, and declares it to Numba as an external function: compiled code calls it directly,
and Numba's disk cache stays valid (the call is by name, resolved when the code is loaded).
Where no such symbol is found (a NumPy built against another BLAS under another name, or a
platform whose loader does not search dependencies) ``gemm_*`` are the ``np.dot`` versions
``dot_*`` (always defined, so the tests check both against NumPy).

``gemm_nt(a, b, out)``: ``out = a @ b.T``; ``gemm_nn(a, b, out)``: ``out = a @ b``. Every
array 2-D, C-contiguous, one float dtype (float32 or float64); nothing is allocated, so
loops compiled without Numba's reference counting (``_nrt=False``) can call them.
``BINDING`` names what was found (``"numpy_<symbol>"`` or ``"numba_np_dot"``); loops that
call these carry it in their names, so a cached compilation never outlives the binding.
"""
from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

try:  # NumPy's C core, which links NumPy's BLAS (a private module: a NumPy that moves it gets np.dot)
    from numpy._core import _multiarray_umath as _numpy_core
except ImportError:
    _numpy_core = None

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

#: (single-precision symbol, double-precision symbol, integer type) in the order tried:
#: NumPy's own wheels (64-bit integer interface, prefixed names), then plain CBLAS names.
_CANDIDATES = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", types.int64),
               ("cblas_sgemm64_", "cblas_dgemm64_", types.int64),
               ("cblas_sgemm", "cblas_dgemm", types.int32))


def _find_numpy_gemm():
    """``(sgemm, dgemm, symbol)`` as Numba external functions, or None."""
    try:
        lib = ctypes.CDLL(_numpy_core.__file__)
    except (AttributeError, OSError):  # no core module found, or a loader that cannot open it
        return None
    for single, double, integer in _CANDIDATES:
        try:
            addresses = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value for name in (single, double)]
        except AttributeError:
            continue
        externals = []
        for name, address, real in zip((single, double), addresses, (types.float32, types.float64)):
            ours = f"tinynet_numpy_{name}"
            llvm.add_symbol(ours, address)
            signature = types.void(types.int32, types.int32, types.int32, integer, integer, integer, real,
                                   types.voidptr, integer, types.voidptr, integer, real, types.voidptr, integer)
            externals.append(types.ExternalFunction(ours, signature))
        return externals[0], externals[1], single
    return None


@njit(inline="always")
def dot_nt(a, b, out):
    """out = a @ b.T through ``np.dot`` (SciPy's BLAS): the fallback."""
    np.dot(a, b.T, out)


@njit(inline="always")
def dot_nn(a, b, out):
    """out = a @ b through ``np.dot`` (SciPy's BLAS): the fallback."""
    np.dot(a, b, out)


_FOUND = _find_numpy_gemm()

if _FOUND is None:
    BINDING = "numba_np_dot"
    gemm_nt, gemm_nn = dot_nt, dot_nn
else:
    _sgemm, _dgemm, _symbol = _FOUND
    BINDING = f"numpy_{_symbol}"

    @njit(inline="always")
    def _gemm(a, b, out, trans_b):
        """out = a @ op(b) in row-major CBLAS terms (leading dimensions at least 1)."""
        m, k = a.shape
        n = out.shape[1]
        if m == 0 or n == 0:
            return
        if k == 0:
            out[:] = 0.0
            return
        ldb = max(b.shape[1], 1)
        flag = _TRANS if trans_b else _NO_TRANS
        if a.itemsize == 4:
            _sgemm(_ROW_MAJOR, _NO_TRANS, flag, m, n, k, 1.0, a.ctypes, k, b.ctypes, ldb, 0.0, out.ctypes, n)
        else:
            _dgemm(_ROW_MAJOR, _NO_TRANS, flag, m, n, k, 1.0, a.ctypes, k, b.ctypes, ldb, 0.0, out.ctypes, n)

    @njit(inline="always")
    def gemm_nt(a, b, out):
        """out = a @ b.T through NumPy's BLAS."""
        _gemm(a, b, out, True)

    @njit(inline="always")
    def gemm_nn(a, b, out):
        """out = a @ b through NumPy's BLAS."""
        _gemm(a, b, out, False)
