"""Resizing (PyTorch's ``F.interpolate`` / ``F.upsample``): nearest, linear, cubic and area.

Every mode except ``area`` is *separable*: the output along one spatial axis is a fixed
combination of at most 4 input slices along that axis, so an N-d resize is one 1-d resize
per axis (the last axis first, as PyTorch's CPU kernel nests its loops)::

    out[..., j, ...] = sum over taps k of  w_k[j] * x[..., i_k[j], ...]

with integer source positions ``i_k`` and weights ``w_k`` that depend only on the sizes.
They are computed on the host with PyTorch's exact arithmetic (in float32 for float32
inputs, float64 for float64 ones, as its ``opmath`` type), then applied with
``index_select`` (a gather, whose gradient is a scatter-add) and products with constants,
so every mode is differentiable to any order without an op of its own.

Coordinates (``in``/``out`` are the axis sizes, ``s`` the scale used by the kernel: ``1/
scale_factor`` when a scale factor is given and not recomputed, else ``in/out``):

* ``nearest``: ``i = min(floor(j*s), in-1)``; ``nearest-exact``: ``min(floor((j+0.5)*s), in-1)``.
* ``linear``/``bilinear``/``trilinear``: source ``x = s*(j+0.5) - 0.5`` clamped at 0, or with
  ``align_corners=True`` ``x = j*(in-1)/(out-1)`` (corner pixels aligned); taps ``floor(x)``
  and the next one (the last index repeats at the edge), weights ``1-t`` and ``t``.
* ``bicubic``: the same source ``x`` (not clamped), the 4 taps ``floor(x)-1 .. floor(x)+2``
  clamped into the axis, Keys' cubic convolution weights with ``A = -0.75``.
* ``area``: adaptive average pooling to the output size.
* ``antialias=True`` (bilinear/bicubic): a filter centred at ``s*(j+0.5)``, stretched by
  ``s`` when downsampling, with normalised weights (see :func:`_antialias_taps`).
"""
from __future__ import annotations

import math

import numpy as _np  # host-side only: index and weight tables

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..tensor.tensor import Tensor
from ._args import as_float, as_int
from .indexing import index_select
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75


def _scale_value(ft, scale, n_in, n_out):
    """PyTorch's ``compute_scales_value``: 1/scale_factor when given, else in/out (in ``ft``)."""
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _area_scale(ft, n_in, n_out, align_corners, scale):
    """PyTorch's ``area_pixel_compute_scale``."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    return _scale_value(ft, scale, n_in, n_out)


def _source(ft, s, j, align_corners, cubic):
    """PyTorch's ``area_pixel_compute_source_index`` for all output positions ``j``."""
    if align_corners:
        return s * j
    src = s * (j + ft(0.5)) - ft(0.5)
    return src if cubic else _np.maximum(src, ft(0))


def _cubic1(x, a):
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic2(x, a):
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def _taps(mode, n_in, n_out, align_corners, scale, ft, special=False):
    """[(index array, weight array or None)] of one axis (host NumPy; weights in ``ft``).

    ``special``: PyTorch's 2-d ``nearest`` kernel copies an axis whose size is unchanged and
    halves the index when the size doubles, whatever the scale factor (its 1-d and 3-d
    kernels use the formula throughout).
    """
    j = _np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        f32 = _np.float32
        if special and mode == "nearest" and n_out == n_in:
            idx = j
        elif special and mode == "nearest" and n_out == 2 * n_in:
            idx = j >> 1
        else:
            s = _scale_value(f32, scale, n_in, n_out)
            jf = j.astype(f32)
            pos = jf * s if mode == "nearest" else (jf + f32(0.5)) * s
            idx = _np.minimum(_np.floor(pos).astype(_np.int64), n_in - 1)
        return [(idx.astype(_np.int64), None)]
    s = _area_scale(ft, n_in, n_out, align_corners, scale)
    jf = j.astype(ft)
    if mode == "bicubic":
        src = _source(ft, s, jf, align_corners, True)
        i0 = _np.floor(src).astype(_np.int64)
        t = (src - i0.astype(ft)).astype(ft)
        a = ft(_CUBIC_A)
        one = ft(1)
        ws = [_cubic2(t + one, a), _cubic1(t, a), _cubic1(one - t, a), _cubic2((one - t) + one, a)]
        return [(_np.clip(i0 - 1 + k, 0, n_in - 1), ws[k].astype(ft)) for k in range(4)]
    if n_out == n_in:  # PyTorch copies when the size does not change (whatever the scale)
        return [(j.astype(_np.int64), None)]
    src = _source(ft, s, jf, align_corners, False)
    i0 = _np.minimum(_np.floor(src).astype(_np.int64), n_in - 1)
    lam1 = _np.clip(src - i0.astype(ft), ft(0), ft(1)).astype(ft)
    lam0 = (ft(1) - lam1).astype(ft)
    i1 = i0 + (i0 < n_in - 1)
    return [(i0, lam0), (i1, lam1)]


