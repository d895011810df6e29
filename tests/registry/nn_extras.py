"""Registry entries for the nn extras: affine_grid / grid_sample (2-d and 3-d, every mode and
padding mode), conv3d / conv_transpose3d, the 3-d pools, channel and alpha dropout (seeded),
rms_norm, channel_shuffle, pdist, gumbel_softmax (soft, seeded), ctc_loss and
triplet_margin_with_distance_loss.

The references are written independently of the implementations: grid_sample as a scalar loop
over output points with PyTorch's coordinate formulas, convolutions as loops over kernel taps
(transposed ones as the scatter definition), pools as loops over windows, CTC as the textbook
forward recursion over one sample at a time.
"""
import itertools
import math

import numpy as np

import tinynet as tn

from . import OpEntry, _apart, _n


# --- affine_grid / grid_sample ---------------------------------------------------------------------
def _lin(n, align):
    if n <= 1:
        return np.zeros(n)
    v = np.linspace(-1, 1, n)
    return v if align else v * (n - 1) / n


def ref_affine_grid(theta, size, align):
    spatial = size[2:]
    out = np.zeros((size[0],) + tuple(spatial) + (len(spatial),))
    axes = [_lin(s, align) for s in spatial]
    for n in range(size[0]):
        for pos in itertools.product(*[range(s) for s in spatial]):
            coords = [axes[k][pos[k]] for k in range(len(spatial))][::-1] + [1.0]   # x, y[, z], 1
            out[(n,) + pos] = theta[n] @ np.array(coords)
    return out


def _source(u, size, align, padding):
    """PyTorch's grid_sampler_compute_source_index for one coordinate."""
    x = (u + 1) / 2 * (size - 1) if align else ((u + 1) * size - 1) / 2
    if padding == "border":
        x = min(max(x, 0), size - 1)
    elif padding == "reflection":
        lo2, hi2 = (0, 2 * (size - 1)) if align else (-1, 2 * size - 1)
        if lo2 == hi2:
            x = 0.0
        else:
            lo, span = lo2 / 2, (hi2 - lo2) / 2
            d = abs(x - lo)
            extra = math.fmod(d, span)
            flips = math.floor(d / span)
            x = extra + lo if flips % 2 == 0 else span - extra + lo
        x = min(max(x, 0), size - 1)
    return x


def _cubic_w(t, a=-0.75):
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1            # noqa: E731
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a        # noqa: E731
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def ref_bicubic(inp, grid, padding, align):
    """PyTorch's bicubic grid_sample: unnormalise without padding, pad each of the 16 taps."""
    n, c, h, w = inp.shape
    out = np.zeros((n, c) + grid.shape[1:3])
    for b in range(n):
        for q in itertools.product(range(grid.shape[1]), range(grid.shape[2])):
            gx, gy = grid[(b,) + q]
            px = (gx + 1) / 2 * (w - 1) if align else ((gx + 1) * w - 1) / 2
            py = (gy + 1) / 2 * (h - 1) if align else ((gy + 1) * h - 1) / 2
            x0, y0 = math.floor(px), math.floor(py)
            wx, wy = _cubic_w(px - x0), _cubic_w(py - y0)
            for j in range(4):
                for i in range(4):
                    xi, yi = x0 - 1 + i, y0 - 1 + j
                    if padding != "zeros":
                        xi = int(_source(2 * xi / (w - 1) - 1 if align else (2 * xi + 1) / w - 1, w, align, padding))
                        yi = int(_source(2 * yi / (h - 1) - 1 if align else (2 * yi + 1) / h - 1, h, align, padding))
                    if 0 <= xi < w and 0 <= yi < h:
                        out[(b, slice(None)) + q] += wx[i] * wy[j] * inp[b, :, yi, xi]
    return out


