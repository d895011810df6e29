"""Dropout: randomly zero activations while training, to regularise a network.

Inverted dropout (what PyTorch does): in training each element is kept with
probability ``1 − p`` and the survivors are scaled by ``1/(1 − p)``, so the expected
value of every activation is unchanged and evaluation needs no rescaling::

    y = x · m / (1 − p),   m_i ~ Bernoulli(1 − p)

The mask is drawn on the host from the global generator (``tn.manual_seed`` makes it
reproducible, and a seed gives the same mask on cpu and cuda), so the op is a
multiplication by a constant: its gradient is the same mask times the incoming gradient.
"""
from __future__ import annotations

import numbers

from ..tensor.random import generator
from ..tensor.tensor import Tensor
from .inplace import assign

__all__ = ["dropout"]  # the public ops: tinynet.functional and tn.<name> export these


def _check_p(p, op):
    """``p`` as a plain float in [0, 1] (NumPy floats too); a bool or a string is refused
    with the same ValueError as an out-of-range number."""
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got p={p!r}")
    return float(p)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1 − p)`` (training only).

    With ``training=False`` or ``p=0`` the input is returned unchanged; ``p=1`` gives zeros.
    ``inplace=True`` multiplies ``input`` by the mask in its own memory and returns it, as
    PyTorch does (see :func:`~tinynet.functional.inplace.assign` for the autograd rules).
    """
    p = _check_p(p, "dropout")
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: expected a Tensor, got {type(input).__name__}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"dropout: needs a floating tensor, got {input.dtype}; convert with .float()")
    dev = input.device
    keep = generator().random(input.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = (keep * scale).astype(input.dtype)
    if dev.xp.__name__ != "numpy":
        mask = dev.from_host(mask)
    return scale_by_mask(input, Tensor._make(mask, dev), inplace, "dropout")


def scale_by_mask(input, mask, inplace: bool, op: str):
    """``input * mask`` (a constant mask), or the same written into ``input`` when ``inplace``.

    The product's backward reads only the mask, so the in-place form needs no copy of the
    input.
    """
    if inplace:
        return assign(input, lambda x: x * mask, f"{op}(inplace=True)", reads_input=False)
    return input * mask
