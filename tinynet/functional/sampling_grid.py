"""Spatial transformers: ``affine_grid`` and ``grid_sample`` (PyTorch's ``F.affine_grid``/``F.grid_sample``).

``affine_grid(theta, size)`` maps every output pixel's normalised coordinates
``(x, y[, z], 1)`` (each in [-1, 1]) through the affine matrices ``theta`` (N, 2, 3) or
(N, 3, 4), giving a sampling grid (N, H, W, 2) or (N, D, H, W, 3)::

    grid[n, h, w] = theta[n] @ (x_w, y_h, 1)

``grid_sample(input, grid)`` reads ``input`` (N, C, H, W) or (N, C, D, H, W) at those
normalised positions (x indexes W, y indexes H, z indexes D). A coordinate ``u`` in [-1, 1]
becomes the pixel position ``(u + 1)/2 · (size − 1)`` with ``align_corners=True`` (-1 and 1
are the centres of the corner pixels) or ``((u + 1)·size − 1)/2`` otherwise (-1 and 1 are the
outer edges of the corner pixels). Then:

* ``mode='bilinear'`` (trilinear for 5-D): a weighted sum over the 2^d neighbouring pixels,
  with weights ``prod_k (1 − |i_k − pos_k|)``;
* ``mode='nearest'``: the pixel at the rounded position (half to even, as PyTorch);
* ``mode='bicubic'`` (4-D only): Keys' cubic convolution (``A = -0.75``) over the 4x4
  neighbours, separably along x then y; the padding mode applies to each of the 16 taps;
* ``padding_mode``: ``'zeros'`` (neighbours outside the image count as 0), ``'border'``
  (positions clipped into the image), ``'reflection'`` (positions mirrored at the borders,
  then clipped).

Both are composites of differentiable ops: the corner indices and the in-image masks are
constants, the weights are differentiable functions of ``grid`` and the pixel values are a
``gather`` of ``input``; so the gradients with respect to ``input`` AND ``grid`` (what a
spatial transformer network trains through), and higher orders, come from autograd.
"""
from __future__ import annotations

from ..backend.errors import ArgumentError, DTypeError, DeviceError, ShapeError
from ..tensor.tensor import Tensor
from .elementwise import abs as _abs, clip, where
from .indexing import gather
from .linalg import matmul

__all__ = ["affine_grid", "grid_sample"]  # exported as F.<name> and tn.<name>


