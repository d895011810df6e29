"""2-D convolution as im2col + GEMM, with its two gradients as ops of their own.

For an input ``x`` (N, C, H, W) and a weight ``w`` (O, C/groups, kh, kw)::

    y[n, o, p, q] = b[o] + sum over c, i, j of  w[o, c, i, j] * x[n, c, p*sh - ph + i*dh, q*sw - pw + j*dw]

(zero outside the input). PyTorch calls this ``conv2d``; mathematically it is a
cross-correlation. The kernels ``im2col`` copies every receptive field into a column of
``cols`` (C*kh*kw, N*OH*OW), so the whole layer is ONE matrix product
``W (O, C*kh*kw) @ cols`` computed by the device's BLAS (``xp.matmul``), followed by a
transposing copy into NCHW that also adds the bias.

The backward is three products with the same matrices (``G`` is the output gradient
arranged as (O, N*OH*OW))::

    dW    = G @ cols^T                   (Conv2dWeightGrad)
    dx    = col2im(W^T @ G)              (Conv2dInputGrad = conv_transpose2d)
    db    = G summed over its columns

Every one of them is linear in each argument, so their own gradients are again these
ops (``<conv(x, W), G> = <x, convT(G, W)> = <W, wgrad(x, G)>``)::

    Conv2d(x, W)            backward -> Conv2dInputGrad(G, W),  Conv2dWeightGrad(x, G)
    Conv2dInputGrad(G, W)   backward -> Conv2d(gx, W),          Conv2dWeightGrad(gx, G)
    Conv2dWeightGrad(x, G)  backward -> Conv2dInputGrad(G, gW), Conv2d(x, gW)

so gradients of any order work (``create_graph=True``), while the ordinary backward runs
the same GEMMs on raw arrays (``backward_array``) reusing the forward's ``cols``.
Groups split channels into independent blocks: the GEMMs become batched over groups.

Large layers take a tiled path instead (:func:`_tiled`, a measured size threshold in
``kernels/policy.py``): the same three products computed one image at a time
(``y[n] = W @ cols_n``, ``dx[n] = col2im(W^T @ G[n])``, ``dW = sum over n of G[n] @ cols_n^T``)
by the device kernels ``conv2d_tiled``, ``conv2d_input_grad_tiled`` and
``conv2d_weight_grad_tiled``. On the cpu one image's columns stay in cache, the images are
shared out over the threads and the outputs are written in NCHW directly; the batch-wide
``cols`` is never built (the backward rebuilds each image's columns, cheaper than keeping
and re-reading them from memory).
"""
from __future__ import annotations

from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._args import as_int, as_ints
from ._autocast import autocast_lower
from .padding import pad as _pad

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "channel_shuffle",
]


# --- argument handling ------------------------------------------------------------------
def _ints(value, n: int, what: str, op: str) -> tuple:
    """An int or a sequence of ``n`` ints as a tuple of plain ints (PyTorch's ``_pair``;
    any integral type, see :func:`tinynet.functional._args.as_ints`)."""
    return as_ints(value, n, what, op)


def conv_geometry(in_hw, kernel_hw, stride, padding, dilation, op: str):
    """Check a convolution's arguments and return ``(stride, pad_top_left, dilation, out_hw)``.

    ``padding`` is an int, a pair, ``"valid"`` (no padding) or ``"same"`` (output size =
    input size; stride must be 1; an odd total padding puts the extra row/column at the
    bottom/right, as PyTorch does).
    """
    kh, kw = kernel_hw
    sh, sw = _ints(stride, 2, "stride", op)
    dh, dw = _ints(dilation, 2, "dilation", op)
    if sh <= 0 or sw <= 0:
        raise ArgumentError(f"{op}: stride must be positive, got {(sh, sw)}")
    if dh <= 0 or dw <= 0:
        raise ArgumentError(f"{op}: dilation must be positive, got {(dh, dw)}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0), (0, 0))
        elif padding == "same":
            if (sh, sw) != (1, 1):
                raise ArgumentError(f"{op}: padding='same' needs stride 1 (got stride {(sh, sw)}); "
                                    "give the padding as numbers for strided convolutions")
            th, tw = dh * (kh - 1), dw * (kw - 1)
            pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
        else:
            raise ArgumentError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    else:
        ph, pw = _ints(padding, 2, "padding", op)
        if ph < 0 or pw < 0:
            raise ArgumentError(f"{op}: padding must be non-negative, got {(ph, pw)}")
        pads = ((ph, ph), (pw, pw))
    h, w = in_hw
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    hp, wp = h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1]
    if eh > hp or ew > wp:
        dil = "" if (dh, dw) == (1, 1) else f" (dilated to {eh}x{ew})"
        raise ShapeError(
            f"{op}: kernel size {kh}x{kw}{dil} is larger than the padded input {hp}x{wp} "
            f"(input {h}x{w} plus padding {pads[0][0] + pads[0][1]}x{pads[1][0] + pads[1][1]}). "
            "Use a smaller kernel, more padding, or larger inputs."
        )
    oh, ow = (hp - eh) // sh + 1, (wp - ew) // sw + 1
    return (sh, sw), (pads[0][0], pads[1][0]), (dh, dw), (oh, ow)


