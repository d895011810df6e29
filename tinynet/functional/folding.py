"""Sliding blocks and sub-pixel rearrangements: ``unfold``/``fold`` (im2col/col2im),
``pixel_shuffle``/``pixel_unshuffle`` and ``Tensor.unfold`` (sliding windows along one axis).

``unfold`` copies every ``kh x kw`` block of an (N, C, H, W) image into a column:
``out[n, c*kh*kw + i*kw + j, l] = x_padded[n, c, p*sh + i*dh, q*sw + j*dw]`` with
``l = p*OW + q``. That is exactly a grouped convolution with a one-hot ("identity") kernel
of ``C*kh*kw`` output channels, so ``unfold`` is :func:`conv2d` with that constant weight
and ``fold`` (its adjoint, which sums the overlapping blocks back into place) is
:func:`conv_transpose2d` with the same weight. Both reuse the convolution's im2col/col2im
kernels and its gradients of any order; nothing here needs a backward of its own.

``pixel_shuffle`` moves ``r*r`` channels into an ``r x r`` spatial block (sub-pixel
convolution, Shi et al. 2016): a reshape, a permute and a reshape; ``pixel_unshuffle`` is its
inverse. ``Tensor.unfold(dimension, size, step)`` (:func:`tensor_unfold`) is a different
op: the windows ``x[..., k*step : k*step + size, ...]`` of one axis, stacked along a new
last axis (a gather).
"""
from __future__ import annotations

import numpy as _np  # host-side only: the one-hot kernel and the window index table

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..tensor.tensor import Tensor
from ._args import as_int, as_ints
from ._util import normalize_axis
from .conv import conv2d, conv_geometry, conv_transpose2d
from .indexing import index_select

__all__ = ["fold", "pixel_shuffle", "pixel_unshuffle", "unfold"]


def _one_hot_kernel(x, c, kh, kw):
    """The constant (c*kh*kw, 1, kh, kw) weight with a single 1 per output channel."""
    k = kh * kw
    w = _np.zeros((c * k, 1, kh, kw), dtype=x.dtype)
    w.reshape(c, k, k)[:, _np.arange(k), _np.arange(k)] = 1
    return Tensor._make(x.device.from_host(w), x.device)


