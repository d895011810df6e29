"""The op table: one small function per tinynet op -> ONNX nodes.

Each function takes an :class:`Emit` (the GraphBuilder ``g``, the traced node, and helpers
to name its inputs) and returns the ONNX name of the op's output. Keys are the op classes
of :mod:`tinynet.functional` (and, for ops without a gradient that report themselves
through ``tinynet.autograd.tracing.note``, their name such as ``"equal"``). An op missing
here stops the export with an error naming it (see ``exporter.py``), never a wrong graph.
"""
from __future__ import annotations

import math

import numpy as np
from onnx import helper

from ..functional import activation as _act
from ..functional import attention as _attn
from ..functional import conversion as _conv_dtype
from ..functional import conv as _conv
from ..functional import elementwise as _ew
from ..functional import indexing as _idx
from ..functional import join as _join
from ..functional import linalg as _linalg
from ..functional import pooling as _pool
from ..functional import recurrent as _rec
from ..functional import reduction as _red
from ..functional import shape as _shape
from ..functional.embedding import Embedding as EmbeddingOp  # (the modules' names are taken by functions)
from ..functional.layer_norm import LayerNorm as LayerNormOp
from ..functional.linear import Linear as LinearOp
from .builder import INT64_MAX, INT64_MIN, host_array
from .errors import UnsupportedOperatorError


class Emit:
    """What an op function sees: ``g`` (GraphBuilder), ``node`` (the traced op) and helpers."""

    def __init__(self, g, node, name_of):
        self.g, self.node, self._name_of = g, node, name_of

    def x(self, i: int) -> str:
        """ONNX name of input ``i``."""
        return self._name_of(self.node.inputs[i])

    def n_inputs(self) -> int:
        return len(self.node.inputs)

    def tensor_param(self, key):
        v = self.node.tensor_params.get(key)
        return None if v is None else self._name_of(v)

    def p(self, key, default=None):
        return self.node.params.get(key, default)

    def p_b(self, key, default=None):
        """The param in the second (larger batch) trace: differs when it depends on the batch."""
        twin = self.node.twin
        return (twin.params if twin is not None else self.node.params).get(key, default)

    def dtype(self, i: int = 0):
        return self.node.inputs[i].dtype

    @property
    def out_dtype(self):
        return self.node.output.dtype

    def in_shape(self, i: int = 0):
        return self.node.inputs[i].shape

    def fail(self, why: str):
        raise UnsupportedOperatorError(
            f"tinynet.onnx.export: op '{self.node.name}' (called from {self.node.where}) {why}"
        )


def _cast_to(e, name, src_dtype, dst_dtype):
    if np.dtype(src_dtype) == np.dtype(dst_dtype):
        return name
    return e.g.op("Cast", [name], to=helper.np_dtype_to_tensor_dtype(np.dtype(dst_dtype)))


# --- elementwise --------------------------------------------------------------------------
def _binary(onnx_op):
    def emit(e):
        out = e.out_dtype
        a = _cast_to(e, e.x(0), e.dtype(0), out)   # ONNX wants one dtype (Pow: the base's)
        b = _cast_to(e, e.x(1), e.dtype(1), out) if onnx_op != "Pow" else e.x(1)
        return e.g.op(onnx_op, [a, b])
    return emit


def _unary(onnx_op, **attrs):
    def emit(e):
        return e.g.op(onnx_op, [e.x(0)], **attrs)
    return emit


def _leaky_relu(e):
    return e.g.op("LeakyRelu", [e.x(0)], alpha=float(e.p("negative_slope", 0.01)))


def _elu(e):
    return e.g.op("Elu", [e.x(0)], alpha=float(e.p("alpha", 1.0)))


def _clip(e):
    dt = e.dtype(0)
    lo, hi = e.p("lo"), e.p("hi")
    return e.g.op("Clip", [e.x(0), "" if lo is None else e.g.scalar(lo, dt), "" if hi is None else e.g.scalar(hi, dt)])


def _where(e):
    cond = e.tensor_param("cond")
    if cond is None:
        cond = e.g.const(host_array(e.p("cond")).astype(bool), "where.cond")
    return e.g.op("Where", [cond, e.x(0), e.x(1)])


