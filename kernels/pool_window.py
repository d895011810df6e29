"""Pooling's per-window math, written once as plain Python for both devices.

Pooling slides a ``kh x kw`` window (stride ``sh, sw``, top/left padding ``ph, pw``,
dilation ``dh, dw`` for max pooling) over every plane ``p`` of ``x`` (planes, H, W)::

    max:  y[p, oy, ox] = max over the window,  idx[p, oy, ox] = h*W + w of the (first) max
    avg:  y[p, oy, ox] = sum over the window / divisor

The index arithmetic of the window is the one convolution uses (``kernels/im2col_index.py``):
output ``oy`` covers input rows ``oy*sh - ph + i*dh`` for taps ``i < kh``.

``kernels/cpu/pooling.py`` compiles these with ``numba.njit`` (inlined into its loops over
planes) and ``kernels/cuda/pooling.py`` with ``numba.cuda.jit(device=True)`` (one GPU
thread per output), so the window rules cannot drift apart between the devices. Each
function is a leaf (it calls no other function of this module): Numba compiles a call to
plain Python as an error, so the device files combine them.
"""
import math


def max_window(x, p, oy, ox, h, w, kh, kw, sh, sw, ph, pw, dh, dw):
    """(max, flat index h*W + w of the first max) of output (oy, ox)'s window in plane p.

    Padding cells never win; a NaN wins (as in PyTorch, so NaNs are not silently dropped);
    (-inf, -1) for a window with no real pixel.
    """
    best = -math.inf
    arg = -1
    for i in range(kh):
        hh = oy * sh - ph + i * dh
        if hh < 0 or hh >= h:
            continue
        for j in range(kw):
            ww = ox * sw - pw + j * dw
            if ww < 0 or ww >= w:
                continue
            v = x[p, hh, ww]
            if v > best or arg < 0 or (v != v and best == best):
                best = v
                arg = hh * w + ww
    return best, arg


def avg_window(x, p, oy, ox, h, w, kh, kw, sh, sw, ph, pw, divisor):
    """The mean of output (oy, ox)'s window in plane p: the sum of the real pixels it covers
    (accumulated in float64; padding adds zeros) over ``divisor`` (:func:`avg_divisor`);
    0 when the divisor is not positive."""
    if divisor <= 0:
        return 0.0
    hs = oy * sh - ph
    ws = ox * sw - pw
    s = 0.0
    for hh in range(max(hs, 0), min(hs + kh, h)):
        for ww in range(max(ws, 0), min(ws + kw, w)):
            s += x[p, hh, ww]
    return s / divisor


def avg_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    """The number an average-pooling window's sum is divided by (PyTorch's rule): with
    ``count_include_pad`` the window clipped to the padded input (so a window hanging past
    the padding in ``ceil_mode`` counts fewer cells), else the real pixels it covers; a
    non-zero ``divisor_override`` replaces both."""
    if divisor_override != 0:
        return divisor_override
    hs = oy * sh - ph
    ws = ox * sw - pw
    he = min(hs + kh, h + ph)
    we = min(ws + kw, w + pw)
    if count_include_pad:
        return (he - hs) * (we - ws)
    hs = max(hs, 0)
    ws = max(ws, 0)
    he = min(he, h)
    we = min(we, w)
    return max(he - hs, 0) * max(we - ws, 0)
