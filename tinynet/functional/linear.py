"""The affine map of a fully connected layer: ``y = x @ W^T + b`` as one op.

One node instead of three (transpose, matmul, add) keeps the graph small, and the
forward adds the bias in place into the matmul's output (no extra temporary). For
``x`` of shape (..., in), ``W`` (out, in), ``b`` (out,), with ``g = dL/dy``::

    dL/dx = g @ W          dL/dW = g^T @ x  (leading axes flattened)      dL/db = sum of g over leading axes

The backward is written with tinynet ops, so gradients of gradients work.
"""
from __future__ import annotations

from ..backend.errors import DTypeError, ShapeError
from ..autograd.op import Op
from ..tensor.tensor import Tensor
from ._autocast import autocast_lower
from ._util import dtype_fix
from .linalg import MatMul

__all__ = ["bilinear", "linear"]  # the public ops: tinynet.functional and tn.<name> export these


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
    """``input @ weight.T + bias`` (PyTorch's ``F.linear``): input (..., in), weight (out, in), bias (out,).

    Under ``tn.autocast`` the three are cast to the autocast dtype first (a lower-precision op).
    """
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"linear: {name} must be a Tensor, got {type(t).__name__}")
    input, weight, bias = autocast_lower("linear", input, weight, bias)
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
        raise DTypeError(f"linear: input is {input.dtype} but weight is {weight.dtype}; "
                         f"{dtype_fix(input.dtype, weight.dtype)}")
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``y_k = input1^T W_k input2 + b_k`` (PyTorch's ``F.bilinear``).

    input1 (..., in1), input2 (..., in2) with the same leading axes, weight (out, in1, in2),
    bias (out,); returns (..., out). Composite: ``input1 @ W`` (W viewed as (in1, out·in2))
    then a product with input2 summed over in2, so autograd derives every gradient.
    Not lowered under ``tn.autocast`` (as in PyTorch, it runs in its inputs' dtype), so its
    inner product is the ``MatMul`` op itself rather than ``@`` (which autocast would cast).
    """
    op = "bilinear"
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != 3:
        raise ShapeError(f"{op}: weight must be 3-D (out_features, in1_features, in2_features), "
                         f"got shape {tuple(weight.shape)}")
    out_f, in1, in2 = weight.shape
    if input1.ndim < 1 or input1.shape[-1] != in1 or input2.ndim < 1 or input2.shape[-1] != in2:
        raise ShapeError(f"{op}: input1 {tuple(input1.shape)} and input2 {tuple(input2.shape)} must end with "
                         f"in1_features={in1} and in2_features={in2} (weight {tuple(weight.shape)})")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise ShapeError(f"{op}: input1 {tuple(input1.shape)} and input2 {tuple(input2.shape)} must have the same "
                         "leading (batch) axes")
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise ShapeError(f"{op}: bias must have shape ({out_f},), got {tuple(bias.shape)}")
    for name, t in (("input2", input2), ("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input1.dtype:
            raise DTypeError(f"{op}: input1 is {input1.dtype} but {name} is {t.dtype}; {dtype_fix(t.dtype, input1.dtype)}")
    lead = tuple(input1.shape[:-1])
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    t = MatMul.apply(input1, w).reshape(*lead, out_f, in2)
    out = (t * input2.unsqueeze(-2)).sum(axis=-1)
    return out if bias is None else out + bias
