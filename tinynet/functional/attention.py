"""Scaled dot-product attention (Vaswani et al., 2017)::

    Attention(Q, K, V) = softmax(Q K^T * scale + M) V,    scale = 1 / sqrt(d_k)

``q`` is (..., L, E), ``k`` (..., S, E), ``v`` (..., S, Ev); the leading (batch, head)
axes broadcast. The mask ``M`` follows PyTorch's ``F.scaled_dot_product_attention``:

* a **bool** ``attn_mask``: True = may attend, False = masked out (score -> -inf);
* a **float** ``attn_mask``: added to the scores (0 keeps, -inf or a large negative masks).
  A float mask Tensor that requires grad (a learned bias, e.g. ALiBi or relative
  positions) receives its gradient ``dM = dS`` (summed over the axes it was broadcast
  along), as in PyTorch;
* ``is_causal=True``: query i attends to keys j <= i (top-left aligned, as PyTorch);
  unlike PyTorch it may be combined with ``attn_mask`` (both apply);
* a key-padding mask is an ``attn_mask`` shaped to broadcast, e.g. (N, 1, 1, S).

``scale`` replaces ``1 / sqrt(E)`` when given. ``enable_gqa=True`` (grouped-query
attention, as PyTorch) lets key and value have fewer heads (axis -3) than the query: each
key/value head serves ``Hq / Hkv`` consecutive query heads (``repeat_interleave`` on axis -3);
Hq must be a multiple of Hkv.

The mask must broadcast to the scores' shape (..., L, S), else a ValueError names both
shapes. A fully masked row has no keys to attend to and gives NaN, as in PyTorch.

The whole thing is one op (:class:`Attention`) so the graph holds one node rather than
six, and only the probabilities ``P`` are saved. With ``P = softmax(S)``, ``O = P V``
and ``dO`` the output gradient::

    dV = P^T dO,   dP = dO V^T,   dS = P * (dP - rowsum(dP * P)),
    dQ = scale * dS K,   dK = scale * dS^T Q

The softmax and its backward are the device's fused row kernels (the row maximum is
subtracted first, so large scores do not overflow and -inf becomes an exact 0): that is
``backward_array``. ``backward`` (used when a graph of the backward is recorded,
``create_graph=True``) recomputes the same formulas with differentiable tinynet ops, so
gradients of gradients work.

:class:`PackedSelfAttention` is the multi-head self-attention form used by
``nn.MultiheadAttention``: it reads Q, K and V for every head straight out of the packed
(N, L, 3E) projection as strided views and writes the gradient back packed, so no split,
head transpose or concatenation is materialised in the graph.
"""
from __future__ import annotations

import math

import numpy as _np  # host-side shape arithmetic and randomness only

from ..backend.errors import ArgumentError, DTypeError, ShapeError
from ..autograd.op import Op
from ..autograd.grad_mode import STATE
from ..tensor import random as _random
from ..tensor.tensor import Tensor
from ._autocast import autocast_lower
from ._util import unbroadcast, unbroadcast_array
from .activation import softmax
from .join import stack

__all__ = [  # the public ops: tinynet.functional and tn.<name> export these
    "packed_self_attention", "scaled_dot_product_attention"
]


# --- masks -----------------------------------------------------------------------------------
def _check_mask_shape(m, scores_shape, op):
    try:
        full = tuple(int(s) for s in _np.broadcast_shapes(tuple(m.shape), tuple(scores_shape)))
    except ValueError:
        full = None
    if full != tuple(scores_shape):
        raise ShapeError(
            f"{op}: attn_mask of shape {tuple(m.shape)} does not broadcast to the attention scores of "
            f"shape {tuple(scores_shape)} (batch..., L queries, S keys). Give a mask of shape (L, S), "
            "(N, 1, L, S), or (N, 1, 1, S) for key padding."
        )


def _additive_mask(attn_mask, scores_shape, xp, dtype, op="scaled_dot_product_attention"):
    """Turn ``attn_mask`` (Tensor or array, bool or float) into an additive float array."""
    m = attn_mask.array if isinstance(attn_mask, Tensor) else xp.asarray(attn_mask)
    _check_mask_shape(m, scores_shape, op)
    if m.dtype.kind == "b":
        return xp.where(m, dtype.type(0), dtype.type(-math.inf)).astype(dtype, copy=False)
    if m.dtype.kind != "f":
        raise DTypeError(
            f"{op}: attn_mask must be bool (True = attend) or float (added to the scores), got {m.dtype}"
        )
    return m.astype(dtype, copy=False)


def causal_mask(L: int, S: int, xp, dtype):
    """Additive (L, S) mask: 0 where key j <= query i (top-left aligned), else -inf."""
    m = xp.zeros((L, S), dtype=dtype)
    m[xp.triu(xp.ones((L, S), dtype=bool), k=1)] = -math.inf
    return m