def ref_grid_sample(inp, grid, mode, padding, align):
    if mode == "bicubic":
        return ref_bicubic(inp, grid, padding, align)
    n, c = inp.shape[:2]
    sizes = inp.shape[2:]
    nd = len(sizes)
    out_sp = grid.shape[1:-1]
    out = np.zeros((n, c) + tuple(out_sp))
    for b in range(n):
        for q in itertools.product(*[range(s) for s in out_sp]):
            g = grid[(b,) + q]
            pos = [_source(g[nd - 1 - k], sizes[k], align, padding) for k in range(nd)]
            if mode == "nearest":
                idx = [int(np.rint(p)) for p in pos]
                if all(0 <= i < s for i, s in zip(idx, sizes)):
                    out[(b, slice(None)) + q] = inp[(b, slice(None)) + tuple(idx)]
                continue
            lows = [math.floor(p) for p in pos]
            for corner in itertools.product((0, 1), repeat=nd):
                idx = [lo + u for lo, u in zip(lows, corner)]
                w = np.prod([(p - lo) if u else (1 - (p - lo)) for p, lo, u in zip(pos, lows, corner)])
                if all(0 <= i < s for i, s in zip(idx, sizes)):
                    out[(b, slice(None)) + q] += w * inp[(b, slice(None)) + tuple(idx)]
    return out


def _grid(r, *shape):
    """Grid coordinates in (-1.3, 1.3) (some outside the image) kept away from pixel boundaries
    (for every size used here) where bilinear weights have kinks."""
    return r.uniform(-1.3, 1.3, shape)


def _gs(mode, padding, align):
    return lambda x, g: tn.nn.functional.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=align)


def _gs_ref(mode, padding, align):
    return lambda x, g: ref_grid_sample(x, g, mode, padding, align)


