"""Pooling's per-window math, written once as plain Python for both devices.

``kernels/cpu/pooling.py`` compiles these with ``numba.njit`` (inlined into its loops over
planes) and ``kernels/cuda/pooling.py`` with ``numba.cuda.jit(device=True)`` (one GPU
thread per output), so the window rules cannot drift apart between the devices.
"""
import math


def max_window(x, p, oy, ox, h, w, kh, kw, sh, sw, ph, pw, dh, dw):
    """(max, flat index h*W + w of the first max) of output (oy, ox)'s window in plane p.

    Padding cells never win; a NaN wins (as in PyTorch); (-inf, -1) for a window with no
    real pixel.
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


def avg_divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    """The number an average-pooling window's sum is divided by (PyTorch's rule): with
    ``count_include_pad`` the window clipped to the padded input, else the real pixels it
    covers; a non-zero ``divisor_override`` replaces both."""
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
