"""im2col / col2im on the CPU (Numba): the data movement around convolution's GEMM.

A 2-D convolution of ``x`` (N, C, H, W) with a kernel of size ``kh x kw`` becomes one
matrix product once every receptive field is unrolled into a column::

    cols[(c, i, j), (n, oh, ow)] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]   (0 outside)
    out[o, (n, oh, ow)]          = sum over (c, i, j) of  w[o, (c, i, j)] * cols[(c, i, j), (n, oh, ow)]

``cols`` has shape ``(C*kh*kw, N*OH*OW)``: rows ordered (c, i, j) like a flattened
weight ``(O, C, kh, kw)``, columns ordered (n, oh, ow). With the whole batch in the
columns the product is one large GEMM, which BLAS spreads over its threads; for small
layers that beats anything per image. ``ph``/``pw`` are the top/left paddings;
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

**Tiled convolution** (``conv2d_tiled``, ``conv2d_input_grad_tiled``,
``conv2d_weight_grad_tiled``; chosen for large layers by ``kernels/policy.py``). The
batch-wide ``cols`` of a large layer does not fit in any cache (64 images of 32 channels at
26x26 make a 288 x 36864 matrix, 42 MB): im2col writes it to memory and the GEMM reads it
back, and the product then needs a transposing copy into NCHW. The tiled kernels instead
take one image at a time: its columns (C*kh*kw, OH*OW) fit in a core's L2 cache, are
multiplied at once (``y[n] = W @ cols_n`` straight into NCHW, bias added in cache;
``dcols_n = W^T @ g[n]`` then col2im; ``dW += g[n] @ cols_n^T``), and the images are shared
out over Python threads running single-threaded BLAS and the ``nogil`` compilations of the
loops above, so the copies run on every core too.
"""
from __future__ import annotations

import os
import types
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, prange
from threadpoolctl import ThreadpoolController

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
                if sw == 1:  # a unit-stride row: a loop LLVM vectorises
                    for xo in range(lo, hi):
                        cols_flat[row + xo] = x_flat[src + xo]
                else:
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
                elif sw == 1:  # unit-stride rows: a loop LLVM vectorises
                    for y in range(ylo, yhi):
                        row = d0 + y * ow
                        dst = xplane + (y * sh + hoff) * w + woff
                        for xo in range(lo, hi):
                            x_flat[dst + xo] += cols_flat[row + xo]
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


# --- tiled convolution: one image's columns at a time, multiplied while they are in cache --------
def _nogil_copy(body, name):
    """``body`` compiled as a serial loop that releases the GIL, under its own name (so its
    disk-cache files are its own, see ``_compile.py``): called from several Python threads
    at once, each on its own image."""
    fn = types.FunctionType(body.__code__, body.__globals__, name, body.__defaults__, body.__closure__)
    fn.__qualname__ = name
    return njit(cache=True, nogil=True)(fn)


_im2col_image = _nogil_copy(_im2col_body, "_im2col_body_nogil")
_col2im_image = _nogil_copy(_col2im_body, "_col2im_body_nogil")


@njit(cache=True, nogil=True)
def _zero_row_tails(cols, oh, pitch, ow):
    """Zero entries ``ow .. pitch-1`` of every output row of ``cols`` (rows, oh*pitch)."""
    for r in range(cols.shape[0]):
        for y in range(oh):
            for q in range(y * pitch + ow, (y + 1) * pitch):
                cols[r, q] = 0


_pool = None   # the helper threads (created on first use), how many, and in which process
_pool_size = 0
_pool_pid = 0
_blas = None   # the loaded BLAS libraries, limited to one thread each inside a tiled call


#: A tiled call cuts its images into at most this many chunks, handed to the threads as they
#: come free (a thread slowed down by other work on the machine takes fewer).
CHUNKS = 16


