"""Folding an eval-mode batch norm into the convolution or linear layer before it
(PyTorch's ``torch.nn.utils.fusion``), for faster inference.

In eval mode ``BN(y) = γ (y − μ) / √(σ² + ε) + β`` is affine in ``y``; with ``y = W x + b``
it is the same layer with

    W' = W · s (per output channel),  b' = (b − μ) · s + β,   s = γ / √(σ² + ε)

(``s`` along dim 1 for a transposed convolution, whose output channels are dim 1). The fused
layer gives the same outputs as the pair (up to rounding) with one layer less.
"""
from __future__ import annotations

import copy

from ...autograd.grad_mode import no_grad
from ...tensor.creation import ones_like, zeros_like
from ..parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _rsqrt(t):
    return t ** -0.5


def _check_eval(a, b, fn):
    if a.training or b.training:
        raise RuntimeError(f"{fn}: Fusion only for eval! Call .eval() on both modules first (training-mode batch "
                           "norm uses batch statistics, which cannot be folded into the weights)")
    if getattr(b, "running_mean", None) is None or getattr(b, "running_var", None) is None:
        raise RuntimeError(f"{fn}: the batch norm has no running statistics (track_running_stats=False), so it "
                           "cannot be folded")


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose: bool = False):
    """The fused ``(weight, bias)`` Parameters (see the module docstring); ``conv_b``, ``bn_w`` and
    ``bn_b`` may be None (zeros, ones, zeros). The weight keeps ``conv_w``'s dtype, the bias
    ``conv_b``'s (``conv_w``'s when None); each keeps its ``requires_grad``."""
    w_dtype = conv_w.dtype
    b_dtype = conv_b.dtype if conv_b is not None else w_dtype
    b_requires = conv_b.requires_grad if conv_b is not None else False
    with no_grad():
        if conv_b is None:
            conv_b = zeros_like(bn_rm)
        if bn_w is None:
            bn_w = ones_like(bn_rm)
        if bn_b is None:
            bn_b = zeros_like(bn_rm)
        rs = _rsqrt(bn_rv + bn_eps)
        shape = ((1, -1) if transpose else (-1, 1)) + (1,) * (conv_w.ndim - 2)
        w = (conv_w * (bn_w * rs).reshape(shape)).to(w_dtype)
        b = ((conv_b - bn_rm) * rs * bn_w + bn_b).to(b_dtype)
    return Parameter(w, conv_w.requires_grad), Parameter(b, b_requires)


def fuse_conv_bn_eval(conv, bn, transpose: bool = False):
    """A copy of ``conv`` (eval mode) with ``bn`` (eval mode, after it) folded in."""
    _check_eval(conv, bn, "fuse_conv_bn_eval")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps,
                                                    bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """The fused ``(weight, bias)`` Parameters of a Linear followed by a BatchNorm1d."""
    b_requires = linear_b.requires_grad if linear_b is not None else False
    with no_grad():
        if linear_b is None:
            linear_b = zeros_like(bn_rm)
        if bn_w is None:
            bn_w = ones_like(bn_rm)
        if bn_b is None:
            bn_b = zeros_like(bn_rm)
        scale = bn_w * _rsqrt(bn_rv + bn_eps)
        w = linear_w * scale.unsqueeze(-1)
        b = (linear_b - bn_rm) * scale + bn_b
    return Parameter(w, linear_w.requires_grad), Parameter(b, b_requires)


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` (eval mode) with ``bn`` (eval mode, after it) folded in. The batch norm's
    ``num_features`` must equal ``linear.out_features`` (or be 1, broadcast)."""
    _check_eval(linear, bn, "fuse_linear_bn_eval")
    if not (linear.out_features == bn.num_features or bn.num_features == 1):
        raise ValueError(f"fuse_linear_bn_eval: To fuse, linear.out_features ({linear.out_features}) must equal "
                         f"bn.num_features ({bn.num_features}) OR bn.num_features must equal 1")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
