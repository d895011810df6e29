"""Dropout: randomly zero activations while training, to regularise a network.

Inverted dropout (what PyTorch does): in training each element is kept with
probability ``1 − p`` and the survivors are scaled by ``1/(1 − p)``, so the expected
value of every activation is unchanged and evaluation needs no rescaling::

    y = x · m / (1 − p),   m_i ~ Bernoulli(1 − p)

The mask is drawn on the host from the global generator (``tn.manual_seed`` makes it
reproducible, and a seed gives the same mask on cpu and cuda), so the op is a
multiplication by a constant: its gradient is the same mask times the incoming gradient.

``alpha_dropout`` (for SELU networks) sets dropped elements to SELU's negative saturation
``-alpha'`` (``alpha' = 1.7580993408473766``) instead of 0, then applies the affine map
``a·y + b`` that keeps zero mean and unit variance (Klambauer et al., 2017)::

    a = 1 / sqrt((alpha'^2·p + 1)(1 − p)),   y = a·(x·m − alpha'·(1 − m)) + a·alpha'·p

``gumbel_softmax`` lives here too: like the masks, its Gumbel noise is drawn on the host from
the global generator.
"""
from __future__ import annotations

import numbers

from ..tensor.random import generator
from ..tensor.tensor import Tensor
from .activation import softmax
from .elementwise import log
from .inplace import assign
from ..backend.errors import ArgumentError, DTypeError

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "dropout", "alpha_dropout", "gumbel_softmax",
]


def _check_p(p, op):
    """``p`` as a plain float in [0, 1] (NumPy floats too); a bool or a string is refused
    with the same ValueError as an out-of-range number."""
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= float(p) <= 1.0:
        raise ArgumentError(f"{op}: dropout probability has to be between 0 and 1, but got p={p!r}")
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
        raise DTypeError(f"dropout: needs a floating tensor, got {input.dtype}; convert with .float()")
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


#: SELU's negative saturation value ``scale·alpha`` (PyTorch's constant for alpha dropout).
_ALPHA = 1.7580993408473766


def alpha_masks(keep, p, dtype):
    """The constant factor and offset of alpha dropout for a host Bernoulli ``keep`` mask:
    ``y = x·factor + offset`` (PyTorch's formula, see the module docstring)."""
    a = 1.0 / ((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p)) ** 0.5
    m = keep.astype("float64")
    return (m * a).astype(dtype), ((m - 1.0) * (_ALPHA * a) + _ALPHA * a * p).astype(dtype)


def apply_alpha(input, keep, p, inplace, op):
    """``input·factor + offset`` of alpha dropout (``p = 1``: zeros, as PyTorch), in place if asked."""
    dev = input.device
    if p == 1.0:
        factor, offset = keep.astype(input.dtype) * 0, keep.astype(input.dtype) * 0
    else:
        factor, offset = alpha_masks(keep, p, input.dtype)
    if dev.xp.__name__ != "numpy":
        factor, offset = dev.from_host(factor), dev.from_host(offset)
    f, b = Tensor._make(factor, dev), Tensor._make(offset, dev)
    if inplace:
        return assign(input, lambda x: x * f + b, f"{op}(inplace=True)", reads_input=False)
    return input * f + b


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout (for SELU networks): keep mean 0 and variance 1 of the activations.

    Each element is dropped with probability ``p`` to SELU's saturation value, then the
    result is scaled and shifted back (see the module docstring). ``training`` defaults to
    False, as in PyTorch; with ``training=False`` or ``p=0`` the input is returned unchanged.
    """
    op = "alpha_dropout"
    p = _check_p(p, op)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: needs a floating tensor, got {input.dtype}; convert with .float()")
    keep = generator().random(input.shape) >= p
    return apply_alpha(input, keep, p, inplace, op)


def gumbel_softmax(logits, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1):
    """A differentiable sample from the categorical distribution of ``logits`` (Jang et al., 2017)::

        y = softmax((logits + g) / tau, dim),   g = −log(E),  E ~ Exponential(1)  (Gumbel noise)

    Lower ``tau`` gives samples closer to one-hot. With ``hard=True`` the result is the one-hot
    of ``argmax(y)`` in the forward pass while the gradient is that of ``y`` (straight-through:
    ``y_hard − y.detach() + y``). ``eps`` is accepted for PyTorch compatibility, where it is
    unused as well (deprecated there).
    """
    op = "gumbel_softmax"
    if not isinstance(logits, Tensor):
        raise TypeError(f"{op}: logits must be a Tensor, got {type(logits).__name__}")
    if logits.dtype.kind != "f":
        raise DTypeError(f"{op}: logits must be a floating tensor, got {logits.dtype}; convert with .float()")
    tau = float(tau)
    if not tau > 0:
        raise ArgumentError(f"{op}: tau must be positive, got {tau}")
    dev = logits.device
    noise = generator().exponential(size=logits.shape).astype(logits.dtype)
    if dev.xp.__name__ != "numpy":
        noise = dev.from_host(noise)
    gumbels = -log(Tensor._make(noise, dev))
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    xp = dev.xp
    axis = dim % logits.ndim if logits.ndim else 0
    arr = y_soft.array
    idx = xp.expand_dims(xp.argmax(arr, axis=axis), axis)
    onehot = xp.zeros_like(arr)
    xp.put_along_axis(onehot, idx, 1.0, axis=axis)
    return Tensor._make(onehot, dev) - y_soft.detach() + y_soft