# --- the array math shared by both ops -------------------------------------------------------
def _probs(fn, q, k, m=None):
    """P = softmax(q k^T * scale + mask [+ m]) on arrays, through the device's fused softmax.

    ``m`` is the array of a float mask given as an op input (one that requires grad)."""
    s = q @ k.swapaxes(-1, -2)
    s *= s.dtype.type(fn.scale)
    if fn.mask is not None:
        s += fn.mask
    if m is not None:
        s = s + m
    shape = s.shape
    return fn.kernels.softmax_forward(s.reshape(-1, shape[-1])).reshape(shape)


def _dropout_keep(fn, shape, dtype):
    """A {0, 1/(1-p)} array (or None) drawn from tinynet's global generator."""
    p = fn.dropout_p
    if p <= 0.0:
        return None
    keep = (_random.generator().random(shape) >= p).astype(dtype) / dtype.type(1.0 - p)
    return fn.device.from_host(keep)


def _array_grads(fn, g, q, k, v):
    """dQ, dK, dV, dS (arrays) from the saved probabilities, with the fused softmax backward.

    dS is the gradient of the scores after scaling, i.e. the gradient of an additive mask."""
    p = fn.p
    pd = p if fn.keep is None else p * fn.keep
    dv = pd.swapaxes(-1, -2) @ g
    dp = g @ v.swapaxes(-1, -2)
    if fn.keep is not None:
        dp *= fn.keep
    shape = dp.shape
    dm = fn.kernels.softmax_backward(p.reshape(-1, shape[-1]), dp.reshape(-1, shape[-1])).reshape(shape)
    ds = dm * dm.dtype.type(fn.scale)
    dq = ds @ k
    dk = ds.swapaxes(-1, -2) @ q
    return dq, dk, dv, dm


def _tensor_grads(fn, g, q, k, v, m=None):
    """dQ, dK, dV, dS as differentiable tinynet ops (used when create_graph is on)."""
    s = (q @ k.swapaxes(-1, -2)) * fn.scale
    if fn.mask is not None:
        s = s + fn.constant(fn.mask)
    if m is not None:
        s = s + m
    p = softmax(s, dim=-1)
    pd = p if fn.keep is None else p * fn.constant(fn.keep)
    dv = pd.swapaxes(-1, -2) @ g
    dp = g @ v.swapaxes(-1, -2)
    if fn.keep is not None:
        dp = dp * fn.constant(fn.keep)
    dm = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    ds = dm * fn.scale
    return ds @ k, ds.swapaxes(-1, -2) @ q, dv, dm


class Attention(Op):
    """softmax(q k^T * scale + mask [+ m]) v with optional dropout on the probabilities.

    Inputs ``q, k, v`` and optionally ``m``, a float additive mask that requires grad
    (its gradient is dS, unbroadcast to its shape). Params: ``scale``, ``mask`` (additive array broadcasting to the scores, or None),
    ``dropout_p``, ``sink`` (None, or a list that receives the probability array, for
    callers that return attention weights). The probabilities before dropout are kept
    as ``self.p``.
    """

    name = "scaled_dot_product_attention"
    saves_output = False  # the backward reads the inputs and the saved probabilities

    def forward(self, q, k, v, m=None):
        self.p = _probs(self, q, k, m)
        if self.sink is not None:
            self.sink.append(self.p)
        self.keep = _dropout_keep(self, self.p.shape, self.p.dtype)
        pd = self.p if self.keep is None else self.p * self.keep
        return pd @ v

    def backward(self, g):
        q, k, v = self.inputs[:3]
        m = self.inputs[3] if len(self.inputs) > 3 else None
        dq, dk, dv, dm = _tensor_grads(self, g, q, k, v, m)
        grads = (unbroadcast(dq, q.shape) if q._requires_grad else None,
                 unbroadcast(dk, k.shape) if k._requires_grad else None,
                 unbroadcast(dv, v.shape) if v._requires_grad else None)
        if m is None:
            return grads
        return grads + (unbroadcast(dm, m.shape) if m._requires_grad else None,)

    def backward_array(self, g):
        q, k, v = self.inputs[:3]
        m = self.inputs[3] if len(self.inputs) > 3 else None
        dq, dk, dv, dm = _array_grads(self, g, q.array, k.array, v.array)
        grads = (unbroadcast_array(dq, q.shape) if q._requires_grad else None,
                 unbroadcast_array(dk, k.shape) if k._requires_grad else None,
                 unbroadcast_array(dv, v.shape) if v._requires_grad else None)
        if m is None:
            return grads
        return grads + (unbroadcast_array(dm, m.shape) if m._requires_grad else None,)


