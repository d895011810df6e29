"""Registry entries for the spatial ops: padding modes (with cropping), interpolate, conv_transpose1d,
unfold/fold, pixel (un)shuffle, Tensor.unfold and the 1-d / adaptive-max / unpool / power-average pools.

The references are written independently of the implementations: padding with ``np.pad`` plus
slicing, interpolation as a scalar loop over output positions with PyTorch's coordinate
formulas (nearest in float32, as PyTorch always computes it), unfold/fold as loops over blocks,
pools as loops over windows.
"""
import itertools

import numpy as np

import tinynet as tn
from tinynet.functional.folding import tensor_unfold

from . import OpEntry, _apart, _n
from .conv import ref_conv_transpose2d, ref_pool


# --- padding ----------------------------------------------------------------------------------
def ref_pad(a, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: reflect/replicate pad the original then crop; circular crops, then wraps."""
    pairs = [(0, 0)] * a.ndim
    for k in range(len(pad) // 2):
        pairs[a.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    pos = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    crop = tuple(slice(max(-lo, 0), a.shape[i] + pos[i][0] + pos[i][1] - max(-hi, 0) if mode != "circular"
                       else a.shape[i] - max(-hi, 0)) for i, (lo, hi) in enumerate(pairs))
    if mode == "circular":
        return np.pad(a[crop], pos, mode="wrap")
    npmode = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}[mode]
    kw = {"constant_values": value} if mode == "constant" else {}
    return np.pad(a, pos, mode=npmode, **kw)[crop]


# --- interpolation ----------------------------------------------------------------------------
def _cubic(t, a=-0.75):
    def c1(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def c2(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]


def _axis_weights(mode, n_in, n_out, align, scale, special):
    """Dense (n_out, n_in) matrix of one axis, from PyTorch's per-position formulas."""
    m = np.zeros((n_out, n_in))
    for j in range(n_out):
        if mode in ("nearest", "nearest-exact"):
            f = np.float32
            if special and mode == "nearest" and n_out == n_in:
                i = j
            elif special and mode == "nearest" and n_out == 2 * n_in:
                i = j // 2
            else:
                s = f(1.0 / scale) if scale else f(n_in) / f(n_out)
                p = f(j) * s if mode == "nearest" else (f(j) + f(0.5)) * s
                i = min(int(np.floor(p)), n_in - 1)
            m[j, i] = 1.0
            continue
        if align:
            s = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
            src = s * j
        else:
            s = 1.0 / scale if scale else n_in / n_out
            src = s * (j + 0.5) - 0.5
        if mode == "bicubic":
            i0 = int(np.floor(src))
            for k, w in enumerate(_cubic(src - i0)):
                m[j, min(max(i0 - 1 + k, 0), n_in - 1)] += w
        elif n_out == n_in:
            m[j, j] = 1.0
        else:
            src = max(src, 0.0)
            i0 = min(int(np.floor(src)), n_in - 1)
            lam = min(max(src - i0, 0.0), 1.0)
            m[j, i0] += 1 - lam
            m[j, min(i0 + 1, n_in - 1)] += lam
    return m


def ref_interpolate(a, size, mode, align=False, scale=None):
    nsp = a.ndim - 2
    out = a
    for k in range(nsp):
        ax = 2 + k
        sc = None if scale is None else scale[k]
        m = _axis_weights(mode, a.shape[ax], size[k], align, sc, nsp == 2)
        out = np.moveaxis(np.tensordot(m, np.moveaxis(out, ax, 0), axes=(1, 0)), 0, ax)
    return out


def ref_antialias(a, size):
    """Bilinear antialiased downsampling: triangle filter stretched by s = in/out, normalised weights."""
    out = a
    for ax, n_out in zip((3, 2), size[::-1]):
        n_in = a.shape[ax]
        s = n_in / n_out
        m = np.zeros((n_out, n_in))
        for j in range(n_out):
            c = s * (j + 0.5)
            lo, hi = max(int(c - s + 0.5), 0), min(int(c + s + 0.5), n_in)
            w = np.array([max(0.0, 1 - abs((i - c + 0.5) / s)) for i in range(lo, hi)])
            m[j, lo:hi] = w / w.sum()
        out = np.moveaxis(np.tensordot(m, np.moveaxis(out, ax, 0), axes=(1, 0)), 0, ax)
    return out


def ref_adaptive(a, out, kind):
    """Adaptive pooling of the last axes (1 or 2) with PyTorch's windows."""
    if a.ndim == 3:
        return ref_adaptive(a[:, :, None], (1, out[0]), kind)[:, :, 0]
    n, c, h, w = a.shape
    y = np.zeros((n, c) + tuple(out))
    for i, j in itertools.product(range(out[0]), range(out[1])):
        hs, he = (i * h) // out[0], -(-((i + 1) * h) // out[0])
        ws, we = (j * w) // out[1], -(-((j + 1) * w) // out[1])
        win = a[:, :, hs:he, ws:we]
        y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return y


# --- blocks -----------------------------------------------------------------------------------
def ref_unfold(x, k, d=(1, 1), p=(0, 0), s=(1, 1)):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n, c * k[0] * k[1], oh * ow))
    for ci, i, j, a, b in itertools.product(range(c), range(k[0]), range(k[1]), range(oh), range(ow)):
        out[:, ci * k[0] * k[1] + i * k[1] + j, a * ow + b] = xp[:, ci, a * s[0] + i * d[0], b * s[1] + j * d[1]]
    return out


