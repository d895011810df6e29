"""Transformer layers, as PyTorch's: MultiheadAttention, TransformerEncoderLayer/Encoder,
TransformerDecoderLayer/Decoder, Transformer, and tinynet's GPT-style TransformerDecoderBlock.

Parameter names and layouts match PyTorch's (``in_proj_weight`` packs the query, key
and value projections as one (3E, E) matrix, or ``q_proj_weight``/``k_proj_weight``/
``v_proj_weight`` when ``kdim``/``vdim`` differ from ``embed_dim``; ``self_attn``,
``multihead_attn``, ``linear1``, ``norm1``, ...), so a PyTorch ``state_dict`` loads by key.

``batch_first=False`` is the default, as in PyTorch: inputs are sequence-first
(L, N, E). tinynet's own models pass ``batch_first=True`` ((N, L, E)).
"""
from __future__ import annotations

import copy
import math

from ..backend.errors import DTypeError, ShapeError
from .. import functional as F
from ..backend import get_device
from ..functional._args import as_float, as_int
from ..functional.attention import causal_mask
from ..functional.dropout import _check_p
from ..tensor import dtypes as _dt
from ..tensor.tensor import Tensor
from . import init
from .containers import ModuleList
from .dropout import Dropout
from .layer_norm import LayerNorm
from .linear import Linear
from .module import Module
from .parameter import Parameter


__all__ = ["MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderBlock",
           "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer"]


def _mha_mask(m, name, shape_ok, target, xp, dtype, label):
    """A PyTorch-MHA mask (bool True = *not* allowed; float = added) as an additive Tensor.

    A float Tensor is kept as it is (cast to ``dtype``), so one that requires grad gets
    its gradient through the attention; a bool mask becomes a constant 0/-inf tensor."""
    if tuple(m.shape) not in shape_ok:
        raise ShapeError(
            f"{label}: {name} has shape {tuple(m.shape)}, expected one of {sorted(set(shape_ok))} "
            f"for attention scores of shape {target} (batch, heads, L queries, S keys)"
        )
    if m.dtype.kind == "b":
        data = m.array
        add = xp.where(data, dtype.type(-math.inf), dtype.type(0)).astype(dtype, copy=False)
        return Tensor._make(add, m.device)
    if m.dtype.kind != "f":
        raise DTypeError(f"{label}: {name} must be bool (True = masked out) or float (added), got {m.dtype}")
    return m if m.dtype == dtype else m.to(dtype)