def _split_heads(a, n, L, e, h, which):
    """View the ``which``-th (0 q, 1 k, 2 v) block of packed (n, L, 3e) as (n, h, L, e/h)."""
    return a[:, :, which * e:(which + 1) * e].reshape(n, L, h, e // h).transpose(0, 2, 1, 3)


class PackedSelfAttention(Op):
    """Multi-head attention over a packed projection ``qkv`` (N, L, 3E) -> (N, L, E).

    Heads are read as strided views (no copies); the output's heads are merged back to
    (N, L, E). Params as :class:`Attention`, plus ``num_heads``; ``mask`` broadcasts to
    (N, H, L, L).
    """

    name = "packed_self_attention"
    saves_output = False  # the backward reads the input and the saved probabilities

    def forward(self, qkv):
        n, L, e3 = qkv.shape
        e, h = e3 // 3, self.num_heads
        q, k, v = (_split_heads(qkv, n, L, e, h, i) for i in range(3))
        self.p = _probs(self, q, k)
        if self.sink is not None:
            self.sink.append(self.p)
        self.keep = _dropout_keep(self, self.p.shape, self.p.dtype)
        pd = self.p if self.keep is None else self.p * self.keep
        return (pd @ v).transpose(0, 2, 1, 3).reshape(n, L, e)

    def backward(self, g):
        qkv = self.inputs[0]
        n, L, e3 = qkv.shape
        e, h = e3 // 3, self.num_heads
        heads = qkv.reshape(n, L, 3, h, e // h).permute(2, 0, 3, 1, 4)
        q, k, v = heads[0], heads[1], heads[2]
        gh = g.reshape(n, L, h, e // h).permute(0, 2, 1, 3)
        dq, dk, dv, _ = _tensor_grads(self, gh, q, k, v)
        d = stack([dq, dk, dv], axis=0)  # (3, n, h, L, d)
        return d.permute(1, 3, 0, 2, 4).reshape(n, L, e3)

    def backward_array(self, g):
        a = self.inputs[0].array
        n, L, e3 = a.shape
        e, h = e3 // 3, self.num_heads
        q, k, v = (_split_heads(a, n, L, e, h, i) for i in range(3))
        gh = g.reshape(n, L, h, e // h).transpose(0, 2, 1, 3)
        dq, dk, dv, _ = _array_grads(self, gh, q, k, v)
        out = self.xp.empty((n, L, 3, h, e // h), dtype=a.dtype)
        out[:, :, 0] = dq.transpose(0, 2, 1, 3)
        out[:, :, 1] = dk.transpose(0, 2, 1, 3)
        out[:, :, 2] = dv.transpose(0, 2, 1, 3)
        return out.reshape(n, L, e3)


# --- public functions -------------------------------------------------------------------------
def _build_mask(attn_mask, is_causal, scores_shape, xp, dtype, op):
    mask = None
    if attn_mask is not None:
        mask = _additive_mask(attn_mask, scores_shape, xp, dtype, op)
    if is_causal:
        cm = causal_mask(scores_shape[-2], scores_shape[-1], xp, dtype)
        mask = cm if mask is None else mask + cm
    return mask


def _repeat_kv_heads(t, r):
    """``t.repeat_interleave(r, dim=-3)``: (..., H, S, E) -> (..., H*r, S, E), each head r times."""
    shape = tuple(t.shape)
    lead, (h, s, e) = shape[:-3], shape[-3:]
    return t.unsqueeze(-3).expand(*lead, h, r, s, e).reshape(*lead, h * r, s, e)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None, enable_gqa: bool = False, *,
                                 need_weights: bool = False):
    """softmax(query key^T * scale + mask) value (see the module docstring for masks).

    PyTorch's signature and semantics: ``attn_mask`` bool (True = take part) or float
    (added; a float mask Tensor that requires grad gets its gradient), ``dropout_p`` on the
    probabilities, ``is_causal`` (top-left causal mask), ``scale`` (default ``1/sqrt(E)``),
    ``enable_gqa`` (key/value heads repeated to the query's head count).

    With ``need_weights=True`` (a tinynet extension) returns ``(output, weights)``, the
    attention probabilities before dropout (differentiable when a graph is recorded).

    Under ``tn.autocast`` query, key, value and a float mask are cast to the autocast dtype
    (a lower-precision op, as in PyTorch).
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ShapeError(f"{op}: {name} must be at least 2-D (..., length, dim), got shape {tuple(t.shape)}")
    query, key, value, attn_mask = autocast_lower(op, query, key, value, attn_mask)
    if query.shape[-1] != key.shape[-1]:
        raise ShapeError(
            f"{op}: query {tuple(query.shape)} and key {tuple(key.shape)} must have the same last (embedding) axis"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ShapeError(
            f"{op}: key {tuple(key.shape)} and value {tuple(value.shape)} must have the same number of "
            "positions (axis -2)"
        )
    if not 0.0 <= dropout_p < 1.0:
        raise ArgumentError(f"{op}: dropout_p must be in [0, 1), got {dropout_p}")
    if enable_gqa:
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
            raise ShapeError(
                f"{op}: enable_gqa=True needs a head axis (-3) on query, key and value, got query "
                f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hq % hk:
            raise ShapeError(
                f"{op}: enable_gqa=True needs key and value with the same number of heads (axis -3) dividing the "
                f"query's: query has {hq} heads {tuple(query.shape)}, key {hk} {tuple(key.shape)}, value {hv} "
                f"{tuple(value.shape)}. Give key/value Hkv heads with Hq % Hkv == 0"
            )
        if hq != hk:
            key, value = _repeat_kv_heads(key, hq // hk), _repeat_kv_heads(value, hq // hk)
    try:
        batch = _np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        hint = ("" if enable_gqa or query.ndim < 3 or key.ndim < 3 else
                "; if key/value have fewer heads (axis -3) than the query, pass enable_gqa=True")
        raise ShapeError(
            f"{op}: the batch axes of query {tuple(query.shape)}, key {tuple(key.shape)} and value "
            f"{tuple(value.shape)} cannot be broadcast together{hint}"
        ) from None
    if is_causal and attn_mask is not None:
        raise ArgumentError(f"{op}: an explicit attn_mask can't be set together with is_causal=True (as in "
                            "PyTorch); fold the causal mask into attn_mask, or drop attn_mask")
    scores_shape = tuple(batch) + (query.shape[-2], key.shape[-2])
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    grad_mask = None  # a float mask Tensor that requires grad: an input of the op
    if (isinstance(attn_mask, Tensor) and attn_mask._requires_grad and STATE.enabled
            and attn_mask.dtype.kind == "f"):
        _check_mask_shape(attn_mask, scores_shape, op)
        grad_mask = attn_mask if attn_mask.dtype == query.dtype else attn_mask.to(query.dtype)
        attn_mask = None
    mask = _build_mask(attn_mask, is_causal, scores_shape, query.device.xp, query.dtype, op)
    sink = [] if need_weights else None
    inputs = (query, key, value) if grad_mask is None else (query, key, value, grad_mask)
    out = Attention.apply(*inputs, scale=scale, mask=mask, dropout_p=float(dropout_p), sink=sink)
    if not need_weights:
        return out
    return out, _weights(query, key, scale, mask, sink[0], grad_mask)


def packed_self_attention(qkv, num_heads: int, attn_mask=None, dropout_p: float = 0.0,
                          is_causal: bool = False, need_weights: bool = False):
    """Multi-head self-attention on a packed (N, L, 3E) projection; returns (N, L, E).

    ``attn_mask`` follows :func:`scaled_dot_product_attention` (True/0 = attend) and must
    broadcast to (N, num_heads, L, L). With ``need_weights`` also returns the attention
    probabilities (N, num_heads, L, L) before dropout (differentiable when a graph is recorded).
    """
    op = "packed_self_attention"
    qkv, attn_mask = autocast_lower(op, qkv, attn_mask)  # lowered under tn.autocast, like sdpa
    n, L, e3 = qkv.shape
    if e3 % (3 * num_heads):
        raise ShapeError(f"{op}: the packed axis {e3} must be 3 * num_heads * head_dim (num_heads={num_heads})")
    scores_shape = (n, num_heads, L, L)
    mask = _build_mask(attn_mask, is_causal, scores_shape, qkv.device.xp, qkv.dtype, op)
    sink = [] if need_weights else None
    scale = 1.0 / math.sqrt(e3 // 3 // num_heads)
    out = PackedSelfAttention.apply(qkv, num_heads=num_heads, scale=scale, mask=mask, dropout_p=float(dropout_p),
                                    sink=sink)
    if not need_weights:
        return out
    if qkv._requires_grad and STATE.enabled:
        heads = qkv.reshape(n, L, 3, num_heads, e3 // 3 // num_heads).permute(2, 0, 3, 1, 4)
        return out, _weights(heads[0], heads[1], scale, mask, sink[0])
    return out, Tensor._make(sink[0], qkv.device)


def _weights(q, k, scale, mask, probs, grad_mask=None):
    """The attention probabilities as a tensor: differentiable (recomputed with tinynet ops)
    when q, k or a float mask needs a gradient and a graph is being recorded, else the saved array."""
    if not ((q._requires_grad or k._requires_grad or grad_mask is not None) and STATE.enabled):
        return Tensor._make(probs, q.device)
    s = (q @ k.swapaxes(-1, -2)) * scale
    if mask is not None:
        s = s + Tensor._make(mask, q.device)
    if grad_mask is not None:
        s = s + grad_mask
    return softmax(s, dim=-1)
