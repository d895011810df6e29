"""Max and average pooling on the GPU (Numba CUDA), twins of ``kernels/cpu/pooling.py``.

The window math is the shared ``kernels/pool_window.py`` (PyTorch's rules, see there) and
the index arithmetic the shared ``kernels/im2col_index.py``. Forward kernels use one
thread per output cell. The backward kernels use one thread per INPUT pixel and gather the
output cells whose window covers it (along each axis, the output ``reading_output`` names
for each tap), so no two threads write one pixel: no atomics, and a fixed summation
order. For max pooling a pixel takes a cell's gradient only when it is that cell's
recorded winner (``idx``).

Same argument conventions and input handling as the cpu kernels: the inputs are converted
to C-contiguous arrays (``idx`` to int64; a copy only when needed) and the results are new
arrays.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from ..im2col_index import reading_output, unravel
from ..pool_window import avg_divisor, avg_window, max_window
from ._launch import array_module, launch, prepare

_avg_divisor = cuda.jit(device=True)(avg_divisor)
_avg_window = cuda.jit(device=True)(avg_window)
_max_window = cuda.jit(device=True)(max_window)
_reading_output = cuda.jit(device=True)(reading_output)
_unravel = cuda.jit(device=True)(unravel)


@cuda.jit
def _max_forward_kernel(x, y, idx, kh, kw, sh, sw, ph, pw, dh, dw):
    t = cuda.grid(1)
    if t < y.size:
        p, oy, ox = _unravel(t, y.shape[1], y.shape[2])
        y[p, oy, ox], idx[p, oy, ox] = _max_window(x, p, oy, ox, x.shape[1], x.shape[2], kh, kw, sh, sw, ph, pw,
                                                   dh, dw)


@cuda.jit
def _max_backward_kernel(g, idx, dx, kh, kw, sh, sw, ph, pw, dh, dw):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    p, yy, xx = _unravel(t, dx.shape[1], dx.shape[2])
    me = yy * dx.shape[2] + xx
    acc = g[0, 0, 0] * 0
    for i in range(kh):
        oy = _reading_output(yy, sh, i * dh - ph, g.shape[1])
        if oy < 0:
            continue
        for j in range(kw):
            ox = _reading_output(xx, sw, j * dw - pw, g.shape[2])
            if ox >= 0 and idx[p, oy, ox] == me:
                acc += g[p, oy, ox]
    dx[p, yy, xx] = acc


@cuda.jit
def _avg_forward_kernel(x, y, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    t = cuda.grid(1)
    if t < y.size:
        p, oy, ox = _unravel(t, y.shape[1], y.shape[2])
        h, w = x.shape[1], x.shape[2]
        div = _avg_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override)
        y[p, oy, ox] = _avg_window(x, p, oy, ox, h, w, kh, kw, sh, sw, ph, pw, div)


@cuda.jit
def _avg_backward_kernel(g, dx, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    t = cuda.grid(1)
    if t >= dx.size:
        return
    h, w = dx.shape[1], dx.shape[2]
    p, yy, xx = _unravel(t, h, w)
    acc = 0.0
    for i in range(kh):
        oy = _reading_output(yy, sh, i - ph, g.shape[1])
        if oy < 0:
            continue
        for j in range(kw):
            ox = _reading_output(xx, sw, j - pw, g.shape[2])
            if ox < 0:
                continue
            div = _avg_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override)
            if div > 0:
                acc += g[p, oy, ox] / div
    dx[p, yy, xx] = acc


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Max pooling of ``x`` (N, C, H, W): returns ``(y, idx)`` (see the cpu kernel)."""
    xp = array_module(x)
    x = prepare(x)
    n, c, h, w = x.shape
    y = xp.empty((n, c, oh, ow), dtype=x.dtype)
    idx = xp.empty((n, c, oh, ow), dtype=np.int64)
    launch(_max_forward_kernel, y.size, x, x.reshape(n * c, h, w), y.reshape(n * c, oh, ow),
           idx.reshape(n * c, oh, ow), kh, kw, sh, sw, ph, pw, dh, dw)
    return y, idx


def max_pool2d_backward(g, idx, h, w, kh, kw, sh, sw, ph, pw, dh, dw):
    """Route ``g`` (N, C, oh, ow) to the winning pixels ``idx``: returns dx (N, C, h, w).

    Each pixel gathers from the cells whose window (this geometry) covers it.
    """
    xp = array_module(g)
    g = prepare(g)
    idx = prepare(idx, np.int64)
    n, c, oh, ow = g.shape
    dx = xp.empty((n, c, h, w), dtype=g.dtype)
    if g.size:
        launch(_max_backward_kernel, dx.size, g, g.reshape(n * c, oh, ow), idx.reshape(n * c, oh, ow),
               dx.reshape(n * c, h, w), kh, kw, sh, sw, ph, pw, dh, dw)
    else:
        dx.fill(0)
    return dx


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override):
    """Average pooling of ``x`` (N, C, H, W) into (N, C, oh, ow); ``divisor_override`` 0 = none."""
    xp = array_module(x)
    x = prepare(x)
    n, c, h, w = x.shape
    y = xp.empty((n, c, oh, ow), dtype=x.dtype)
    launch(_avg_forward_kernel, y.size, x, x.reshape(n * c, h, w), y.reshape(n * c, oh, ow), kh, kw, sh, sw, ph, pw,
           bool(count_include_pad), int(divisor_override))
    return y


def avg_pool2d_backward(g, h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override):
    """Gradient of :func:`avg_pool2d_forward`: spread ``g`` (N, C, oh, ow) over each window."""
    xp = array_module(g)
    g = prepare(g)
    n, c = g.shape[0], g.shape[1]
    dx = xp.empty((n, c, h, w), dtype=g.dtype)
    launch(_avg_backward_kernel, dx.size, g, g.reshape(n * c, oh, ow), dx.reshape(n * c, h, w), kh, kw, sh, sw, ph,
           pw, bool(count_include_pad), int(divisor_override))
    return dx
