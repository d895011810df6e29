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
shapes. A fully masked row has no keys to attend to and gives NaN (softmax of a row of
-inf; PyTorch's math path does the same, its fused CPU kernel in 2.13 returns zeros).

**Fused path.** When the call allows it (no weights asked for, no mask that needs a
gradient, float32/float64, head dims the device's kernel holds, and at least
``KERNEL_MIN_ELEMENTS["attention"]`` score entries L*S per head, ``kernels/policy.py``),
:class:`FusedAttention` / :class:`FusedPackedSelfAttention` run the device's flash-style
kernels (``kernels/attention_math.py``): each query row meets the keys with an online
softmax, the (L, S) probabilities are never stored (the op saves q, k, v, the output and
one log-sum-exp per row), the causal mask is applied by index, and dropout draws its mask
from a hash of (seed, head, row, column), so the backward regenerates it instead of
storing it. The seed is one draw from tinynet's global generator per call, so
``tn.manual_seed`` reproduces a run; the unfused op draws its mask from the same hash, so
both paths drop the same entries. Their ``backward`` (``create_graph=True``) recomputes
the probabilities with tinynet ops and the dropout mask as an explicit array.

**Unfused path.** :class:`Attention` is one op so the graph holds one node rather than
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
    """The dropout factors {0, 1/(1-p)} (or None) for probabilities of ``shape`` (..., L, S):
    the fused kernels' hash mask for the op's ``seed`` (batch axes flattened as the fused op
    does), so the fused and the unfused op drop the same entries for one ``tn.manual_seed``."""
    if fn.dropout_p <= 0.0:
        return None
    lead = tuple(shape[:-2])
    heads = lead[-1] if lead else 1
    like = fn.xp.empty((int(_np.prod(lead[:-1], dtype=_np.int64)), heads, shape[-2], 0), dtype=dtype)
    return fn.kernels.attention_dropout_mask(like, shape[-1], fn.dropout_p, fn.seed).reshape(shape)


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


def _tensor_grads(fn, g, q, k, v, m=None, *, mask, keep):
    """dQ, dK, dV, dS as differentiable tinynet ops (used when create_graph is on), with the
    additive ``mask`` and the dropout factors ``keep`` (arrays or None)."""
    s = (q @ k.swapaxes(-1, -2)) * fn.scale
    if mask is not None:
        s = s + fn.constant(mask)
    if m is not None:
        s = s + m
    p = softmax(s, dim=-1)
    pd = p if keep is None else p * fn.constant(keep)
    dv = pd.swapaxes(-1, -2) @ g
    dp = g @ v.swapaxes(-1, -2)
    if keep is not None:
        dp = dp * fn.constant(keep)
    dm = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    ds = dm * fn.scale
    return ds @ k, ds.swapaxes(-1, -2) @ q, dv, dm


class Attention(Op):
    """softmax(q k^T * scale + mask [+ m]) v with optional dropout on the probabilities.

    Inputs ``q, k, v`` and optionally ``m``, a float additive mask that requires grad
    (its gradient is dS, unbroadcast to its shape). Params: ``scale``, ``mask`` (additive
    array broadcasting to the scores, or None), ``dropout_p``, ``seed`` (of the dropout
    hash, as the fused op), ``sink`` (None, or a list that receives the probability array,
    for callers that return attention weights). The probabilities before dropout are kept
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
        dq, dk, dv, dm = _tensor_grads(self, g, q, k, v, m, mask=self.mask, keep=self.keep)
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
        q, k, v = _packed_heads_tensors(qkv, h)
        gh = g.reshape(n, L, h, e // h).permute(0, 2, 1, 3)
        dq, dk, dv, _ = _tensor_grads(self, gh, q, k, v, mask=self.mask, keep=self.keep)
        d = stack([dq, dk, dv], axis=0)  # (3, n, h, L, d)
        return d.permute(1, 3, 0, 2, 4).reshape(n, L, e3)

    def backward_array(self, g):
        a = self.inputs[0].array
        n, L, e3 = a.shape
        e, h = e3 // 3, self.num_heads
        q, k, v = (_split_heads(a, n, L, e, h, i) for i in range(3))
        gh = g.reshape(n, L, h, e // h).transpose(0, 2, 1, 3)
        dq, dk, dv, _ = _array_grads(self, gh, q, k, v)
        return _pack_heads(self.xp, (dq, dk, dv), a.dtype)


def _pack_heads(xp, grads, dtype):
    """The gradients (dq, dk, dv), each (n, h, L, d), written into one packed (n, L, 3 h d) array."""
    n, h, L, d = grads[0].shape
    out = xp.empty((n, L, 3, h, d), dtype=dtype)
    for which, gr in enumerate(grads):
        out[:, :, which] = gr.transpose(0, 2, 1, 3)
    return out.reshape(n, L, 3 * h * d)


def _packed_heads_tensors(qkv, num_heads):
    """q, k, v (n, h, L, d) as differentiable views of the packed (n, L, 3 h d) tensor."""
    n, L, e3 = qkv.shape
    heads = qkv.reshape(n, L, 3, num_heads, e3 // 3 // num_heads).permute(2, 0, 3, 1, 4)
    return heads[0], heads[1], heads[2]


# --- the fused ops -------------------------------------------------------------------------------
def _four_d(a, batch, xp, keep_ones=False):
    """``a`` (..., rows, cols), whose batch axes broadcast to ``batch``, as a 4-D
    (B, H, rows, cols) array for the fused kernels: H is the last batch axis, B the product
    of the others (a view unless broadcast axes have to be merged). With ``keep_ones`` an
    axis of size 1 stays 1 (a mask is read broadcast by the kernels, never expanded)."""
    nb = len(batch)
    a = a.reshape((1,) * (nb + 2 - a.ndim) + tuple(a.shape))
    rows, cols = a.shape[-2:]
    if nb == 0:
        return a.reshape(1, 1, rows, cols)
    lead, h = tuple(a.shape[:nb - 1]), a.shape[nb - 1]
    if not keep_ones or any(s != 1 for s in lead):
        lead = tuple(batch[:-1])
    if not keep_ones:
        h = batch[-1]
    if tuple(a.shape) != lead + (h, rows, cols):
        a = xp.broadcast_to(a, lead + (h, rows, cols))
    return a.reshape(int(_np.prod(lead, dtype=_np.int64)), h, rows, cols)


def _full_mask(fn, L, S):
    """The additive mask of a fused op as one array (its ``mask`` plus the causal part), or None."""
    if not fn.causal:
        return fn.mask
    cm = causal_mask(L, S, fn.xp, fn.inputs[0].array.dtype)
    return cm if fn.mask is None else fn.mask + cm


class FusedAttention(Op):
    """:class:`Attention` computed by the device's fused kernels (module docstring).

    Inputs ``q, k, v`` (batch axes broadcasting to ``batch``). Params: ``scale``, ``mask``
    (additive array broadcasting to the scores, without the causal part, or None),
    ``causal``, ``dropout_p``, ``seed`` (of the dropout hash), ``batch``. Saves the
    4-D views of the inputs, the output and the per-row log-sum-exp ``lse``, not the
    probabilities.
    """

    name = "scaled_dot_product_attention"

    def forward(self, q, k, v):
        xp, batch = self.xp, self.batch
        self.q4, self.k4, self.v4 = (_four_d(a, batch, xp) for a in (q, k, v))
        self.m4 = None if self.mask is None else _four_d(self.mask, batch, xp, keep_ones=True)
        out, self.lse = self.kernels.attention_forward(self.q4, self.k4, self.v4, self.m4, self.scale, self.causal,
                                                       self.dropout_p, self.seed)
        return out.reshape(tuple(batch) + out.shape[-2:])

    def backward_array(self, g):
        q, k, v = self.inputs
        dq, dk, dv = self.kernels.attention_backward(
            self.q4, self.k4, self.v4, self.out.reshape(self.q4.shape[:3] + self.out.shape[-1:]), self.lse,
            g.reshape(self.q4.shape[:3] + g.shape[-1:]), self.m4, self.scale, self.causal, self.dropout_p, self.seed)
        batch = tuple(self.batch)
        return (unbroadcast_array(dq.reshape(batch + dq.shape[-2:]), q.shape) if q._requires_grad else None,
                unbroadcast_array(dk.reshape(batch + dk.shape[-2:]), k.shape) if k._requires_grad else None,
                unbroadcast_array(dv.reshape(batch + dv.shape[-2:]), v.shape) if v._requires_grad else None)

    def backward(self, g):
        q, k, v = self.inputs
        L, S = self.q4.shape[2], self.k4.shape[2]
        keep = None
        if self.dropout_p > 0.0:
            keep = self.kernels.attention_dropout_mask(self.q4, S, self.dropout_p, self.seed)
            keep = keep.reshape(tuple(self.batch) + (L, S))
        dq, dk, dv, _ = _tensor_grads(self, g, q, k, v, mask=_full_mask(self, L, S), keep=keep)
        return (unbroadcast(dq, q.shape) if q._requires_grad else None,
                unbroadcast(dk, k.shape) if k._requires_grad else None,
                unbroadcast(dv, v.shape) if v._requires_grad else None)


class FusedPackedSelfAttention(Op):
    """:class:`PackedSelfAttention` computed by the device's fused kernels: the heads are
    read as strided views of ``qkv`` (N, L, 3E), the output merged back to (N, L, E). Params
    as :class:`FusedAttention` (``mask`` broadcasting to (N, H, L, L)), plus ``num_heads``.
    """

    name = "packed_self_attention"

    def forward(self, qkv):
        n, L, e3 = qkv.shape
        e, h = e3 // 3, self.num_heads
        q, k, v = (_split_heads(qkv, n, L, e, h, i) for i in range(3))
        self.m4 = None if self.mask is None else _four_d(self.mask, (n, h), self.xp, keep_ones=True)
        out, self.lse = self.kernels.attention_forward(q, k, v, self.m4, self.scale, self.causal, self.dropout_p,
                                                       self.seed)
        return out.transpose(0, 2, 1, 3).reshape(n, L, e)

    def backward_array(self, g):
        a = self.inputs[0].array
        n, L, e3 = a.shape
        e, h = e3 // 3, self.num_heads
        q, k, v = (_split_heads(a, n, L, e, h, i) for i in range(3))
        heads = (n, L, h, e // h)
        out, gh = (x.reshape(heads).transpose(0, 2, 1, 3) for x in (self.out, g))
        grads = self.kernels.attention_backward(q, k, v, out, self.lse, gh, self.m4, self.scale, self.causal,
                                                self.dropout_p, self.seed)
        return _pack_heads(self.xp, grads, a.dtype)

    def backward(self, g):
        qkv = self.inputs[0]
        n, L, e3 = qkv.shape
        h = self.num_heads
        q, k, v = _packed_heads_tensors(qkv, h)
        keep = None
        if self.dropout_p > 0.0:
            keep = self.kernels.attention_dropout_mask(q.array, L, self.dropout_p, self.seed)
        gh = g.reshape(n, L, h, e3 // 3 // h).permute(0, 2, 1, 3)
        dq, dk, dv, _ = _tensor_grads(self, gh, q, k, v, mask=_full_mask(self, L, L), keep=keep)
        d = stack([dq, dk, dv], axis=0)  # (3, n, h, L, d)
        return d.permute(1, 3, 0, 2, 4).reshape(n, L, e3)


# --- public functions -------------------------------------------------------------------------
def _build_mask(attn_mask, is_causal, scores_shape, xp, dtype, op):
    mask = None
    if attn_mask is not None:
        mask = _additive_mask(attn_mask, scores_shape, xp, dtype, op)
    if is_causal:
        cm = causal_mask(scores_shape[-2], scores_shape[-1], xp, dtype)
        mask = cm if mask is None else mask + cm
    return mask


def _fused(device, dtype, head_dim, value_dim, scores_shape) -> bool:
    """Whether the fused kernels serve this call: a float32/float64 tensor, head dims the
    device's kernel holds, and at least the device's ``KERNEL_MIN_ELEMENTS["attention"]``
    score entries per head, L*S (``kernels/policy.py``)."""
    kernels = device.kernels
    return (dtype in (_np.float32, _np.float64)
            and max(head_dim, value_dim) <= kernels.ATTENTION_MAX_HEAD_DIM
            and int(scores_shape[-2]) * int(scores_shape[-1]) >= kernels.KERNEL_MIN_ELEMENTS["attention"])


def _dropout_seed(dropout_p) -> int:
    """The dropout hash's seed: one draw from tinynet's global generator (0 without dropout)."""
    return int(_random.generator().integers(0, 1 << 32)) if dropout_p > 0.0 else 0


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
    if grad_mask is None and not need_weights and _fused(query.device, query.dtype, query.shape[-1],
                                                         value.shape[-1], scores_shape):
        mask = None if attn_mask is None else _additive_mask(attn_mask, scores_shape, query.device.xp,
                                                             query.dtype, op)
        return FusedAttention.apply(query, key, value, scale=scale, mask=mask, causal=bool(is_causal),
                                    dropout_p=float(dropout_p), seed=_dropout_seed(dropout_p), batch=tuple(batch))
    mask = _build_mask(attn_mask, is_causal, scores_shape, query.device.xp, query.dtype, op)
    sink = [] if need_weights else None
    inputs = (query, key, value) if grad_mask is None else (query, key, value, grad_mask)
    out = Attention.apply(*inputs, scale=scale, mask=mask, dropout_p=float(dropout_p), seed=_dropout_seed(dropout_p),
                          sink=sink)
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
    scale = 1.0 / math.sqrt(e3 // 3 // num_heads)
    head_dim = e3 // 3 // num_heads
    if not need_weights and _fused(qkv.device, qkv.dtype, head_dim, head_dim, scores_shape):
        mask = None if attn_mask is None else _additive_mask(attn_mask, scores_shape, qkv.device.xp, qkv.dtype, op)
        return FusedPackedSelfAttention.apply(qkv, num_heads=num_heads, scale=scale, mask=mask,
                                              causal=bool(is_causal), dropout_p=float(dropout_p),
                                              seed=_dropout_seed(dropout_p))
    mask = _build_mask(attn_mask, is_causal, scores_shape, qkv.device.xp, qkv.dtype, op)
    sink = [] if need_weights else None
    out = PackedSelfAttention.apply(qkv, num_heads=num_heads, scale=scale, mask=mask, dropout_p=float(dropout_p),
                                    seed=_dropout_seed(dropout_p), sink=sink)
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