def _chunks(n_items):
    """``[0, n_items)`` cut into at most :data:`CHUNKS` consecutive ``(lo, hi)`` ranges of
    equal length (the last one shorter); the cut depends on ``n_items`` only."""
    size = max(1, -(-n_items // CHUNKS))
    return [(lo, min(lo + size, n_items)) for lo in range(0, n_items, size)]


def _for_each_chunk(n_items, work):
    """Run ``work(chunks)`` on up to ``numba.get_num_threads()`` threads, where ``chunks`` is
    ONE iterator over :func:`_chunks` shared by them: each thread sets up its scratch
    arrays once and then takes the next chunk until none is left (taking an item from a
    list iterator is a single step under the GIL, so no chunk is taken twice).

    The calling thread works too, helper threads the rest. Handing out the chunks costs
    tens of microseconds, nothing next to the layers the tiled path is chosen for
    (milliseconds of products), so there is no serial variant. Every thread runs its own
    single-threaded BLAS products (NumPy's matmul releases the GIL, so do the ``nogil``
    Numba loops), so BLAS is limited to one thread for the duration: two callers each
    waking a multi-threaded BLAS would fight over the cores, and one image's product is
    too small to be worth splitting.
    """
    global _pool, _pool_size, _pool_pid, _blas
    todo = _chunks(n_items)
    nt = max(1, min(numba.get_num_threads(), len(todo)))
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas")
    if nt - 1 > _pool_size or _pool_pid != os.getpid():  # a forked child has no helper threads
        _pool = ThreadPoolExecutor(max_workers=max(nt - 1, 1), thread_name_prefix="tinynet-conv")
        _pool_size, _pool_pid = max(nt - 1, 1), os.getpid()
    chunks = iter(todo)
    with _blas.limit(limits=1):
        futures = [_pool.submit(work, chunks) for _ in range(1, nt)]
        try:
            work(chunks)
        finally:
            for f in futures:
                f.exception()  # wait for every helper before BLAS gets its threads back
    for f in futures:
        f.result()  # re-raise a helper's error


def _tile_dtype(*arrays):
    return np.result_type(*(a.dtype for a in arrays if a is not None))


def _pitch(sh, sw, w, ow):
    """The row length of a tile's output plane: ``w`` for a stride-1 convolution whose
    output is narrower than its input (``ow < w``, e.g. an unpadded 3x3), else ``ow``.

    With the output rows padded to the input's width, the strip of columns of tap (i, j)
    is the input plane shifted by a constant, so :func:`im2col`'s flat path copies it in
    one contiguous run instead of row by row, and :func:`col2im` adds it back the same way.
    The extra ``w - ow`` outputs of each row are computed from the columns at the right
    edge and dropped (forward), or given a zero gradient (backward).
    """
    return w if sh == 1 and sw == 1 and ow < w else ow


def conv2d_tiled(x, w, b, sh, sw, ph, pw, dh, dw, oh, ow, groups):
    """``y = conv2d(x, w) + b`` as (N, O, oh, ow), one image at a time.

    For image ``n`` the columns ``cols_n`` (C*kh*kw, oh*ow) are built (:func:`im2col` of
    that image alone, small enough to stay in the core's L2 cache) and multiplied at once::

        y[n] = W (O, C*kh*kw) @ cols_n + b          (per group: W_g @ cols_n,g)

    which writes image ``n``'s output directly in NCHW: no batch-wide ``cols`` matrix
    (for a 64-image 32-channel 26x26 layer that is 42 MB, far out of cache) and no
    transposing copy of the product. Images are shared out over the threads (each image
    is independent). ``b`` may be None.
    """
    dtype = _tile_dtype(x, w, b)
    x = np.ascontiguousarray(x, dtype=dtype)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og, kg, plane = o // groups, cg * kh * kw, oh * ow
    w3 = np.ascontiguousarray(w, dtype=dtype).reshape(groups, og, kg)
    b4 = None if b is None else np.ascontiguousarray(b, dtype=dtype).reshape(groups, og, 1, 1)
    y = np.empty((n, o, oh, ow), dtype=dtype)
    pitch = _pitch(sh, sw, wd, ow)

    def work(chunks):
        cols = np.empty((groups, kg, oh * pitch), dtype=dtype)
        wide = np.empty((groups, og, oh, pitch), dtype=dtype) if pitch != ow else None
        for i in (i for lo, hi in chunks for i in range(lo, hi)):
            _im2col_image(x[i].reshape(-1), cols.reshape(-1), 1, c, h, wd, kh, kw, sh, sw, ph, pw, dh, dw, oh, pitch)
            yi = y[i].reshape(groups, og, oh, ow)
            if wide is None:
                np.matmul(w3, cols, out=yi.reshape(groups, og, plane))
            else:
                np.matmul(w3, cols, out=wide.reshape(groups, og, oh * pitch))
                yi[...] = wide[..., :ow]
            if b4 is not None:
                yi += b4

    _for_each_chunk(n, work)
    return y


def conv2d_input_grad_tiled(g, w, h, wd, sh, sw, ph, pw, dh, dw, groups):
    """``dx`` (N, C, h, wd) of ``y = conv2d(x, w)`` from ``g = dL/dy`` (N, O, OH, OW), one image at a time.

    ``dcols_n = W^T @ g[n]`` (C*kh*kw, OH*OW) is the gradient of image ``n``'s columns;
    :func:`col2im` of it (the adjoint of im2col) adds each entry back onto the pixel it was
    copied from. ``g[n]`` is already (O, OH*OW) in NCHW, so nothing is transposed. This is
    also ``conv_transpose2d(g, w)``.
    """
    dtype = _tile_dtype(g, w)
    g = np.ascontiguousarray(g, dtype=dtype)
    n, o, oh, ow = g.shape
    _, cg, kh, kw = w.shape
    c, og, kg, plane = cg * groups, o // groups, cg * kh * kw, oh * ow
    wt = np.ascontiguousarray(np.asarray(w, dtype=dtype).reshape(groups, og, kg).transpose(0, 2, 1))
    dx = np.empty((n, c, h, wd), dtype=dtype)
    pitch = _pitch(sh, sw, wd, ow)

    def work(chunks):
        dcols = np.empty((groups, kg, oh * pitch), dtype=dtype)
        # the extra outputs get a zero gradient
        wide = np.zeros((groups, og, oh, pitch), dtype=dtype) if pitch != ow else None
        for i in (i for lo, hi in chunks for i in range(lo, hi)):
            if wide is None:
                gi = g[i].reshape(groups, og, plane)
            else:
                wide[..., :ow] = g[i].reshape(groups, og, oh, ow)
                gi = wide.reshape(groups, og, oh * pitch)
            np.matmul(wt, gi, out=dcols)
            _col2im_image(dcols.reshape(-1), dx[i].reshape(-1), 1, c, h, wd, kh, kw, sh, sw, ph, pw, dh, dw, oh, pitch)

    _for_each_chunk(n, work)
    return dx


def conv2d_weight_grad_tiled(x, g, kh, kw, sh, sw, ph, pw, dh, dw, groups):
    """``dW`` (O, C/groups, kh, kw) of ``y = conv2d(x, w)`` from ``g = dL/dy``, one image at a time.

    ``dW = sum over n of g[n] (O, OH*OW) @ cols_n^T``: the products of each chunk of images
    are added up by whichever thread takes it (rebuilding each ``cols_n`` in cache), and
    the chunk sums are added in chunk order. The chunks depend on N only, so the result is
    the same whichever thread took which chunk, and for any thread count.
    """
    dtype = _tile_dtype(x, g)
    x = np.ascontiguousarray(x, dtype=dtype)
    g = np.ascontiguousarray(g, dtype=dtype)
    n, c, h, wd = x.shape
    o, oh, ow = g.shape[1], g.shape[2], g.shape[3]
    cg = c // groups
    og, kg, plane = o // groups, cg * kh * kw, oh * ow
    sums = {}
    pitch = _pitch(sh, sw, wd, ow)

    def work(chunks):
        cols = np.empty((groups, kg, oh * pitch), dtype=dtype)
        wide = np.zeros((groups, og, oh, pitch), dtype=dtype) if pitch != ow else None
        part = np.empty((groups, og, kg), dtype=dtype)
        for lo, hi in chunks:
            acc = np.zeros((groups, og, kg), dtype=dtype)
            for i in range(lo, hi):
                _im2col_image(x[i].reshape(-1), cols.reshape(-1), 1, c, h, wd, kh, kw, sh, sw, ph, pw, dh, dw, oh,
                              pitch)
                if wide is None:
                    gi = g[i].reshape(groups, og, plane)
                else:
                    # the extra outputs: zero gradient, and zero columns (an inf at the input's
                    # right edge must not turn 0 * inf into a NaN in dW)
                    _zero_row_tails(cols.reshape(groups * kg, oh * pitch), oh, pitch, ow)
                    wide[..., :ow] = g[i].reshape(groups, og, oh, ow)
                    gi = wide.reshape(groups, og, oh * pitch)
                np.matmul(gi, cols.transpose(0, 2, 1), out=part)
                acc += part
            sums[lo] = acc

    _for_each_chunk(n, work)
    grad = np.zeros((groups, og, kg), dtype=dtype)
    for lo in sorted(sums):
        grad += sums[lo]
    return grad.reshape(o, cg, kh, kw)
