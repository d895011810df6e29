"""Registry entries for convolution, pooling and channel dropout (small shapes).

The NumPy references compute a convolution tap by tap (a strided slice of the padded
input times one weight column per kernel offset), independently of im2col; pooling
references build PyTorch's windows explicitly. Ops that only appear inside gradients
(the input/weight gradients of conv2d, the max-pool scatter and gather, the average-pool
adjoint) get entries of their own that call them directly.
"""
import itertools

import numpy as np

import tinynet as tn
from tinynet.functional import conv as C
from tinynet.functional import pooling as P

from . import OpEntry, _n, _apart


# --- references -------------------------------------------------------------------------------
def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    o, cg, kh, kw = w.shape
    n, c, h, wd = x.shape
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    else:
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        pads = ((ph, ph), (pw, pw))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, groups, o // groups, oh, ow))
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    for i, j in itertools.product(range(kh), range(kw)):
        patch = xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
        patch = patch.reshape(n, groups, cg, oh, ow)
        y += np.einsum("ngchw,goc->ngohw", patch, wg[:, :, :, i, j])
    y = y.reshape(n, o, oh, ow)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def ref_conv2d_weight(x, g, kernel, stride, padding):
    """dW[o, c, i, j] = sum over n, p, q of g[n, o, p, q] * x_padded[n, c, p*sh + i, q*sw + j]."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = g.shape[2], g.shape[3]
    dw = np.zeros((g.shape[1], x.shape[1], kh, kw))
    for i, j in itertools.product(range(kh), range(kw)):
        patch = xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
        dw[:, :, i, j] = np.einsum("nohw,nchw->oc", g, patch)
    return dw


def ref_conv_transpose2d(x, w, stride, padding, output_padding, groups, dilation):
    """Scatter every input pixel times the kernel into the output (the definition)."""
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + output_padding[0] + 1
    out_w = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + output_padding[1] + 1
    full = np.zeros((n, cog * groups, out_h + 2 * ph + sh + dh * kh, out_w + 2 * pw + sw + dw * kw))
    cig = cin // groups
    for g, ci, y, xx, i, j in itertools.product(range(groups), range(cig), range(h), range(wd), range(kh), range(kw)):
        full[:, g * cog:(g + 1) * cog, y * sh + i * dh, xx * sw + j * dw] += (
            x[:, g * cig + ci, y, xx][:, None] * w[g * cig + ci, :, i, j][None, :])
    return full[:, :, ph:ph + out_h, pw:pw + out_w]


def ref_pool(x, kernel, stride, padding, dilation=(1, 1), ceil_mode=False, kind="max",
             count_include_pad=True, divisor_override=None):
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    n, c, h, w = x.shape

    def out(size, k, s, p, d):
        span = size + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1
        return o

    oh, ow = out(h, kh, sh, ph, dh), out(w, kw, sw, pw, dw)
    y = np.zeros((n, c, oh, ow))
    for oy, ox in itertools.product(range(oh), range(ow)):
        hs, ws = oy * sh - ph, ox * sw - pw
        if kind == "max":
            vals = [x[:, :, hs + i * dh, ws + j * dw] for i in range(kh) for j in range(kw)
                    if 0 <= hs + i * dh < h and 0 <= ws + j * dw < w]
            y[:, :, oy, ox] = np.max(vals, axis=0)
        else:
            he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)
            size = (he - hs) * (we - ws)
            hs2, ws2, he2, we2 = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            div = divisor_override or (size if count_include_pad else (he2 - hs2) * (we2 - ws2))
            y[:, :, oy, ox] = x[:, :, hs2:he2, ws2:we2].sum(axis=(2, 3)) / div
    return y


def ref_adaptive_avg(x, oh, ow):
    n, c, h, w = x.shape
    y = np.zeros((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
        ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
        y[:, :, i, j] = x[:, :, hs:he, ws:we].mean(axis=(2, 3))
    return y


def _max_idx(x, geometry):
    """The winners' indices of a max pooling of the constant ``x`` (for the scatter/gather entries)."""
    return tn.device("cpu").kernels.max_pool2d_forward(x, *geometry[0], *geometry[1], *geometry[2],
                                                      *geometry[3], *geometry[4])[1]


_POOL_GEOM = ((3, 2), (2, 1), (1, 1), (1, 1), (3, 6))      # on a (2, 2, 5, 5) input
_POOL_X = np.random.default_rng(7).permutation(100).reshape(2, 2, 5, 5).astype(np.float64)
_POOL_IDX = _max_idx(_POOL_X, _POOL_GEOM)
_AVG_GEOM = ((3, 2), (2, 1), (1, 1), (3, 6))