def _gelu(e):
    """Exact GELU ``x/2 (1 + erf(x/sqrt 2))``, or the tanh approximation."""
    g, x, dt = e.g, e.x(0), e.dtype(0)
    if e.p("approximate", "none") == "tanh":
        inner = g.op("Mul", [x, g.op("Mul", [x, x])])
        inner = g.op("Add", [x, g.op("Mul", [inner, g.scalar(0.044715, dt)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.scalar(math.sqrt(2.0 / math.pi), dt)])])
    else:
        t = g.op("Erf", [g.op("Mul", [x, g.scalar(1.0 / math.sqrt(2.0), dt)])])
    half_x = g.op("Mul", [x, g.scalar(0.5, dt)])
    return g.op("Mul", [half_x, g.op("Add", [t, g.scalar(1.0, dt)])], hint="gelu")


def _softmax(onnx_op):
    def emit(e):
        return e.g.op(onnx_op, [e.x(0)], axis=int(e.p("axis")))
    return emit


# --- linear algebra -----------------------------------------------------------------------
def _linear_op(e):
    g = e.g
    if len(e.in_shape(0)) == 2:
        ins = [e.x(0), e.x(1)] + ([e.x(2)] if e.n_inputs() > 2 else [])
        return g.op("Gemm", ins, transB=1, hint="linear")
    y = g.op("MatMul", [e.x(0), g.op("Transpose", [e.x(1)], perm=[1, 0])])
    return g.op("Add", [y, e.x(2)], hint="linear") if e.n_inputs() > 2 else y


def _matmul(e):
    if len(e.in_shape(0)) < 1 or len(e.in_shape(1)) < 1:
        e.fail("on 0-d operands has no ONNX mapping")
    return e.g.op("MatMul", [e.x(0), e.x(1)])


# --- convolution and pooling --------------------------------------------------------------
def _pair(v):
    return [int(v[0]), int(v[1])] if isinstance(v, (tuple, list)) else [int(v), int(v)]


def _conv2d(e):
    pad = e.p("pad")
    pads = [int(p) for p in pad]
    if len(pads) == 2:
        pads = [pads[0], pads[1], pads[0], pads[1]]
    elif len(pads) != 4:
        e.fail(f"with padding {pad!r} has no ONNX mapping")
    w = e.in_shape(1)
    ins = [e.x(i) for i in range(e.n_inputs())]
    return e.g.op("Conv", ins, kernel_shape=[int(w[2]), int(w[3])], strides=_pair(e.p("stride")), pads=pads,
                  dilations=_pair(e.p("dilation")), group=int(e.p("groups", 1)))