def ref_fold(cols, size, k, d=(1, 1), p=(0, 0), s=(1, 1)):
    n, ck, _ = cols.shape
    c = ck // (k[0] * k[1])
    h, w = size
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]))
    for ci, i, j, a, b in itertools.product(range(c), range(k[0]), range(k[1]), range(oh), range(ow)):
        out[:, ci, a * s[0] + i * d[0], b * s[1] + j * d[1]] += cols[:, ci * k[0] * k[1] + i * k[1] + j, a * ow + b]
    return out[:, :, p[0]:p[0] + h, p[1]:p[1] + w]


def ref_pixel_shuffle(x, r):
    n, crr, h, w = x.shape
    c = crr // (r * r)
    y = np.zeros((n, c, h * r, w * r))
    for ci, i, j in itertools.product(range(c), range(r), range(r)):
        y[:, ci, i::r, j::r] = x[:, ci * r * r + i * r + j]
    return y


def ref_pixel_unshuffle(y, r):
    n, c, hr, wr = y.shape
    x = np.zeros((n, c * r * r, hr // r, wr // r))
    for ci, i, j in itertools.product(range(c), range(r), range(r)):
        x[:, ci * r * r + i * r + j] = y[:, ci, i::r, j::r]
    return x


def ref_tensor_unfold(x, dim, size, step):
    n = x.shape[dim]
    wins = [np.take(x, range(k, k + size), axis=dim) for k in range(0, n - size + 1, step)]
    return np.moveaxis(np.stack(wins, axis=dim), dim + 1, -1)


# --- unpooling --------------------------------------------------------------------------------
_UNPOOL_IDX = np.array([[[0, 3, 5], [1, 2, 4]], [[2, 3, 4], [0, 1, 5]]])        # (2, 2, 3), distinct per plane
_UNPOOL_IDX2 = np.array([[[[0, 3], [9, 14]]]])                                  # (1, 1, 2, 2) in a 4x4 plane


def ref_unpool(x, idx, size):
    n, c = x.shape[:2]
    out = np.zeros((n, c, int(np.prod(size))))
    np.put_along_axis(out, idx.reshape(n, c, -1), x.reshape(n, c, -1), axis=2)
    return out.reshape((n, c) + tuple(size))


def ref_lp(x, p, k, s):
    """(sum of x^p over the windows)^(1/p) for positive x (last two axes)."""
    return (ref_pool(x ** p, k, s, (0, 0), kind="avg") * (k[0] * k[1])) ** (1 / p)


def _positive(r, *shape):
    return np.abs(r.standard_normal(shape)) + 0.5


ENTRIES = [
    # --- F.pad: every mode, with negative widths (cropping) --------------------------------------
    OpEntry("pad_constant_crop", lambda a: tn.pad(a, (1, -1, -1, 2), value=0.3), lambda r: [_n(r, 2, 3, 4)],
            lambda a: ref_pad(a, (1, -1, -1, 2), value=0.3)),
    OpEntry("pad_constant_three_axes", lambda a: tn.pad(a, (0, 1, 1, 0, 2, 1)), lambda r: [_n(r, 2, 2, 3)],
            lambda a: ref_pad(a, (0, 1, 1, 0, 2, 1))),
    OpEntry("pad_reflect_2d_crop", lambda a: tn.pad(a, (2, -1, -1, 1), mode="reflect"),
            lambda r: [_n(r, 1, 2, 3, 4)], lambda a: ref_pad(a, (2, -1, -1, 1), "reflect")),
    OpEntry("pad_replicate_3d", lambda a: tn.pad(a, (1, 2, 0, 1, -1, 1), mode="replicate"),
            lambda r: [_n(r, 1, 1, 3, 2, 3)], lambda a: ref_pad(a, (1, 2, 0, 1, -1, 1), "replicate")),
    OpEntry("pad_circular_crop", lambda a: tn.pad(a, (1, -1, 2, 0), mode="circular"),
            lambda r: [_n(r, 1, 2, 3, 4)], lambda a: ref_pad(a, (1, -1, 2, 0), "circular")),
    # --- interpolate ----------------------------------------------------------------------------
    OpEntry("interpolate_nearest_2d", lambda a: tn.interpolate(a, scale_factor=1.5),
            lambda r: [_n(r, 1, 2, 3, 2)], lambda a: ref_interpolate(a, (4, 3), "nearest", scale=(1.5, 1.5))),
    OpEntry("interpolate_nearest_exact_1d", lambda a: tn.interpolate(a, size=3, mode="nearest-exact"),
            lambda r: [_n(r, 2, 2, 5)], lambda a: ref_interpolate(a, (3,), "nearest-exact")),
    OpEntry("interpolate_linear", lambda a: tn.interpolate(a, scale_factor=1.7, mode="linear"),
            lambda r: [_n(r, 2, 2, 4)], lambda a: ref_interpolate(a, (6,), "linear", scale=(1.7,))),
    OpEntry("interpolate_linear_align", lambda a: tn.interpolate(a, size=7, mode="linear", align_corners=True),
            lambda r: [_n(r, 1, 2, 4)], lambda a: ref_interpolate(a, (7,), "linear", align=True)),
    OpEntry("interpolate_bilinear_down", lambda a: tn.interpolate(a, scale_factor=(0.6, 0.75), mode="bilinear"),
            lambda r: [_n(r, 1, 2, 5, 4)],
            lambda a: ref_interpolate(a, (3, 3), "bilinear", scale=(0.6, 0.75))),
    OpEntry("interpolate_bilinear_align", lambda a: tn.interpolate(a, size=(4, 5), mode="bilinear",
                                                                     align_corners=True),
            lambda r: [_n(r, 1, 1, 3, 3)], lambda a: ref_interpolate(a, (4, 5), "bilinear", align=True)),
    OpEntry("interpolate_bicubic", lambda a: tn.interpolate(a, size=(5, 3), mode="bicubic"),
            lambda r: [_n(r, 1, 1, 3, 4)], lambda a: ref_interpolate(a, (5, 3), "bicubic")),
    OpEntry("interpolate_bicubic_align", lambda a: tn.interpolate(a, scale_factor=1.5, mode="bicubic",
                                                                    align_corners=True),
            lambda r: [_n(r, 1, 1, 3, 2)], lambda a: ref_interpolate(a, (4, 3), "bicubic", align=True)),
    OpEntry("interpolate_trilinear", lambda a: tn.interpolate(a, size=(3, 2, 3), mode="trilinear"),
            lambda r: [_n(r, 1, 1, 2, 3, 2)], lambda a: ref_interpolate(a, (3, 2, 3), "trilinear")),
    OpEntry("interpolate_bilinear_antialias", lambda a: tn.interpolate(a, size=(2, 3), mode="bilinear",
                                                                         antialias=True),
            lambda r: [_n(r, 1, 2, 5, 4)], lambda a: ref_antialias(a, (2, 3))),
    OpEntry("interpolate_area", lambda a: tn.interpolate(a, size=(2, 3), mode="area"),
            lambda r: [_n(r, 1, 2, 5, 4)], lambda a: ref_adaptive(a, (2, 3), "avg")),
    # --- transposed 1-d convolution -------------------------------------------------------------
    OpEntry("conv_transpose1d", lambda x, w, b: tn.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1,
                                                                     groups=2, dilation=1),
            lambda r: [_n(r, 2, 4, 3), _n(r, 4, 1, 3), _n(r, 2)],
            lambda x, w, b: ref_conv_transpose2d(x[:, :, None], w[:, :, None], (1, 2), (0, 1), (0, 1), 2,
                                                 (1, 1))[:, :, 0] + b.reshape(1, -1, 1),
            kernel_families=("im2col",)),
    # --- unfold / fold / pixel shuffle / Tensor.unfold ------------------------------------------
    OpEntry("unfold", lambda x: tn.unfold(x, (2, 3), dilation=(1, 2), padding=(1, 0), stride=(2, 1)),
            lambda r: [_n(r, 2, 2, 4, 5)], lambda x: ref_unfold(x, (2, 3), (1, 2), (1, 0), (2, 1)),
            kernel_families=("im2col",)),
    OpEntry("fold", lambda c: tn.fold(c, (4, 5), (2, 3), dilation=(1, 2), padding=(1, 0), stride=(2, 1)),
            lambda r: [_n(r, 2, 12, 3)], lambda c: ref_fold(c, (4, 5), (2, 3), (1, 2), (1, 0), (2, 1)),
            kernel_families=("im2col",)),
    OpEntry("pixel_shuffle", lambda x: tn.pixel_shuffle(x, 2), lambda r: [_n(r, 2, 8, 2, 3)],
            lambda x: ref_pixel_shuffle(x, 2)),
    OpEntry("pixel_unshuffle", lambda x: tn.pixel_unshuffle(x, 2), lambda r: [_n(r, 2, 2, 4, 2)],
            lambda x: ref_pixel_unshuffle(x, 2)),
    OpEntry("tensor_unfold", lambda x: tensor_unfold(x, 1, 3, 2), lambda r: [_n(r, 2, 7, 3)],
            lambda x: ref_tensor_unfold(x, 1, 3, 2)),
    # --- pools ----------------------------------------------------------------------------------
    OpEntry("max_pool1d", lambda x: tn.max_pool1d(x, 3, stride=2, padding=1, dilation=1, ceil_mode=True),
            lambda r: [_apart(r, 2, 2, 6)],
            lambda x: ref_pool(x[:, :, None], (1, 3), (1, 2), (0, 1), ceil_mode=True)[:, :, 0],
            kernel_families=("pooling",)),
    OpEntry("avg_pool1d", lambda x: tn.avg_pool1d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            lambda r: [_n(r, 2, 2, 6)],
            lambda x: ref_pool(x[:, :, None], (1, 3), (1, 2), (0, 1), ceil_mode=True, kind="avg",
                               count_include_pad=False)[:, :, 0], kernel_families=("pooling",)),
    OpEntry("adaptive_avg_pool1d", lambda x: tn.adaptive_avg_pool1d(x, 3), lambda r: [_n(r, 2, 2, 5)],
            lambda x: ref_adaptive(x, (3,), "avg")),
    OpEntry("adaptive_max_pool1d", lambda x: tn.adaptive_max_pool1d(x, 3), lambda r: [_apart(r, 2, 2, 5)],
            lambda x: ref_adaptive(x, (3,), "max")),
    OpEntry("adaptive_max_pool2d", lambda x: tn.adaptive_max_pool2d(x, (2, 3)), lambda r: [_apart(r, 1, 2, 5, 4)],
            lambda x: ref_adaptive(x, (2, 3), "max")),
    OpEntry("max_unpool1d", lambda x, i: tn.max_unpool1d(x, i, 2, stride=2), lambda r: [_n(r, 2, 2, 3), _UNPOOL_IDX],
            lambda x, i: ref_unpool(x, i, (6,))),
    OpEntry("max_unpool2d", lambda x, i: tn.max_unpool2d(x, i, 2, output_size=(4, 4)),
            lambda r: [_n(r, 1, 1, 2, 2), _UNPOOL_IDX2], lambda x, i: ref_unpool(x, i, (4, 4))),
    OpEntry("lp_pool2d", lambda x: tn.lp_pool2d(x, 2, (2, 3), stride=(1, 2)), lambda r: [_positive(r, 1, 2, 3, 5)],
            lambda x: ref_lp(x, 2, (2, 3), (1, 2)), kernel_families=("pooling", "relu")),
    OpEntry("lp_pool1d", lambda x: tn.lp_pool1d(x, 3, 2), lambda r: [_positive(r, 2, 2, 5)],
            lambda x: ref_lp(x[:, :, None], 3, (1, 2), (1, 2))[:, :, 0], kernel_families=("pooling", "relu")),
]
