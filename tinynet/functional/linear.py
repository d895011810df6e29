"""The affine map of a fully connected layer: ``y = x @ W^T + b`` as one op.

One node instead of three (transpose, matmul, add) keeps the graph small, and the
forward adds the bias in place into the matmul's output (no extra temporary). For
``x`` of shape (..., in), ``W`` (out, in), ``b`` (out,), with ``g = dL/dy``::

    dL/dx = g @ W          dL/dW = g^T @ x  (leading axes flattened)      dL/db = sum of g over leading axes

The backward is written with tinynet ops, so gradients of gradients work.
"""
from __future__ import annotations

from ..backend.errors import ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._util import dtype_fix

__all__ = ["linear"]  # the public ops: tinynet.functional and tn.<name> export these


class Linear(Op):
    name = "linear"
    saves_output = False

    def forward(self, x, w, b=None):
        if x.ndim > 2:  # one (N*L, in) GEMM, not N small ones (NumPy loops over leading axes)
            out = self.xp.matmul(x.reshape(-1, x.shape[-1]), w.T).reshape(*x.shape[:-1], w.shape[0])
        else:
            out = self.xp.matmul(x, w.T)
        if b is not None:
            out += b
        return out

    def backward(self, g):
        x, w = self.inputs[0], self.inputs[1]
        gx = gw = gb = None
        if x._requires_grad:
            gx = g @ w
        if w._requires_grad:
            g2 = g.reshape(-1, g.shape[-1])
            x2 = x.reshape(-1, x.shape[-1])
            gw = g2.swapaxes(0, 1) @ x2
        if len(self.inputs) == 3 and self.inputs[2]._requires_grad:
            gb = g.reshape(-1, g.shape[-1]).sum(axis=0)
        return gx, gw, gb

    def backward_array(self, g):
        """The same three GEMM/sum formulas on raw arrays (the engine's no-graph fast path)."""
        x, w = self.inputs[0], self.inputs[1]
        gx = gw = gb = None
        g2 = g.reshape(-1, g.shape[-1])
        if x._requires_grad:
            gx = (g2 @ w.array).reshape(x.shape)
        if w._requires_grad:
            gw = g2.T @ x.array.reshape(-1, x.shape[-1])
        if len(self.inputs) == 3 and self.inputs[2]._requires_grad:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (PyTorch's ``F.linear``): input (..., in), weight (out, in), bias (out,)."""
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"linear: {name} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    if input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {tuple(input.shape)} does not fit weight of shape {tuple(weight.shape)}: "
            f"the input's last axis must have {weight.shape[1]} features"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(f"linear: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if input.dtype != weight.dtype:
        raise TypeError(f"linear: input is {input.dtype} but weight is {weight.dtype}; "
                        f"{dtype_fix(input.dtype, weight.dtype)}")
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)
