"""Layer normalisation (Ba et al., 2016) over the trailing ``normalized_shape`` axes.

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias

with the biased variance, as PyTorch. The work is a fused kernel on each device
(``kernels.layer_norm_forward`` / ``layer_norm_backward``: one pass per row instead of
NumPy's six to eight whole-array passes). ``backward_array`` (ordinary gradients) is the
fused backward kernel; ``backward`` (used when a graph of the backward is recorded,
``create_graph=True``) is the same formula written with tinynet ops, so gradients of
gradients work::

    xhat = (x - mu) * rstd,   gx = g * weight
    dx = rstd * (gx - mean(gx) - xhat * mean(gx * xhat))
    dweight = sum(g * xhat),  dbias = sum(g)      (summed over all leading axes)
"""
from __future__ import annotations

import math

from ..backend.errors import DTypeError, ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._args import as_shape
from ._autocast import float32_under_autocast
from ._util import dtype_fix

__all__ = ["layer_norm"]  # the public ops: tinynet.functional and tn.<name> export these


class LayerNorm(Op):
    """Inputs ``(x, weight, bias)``; weight/bias are constants of ones/zeros when absent."""

    name = "layer_norm"
    saves_output = False  # the backward reads the inputs and the saved mean and rstd

    def forward(self, x, w, b):
        width = math.prod(self.normalized_shape)
        x2 = x.reshape(-1, width)
        y, self.mean, self.rstd = self.kernels.layer_norm_forward(x2, w.reshape(-1), b.reshape(-1), self.eps)
        return y.reshape(x.shape)

    def backward_array(self, g):
        x, w, b = self.inputs
        width = w.array.size
        dx, dw, db = self.kernels.layer_norm_backward(
            g.reshape(-1, width), x.array.reshape(-1, width), w.array.reshape(-1), self.mean, self.rstd)
        return (dx.reshape(x.shape) if x._requires_grad else None,
                dw.reshape(w.shape) if w._requires_grad else None,
                db.reshape(b.shape) if b._requires_grad else None)

    def backward(self, g):
        x, w, b = self.inputs
        lead = x.ndim - len(self.normalized_shape)
        axes = tuple(range(lead, x.ndim))
        rows = tuple(range(lead))
        mu = x.mean(axis=axes, keepdims=True)
        xc = x - mu
        rstd = 1.0 / ((xc * xc).mean(axis=axes, keepdims=True) + self.eps).sqrt()
        xhat = xc * rstd
        dx = None
        if x._requires_grad:
            gx = g * w
            dx = rstd * (gx - gx.mean(axis=axes, keepdims=True) - xhat * (gx * xhat).mean(axis=axes, keepdims=True))
        dw = ((g * xhat).sum(axis=rows) if rows else g * xhat) if w._requires_grad else None
        db = (g.sum(axis=rows) if rows else g) if b._requires_grad else None
        return dx, dw, db


@float32_under_autocast("layer_norm", 1)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise ``input`` over its trailing ``normalized_shape`` axes (PyTorch's signature)."""
    normalized_shape = as_shape(normalized_shape, "normalized_shape", "layer_norm")
    n = len(normalized_shape)
    if n == 0 or input.ndim < n or tuple(input.shape[-n:]) != normalized_shape:
        raise ShapeError(
            f"layer_norm: normalized_shape {normalized_shape} must match the trailing axes of the input, "
            f"but the input has shape {tuple(input.shape)}"
        )
    if input.dtype.kind != "f":
        raise DTypeError(f"layer_norm: needs a floating input, got {input.dtype}; convert with `.float()`")
    xp = input.device.xp
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise ShapeError(f"layer_norm: {name} has shape {tuple(p.shape)}, expected {normalized_shape}")
        if p is not None and p.dtype != input.dtype:
            raise DTypeError(f"layer_norm: input is {input.dtype} but {name} is {p.dtype}; "
                             f"{dtype_fix(input.dtype, p.dtype)}")
    if weight is None:
        weight = Tensor._make(xp.ones(normalized_shape, dtype=input.dtype), input.device)
    if bias is None:
        bias = Tensor._make(xp.zeros(normalized_shape, dtype=input.dtype), input.device)
    return LayerNorm.apply(input, weight, bias, normalized_shape=normalized_shape, eps=float(eps))
