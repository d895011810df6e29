"""Per-sample gradient rules: each layer's gradient for every sample of a batch, without a loop.

For a layer ``y = f(x; W)`` applied to a batch, autograd gives the *summed* gradient
``dL/dW = sum_i dL_i/dW``. DP-SGD needs each term ``g_i = dL_i/dW`` on its own (to clip it).
Because sample ``i``'s output depends only on sample ``i``'s input, ``g_i`` follows from the
layer's input activations ``x_i`` (saved by a forward hook) and the gradient of the loss with
respect to the layer's output ``b_i = dL/dy_i`` (the "backprops", caught by a hook on the output):

* Linear ``y = x W^T + b``: ``g_i(W) = sum_t b_{i,t}^T x_{i,t}`` (``t`` runs over any sequence
  axes between the batch axis and the feature axis), ``g_i(b) = sum_t b_{i,t}``.
* Conv2d: unfolding the (padded) input (im2col, ``F.unfold``) turns the convolution into a matrix
  product ``y_i = W_mat @ cols_i``, so ``g_i(W_mat) = b_i @ cols_i^T`` (per group),
  ``g_i(b) = sum over positions of b_i``.
* Embedding ``y_{i,t} = W[x_{i,t}]``: row ``v`` of ``g_i(W)`` is the sum of ``b_{i,t}`` over the
  positions ``t`` where ``x_{i,t} == v`` (a scatter-add); the ``padding_idx`` row stays zero.
* LayerNorm ``y = x_hat * w + b`` with ``x_hat`` the normalized input: ``g_i(w) = sum_t b_{i,t} *
  x_hat_{i,t}``, ``g_i(b) = sum_t b_{i,t}``.

Each rule takes the module, the input activation array and the backprops array (both raw arrays of
the module's device, batch axis first) and returns ``{parameter name: array of shape (N, *p.shape)}``.
The same scheme as Opacus (``opacus/grad_sample``); :func:`register_grad_sampler` adds a rule.
"""
from __future__ import annotations

from math import prod

from ..nn.conv import Conv2d
from ..nn.embedding import Embedding
from ..nn.layer_norm import LayerNorm
from ..nn.linear import Linear
from ..tensor.tensor import Tensor
from ..functional.embedding import _scatter_add
from ..functional.folding import unfold

__all__ = ["GRAD_SAMPLERS", "register_grad_sampler", "compute_grad_samples", "supported_layers"]

#: module class -> rule(module, activations, backprops) -> {param name: per-sample gradient array}
GRAD_SAMPLERS: dict = {}


def register_grad_sampler(*module_classes):
    """Decorator: use the decorated function as the per-sample gradient rule of ``module_classes``."""
    def deco(fn):
        for cls in module_classes:
            GRAD_SAMPLERS[cls] = fn
        return fn
    return deco


def supported_layers():
    """Names of the layer classes that have a per-sample gradient rule."""
    return sorted(cls.__name__ for cls in GRAD_SAMPLERS)


def rule_for(module):
    """The rule registered for ``type(module)`` (exact class first, then its bases), or None."""
    for cls in type(module).__mro__:
        if cls in GRAD_SAMPLERS:
            return GRAD_SAMPLERS[cls]
    return None


def compute_grad_samples(module, activations, backprops):
    """Per-sample gradients of ``module``'s own trainable parameters, as ``{name: array}``."""
    rule = rule_for(module)
    if rule is None:
        raise TypeError(
            f"grad_sample: no per-sample gradient rule for layer {type(module).__name__}; supported layers are "
            f"{', '.join(supported_layers())}; freeze its parameters (`p.requires_grad_(False)`) or add a rule "
            "with `tinynet.privacy.register_grad_sampler`"
        )
    return rule(module, activations, backprops)


def _trainable(module, name):
    p = getattr(module, name, None)
    return p is not None and p.requires_grad


@register_grad_sampler(Linear)
def _linear(module, a, b):
    """Linear: ``g_i(W) = sum_t b_{i,t}^T a_{i,t}`` over sequence axes ``t``; bias: ``sum_t b_{i,t}``."""
    xp = module.weight.device.xp
    n = a.shape[0]
    t = prod(a.shape[1:-1])                 # sequence positions per sample (explicit: N may be 0)
    a3 = a.reshape(n, t, a.shape[-1])
    b3 = b.reshape(n, t, b.shape[-1])
    out = {}
    if _trainable(module, "weight"):
        out["weight"] = xp.einsum("nto,nti->noi", b3, a3)
    if _trainable(module, "bias"):
        out["bias"] = b3.sum(axis=1)
    return out


