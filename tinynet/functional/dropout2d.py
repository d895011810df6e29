"""Channel dropout (``dropout2d``): zero whole feature maps while training.

Neighbouring pixels of a feature map are strongly correlated, so zeroing single pixels
(``dropout``) barely regularises a convolutional layer: the next layer reads the same
information from the neighbours. ``dropout2d`` instead keeps or drops each (sample,
channel) map as a whole::

    y[n, c] = x[n, c] * m[n, c] / (1 - p),   m[n, c] ~ Bernoulli(1 - p)

The mask is drawn on the host from the global generator (``tn.manual_seed`` makes it
reproducible, the same on cpu and cuda); the op is a multiplication by a constant, so
its gradient is the same mask times the incoming gradient.
"""
from __future__ import annotations

from ..backend.errors import ShapeError
from ..tensor.random import generator
from ..tensor.tensor import Tensor
from .dropout import _check_p, scale_by_mask

__all__ = ["dropout2d"]  # the public ops: tinynet.functional and tn.<name> export these


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
        raise TypeError(f"{op}: needs a floating tensor, got {input.dtype}; convert with .float()")
    lead = input.shape[:-2]
    keep = generator().random(lead) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = (keep * scale).astype(input.dtype).reshape(lead + (1, 1))
    dev = input.device
    if dev.xp.__name__ != "numpy":
        mask = dev.from_host(mask)
    return scale_by_mask(input, Tensor._make(mask, dev), inplace, op)