def _idx_on(t):
    return tn.device(t.device).from_host(_POOL_IDX)


def _seeded_dropout2d(x, p):
    tn.manual_seed(3)
    return tn.dropout2d(x, p)


ENTRIES = [
    # conv2d: strides, paddings ('same' with an even kernel is asymmetric), dilations, groups
    OpEntry("conv2d", lambda x, w, b: tn.conv2d(x, w, b, padding=1),
            lambda r: [_n(r, 2, 2, 4, 4), _n(r, 3, 2, 3, 3), _n(r, 3)],
            lambda x, w, b: ref_conv2d(x, w, b, padding=1), kernel_families=("im2col",)),
    OpEntry("conv2d_stride_dilation", lambda x, w: tn.conv2d(x, w, stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
            lambda r: [_n(r, 1, 2, 6, 5), _n(r, 2, 2, 2, 3)],
            lambda x, w: ref_conv2d(x, w, stride=(2, 1), padding=(0, 2), dilation=(1, 2)), kernel_families=("im2col",)),
    OpEntry("conv2d_groups", lambda x, w, b: tn.conv2d(x, w, b, stride=2, padding=1, groups=2),
            lambda r: [_n(r, 2, 4, 5, 5), _n(r, 4, 2, 3, 3), _n(r, 4)],
            lambda x, w, b: ref_conv2d(x, w, b, stride=2, padding=1, groups=2), kernel_families=("im2col",)),
    OpEntry("conv2d_same_even_kernel", lambda x, w: tn.conv2d(x, w, padding="same"),
            lambda r: [_n(r, 1, 2, 4, 5), _n(r, 2, 2, 2, 2)],
            lambda x, w: ref_conv2d(x, w, padding="same"), kernel_families=("im2col",)),
    OpEntry("conv2d_unbatched", lambda x, w: tn.conv2d(x, w),
            lambda r: [_n(r, 2, 4, 4), _n(r, 2, 2, 3, 3)],
            lambda x, w: ref_conv2d(x[None], w)[0], kernel_families=("im2col",)),
    OpEntry("conv1d", lambda x, w, b: tn.conv1d(x, w, b, stride=2, padding=1, dilation=2),
            lambda r: [_n(r, 2, 2, 7), _n(r, 3, 2, 2), _n(r, 3)],
            lambda x, w, b: ref_conv2d(x[:, :, None], w[:, :, None], b, stride=(1, 2), padding=(0, 1),
                                       dilation=(1, 2))[:, :, 0], kernel_families=("im2col",)),
    # the gradients of conv2d as ops of their own
    OpEntry("conv_transpose2d", lambda x, w: tn.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
            lambda r: [_n(r, 1, 2, 3, 3), _n(r, 2, 2, 3, 3)],
            lambda x, w: ref_conv_transpose2d(x, w, (2, 2), (1, 1), (1, 1), 1, (1, 1)), kernel_families=("im2col",)),
    OpEntry("conv_transpose2d_groups_dilation",
            lambda x, w, b: tn.conv_transpose2d(x, w, b, stride=(1, 2), padding=(1, 0), groups=2, dilation=(2, 1)),
            lambda r: [_n(r, 1, 4, 3, 2), _n(r, 4, 1, 2, 2), _n(r, 2)],
            lambda x, w, b: ref_conv_transpose2d(x, w, (1, 2), (1, 0), (0, 0), 2, (2, 1)) + b.reshape(1, -1, 1, 1),
            kernel_families=("im2col",)),
    OpEntry("conv2d_weight", lambda x, g: C.conv2d_weight(x, (3, 2, 2, 3), g, stride=(1, 2), padding=1),
            lambda r: [_n(r, 2, 2, 4, 4), _n(r, 2, 3, 5, 2)],
            lambda x, g: ref_conv2d_weight(x, g, (2, 3), (1, 2), (1, 1)), kernel_families=("im2col",)),
    OpEntry("conv2d_input", lambda w, g: C.conv2d_input((2, 2, 4, 4), w, g, stride=2, padding=1),
            lambda r: [_n(r, 3, 2, 3, 3), _n(r, 2, 3, 2, 2)],
            lambda w, g: ref_conv_transpose2d(g, w, (2, 2), (1, 1), (1, 1), 1, (1, 1)), kernel_families=("im2col",)),
    # pooling
    OpEntry("max_pool2d", lambda x: tn.max_pool2d(x, 2),
            lambda r: [_apart(r, 2, 2, 4, 5)], lambda x: ref_pool(x, (2, 2), (2, 2), (0, 0)),
            kernel_families=("pooling",)),
    OpEntry("max_pool2d_padded_dilated_ceil",
            lambda x: tn.max_pool2d(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
            lambda r: [_apart(r, 1, 1, 6, 5)],
            lambda x: ref_pool(x, (3, 2), (2, 1), (1, 1), (1, 2), ceil_mode=True), kernel_families=("pooling",)),
    OpEntry("max_pool2d_backward",
            lambda g: P.MaxPool2dBackward.apply(g, idx=_idx_on(g), in_hw=(5, 5), geometry=_POOL_GEOM),
            lambda r: [_n(r, 2, 2, 3, 6)],
            lambda g: _max_backward_ref(g), kernel_families=("pooling",)),
    OpEntry("max_pool2d_gather", lambda v: P.MaxPool2dGather.apply(v, idx=_idx_on(v), geometry=_POOL_GEOM),
            lambda r: [_n(r, 2, 2, 5, 5)],
            lambda v: np.take_along_axis(v.reshape(4, 25), _POOL_IDX.reshape(4, 18), 1).reshape(2, 2, 3, 6),
            kernel_families=("pooling",)),
    OpEntry("avg_pool2d", lambda x: tn.avg_pool2d(x, 3, stride=2, padding=1),
            lambda r: [_n(r, 2, 2, 5, 6)], lambda x: ref_pool(x, (3, 3), (2, 2), (1, 1), kind="avg"),
            kernel_families=("pooling",)),
    OpEntry("avg_pool2d_ceil_no_pad_count",
            lambda x: tn.avg_pool2d(x, (3, 2), stride=(2, 1), padding=1, ceil_mode=True, count_include_pad=False),
            lambda r: [_n(r, 1, 1, 6, 5)],
            lambda x: ref_pool(x, (3, 2), (2, 1), (1, 1), ceil_mode=True, kind="avg", count_include_pad=False),
            kernel_families=("pooling",)),
    OpEntry("avg_pool2d_divisor_override", lambda x: tn.avg_pool2d(x, 2, divisor_override=3),
            lambda r: [_n(r, 1, 1, 4, 4)], lambda x: ref_pool(x, (2, 2), (2, 2), (0, 0), kind="avg", divisor_override=3),
            kernel_families=("pooling",)),
    OpEntry("avg_pool2d_backward",
            lambda g: P.AvgPool2dBackward.apply(g, geometry=_AVG_GEOM, in_hw=(5, 5), count_include_pad=True,
                                                divisor_override=0),
            lambda r: [_n(r, 2, 2, 3, 6)], lambda g: _avg_backward_ref(g), kernel_families=("pooling",)),
    OpEntry("adaptive_avg_pool2d_1x1", lambda x: tn.adaptive_avg_pool2d(x, 1),
            lambda r: [_n(r, 2, 3, 4, 5)], lambda x: x.mean(axis=(2, 3), keepdims=True)),
    OpEntry("adaptive_avg_pool2d_uneven", lambda x: tn.adaptive_avg_pool2d(x, (3, 2)),
            lambda r: [_n(r, 2, 2, 5, 5)], lambda x: ref_adaptive_avg(x, 3, 2)),
    OpEntry("adaptive_avg_pool2d_divisible", lambda x: tn.adaptive_avg_pool2d(x, (2, 3)),
            lambda r: [_n(r, 1, 1, 4, 6)], lambda x: ref_adaptive_avg(x, 2, 3), kernel_families=("pooling",)),
    OpEntry("dropout2d", lambda x: _seeded_dropout2d(x, 0.5),
            lambda r: [_n(r, 3, 4, 2, 2)],
            lambda x: x * (np.random.default_rng(3).random((3, 4)) >= 0.5).reshape(3, 4, 1, 1) * 2.0),
]


def _max_backward_ref(g):
    dx = np.zeros((4, 25))
    for p, q in itertools.product(range(4), range(18)):
        dx[p, _POOL_IDX.reshape(4, 18)[p, q]] += g.reshape(4, 18)[p, q]
    return dx.reshape(2, 2, 5, 5)


def _avg_backward_ref(g):
    """A^T g, with A the averaging matrix found by pushing unit images through the reference."""
    cols = []
    for k in range(25):
        e = np.zeros((1, 1, 5, 5))
        e.reshape(-1)[k] = 1.0
        cols.append(ref_pool(e, (3, 2), (2, 1), (1, 1), kind="avg").reshape(-1))
    a = np.stack(cols, axis=1)                      # (18, 25)
    return (g.reshape(4, 18) @ a).reshape(2, 2, 5, 5)