def _aa_filter(mode, x):
    """The antialiasing filters: the triangle (bilinear) and Keys' cubic with ``a = -0.5`` (bicubic)."""
    x = _np.abs(x)
    if mode == "bilinear":
        return _np.where(x < 1.0, 1.0 - x, 0.0)
    a = -0.5
    return _np.where(x < 1.0, ((a + 2.0) * x - (a + 3.0)) * x * x + 1,
                     _np.where(x < 2.0, (((x - 5) * x + 8) * x - 4) * a, 0.0))


def _antialias_taps(mode, n_in, n_out, align_corners, scale, ft):
    """Taps of PyTorch's antialiased resize (``_compute_weights_aa``) along one axis.

    Output ``j`` is centred at ``c = s*(j + 0.5)`` in input pixel units; when downsampling
    (``s > 1``) the filter is stretched by ``s``, so it averages every input pixel it covers
    (a low-pass filter: no aliasing) instead of reading only the nearest 2 or 4. Its weights
    ``filter((i - c + 0.5)/s)`` over the pixels ``i`` within ``support`` of ``c`` are
    normalised to sum to 1. Rows are padded to the widest window with zero weights.
    """
    s = _area_scale(ft, n_in, n_out, align_corners, scale)
    half = ft(1.0 if mode == "bilinear" else 2.0)
    support = ft(half * s) if s >= 1.0 else half
    invscale = ft(1.0 / s) if s >= 1.0 else ft(1.0)
    width = int(_np.ceil(support)) * 2 + 1
    idx = _np.zeros((width, n_out), dtype=_np.int64)
    wts = _np.zeros((width, n_out), dtype=ft)
    for j in range(n_out):
        center = ft(float(s) * (j + 0.5))
        lo = max(int(float(center) - float(support) + 0.5), 0)
        size = min(int(float(center) + float(support) + 0.5), n_in) - lo
        k = _np.arange(size)
        w = _aa_filter(mode, ((k + lo).astype(ft) - center + 0.5) * float(invscale)).astype(ft)
        total = w.sum(dtype=ft)
        if total != 0:
            w = (w / total).astype(ft)
        idx[:size, j] = k + lo
        idx[size:, j] = lo
        wts[:size, j] = w
    return [(idx[t], wts[t]) for t in range(width)]


def _resize_axis(x, axis, taps):
    """sum_k w_k * x[..., i_k, ...] along ``axis`` (gathers and products with constants)."""
    dev = x.device
    shape = [1] * x.ndim
    out = None
    for idx, w in taps:
        t = index_select(x, axis, Tensor._make(dev.from_host(idx), dev))
        if w is not None:
            shape[axis] = w.shape[0]
            t = t * Tensor._make(dev.from_host(w.reshape(shape).astype(x.dtype, copy=False)), dev)
        out = t if out is None else out + t
    return out


