"""Padding (PyTorch's ``F.pad``): constant, reflect, replicate and circular, with cropping.

``pad`` is a flat tuple read from the LAST axis backwards: ``(left, right)`` pads the last
axis, ``(left, right, top, bottom)`` the last two, and so on. A negative width removes
that many elements instead (cropping), in every mode, as in PyTorch.

How each mode is built (all from existing differentiable ops, so gradients of any order
come for free):

* ``constant``: crop the negative widths with a slice, then place the result in a block
  of ``value`` (the :class:`~tinynet.functional.join.Pad` op, whose gradient is a slice).
* ``reflect`` / ``replicate``: one integer gather per padded axis. Output position ``j``
  of an axis of length ``n`` padded by ``(lo, hi)`` reads source position ``p = j - lo``
  mapped into ``[0, n)``: ``reflect`` mirrors without repeating the edge element
  (``p -> |p|``, ``p -> 2(n-1) - p``), ``replicate`` clamps to the edge. The positions are
  those of the ORIGINAL axis, so cropping one side does not change what the other side
  mirrors (PyTorch's rule). The gradient of a gather is a scatter-add, so every source
  element collects the gradients of all its copies.
* ``circular``: the axis is first cropped, then wrapped around the cropped length ``m``
  (``p -> p mod m``; each side at most ``m``, i.e. the input is never wrapped twice).

Limits, as PyTorch's: ``reflect`` needs every width below the axis' length, ``circular`` at
most the (cropped) length, ``value`` is only for ``constant``. Unlike PyTorch, whose
non-constant modes pad only the last 1-3 axes of a batched or unbatched (N, C, ...) input,
every mode here pads any number of axes of any tensor (PyTorch's cases give its results).
"""
from __future__ import annotations

import numpy as _np  # host-side only: small integer index tables

from ..backend.errors import ArgumentError, ShapeError
from ..tensor.tensor import Tensor
from ._args import as_float, as_int
from .join import Pad

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


class _ModeError(NotImplementedError, ValueError):
    """An unknown padding mode: PyTorch raises NotImplementedError; ValueError suits a bad argument value."""