class MultiheadAttention(Module):
    """Multi-head attention (PyTorch's ``nn.MultiheadAttention``).

    Each of ``num_heads`` heads attends in its own ``embed_dim // num_heads``-dimensional
    subspace: ``head_i = softmax(Q_i K_i^T / sqrt(d)) V_i`` with ``Q = query W_q^T + b_q``
    etc. (packed as ``in_proj_weight`` (3E, E) when ``kdim == vdim == embed_dim``, else
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim)),
    and the heads, concatenated, go through ``out_proj``.

    ``add_bias_kv=True`` appends learned ``bias_k``/``bias_v`` (1, 1, E) as one extra key
    and value position; ``add_zero_attn=True`` appends a zero key/value position after the
    projection (both widen the masks by a never-masked column, as PyTorch).

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights or None)``.
    Inputs are (L, N, E) (``batch_first=False``, the default), (N, L, E) with
    ``batch_first=True``, or unbatched (L, E). Masks follow PyTorch's MultiheadAttention
    (note: the *opposite* of ``F.scaled_dot_product_attention`` for bool masks): bool True =
    masked out, float = added to the scores (a float mask that requires grad gets its
    gradient). ``key_padding_mask`` is (N, S) (True marks padding keys); ``attn_mask`` is
    (L, S) or (N * num_heads, L, S). ``is_causal=True`` with ``attn_mask`` is a hint that the
    mask is causal (the mask is used, as PyTorch); without ``attn_mask`` tinynet applies
    the causal mask itself (PyTorch requires the mask). Returned weights (N, L, S) are the
    attention probabilities as PyTorch returns them (after dropout, when training with
    ``dropout > 0``), averaged over heads unless ``average_attn_weights=False``
    ((N, num_heads, L, S)).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        embed_dim = as_int(embed_dim, "embed_dim", "MultiheadAttention", minimum=1)
        num_heads = as_int(num_heads, "num_heads", "MultiheadAttention", minimum=1)
        kdim = embed_dim if kdim is None else as_int(kdim, "kdim", "MultiheadAttention", minimum=1)
        vdim = embed_dim if vdim is None else as_int(vdim, "vdim", "MultiheadAttention", minimum=1)
        dropout = _check_p(dropout, "MultiheadAttention")
        if embed_dim % num_heads:
            raise ShapeError(
                f"MultiheadAttention(embed_dim={embed_dim}, num_heads={num_heads}): embed_dim must be divisible "
                f"by num_heads (each head gets embed_dim // num_heads features); try num_heads in "
                f"{[h for h in range(1, embed_dim + 1) if embed_dim % h == 0][:8]}"
            )
        self.embed_dim = embed_dim
        self.kdim, self.vdim = kdim, vdim
        self._qkv_same_embed_dim = kdim == embed_dim and vdim == embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.batch_first = batch_first
        self.add_zero_attn = bool(add_zero_attn)
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()

        def param(*shape):
            return Parameter(Tensor._make(dev.xp.zeros(shape, dtype=dt), dev))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * embed_dim, embed_dim)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = param(embed_dim, embed_dim)
            self.k_proj_weight = param(embed_dim, kdim)
            self.v_proj_weight = param(embed_dim, vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = param(1, 1, embed_dim)
            self.bias_v = param(1, 1, embed_dim)
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's scheme: xavier-uniform projections, zero biases, xavier-normal bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _label(self):
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _mask(self, key_padding_mask, attn_mask, n, L, S, xp, dtype, device, extra):
        """One additive mask Tensor broadcasting to (n, h, L, S + extra), or None."""
        h = self.num_heads
        target = (n, h, L, S)
        mask = None
        label = self._label()
        if attn_mask is not None:
            m = self._as_tensor(attn_mask, device)
            m = _mha_mask(m, "attn_mask", {(L, S), (n * h, L, S)}, target, xp, dtype, label)
            mask = m.reshape(n, h, L, S) if m.ndim == 3 else m
        if key_padding_mask is not None:
            m = self._as_tensor(key_padding_mask, device)
            m = _mha_mask(m, "key_padding_mask", {(n, S)}, target, xp, dtype, label)
            m = m.reshape(n, 1, 1, S)
            mask = m if mask is None else mask + m
        if mask is not None and extra:
            mask = F.pad(mask, (0, extra))  # the appended bias / zero keys are never masked
        return mask

    @staticmethod
    def _as_tensor(m, device):
        if isinstance(m, Tensor):
            return m
        return Tensor._make(device.xp.asarray(m), device)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        label = self._label()
        dims = (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim))
        if not isinstance(query, Tensor) or query.ndim not in (2, 3):
            got = tuple(query.shape) if isinstance(query, Tensor) else type(query).__name__
            raise ValueError(f"{label}: query must be a 2-D (unbatched) or 3-D tensor, got {got}")
        batched = query.ndim == 3
        layout = ("(batch, length, {})" if self.batch_first else "(length, batch, {})") if batched else "(length, {})"
        for name, t, dim in dims:
            if not isinstance(t, Tensor) or t.ndim != query.ndim or t.shape[-1] != dim:
                got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                what = "embed_dim" if name == "query" else name[0] + "dim"
                raise ValueError(f"{label}: {name} must be a {query.ndim}-D tensor {layout.format(what)} "
                                 f"with {what}={dim}, got {got}")
        self_attn = query is key and key is value
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:  # (S,) -> (1, S); an attn_mask (num_heads, L, S) already fits
                key_padding_mask = self._as_tensor(key_padding_mask, query.device).unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (t.swapaxes(0, 1) for t in (query, key, value))
        if self_attn:
            key = value = query
        n, L, E = query.shape
        S = key.shape[1]
        if key.shape[0] != n or value.shape[0] != n or value.shape[1] != S:
            raise ShapeError(
                f"{label}: query {tuple(query.shape)}, key {tuple(key.shape)} and value {tuple(value.shape)} must "
                "share the batch size, and key and value the length (shown batch-first)"
            )
        causal = is_causal and attn_mask is None  # with a mask, is_causal is only a hint (PyTorch)
        extra = (self.bias_k is not None) + self.add_zero_attn
        xp = query.device.xp
        mask = self._mask(key_padding_mask, attn_mask, n, L, S, xp, query.dtype, query.device, extra)
        p = self.dropout if self.training else 0.0
        h, d = self.num_heads, self.head_dim
        drop_weights = need_weights and p > 0.0  # PyTorch returns the weights after dropout
        fast = (self_attn and self._qkv_same_embed_dim and not extra and not drop_weights
                and (mask is None or not mask._requires_grad))
        if fast:
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)
            res = F.packed_self_attention(qkv, h, attn_mask=None if mask is None else mask.array, dropout_p=p,
                                          is_causal=causal, need_weights=need_weights)
            out, weights = res if need_weights else (res, None)
        else:
            b = self.in_proj_bias
            if self._qkv_same_embed_dim:
                ws = [self.in_proj_weight[i * E:(i + 1) * E] for i in range(3)]
            else:
                ws = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
            q, k, v = (F.linear(t, ws[i], None if b is None else b[i * E:(i + 1) * E])
                       for i, t in enumerate((query, key, value)))
            if self.bias_k is not None:
                k = F.cat([k, self.bias_k.expand(n, 1, E)], axis=1)
                v = F.cat([v, self.bias_v.expand(n, 1, E)], axis=1)
            if self.add_zero_attn:
                zeros = Tensor._make(xp.zeros((n, 1, E), dtype=k.dtype), k.device)
                k, v = F.cat([k, zeros], axis=1), F.cat([v, zeros], axis=1)
            S2 = k.shape[1]
            q = q.reshape(n, L, h, d).permute(0, 2, 1, 3)
            k = k.reshape(n, S2, h, d).permute(0, 2, 1, 3)
            v = v.reshape(n, S2, h, d).permute(0, 2, 1, 3)
            if causal:
                cm = causal_mask(L, S2, xp, query.dtype)
                cm = Tensor._make(cm, query.device)
                mask = cm if mask is None else mask + cm
            if drop_weights:
                s = (q @ k.swapaxes(-1, -2)) * (1.0 / math.sqrt(d))
                weights = F.dropout(F.softmax(s if mask is None else s + mask, dim=-1), p, True)
                out = weights @ v
            else:
                res = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, need_weights=need_weights)
                out, weights = res if need_weights else (res, None)
            out = out.permute(0, 2, 1, 3).reshape(n, L, E)
        out = self.out_proj(out)
        if weights is not None and average_attn_weights:
            weights = weights.mean(axis=1)
        if not batched:
            out = out.squeeze(0)
            weights = weights.squeeze(0) if weights is not None else None
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        return out, weights

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.bias_k is not None:
            s += ", add_bias_kv=True"
        if self.add_zero_attn:
            s += ", add_zero_attn=True"
        return s + f", batch_first={self.batch_first}"


def _activation(activation, label):
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if activation == "gelu_tanh":  # GPT-2's tanh approximation of GELU
        return _gelu_tanh
    raise ValueError(f"{label}: activation must be 'relu', 'gelu', 'gelu_tanh' or a callable, got {activation!r}")


def _gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def _is_causal(flag, mask, size):
    """PyTorch's ``is_causal`` for the stacks: None means "detect": true when ``mask`` is
    exactly the square causal mask of ``size`` (then layers may use the causal path)."""
    if flag is not None:
        return bool(flag)
    if not isinstance(mask, Tensor) or tuple(mask.shape) != (size, size):
        return False
    dtype = mask.dtype if mask.dtype.kind == "f" else None
    want = Transformer.generate_square_subsequent_mask(size, device=mask.device, dtype=dtype)
    arr = mask.array
    if arr.dtype.kind == "b":
        return bool((arr == (want.array != 0)).all())
    return bool((arr == want.array).all())


def _ff_block(layer, x):
    return layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(x)))))


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward, each with a residual connection and LayerNorm (PyTorch's).

    ``norm_first=False`` (post-norm, the original Transformer and BERT):
    ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``. ``norm_first=True`` (pre-norm, GPT-2
    and later; trains more stably when deep): ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``.
    ``ff(x) = linear2(dropout(activation(linear1(x))))``. Submodule names are PyTorch's.
    ``activation`` is "relu", "gelu" (or tinynet's "gelu_tanh") or a callable.
    Inputs are (L, N, E) by default, (N, L, E) with ``batch_first=True``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        d_model = as_int(d_model, "d_model", "TransformerEncoderLayer", minimum=1)
        nhead = as_int(nhead, "nhead", "TransformerEncoderLayer", minimum=1)
        dim_feedforward = as_int(dim_feedforward, "dim_feedforward", "TransformerEncoderLayer", minimum=1)
        dropout = _check_p(dropout, "TransformerEncoderLayer")
        layer_norm_eps = as_float(layer_norm_eps, "layer_norm_eps", "TransformerEncoderLayer")
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.batch_first = batch_first
        self.activation_name = activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")
        self.activation = _activation(activation, f"TransformerEncoderLayer(d_model={d_model}, nhead={nhead})")

    def _sa(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _ff(self, x):
        return _ff_block(self, x)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff(self.norm2(x))
        else:
            x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff(x))
        return x

    def extra_repr(self):
        return f"norm_first={self.norm_first}, activation={self.activation_name!r}, batch_first={self.batch_first}"


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then an optional ``norm``.

    As in PyTorch the copies are deep copies, so every layer starts with the same weights
    as the given one (they diverge in training). ``enable_nested_tensor`` and
    ``mask_check`` are accepted for PyTorch compatibility and have no effect: they switch a
    PyTorch inference optimisation (nested tensors for padded batches) that does not change
    results. ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``;
    ``is_causal=None`` detects whether ``mask`` is the square causal mask.
    """

    def __init__(self, encoder_layer, num_layers: int, norm=None, enable_nested_tensor: bool = True,
                 mask_check: bool = True):
        super().__init__()
        num_layers = as_int(num_layers, "num_layers", "TransformerEncoder", minimum=1)
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        seq_axis = 1 if getattr(self.layers[0], "batch_first", False) and src.ndim == 3 else 0
        is_causal = _is_causal(is_causal, mask, src.shape[seq_axis])
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over ``memory``, feed-forward (PyTorch's).

    Post-norm (``norm_first=False``)::

        x = norm1(x + sa(x, tgt_mask, tgt_key_padding_mask))
        x = norm2(x + mha(x, memory, memory_mask, memory_key_padding_mask))
        x = norm3(x + ff(x))

    and pre-norm (``norm_first=True``) ``x = x + sa(norm1(x)); x = x + mha(norm2(x), memory);
    x = x + ff(norm3(x))``. Submodules ``self_attn``, ``multihead_attn``, ``linear1``,
    ``linear2``, ``norm1..3``, ``dropout``, ``dropout1..3`` as PyTorch, so weights load by key.
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        label = "TransformerDecoderLayer"
        d_model = as_int(d_model, "d_model", label, minimum=1)
        nhead = as_int(nhead, "nhead", label, minimum=1)
        dim_feedforward = as_int(dim_feedforward, "dim_feedforward", label, minimum=1)
        dropout = _check_p(dropout, label)
        layer_norm_eps = as_float(layer_norm_eps, "layer_norm_eps", label)
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.batch_first = batch_first
        self.activation_name = activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")
        self.activation = _activation(activation, f"{label}(d_model={d_model}, nhead={nhead})")

    def _sa(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _mha(self, x, mem, attn_mask, key_padding_mask, is_causal):
        out, _ = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                     need_weights=False, is_causal=is_causal)
        return self.dropout2(out)

    def _ff(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False, memory_is_causal: bool = False):
        x = tgt
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff(self.norm3(x))
        else:
            x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff(x))
        return x

    def extra_repr(self):
        return f"norm_first={self.norm_first}, activation={self.activation_name!r}, batch_first={self.batch_first}"


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn, then an optional ``norm``.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``;
    ``tgt_is_causal=None`` detects whether ``tgt_mask`` is the square causal mask.
    """

    def __init__(self, decoder_layer, num_layers: int, norm=None):
        super().__init__()
        num_layers = as_int(num_layers, "num_layers", "TransformerDecoder", minimum=1)
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"TransformerDecoder: decoder_layer must be a Module, got {type(decoder_layer).__name__}")
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal: bool = False):
        seq_axis = 1 if getattr(self.layers[0], "batch_first", False) and tgt.ndim == 3 else 0
        tgt_is_causal = _is_causal(tgt_is_causal, tgt_mask, tgt.shape[seq_axis])
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """The encoder-decoder Transformer (Vaswani et al., 2017), PyTorch's ``nn.Transformer``.

    ``encoder`` = TransformerEncoder(num_encoder_layers layers, final LayerNorm), ``decoder`` =
    TransformerDecoder(num_decoder_layers layers, final LayerNorm) (or ``custom_encoder`` /
    ``custom_decoder``); every weight matrix is re-initialised xavier-uniform, as PyTorch.
    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)``: ``memory =
    encoder(src)``, returns ``decoder(tgt, memory)`` of shape (T, N, E) ((N, T, E) with
    ``batch_first=True``). A causal target mask: ``generate_square_subsequent_mask(T)``.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **kw)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **kw)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None):
        """The (sz, sz) causal mask: 0 on and below the diagonal, -inf above (float, as PyTorch)."""
        sz = as_int(sz, "sz", "Transformer.generate_square_subsequent_mask", minimum=0)
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        return Tensor._make(causal_mask(sz, sz, dev.xp, dt), dev)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal: bool = False):
        batched = src.ndim == 3
        b_axis = 0 if self.batch_first else 1
        if batched and src.shape[b_axis] != tgt.shape[b_axis]:
            raise ShapeError(
                f"Transformer(d_model={self.d_model}): src {tuple(src.shape)} and tgt {tuple(tgt.shape)} must have "
                f"the same batch size (axis {b_axis}{', batch_first' if self.batch_first else ', sequence-first'})"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError(
                f"Transformer(d_model={self.d_model}): the feature axis of src {tuple(src.shape)} and tgt "
                f"{tuple(tgt.shape)} must equal d_model={self.d_model}"
            )
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)


