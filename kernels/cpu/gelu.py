"""GELU and erf kernels for the CPU (Numba): one pass over the elements each.

NumPy has no ``erf``, and GELU written with NumPy ufuncs takes 4-8 passes over memory
(forward) and more for the gradient; these fuse each into one loop.

* ``erf(x)`` (libm)
* ``gelu_forward(x, tanh_approx)``: GELU, exact or the tanh approximation
* ``gelu_forward(x, tanh_approx, with_grad=True)``: ``(y, GELU'(x))`` in one pass, so a
  training step's backward is one multiply
* ``gelu_backward(x, g, tanh_approx)``: ``g * GELU'(x)``

The math of one element (formulas in ``kernels/gelu_math.py``) is shared with the twins
in ``kernels/cuda/gelu.py``; this module compiles it twice. float64 input uses libm's
``erfc``/``exp`` (correctly rounded to ~1 ulp), one scalar call per element, which LLVM
cannot vectorise (no vector math library without Intel SVML). float32 input binds
``_vecmath.erfc32`` and ``_vecmath.exp32``: float32 polynomials that LLVM turns into SIMD
code (16 lanes with AVX-512), reading their float64 arguments (``-v / sqrt 2``,
``-v^2 / 2``: the formulas' constants are float64) as exact, so the tails keep their
digits. Against the float64 libm path (``tests/test_vecmath_f32.py``), wherever the gate
(Phi(v), or the sigmoid) is a normal float32, i.e. v > -12.9 (exact) or v > -10 (tanh):
GELU within 4 ulp, GELU' within 4 ulp of max(|GELU'|, gate) (GELU' crosses zero near
v = -0.75, where no float32 formula keeps its relative digits). The float32 loops are
compiled with fused multiply-adds (``contract``).

Serial loop for small arrays, ``prange`` from ``CPU_PARALLEL_MIN_ELEMENTS["gelu"]`` up
(``kernels/policy.py``): a parallel launch costs tens of microseconds.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .. import gelu_math
from .._math_module import compile_math
from ..gelu_math import gelu, gelu_and_grad, gelu_grad
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel
from ._vecmath import erfc32, exp32

# Inlined into the loops below (a call per element would stop them vectorising).
_compile_element = njit(cache=True, inline="always", error_model="numpy")
_GELU_LIBM = compile_math(gelu_math, _compile_element, "libm")
_GELU_VECTOR_MATH = compile_math(gelu_math, _compile_element, "vector_math", exp=exp32, erfc=erfc32)
# Fused multiply-adds for the float32 loops' polynomials (half the instructions, and each
# rounds once instead of twice); no other fast-math liberty.
_CONTRACT = {"contract"}


# --- the loops over the elements: each calls the math it names, bound to one compilation ---
def _erf_loop(x, y):
    for i in prange(x.size):
        y[i] = math.erf(x[i])


def _gelu_loop(x, tanh_approx, y):
    for i in prange(x.size):
        y[i] = gelu(np.float64(x[i]), tanh_approx)


def _gelu_backward_loop(x, g, tanh_approx, dx):
    for i in prange(x.size):
        dx[i] = g[i] * gelu_grad(np.float64(x[i]), tanh_approx)


def _gelu_and_grad_loop(x, tanh_approx, y, d):
    for i in prange(x.size):
        y[i], d[i] = gelu_and_grad(np.float64(x[i]), tanh_approx)


def _compile_loop(body):
    """``loops[uses_vector_math][runs_parallel]``: ``body`` with its GELU math from the
    libm or the vectorisable compilation, serial or parallel."""
    return (serial_and_parallel(body, _GELU_LIBM, error_model="numpy"),
            serial_and_parallel(body, _GELU_VECTOR_MATH, error_model="numpy", fastmath=_CONTRACT))


_ERF = serial_and_parallel(_erf_loop)
_GELU = _compile_loop(_gelu_loop)
_GELU_BACKWARD = _compile_loop(_gelu_backward_loop)
_GELU_FG = _compile_loop(_gelu_and_grad_loop)  # forward and gradient (a test reaches in by this name)


def _flat(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def _runs_parallel(flat):
    return flat.size >= CPU_PARALLEL_MIN_ELEMENTS["gelu"]


def _loop(loops, flat):
    """The loop for ``flat``: vectorisable math for float32, parallel from the policy's size."""
    return loops[flat.dtype == np.float32][_runs_parallel(flat)]


# --- public kernels (same names and signatures as kernels/cuda/gelu.py) ----------------
def erf(x):
    """The error function, elementwise (libm)."""
    flat = _flat(x)
    y = np.empty_like(flat)
    _ERF[_runs_parallel(flat)](flat, y)
    return y.reshape(np.shape(x))


def gelu_forward(x, tanh_approx, with_grad=False):
    """GELU of every element (exact, or the tanh approximation).

    ``with_grad=True`` returns ``(y, dy/dx)`` from the same pass: the derivative shares
    Phi (or the sigmoid) with the value, so saving it for the backward costs one more
    ``exp`` per element here instead of a second full pass (and a second Phi) there.
    """
    flat = _flat(x)
    y = np.empty_like(flat)
    if with_grad:
        d = np.empty_like(flat)
        _loop(_GELU_FG, flat)(flat, bool(tanh_approx), y, d)
        return y.reshape(np.shape(x)), d.reshape(np.shape(x))
    _loop(_GELU, flat)(flat, bool(tanh_approx), y)
    return y.reshape(np.shape(x))


def gelu_backward(x, g, tanh_approx):
    """``g * GELU'(x)`` elementwise."""
    flat = _flat(x)
    gf = _flat(g, flat.dtype)
    dx = np.empty_like(flat)
    _loop(_GELU_BACKWARD, flat)(flat, gf, bool(tanh_approx), dx)
    return dx.reshape(np.shape(x))
