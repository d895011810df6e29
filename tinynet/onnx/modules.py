"""Composite modules: layers exported as a whole rather than op by op.

* ``BatchNorm1d/2d/3d`` in eval mode -> one ``BatchNormalization`` node reading the
  module's ``weight``, ``bias``, ``running_mean`` and ``running_var`` initializers (op by op,
  tinynet folds the running statistics into raw-array constants, which would lose them).
* ``MultiheadAttention`` (self-attention, packed projection) -> MatMul/Softmax nodes with
  its masks built in the graph: the layer turns a bool ``key_padding_mask`` into an additive
  mask with raw array code the tracer cannot see, so op by op the mask of the example batch
  would be baked in.

Each emitter says whether it ``accepts`` one call (its arguments and the module's settings);
when it does not, the ops inside the call are kept as traced (and exported op by op, or
refused with a clear error).
"""
from __future__ import annotations

import math

import numpy as np
from onnx import helper

from ..nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d
from ..nn.transformer import MultiheadAttention
from ..tensor.tensor import Tensor
from .ops import attention_core, merge_heads, packed_heads


class _Emit:
    """Helpers for a composite node: its module, traced args and the module's parameters."""

    def __init__(self, g, node, name_of):
        self.g, self.node, self.module, self._name_of = g, node, node.module, name_of

    def arg(self, key):
        v = self.node.tensor_params.get(key)
        return None if v is None else self._name_of(v)

    def arg_value(self, key):
        return self.node.tensor_params.get(key)

    def param(self, name):
        """ONNX name of the module's parameter/buffer ``name`` (e.g. "out_proj.weight")."""
        return self._name_of(self.node.tensor_params["@" + name])


class BatchNormEmitter:
    """Eval-mode batch norm with running statistics -> ``BatchNormalization``."""

    @staticmethod
    def accepts(module, bound, output):
        return (not module.training and module.track_running_stats and module.running_mean is not None
                and isinstance(bound.get("x"), Tensor))

    @staticmethod
    def emit(e: _Emit):
        m, g = e.module, e.g
        dt = e.arg_value("x").dtype
        if m.affine:
            scale, bias = e.param("weight"), e.param("bias")
        else:
            scale = g.const(np.ones(m.num_features, dtype=dt), "bn.scale")
            bias = g.const(np.zeros(m.num_features, dtype=dt), "bn.bias")
        return g.op("BatchNormalization", [e.arg("x"), scale, bias, e.param("running_mean"), e.param("running_var")],
                    epsilon=float(m.eps), hint="batch_norm")


class MultiheadAttentionEmitter:
    """Packed self-attention ``MultiheadAttention`` with its masks built in the graph."""

    @staticmethod
    def accepts(module, bound, output):
        q = bound.get("query")
        return (isinstance(q, Tensor) and q.ndim == 3 and bound.get("key") is q and bound.get("value") is q
                and module._qkv_same_embed_dim and module.bias_k is None and not module.add_zero_attn
                and isinstance(output, tuple))

    @staticmethod
    def emit(e: _Emit):
        m, g = e.module, e.g
        q = e.arg_value("query")
        dt = q.dtype
        h, d, E = m.num_heads, m.head_dim, m.embed_dim
        x = e.arg("query")
        if not m.batch_first:
            x = g.op("Transpose", [x], perm=[1, 0, 2])
        qkv = g.op("MatMul", [x, g.op("Transpose", [e.param("in_proj_weight")], perm=[1, 0])])
        if m.in_proj_bias is not None:
            qkv = g.op("Add", [qkv, e.param("in_proj_bias")], hint="qkv")
        qh, kh, vh = packed_heads(g, qkv, h, d)
        L = q.shape[0] if not m.batch_first else q.shape[1]

        def additive(value, name):
            if np.dtype(value.dtype) == np.bool_:  # True = masked out (PyTorch MHA's bool masks)
                return g.op("Where", [name, g.scalar(-math.inf, dt), g.scalar(0.0, dt)], hint="mask")
            return name if np.dtype(value.dtype) == np.dtype(dt) else g.op("Cast", [name], to=_onnx_float(dt))

        mask = None
        am = e.arg_value("attn_mask")
        if am is not None:
            mask = additive(am, e.arg("attn_mask"))
            if len(am.shape) == 3:
                mask = g.op("Reshape", [mask, g.ints([-1, h, am.shape[1], am.shape[2]])])
        kpm = e.arg_value("key_padding_mask")
        if kpm is not None:
            k = g.op("Unsqueeze", [additive(kpm, e.arg("key_padding_mask")), g.ints([1, 2])], hint="key_padding")
            mask = k if mask is None else g.op("Add", [mask, k])
        if e.node.params.get("is_causal") and am is None:
            causal = np.triu(np.full((L, L), -np.inf, dtype=dt), k=1)
            cm = g.const(causal, "causal_mask")
            mask = cm if mask is None else g.op("Add", [mask, cm])
        out = merge_heads(g, attention_core(g, qh, kh, vh, 1.0 / math.sqrt(d), mask, dt), E)
        out = g.op("MatMul", [out, g.op("Transpose", [e.param("out_proj.weight")], perm=[1, 0])])
        if m.out_proj.bias is not None:
            out = g.op("Add", [out, e.param("out_proj.bias")], hint="mha_out")
        if not m.batch_first:
            out = g.op("Transpose", [out], perm=[1, 0, 2])
        return out


def _onnx_float(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


COMPOSITES = {
    BatchNorm1d: BatchNormEmitter, BatchNorm2d: BatchNormEmitter, BatchNorm3d: BatchNormEmitter,
    MultiheadAttention: MultiheadAttentionEmitter,
}


def emit(g, node, name_of) -> str:
    return COMPOSITES[node.kind].emit(_Emit(g, node, name_of))