# --- the GEMMs on raw arrays (shared by the Ops and the fast backward) -------------
def _to_gemm(xp, g):
    """(N, O, OH, OW) -> (O, N*OH*OW): the layout the GEMMs of the backward read."""
    n, o = g.shape[0], g.shape[1]
    if n == 1:
        return g.reshape(o, -1)
    return xp.ascontiguousarray(g.reshape(n, o, -1).transpose(1, 0, 2)).reshape(o, -1)


def _grouped(xp, a, b, groups, ta=False, tb=False):
    """``a @ b`` with both split into ``groups`` row blocks (a batched GEMM when groups > 1).

    ``a`` is (groups*ma, ka) and ``b`` (groups*kb, nb); ``ta``/``tb`` transpose a block
    before multiplying. Transposes are views, so BLAS reads them without copies.
    """
    if groups == 1:
        return (a.T if ta else a) @ (b.T if tb else b)
    a3 = a.reshape(groups, a.shape[0] // groups, a.shape[1])
    b3 = b.reshape(groups, b.shape[0] // groups, b.shape[1])
    out = xp.matmul(a3.transpose(0, 2, 1) if ta else a3, b3.transpose(0, 2, 1) if tb else b3)
    return out.reshape(-1, out.shape[-1])


def _tiled(fn, x_shape, w_shape) -> bool:
    """Whether this convolution runs the device's tiled kernels (one image's columns at a time,
    ``conv2d_tiled`` and its two gradients) rather than one batch-wide im2col + GEMM.

    The measured policy (``kernels/policy.py``, family ``"im2col"``): from
    ``KERNEL_MIN_ELEMENTS["im2col"]`` entries of the batch-wide columns matrix
    (C*kh*kw x N*OH*OW) up, and for at least two images: the tiles are whole images shared
    out over the threads, so one image leaves the other threads idle, while the batch-wide
    GEMM still runs on all of BLAS's threads.
    """
    n = x_shape[0]
    _, cg, kh, kw = w_shape
    oh, ow = fn.out_hw
    return n >= 2 and cg * fn.groups * kh * kw * n * oh * ow >= fn.kernels.KERNEL_MIN_ELEMENTS["im2col"]


def _forward_arrays(fn, x, w, b, cols=None):
    """y = conv2d(x, w) + b on arrays; returns (y, cols), cols None on the tiled path."""
    xp = fn.xp
    n = x.shape[0]
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = fn.stride, fn.pad, fn.dilation, fn.out_hw
    if cols is None:
        if _tiled(fn, x.shape, w.shape):
            return fn.kernels.conv2d_tiled(x, w, b, sh, sw, ph, pw, dh, dw, oh, ow, fn.groups), None
        cols = fn.kernels.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    ym = _grouped(xp, w.reshape(o, -1), cols, fn.groups)          # (O, N*OH*OW)
    if n == 1:
        y = ym.reshape(1, o, oh, ow)
        if b is not None:
            y = y + b.reshape(1, o, 1, 1)
        return y, cols
    y = xp.empty((n, o, oh, ow), dtype=ym.dtype)
    src = ym.reshape(o, n, oh * ow).transpose(1, 0, 2)
    if b is None:
        y.reshape(n, o, oh * ow)[...] = src
    else:
        xp.add(src, b.reshape(1, o, 1), out=y.reshape(n, o, oh * ow))
    return y, cols


def _input_grad_arrays(fn, gm, w, x_shape):
    """dx = col2im(W^T @ G) for G in GEMM layout (O, N*OH*OW)."""
    o, _, kh, kw = w.shape
    n, c, h, wd = x_shape
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = fn.stride, fn.pad, fn.dilation, fn.out_hw
    dcols = _grouped(fn.xp, w.reshape(o, -1), gm, fn.groups, ta=True)   # (C*kh*kw, N*OH*OW)
    return fn.kernels.col2im(dcols, n, c, h, wd, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


def _weight_grad_arrays(fn, gm, cols, w_shape):
    """dW = G @ cols^T, shaped like the weight."""
    return _grouped(fn.xp, gm, cols, fn.groups, tb=True).reshape(w_shape)


def _input_grad(fn, g, w, x_shape, gm=None):
    """dx for the output gradient ``g`` (N, O, OH, OW): tiled, or col2im(W^T @ G) with ``gm``
    (``g`` in GEMM layout, made here when not given)."""
    if _tiled(fn, x_shape, w.shape):
        (sh, sw), (ph, pw), (dh, dw) = fn.stride, fn.pad, fn.dilation
        return fn.kernels.conv2d_input_grad_tiled(g, w, x_shape[2], x_shape[3], sh, sw, ph, pw, dh, dw, fn.groups)
    return _input_grad_arrays(fn, _to_gemm(fn.xp, g) if gm is None else gm, w, x_shape)


def _weight_grad(fn, x, g, w_shape, cols=None, gm=None):
    """dW for input ``x`` and output gradient ``g``: tiled, or G @ cols^T reusing ``cols``
    (the im2col of ``x``) and ``gm`` when given."""
    _, _, kh, kw = w_shape
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = fn.stride, fn.pad, fn.dilation, fn.out_hw
    if cols is None:
        if _tiled(fn, x.shape, w_shape):
            return fn.kernels.conv2d_weight_grad_tiled(x, g, kh, kw, sh, sw, ph, pw, dh, dw, fn.groups)
        cols = fn.kernels.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return _weight_grad_arrays(fn, _to_gemm(fn.xp, g) if gm is None else gm, cols, w_shape)


class _ConvParams(Op):
    """Shared parameter plumbing (stride, pad, dilation, groups, out_hw live on the node)."""

    saves_output = False  # the three conv ops' backwards read their inputs (and cols), never the output

    def params(self, **extra):
        p = dict(stride=self.stride, pad=self.pad, dilation=self.dilation, groups=self.groups,
                 out_hw=self.out_hw)
        p.update(extra)
        return p


class Conv2d(_ConvParams):
    """y = conv2d(x, w) (+ b): im2col + one GEMM per group. Inputs: x, w[, b]."""

    name = "conv2d"

    def forward(self, x, w, b=None):
        y, cols = _forward_arrays(self, x, w, b)
        self.cols = cols
        return y

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        gx = gw = gb = None
        if x._requires_grad:
            gx = Conv2dInputGrad.apply(g, w, **self.params(in_shape=tuple(x.shape)))
        if w._requires_grad:
            gw = Conv2dWeightGrad.apply(x, g, **self.params(w_shape=tuple(w.shape), cols=self.cols))
        if len(self.inputs) == 3:
            if self.inputs[2]._requires_grad:
                gb = g.sum(axis=(0, 2, 3))
            return gx, gw, gb
        return gx, gw

    def backward_array(self, g):
        x, w = self.inputs[0], self.inputs[1]
        gm = None if self.cols is None else _to_gemm(self.xp, g)   # the im2col path's layout of g
        gx = gw = gb = None
        if x._requires_grad:
            gx = _input_grad(self, g, w.array, x.shape, gm)
        if w._requires_grad:
            gw = _weight_grad(self, x.array, g, w.shape, self.cols, gm)
        if len(self.inputs) == 3:
            if self.inputs[2]._requires_grad:
                gb = gm.sum(axis=1) if gm is not None else g.reshape(g.shape[0], g.shape[1], -1).sum(axis=2).sum(axis=0)
            return gx, gw, gb
        return gx, gw


class Conv2dInputGrad(_ConvParams):
    """dx = conv_transpose(G, w): the gradient of conv2d with respect to its input.

    Inputs: G (N, O, OH, OW) and w; ``in_shape`` is the (N, C, H, W) of the result. This
    is also ``conv_transpose2d`` (a "fractionally strided" convolution).
    """

    name = "conv2d_input_grad"

    def forward(self, g, w):
        return _input_grad(self, g, w, self.in_shape)

    def backward(self, gx):
        g, w = self.inputs
        gg = gw = None
        if g._requires_grad:
            gg = Conv2d.apply(gx, w, **self.params())
        if w._requires_grad:
            gw = Conv2dWeightGrad.apply(gx, g, **self.params(w_shape=tuple(w.shape), cols=None))
        return gg, gw

    def backward_array(self, gx):
        g, w = self.inputs
        gg = gw = cols = None
        if (g._requires_grad or w._requires_grad) and not _tiled(self, gx.shape, w.shape):
            _, _, kh, kw = w.shape
            (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.stride, self.pad, self.dilation, self.out_hw
            cols = self.kernels.im2col(gx, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)   # shared by both products
        if g._requires_grad:
            gg, _ = _forward_arrays(self, gx, w.array, None, cols)
        if w._requires_grad:
            gw = _weight_grad(self, gx, g.array, w.shape, cols)
        return gg, gw


class Conv2dWeightGrad(_ConvParams):
    """dW = G @ cols(x)^T: the gradient of conv2d with respect to its weight.

    Inputs: x and G. ``w_shape`` is the weight's shape; ``cols`` may carry the forward's
    im2col of ``x`` (the same array, so it is not recomputed).
    """

    name = "conv2d_weight_grad"

    def forward(self, x, g):
        cols, self.cols = self.cols, None  # not needed by the backward; free it early
        return _weight_grad(self, x, g, self.w_shape, cols)

    def backward(self, gw):
        x, g = self.inputs
        gx = gg = None
        if x._requires_grad:
            gx = Conv2dInputGrad.apply(g, gw, **self.params(in_shape=tuple(x.shape)))
        if g._requires_grad:
            gg = Conv2d.apply(x, gw, **self.params())
        return gx, gg

    def backward_array(self, gw):
        x, g = self.inputs
        gx = gg = None
        if x._requires_grad:
            gx = _input_grad(self, g.array, gw, x.shape)
        if g._requires_grad:
            gg, _ = _forward_arrays(self, x.array, gw, None)
        return gx, gg


# --- checks -------------------------------------------------------------------------------
def _check_tensor(t, what: str, op: str):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise DTypeError(f"{op}: {what} must be a floating tensor, got {t.dtype}; convert with `.float()`")


def _check_same(a, b, what_a, what_b, op):
    if a.dtype != b.dtype:
        raise DTypeError(f"{op}: {what_a} is {a.dtype} but {what_b} is {b.dtype}; convert one "
                         f"(e.g. `{what_a}.to({what_b}.dtype)`)")
    if a.device is not b.device:
        raise DeviceError(f"{op}: {what_a} is on {a.device.type} but {what_b} is on {b.device.type}; "
                           f"move it with `.to('{b.device.type}')`")


def _batched(input, op: str, expected: str):
    """Accept (N, C, H, W) or an unbatched (C, H, W); return the 4-D tensor and a flag."""
    if input.ndim == 4:
        return input, False
    if input.ndim == 3:
        return input.unsqueeze(0), True
    raise ShapeError(f"{op}: expected input of shape {expected} (4-D, or 3-D without the batch axis), "
                     f"got shape {tuple(input.shape)}")


def _check_groups(groups, c_in, c_out, op):
    groups = as_int(groups, "groups", op, minimum=1)
    if c_in % groups or c_out % groups:
        raise ShapeError(f"{op}: groups={groups} must divide both in_channels ({c_in}) and "
                         f"out_channels ({c_out})")


# --- public ops -------------------------------------------------------------------------
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, op: str = "conv2d"):
    """2-D convolution (cross-correlation) of ``input`` (N, C, H, W) with ``weight`` (O, C/groups, kh, kw).

    ``stride``, ``padding`` (zeros; also ``"same"``/``"valid"``) and ``dilation`` take an
    int or a pair; ``groups`` splits the channels into independent blocks. Returns
    (N, O, OH, OW) with ``OH = (H + 2*ph - dh*(kh-1) - 1) // sh + 1`` (same for W).
    An unbatched (C, H, W) input gives a (O, OH, OW) output.
    """
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    input, weight, bias = autocast_lower("conv2d" if op not in ("unfold", "fold") else op, input, weight, bias)
    if weight.ndim != 4:
        raise ShapeError(f"{op}: weight must be 4-D (out_channels, in_channels/groups, kh, kw), "
                         f"got shape {tuple(weight.shape)}")
    o, cg, kh, kw = weight.shape
    groups = as_int(groups, "groups", op, minimum=1)
    c = cg * groups
    x, unbatched = _batched(input, op, f"(N, C={c}, H, W)")
    if x.shape[1] != c:
        raise ShapeError(
            f"{op}: expected input of shape (N, C={c}, H, W), got {tuple(input.shape)} with "
            f"{x.shape[1]} channels (weight {tuple(weight.shape)}, groups={groups})"
        )
    _check_groups(groups, c, o, op)
    _check_same(input, weight, "input", "weight", op)
    args = [x, weight]
    if bias is not None:
        _check_tensor(bias, "bias", op)
        if tuple(bias.shape) != (o,):
            raise ShapeError(f"{op}: bias must have shape ({o},) (one per output channel), got {tuple(bias.shape)}")
        _check_same(bias, weight, "bias", "weight", op)
        args.append(bias)
    stride, pad, dilation, out_hw = conv_geometry(x.shape[2:], (kh, kw), stride, padding, dilation, op)
    if x.shape[0] == 0:
        raise ShapeError(f"{op}: the input batch is empty (shape {tuple(input.shape)})")
    y = Conv2d.apply(*args, stride=stride, pad=pad, dilation=dilation, groups=int(groups), out_hw=out_hw)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                     *, op: str = "conv_transpose2d"):
    """Transposed convolution: the adjoint of :func:`conv2d`, mapping (N, C_in, H, W) up to (N, C_out, H', W').

    ``weight`` has shape (C_in, C_out/groups, kh, kw) (PyTorch's layout, the same tensor a
    conv2d from C_out to C_in channels would use) and
    ``H' = (H - 1)*sh - 2*ph + dh*(kh - 1) + output_padding + 1``. This is exactly the
    input-gradient of that conv2d, so it shares its op (:class:`Conv2dInputGrad`).
    """
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    input, weight, bias = autocast_lower("conv_transpose2d" if op != "fold" else op, input, weight, bias)
    if weight.ndim != 4:
        raise ShapeError(f"{op}: weight must be 4-D (in_channels, out_channels/groups, kh, kw), "
                         f"got shape {tuple(weight.shape)}")
    cin, cog, kh, kw = weight.shape
    groups = as_int(groups, "groups", op, minimum=1)
    x, unbatched = _batched(input, op, f"(N, C={cin}, H, W)")
    if x.shape[1] != cin:
        raise ShapeError(f"{op}: expected input of shape (N, C={cin}, H, W), got {tuple(input.shape)}")
    _check_groups(groups, cin, cog * groups, op)
    _check_same(input, weight, "input", "weight", op)
    sh, sw = _ints(stride, 2, "stride", op)
    ph, pw = _ints(padding, 2, "padding", op)
    dh, dw = _ints(dilation, 2, "dilation", op)
    oph, opw = _ints(output_padding, 2, "output_padding", op)
    if min(sh, sw, dh, dw) <= 0:
        raise ArgumentError(f"{op}: stride and dilation must be positive, got stride {(sh, sw)}, dilation {(dh, dw)}")
    if min(ph, pw, oph, opw) < 0:
        raise ArgumentError(f"{op}: padding and output_padding must be non-negative")
    if oph >= max(sh, dh) or opw >= max(sw, dw):
        raise ArgumentError(f"{op}: output_padding {(oph, opw)} must be smaller than stride or dilation")
    h, w = x.shape[2], x.shape[3]
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if out_h <= 0 or out_w <= 0:
        raise ArgumentError(f"{op}: the output would be {out_h}x{out_w}; reduce the padding")
    c_out = cog * groups
    y = Conv2dInputGrad.apply(x, weight, stride=(sh, sw), pad=(ph, pw), dilation=(dh, dw), groups=int(groups),
                              out_hw=(h, w), in_shape=(x.shape[0], c_out, out_h, out_w))
    if bias is not None:
        _check_tensor(bias, "bias", op)
        if tuple(bias.shape) != (c_out,):
            raise ShapeError(f"{op}: bias must have shape ({c_out},), got {tuple(bias.shape)}")
        _check_same(bias, weight, "bias", "weight", op)
        y = y + bias.reshape(1, c_out, 1, 1)
    return y.squeeze(0) if unbatched else y


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d with respect to its input (``torch.nn.grad.conv2d_input``)."""
    op = "conv2d_input"
    n, c, h, w = (int(s) for s in input_size)
    o, cg, kh, kw = weight.shape
    _check_groups(groups, c, o, op)
    stride, pad, dil, out_hw = conv_geometry((h, w), (kh, kw), stride, padding, dilation, op)
    if tuple(grad_output.shape) != (n, o) + out_hw:
        raise ShapeError(f"{op}: grad_output must have shape {(n, o) + out_hw}, got {tuple(grad_output.shape)}")
    return Conv2dInputGrad.apply(grad_output, weight, stride=stride, pad=pad, dilation=dil, groups=int(groups),
                                 out_hw=out_hw, in_shape=(n, c, h, w))


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d with respect to its weight (``torch.nn.grad.conv2d_weight``)."""
    op = "conv2d_weight"
    o, cg, kh, kw = (int(s) for s in weight_size)
    n, c, h, w = input.shape
    _check_groups(groups, c, o, op)
    if cg * groups != c:
        raise ShapeError(f"{op}: weight_size {tuple(weight_size)} with groups={groups} needs {cg * groups} "
                         f"input channels, got {c}")
    stride, pad, dil, out_hw = conv_geometry((h, w), (kh, kw), stride, padding, dilation, op)
    if tuple(grad_output.shape) != (n, o) + out_hw:
        raise ShapeError(f"{op}: grad_output must have shape {(n, o) + out_hw}, got {tuple(grad_output.shape)}")
    return Conv2dWeightGrad.apply(input, grad_output, stride=stride, pad=pad, dilation=dil, groups=int(groups),
                                  out_hw=out_hw, w_shape=(o, cg, kh, kw), cols=None)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, op: str = "conv1d"):
    """1-D convolution of (N, C, L) with (O, C/groups, k): a conv2d over a height-1 image."""
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    if weight.ndim != 3:
        raise ShapeError(f"{op}: weight must be 3-D (out_channels, in_channels/groups, k), got shape {tuple(weight.shape)}")
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected input of shape (N, C={weight.shape[1] * groups}, L) "
                         f"(3-D, or 2-D without the batch axis), got shape {tuple(input.shape)}")

    c = weight.shape[1] * groups if isinstance(groups, int) and groups > 0 else weight.shape[1]
    if input.shape[-2] != c:
        raise ShapeError(f"{op}: expected input of shape (N, C={c}, L), got {tuple(input.shape)} with "
                         f"{input.shape[-2]} channels (weight {tuple(weight.shape)}, groups={groups})")
    pad = padding if isinstance(padding, str) else (0, _ints(padding, 1, "padding", op)[0])
    y = conv2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias, stride=(1, _ints(stride, 1, "stride", op)[0]),
               padding=pad, dilation=(1, _ints(dilation, 1, "dilation", op)[0]), groups=groups, op=op)
    return y.squeeze(-2)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                     *, op: str = "conv_transpose1d"):
    """Transposed 1-D convolution of (N, C_in, L) with ``weight`` (C_in, C_out/groups, k): the adjoint of conv1d.

    ``L_out = (L - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``; computed as
    :func:`conv_transpose2d` over a height-1 image. An unbatched (C_in, L) input gives (C_out, L_out).
    """
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    if weight.ndim != 3:
        raise ShapeError(f"{op}: weight must be 3-D (in_channels, out_channels/groups, k), got shape "
                         f"{tuple(weight.shape)}")
    if input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected input of shape (N, C={weight.shape[0]}, L) (3-D, or 2-D without the "
                         f"batch axis), got shape {tuple(input.shape)}")
    y = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias,
                         stride=(1, _ints(stride, 1, "stride", op)[0]),
                         padding=(0, _ints(padding, 1, "padding", op)[0]),
                         output_padding=(0, _ints(output_padding, 1, "output_padding", op)[0]), groups=groups,
                         dilation=(1, _ints(dilation, 1, "dilation", op)[0]), op=op)
    return y.squeeze(-2)


