"""im2col / col2im on the CPU (Numba): the data movement around convolution's GEMM.

A 2-D convolution of ``x`` (N, C, H, W) with a kernel of size ``kh x kw`` becomes one
matrix product once every receptive field is unrolled into a column::

    cols[(c, i, j), (n, oh, ow)] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]   (0 outside)
    out[o, (n, oh, ow)]          = sum over (c, i, j) of  w[o, (c, i, j)] * cols[(c, i, j), (n, oh, ow)]

``cols`` has shape ``(C*kh*kw, N*OH*OW)``: rows ordered (c, i, j) like a flattened
weight ``(O, C, kh, kw)``, columns ordered (n, oh, ow). With the whole batch in the
columns the product is one large GEMM, which OpenBLAS runs several times faster than the
N small per-image GEMMs a per-image layout needs. ``ph``/``pw`` are the top/left paddings;
the bottom/right ones only change ``OH``/``OW``, which the caller passes in, so asymmetric
("same") padding needs nothing extra here.

``col2im`` is the adjoint (transpose) of ``im2col``: it adds every column entry back
onto the input pixel it was copied from, which turns the GEMM's ``dcols`` into ``dx``.

The index arithmetic is written once in ``kernels/im2col_index.py``, next to the cuda
twin's: the cpu walks the map a strip at a time (``valid_outputs``: which outputs of a
tap read inside the input), the GPU an entry or a pixel at a time. Two details make these
loops fast:

* **Flat copies.** Rows of a feature map are short (7-28 pixels), and a loop that short
  never reaches the vectorised body LLVM generates. When the convolution keeps the size
  (stride 1 and ``OW == W``, as in every "same"-padded 3x3 layer) the strip of ``cols``
  for one (row, image) is the input plane shifted by a constant offset, so it is copied
  as ONE contiguous slice; only the few entries that fall on the padding are then zeroed.
  ``col2im`` does the reverse: it first zeroes the entries of ``cols`` that came from
  padding (``cols`` is scratch here and is modified) and then adds the whole strip as one
  slice. Other shapes take a per-row loop.
* **Parallel without races.** ``im2col`` splits the work into (row, image) strips;
  ``col2im`` into (image, channel) planes, so no two threads add into one pixel (no
  atomics, a deterministic result). Small problems run serially (``kernels/policy.py``):
  waking the thread pool costs more than copying a few thousand numbers.

Input handling, the same on both devices: ``x`` / ``cols`` are converted to C-contiguous
arrays (a copy only when they are not) and the result is a new array of their dtype;
``col2im`` may overwrite the ``cols`` it is given (callers pass a temporary).

``benchmarks/bench_conv.py --kernels`` times these against NumPy versions (a padded copy
and one strided-view copy for im2col; a loop of strided slice additions for col2im).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..im2col_index import valid_outputs
from ..policy import CPU_PARALLEL_MIN_ELEMENTS
from ._compile import serial_and_parallel

_valid_outputs = njit(cache=True, inline="always")(valid_outputs)


def _im2col_body(x_flat, cols_flat, n_img, n_ch, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    # The long contiguous copies index slices (views) from 0, so LLVM sees non-negative,
    # non-overlapping accesses and vectorises them (indexing the flat arrays with computed
    # offsets is ~10x slower). Views are not free (~20 ns each), so the short scattered
    # writes (padding zeros, per-row copies) index the arrays directly.
    k = kh * kw
    plane = oh * ow
    total = n_img * plane
    flat = sh == 1 and sw == 1 and ow == w
    for t in prange(n_ch * k * n_img):
        n = t % n_img
        r = t // n_img
        c = r // k                           # row r of cols is tap (i, j) of channel c
        i = (r % k) // kw
        j = r % kw
        woff = j * dw - pw
        hoff = i * dh - ph
        lo, hi = _valid_outputs(ow, sw, woff, w)     # output columns that read inside a row
        ylo, yhi = _valid_outputs(oh, sh, hoff, h)   # output rows that read inside the plane
        d0 = r * total + n * plane
        xplane = (n * n_ch + c) * h * w
        strip = cols_flat[d0:d0 + plane]
        for q in range(ylo * ow):
            strip[q] = 0
        for q in range(yhi * ow, plane):
            strip[q] = 0
        if flat and hi > lo and yhi > ylo:
            # x index = s0 + (y*ow + xo) for every valid (y, xo): one contiguous copy,
            # then zero the few entries that wrapped onto a neighbouring row
            a = ylo * ow + lo
            b = (yhi - 1) * ow + hi
            dst = strip[a:b]
            s0 = xplane + hoff * w + woff + a
            src = x_flat[s0:s0 + (b - a)]
            for q in range(b - a):
                dst[q] = src[q]
            for y in range(ylo, yhi):
                for xo in range(lo):
                    cols_flat[d0 + y * ow + xo] = 0
                for xo in range(hi, ow):
                    cols_flat[d0 + y * ow + xo] = 0
        else:
            for y in range(ylo, yhi):
                row = d0 + y * ow
                for xo in range(lo):
                    cols_flat[row + xo] = 0
                for xo in range(hi, ow):
                    cols_flat[row + xo] = 0
                src = xplane + (y * sh + hoff) * w + woff
                for xo in range(lo, hi):
                    cols_flat[row + xo] = x_flat[src + xo * sw]


def _col2im_body(cols_flat, x_flat, n_img, n_ch, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    k = kh * kw
    plane = oh * ow
    total = n_img * plane
    hw = h * w
    flat = sh == 1 and sw == 1 and ow == w
    for t in prange(n_img * n_ch):
        n = t // n_ch
        c = t % n_ch
        xplane = (n * n_ch + c) * hw
        xv = x_flat[xplane:xplane + hw]
        for q in range(hw):
            xv[q] = 0
        for i in range(kh):
            hoff = i * dh - ph
            ylo, yhi = _valid_outputs(oh, sh, hoff, h)
            for j in range(kw):
                r = c * k + i * kw + j
                woff = j * dw - pw
                lo, hi = _valid_outputs(ow, sw, woff, w)
                if hi <= lo or yhi <= ylo:
                    continue
                d0 = r * total + n * plane
                if flat:
                    # entries read from padding would land on the neighbouring row's
                    # edge pixels: zero them, then add the strip in one pass
                    for y in range(ylo, yhi):
                        for xo in range(lo):
                            cols_flat[d0 + y * ow + xo] = 0
                        for xo in range(hi, ow):
                            cols_flat[d0 + y * ow + xo] = 0
                    a = ylo * ow + lo
                    b = (yhi - 1) * ow + hi
                    src = cols_flat[d0 + a:d0 + b]
                    s0 = hoff * w + woff + a
                    dst = xv[s0:s0 + (b - a)]
                    for q in range(b - a):
                        dst[q] += src[q]
                else:
                    for y in range(ylo, yhi):
                        row = d0 + y * ow
                        dst = xplane + (y * sh + hoff) * w + woff
                        for xo in range(lo, hi):
                            x_flat[dst + xo * sw] += cols_flat[row + xo]


_im2col_serial, _im2col_parallel = serial_and_parallel(_im2col_body)
_col2im_serial, _col2im_parallel = serial_and_parallel(_col2im_body)


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Unroll the receptive fields of ``x`` (N, C, H, W) into ``cols`` (C*kh*kw, N*oh*ow).

    ``sh, sw`` strides, ``ph, pw`` top/left zero padding, ``dh, dw`` dilations and
    ``oh, ow`` the output size (computed by the caller from the full padding).
    """
    x = np.ascontiguousarray(x)
    n, c, h, w = x.shape
    cols = np.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    if cols.size:
        fn = _im2col_parallel if cols.size >= CPU_PARALLEL_MIN_ELEMENTS["im2col"] else _im2col_serial
        fn(x.reshape(-1), cols.reshape(-1), n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return cols


def col2im(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Adjoint of :func:`im2col`: sum ``cols`` (C*kh*kw, N*oh*ow) back into (N, C, H, W).

    ``cols`` is used as scratch: the entries that correspond to padding may be zeroed.
    """
    cols = np.ascontiguousarray(cols)
    x = np.empty((n, c, h, w), dtype=cols.dtype)
    if x.size:
        if cols.size:
            fn = _col2im_parallel if cols.size >= CPU_PARALLEL_MIN_ELEMENTS["im2col"] else _col2im_serial
            fn(cols.reshape(-1), x.reshape(-1), n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        else:
            x.fill(0)
    return x