def _flat_widths(pad, ndim, op):
    """Per-axis (before, after) pairs (first axis first) from PyTorch's flat ``pad``."""
    if isinstance(pad, Tensor) or not isinstance(pad, (tuple, list)):
        raise TypeError(f"{op}: pad must be a tuple of ints (left, right, top, bottom, ...), got {pad!r}")
    if pad and all(isinstance(p, (tuple, list)) for p in pad):
        # NumPy's pad_width form (a pair per axis, first axis first), kept from tinynet's older pad
        pairs = [tuple(as_int(v, "pad", op) for v in p) for p in pad]
        if any(len(p) != 2 for p in pairs):
            raise ArgumentError(f"{op}: each pair of pad_width must be (before, after), got {pad}")
        if len(pairs) == 1:
            pairs = pairs * ndim
        if len(pairs) != ndim:
            raise ShapeError(f"{op}: pad_width has {len(pairs)} pairs for a tensor of {ndim} dimensions")
        return pairs
    widths = [as_int(v, "pad", op) for v in pad]
    if len(widths) % 2:
        raise ShapeError(f"{op}: the flat pad tuple must have an even length (before, after per axis, last axis "
                         f"first), got {tuple(pad)}")
    if len(widths) // 2 > ndim:
        raise ShapeError(f"{op}: {tuple(pad)} pads {len(widths) // 2} axes but the tensor has only {ndim} "
                         "(the pad length must be at most twice the input dimension)")
    pairs = [(0, 0)] * ndim
    for k in range(len(widths) // 2):
        pairs[ndim - 1 - k] = (widths[2 * k], widths[2 * k + 1])
    return pairs


def _crop(x, pairs, op):
    """Remove the negative widths with a slice (a view); the other widths become 0."""
    key, cropped = [], False
    for ax, (lo, hi) in enumerate(pairs):
        n = x.shape[ax]
        start, stop = max(-lo, 0), n - max(-hi, 0)
        if stop < start:
            raise ShapeError(f"{op}: negative padding {(lo, hi)} removes more than the {n} elements of axis "
                             f"{ax} (input shape {tuple(x.shape)})")
        cropped |= (start, stop) != (0, n)
        key.append(slice(start, stop))
    return x[tuple(key)] if cropped else x


def _source_positions(n, lo, hi, mode):
    """Host int64 table of source positions for one axis of length n padded by (lo, hi)."""
    pos = _np.arange(-lo, n + hi, dtype=_np.int64)
    if mode == "replicate":
        return _np.clip(pos, 0, n - 1)
    if mode == "circular":
        return pos % n
    period = 2 * (n - 1)
    if period == 0:
        return _np.zeros_like(pos)
    pos = _np.abs(pos) % period
    return _np.where(pos >= n, period - pos, pos)


def pad(input, pad, mode="constant", value=None):
    """Pad (or, with negative widths, crop) ``input`` as PyTorch's ``F.pad``.

    ``pad = (left, right)`` pads the last axis, ``(left, right, top, bottom)`` the last two,
    ``(left, right, top, bottom, front, back)`` the last three (NumPy's per-axis
    ``pad_width`` pairs are accepted too). ``mode``: ``"constant"`` (fill with ``value``,
    default 0, any number of axes), ``"reflect"`` (mirror without repeating the edge),
    ``"replicate"`` (repeat the edge) or ``"circular"`` (wrap around); see the module
    docstring for the rules and limits of each.
    """
    op = "pad"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise _ModeError(f"{op}: unknown mode {mode!r}; expected one of {_MODES}")
    if mode != "constant" and value is not None and value != 0:
        raise ArgumentError(f"{op}: padding mode {mode!r} doesn't take a value argument (got value={value!r}); "
                            "use mode='constant' to fill with a value")
    pairs = _flat_widths(pad, input.ndim, op)
    if mode == "constant":
        x = _crop(input, pairs, op)
        widths = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
        if all(w == (0, 0) for w in widths):
            return x.clone()  # a new tensor, as PyTorch returns (never the input or a view of it)
        fill = 0.0 if value is None else as_float(value, "value", op)
        if input.dtype.kind != "f" and fill == int(fill):
            fill = int(fill)
        return Pad.apply(x, widths=widths, value=fill)
    out = input
    if mode == "circular":
        out = _crop(out, pairs, op)
        pairs = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    xp_dev = input.device
    if all(p == (0, 0) for p in pairs):
        return out.clone()  # nothing to pad (or only a circular crop): still a new tensor
    for ax, (lo, hi) in enumerate(pairs):
        if lo == 0 and hi == 0:
            continue
        n = out.shape[ax]
        if n == 0:
            raise ShapeError(f"{op}: {mode} padding of axis {ax} needs a non-empty axis (input shape "
                             f"{tuple(input.shape)})")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ShapeError(f"{op}: reflect padding of {(lo, hi)} is too large for axis {ax} of size {n}: each "
                             f"width must be smaller than the axis (input shape {tuple(input.shape)}); use "
                             "'replicate' or pad in several steps")
        if mode == "circular" and (lo > n or hi > n):
            raise ShapeError(f"{op}: circular padding {(lo, hi)} of axis {ax} would wrap the input around more "
                             f"than once (axis size {n} after cropping, input shape {tuple(input.shape)})")
        if n + lo + hi < 0:
            raise ShapeError(f"{op}: negative padding {(lo, hi)} removes more than the {n} elements of axis "
                             f"{ax} (input shape {tuple(input.shape)})")
        idx = Tensor._make(xp_dev.from_host(_source_positions(n, lo, hi, mode)), xp_dev)
        out = out[(slice(None),) * ax + (idx,)]
    return out

