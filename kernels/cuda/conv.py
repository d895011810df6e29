"""im2col / col2im on the GPU (Numba CUDA), twins of ``kernels/cpu/conv.py``.

Same layout and math as the cpu kernels (see there): ``cols`` is (C*kh*kw, N*OH*OW),
rows ordered (c, i, j), columns (n, oh, ow); ``ph, pw`` are the top/left paddings. The
index arithmetic is the shared ``kernels/im2col_index.py``:

* ``im2col``: one thread per entry of ``cols``; it unravels its row to ``(c, i, j)`` and
  its column to ``(n, oy, ox)`` and copies ``x[n, c, oy*sh + i*dh - ph, ox*sw + j*dw - pw]``
  (0 on padding). Consecutive threads take consecutive columns, so the writes coalesce
  and the reads walk along input rows.
* ``col2im``: one thread per input pixel, GATHERING the entries of ``cols`` that were
  copied from it: for kernel tap (i, j) the pixel was read by the output
  ``reading_output`` names along each axis, if any. No two threads write one pixel, so no
  atomics are needed and the sum order is fixed (deterministic).

Input handling, as on the cpu: ``x`` / ``cols`` are converted to C-contiguous arrays (a
copy only when they are not) and the result is a new array; ``col2im`` may overwrite the
``cols`` it is given (this one happens to leave it untouched).
"""
from __future__ import annotations

from numba import cuda

from ..im2col_index import reading_output, unravel
from ._launch import array_module, launch, prepare

_unravel = cuda.jit(device=True)(unravel)
_reading_output = cuda.jit(device=True)(reading_output)


@cuda.jit
def _im2col_kernel(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    t = cuda.grid(1)
    rows, m = cols.shape
    if t >= rows * m:
        return
    r = t // m
    col = t - r * m
    c, i, j = _unravel(r, kh, kw)
    n, oy, ox = _unravel(col, oh, ow)
    hh = oy * sh + i * dh - ph
    ww = ox * sw + j * dw - pw
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
    plane, yy, xx = _unravel(t, h, w)
    n = plane // n_ch
    c = plane - n * n_ch
    acc = cols[0, 0] * 0  # zero of the array's dtype
    for i in range(kh):
        oy = _reading_output(yy, sh, i * dh - ph, oh)
        if oy < 0:
            continue
        for j in range(kw):
            ox = _reading_output(xx, sw, j * dw - pw, ow)
            if ox >= 0:
                acc += cols[(c * kh + i) * kw + j, (n * oh + oy) * ow + ox]
    x[n, c, yy, xx] = acc


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Unroll the receptive fields of ``x`` (N, C, H, W) into ``cols`` (C*kh*kw, N*oh*ow)."""
    xp = array_module(x)
    x = prepare(x)
    n, c = x.shape[0], x.shape[1]
    cols = xp.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    launch(_im2col_kernel, cols.size, x, x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return cols


def col2im(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Adjoint of :func:`im2col`: sum ``cols`` (C*kh*kw, N*oh*ow) back into (N, C, H, W)."""
    xp = array_module(cols)
    cols = prepare(cols)
    x = xp.empty((n, c, h, w), dtype=cols.dtype)
    if cols.size:
        launch(_col2im_kernel, x.size, cols, cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    else:
        x.fill(0)
    return x