# --- 3-d convolutions --------------------------------------------------------------------------------
def ref_conv3d(x, w, b, stride, padding, dilation, groups):
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    k = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    outs = [(xp.shape[2 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(3)]
    y = np.zeros((n, groups, o // groups) + tuple(outs))
    wg = w.reshape((groups, o // groups, cg) + tuple(k))
    for t in itertools.product(*[range(v) for v in k]):
        sl = tuple(slice(t[i] * dilation[i], t[i] * dilation[i] + stride[i] * (outs[i] - 1) + 1, stride[i])
                   for i in range(3))
        patch = xp[(slice(None), slice(None)) + sl].reshape((n, groups, cg) + tuple(outs))
        y += np.einsum("ngcdhw,goc->ngodhw", patch, wg[(slice(None),) * 3 + t])
    y = y.reshape((n, o) + tuple(outs))
    return y if b is None else y + b.reshape(1, -1, 1, 1, 1)


def ref_conv_transpose3d(x, w, b, stride, padding, output_padding, groups, dilation):
    n, cin = x.shape[:2]
    cog = w.shape[1]
    k = w.shape[2:]
    sp = x.shape[2:]
    outs = [(sp[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k[i] - 1) + output_padding[i] + 1
            for i in range(3)]
    full = np.zeros((n, cog * groups) + tuple(outs[i] + 2 * padding[i] for i in range(3)))
    cig = cin // groups
    for ci in range(cin):
        g = ci // cig
        for p in itertools.product(*[range(v) for v in sp]):
            for t in itertools.product(*[range(v) for v in k]):
                q = tuple(p[i] * stride[i] + t[i] * dilation[i] for i in range(3))
                full[(slice(None), slice(g * cog, (g + 1) * cog)) + q] += (
                    x[(slice(None), ci) + p][:, None] * w[(ci, slice(None)) + t][None, :])
    y = full[(slice(None), slice(None)) + tuple(slice(padding[i], padding[i] + outs[i]) for i in range(3))]
    return y if b is None else y + b.reshape(1, -1, 1, 1, 1)


# --- 3-d pools --------------------------------------------------------------------------------------
def _pool_size(size, k, s, p, d, ceil):
    span = size + 2 * p - d * (k - 1) - 1
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
        return out
    return span // s + 1


def ref_pool3d(x, k, s, p, d=(1, 1, 1), ceil=False, kind="max", count_include_pad=True, divisor=None):
    sizes = x.shape[2:]
    outs = [_pool_size(sizes[i], k[i], s[i], p[i], d[i], ceil) for i in range(3)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for o in itertools.product(*[range(v) for v in outs]):
        starts = [o[i] * s[i] - p[i] for i in range(3)]
        if kind == "max":
            best = np.full(x.shape[:2], -np.inf)
            for t in itertools.product(*[range(v) for v in k]):
                q = [starts[i] + t[i] * d[i] for i in range(3)]
                if all(0 <= q[i] < sizes[i] for i in range(3)):
                    best = np.maximum(best, x[(slice(None), slice(None)) + tuple(q)])
            y[(slice(None), slice(None)) + o] = best
        else:
            ends = [min(starts[i] + k[i], sizes[i] + p[i]) for i in range(3)]
            pool = np.prod([ends[i] - starts[i] for i in range(3)])
            lo = [max(v, 0) for v in starts]
            hi = [min(ends[i], sizes[i]) for i in range(3)]
            win = x[(slice(None), slice(None)) + tuple(slice(lo[i], hi[i]) for i in range(3))]
            cnt = divisor or (pool if count_include_pad else win[0, 0].size)
            y[(slice(None), slice(None)) + o] = win.sum(axis=(2, 3, 4)) / cnt
    return y


def ref_adaptive3d(x, outs, kind):
    sizes = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for o in itertools.product(*[range(v) for v in outs]):
        sl = tuple(slice((o[i] * sizes[i]) // outs[i], -(-((o[i] + 1) * sizes[i]) // outs[i])) for i in range(3))
        win = x[(slice(None), slice(None)) + sl]
        y[(slice(None), slice(None)) + o] = win.max(axis=(2, 3, 4)) if kind == "max" else win.mean(axis=(2, 3, 4))
    return y


# --- CTC ---------------------------------------------------------------------------------------------
def _logadd(*v):
    m = max(v)
    return m if m == -np.inf else m + math.log(sum(math.exp(a - m) for a in v))


def ref_ctc(lp, targets, in_len, tg_len, blank, reduction):
    losses = []
    for b in range(lp.shape[1]):
        lab = [blank]
        for t in targets[b, :tg_len[b]]:
            lab += [int(t), blank]
        alpha = [-np.inf] * len(lab)
        alpha[0] = lp[0, b, lab[0]]
        if len(lab) > 1:
            alpha[1] = lp[0, b, lab[1]]
        for t in range(1, in_len[b]):
            new = []
            for s in range(len(lab)):
                terms = [alpha[s]] + ([alpha[s - 1]] if s >= 1 else [])
                if s >= 2 and lab[s] != blank and lab[s] != lab[s - 2]:
                    terms.append(alpha[s - 2])
                new.append(lp[t, b, lab[s]] + _logadd(*terms))
            alpha = new
        ll = _logadd(*alpha[-2:]) if len(lab) > 1 else alpha[-1]
        losses.append(-ll)
    losses = np.array(losses)
    if reduction == "mean":
        return (losses / np.maximum(tg_len, 1)).mean()
    return losses.sum() if reduction == "sum" else losses


_CTC_TARGETS = np.array([[1, 2, 2], [3, 1, 0]])
_CTC_IN, _CTC_TG = np.array([5, 4]), np.array([3, 2])


def _log_softmax(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


# --- misc --------------------------------------------------------------------------------------------
def ref_rms_norm(x, k, w=None, eps=None):
    eps = np.finfo(np.float64).eps if eps is None else eps
    axes = tuple(range(x.ndim - k, x.ndim))
    y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return y if w is None else y * w


def ref_pdist(x, p):
    out = []
    for i in range(x.shape[0]):
        for j in range(i + 1, x.shape[0]):
            d = np.abs(x[i] - x[j])
            out.append(d.max() if p == np.inf else (d ** p).sum() ** (1 / p))
    return np.array(out)


def _seeded(fn):
    def call(*args):
        tn.manual_seed(5)
        return fn(*args)
    return call


def _l1_dist(a, b):
    return (a - b).abs().sum(-1)


def ref_triplet(a, p, n, dist, margin, swap):
    dp, dn = dist(a, p), dist(a, n)
    if swap:
        dn = np.minimum(dn, dist(p, n))
    return np.maximum(dp - dn + margin, 0).mean()


F = tn.nn.functional
_IM2COL = ("im2col",)   # conv3d / conv_transpose3d are sums of conv2d / conv_transpose2d (im2col kernels)

ENTRIES = [
    # --- affine_grid / grid_sample ------------------------------------------------------------------
    OpEntry("affine_grid_2d", lambda t: F.affine_grid(t, (2, 1, 3, 4), align_corners=False),
            lambda r: [_n(r, 2, 2, 3)], lambda t: ref_affine_grid(t, (2, 1, 3, 4), False)),
    OpEntry("affine_grid_3d_align", lambda t: F.affine_grid(t, (1, 2, 2, 3, 2), align_corners=True),
            lambda r: [_n(r, 1, 3, 4)], lambda t: ref_affine_grid(t, (1, 2, 2, 3, 2), True)),
    *[OpEntry(f"grid_sample_bilinear_{pm}_{'align' if ac else 'noalign'}", _gs("bilinear", pm, ac),
              lambda r: [_n(r, 2, 2, 3, 4), _grid(r, 2, 2, 3, 2)], _gs_ref("bilinear", pm, ac))
      for pm in ("zeros", "border", "reflection") for ac in (False, True)],
    *[OpEntry(f"grid_sample_bicubic_{pm}_{'align' if ac else 'noalign'}", _gs("bicubic", pm, ac),
              lambda r: [_n(r, 1, 2, 3, 4), _grid(r, 1, 2, 2, 2)], _gs_ref("bicubic", pm, ac))
      for pm, ac in (("zeros", False), ("border", True), ("reflection", False))],
    OpEntry("grid_sample_nearest_zeros", _gs("nearest", "zeros", False),
            lambda r: [_n(r, 1, 2, 3, 4), _grid(r, 1, 3, 2, 2)], _gs_ref("nearest", "zeros", False), no_grad=(1,)),
    OpEntry("grid_sample_nearest_reflection_align", _gs("nearest", "reflection", True),
            lambda r: [_n(r, 1, 2, 3, 4), _grid(r, 1, 3, 2, 2)], _gs_ref("nearest", "reflection", True),
            no_grad=(1,)),
    OpEntry("grid_sample_trilinear_zeros", _gs("bilinear", "zeros", False),
            lambda r: [_n(r, 1, 2, 2, 3, 2), _grid(r, 1, 2, 2, 1, 3)], _gs_ref("bilinear", "zeros", False)),
    OpEntry("grid_sample_trilinear_border_align", _gs("bilinear", "border", True),
            lambda r: [_n(r, 1, 1, 2, 3, 2), _grid(r, 1, 1, 2, 2, 3)], _gs_ref("bilinear", "border", True)),
    # --- 3-d convolutions ----------------------------------------------------------------------------
    OpEntry("conv3d", lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1), padding=1, dilation=(1, 2, 1)),
            lambda r: [_n(r, 2, 2, 4, 5, 3), _n(r, 3, 2, 2, 2, 2), _n(r, 3)],
            lambda x, w, b: ref_conv3d(x, w, b, (2, 1, 1), (1, 1, 1), (1, 2, 1), 1), kernel_families=_IM2COL),
    OpEntry("conv3d_groups_same", lambda x, w: F.conv3d(x, w, None, padding="same", groups=2),
            lambda r: [_n(r, 1, 4, 3, 3, 2), _n(r, 2, 2, 2, 3, 1)],
            lambda x, w: ref_conv3d(np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 1), (0, 0))), w, None, (1, 1, 1),
                                    (0, 0, 0), (1, 1, 1), 2), kernel_families=_IM2COL),
    OpEntry("conv_transpose3d", lambda x, w, b: F.conv_transpose3d(x, w, b, stride=(2, 1, 2), padding=(1, 0, 1),
                                                                   output_padding=(1, 0, 1), dilation=(1, 2, 1)),
            lambda r: [_n(r, 1, 2, 2, 3, 2), _n(r, 2, 3, 2, 2, 2), _n(r, 3)],
            lambda x, w, b: ref_conv_transpose3d(x, w, b, (2, 1, 2), (1, 0, 1), (1, 0, 1), 1, (1, 2, 1)),
            kernel_families=_IM2COL),
    OpEntry("conv_transpose3d_groups", lambda x, w: F.conv_transpose3d(x, w, None, stride=2, groups=2),
            lambda r: [_n(r, 1, 4, 2, 2, 1), _n(r, 4, 1, 2, 1, 2)],
            lambda x, w: ref_conv_transpose3d(x, w, None, (2, 2, 2), (0, 0, 0), (0, 0, 0), 2, (1, 1, 1)),
            kernel_families=_IM2COL),
    # --- 3-d pools -----------------------------------------------------------------------------------
    OpEntry("max_pool3d", lambda x: F.max_pool3d(x, 2, stride=(1, 2, 2), padding=1, dilation=(1, 1, 2),
                                                 ceil_mode=True),
            lambda r: [_apart(r, 1, 2, 3, 4, 5)],
            lambda x: ref_pool3d(x, (2, 2, 2), (1, 2, 2), (1, 1, 1), (1, 1, 2), True)),
    OpEntry("avg_pool3d", lambda x: F.avg_pool3d(x, 3, stride=2, padding=1, ceil_mode=True),
            lambda r: [_n(r, 1, 2, 4, 5, 3)], lambda x: ref_pool3d(x, (3, 3, 3), (2, 2, 2), (1, 1, 1), ceil=True,
                                                                   kind="avg")),
    OpEntry("avg_pool3d_exclude_pad", lambda x: F.avg_pool3d(x, 2, stride=1, padding=1, count_include_pad=False),
            lambda r: [_n(r, 1, 1, 2, 3, 2)],
            lambda x: ref_pool3d(x, (2, 2, 2), (1, 1, 1), (1, 1, 1), kind="avg", count_include_pad=False)),
    OpEntry("avg_pool3d_divisor", lambda x: F.avg_pool3d(x, (1, 2, 2), divisor_override=3),
            lambda r: [_n(r, 1, 2, 2, 4, 4)],
            lambda x: ref_pool3d(x, (1, 2, 2), (1, 2, 2), (0, 0, 0), kind="avg", divisor=3)),
    OpEntry("adaptive_avg_pool3d", lambda x: F.adaptive_avg_pool3d(x, (2, 3, None)),
            lambda r: [_n(r, 1, 2, 3, 5, 2)], lambda x: ref_adaptive3d(x, (2, 3, 2), "avg")),
    OpEntry("adaptive_max_pool3d", lambda x: F.adaptive_max_pool3d(x, (2, 2, 3)),
            lambda r: [_apart(r, 1, 2, 3, 3, 4)], lambda x: ref_adaptive3d(x, (2, 2, 3), "max")),
    OpEntry("lp_pool3d", lambda x: F.lp_pool3d(x, 2, (1, 2, 2)),
            lambda r: [np.abs(_n(r, 1, 2, 2, 4, 4)) + 0.5],
            lambda x: np.sqrt(ref_pool3d(x ** 2, (1, 2, 2), (1, 2, 2), (0, 0, 0), kind="avg") * 4),
            kernel_families=("relu",)),
    OpEntry("max_unpool3d", lambda x: F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2),
            lambda r: [_apart(r, 1, 2, 2, 4, 2)],
            lambda x: np.where(x == np.repeat(np.repeat(np.repeat(ref_pool3d(x, (2, 2, 2), (2, 2, 2), (0, 0, 0)),
                                                                  2, 2), 2, 3), 2, 4), x, 0.0)),
    # --- dropouts (seeded: the same mask on every call and device) ----------------------------------------
    OpEntry("dropout1d", _seeded(lambda x: F.dropout1d(x, 0.4)), lambda r: [_n(r, 3, 4, 2)], None),
    OpEntry("dropout3d", _seeded(lambda x: F.dropout3d(x, 0.4)), lambda r: [_n(r, 2, 3, 2, 1, 2)], None),
    OpEntry("alpha_dropout", _seeded(lambda x: F.alpha_dropout(x, 0.3, True)), lambda r: [_n(r, 3, 4)], None),
    OpEntry("feature_alpha_dropout", _seeded(lambda x: F.feature_alpha_dropout(x, 0.3, True)),
            lambda r: [_n(r, 3, 4, 2)], None),
    # --- normalisation, shuffles, distances, sampling --------------------------------------------------
    OpEntry("rms_norm", lambda x, w: F.rms_norm(x, (3, 2), w), lambda r: [_n(r, 2, 3, 2), _n(r, 3, 2)],
            lambda x, w: ref_rms_norm(x, 2, w)),
    OpEntry("rms_norm_eps", lambda x: F.rms_norm(x, [4], eps=0.1), lambda r: [_n(r, 3, 4)],
            lambda x: ref_rms_norm(x, 1, None, 0.1)),
    OpEntry("channel_shuffle", lambda x: F.channel_shuffle(x, 3), lambda r: [_n(r, 2, 6, 2)],
            lambda x: x.reshape(2, 3, 2, 2).transpose(0, 2, 1, 3).reshape(2, 6, 2)),
    OpEntry("pdist_p2", lambda x: F.pdist(x), lambda r: [_n(r, 4, 3)], lambda x: ref_pdist(x, 2.0)),
    OpEntry("pdist_p1", lambda x: F.pdist(x, 1.0), lambda r: [_apart(r, 4, 3)], lambda x: ref_pdist(x, 1.0),
            gradgrad=False),   # |.| has a kink: its second derivative is 0 almost everywhere, checked via p=2/3
    OpEntry("pdist_p3", lambda x: F.pdist(x, 3.0), lambda r: [_apart(r, 3, 4)], lambda x: ref_pdist(x, 3.0)),
    OpEntry("pdist_inf", lambda x: F.pdist(x, math.inf), lambda r: [_apart(r, 3, 4)],
            lambda x: ref_pdist(x, np.inf), gradgrad=False),
    OpEntry("gumbel_softmax_soft", _seeded(lambda x: F.gumbel_softmax(x, tau=0.7)), lambda r: [_n(r, 3, 4)], None,
            kernel_families=("softmax",)),
    # --- losses -------------------------------------------------------------------------------------------
    OpEntry("ctc_loss_mean", lambda lp: F.ctc_loss(F.log_softmax(lp, 2), tn.tensor(_CTC_TARGETS), _CTC_IN, _CTC_TG),
            lambda r: [_n(r, 5, 2, 4)],
            lambda lp: ref_ctc(_log_softmax(lp, 2), _CTC_TARGETS, _CTC_IN, _CTC_TG, 0, "mean"),
            kernel_families=("softmax",)),
    OpEntry("ctc_loss_none_blank_last", lambda lp: F.ctc_loss(lp, tn.tensor(_CTC_TARGETS - 0), _CTC_IN, _CTC_TG,
                                                             blank=4, reduction="none"),
            lambda r: [_n(r, 5, 2, 5) - 1.5],
            lambda lp: ref_ctc(lp, _CTC_TARGETS, _CTC_IN, _CTC_TG, 4, "none")),
    OpEntry("triplet_margin_with_distance_loss", lambda a, p, n: F.triplet_margin_with_distance_loss(
                a, p, n, distance_function=_l1_dist, margin=2.0, swap=True),
            lambda r: [_apart(r, 5, 3), _apart(r, 5, 3) * 1.1, _apart(r, 5, 3) * 0.9],
            lambda a, p, n: ref_triplet(a, p, n, lambda x, y: np.abs(x - y).sum(-1), 2.0, True), gradgrad=False),
]