class TransformerDecoderBlock(Module):
    """A GPT-style causal block (decoder-only; no cross-attention), pre-norm (tinynet's own)::

        x = x + dropout(attn(ln_1(x), causal))
        x = x + dropout(mlp(ln_2(x))),   mlp = Linear(d, 4d) -> GELU -> Linear(4d, d)

    Each position sees only itself and earlier positions, so the model can be trained on
    every next-token prediction of a sequence at once. Inputs are (L, N, E) by default, as
    every Transformer layer here; pass ``batch_first=True`` for (N, L, E) (tinynet's GPT does).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int | None = None, dropout: float = 0.0,
                 activation="gelu", layer_norm_eps: float = 1e-5, bias: bool = True, batch_first: bool = False,
                 device=None, dtype=None):
        super().__init__()
        d_model = as_int(d_model, "d_model", "TransformerDecoderBlock", minimum=1)
        nhead = as_int(nhead, "nhead", "TransformerDecoderBlock", minimum=1)
        if dim_feedforward is not None:
            dim_feedforward = as_int(dim_feedforward, "dim_feedforward", "TransformerDecoderBlock", minimum=1)
        kw = dict(device=device, dtype=dtype)
        ff = dim_feedforward or 4 * d_model
        self.ln_1 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.ln_2 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.fc = Linear(d_model, ff, bias=bias, **kw)
        self.proj = Linear(ff, d_model, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.batch_first = batch_first
        self.activation = _activation(activation, f"TransformerDecoderBlock(d_model={d_model}, nhead={nhead})")

    def forward(self, x, key_padding_mask=None):
        h = self.ln_1(x)
        a, _ = self.attn(h, h, h, key_padding_mask=key_padding_mask, need_weights=False, is_causal=True)
        x = x + self.dropout(a)
        x = x + self.dropout(self.proj(self.activation(self.fc(self.ln_2(x)))))
        return x
