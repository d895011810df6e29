"""im2col / col2im on the GPU (Numba CUDA), twins of ``kernels/cpu/conv.py``.

Same layout and math as the cpu kernels (see there): ``cols`` is (C*kh*kw, N*OH*OW),
rows ordered (c, i, j), columns (n, oh, ow); ``ph, pw`` are the top/left paddings.

* ``im2col``: one thread per entry of ``cols``. Consecutive threads take consecutive
  columns, so the writes coalesce and the reads walk along input rows.
* ``col2im``: one thread per input pixel, GATHERING the entries of ``cols`` that were
  copied from it: for kernel tap (i, j) the pixel (h, w) was read by output position
  ``oy = (h + ph - i*dh) / sh`` when that division is exact and in range (same for
  columns). No two threads write one pixel, so no atomics are needed and the sum
  order is fixed (deterministic).

Unlike the cpu ``col2im`` this one leaves ``cols`` untouched.
"""
from __future__ import annotations

from numba import cuda

from ._launch import THREADS, array_module, blocks_for, prepare, stream_for


@cuda.jit
def _im2col_kernel(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    t = cuda.grid(1)
    rows, m = cols.shape
    if t >= rows * m:
        return
    r = t // m
    col = t - r * m
    plane = oh * ow
    n = col // plane
    rest = col - n * plane
    y = rest // ow
    xo = rest - y * ow
    k = kh * kw
    c = r // k
    i = (r - c * k) // kw
    j = r - c * k - i * kw
    hh = y * sh - ph + i * dh
    ww = xo * sw - pw + j * dw
    if 0 <= hh < x.shape[2] and 0 <= ww < x.shape[3]:
        cols[r, col] = x[n, c, hh, ww]
    else:
        cols[r, col] = 0


@cuda.jit
def _col2im_kernel(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    t = cuda.grid(1)
    n_img, n_ch, h, w = x.shape
    if t >= n_img * n_ch * h * w:
        return
    xx = t % w
    rest = t // w
    yy = rest % h
    rest = rest // h
    c = rest % n_ch
    n = rest // n_ch
    k = kh * kw
    plane = oh * ow
    acc = cols[0, 0] * 0  # zero of the array's dtype
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
            acc += cols[c * k + i * kw + j, n * plane + oy * ow + ox]
    x[n, c, yy, xx] = acc


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Unroll the receptive fields of ``x`` (N, C, H, W) into ``cols`` (C*kh*kw, N*oh*ow)."""
    xp = array_module(x)
    x = prepare(x)
    n, c = x.shape[0], x.shape[1]
    cols = xp.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    if cols.size:
        _im2col_kernel[blocks_for(cols.size), THREADS, stream_for(x)](
            x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return cols


def col2im(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Adjoint of :func:`im2col`: sum ``cols`` (C*kh*kw, N*oh*ow) back into (N, C, H, W)."""
    xp = array_module(cols)
    cols = prepare(cols)
    x = xp.empty((n, c, h, w), dtype=cols.dtype)
    if x.size:
        if cols.size:
            _col2im_kernel[blocks_for(x.size), THREADS, stream_for(cols)](
                cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        else:
            x.fill(0)
    return x
