"""Pooling: max, average and adaptive average over the spatial axes of NCHW images.

* ``max_pool2d`` keeps the largest value of each window and remembers where it was
  (``idx``); its gradient routes each output gradient back to that pixel (a
  scatter-add), and the gradient of that scatter is the matching gather, so the pair
  :class:`MaxPool2dBackward` / :class:`MaxPool2dGather` makes higher orders work.
* ``avg_pool2d`` is linear: ``y = A x`` for a fixed averaging matrix ``A``. Its
  gradient is ``A^T g`` (:class:`AvgPool2dBackward`) and the gradient of that is ``A``
  again, so the two ops are each other's backward.
* ``adaptive_avg_pool2d`` picks the windows from the wanted output size (PyTorch's
  ``floor(i*H/oh) .. ceil((i+1)*H/oh)``): a mean for 1x1, an ``avg_pool2d`` when the
  sizes divide, otherwise two small averaging matrices ``Ph x Pw^T``.

The hot loops are ``kernels/{cpu,cuda}/pooling.py``.
"""
from __future__ import annotations

import numpy as _np  # host-side only: building small constant averaging matrices

from ..backend.errors import ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._args import as_int
from .conv import _batched, _check_tensor, _ints

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "adaptive_avg_pool2d", "avg_pool2d", "global_avg_pool2d", "max_pool2d"
]


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size (with ceil_mode's "last window must start inside" rule)."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
    else:
        out = span // s + 1
    return out


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, op):
    kh, kw = _ints(kernel_size, 2, "kernel_size", op)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        sh, sw = kh, kw
    else:
        sh, sw = _ints(stride, 2, "stride", op)
    ph, pw = _ints(padding, 2, "padding", op)
    dh, dw = _ints(dilation, 2, "dilation", op)
    if kh <= 0 or kw <= 0:
        raise ShapeError(f"{op}: kernel_size must be positive, got {(kh, kw)}")
    if sh <= 0 or sw <= 0:
        raise ValueError(f"{op}: stride must be positive, got {(sh, sw)}")
    if dh <= 0 or dw <= 0:
        raise ValueError(f"{op}: dilation must be positive, got {(dh, dw)}")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {(ph, pw)}")
    if 2 * ph > kh or 2 * pw > kw:
        raise ShapeError(f"{op}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    h, w = x.shape[2], x.shape[3]
    oh = _pool_out(h, kh, sh, ph, dh, ceil_mode)
    ow = _pool_out(w, kw, sw, pw, dw, ceil_mode)
    if oh <= 0 or ow <= 0:
        eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        raise ShapeError(
            f"{op}: kernel size {eh}x{ew} is larger than the padded input {h + 2 * ph}x{w + 2 * pw} "
            f"(input {h}x{w}, input shape {tuple(x.shape)}). Use a smaller kernel or larger inputs."
        )
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow)


def _prepare(input, op):
    _check_tensor(input, "input", op)
    return _batched(input, op, "(N, C, H, W)")


# --- max pooling ------------------------------------------------------------------------
class MaxPool2d(Op):
    """y = window max; keeps ``idx`` (flat h*W + w of each max) for the backward."""

    name = "max_pool2d"
    saves_output = False

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.geometry
        y, self.idx = self.kernels.max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
        self.in_hw = x.shape[2:]
        if self.sink is not None:
            self.sink.append(self.idx)
        return y

    def backward(self, g):
        return MaxPool2dBackward.apply(g, idx=self.idx, in_hw=self.in_hw, geometry=self.geometry)

    def backward_array(self, g):
        return _scatter(self, g)


def _scatter(fn, g):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), _ = fn.geometry
    return fn.kernels.max_pool2d_backward(g, fn.idx, *fn.in_hw, kh, kw, sh, sw, ph, pw, dh, dw)


class MaxPool2dBackward(Op):
    """Scatter-add of window gradients onto the winning pixels (the gradient of max_pool2d)."""

    name = "max_pool2d_backward"
    saves_values = False

    def forward(self, g):
        return _scatter(self, g)

    def backward(self, gg):
        return MaxPool2dGather.apply(gg, idx=self.idx, geometry=self.geometry)

    def backward_array(self, gg):
        return _gather(self.xp, gg, self.idx)


class MaxPool2dGather(Op):
    """out[n, c, oy, ox] = v[n, c, idx[n, c, oy, ox]]: read the winning pixels (adjoint of the scatter)."""

    name = "max_pool2d_gather"
    saves_values = False

    def forward(self, v):
        self.in_hw = v.shape[2:]
        return _gather(self.xp, v, self.idx)

    def backward(self, g):
        return MaxPool2dBackward.apply(g, idx=self.idx, in_hw=self.in_hw, geometry=self.geometry)

    def backward_array(self, g):
        return _scatter(self, g)