# --- 3-d convolutions: a sum of 2-d ones over the kernel's depth taps ----------------------------
def _batched3d(input, op, expected):
    """Accept (N, C, D, H, W) or an unbatched (C, D, H, W); return the 5-D tensor and a flag."""
    if input.ndim == 5:
        return input, False
    if input.ndim == 4:
        return input.unsqueeze(0), True
    raise ShapeError(f"{op}: expected input of shape {expected} (5-D, or 4-D without the batch axis), "
                     f"got shape {tuple(input.shape)}")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, op: str = "conv3d"):
    """3-D convolution (cross-correlation) of ``input`` (N, C, D, H, W) with ``weight`` (O, C/groups, kd, kh, kw).

    ``stride``, ``padding`` (zeros; also ``"same"``/``"valid"``) and ``dilation`` take an int
    or a triple. ``OD = (D + 2*pd - dd*(kd-1) - 1) // sd + 1`` (likewise H, W). Computed as
    ``y[:, :, z] = sum over i of conv2d(x[:, :, z*sd + i*dd], w[:, :, i])``: one 2-D
    convolution per depth tap, each over all output depths at once (the depths are folded
    into the batch), so every gradient (and higher orders) is that of :func:`conv2d`.
    An unbatched (C, D, H, W) input gives a (O, OD, OH, OW) output.
    """
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    if weight.ndim != 5:
        raise ShapeError(f"{op}: weight must be 5-D (out_channels, in_channels/groups, kd, kh, kw), "
                         f"got shape {tuple(weight.shape)}")
    o, cg, kd, kh, kw = weight.shape
    groups = as_int(groups, "groups", op, minimum=1)
    c = cg * groups
    x, unbatched = _batched3d(input, op, f"(N, C={c}, D, H, W)")
    if x.shape[1] != c:
        raise ShapeError(f"{op}: expected input of shape (N, C={c}, D, H, W), got {tuple(input.shape)} with "
                         f"{x.shape[1]} channels (weight {tuple(weight.shape)}, groups={groups})")
    _check_groups(groups, c, o, op)
    _check_same(input, weight, "input", "weight", op)
    if bias is not None:
        _check_tensor(bias, "bias", op)
        if tuple(bias.shape) != (o,):
            raise ShapeError(f"{op}: bias must have shape ({o},) (one per output channel), got {tuple(bias.shape)}")
        _check_same(bias, weight, "bias", "weight", op)
    sd, sh, sw = _ints(stride, 3, "stride", op)
    dd, dh, dw = _ints(dilation, 3, "dilation", op)
    if min(sd, sh, sw) <= 0:
        raise ArgumentError(f"{op}: stride must be positive, got {(sd, sh, sw)}")
    if min(dd, dh, dw) <= 0:
        raise ArgumentError(f"{op}: dilation must be positive, got {(dd, dh, dw)}")
    if isinstance(padding, str):
        if padding == "valid":
            dpad, hw_pad = (0, 0), 0
        elif padding == "same":
            if (sd, sh, sw) != (1, 1, 1):
                raise ArgumentError(f"{op}: padding='same' needs stride 1 (got stride {(sd, sh, sw)}); "
                                    "give the padding as numbers for strided convolutions")
            t = dd * (kd - 1)
            dpad, hw_pad = (t // 2, t - t // 2), "same"
        else:
            raise ArgumentError(f"{op}: padding must be an int, a triple, 'same' or 'valid', got {padding!r}")
    else:
        pd, ph, pw = _ints(padding, 3, "padding", op)
        if min(pd, ph, pw) < 0:
            raise ArgumentError(f"{op}: padding must be non-negative, got {(pd, ph, pw)}")
        dpad, hw_pad = (pd, pd), (ph, pw)
    if x.shape[0] == 0:
        raise ShapeError(f"{op}: the input batch is empty (shape {tuple(input.shape)})")
    n, d = x.shape[0], x.shape[2]
    dp = d + dpad[0] + dpad[1]
    ed = dd * (kd - 1) + 1
    if ed > dp:
        raise ShapeError(f"{op}: kernel depth {kd}{'' if dd == 1 else f' (dilated to {ed})'} is larger than the "
                         f"padded input depth {dp} (input depth {d} plus padding {dpad[0] + dpad[1]}). Use a "
                         "smaller kernel, more padding, or larger inputs.")
    od = (dp - ed) // sd + 1
    if dpad != (0, 0):
        x = _pad(x, (0, 0, 0, 0, dpad[0], dpad[1]))
    y = None
    for i in range(kd):
        start = i * dd
        slab = x[:, :, start:start + sd * (od - 1) + 1:sd]                      # (N, C, OD, H, W)
        slab = slab.permute(0, 2, 1, 3, 4).reshape(n * od, c, x.shape[3], x.shape[4])
        yi = conv2d(slab, weight[:, :, i], bias if i == 0 else None, (sh, sw), hw_pad, (dh, dw), groups, op=op)
        y = yi if y is None else y + yi
    y = y.reshape(n, od, o, y.shape[2], y.shape[3]).permute(0, 2, 1, 3, 4)
    return y.squeeze(0) if unbatched else y


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                     *, op: str = "conv_transpose3d"):
    """Transposed 3-D convolution: the adjoint of :func:`conv3d`, (N, C_in, D, H, W) -> (N, C_out, D', H', W').

    ``weight`` has shape (C_in, C_out/groups, kd, kh, kw) (PyTorch's layout) and
    ``D' = (D - 1)*sd - 2*pd + dd*(kd - 1) + output_padding + 1`` (likewise H', W'). Each
    depth tap ``i`` is a :func:`conv_transpose2d` of every input depth at once, written to
    output depths ``z*sd + i*dd - pd``; the taps are summed.
    """
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    input, weight, bias = autocast_lower("conv_transpose3d", input, weight, bias)
    if weight.ndim != 5:
        raise ShapeError(f"{op}: weight must be 5-D (in_channels, out_channels/groups, kd, kh, kw), "
                         f"got shape {tuple(weight.shape)}")
    cin, cog, kd, kh, kw = weight.shape
    groups = as_int(groups, "groups", op, minimum=1)
    x, unbatched = _batched3d(input, op, f"(N, C={cin}, D, H, W)")
    if x.shape[1] != cin:
        raise ShapeError(f"{op}: expected input of shape (N, C={cin}, D, H, W), got {tuple(input.shape)}")
    _check_groups(groups, cin, cog * groups, op)
    _check_same(input, weight, "input", "weight", op)
    sd, sh, sw = _ints(stride, 3, "stride", op)
    pd, ph, pw = _ints(padding, 3, "padding", op)
    dd, dh, dw = _ints(dilation, 3, "dilation", op)
    opd, oph, opw = _ints(output_padding, 3, "output_padding", op)
    if min(sd, sh, sw, dd, dh, dw) <= 0:
        raise ArgumentError(f"{op}: stride and dilation must be positive, got stride {(sd, sh, sw)}, "
                            f"dilation {(dd, dh, dw)}")
    if min(pd, ph, pw, opd, oph, opw) < 0:
        raise ArgumentError(f"{op}: padding and output_padding must be non-negative")
    if opd >= max(sd, dd) or oph >= max(sh, dh) or opw >= max(sw, dw):
        raise ArgumentError(f"{op}: output_padding {(opd, oph, opw)} must be smaller than stride or dilation")
    n, d = x.shape[0], x.shape[2]
    full = (d - 1) * sd + dd * (kd - 1) + opd + 1
    out_d = full - 2 * pd
    if out_d <= 0:
        raise ArgumentError(f"{op}: the output depth would be {out_d}; reduce the padding")
    c_out = cog * groups
    xf = x.permute(0, 2, 1, 3, 4).reshape(n * d, cin, x.shape[3], x.shape[4])
    span = (d - 1) * sd + 1
    y = None
    for i in range(kd):
        z = conv_transpose2d(xf, weight[:, :, i], None, (sh, sw), (ph, pw), (oph, opw), groups, (dh, dw), op=op)
        z = z.reshape((n, d) + tuple(z.shape[1:]))                                # (N, D, C_out, H', W')
        if sd > 1:   # put the input depths sd apart: zeros in between
            z = _pad(z.unsqueeze(2), (0, 0, 0, 0, 0, 0, 0, sd - 1)).reshape((n, d * sd) + tuple(z.shape[2:]))
            z = z[:, :span]
        start = i * dd
        z = _pad(z, (0, 0, 0, 0, 0, 0, start, full - start - span))
        y = z if y is None else y + z
    y = y[:, pd:pd + out_d].permute(0, 2, 1, 3, 4)
    if bias is not None:
        _check_tensor(bias, "bias", op)
        if tuple(bias.shape) != (c_out,):
            raise ShapeError(f"{op}: bias must have shape ({c_out},), got {tuple(bias.shape)}")
        _check_same(bias, weight, "bias", "weight", op)
        y = y + bias.reshape(1, c_out, 1, 1, 1)
    return y.squeeze(0) if unbatched else y


def channel_shuffle(input, groups):
    """Interleave the channels of (N, C, *) from ``groups`` blocks (ShuffleNet, Zhang et al. 2018).

    Channel ``g·(C/groups) + i`` moves to ``i·groups + g``: a reshape to
    (N, groups, C/groups, *), a swap of those two axes and a reshape back, so that the next
    grouped convolution sees channels from every group.
    """
    op = "channel_shuffle"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    groups = as_int(groups, "groups", op, minimum=1)
    if input.ndim < 3:
        raise ShapeError(f"{op}: expected input of shape (N, C, *) with at least 3 dimensions, got shape "
                         f"{tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if c % groups:
        raise ShapeError(f"{op}: the number of channels ({c}) must be divisible by groups ({groups})")
    rest = tuple(input.shape[2:])
    return input.reshape((n, groups, c // groups) + rest).transpose(1, 2).reshape((n, c) + rest)