def _ceil_mode(in_hw, k, s, p, d, out_hw):
    floor = [(in_hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    return int(list(out_hw) != floor)


def _max_pool(e):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), out_hw = e.p("geometry")
    ceil = _ceil_mode(e.in_shape(0)[2:], (kh, kw), (sh, sw), (ph, pw), (dh, dw), out_hw)
    return e.g.op("MaxPool", [e.x(0)], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                  dilations=[dh, dw], ceil_mode=ceil)


def _avg_pool(e):
    (kh, kw), (sh, sw), (ph, pw), out_hw = e.p("geometry")
    ceil = _ceil_mode(e.in_shape(0)[2:], (kh, kw), (sh, sw), (ph, pw), (1, 1), out_hw)
    divisor = int(e.p("divisor_override") or 0)   # 0: none
    if divisor and ceil:
        e.fail("with divisor_override and ceil_mode has no ONNX mapping")
    y = e.g.op("AveragePool", [e.x(0)], kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
               count_include_pad=int(bool(divisor) or bool(e.p("count_include_pad", True))), ceil_mode=ceil)
    if divisor:  # every window holds kh*kw cells (padding included): rescale the mean to sum / divisor
        y = e.g.op("Mul", [y, e.g.scalar(kh * kw / divisor, e.dtype(0))])
    return y


# --- shapes and indexing ------------------------------------------------------------------
def _reshape(e):
    shape = e.g.shape(e.p("shape"), e.p_b("shape"), what=f"reshape (called from {e.node.where})")
    return e.g.op("Reshape", [e.x(0), shape], hint="reshape")


def _expand(e):
    shape = e.g.shape(e.p("shape"), e.p_b("shape"), what=f"expand (called from {e.node.where})",
                      allow_minus_one=False)
    return e.g.op("Expand", [e.x(0), shape])


def _permute(e):
    return e.g.op("Transpose", [e.x(0)], perm=[int(a) for a in e.p("axes")])


def _concat(e):
    return e.g.op("Concat", [e.x(i) for i in range(e.n_inputs())], axis=int(e.p("axis")))


def _slice(e):
    """Basic indexing ``x[key]`` (ints, slices, None, ...) -> Slice, Squeeze, Unsqueeze."""
    key = e.p("key")
    key = key if isinstance(key, tuple) else (key,)
    ndim = len(e.in_shape(0))
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if sum(1 for k in key if k is Ellipsis) > 1:
        e.fail("with more than one '...' has no ONNX mapping")
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded += [slice(None)] * (ndim - n_real)
        else:
            expanded.append(k)
    expanded += [slice(None)] * (ndim - sum(1 for k in expanded if k is not None))
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_pos = 0
    for k in expanded:
        if k is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        if isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            if (k.start, k.stop, k.step) != (None, None, None):
                starts.append(int(k.start) if k.start is not None else (0 if step > 0 else -1))
                ends.append(int(k.stop) if k.stop is not None else (INT64_MAX if step > 0 else INT64_MIN))
                axes.append(axis)
                steps.append(step)
            out_pos += 1
        elif isinstance(k, (int, np.integer)):
            i = int(k)
            starts.append(i)
            ends.append(i + 1 if i != -1 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        else:
            e.fail(f"with index {k!r} ({type(k).__name__}) has no ONNX mapping; only ints, slices, None and ... do")
        axis += 1
    g, y = e.g, e.x(0)
    if axes:
        y = g.op("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)], hint="slice")
    if squeeze:
        y = g.op("Squeeze", [y, g.ints(squeeze)])
    if unsqueeze:
        y = g.op("Unsqueeze", [y, g.ints(unsqueeze)])
    if y == e.x(0):
        y = g.op("Identity", [y])
    return y


# --- reductions ---------------------------------------------------------------------------
def _reduce(onnx_op):
    def emit(e):
        g = e.g
        axis = e.p("axis")
        keep = int(bool(e.p("keepdims", False)))
        ndim = len(e.in_shape(0))
        axes = None if axis is None else \
            [int(a) % max(ndim, 1) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
        if onnx_op == "ReduceSum" or g.opset >= 18:
            ins = [e.x(0)] + ([g.ints(axes)] if axes is not None else [])
            return g.op(onnx_op, ins, keepdims=keep)
        return g.op(onnx_op, [e.x(0)], axes=axes, keepdims=keep)
    return emit


# --- normalization, embedding -------------------------------------------------------------
def _layer_norm(e):
    k = len(e.p("normalized_shape"))
    return e.g.op("LayerNormalization", [e.x(0), e.x(1), e.x(2)], axis=-k, epsilon=float(e.p("eps")))


def _embedding(e):
    ids = e.tensor_param("ids")
    if ids is None:
        ids = e.g.const(host_array(e.p("ids")).astype(np.int64), "embedding.ids")
    return e.g.op("Gather", [e.x(0), ids], axis=0, hint="embedding")


# --- attention ----------------------------------------------------------------------------
def attention_core(g, q, k, v, scale, mask, dtype):
    """softmax(q k^T * scale + mask) v on (N, H, L, D) values; ``mask`` additive or None."""
    kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
    s = g.op("Mul", [g.op("MatMul", [q, kt]), g.scalar(scale, dtype)], hint="scores")
    if mask is not None:
        s = g.op("Add", [s, mask])
    p = g.op("Softmax", [s], axis=-1, hint="probs")
    return g.op("MatMul", [p, v])


def packed_heads(g, qkv, num_heads, head_dim):
    """(N, L, 3E) -> q, k, v each (N, H, L, D), as in ``_split_heads``."""
    heads = g.op("Reshape", [qkv, g.ints([0, 0, 3, num_heads, head_dim])])
    heads = g.op("Transpose", [heads], perm=[2, 0, 3, 1, 4])
    return [g.op("Squeeze", [g.op("Gather", [heads, g.ints([i])], axis=0), g.ints([0])]) for i in range(3)]


def merge_heads(g, out, embed_dim):
    """(N, H, L, D) -> (N, L, E)."""
    out = g.op("Transpose", [out], perm=[0, 2, 1, 3])
    return g.op("Reshape", [out, g.ints([0, 0, embed_dim])], hint="attn_out")


def _op_mask(e):
    if e.p("dropout_p", 0.0) > 0.0:
        e.fail("with dropout_p > 0 has no ONNX mapping (export in eval mode)")
    mask = e.tensor_param("mask")
    if mask is None and e.p("mask") is not None:
        mask = e.g.const(host_array(e.p("mask")), "attn_mask")
    if e.p("causal", False):  # the fused ops apply is_causal by index: bake it in as an additive mask
        causal = e.g.const(_attn.causal_mask(e.in_shape(0)[-2], e.in_shape(e.n_inputs() - 1)[-2], np, e.dtype(0)),
                           "causal_mask")
        mask = causal if mask is None else e.g.op("Add", [mask, causal])
    return mask


def _packed_self_attention(e):
    n, L, e3 = e.in_shape(0)
    h = int(e.p("num_heads"))
    q, k, v = packed_heads(e.g, e.x(0), h, e3 // 3 // h)
    out = attention_core(e.g, q, k, v, float(e.p("scale")), _op_mask(e), e.dtype(0))
    return merge_heads(e.g, out, e3 // 3)


def _sdpa(e):
    """scaled_dot_product_attention on (..., L, E) inputs; its mask param or mask input added."""
    g = e.g
    mask = _op_mask(e)
    if e.n_inputs() > 3:
        mask = e.x(3) if mask is None else g.op("Add", [mask, e.x(3)])
    rank = len(e.in_shape(1))
    kt = g.op("Transpose", [e.x(1)], perm=list(range(rank - 2)) + [rank - 1, rank - 2])
    s = g.op("Mul", [g.op("MatMul", [e.x(0), kt]), g.scalar(float(e.p("scale")), e.dtype(0))])
    if mask is not None:
        s = g.op("Add", [s, mask])
    return g.op("MatMul", [g.op("Softmax", [s], axis=-1), e.x(2)])


# --- recurrent ----------------------------------------------------------------------------
def _recurrent(onnx_op, blocks, lstm=False):
    """tinynet's fused RNN/GRU/LSTM layer ops -> ONNX ``RNN``/``GRU``/``LSTM`` (one direction).

    Inputs are ``(x (N, T, I), h0, [c0,] W_ih, W_hh, b_ih, b_hh)``. PyTorch/tinynet stack the
    gate blocks as LSTM i, f, g, o and GRU r, z, n; ONNX wants LSTM i, o, f, c and GRU z, r, h,
    so the weight and bias rows are regathered (``blocks``: the tinynet block for each ONNX
    block). ONNX is time-major with a direction axis; the GRU uses ``linear_before_reset=1``
    (PyTorch's ``r * (h W_hn + b_hn)``). The LSTM op's output is the hidden states followed
    by the final cell state, (N, T + 1, H), as tinynet's ``LSTMLayer``."""
    def emit(e):
        g = e.g
        H = e.in_shape(1)[-1]
        first_w = 3 if lstm else 2
        order = np.concatenate([np.arange(H) + H * j for j in blocks]).astype(np.int64)
        idx = g.const(order, f"{onnx_op.lower()}.gate_order")

        def rows(i):
            return g.op("Gather", [e.x(i), idx], axis=0)
        w = g.op("Unsqueeze", [rows(first_w), g.ints([0])], hint=f"{onnx_op.lower()}.W")
        r = g.op("Unsqueeze", [rows(first_w + 1), g.ints([0])], hint=f"{onnx_op.lower()}.R")
        b = g.op("Unsqueeze", [g.op("Concat", [rows(first_w + 2), rows(first_w + 3)], axis=0), g.ints([0])],
                 hint=f"{onnx_op.lower()}.B")
        x = g.op("Transpose", [e.x(0)], perm=[1, 0, 2])
        states = [g.op("Unsqueeze", [e.x(1), g.ints([0])])]
        if lstm:
            states.append(g.op("Unsqueeze", [e.x(2), g.ints([0])]))
        attrs = dict(hidden_size=int(H), direction="reverse" if e.p("reverse") else "forward")
        if onnx_op == "RNN":
            attrs["activations"] = ["Relu" if e.p("nonlinearity") == "relu" else "Tanh"]
        if onnx_op == "GRU":
            attrs["linear_before_reset"] = 1
        outs = g.op(onnx_op, [x, w, r, b, ""] + states, outputs=3 if lstm else 2, hint=onnx_op.lower(), **attrs)
        seq = g.op("Transpose", [g.op("Squeeze", [outs[0], g.ints([1])])], perm=[1, 0, 2])   # (N, T, H)
        if not lstm:
            return seq
        c_last = g.op("Transpose", [outs[2]], perm=[1, 0, 2])                                 # (N, 1, H)
        return g.op("Concat", [seq, c_last], axis=1, hint="lstm_out")
    return emit


# --- comparisons (no gradient; reported through tracing.note) -----------------------------
def _compare(onnx_op, negate=False):
    def emit(e):
        a, b = e.x(0), e.x(1)
        if np.dtype(e.dtype(0)) != np.dtype(e.dtype(1)):
            common = np.result_type(e.dtype(0), e.dtype(1))
            a, b = _cast_to(e, a, e.dtype(0), common), _cast_to(e, b, e.dtype(1), common)
        y = e.g.op(onnx_op, [a, b])
        return e.g.op("Not", [y]) if negate else y
    return emit


def _logical(onnx_op):
    def emit(e):
        ins = [_cast_to(e, e.x(i), e.dtype(i), np.bool_) for i in range(e.n_inputs())]
        return e.g.op(onnx_op, ins)
    return emit


def _bitwise(bool_op, int_op):
    def emit(e):
        ins = [e.x(i) for i in range(e.n_inputs())]
        if np.dtype(e.dtype(0)) == np.bool_:
            return e.g.op(bool_op, ins)
        if e.g.opset < 18:
            e.fail(f"on integers needs opset 18 ({int_op}); export with opset_version=18")
        return e.g.op(int_op, ins)
    return emit


def _cast(e):
    return e.g.op("Cast", [e.x(0)], to=helper.np_dtype_to_tensor_dtype(np.dtype(e.out_dtype)))


def _identity(e):
    return e.g.op("Identity", [e.x(0)])


OPS = {
    _ew.Add: _binary("Add"), _ew.Sub: _binary("Sub"), _ew.Mul: _binary("Mul"), _ew.Div: _binary("Div"),
    _ew.Pow: _binary("Pow"), _ew.Maximum: _binary("Max"), _ew.Minimum: _binary("Min"),
    _ew.Neg: _unary("Neg"), _ew.Exp: _unary("Exp"), _ew.Log: _unary("Log"), _ew.Sqrt: _unary("Sqrt"),
    _ew.Abs: _unary("Abs"), _ew.Clip: _clip, _ew.Where: _where,
    _act.ReLU: _unary("Relu"), _act.Sigmoid: _unary("Sigmoid"), _act.Tanh: _unary("Tanh"),
    _act.Erf: _unary("Erf"), _act.LeakyReLU: _leaky_relu, _act.ELU: _elu, _act.GELU: _gelu,
    _act.Softmax: _softmax("Softmax"), _act.LogSoftmax: _softmax("LogSoftmax"),
    LinearOp: _linear_op, _linalg.MatMul: _matmul,
    _conv.Conv2d: _conv2d, _pool.MaxPool2d: _max_pool, _pool.AvgPool2d: _avg_pool,
    _shape.Reshape: _reshape, _shape.Permute: _permute, _shape.Expand: _expand, _join.Concat: _concat,
    _idx.Slice: _slice,
    _red.Sum: _reduce("ReduceSum"), _red.Mean: _reduce("ReduceMean"), _red.Max: _reduce("ReduceMax"),
    LayerNormOp: _layer_norm, EmbeddingOp: _embedding,
    _attn.PackedSelfAttention: _packed_self_attention, _attn.Attention: _sdpa,
    _attn.FusedPackedSelfAttention: _packed_self_attention, _attn.FusedAttention: _sdpa,
    _rec.LSTMLayer: _recurrent("LSTM", (0, 3, 1, 2), lstm=True), _rec.GRULayer: _recurrent("GRU", (1, 0, 2)),
    _rec.RNNLayer: _recurrent("RNN", (0,)),
    "equal": _compare("Equal"), "not_equal": _compare("Equal", negate=True), "less": _compare("Less"),
    "less_equal": _compare("LessOrEqual"), "greater": _compare("Greater"),
    "greater_equal": _compare("GreaterOrEqual"), "logical_and": _logical("And"), "logical_or": _logical("Or"),
    "logical_xor": _logical("Xor"), "logical_not": _logical("Not"),
    "bitwise_and": _bitwise("And", "BitwiseAnd"), "bitwise_or": _bitwise("Or", "BitwiseOr"),
    "bitwise_xor": _bitwise("Xor", "BitwiseXor"), "bitwise_not": _bitwise("Not", "BitwiseNot"),
    _conv_dtype.Cast: _cast, _conv_dtype.Clone: _identity,
}


def supported_ops() -> list[str]:
    """The names of the tinynet ops the exporter maps (as in error messages)."""
    return sorted({k if isinstance(k, str) else k.op_name() for k in OPS})


def emit(g, node, name_of) -> str:
    """Emit ONNX nodes for one traced op; raise UnsupportedOperatorError when unmapped."""
    fn = OPS.get(node.kind)
    if fn is None:
        raise UnsupportedOperatorError(
            f"tinynet.onnx.export: op '{node.name}' (called from {node.where}) has no ONNX mapping; "
            f"supported ops: {', '.join(supported_ops())}"
        )
    return fn(Emit(g, node, name_of))


__all__ = ["OPS", "emit", "supported_ops", "attention_core", "packed_heads", "merge_heads"]
