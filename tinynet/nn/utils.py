"""Gradient utilities: clipping by norm or value, flattening parameters to one vector.

Clipping keeps one bad batch (an exploding gradient in an RNN, say) from throwing the
weights far away: ``clip_grad_norm_`` rescales all gradients together so their joint
norm is at most ``max_norm``, which keeps the update's direction.
"""
from __future__ import annotations

import math

from ..backend.errors import DeviceError
from ..autograd.grad_mode import no_grad
from ..functional.join import cat
from ..tensor.creation import tensor
from ..tensor.tensor import Tensor


def _param_list(parameters, fn):
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(f"{fn}: expected a Tensor or an iterable of Tensors, got {type(parameters).__name__}") from None
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: expected Tensors, got an element of type {type(p).__name__}")
    return params


def _check_foreach(foreach, fn: str):
    """PyTorch's ``foreach`` switch: None or False (one gradient at a time, what tinynet does)
    are accepted; True (the multi-tensor implementation, which tinynet lacks) is refused."""
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"{fn}: foreach must be None, True or False, got {type(foreach).__name__} {foreach!r}")
    if foreach:
        raise ValueError(f"{fn}: foreach=True is not supported: tinynet has no multi-tensor (foreach) "
                         "implementation and clips one gradient at a time, which gives the same numbers. "
                         "Pass foreach=None (or False).")


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None):
    """Scale gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``.

    The total norm is ``(Σ_p ‖g_p‖^q)^(1/q)`` over every gradient (the max of |g| for
    ``norm_type=inf``). When it exceeds ``max_norm`` every gradient is multiplied by
    ``max_norm / (total + 1e-6)`` (PyTorch's formula). Returns the total norm (before
    clipping) as a 0-d tensor. ``foreach``: None or False; True raises ValueError (no
    multi-tensor implementation).
    """
    _check_foreach(foreach, "clip_grad_norm_")
    grads = [p.grad for p in _param_list(parameters, "clip_grad_norm_") if p.grad is not None]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return tensor(0.0)
    dev = grads[0].device
    xp = dev.xp
    if math.isinf(norm_type):
        per = [xp.abs(g.array).max() if g.array.size else xp.zeros((), g.array.dtype) for g in grads]
        total = xp.max(xp.stack([xp.asarray(v, dtype="float64") for v in per]))
    else:
        per = [xp.sum(xp.abs(g.array.astype("float64", copy=False)) ** norm_type) for g in grads]
        total = xp.sum(xp.stack(per)) ** (1.0 / norm_type)
    total_f = float(total)
    if error_if_nonfinite and not math.isfinite(total_f):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total_f}, so they "
            "cannot be clipped; pass error_if_nonfinite=False to allow it"
        )
    coef = max_norm / (total_f + 1e-6)
    if coef < 1.0:
        with no_grad():
            for g in grads:
                g.array *= g.array.dtype.type(coef)
                g._bump()
    return Tensor._make(xp.asarray(total, dtype=grads[0].dtype), dev)


def clip_grad_value_(parameters, clip_value: float, foreach=None):
    """Clamp every gradient element into ``[−clip_value, clip_value]`` in place. ``foreach``:
    None or False; True raises ValueError (no multi-tensor implementation)."""
    _check_foreach(foreach, "clip_grad_value_")
    clip_value = float(clip_value)
    for p in _param_list(parameters, "clip_grad_value_"):
        if p.grad is not None:
            xp = p.grad.device.xp
            xp.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)
            p.grad._bump()


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-D tensor (as PyTorch, differentiable:
    the result is a ``cat`` of the parameters' flattened views, so a loss of it back-propagates
    into the parameters)."""
    params = _param_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    dev = params[0].device
    for p in params:
        if p.device is not dev:
            raise DeviceError(f"parameters_to_vector: parameters are on {dev.type} and {p.device.type}; move them to one device")
    return cat([p.reshape(-1) for p in params], axis=0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor ``vec`` into the parameters (in place)."""
    params = _param_list(parameters, "vector_to_parameters")
    if not isinstance(vec, Tensor) or vec.ndim != 1:
        raise TypeError("vector_to_parameters: vec must be a 1-D Tensor")
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements but the parameters have {total}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.array[...] = vec.array[offset:offset + n].reshape(p.shape)
            p._bump()
            offset += n