def _check_float(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise DTypeError(f"{op}: input must be a floating tensor, got {x.dtype}; convert with `.float()`")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding blocks (im2col): (N, C, H, W) -> (N, C*kh*kw, L), L = OH*OW blocks.

    Row ``c*kh*kw + i*kw + j`` of block ``l`` holds tap (i, j) of channel c (zero-padded by
    ``padding``, taps ``dilation`` apart, blocks ``stride`` apart), as PyTorch's ``F.unfold``.
    An unbatched (C, H, W) input gives (C*kh*kw, L).
    """
    op = "unfold"
    _check_float(input, op)
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a 4-D (N, C, H, W) or 3-D unbatched (C, H, W) input, got shape "
                         f"{tuple(input.shape)}")
    x = input.unsqueeze(0) if input.ndim == 3 else input
    kh, kw = as_ints(kernel_size, 2, "kernel_size", op)
    if kh <= 0 or kw <= 0:
        raise ArgumentError(f"{op}: kernel_size must be positive, got {kernel_size!r}")
    n, c = x.shape[0], x.shape[1]
    cols = conv2d(x, _one_hot_kernel(x, c, kh, kw), None, stride, padding, dilation, groups=c, op=op)
    out = cols.reshape(n, c * kh * kw, -1)
    return out.squeeze(0) if input.ndim == 3 else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding blocks into an image (col2im), summing where blocks overlap: the adjoint of :func:`unfold`.

    ``input`` is (N, C*kh*kw, L) (or unbatched (C*kh*kw, L)); ``output_size`` (H, W) with
    ``L`` equal to the number of blocks :func:`unfold` would take from an (H, W) image.
    Returns (N, C, H, W). ``fold(unfold(x))`` multiplies each pixel by the number of blocks
    covering it.
    """
    op = "fold"
    _check_float(input, op)
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 3-D (N, C*kh*kw, L) or 2-D unbatched (C*kh*kw, L) input, got shape "
                         f"{tuple(input.shape)}")
    x = input.unsqueeze(0) if input.ndim == 2 else input
    h, w = as_ints(output_size, 2, "output_size", op)
    kh, kw = as_ints(kernel_size, 2, "kernel_size", op)
    if min(kh, kw) <= 0:
        raise ArgumentError(f"{op}: kernel_size must be positive, got {kernel_size!r}")
    n, ck, length = x.shape
    if ck % (kh * kw):
        raise ShapeError(f"{op}: expected the size of input dimension 1 ({ck}) to be divisible by the product of "
                         f"kernel_size {kh}*{kw} = {kh * kw} (input shape {tuple(input.shape)})")
    if h <= 0 or w <= 0:
        raise ArgumentError(f"{op}: output_size must be positive, got {output_size!r}")
    c = ck // (kh * kw)
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = conv_geometry((h, w), (kh, kw), stride, padding, dilation, op)
    if isinstance(padding, str):
        raise TypeError(f"{op}: padding must be an int or a pair, got {padding!r}")
    if oh * ow != length:
        raise ShapeError(f"{op}: an output_size of {(h, w)} with kernel_size {(kh, kw)}, dilation {(dh, dw)}, "
                         f"padding {(ph, pw)} and stride {(sh, sw)} has {oh}x{ow} = {oh * ow} blocks, but the "
                         f"input has {length} (input shape {tuple(input.shape)})")
    base_h = (oh - 1) * sh - 2 * ph + dh * (kh - 1) + 1
    base_w = (ow - 1) * sw - 2 * pw + dw * (kw - 1) + 1
    y = conv_transpose2d(x.reshape(n, ck, oh, ow), _one_hot_kernel(x, c, kh, kw), None, (sh, sw), (ph, pw),
                         (h - base_h, w - base_w), groups=c, dilation=(dh, dw), op=op)
    return y.squeeze(0) if input.ndim == 2 else y


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r): ``out[c, h*r + i, w*r + j] = in[c*r*r + i*r + j, h, w]``."""
    op = "pixel_shuffle"
    r = as_int(upscale_factor, "upscale_factor", op, minimum=1)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ShapeError(f"{op}: expected an input with at least 3 dimensions (*, C*r*r, H, W), got shape "
                         f"{tuple(input.shape)}")
    *lead, crr, h, w = input.shape
    if crr % (r * r):
        raise ShapeError(f"{op}: the channel count {crr} must be divisible by upscale_factor squared "
                         f"({r}*{r} = {r * r}) (input shape {tuple(input.shape)})")
    c, k = crr // (r * r), len(lead)
    x = input.reshape(*lead, c, r, r, h, w)
    axes = list(range(k)) + [k, k + 3, k + 1, k + 4, k + 2]
    return x.permute(*axes).reshape(*lead, c, h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W): the inverse of :func:`pixel_shuffle`."""
    op = "pixel_unshuffle"
    r = as_int(downscale_factor, "downscale_factor", op, minimum=1)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ShapeError(f"{op}: expected an input with at least 3 dimensions (*, C, H*r, W*r), got shape "
                         f"{tuple(input.shape)}")
    *lead, c, hr, wr = input.shape
    if hr % r or wr % r:
        raise ShapeError(f"{op}: the height {hr} and width {wr} must be divisible by downscale_factor {r} "
                         f"(input shape {tuple(input.shape)})")
    h, w, k = hr // r, wr // r, len(lead)
    x = input.reshape(*lead, c, h, r, w, r)
    axes = list(range(k)) + [k, k + 2, k + 4, k + 1, k + 3]
    return x.permute(*axes).reshape(*lead, c * r * r, h, w)


def tensor_unfold(self, dimension, size, step):
    """``Tensor.unfold``: every window ``[k*step, k*step + size)`` of axis ``dimension``, along a new last axis.

    The axis becomes ``(n - size)//step + 1`` windows long and a new last axis of length
    ``size`` holds each window's elements (PyTorch's ``Tensor.unfold``; unlike ``F.unfold``
    this is not image-specific). A 0-d tensor is treated as having one element.
    """
    op = "Tensor.unfold"
    if self.ndim == 0:
        d = normalize_axis(dimension, 1, op)
        return tensor_unfold(self.reshape(1), d, size, step)
    d = normalize_axis(dimension, self.ndim, op)
    size = as_int(size, "size", op, minimum=0)
    step = as_int(step, "step", op, minimum=1)
    n = self.shape[d]
    if size > n:
        raise ShapeError(f"{op}: maximum size for the tensor at dimension {d} is {n} but size is {size} "
                         f"(shape {tuple(self.shape)})")
    count = (n - size) // step + 1
    idx = (_np.arange(count)[:, None] * step + _np.arange(size)[None, :]).reshape(-1).astype(_np.int64)
    dev = self.device
    picked = index_select(self, d, Tensor._make(dev.from_host(idx), dev))
    shape = list(self.shape)
    shape[d:d + 1] = [count, size]
    out = picked.reshape(*shape)
    axes = list(range(d + 1)) + list(range(d + 2, len(shape))) + [d + 1]
    return out.permute(*axes)
