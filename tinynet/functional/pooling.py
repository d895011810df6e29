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
* ``adaptive_max_pool2d`` gathers every (uneven) window into a padded row (the padding
  points at a ``-inf`` element) and takes the max of each row: composite, so its gradient
  is the gather's scatter-add.
* ``max_unpool2d`` writes each value at its index in a zero plane (:class:`MaxUnpool`); its
  gradient reads the output gradient back at those indices (a gather).
* The 1-d pools are the 2-d ones on a height-1 image; ``lp_pool`` is a power mean built
  on ``avg_pool2d``.
* The 3-d pools (max, average, adaptive, lp) gather every window through one host-built
  table of flat indices ``d*H*W + h*W + w`` (padding and ragged windows point at one extra
  element holding ``-inf`` or 0) and reduce each row: composite, so their gradients are the
  gather's scatter-add, at any order.

The hot loops are ``kernels/{cpu,cuda}/pooling.py``.
"""
from __future__ import annotations

import functools

import numpy as _np  # host-side only: building small constant averaging matrices

from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._args import as_float, as_int
from .activation import relu
from .conv import _batched, _check_tensor, _ints
from .elementwise import sign
from .indexing import gather, index_select
from .join import cat
from .reduction import amax

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
    "avg_pool2d", "global_avg_pool2d", "lp_pool1d", "lp_pool2d", "max_pool1d", "max_pool2d", "max_unpool1d",
    "max_unpool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool3d", "avg_pool3d", "lp_pool3d", "max_pool3d", "max_unpool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
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
        raise ArgumentError(f"{op}: stride must be positive, got {(sh, sw)}")
    if dh <= 0 or dw <= 0:
        raise ArgumentError(f"{op}: dilation must be positive, got {(dh, dw)}")
    if ph < 0 or pw < 0:
        raise ArgumentError(f"{op}: padding must be non-negative, got {(ph, pw)}")
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
def _integers_via_float64(pool):
    """Decorator for ``max_pool2d``/``max_pool3d``, which PyTorch also runs on integer tensors
    (they have no gradient; its 1-D and adaptive max pools refuse integers, and so do tinynet's).
    An integer input is pooled in float64, which is exact below 2**53, and the values come
    back in the input's dtype (indices, when returned, stay int64)."""
    @functools.wraps(pool)
    def wrapper(input, *args, **kwargs):
        if not (isinstance(input, Tensor) and input.array.dtype.kind in "iu"):
            return pool(input, *args, **kwargs)
        res = pool(input.to(dtype="float64"), *args, **kwargs)
        if isinstance(res, tuple):
            return (res[0].to(dtype=input.dtype),) + tuple(res[1:])
        return res.to(dtype=input.dtype)
    return wrapper


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


@_integers_via_float64
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



# --- 1-d pools (a 2-d pool over a height-1 image) ----------------------------------------------
def _as_2d(input, op):
    """(N, C, L) or unbatched (C, L) -> (N, C, 1, L) and the unbatched flag."""
    _check_tensor(input, "input", op)
    if input.ndim == 3:
        return input.unsqueeze(2), False
    if input.ndim == 2:
        return input.unsqueeze(0).unsqueeze(2), True
    raise ShapeError(f"{op}: expected input of shape (N, C, L) (3-D, or 2-D without the batch axis), "
                     f"got shape {tuple(input.shape)}")


def _from_2d(y, unbatched):
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


def _one(value, what, op):
    return _ints(value, 1, what, op)[0]


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of ``kernel_size`` along L of (N, C, L) (or unbatched (C, L)).

    The arguments are those of :func:`max_pool2d` along one axis; ``return_indices`` gives
    the int64 position of each maximum along L (what :func:`max_unpool1d` takes).
    """
    op = "max_pool1d"
    x, unbatched = _as_2d(input, op)
    k = _one(kernel_size, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _one(stride, "stride", op)
    out = max_pool2d(x, (1, k), (1, s), (0, _one(padding, "padding", op)), (1, _one(dilation, "dilation", op)),
                     ceil_mode, return_indices, op=op)
    if return_indices:
        return _from_2d(out[0], unbatched), _from_2d(out[1], unbatched)
    return _from_2d(out, unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of ``kernel_size`` along L of (N, C, L) (or unbatched (C, L)); see :func:`avg_pool2d`."""
    op = "avg_pool1d"
    x, unbatched = _as_2d(input, op)
    k = _one(kernel_size, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _one(stride, "stride", op)
    y = avg_pool2d(x, (1, k), (1, s), (0, _one(padding, "padding", op)), ceil_mode, count_include_pad, op=op)
    return _from_2d(y, unbatched)


def _out_size_1d(output_size, op):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 1:
            raise TypeError(f"{op}: output_size must be an int or a tuple of 1 int, got {output_size!r}")
        output_size = output_size[0]
    return as_int(output_size, "output_size", op, minimum=1)


def adaptive_avg_pool1d(input, output_size):
    """Average-pool (N, C, L) to length ``output_size``: cell ``i`` averages ``floor(i*L/o) .. ceil((i+1)*L/o)``."""
    op = "adaptive_avg_pool1d"
    x, unbatched = _as_2d(input, op)
    return _from_2d(adaptive_avg_pool2d(x, (1, _out_size_1d(output_size, op)), op=op), unbatched)


# --- adaptive max pooling ---------------------------------------------------------------------
def _adaptive_windows(size, out):
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _adaptive_table(h, w, oh, ow):
    """(oh*ow, K) flat indices h*W + w of every window's pixels, row-major, padded with h*w."""
    rows, cols = _adaptive_windows(h, oh), _adaptive_windows(w, ow)
    k = max(e - s for s, e in rows) * max(e - s for s, e in cols)
    table = _np.full((oh * ow, k), h * w, dtype=_np.int64)
    for i, (hs, he) in enumerate(rows):
        for j, (ws, we) in enumerate(cols):
            flat = (_np.arange(hs, he)[:, None] * w + _np.arange(ws, we)[None, :]).reshape(-1)
            table[i * ow + j, :flat.size] = flat
    return table


def _adaptive_size(output_size, hw, op):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise TypeError(f"{op}: output_size must be an int or a tuple of 2 ints (or None), got {output_size!r}")
        return tuple(n if v is None else as_int(v, "output_size", op, minimum=1) for v, n in zip(output_size, hw))
    return (as_int(output_size, "output_size", op, minimum=1),) * 2


def adaptive_max_pool2d(input, output_size, return_indices=False, *, op: str = "adaptive_max_pool2d"):
    """Max-pool (N, C, H, W) to ``output_size`` (an int, a pair; None keeps that axis).

    Output cell (i, j) is the max over rows ``floor(i*H/oh) .. ceil((i+1)*H/oh)`` and the
    matching columns, as in PyTorch. ``return_indices=True`` also returns the int64 flat
    index ``h*W + w`` of each maximum in its plane (the first one on ties).
    """
    x, unbatched = _prepare(input, op)
    n, c, h, w = x.shape
    oh, ow = _adaptive_size(output_size, (h, w), op)
    if h == 0 or w == 0 or n * c == 0:
        raise ShapeError(f"{op}: input has an empty axis (shape {tuple(input.shape)})")
    dev = x.device
    table = _adaptive_table(h, w, oh, ow)
    k = table.shape[1]
    floor = Tensor._make(dev.xp.full((n, c, 1), -_np.inf, dtype=x.dtype), dev)
    ext = cat([x.reshape(n, c, h * w), floor], axis=2)
    windows = index_select(ext, 2, Tensor._make(dev.from_host(table.reshape(-1)), dev)).reshape(n, c, oh, ow, k)
    y = amax(windows, 4)
    if return_indices:
        pos = dev.xp.argmax(windows.array, axis=4)
        idx = dev.from_host(table).reshape(oh, ow, k)[dev.xp.arange(oh)[:, None], dev.xp.arange(ow)[None, :], pos]
        idx = Tensor._make(idx.astype(_np.int64), dev)
        return (y.squeeze(0), idx.squeeze(0)) if unbatched else (y, idx)
    return y.squeeze(0) if unbatched else y


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max-pool (N, C, L) to length ``output_size`` (PyTorch's adaptive windows); optional int64 indices along L."""
    op = "adaptive_max_pool1d"
    x, unbatched = _as_2d(input, op)
    out = adaptive_max_pool2d(x, (1, _out_size_1d(output_size, op)), return_indices, op=op)
    if return_indices:
        return _from_2d(out[0], unbatched), _from_2d(out[1], unbatched)
    return _from_2d(out, unbatched)


# --- max unpooling ----------------------------------------------------------------------------
class MaxUnpool(Op):
    """out[n, c, idx[n, c, k]] = x[n, c, k] in a zero (N, C, size) array: the inverse of a max pool.

    Inputs: x (N, C, K) and the int64 ``idx`` (N, C, K) (a constant). The gradient reads the
    output gradient back at the indices (``gather``), linear in g, so any order works.
    """

    name = "max_unpool"
    saves_output = False  # the backward reads the indices (an input), never the output

    def forward(self, x, idx):
        xp = self.xp
        n, c, _ = x.shape
        out = xp.zeros((n, c, self.size), dtype=x.dtype)
        out[xp.arange(n)[:, None, None], xp.arange(c)[None, :, None], idx] = x
        return out

    def backward(self, g):
        return gather(g, 2, self.inputs[1]), None

    def backward_array(self, g):
        return self.xp.take_along_axis(g, self.inputs[1].array, axis=2), None


def _max_unpool(input, indices, kernel, stride, padding, output_size, nsp, op):
    """Shared body of max_unpool1d/2d on (N, C, *spatial) with ``nsp`` spatial axes."""
    _check_tensor(input, "input", op)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}: indices must be an int64 Tensor (from a max pool with return_indices=True), "
                        f"got {type(indices).__name__}")
    if indices.dtype.kind not in "iu":
        raise DTypeError(f"{op}: indices must be an integer tensor, got {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: indices must have the input's shape {tuple(input.shape)}, got "
                         f"{tuple(indices.shape)}")
    if indices.device is not input.device:
        raise DeviceError(f"{op}: input is on {input.device.type} but indices are on {indices.device.type}; "
                          f"move them with `.to('{input.device.type}')`")
    if input.ndim not in (nsp + 1, nsp + 2):
        raise ShapeError(f"{op}: expected a {nsp + 2}-D (N, C, ...) or {nsp + 1}-D unbatched input, got shape "
                         f"{tuple(input.shape)}")
    unbatched = input.ndim == nsp + 1
    x, idx = (input.unsqueeze(0), indices.unsqueeze(0)) if unbatched else (input, indices)
    ks = _ints(kernel, nsp, "kernel_size", op)
    ss = ks if stride is None else _ints(stride, nsp, "stride", op)
    ps = _ints(padding, nsp, "padding", op)
    if min(ks) <= 0 or min(ss) <= 0 or min(ps) < 0:
        raise ArgumentError(f"{op}: kernel_size and stride must be positive and padding non-negative, got "
                            f"kernel_size={kernel!r}, stride={stride!r}, padding={padding!r}")
    in_sp = x.shape[2:]
    default = tuple((i - 1) * s - 2 * p + k for i, s, p, k in zip(in_sp, ss, ps, ks))
    if output_size is None:
        out_sp = default
    else:
        out_sp = tuple(as_int(v, "output_size", op) for v in output_size)
        if len(out_sp) == nsp + 2:
            out_sp = out_sp[2:]
        if len(out_sp) != nsp:
            raise ArgumentError(f"{op}: output_size must have {nsp} (or {nsp + 2}) elements, got {tuple(output_size)}")
        for o, d, s in zip(out_sp, default, ss):
            if not d - s < o < d + s:
                raise ArgumentError(f"{op}: invalid output_size {tuple(output_size)}: each size must lie strictly "
                                    f"between {tuple(v - s for v, s in zip(default, ss))} and "
                                    f"{tuple(v + s for v, s in zip(default, ss))} (the default is {default})")
    size = int(_np.prod(out_sp))
    n, c = x.shape[0], x.shape[1]
    flat_idx = idx.array.reshape(n, c, -1)
    if flat_idx.size:
        lo, hi = int(flat_idx.min()), int(flat_idx.max())
        if lo < 0 or hi >= size:
            raise IndexError(f"{op}: found an invalid max index {lo if lo < 0 else hi} (the output plane "
                             f"{out_sp} has {size} elements); the indices must come from the matching max pool")
    y = MaxUnpool.apply(x.reshape(n, c, -1), Tensor._make(flat_idx.astype(_np.int64, copy=False), x.device),
                        size=size)
    y = y.reshape((n, c) + tuple(out_sp))
    return y.squeeze(0) if unbatched else y


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool2d`: put each value at its index in a zero (N, C, H, W) plane.

    ``indices`` are the flat ``h*W + w`` positions from ``max_pool2d(..., return_indices=True)``.
    The output size defaults to ``(H_in - 1)*stride - 2*padding + kernel_size`` per axis;
    ``output_size`` (2 or 4 numbers) picks one of the sizes the pool could have come from.
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool1d` on (N, C, L) (see :func:`max_unpool2d`)."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


# --- power-average pooling --------------------------------------------------------------------
def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: ``(sum over the window of x^p)^(1/p)`` (p = ``norm_type``; PyTorch's formula,
    computed as ``(sign(a)·relu(|a|)·kh·kw)^(1/p)`` with ``a = avg_pool2d(x^p)``)."""
    op = "lp_pool2d"
    p = as_float(norm_type, "norm_type", op)
    kh, kw = _ints(kernel_size, 2, "kernel_size", op)
    out = avg_pool2d(input ** p, (kh, kw), stride, 0, ceil_mode, op=op)
    return (sign(out) * relu(abs(out)) * (kh * kw)) ** (1.0 / p)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling along L of (N, C, L): ``(sum over the window of x^p)^(1/p)``."""
    op = "lp_pool1d"
    p = as_float(norm_type, "norm_type", op)
    k = _one(kernel_size, "kernel_size", op)
    out = avg_pool1d(input ** p, k, stride, 0, ceil_mode)
    return (sign(out) * relu(abs(out)) * k) ** (1.0 / p)



# --- 3-d pools: one window table, a gather and a row reduction ------------------------------------
def _as_3d(input, op):
    """(N, C, D, H, W) or unbatched (C, D, H, W) -> the 5-D tensor and the unbatched flag."""
    _check_tensor(input, "input", op)
    if input.ndim == 5:
        return input, False
    if input.ndim == 4:
        return input.unsqueeze(0), True
    raise ShapeError(f"{op}: expected input of shape (N, C, D, H, W) (5-D, or 4-D without the batch axis), "
                     f"got shape {tuple(input.shape)}")


def _axis_table(windows):
    """(O, K) positions of each window along one axis (ragged windows padded with -1)."""
    k = max(len(w) for w in windows)
    t = _np.full((len(windows), k), -1, dtype=_np.int64)
    for i, w in enumerate(windows):
        t[i, :len(w)] = w
    return t


def _window_table(sizes, axis_windows):
    """(P, K) flat indices ``d*H*W + h*W + w`` of every window (P output cells, row-major), with
    positions outside the input (padding, ragged windows) set to ``prod(sizes)`` (the fill element)."""
    tabs = [_axis_table(w) for w in axis_windows]
    nd = len(sizes)
    strides = [int(_np.prod(sizes[k + 1:])) for k in range(nd)]
    flat = _np.zeros([t.shape[0] for t in tabs] + [t.shape[1] for t in tabs], dtype=_np.int64)
    bad = _np.zeros(flat.shape, dtype=bool)
    for k, t in enumerate(tabs):
        shape = [1] * (2 * nd)
        shape[k], shape[nd + k] = t.shape
        tk = t.reshape(shape)
        flat = flat + _np.where(tk < 0, 0, tk) * strides[k]
        bad = bad | (tk < 0)
    flat[bad] = int(_np.prod(sizes))
    p = int(_np.prod([t.shape[0] for t in tabs]))
    return flat.reshape(p, -1)


def _gather_windows(x, table, fill):
    """x (N, C, *sizes) -> (N, C, P, K): every window's values (``fill`` outside the input)."""
    n, c = x.shape[0], x.shape[1]
    dev = x.device
    pad_col = Tensor._make(dev.xp.full((n, c, 1), fill, dtype=x.dtype), dev)
    ext = cat([x.reshape(n, c, -1), pad_col], axis=2)
    picked = index_select(ext, 2, Tensor._make(dev.from_host(table.reshape(-1)), dev))
    return picked.reshape(n, c, table.shape[0], table.shape[1])


def _window_indices(windows, table):
    """The int64 flat input index of each window's (first) maximum."""
    xp = windows.device.xp
    pos = xp.argmax(windows.array, axis=3)
    tab = windows.device.from_host(table)
    idx = tab[xp.arange(table.shape[0])[None, None, :], pos]
    return Tensor._make(idx.astype(_np.int64), windows.device)


def _pool3d_args(x, kernel_size, stride, padding, dilation, ceil_mode, op):
    ks = _ints(kernel_size, 3, "kernel_size", op)
    ss = ks if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _ints(stride, 3, "stride", op)
    ps = _ints(padding, 3, "padding", op)
    ds = _ints(dilation, 3, "dilation", op)
    if min(ks) <= 0:
        raise ShapeError(f"{op}: kernel_size must be positive, got {ks}")
    if min(ss) <= 0:
        raise ArgumentError(f"{op}: stride must be positive, got {ss}")
    if min(ds) <= 0:
        raise ArgumentError(f"{op}: dilation must be positive, got {ds}")
    if min(ps) < 0:
        raise ArgumentError(f"{op}: padding must be non-negative, got {ps}")
    if any(2 * p > k for p, k in zip(ps, ks)):
        raise ShapeError(f"{op}: padding {ps} must be at most half the kernel size {ks}")
    sizes = tuple(x.shape[2:])
    outs = tuple(_pool_out(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(sizes, ks, ss, ps, ds))
    if min(outs) <= 0:
        raise ShapeError(f"{op}: the kernel {ks} (dilation {ds}) is larger than the padded input (input "
                         f"shape {tuple(x.shape)}, padding {ps}). Use a smaller kernel or larger inputs.")
    return ks, ss, ps, ds, sizes, outs


@_integers_via_float64
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over ``kernel_size`` windows of (N, C, D, H, W) (or unbatched (C, D, H, W)).

    The arguments are those of :func:`max_pool2d` with triples; ``return_indices=True`` also
    returns the int64 flat index ``d*H*W + h*W + w`` of each maximum in its volume (the first
    one on ties; what :func:`max_unpool3d` takes).
    """
    op = "max_pool3d"
    x, unbatched = _as_3d(input, op)
    ks, ss, ps, ds, sizes, outs = _pool3d_args(x, kernel_size, stride, padding, dilation, ceil_mode, op)
    axis_windows = [[[o * s - p + j * d for j in range(k) if 0 <= o * s - p + j * d < n] for o in range(out)]
                    for n, k, s, p, d, out in zip(sizes, ks, ss, ps, ds, outs)]
    table = _window_table(sizes, axis_windows)
    windows = _gather_windows(x, table, -_np.inf)
    shape = (x.shape[0], x.shape[1]) + outs
    y = amax(windows, 3).reshape(shape)
    if return_indices:
        idx = _window_indices(windows, table).reshape(shape)
        return (y.squeeze(0), idx.squeeze(0)) if unbatched else (y, idx)
    return y.squeeze(0) if unbatched else y


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over ``kernel_size`` windows of (N, C, D, H, W) (or unbatched (C, D, H, W)).

    PyTorch's divisor: the window's size inside the zero-padded input when
    ``count_include_pad`` (default), else the number of input elements it covers, or
    ``divisor_override`` when given.
    """
    op = "avg_pool3d"
    x, unbatched = _as_3d(input, op)
    ks, ss, ps, _, sizes, outs = _pool3d_args(x, kernel_size, stride, padding, 1, ceil_mode, op)
    if divisor_override is not None:
        divisor_override = as_int(divisor_override, "divisor_override", op, minimum=1)
    axis_windows, pooled, inside = [], [], []
    for n, k, s, p, out in zip(sizes, ks, ss, ps, outs):
        starts = [o * s - p for o in range(out)]
        axis_windows.append([list(range(max(b, 0), min(b + k, n))) for b in starts])
        pooled.append(_np.array([min(b + k, n + p) - b for b in starts], dtype=_np.float64))
        inside.append(_np.array([min(b + k, n) - max(b, 0) for b in starts], dtype=_np.float64))
    table = _window_table(sizes, axis_windows)
    counts = pooled if count_include_pad else inside
    div = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    if divisor_override is not None:
        div = _np.full(div.shape, float(divisor_override))
    dev = x.device
    total = _gather_windows(x, table, 0.0).sum(axis=3)
    scale = Tensor._make(dev.from_host((1.0 / div).reshape(-1).astype(x.dtype)), dev)
    y = (total * scale).reshape((x.shape[0], x.shape[1]) + outs)
    return y.squeeze(0) if unbatched else y


def _adaptive_size_3d(output_size, sizes, op):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 3:
            raise TypeError(f"{op}: output_size must be an int or a tuple of 3 ints (or None), got {output_size!r}")
        return tuple(n if v is None else as_int(v, "output_size", op, minimum=1) for v, n in zip(output_size, sizes))
    return (as_int(output_size, "output_size", op, minimum=1),) * 3


def _adaptive3d(input, output_size, op):
    x, unbatched = _as_3d(input, op)
    sizes = tuple(x.shape[2:])
    if min(sizes) == 0 or x.shape[0] * x.shape[1] == 0:
        raise ShapeError(f"{op}: input has an empty axis (shape {tuple(input.shape)})")
    outs = _adaptive_size_3d(output_size, sizes, op)
    axis_windows = [[list(range(a, b)) for a, b in _adaptive_windows(n, o)] for n, o in zip(sizes, outs)]
    return x, unbatched, sizes, outs, axis_windows


def adaptive_avg_pool3d(input, output_size):
    """Average-pool (N, C, D, H, W) to ``output_size`` (an int or a triple; None keeps that axis).

    Cell (i, j, k) averages depths ``floor(i*D/od) .. ceil((i+1)*D/od)`` and the matching
    rows and columns, as in PyTorch.
    """
    op = "adaptive_avg_pool3d"
    x, unbatched, sizes, outs, axis_windows = _adaptive3d(input, output_size, op)
    table = _window_table(sizes, axis_windows)
    counts = [_np.array([len(w) for w in ws], dtype=_np.float64) for ws in axis_windows]
    div = counts[0][:, None, None] * counts[1][None, :, None] * counts[2][None, None, :]
    dev = x.device
    scale = Tensor._make(dev.from_host((1.0 / div).reshape(-1).astype(x.dtype)), dev)
    y = (_gather_windows(x, table, 0.0).sum(axis=3) * scale).reshape((x.shape[0], x.shape[1]) + outs)
    return y.squeeze(0) if unbatched else y


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max-pool (N, C, D, H, W) to ``output_size`` (PyTorch's adaptive windows, see
    :func:`adaptive_avg_pool3d`); ``return_indices=True`` also returns the int64 flat index
    ``d*H*W + h*W + w`` of each maximum (the first one on ties)."""
    op = "adaptive_max_pool3d"
    x, unbatched, sizes, outs, axis_windows = _adaptive3d(input, output_size, op)
    table = _window_table(sizes, axis_windows)
    windows = _gather_windows(x, table, -_np.inf)
    shape = (x.shape[0], x.shape[1]) + outs
    y = amax(windows, 3).reshape(shape)
    if return_indices:
        idx = _window_indices(windows, table).reshape(shape)
        return (y.squeeze(0), idx.squeeze(0)) if unbatched else (y, idx)
    return y.squeeze(0) if unbatched else y


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool3d` on (N, C, D, H, W) (see :func:`max_unpool2d`)."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, D, H, W): ``(sum over the window of x^p)^(1/p)`` (PyTorch's formula)."""
    op = "lp_pool3d"
    p = as_float(norm_type, "norm_type", op)
    kd, kh, kw = _ints(kernel_size, 3, "kernel_size", op)
    out = avg_pool3d(input ** p, (kd, kh, kw), stride, 0, ceil_mode)
    return (sign(out) * relu(abs(out)) * (kd * kh * kw)) ** (1.0 / p)


# --- the ``*_with_indices`` forms of torch.nn.functional: always (values, indices) ----------------
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """:func:`max_pool1d` returning ``(values, indices)`` (PyTorch's form: the pair whatever ``return_indices``)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """:func:`max_pool2d` returning ``(values, indices)`` (PyTorch's form: the pair whatever ``return_indices``)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """:func:`max_pool3d` returning ``(values, indices)`` (PyTorch's form: the pair whatever ``return_indices``)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """:func:`adaptive_max_pool1d` returning ``(values, indices)`` (PyTorch's form)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """:func:`adaptive_max_pool2d` returning ``(values, indices)`` (PyTorch's form)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """:func:`adaptive_max_pool3d` returning ``(values, indices)`` (PyTorch's form)."""
    return adaptive_max_pool3d(input, output_size, True)
