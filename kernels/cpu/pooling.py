"""Max and average pooling on the CPU (Numba, parallel over (image, channel) planes).

The window math (PyTorch's rules: which pixels a window covers, NaN wins the max, the
average's divisor) is written once in ``kernels/pool_window.py`` and shared with the cuda
twin; see there for the formulas. What is cpu-only here is the order of the work: each
thread owns whole planes, so the backward passes scatter — max pooling sends each output
gradient to the pixel that won (``idx``), average pooling spreads it evenly over the
window — without two threads ever adding into one pixel. Small inputs run the serial
loops (``kernels/policy.py``).

Input handling, the same on both devices: the inputs are converted to C-contiguous arrays
(``idx`` to int64; a copy only when needed) and the results are new arrays.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..pool_window import avg_divisor, avg_window, max_window
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel

_avg_divisor = njit(cache=True, inline="always")(avg_divisor)
_avg_window = njit(cache=True, inline="always")(avg_window)
_max_window = njit(cache=True, inline="always")(max_window)


def _max_forward_body(x, y, idx, kh, kw, sh, sw, ph, pw, dh, dw):
    planes, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in prange(planes):
        for oy in range(oh):
            for ox in range(ow):
                y[p, oy, ox], idx[p, oy, ox] = _max_window(x, p, oy, ox, h, w, kh, kw, sh, sw, ph, pw, dh, dw)


_max_forward = serial_and_parallel(_max_forward_body)  # (serial, parallel)


def _max2x2_body(x, y, idx):
    # kernel 2, stride 2, no padding, windows inside the image (W2's pooling): the taps are
    # unrolled, so the compare-selects (max_window's rule, written with bitwise operators)
    # compile to conditional moves. With the window size only known at run time (above) the
    # same comparisons are branches that random data mispredicts half the time, an order of
    # magnitude slower.
    planes, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in prange(planes):
        for oy in range(oh):
            r0 = 2 * oy
            r1 = r0 + 1
            for ox in range(ow):
                c0 = 2 * ox
                b = x[p, r0, c0]
                k = r0 * w + c0
                v = x[p, r0, c0 + 1]
                t = (v > b) | ((v != v) & (b == b))
                b = v if t else b
                k = r0 * w + c0 + 1 if t else k
                v = x[p, r1, c0]
                t = (v > b) | ((v != v) & (b == b))
                b = v if t else b
                k = r1 * w + c0 if t else k
                v = x[p, r1, c0 + 1]
                t = (v > b) | ((v != v) & (b == b))
                b = v if t else b
                k = r1 * w + c0 + 1 if t else k
                y[p, oy, ox] = b
                idx[p, oy, ox] = k


_max2x2 = serial_and_parallel(_max2x2_body)  # (serial, parallel)


def _max_backward_body(g, idx, dx):
    planes, oh, ow = g.shape
    hw = dx.shape[1]
    for p in prange(planes):
        d = dx[p]
        for q in range(hw):
            d[q] = 0
        gp = g[p]
        ip = idx[p]
        for oy in range(oh):
            for ox in range(ow):
                k = ip[oy, ox]
                if k >= 0:
                    d[k] += gp[oy, ox]


_max_backward = serial_and_parallel(_max_backward_body)  # (serial, parallel)


def _avg_forward_body(x, y, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    planes, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in prange(planes):
        for oy in range(oh):
            for ox in range(ow):
                div = _avg_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override)
                y[p, oy, ox] = _avg_window(x, p, oy, ox, h, w, kh, kw, sh, sw, ph, pw, div)


_avg_forward = serial_and_parallel(_avg_forward_body)  # (serial, parallel)


def _avg_backward_body(g, dx, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    planes, oh, ow = g.shape
    h, w = dx.shape[1], dx.shape[2]
    for p in prange(planes):
        d = dx[p]
        for hh in range(h):
            for ww in range(w):
                d[hh, ww] = 0
        gp = g[p]
        for oy in range(oh):
            hs = oy * sh - ph
            for ox in range(ow):
                div = _avg_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override)
                if div <= 0:
                    continue
                ws = ox * sw - pw
                v = gp[oy, ox] / div
                for hh in range(max(hs, 0), min(hs + kh, h)):     # the window's real pixels
                    for ww in range(max(ws, 0), min(ws + kw, w)):
                        d[hh, ww] += v


_avg_backward = serial_and_parallel(_avg_backward_body)  # (serial, parallel)


def _pick(pair, size):
    return pair[1] if size >= CPU_PARALLEL_MIN_ELEMENTS["pooling"] else pair[0]


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Max pooling of ``x`` (N, C, H, W): returns ``(y, idx)``, both (N, C, oh, ow).

    ``idx`` (int64) is the flat position ``h*W + w`` of each window's maximum inside its
    plane (PyTorch's ``return_indices`` convention), −1 for a window with no real pixel.
    """
    x = np.ascontiguousarray(x)
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    if y.size:
        planes = (x.reshape(n * c, h, w), y.reshape(n * c, oh, ow), idx.reshape(n * c, oh, ow))
        if (kh, kw, sh, sw, ph, pw, dh, dw) == (2, 2, 2, 2, 0, 0, 1, 1) and 2 * oh <= h and 2 * ow <= w:
            _pick(_max2x2, x.size)(*planes)
        else:
            _pick(_max_forward, x.size)(*planes, kh, kw, sh, sw, ph, pw, dh, dw)
    return y, idx


def max_pool2d_backward(g, idx, h, w, kh, kw, sh, sw, ph, pw, dh, dw):
    """Scatter-add ``g`` (N, C, oh, ow) to the winning pixels ``idx``: returns dx (N, C, h, w).

    The window geometry is not needed here (``idx`` says where each gradient goes); it is
    part of the signature because the cuda twin gathers per pixel and needs it.
    """
    g = np.ascontiguousarray(g)
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    n, c, oh, ow = g.shape
    dx = np.empty((n, c, h, w), dtype=g.dtype)
    if dx.size:
        _pick(_max_backward, dx.size)(g.reshape(n * c, oh, ow), idx.reshape(n * c, oh, ow), dx.reshape(n * c, h * w))
    return dx


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override):
    """Average pooling of ``x`` (N, C, H, W) into (N, C, oh, ow); ``divisor_override`` 0 = none."""
    x = np.ascontiguousarray(x)
    n, c, h, w = x.shape
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    if y.size:
        _pick(_avg_forward, x.size)(x.reshape(n * c, h, w), y.reshape(n * c, oh, ow), kh, kw, sh, sw, ph, pw,
                                    bool(count_include_pad), int(divisor_override))
    return y


def avg_pool2d_backward(g, h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override):
    """Gradient of :func:`avg_pool2d_forward`: spread ``g`` (N, C, oh, ow) over each window."""
    g = np.ascontiguousarray(g)
    n, c = g.shape[0], g.shape[1]
    dx = np.empty((n, c, h, w), dtype=g.dtype)
    if dx.size:
        _pick(_avg_backward, dx.size)(g.reshape(n * c, oh, ow), dx.reshape(n * c, h, w), kh, kw, sh, sw, ph, pw,
                                      bool(count_include_pad), int(divisor_override))
    return dx
