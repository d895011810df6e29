"""Channel dropout (``dropout2d``): zero whole feature maps while training.

Neighbouring pixels of a feature map are strongly correlated, so zeroing single pixels
(``dropout``) barely regularises a convolutional layer: the next layer reads the same
information from the neighbours. ``dropout2d`` instead keeps or drops each (sample,
channel) map as a whole::

    y[n, c] = x[n, c] * m[n, c] / (1 - p),   m[n, c] ~ Bernoulli(1 - p)

The mask is drawn on the host from the global generator (``tn.manual_seed`` makes it
reproducible, the same on cpu and cuda); the op is a multiplication by a constant, so
its gradient is the same mask times the incoming gradient. ``dropout1d`` (N, C, L) and
``dropout3d`` (N, C, D, H, W) do the same for sequences and volumes, and
``feature_alpha_dropout`` is alpha dropout (see :mod:`.dropout`) with one draw per channel.
"""
from __future__ import annotations

from ..backend.errors import DTypeError, ShapeError
from ..tensor.random import generator
from ..tensor.tensor import Tensor
from .dropout import _check_p, apply_alpha, scale_by_mask

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout",
]


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each channel of (N, C, H, W) (or unbatched (C, H, W)) with probability ``p``; scale the rest.

    With ``training=False`` or ``p=0`` the input is returned unchanged; ``p=1`` gives
    zeros. ``inplace=True`` multiplies ``input`` by the mask in its own memory and returns
    it, as PyTorch does.
    """
    op = "dropout2d"
    p = _check_p(p, op)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected input of shape (N, C, H, W) or (C, H, W), got shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: needs a floating tensor, got {input.dtype}; convert with .float()")
    lead = input.shape[:-2]
    keep = generator().random(lead) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = (keep * scale).astype(input.dtype).reshape(lead + (1, 1))
    dev = input.device
    if dev.xp.__name__ != "numpy":
        mask = dev.from_host(mask)
    return scale_by_mask(input, Tensor._make(mask, dev), inplace, op)


def _channel_keep(input, p, nsp, op, shape_text):
    """Validate a channel dropout's input (``nsp`` spatial axes, batched or not) and draw the
    per-(sample, channel) keep mask, shaped to broadcast over the spatial axes."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.ndim not in (nsp + 1, nsp + 2):
        raise ShapeError(f"{op}: expected input of shape {shape_text} ({nsp + 2}-D, or {nsp + 1}-D without the "
                         f"batch axis), got shape {tuple(input.shape)}")
    return _draw(input, p, nsp, op)


def _draw(input, p, nsp, op):
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: needs a floating tensor, got {input.dtype}; convert with .float()")
    lead = input.shape[:input.ndim - nsp]
    return (generator().random(lead) >= p).reshape(lead + (1,) * nsp)


def _channel_dropout(input, p, training, inplace, nsp, op, shape_text):
    p = _check_p(p, op)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if not training or p == 0.0:
        if input.ndim not in (nsp + 1, nsp + 2):
            raise ShapeError(f"{op}: expected input of shape {shape_text} ({nsp + 2}-D, or {nsp + 1}-D without "
                             f"the batch axis), got shape {tuple(input.shape)}")
        return input
    keep = _channel_keep(input, p, nsp, op, shape_text)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = (keep * scale).astype(input.dtype)
    dev = input.device
    if dev.xp.__name__ != "numpy":
        mask = dev.from_host(mask)
    return scale_by_mask(input, Tensor._make(mask, dev), inplace, op)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each channel of (N, C, L) (or unbatched (C, L)) with probability ``p``; scale the rest by 1/(1-p)."""
    return _channel_dropout(input, p, training, inplace, 1, "dropout1d", "(N, C, L)")


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each channel of (N, C, D, H, W) (or unbatched (C, D, H, W)) with probability ``p``; scale the rest."""
    return _channel_dropout(input, p, training, inplace, 3, "dropout3d", "(N, C, D, H, W)")


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout with one draw per (sample, channel) of (N, C, *): whole channels go to SELU's
    saturation value, then the affine correction of :func:`alpha_dropout` applies (PyTorch's
    ``feature_alpha_dropout``; ``training`` defaults to False as there)."""
    op = "feature_alpha_dropout"
    p = _check_p(p, op)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ShapeError(f"{op}: needs at least 2 dimensions (N, C, ...), got shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    keep = _draw(input, p, input.ndim - 2, op)
    return apply_alpha(input, keep, p, inplace, op)
