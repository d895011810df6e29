"""The casts that ops make under ``tn.autocast`` (PyTorch's autocast op lists).

PyTorch sorts ops into lists per device type; tinynet follows the lists for the ops it has:

* **lower precision** (matrix products and convolutions, where float16 is fast and
  accurate enough): each floating input of the autocast device, other than float64, is cast
  to the autocast dtype before the op runs. ``LOWER[device_type]``.
* **float32** (ops whose float16 result would lose accuracy: losses, reductions of
  exponentials, norms): float16 inputs of the autocast device are cast up to float32.
  ``FLOAT32[device_type]``.

Every other op runs in its inputs' dtype. Tensors on a device whose autocast is off are
never touched (PyTorch's rule), and neither is float64. The cast is the ordinary
differentiable ``.to(dtype)``, so gradients flow back to a float32 parameter in float32.

The lists differ per device as in PyTorch: CUDA also lowers ``mv``, ``addmv`` and ``addr``;
the CPU lowers neither. ``einsum`` (and ``tensordot``, built on it) is lowered on both:
PyTorch's CPU ``einsum`` is not on the list itself but computes through ``bmm``, which is, so
its result is float16 there too; tinynet's ``einsum`` is one op, so it is listed.
"""
from __future__ import annotations

import functools

from ..autograd.autocast_state import STATE as _AC
from ..autograd.grad_mode import STATE as _GRAD
from ..tensor.tensor import Tensor

_LOWER_COMMON = frozenset({
    "linear", "matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "einsum", "prelu",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "scaled_dot_product_attention", "packed_self_attention",
})
LOWER = {
    "cpu": _LOWER_COMMON,
    "cuda": _LOWER_COMMON | {"mv", "addmv", "addr", "chain_matmul", "multi_dot"},
}

_FLOAT32_LOSSES = frozenset({
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
    "binary_cross_entropy_with_logits", "margin_ranking_loss", "soft_margin_loss", "triplet_margin_loss",
    "multi_margin_loss", "multilabel_margin_loss", "hinge_embedding_loss", "cosine_embedding_loss",
    "poisson_nll_loss", "ctc_loss", "cdist",
})
FLOAT32 = {
    # PyTorch's CPU list: the losses, cdist, prod and the linear-algebra decompositions.
    "cpu": _FLOAT32_LOSSES | {"binary_cross_entropy", "prod", "trace", "cholesky", "inverse", "det",
                              "slogdet", "logdet", "svdvals", "eigh", "qr", "solve", "matrix_exp", "pinv"},
    # PyTorch's CUDA list: the losses, the softmax family, normalizations, exponentials,
    # logarithms, powers, norms and sums (where float16 overflows or loses the small terms).
    "cuda": _FLOAT32_LOSSES | {
        "softmax", "log_softmax", "softmin", "layer_norm", "group_norm", "logsumexp", "softplus",
        "exp", "expm1", "log", "log10", "log2", "log1p", "pow", "reciprocal", "rsqrt", "acos", "asin", "cosh",
        "sinh", "tan", "erfinv", "sum", "prod", "cumsum", "cumprod", "norm", "vector_norm", "matrix_norm",
        "normalize", "dist", "pdist", "cosine_similarity", "renorm",
    },
}


def _eligible(t, device_type_enabled):
    return (isinstance(t, Tensor) and t.dtype.kind == "f" and t.dtype.itemsize != 8
            and device_type_enabled.get(t.device.type, False))


def _cast(t, dtype_name, cacheable):
    """``t.to(dtype)``; a parameter's low-precision copy is made once per autocast region."""
    if not (cacheable and _AC.cache_enabled and _GRAD.enabled and t.grad_fn is None and t._requires_grad):
        return t.to(dtype=dtype_name)
    entry = _AC.cache.get(id(t))
    if entry is not None:
        source, version, cast = entry
        fn = cast.grad_fn
        if source is t and version == t._version[0] and cast.dtype == dtype_name and fn is not None and not fn.freed:
            return cast
    cast = t.to(dtype=dtype_name)
    _AC.cache[id(t)] = (t, t._version[0], cast)
    return cast


def autocast_lower(op, *tensors):
    """Under autocast: ``tensors`` with the floating ones of an autocast device cast to its
    dtype when ``op`` is on that device's lower-precision list; otherwise unchanged.
    Non-Tensors (None, numbers) pass through. Returns a tuple."""
    if not _AC.active:
        return tensors
    enabled = _AC.enabled
    out = []
    for t in tensors:
        if _eligible(t, enabled) and op in LOWER[t.device.type]:
            name = _AC.dtype[t.device.type]
            t = t if t.dtype == name else _cast(t, name, True)
        out.append(t)
    return tuple(out)


def autocast_float32(op, *tensors):
    """Under autocast: ``tensors`` with float16 ones of an autocast device cast up to float32
    when ``op`` is on that device's float32 list; otherwise unchanged. Returns a tuple."""
    if not _AC.active:
        return tensors
    enabled = _AC.enabled
    out = []
    for t in tensors:
        if _eligible(t, enabled) and t.dtype != "float32" and op in FLOAT32[t.device.type]:
            t = _cast(t, "float32", False)
        out.append(t)
    return tuple(out)


def float32_under_autocast(op, n_inputs=2):
    """Decorator: under autocast, the first ``n_inputs`` positional arguments of an op on the
    float32 list are cast up (:func:`autocast_float32`) before the op runs; outside autocast
    the op is called as it is (one flag test)."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if _AC.active:
                args = autocast_float32(op, *args[:n_inputs]) + args[n_inputs:]
            return fn(*args, **kwargs)
        return wrapper
    return decorate
