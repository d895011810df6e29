"""Max and average pooling on the GPU (Numba CUDA), twins of ``kernels/cpu/pooling.py``.

Forward kernels use one thread per output cell. The backward kernels use one thread per
INPUT pixel and gather the output cells whose window covers it (for tap ``i`` the cell
``oy = (h + ph - i*dh) / sh`` when exact and in range), so no two threads write one
pixel: no atomics, and a fixed summation order. For max pooling a pixel takes a cell's
gradient only when it is that cell's recorded winner (``idx``).

Same argument conventions and divisor rule (PyTorch's) as the cpu kernels.
"""
from __future__ import annotations


import numpy as np
from numba import cuda

from ..pool_window import avg_divisor, max_window
from ._launch import THREADS, array_module, blocks_for, prepare, stream_for


_avg_divisor = cuda.jit(device=True, inline=True)(avg_divisor)
_max_window = cuda.jit(device=True, inline=True)(max_window)


@cuda.jit
def _max_forward_kernel(x, y, idx, kh, kw, sh, sw, ph, pw, dh, dw):
    t = cuda.grid(1)
    planes, oh, ow = y.shape
    h, w = x.shape[1], x.shape[2]
    if t >= planes * oh * ow:
        return
    ox = t % ow
    oy = (t // ow) % oh
    p = t // (ow * oh)
    y[p, oy, ox], idx[p, oy, ox] = _max_window(x, p, oy, ox, h, w, kh, kw, sh, sw, ph, pw, dh, dw)


@cuda.jit
def _max_backward_kernel(g, idx, dx, kh, kw, sh, sw, ph, pw, dh, dw):
    t = cuda.grid(1)
    planes, h, w = dx.shape
    oh, ow = g.shape[1], g.shape[2]
    if t >= planes * h * w:
        return
    xx = t % w
    yy = (t // w) % h
    p = t // (w * h)
    me = yy * w + xx
    acc = g[0, 0, 0] * 0
    for i in range(kh):
        a = yy + ph - i * dh
        if a < 0 or a % sh != 0:
            continue
        oy = a // sh
        if oy >= oh:
            continue
        for j in range(kw):
            b = xx + pw - j * dw
            if b < 0 or b % sw != 0:
                continue
            ox = b // sw
            if ox >= ow:
                continue
            if idx[p, oy, ox] == me:
                acc += g[p, oy, ox]
    dx[p, yy, xx] = acc


@cuda.jit
def _avg_forward_kernel(x, y, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    t = cuda.grid(1)
    planes, oh, ow = y.shape
    h, w = x.shape[1], x.shape[2]
    if t >= planes * oh * ow:
        return
    ox = t % ow
    oy = (t // ow) % oh
    p = t // (ow * oh)
    hs = max(oy * sh - ph, 0)
    he = min(oy * sh - ph + kh, h)
    ws = max(ox * sw - pw, 0)
    we = min(ox * sw - pw + kw, w)
    s = x[0, 0, 0] * 0
    for hh in range(hs, he):
        for ww in range(ws, we):
            s += x[p, hh, ww]
    div = _avg_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override)
    if div > 0:
        y[p, oy, ox] = s / div
    else:
        y[p, oy, ox] = 0


@cuda.jit
def _avg_backward_kernel(g, dx, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    t = cuda.grid(1)
    planes, h, w = dx.shape
    oh, ow = g.shape[1], g.shape[2]
    if t >= planes * h * w:
        return
    xx = t % w
    yy = (t // w) % h
    p = t // (w * h)
    acc = g[0, 0, 0] * 0
    # cells whose window [oy*sh - ph, oy*sh - ph + kh) contains yy (likewise for columns)
    for i in range(kh):
        a = yy + ph - i
        if a < 0 or a % sh != 0:
            continue
        oy = a // sh
        if oy >= oh:
            continue
        for j in range(kw):
            b = xx + pw - j
            if b < 0 or b % sw != 0:
                continue
            ox = b // sw
            if ox >= ow:
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
    if y.size:
        _max_forward_kernel[blocks_for(y.size), THREADS, stream_for(x)](
            x.reshape(n * c, h, w), y.reshape(n * c, oh, ow), idx.reshape(n * c, oh, ow),
            kh, kw, sh, sw, ph, pw, dh, dw)
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
    if dx.size:
        _max_backward_kernel[blocks_for(dx.size), THREADS, stream_for(g)](
            g.reshape(n * c, oh, ow), idx.reshape(n * c, oh, ow), dx.reshape(n * c, h, w),
            kh, kw, sh, sw, ph, pw, dh, dw)
    return dx


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override):
    """Average pooling of ``x`` (N, C, H, W) into (N, C, oh, ow); ``divisor_override`` 0 = none."""
    xp = array_module(x)
    x = prepare(x)
    n, c, h, w = x.shape
    y = xp.empty((n, c, oh, ow), dtype=x.dtype)
    if y.size:
        _avg_forward_kernel[blocks_for(y.size), THREADS, stream_for(x)](
            x.reshape(n * c, h, w), y.reshape(n * c, oh, ow), kh, kw, sh, sw, ph, pw,
            bool(count_include_pad), int(divisor_override))
    return y


def avg_pool2d_backward(g, h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override):
    """Gradient of :func:`avg_pool2d_forward`: spread ``g`` (N, C, oh, ow) over each window."""
    xp = array_module(g)
    g = prepare(g)
    n, c = g.shape[0], g.shape[1]
    dx = xp.empty((n, c, h, w), dtype=g.dtype)
    if dx.size:
        _avg_backward_kernel[blocks_for(dx.size), THREADS, stream_for(g)](
            g.reshape(n * c, oh, ow), dx.reshape(n * c, h, w), kh, kw, sh, sw, ph, pw,
            bool(count_include_pad), int(divisor_override))
    return dx