def _conv_pads(module):
    """(top, bottom, left, right) zero padding the Conv2d applies (ints, 'valid' or 'same')."""
    if module.padding == "valid":
        return (0, 0, 0, 0)
    if module.padding == "same":
        pads = []
        for d, k in zip(module.dilation, module.kernel_size):
            t = d * (k - 1)
            pads += [t // 2, t - t // 2]
        return tuple(pads)
    ph, pw = module.padding
    return (ph, ph, pw, pw)


@register_grad_sampler(Conv2d)
def _conv2d(module, a, b):
    """Conv2d via im2col: ``cols_i = unfold(pad(a_i))`` (C*kh*kw, L); per group
    ``g_i(W) = b_i (O, L) @ cols_i^T``; bias: ``b_i`` summed over the L output positions."""
    if module.padding_mode != "zeros":
        raise TypeError(f"grad_sample: Conv2d with padding_mode={module.padding_mode!r} has no per-sample gradient "
                        "rule; use padding_mode='zeros'")
    xp = module.weight.device.xp
    n = a.shape[0]
    top, bottom, left, right = _conv_pads(module)
    if any((top, bottom, left, right)):
        a = xp.pad(a, ((0, 0), (0, 0), (top, bottom), (left, right)))
    cols = unfold(Tensor._make(a, module.weight.device), module.kernel_size, dilation=module.dilation,
                  padding=0, stride=module.stride).array          # (N, C*kh*kw, L)
    g = module.groups
    positions = cols.shape[-1]
    b3 = b.reshape(n, b.shape[1], positions)                       # (N, O, L)
    out = {}
    if _trainable(module, "weight"):
        cols_g = cols.reshape(n, g, cols.shape[1] // g, positions)  # (N, g, C/g*kh*kw, L)
        b_g = b3.reshape(n, g, b3.shape[1] // g, positions)         # (N, g, O/g, L)
        gw = xp.einsum("ngol,ngkl->ngok", b_g, cols_g)
        out["weight"] = gw.reshape((n,) + tuple(module.weight.shape))
    if _trainable(module, "bias"):
        out["bias"] = b3.sum(axis=2)
    return out


@register_grad_sampler(Embedding)
def _embedding(module, a, b):
    """Embedding: scatter-add ``b_{i,t}`` into row ``a_{i,t}`` of sample i's gradient table."""
    if module.scale_grad_by_freq:
        raise TypeError("grad_sample: Embedding(scale_grad_by_freq=True) has no per-sample gradient rule; "
                        "use scale_grad_by_freq=False")
    out = {}
    if not _trainable(module, "weight"):
        return out
    xp = module.weight.device.xp
    n = a.shape[0]
    t = prod(a.shape[1:])
    idx = a.reshape(n, t).astype(xp.int64)
    d = module.embedding_dim
    vals = b.reshape(n, t, d)
    v = module.num_embeddings
    # sample i's row r lives at row i*V + r of one (N*V, D) table: a single scatter-add (NumPy or CuPy)
    flat = xp.arange(n, dtype=xp.int64)[:, None] * v + idx
    gs = _scatter_add(xp, flat, vals, n * v, None).reshape(n, v, d)
    if module.padding_idx is not None:
        gs[:, module.padding_idx] = 0
    out["weight"] = gs
    return out


@register_grad_sampler(LayerNorm)
def _layer_norm(module, a, b):
    """LayerNorm: ``g_i(w) = sum_t b_{i,t} * x_hat_{i,t}`` with ``x_hat = (a - mean) / sqrt(var + eps)``
    over the normalized (trailing) axes; bias: ``sum_t b_{i,t}``."""
    xp = (module.weight if module.weight is not None else module.bias).device.xp
    k = len(module.normalized_shape)
    axes = tuple(range(a.ndim - k, a.ndim))
    mean = a.mean(axis=axes, keepdims=True)
    var = a.var(axis=axes, keepdims=True)
    x_hat = (a - mean) / xp.sqrt(var + module.eps)
    seq = tuple(range(1, a.ndim - k))                  # axes between the batch axis and the normalized ones
    out = {}
    if _trainable(module, "weight"):
        out["weight"] = (b * x_hat).sum(axis=seq) if seq else b * x_hat
    if _trainable(module, "bias"):
        out["bias"] = b.sum(axis=seq) if seq else b
    return out
