"""Fused row-wise softmax, log-softmax and cross-entropy kernels for the CPU (Numba).

Every kernel works on the rows of a C-contiguous 2-D array ``(rows, C)``: the class (or
feature) axis is the last one. The functional layer moves the softmax axis to the end
and reshapes to 2-D before calling (``tinynet/functional/activation.py``).

Math, per row ``x`` of length C (``m = max(x)`` keeps ``exp`` from overflowing):

* softmax            ``y_j = exp(x_j - m) / sum_k exp(x_k - m)``
* log_softmax        ``y_j = x_j - lse``, with ``lse = m + log(sum_k exp(x_k - m))``
* softmax backward   ``dx_j = y_j (g_j - sum_k g_k y_k)``        (y = softmax output)
* log_softmax bwd    ``dx_j = g_j - exp(y_j) sum_k g_k``          (y = log_softmax output)
* cross-entropy with class target t and label smoothing eps::

      loss = lse - (1 - eps) x_t - (eps / C) sum_k x_k
      dloss/dx_j = softmax_j - (1 - eps) [j == t] - eps / C

  rows whose target equals ``ignore_index`` get loss 0 and gradient 0.

Each row is computed by one ``@njit`` row function. Two drivers loop over the rows: a
serial one (``range``) and a parallel one (``prange``, rows split across cores). A
parallel launch costs tens of microseconds of thread wake-up (milliseconds when the
cores are busy with other work), so the public kernels use the serial driver for
small arrays and the parallel one from ``CPU_PARALLEL_MIN_ELEMENTS["softmax"]`` (``kernels/policy.py``) elements up.

float32 rows take loops whose ``exp`` is ``_vecmath.exp_nonpos`` (float64 arithmetic made
of +, * and selects, relative error ~3e-12; every exponent here is <= 0), which LLVM
vectorises; libm's ``exp`` cannot be vectorised without Intel SVML, and with it these
kernels lost to NumPy's SIMD exp at C = 65. float64 rows keep libm's ``exp``. Row sums
are compiled with ``fastmath={"reassoc", "contract", "nsz"}`` so they vectorise too.

The twins in ``kernels/cuda/softmax.py`` have the same names and signatures. Whether
tinynet calls these on "cpu" or plain NumPy is decided by measurement
(``benchmarks/bench_softmax_kernels.py``; see ``tinynet.functional.activation``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._vecmath import exp_nonpos



# --- one row each ----------------------------------------------------------------------
# ``fast`` (float32 input) selects loops whose exp is ``exp_nonpos`` (vectorisable, float64
# arithmetic; every exponent here is <= 0: x - max, or a log-probability); float64 input
# uses libm's exp. ``reassoc`` lets LLVM vectorise the row sums (it may add in a
# different order; nothing else about IEEE semantics changes: no nnan/ninf).
_FM = {"reassoc", "contract", "nsz"}


@njit(cache=True, fastmath=_FM)
def _row_max(x, i):
    # Start from the row's first element (callers never pass C = 0) so m keeps x's dtype.
    m = x[i, 0]
    for j in range(1, x.shape[1]):
        m = max(m, x[i, j])
    return m


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _softmax_row(x, y, i, fast):
    C = x.shape[1]
    m = _row_max(x, i)
    s = 0.0
    if fast:
        mm = np.float64(m)
        for j in range(C):
            y[i, j] = exp_nonpos(np.float64(x[i, j]) - mm)
        for j in range(C):
            s += y[i, j]
    else:
        for j in range(C):
            e = math.exp(x[i, j] - m)
            y[i, j] = e
            s += e
    inv = 1.0 / s
    for j in range(C):
        y[i, j] = y[i, j] * inv


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _log_softmax_row(x, y, i, fast):
    C = x.shape[1]
    m = _row_max(x, i)
    s = 0.0
    if fast:
        mm = np.float64(m)
        for j in range(C):
            s += exp_nonpos(np.float64(x[i, j]) - mm)
    else:
        for j in range(C):
            s += math.exp(x[i, j] - m)
    lse = m + math.log(s)
    for j in range(C):
        y[i, j] = x[i, j] - lse


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _softmax_backward_row(y, g, dx, i, fast):
    C = y.shape[1]
    dot = 0.0
    for j in range(C):
        dot += g[i, j] * y[i, j]
    for j in range(C):
        dx[i, j] = y[i, j] * (g[i, j] - dot)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _log_softmax_backward_row(y, g, dx, i, fast):
    C = y.shape[1]
    s = 0.0
    for j in range(C):
        s += g[i, j]
    if fast:
        for j in range(C):
            dx[i, j] = g[i, j] - exp_nonpos(np.float64(y[i, j])) * s
    else:
        for j in range(C):
            dx[i, j] = g[i, j] - math.exp(y[i, j]) * s


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _cross_entropy_row(x, target, ignore_index, label_smoothing, loss, lse_out, i, fast):
    C = x.shape[1]
    t = target[i]
    if t == ignore_index:
        loss[i] = 0.0
        lse_out[i] = 0.0
        return
    m = _row_max(x, i)
    mm = np.float64(m)
    s = 0.0
    total = 0.0  # sum of x - m
    if fast:
        for j in range(C):
            d = np.float64(x[i, j]) - mm
            s += exp_nonpos(d)
            total += d
    else:
        for j in range(C):
            d = x[i, j] - m
            s += math.exp(d)
            total += d
    log_s = math.log(s)
    lse_out[i] = mm + log_s
    # lse - (1 - eps) x_t - eps/C sum(x), written with x - m: no difference of large numbers.
    loss[i] = log_s - (1.0 - label_smoothing) * (x[i, t] - m) - (label_smoothing / C) * total


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _cross_entropy_backward_row(x, lse, target, scale, ignore_index, label_smoothing, dx, i, fast):
    C = x.shape[1]
    t = target[i]
    if t == ignore_index:
        for j in range(C):
            dx[i, j] = 0.0
        return
    sc = scale[i]
    spread = label_smoothing / C
    if fast:
        # exp(x - lse) with every exponent <= 0 (lse >= max x), in float64.
        for j in range(C):
            dx[i, j] = (exp_nonpos(np.float64(x[i, j]) - lse[i]) - spread) * sc
    else:
        for j in range(C):
            dx[i, j] = (math.exp(x[i, j] - lse[i]) - spread) * sc
    dx[i, t] -= (1.0 - label_smoothing) * sc


# --- drivers: serial and parallel loops over rows ----------------------------------------
@njit(cache=True)
def _softmax_s(x, y, fast):
    for i in range(x.shape[0]):
        _softmax_row(x, y, i, fast)


@njit(parallel=True, cache=True)
def _softmax_p(x, y, fast):
    for i in prange(x.shape[0]):
        _softmax_row(x, y, i, fast)


@njit(cache=True)
def _log_softmax_s(x, y, fast):
    for i in range(x.shape[0]):
        _log_softmax_row(x, y, i, fast)


@njit(parallel=True, cache=True)
def _log_softmax_p(x, y, fast):
    for i in prange(x.shape[0]):
        _log_softmax_row(x, y, i, fast)


@njit(cache=True)
def _softmax_backward_s(y, g, dx, fast):
    for i in range(y.shape[0]):
        _softmax_backward_row(y, g, dx, i, fast)


@njit(parallel=True, cache=True)
def _softmax_backward_p(y, g, dx, fast):
    for i in prange(y.shape[0]):
        _softmax_backward_row(y, g, dx, i, fast)


@njit(cache=True)
def _log_softmax_backward_s(y, g, dx, fast):
    for i in range(y.shape[0]):
        _log_softmax_backward_row(y, g, dx, i, fast)


@njit(parallel=True, cache=True)
def _log_softmax_backward_p(y, g, dx, fast):
    for i in prange(y.shape[0]):
        _log_softmax_backward_row(y, g, dx, i, fast)


@njit(cache=True)
def _cross_entropy_s(x, target, ignore_index, label_smoothing, loss, lse, fast):
    for i in range(x.shape[0]):
        _cross_entropy_row(x, target, ignore_index, label_smoothing, loss, lse, i, fast)


@njit(parallel=True, cache=True)
def _cross_entropy_p(x, target, ignore_index, label_smoothing, loss, lse, fast):
    for i in prange(x.shape[0]):
        _cross_entropy_row(x, target, ignore_index, label_smoothing, loss, lse, i, fast)


@njit(cache=True)
def _cross_entropy_backward_s(x, lse, target, scale, ignore_index, label_smoothing, dx, fast):
    for i in range(x.shape[0]):
        _cross_entropy_backward_row(x, lse, target, scale, ignore_index, label_smoothing, dx, i, fast)


@njit(parallel=True, cache=True)
def _cross_entropy_backward_p(x, lse, target, scale, ignore_index, label_smoothing, dx, fast):
    for i in prange(x.shape[0]):
        _cross_entropy_backward_row(x, lse, target, scale, ignore_index, label_smoothing, dx, i, fast)


def _big(a) -> bool:
    return a.size >= CPU_PARALLEL_MIN_ELEMENTS["softmax"]


def _fast(a) -> bool:
    """float32 rows take the vectorisable-exp loops (see the module docstring)."""
    return a.dtype == np.float32


def _c(a, dtype=None):
    """C-contiguous (and of ``dtype``): one compiled specialisation per dtype, no strided reads."""
    return np.ascontiguousarray(a, dtype=dtype)


# --- public kernels (same names and signatures as kernels/cuda/softmax.py) -------------
def softmax_forward(x):
    """Softmax of each row of ``x`` (rows, C)."""
    x = _c(x)
    y = np.empty_like(x)
    (_softmax_p if _big(x) else _softmax_s)(x, y, _fast(x))
    return y


def log_softmax_forward(x):
    """Log-softmax of each row of ``x`` (rows, C): ``x - logsumexp(x)``."""
    x = _c(x)
    y = np.empty_like(x)
    (_log_softmax_p if _big(x) else _log_softmax_s)(x, y, _fast(x))
    return y


def softmax_backward(y, g):
    """Gradient of softmax: ``y * (g - sum(g * y))`` per row (y = softmax output)."""
    y = _c(y)
    g = _c(g, y.dtype)
    dx = np.empty_like(y)
    (_softmax_backward_p if _big(y) else _softmax_backward_s)(y, g, dx, _fast(y))
    return dx


def log_softmax_backward(y, g):
    """Gradient of log-softmax: ``g - exp(y) * sum(g)`` per row (y = log_softmax output)."""
    y = _c(y)
    g = _c(g, y.dtype)
    dx = np.empty_like(y)
    (_log_softmax_backward_p if _big(y) else _log_softmax_backward_s)(y, g, dx, _fast(y))
    return dx


def cross_entropy_forward(x, target, ignore_index, label_smoothing):
    """Per-row cross-entropy of logits ``x`` (rows, C) with class indices ``target`` (rows,).

    Returns ``(loss, lse)``, both (rows,): each row's loss in x's dtype (0 where the
    target is ``ignore_index``) and its log-sum-exp in float64, kept for the backward
    (``exp(x - lse)`` with a float32 lse of a row of logits near 1e4 would be off by
    ~1e-3 relative). Targets must already be checked to lie in [0, C) (the functional
    op does that).
    """
    x = _c(x)
    target = _c(target, np.int64)
    loss = np.empty(x.shape[0], dtype=x.dtype)
    lse = np.empty(x.shape[0], dtype=np.float64)
    (_cross_entropy_p if _big(x) else _cross_entropy_s)(x, target, int(ignore_index), float(label_smoothing), loss, lse,
                                                      _fast(x))
    return loss, lse


def cross_entropy_backward(x, lse, target, scale, ignore_index, label_smoothing):
    """Gradient of the per-row cross-entropy, each row multiplied by ``scale[row]``.

    ``dx[i, j] = (exp(x[i, j] - lse[i]) - (1 - eps) [j == t_i] - eps / C) * scale[i]``;
    rows whose target is ``ignore_index`` get zeros. ``scale`` carries the incoming
    gradient and the reduction (1/count for "mean").
    """
    x = _c(x)
    lse = _c(lse, np.float64)
    target = _c(target, np.int64)
    scale = _c(scale, x.dtype)
    dx = np.empty_like(x)
    (_cross_entropy_backward_p if _big(x) else _cross_entropy_backward_s)(
        x, lse, target, scale, int(ignore_index), float(label_smoothing), dx, _fast(x))
    return dx
