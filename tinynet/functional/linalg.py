"""Matrix products.

For C = A @ B the chain rule gives dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC. Batched
and broadcast operands follow NumPy's ``matmul``: leading (batch) axes broadcast, and
``unbroadcast`` sums the gradient over the axes an operand was broadcast along. A 1-D
operand is treated as a row (left) or column (right) vector and the added axis dropped.
"""
from __future__ import annotations

from ..backend.errors import ShapeError
from ..autograd.op import Op
from ._util import pair, unbroadcast, unbroadcast_array

__all__ = ["dot", "matmul"]  # the public ops: tinynet.functional and tn.<name> export these


class MatMul(Op):
    name = "matmul"
    saves_output = False

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes {tuple(a.shape)} and {tuple(b.shape)}; use * for scalars")
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_a != k_b:
            raise ShapeError(
                f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: the last axis of "
                f"the first ({k_a}) must equal the {'second-to-last' if b.ndim > 1 else 'only'} axis of the second ({k_b})"
            )
        try:
            return a @ b
        except ValueError:
            raise ShapeError(f"matmul: batch axes of {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together") from None

    def backward(self, g):
        a, b = self.inputs
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g2 = g.reshape(1, 1)
        elif a.ndim == 1:
            g2 = g.unsqueeze(-2)
        elif b.ndim == 1:
            g2 = g.unsqueeze(-1)
        else:
            g2 = g
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if b._requires_grad:
            gb = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb

    def backward_array(self, g):
        a, b = self.inputs
        ad, bd = a.array, b.array
        if ad.ndim == 2 and bd.ndim == 2:  # the common case: plain matrices, no broadcasting
            return (g @ bd.T if a._requires_grad else None,
                    ad.T @ g if b._requires_grad else None)
        a2 = ad.reshape(1, -1) if ad.ndim == 1 else ad
        b2 = bd.reshape(-1, 1) if bd.ndim == 1 else bd
        if ad.ndim == 1 and bd.ndim == 1:
            g2 = g.reshape(1, 1)
        elif ad.ndim == 1:
            g2 = self.xp.expand_dims(g, -2)
        elif bd.ndim == 1:
            g2 = self.xp.expand_dims(g, -1)
        else:
            g2 = g
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast_array(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(ad.shape)
        if b._requires_grad:
            gb = unbroadcast_array(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(bd.shape)
        return ga, gb


def matmul(a, b):
    """Matrix product with NumPy's rules (batched, broadcasting, 1-D operands)."""
    return MatMul.apply(*pair(a, b, "matmul"))


def dot(a, b):
    """Inner product of two 1-D tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"dot: expected two 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)