def _gather(xp, v, idx):
    n, c, h, w = v.shape
    flat_idx = idx.reshape(n * c, -1)
    valid = flat_idx >= 0
    picked = xp.take_along_axis(v.reshape(n * c, h * w), xp.where(valid, flat_idx, 0), axis=1)
    if not bool(valid.all()):
        picked = xp.where(valid, picked, 0)
    return picked.reshape(idx.shape).astype(v.dtype, copy=False)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
               *, op: str = "max_pool2d"):
    """Max over ``kernel_size`` windows of (N, C, H, W) (or unbatched (C, H, W)).

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) pads
    with −inf; ``dilation`` spaces the window's taps; ``ceil_mode`` rounds the output
    size up. With ``return_indices=True`` also returns the int64 flat index ``h*W + w``
    of each maximum inside its plane (what ``max_unpool2d`` would need).
    """
    x, unbatched = _prepare(input, op)
    geometry = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, op)
    sink = [] if return_indices else None
    y = MaxPool2d.apply(x, geometry=geometry, sink=sink)
    if return_indices:
        idx = Tensor._make(sink[0], x.device)
        if unbatched:
            return y.squeeze(0), idx.squeeze(0)
        return y, idx
    return y.squeeze(0) if unbatched else y


# --- average pooling --------------------------------------------------------------------
class AvgPool2d(Op):
    """y = window mean (PyTorch's divisor rules); linear in x."""

    name = "avg_pool2d"
    saves_values = False

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.geometry
        self.in_hw = x.shape[2:]
        return self.kernels.avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow, self.count_include_pad,
                                               self.divisor_override)

    def backward(self, g):
        return AvgPool2dBackward.apply(g, geometry=self.geometry, in_hw=self.in_hw,
                                       count_include_pad=self.count_include_pad,
                                       divisor_override=self.divisor_override)

    def backward_array(self, g):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.geometry
        return self.kernels.avg_pool2d_backward(g, *self.in_hw, kh, kw, sh, sw, ph, pw, oh, ow,
                                                self.count_include_pad, self.divisor_override)


class AvgPool2dBackward(Op):
    """dx = A^T g: each window's gradient spread evenly over its pixels (gradient of avg_pool2d)."""

    name = "avg_pool2d_backward"
    saves_values = False

    def forward(self, g):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.geometry
        return self.kernels.avg_pool2d_backward(g, *self.in_hw, kh, kw, sh, sw, ph, pw, oh, ow,
                                                self.count_include_pad, self.divisor_override)

    def backward(self, gg):
        return AvgPool2d.apply(gg, geometry=self.geometry, count_include_pad=self.count_include_pad,
                               divisor_override=self.divisor_override)

    def backward_array(self, gg):
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.geometry
        return self.kernels.avg_pool2d_forward(gg, kh, kw, sh, sw, ph, pw, oh, ow, self.count_include_pad,
                                               self.divisor_override)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, op: str = "avg_pool2d"):
    """Mean over ``kernel_size`` windows of (N, C, H, W) (or unbatched (C, H, W)).

    ``stride`` defaults to ``kernel_size``; zero ``padding`` (at most half the kernel) is
    counted in the mean when ``count_include_pad`` (PyTorch's default);
    ``divisor_override`` divides every window sum by a fixed number instead.
    """
    x, unbatched = _prepare(input, op)
    (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode, op)
    if divisor_override is not None:
        divisor_override = as_int(divisor_override, "divisor_override", op, minimum=1)
    y = AvgPool2d.apply(x, geometry=((kh, kw), (sh, sw), (ph, pw), (oh, ow)),
                        count_include_pad=bool(count_include_pad), divisor_override=int(divisor_override or 0))
    return y.squeeze(0) if unbatched else y


# --- adaptive average pooling -----------------------------------------------------------
def _adaptive_matrix(xp, dtype, size, out):
    """(out, size) matrix averaging PyTorch's adaptive windows floor(i*size/out)..ceil((i+1)*size/out)."""
    m = _np.zeros((out, size), dtype=_np.float64)
    for i in range(out):
        start = (i * size) // out
        end = -(-((i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return xp.asarray(m.astype(dtype))


def adaptive_avg_pool2d(input, output_size, *, op: str = "adaptive_avg_pool2d"):
    """Average-pool (N, C, H, W) to ``output_size`` (an int, a pair; None keeps that axis).

    Output cell ``i`` averages rows ``floor(i*H/oh)`` to ``ceil((i+1)*H/oh)`` (likewise for
    columns), as in PyTorch; 1x1 is the global average pooling of ResNet-style heads.
    """
    x, unbatched = _prepare(input, op)
    h, w = x.shape[2], x.shape[3]
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        oh, ow = (n if v is None else as_int(v, "output_size", op) for v, n in zip(output_size, (h, w)))
    else:
        oh, ow = _ints(output_size, 2, "output_size", op)
    if not all(v > 0 for v in (oh, ow)):
        raise ShapeError(f"{op}: output_size must be positive ints, got {output_size!r}")
    if h == 0 or w == 0:
        raise ShapeError(f"{op}: input has an empty spatial axis (shape {tuple(input.shape)})")
    if (oh, ow) == (1, 1):
        y = x.mean(axis=(2, 3), keepdims=True)
    elif h % oh == 0 and w % ow == 0:
        y = avg_pool2d(x, (h // oh, w // ow), op=op)
    else:
        dev = x.device
        ph = Tensor._make(_adaptive_matrix(dev.xp, x.dtype, h, oh), dev)
        pwt = Tensor._make(_adaptive_matrix(dev.xp, x.dtype, w, ow).T.copy(), dev)
        y = ph @ x @ pwt
    return y.squeeze(0) if unbatched else y


def global_avg_pool2d(input):
    """Mean over H and W: (N, C, H, W) -> (N, C, 1, 1). Same as ``adaptive_avg_pool2d(x, 1)``."""
    return adaptive_avg_pool2d(input, 1, op="global_avg_pool2d")