def _seq(value, n, what, convert, op):
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ArgumentError(f"{op}: {what} {tuple(value)} must have {n} element(s), one per spatial axis "
                                f"of the {n + 2}-D input")
        return [convert(v, what, op) for v in value]
    return [convert(value, what, op)] * n


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of ``input`` (N, C, L), (N, C, H, W) or (N, C, D, H, W) as PyTorch does.

    Give either ``size`` (the output's spatial size: an int or one per axis) or
    ``scale_factor`` (a float or one per axis; the output size is ``floor(in * scale)``).
    ``mode``: ``"nearest"`` (PyTorch's legacy rule, which shifts the picture by half a
    pixel), ``"nearest-exact"`` (centred), ``"linear"`` (3-D), ``"bilinear"`` / ``"bicubic"``
    (4-D), ``"trilinear"`` (5-D) or ``"area"`` (3-D/4-D). ``align_corners`` (interpolating
    modes only) maps the corner pixels' centres onto each other instead of their outer
    edges. ``recompute_scale_factor=True`` computes the coordinates from the sizes instead of
    the given ``scale_factor``. ``antialias=True`` (bilinear and bicubic only) stretches the
    filter when downsampling so every input pixel contributes (PyTorch's and PIL's
    antialiasing). See the module docstring for the rules.
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"{op}: unknown mode {mode!r}; expected one of {_MODES}")
    if input.ndim not in (3, 4, 5):
        raise ShapeError(f"{op}: expected a 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, "
                         f"got shape {tuple(input.shape)}")
    nsp = input.ndim - 2
    if mode in _DIMS and _DIMS[mode] != nsp:
        raise NotImplementedError(f"{op}: got a {input.ndim}-D input, but mode {mode!r} needs a "
                                  f"{_DIMS[mode] + 2}-D input (shape {tuple(input.shape)})")
    if mode == "area" and nsp == 3:
        raise NotImplementedError(f"{op}: mode 'area' supports 3-D and 4-D inputs, got shape {tuple(input.shape)}")
    if align_corners is not None:
        if mode not in _DIMS:
            raise ArgumentError(f"{op}: align_corners can only be set with the interpolating modes linear, "
                                f"bilinear, bicubic and trilinear, not mode {mode!r}")
        if not isinstance(align_corners, bool):
            raise TypeError(f"{op}: align_corners must be a bool or None, got {align_corners!r}")
    align = bool(align_corners)
    antialias = bool(antialias)
    if antialias and mode not in ("bilinear", "bicubic"):
        raise ArgumentError(f"{op}: antialias is restricted to the bilinear and bicubic modes with a 4-D input, "
                            f"got mode {mode!r}")
    if (size is None) == (scale_factor is None):
        raise ArgumentError(f"{op}: give exactly one of size and scale_factor (got size={size!r}, "
                            f"scale_factor={scale_factor!r})")
    in_sizes = list(input.shape[2:])
    if size is not None:
        if recompute_scale_factor:
            raise ArgumentError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        out_sizes = _seq(size, nsp, "size", as_int, op)
        scales = [None] * nsp
    else:
        scales = _seq(scale_factor, nsp, "scale_factor", as_float, op)
        out_sizes = [int(math.floor(float(n) * s)) for n, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * nsp
    if mode == "area" and min(out_sizes) == 0 and min(in_sizes) > 0 and min(out_sizes) >= 0:
        return _empty_area(input, out_sizes)
    if any(n <= 0 for n in in_sizes) or any(n <= 0 for n in out_sizes):
        raise ShapeError(f"{op}: input and output sizes should be greater than 0, but got input "
                         f"{tuple(in_sizes)} and output {tuple(out_sizes)} (input shape {tuple(input.shape)})")
    if mode == "area":
        return (adaptive_avg_pool1d if nsp == 1 else adaptive_avg_pool2d)(input, tuple(out_sizes))
    if mode not in ("nearest", "nearest-exact") and input.dtype.kind != "f":
        raise DTypeError(f"{op}: mode {mode!r} needs a floating input, got {input.dtype}; convert with `.float()`")
    ft = _np.float64 if input.dtype == _np.float64 else _np.float32
    out = input
    for k in reversed(range(nsp)):  # the last axis first, as PyTorch nests its loops
        if mode == "nearest" and out_sizes[k] == in_sizes[k] and (nsp == 2 or scales[k] is None):
            continue  # an unchanged axis is copied (see _taps for PyTorch's 2-d special case)
        if antialias:
            if out_sizes[k] == in_sizes[k]:
                continue  # PyTorch's separable antialiased kernel skips an axis whose size is unchanged
            taps = _antialias_taps(mode, in_sizes[k], out_sizes[k], align, scales[k], ft)
        else:
            taps = _taps(mode, in_sizes[k], out_sizes[k], align, scales[k], ft, nsp == 2)
        out = _resize_axis(out, k + 2, taps)
    return input.clone() if out is input else out


def _empty_area(input, out_sizes):
    """An ``area`` resize to a size with a 0 (PyTorch's adaptive pooling gives an empty tensor):
    a 0-length slice along those axes and a gather of length ``out`` along the others, so the
    result stays in the graph (its gradient is zero)."""
    out = input
    for k, n in enumerate(out_sizes):
        if n == 0:
            out = out[(slice(None),) * (k + 2) + (slice(0, 0),)]
    dev = input.device
    for k, n in enumerate(out_sizes):
        if n > 0:
            out = index_select(out, k + 2, Tensor._make(dev.from_host(_np.zeros(n, dtype=_np.int64)), dev))
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated PyTorch alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode="nearest")`` (PyTorch's deprecated alias)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(..., mode="bilinear", align_corners=True)`` (PyTorch's deprecated alias)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
