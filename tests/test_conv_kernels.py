"""The conv and pooling kernels against plain NumPy references, on cpu and (simulated) cuda.

The references are written for clarity, not speed: explicit loops over kernel taps and
output positions. Shapes are small (the CUDA simulator runs one Python thread per GPU
thread) but sized so launches need more than one block of 128 threads and end with a
partial block. The op registry runs conv2d/conv1d/conv_transpose2d and the pooling ops
in float32 and float64, on strided inputs and through the serial and parallel cpu loops;
here are the kernels' own outputs (im2col columns, max-pool winner indices) for edge
geometries, ties and NaN, the adjoint identity and the compilation of both loops.
"""
import itertools

import numpy as np
import pytest

import tinynet as tn


# --- references -----------------------------------------------------------------------------
def ref_im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    n, c, h, w = x.shape
    cols = np.zeros((c, kh, kw, n, oh, ow), x.dtype)
    for i, j, y, xo in itertools.product(range(kh), range(kw), range(oh), range(ow)):
        hh, ww = y * sh - ph + i * dh, xo * sw - pw + j * dw
        if 0 <= hh < h and 0 <= ww < w:
            cols[:, i, j, :, y, xo] = x[:, :, hh, ww].T
    return cols.reshape(c * kh * kw, n * oh * ow)


