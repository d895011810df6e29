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

import numpy as np
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


# --- the tiled convolution's twins: on the GPU the whole batch is one tile -------------------------
def _tile_dtype(*arrays):
    return np.result_type(*(a.dtype for a in arrays if a is not None))


def conv2d_tiled(x, w, b, sh, sw, ph, pw, dh, dw, oh, ow, groups):
    """``y = conv2d(x, w) + b`` as (N, O, oh, ow): twin of the cpu kernel.

    A GPU multiplies one large matrix faster than many small ones, so here the tile is the
    whole batch: ``cols`` of every image (:func:`im2col`), one GEMM per group (cuBLAS
    through ``xp.matmul``), then the (O, N, oh*ow) product is laid out as NCHW with the
    bias added. ``b`` may be None.
    """
    xp = array_module(x)
    dtype = _tile_dtype(x, w, b)
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    og, kg, plane = o // groups, cg * kh * kw, oh * ow
    cols = im2col(x.astype(dtype, copy=False), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    ym = xp.matmul(xp.ascontiguousarray(w, dtype=dtype).reshape(groups, og, kg), cols.reshape(groups, kg, n * plane))
    y = ym.reshape(o, n, plane).transpose(1, 0, 2)
    if b is not None:
        y = y + b.astype(dtype, copy=False).reshape(1, o, 1)
    return xp.ascontiguousarray(y).reshape(n, o, oh, ow)


def _gemm_layout(xp, g, groups):
    """(N, O, OH, OW) -> (groups, O/groups, N*OH*OW): the output gradient as the GEMMs read it."""
    n, o = g.shape[0], g.shape[1]
    return xp.ascontiguousarray(g.reshape(n, o, -1).transpose(1, 0, 2)).reshape(groups, o // groups, -1)


def conv2d_input_grad_tiled(g, w, h, wd, sh, sw, ph, pw, dh, dw, groups):
    """``dx`` (N, C, h, wd) from ``g`` (N, O, OH, OW): twin of the cpu kernel,
    ``col2im(W^T @ G)`` over the whole batch."""
    xp = array_module(g)
    dtype = _tile_dtype(g, w)
    n, o, oh, ow = g.shape
    _, cg, kh, kw = w.shape
    w3 = xp.ascontiguousarray(w, dtype=dtype).reshape(groups, o // groups, cg * kh * kw)
    dcols = xp.matmul(w3.transpose(0, 2, 1), _gemm_layout(xp, g.astype(dtype, copy=False), groups))
    return col2im(dcols.reshape(groups * cg * kh * kw, -1), n, cg * groups, h, wd, kh, kw, sh, sw, ph, pw, dh, dw,
                  oh, ow)


def conv2d_weight_grad_tiled(x, g, kh, kw, sh, sw, ph, pw, dh, dw, groups):
    """``dW`` (O, C/groups, kh, kw) from ``x`` and ``g``: twin of the cpu kernel,
    ``G @ cols^T`` over the whole batch."""
    xp = array_module(x)
    dtype = _tile_dtype(x, g)
    c = x.shape[1]
    o, oh, ow = g.shape[1], g.shape[2], g.shape[3]
    cols = im2col(x.astype(dtype, copy=False), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    kg = (c // groups) * kh * kw
    gw = xp.matmul(_gemm_layout(xp, g.astype(dtype, copy=False), groups),
                   cols.reshape(groups, kg, -1).transpose(0, 2, 1))
    return gw.reshape(o, c // groups, kh, kw)
