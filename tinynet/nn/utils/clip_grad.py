"""Gradient clipping (``nn.utils.clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_``), PyTorch's ``torch.nn.utils.clip_grad``.

Clipping keeps one bad batch (an exploding gradient in an RNN, say) from throwing the
weights far away: ``clip_grad_norm_`` rescales all gradients together so their joint
norm is at most ``max_norm``, which keeps the update's direction.
"""
from __future__ import annotations

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]

import math

import warnings

from ...backend.errors import DeviceError, ShapeError
from ...autograd.grad_mode import no_grad
from ...tensor.creation import tensor
from ...tensor.tensor import Tensor


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


#: Elements per BLAS dot product in :func:`_sum_of_squares`.
_DOT_BLOCK = 1 << 14


def _sum_of_squares(a, xp):
    """``Σ a²`` at BLAS speed (the common ``norm_type=2`` case).

    On the CPU a float32/float64 array is cut into blocks of 2^14 elements; each block's
    ``dot(block, block)`` runs in BLAS (one pass, no temporaries) and the block sums are
    added in float64. A float32 block sums in float32 (as PyTorch's norm does), good to
    ~1e-8 relative, far finer than clipping needs and below the float32 rounding of the
    returned norm; float64 blocks are float64-exact to rounding. Converting to float64 and
    squaring elementwise, the general path, makes three passes and two temporaries: several
    times slower for an embedding's gradient. Other dtypes and devices take the general path.
    """
    if xp.__name__ != "numpy" or a.dtype not in (xp.float32, xp.float64):
        return xp.sum(xp.square(a.astype("float64", copy=False)))
    flat = a.reshape(-1)
    total = 0.0
    for start in range(0, flat.size, _DOT_BLOCK):
        block = flat[start:start + _DOT_BLOCK]
        total += float(xp.dot(block, block))
    return xp.float64(total)


def _norm_of(arrays, norm_type, xp):
    """``(Σ ‖a‖_q^q)^(1/q)`` (max |a| for q = inf) over ``arrays``, accumulated in float64
    (for q = 2, per block of :func:`_sum_of_squares`)."""
    if math.isinf(norm_type):
        per = [xp.abs(a).max() if a.size else xp.zeros((), a.dtype) for a in arrays]
        vals = xp.stack([xp.asarray(v, dtype="float64") for v in per])
        return vals.max() if norm_type > 0 else vals.min()
    if norm_type == 2.0:
        per = [_sum_of_squares(a, xp) for a in arrays]
    else:
        per = [xp.sum(xp.abs(a.astype("float64", copy=False)) ** norm_type) for a in arrays]
    return xp.sum(xp.stack(per)) ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None):
    """The ``norm_type``-norm of the norms of ``tensors`` (a Tensor or an iterable of them), as if
    they were joined into one vector: ``(Σ_t ‖t‖_q^q)^(1/q)`` (the largest |element| for
    ``norm_type=inf``). PyTorch's ``torch.nn.utils.get_total_norm`` (usually given the gradients,
    ``[p.grad for p in params]``); no tensors give ``tensor(0.)``. Computed in float64 and
    returned as a 0-d tensor of the first tensor's dtype and device, without history.
    ``error_if_nonfinite=True`` raises RuntimeError on a nan/inf total."""
    _check_foreach(foreach, "get_total_norm")
    ts = [t for t in _param_list(tensors, "get_total_norm") if t is not None]
    norm_type = float(norm_type)
    if not ts:
        return tensor(0.0)
    dev = ts[0].device
    for t in ts:
        if t.device is not dev:
            raise DeviceError(f"get_total_norm: the tensors are on {dev.type} and {t.device.type}; move them to one "
                              "device (.to(device)) first")
    total = _norm_of([t.array for t in ts], norm_type, dev.xp)
    total_f = float(total)
    if error_if_nonfinite and not math.isfinite(total_f):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            f"clipped (it is {total_f}). To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"
        )
    return Tensor._make(dev.xp.asarray(total, dtype=ts[0].dtype), dev)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None):
    """Scale the parameters' gradients in place by ``min(1, max_norm / (total_norm + 1e-6))``,
    given a ``total_norm`` computed before (``get_total_norm``), as PyTorch's
    ``clip_grads_with_norm_``: ``clip_grad_norm_`` is ``get_total_norm`` of the gradients then
    this. ``total_norm`` is a 0-d tensor or a number."""
    _check_foreach(foreach, "clip_grads_with_norm_")
    grads = [p.grad for p in _param_list(parameters, "clip_grads_with_norm_") if p.grad is not None]
    if isinstance(total_norm, Tensor):
        if total_norm.numel() != 1:
            raise ShapeError(f"clip_grads_with_norm_: total_norm must be one number (a 0-d tensor), got shape "
                             f"{tuple(total_norm.shape)}")
        total_norm = total_norm.item()
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    if coef < 1.0:
        with no_grad():
            for g in grads:
                g.array *= g.array.dtype.type(coef)
                g._bump()


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None):
    """Scale gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``.

    The total norm is ``(Σ_p ‖g_p‖^q)^(1/q)`` over every gradient (the max of |g| for
    ``norm_type=inf``). When it exceeds ``max_norm`` every gradient is multiplied by
    ``max_norm / (total + 1e-6)`` (PyTorch's formula). Returns the total norm (before
    clipping) as a 0-d tensor. ``foreach``: None or False; True raises ValueError (no
    multi-tensor implementation). It is :func:`get_total_norm` of the gradients followed by
    :func:`clip_grads_with_norm_`.
    """
    _check_foreach(foreach, "clip_grad_norm_")
    params = _param_list(parameters, "clip_grad_norm_")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_` (PyTorch's, with its FutureWarning)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


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