def ref_col2im(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    x = np.zeros((n, c, h, w), cols.dtype)
    c6 = cols.reshape(c, kh, kw, n, oh, ow)
    for i, j, y, xo in itertools.product(range(kh), range(kw), range(oh), range(ow)):
        hh, ww = y * sh - ph + i * dh, xo * sw - pw + j * dw
        if 0 <= hh < h and 0 <= ww < w:
            x[:, :, hh, ww] += c6[:, i, j, :, y, xo].T
    return x


def ref_max_pool(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    n, c, h, w = x.shape
    y = np.full((n, c, oh, ow), -np.inf, x.dtype)
    idx = np.full((n, c, oh, ow), -1, np.int64)
    for oy, ox in itertools.product(range(oh), range(ow)):
        for i, j in itertools.product(range(kh), range(kw)):
            hh, ww = oy * sh - ph + i * dh, ox * sw - pw + j * dw
            if 0 <= hh < h and 0 <= ww < w:
                v = x[:, :, hh, ww]
                better = (v > y[:, :, oy, ox]) | (idx[:, :, oy, ox] < 0)
                y[:, :, oy, ox] = np.where(better, v, y[:, :, oy, ox])
                idx[:, :, oy, ox] = np.where(better, hh * w + ww, idx[:, :, oy, ox])
    return y, idx


def ref_max_pool_backward(g, idx, h, w):
    n, c = g.shape[:2]
    dx = np.zeros((n * c, h * w), g.dtype)
    rows = np.repeat(np.arange(n * c), g.shape[2] * g.shape[3])
    flat_idx, flat_g = idx.reshape(-1), g.reshape(-1)
    keep = flat_idx >= 0
    np.add.at(dx, (rows[keep], flat_idx[keep]), flat_g[keep])    # repeated winners accumulate
    return dx.reshape(n, c, h, w)


def ref_avg_weights(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override):
    """The averaging matrix A (oh*ow, h*w) of PyTorch's avg_pool2d, built cell by cell."""
    a = np.zeros((oh * ow, h * w))
    for oy, ox in itertools.product(range(oh), range(ow)):
        hs, ws = oy * sh - ph, ox * sw - pw
        he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)
        size = (he - hs) * (we - ws)
        hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
        div = divisor_override or (size if count_include_pad else (he - hs) * (we - ws))
        for hh, ww in itertools.product(range(hs, he), range(ws, we)):
            a[oy * ow + ox, hh * w + ww] = 1.0 / div
    return a


# --- helpers ----------------------------------------------------------------------------------
def _kernels(device):
    return tn.device(device).kernels


def _to(device, a):
    return tn.device(device).from_host(a)


def _host(device, a):
    return np.asarray(tn.device(device).to_host(a))


def _out(size, k, s, p_total, d):
    return (size + p_total - d * (k - 1) - 1) // s + 1


# (n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw): stride-1 "same" cases take the flat fast
# path of the cpu kernels, the others the per-row path
CONV_CASES = [
    (2, 2, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1),      # same padding (flat path), 450 cols: 4 blocks
    (2, 3, 6, 5, 2, 3, 2, 1, 0, 1, 1, 1),      # strided rows
    (1, 2, 7, 6, 3, 2, 2, 3, 2, 0, 2, 1),      # dilation, large padding
    (3, 1, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1),      # 1x1
    (2, 2, 5, 6, 3, 3, 1, 1, 3, 3, 2, 2),      # padding wider than a dilated tap: empty strips
    (1, 1, 3, 3, 3, 3, 1, 1, 4, 0, 1, 1),      # padding larger than the input on one axis
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_im2col_matches_reference(device, case, dtype, rng):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw = case
    oh, ow = _out(h, kh, sh, 2 * ph, dh), _out(w, kw, sw, 2 * pw, dw)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    got = _kernels(device).im2col(_to(device, x), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    assert got.dtype == dtype
    np.testing.assert_array_equal(_host(device, got), ref_im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow))


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_col2im_matches_reference(device, case, rng):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw = case
    oh, ow = _out(h, kh, sh, 2 * ph, dh), _out(w, kw, sw, 2 * pw, dw)
    cols = rng.standard_normal((c * kh * kw, n * oh * ow))
    got = _kernels(device).col2im(_to(device, cols.copy()), n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    expected = ref_col2im(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    np.testing.assert_allclose(_host(device, got), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", ["serial", "parallel"])
def test_col2im_is_the_adjoint_of_im2col(rng, monkeypatch, variant):
    """<im2col(x), c> == <x, col2im(c)> for the cpu kernels, serial and parallel loops."""
    from tinynet.kernels.policy import CPU_PARALLEL_MIN_ELEMENTS

    monkeypatch.setitem(CPU_PARALLEL_MIN_ELEMENTS, "im2col", 1 if variant == "parallel" else 1 << 62)
    k = tn.device("cpu").kernels
    for n, c, h, kk, s, p in [(64, 4, 14, 3, 1, 1), (16, 3, 13, 5, 2, 2)]:
        oh = _out(h, kk, s, 2 * p, 1)
        x = rng.standard_normal((n, c, h, h))
        cols = rng.standard_normal((c * kk * kk, n * oh * oh))
        lhs = np.vdot(k.im2col(x, kk, kk, s, s, p, p, 1, 1, oh, oh), cols)
        rhs = np.vdot(x, k.col2im(cols.copy(), n, c, h, h, kk, kk, s, s, p, p, 1, 1, oh, oh))
        assert np.isclose(lhs, rhs, rtol=1e-10)
        np.testing.assert_array_equal(k.im2col(x, kk, kk, s, s, p, p, 1, 1, oh, oh),
                                      ref_im2col(x, kk, kk, s, s, p, p, 1, 1, oh, oh))


# (n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ceil)
POOL_CASES = [
    (2, 3, 6, 6, 2, 2, 2, 2, 0, 0, 1, 1),      # 54 outputs, 216 inputs: 2 blocks, partial
    (2, 2, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1),      # overlapping, padded
    (1, 3, 7, 7, 2, 3, 1, 2, 1, 1, 2, 1),      # dilated
    (2, 2, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1),      # window past the edge (ceil-style sizes below)
]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool_kernels_match_reference(device, case, rng):
    n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw = case
    oh, ow = _out(h, kh, sh, 2 * ph, dh) + 1, _out(w, kw, sw, 2 * pw, dw)   # one extra row, as ceil_mode gives
    oh = min(oh, (h + ph - 1) // sh + 1)
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(np.float64)   # no ties
    k = _kernels(device)
    y, idx = k.max_pool2d_forward(_to(device, x), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    ry, ridx = ref_max_pool(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    np.testing.assert_array_equal(_host(device, y), ry)
    np.testing.assert_array_equal(_host(device, idx), ridx)
    g = rng.standard_normal(ry.shape)
    dx = k.max_pool2d_backward(_to(device, g), idx, h, w, kh, kw, sh, sw, ph, pw, dh, dw)
    np.testing.assert_allclose(_host(device, dx), ref_max_pool_backward(g, ridx, h, w), rtol=1e-12, atol=1e-12)


def test_max_pool_ties_and_nan(device):
    """Ties pick the first maximum (row-major), a NaN in a window wins (PyTorch's rules)."""
    x = np.array([[[[1.0, 1.0, 0.0, np.nan], [1.0, 0.5, 2.0, 2.0]]]])
    y, idx = _kernels(device).max_pool2d_forward(_to(device, x), 2, 2, 2, 2, 0, 0, 1, 1, 1, 2)
    assert _host(device, idx).tolist() == [[[[0, 3]]]]
    assert _host(device, y)[0, 0, 0, 0] == 1.0 and np.isnan(_host(device, y)[0, 0, 0, 1])


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, 0), (False, 0), (True, 3)])
def test_avg_pool_kernels_match_reference(device, case, count_include_pad, divisor_override, rng):
    n, c, h, w, kh, kw, sh, sw, ph, pw, _, _ = case
    oh = min(_out(h, kh, sh, 2 * ph, 1) + 1, (h + ph - 1) // sh + 1)
    ow = _out(w, kw, sw, 2 * pw, 1)
    a = ref_avg_weights(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override)
    x = rng.standard_normal((n, c, h, w))
    k = _kernels(device)
    y = k.avg_pool2d_forward(_to(device, x), kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, divisor_override)
    np.testing.assert_allclose(_host(device, y), (x.reshape(n * c, -1) @ a.T).reshape(n, c, oh, ow), rtol=1e-12)
    g = rng.standard_normal((n, c, oh, ow))
    dx = k.avg_pool2d_backward(_to(device, g), h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad,
                               divisor_override)
    np.testing.assert_allclose(_host(device, dx), (g.reshape(n * c, -1) @ a).reshape(n, c, h, w), rtol=1e-12)


def test_serial_and_parallel_variants_have_their_own_disk_cache():
    """Numba keys its disk cache by function name and argument types, not by parallel=:
    kernels/cpu/_compile.py gives each variant its own function, so neither loads the
    other's machine code (the "parallel" pooling once ran the serial loop that way)."""
    from tinynet.kernels.cpu import conv as kconv, gelu as kgelu, optim as koptim, pooling as kpool, relu as krelu

    pairs = [kpool._max2x2, kpool._max_backward, kpool._avg_forward, kgelu._GELU_FG[1], kgelu._ERF, krelu._relu,
             (kconv._im2col_serial, kconv._im2col_parallel), (koptim._adam_serial, koptim._adam_parallel)]
    for serial, parallel in pairs:
        assert serial.targetoptions["parallel"] is False and parallel.targetoptions["parallel"] is True
        assert serial._cache._cache_file._index_name != parallel._cache._cache_file._index_name
        assert serial.py_func.__code__ is parallel.py_func.__code__  # one body, compiled twice


def test_kernels_refuse_a_second_module_name():
    """Imported as top-level ``kernels`` (from the repository root) the package would compile
    under another module name and poison Numba's disk cache for tinynet: a clear ImportError."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", "import kernels"], cwd=root, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0
    assert "ImportError" in out.stderr and "tinynet.kernels" in out.stderr