def _check_float(t, what, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise DTypeError(f"{op}: {what} must be a floating tensor, got {t.dtype}; convert with `.float()`")


def _base_coords(xp, n, align_corners, dtype):
    """The n normalised coordinates of an axis of n pixels (PyTorch's ``linspace_from_neg_one``)."""
    if n <= 1:
        return xp.zeros((n,), dtype=dtype)
    v = xp.linspace(-1.0, 1.0, n, dtype=dtype)
    return v if align_corners else v * ((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of the affine maps ``theta`` for an output of ``size``.

    ``theta`` (N, 2, 3) with ``size`` (N, C, H, W) gives (N, H, W, 2); ``theta`` (N, 3, 4)
    with ``size`` (N, C, D, H, W) gives (N, D, H, W, 3). The last axis holds (x, y[, z]),
    normalised to [-1, 1] (see the module docstring for ``align_corners``, default False).
    Differentiable with respect to ``theta``.
    """
    op = "affine_grid"
    _check_float(theta, "theta", op)
    size = tuple(int(s) for s in size)
    if align_corners is None:
        align_corners = False
    if len(size) == 4:
        want = (size[0], 2, 3)
    elif len(size) == 5:
        want = (size[0], 3, 4)
    else:
        raise ShapeError(f"{op}: size must be (N, C, H, W) or (N, C, D, H, W), got {size}")
    if tuple(theta.shape) != want:
        raise ShapeError(f"{op}: for size {size} theta must have shape {want} (one {want[1]}x{want[2]} affine "
                         f"matrix per batch element), got {tuple(theta.shape)}")
    if min(size) <= 0:
        raise ShapeError(f"{op}: every entry of size must be positive, got {size}")
    dev, xp = theta.device, theta.device.xp
    spatial = size[2:]
    axes = [_base_coords(xp, s, bool(align_corners), theta.dtype) for s in spatial]
    mesh = xp.meshgrid(*axes, indexing="ij")          # each (D?, H, W)
    # last axis is (x, y[, z], 1): x runs along W (the last spatial axis)
    base = xp.stack(list(reversed(mesh)) + [xp.ones(spatial, dtype=theta.dtype)], axis=-1)
    base = Tensor._make(xp.ascontiguousarray(base.reshape(1, -1, len(spatial) + 1)), dev)
    grid = matmul(base, theta.transpose(1, 2))         # (N, prod(spatial), d)
    return grid.reshape((size[0],) + spatial + (len(spatial),))


def _unnormalize(u, size, align_corners):
    if align_corners:
        return (u + 1) * ((size - 1) / 2)
    return ((u + 1) * size - 1) / 2


def _reflect(xp, pos, size, align_corners):
    """PyTorch's ``reflect_coordinates`` (then clipped): mirror ``pos`` at the image borders."""
    lo2, hi2 = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
    if lo2 == hi2:
        return pos * 0
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    d = _abs(pos - lo)
    flips = xp.floor(d.array / span)
    extra = d - Tensor._make(flips * span, pos.device)
    even = Tensor._make(flips % 2 == 0, pos.device)
    return where(even, extra + lo, (span + lo) - extra)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) / (N, C, D, H, W) at the normalised positions of ``grid``.

    ``grid`` is (N, H_out, W_out, 2) / (N, D_out, H_out, W_out, 3) holding (x, y[, z]) in
    [-1, 1]; the result is (N, C, H_out, W_out) / (N, C, D_out, H_out, W_out). ``mode`` is
    ``'bilinear'`` (trilinear on 5-D input) or ``'nearest'``; ``padding_mode`` is ``'zeros'``,
    ``'border'`` or ``'reflection'``; ``align_corners`` defaults to False (see the module
    docstring). Differentiable with respect to ``input`` and (bilinear) ``grid``.
    """
    op = "grid_sample"
    _check_float(input, "input", op)
    _check_float(grid, "grid", op)
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ArgumentError(f"{op}: mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ArgumentError(f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', got {padding_mode!r}")
    if align_corners is None:
        align_corners = False
    if input.ndim not in (4, 5):
        raise ShapeError(f"{op}: expected a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, got shape "
                         f"{tuple(input.shape)}")
    nd = input.ndim - 2
    if mode == "bicubic" and nd != 2:
        raise ShapeError(f"{op}: mode='bicubic' needs a 4-D input (N, C, H, W), got shape {tuple(input.shape)}; "
                         "use 'bilinear' (trilinear) or 'nearest' for 5-D input")
    n, c = input.shape[0], input.shape[1]
    if grid.ndim != input.ndim or grid.shape[0] != n or grid.shape[-1] != nd:
        want = "(N, H_out, W_out, 2)" if nd == 2 else "(N, D_out, H_out, W_out, 3)"
        raise ShapeError(f"{op}: for input of shape {tuple(input.shape)} grid must have shape {want} with "
                         f"N={n}, got {tuple(grid.shape)}")
    if input.device is not grid.device:
        raise DeviceError(f"{op}: input is on {input.device.type} but grid is on {grid.device.type}; move one, "
                          f"e.g. `grid.to('{input.device.type}')`")
    if input.dtype != grid.dtype:
        raise DTypeError(f"{op}: input is {input.dtype} but grid is {grid.dtype}; convert one, e.g. "
                         f"`grid.to(input.dtype)`")
    if min(input.shape[2:], default=1) <= 0:
        raise ShapeError(f"{op}: input has an empty spatial axis (shape {tuple(input.shape)})")
    dev, xp = input.device, input.device.xp
    sizes = tuple(input.shape[2:])                    # (D,) H, W
    out_sp = tuple(grid.shape[1:-1])
    q = 1
    for s in out_sp:
        q *= s
    g = grid.reshape(n, q, nd)
    # pos[k] is the pixel position along spatial axis k (grid's last axis is reversed: x first)
    if mode == "bicubic":
        out = _bicubic(input, g, sizes, padding_mode, bool(align_corners))
        return out.reshape((n, c) + out_sp)
    pos = []
    for k in range(nd):
        size = sizes[k]
        p = _unnormalize(g[:, :, nd - 1 - k], size, align_corners)
        if padding_mode == "reflection":
            p = _reflect(xp, p, size, align_corners)
        if padding_mode in ("border", "reflection"):
            p = clip(p, 0, size - 1)
        pos.append(p)
    strides = [1] * nd
    for k in range(nd - 2, -1, -1):
        strides[k] = strides[k + 1] * sizes[k + 1]
    flat = input.reshape(n, c, -1)

    def pick(idx_list):
        """Values at integer positions (list of (N, Q) arrays) and the in-image mask."""
        inside = xp.ones((n, q), dtype=bool)
        lin = xp.zeros((n, q), dtype=xp.int64)
        for k, i in enumerate(idx_list):
            inside &= (i >= 0) & (i <= sizes[k] - 1)
            lin += xp.clip(i, 0, sizes[k] - 1).astype(xp.int64) * strides[k]
        index = Tensor._make(xp.ascontiguousarray(xp.broadcast_to(lin[:, None, :], (n, c, q))), dev)
        return gather(flat, 2, index), inside

    if mode == "nearest":
        vals, inside = pick([xp.rint(p.array) for p in pos])
        out = vals * Tensor._make(inside[:, None, :].astype(input.dtype), dev)
    else:
        lows = [xp.floor(p.array) for p in pos]
        fracs = [p - Tensor._make(lo, dev) for p, lo in zip(pos, lows)]   # in [0, 1), differentiable
        terms = []
        for corner in range(1 << nd):
            idx, w = [], None
            for k in range(nd):
                up = (corner >> (nd - 1 - k)) & 1
                idx.append(lows[k] + up)
                wk = fracs[k] if up else 1 - fracs[k]
                w = wk if w is None else w * wk
            vals, inside = pick(idx)
            w = w * Tensor._make(inside.astype(input.dtype), dev)
            terms.append(vals * w.unsqueeze(1))
        out = terms[0]
        for t in terms[1:]:
            out = out + t
    return out.reshape((n, c) + out_sp)



def _reflect_array(xp, pos, size, align_corners):
    """:func:`_reflect` (then clipped) on a raw array of positions (the bicubic taps)."""
    lo2, hi2 = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
    if lo2 == hi2:
        return xp.zeros_like(pos)
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    d = xp.abs(pos - lo)
    flips = xp.floor(d / span)
    extra = d - flips * span
    out = xp.where(flips % 2 == 0, extra + lo, span - extra + lo)
    return xp.clip(out, 0, size - 1)


def _cubic_weights(t):
    """Keys' cubic-convolution weights (A = -0.75) of the taps at offsets -1, 0, 1, 2 for the
    fractional position ``t`` in [0, 1) (a Tensor: the weights are differentiable in t)."""
    a = -0.75

    def near(x):      # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):       # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _bicubic(input, g, sizes, padding_mode, align_corners):
    """grid_sample's bicubic mode on (N, C, H, W) with the (N, Q, 2) grid ``g``: (N, C, Q).

    As PyTorch: positions are unnormalised without padding; each of the 16 integer taps is
    mapped by the padding mode (border: clipped; reflection: mirrored, then clipped; zeros:
    taps outside the image read 0)."""
    xp, dev = input.device.xp, input.device
    n, c = input.shape[0], input.shape[1]
    h, w = sizes
    q = g.shape[1]
    px = _unnormalize(g[:, :, 0], w, align_corners)
    py = _unnormalize(g[:, :, 1], h, align_corners)
    x0, y0 = xp.floor(px.array), xp.floor(py.array)
    wx = _cubic_weights(px - Tensor._make(x0, dev))
    wy = _cubic_weights(py - Tensor._make(y0, dev))
    flat = input.reshape(n, c, -1)

    def tap(coord, size):
        if padding_mode == "border":
            coord = xp.clip(coord, 0, size - 1)
        elif padding_mode == "reflection":
            coord = _reflect_array(xp, coord, size, align_corners)
        inside = (coord >= 0) & (coord <= size - 1)
        return xp.clip(coord, 0, size - 1).astype(xp.int64), inside

    out = None
    for j in range(4):
        yi, yin = tap(y0 - 1 + j, h)
        row = None
        for i in range(4):
            xi, xin = tap(x0 - 1 + i, w)
            lin = xp.ascontiguousarray(xp.broadcast_to((yi * w + xi)[:, None, :], (n, c, q)))
            vals = gather(flat, 2, Tensor._make(lin, dev))
            mask = Tensor._make((yin & xin).astype(input.dtype)[:, None, :], dev)
            term = vals * mask * wx[i].unsqueeze(1)
            row = term if row is None else row + term
        term = row * wy[j].unsqueeze(1)
        out = term if out is None else out + term
    return out
