"""Transformer layers: MultiheadAttention, TransformerEncoderLayer/Encoder, a causal decoder block.

Parameter names and layouts match PyTorch's (``in_proj_weight`` packs the query, key
and value projections as one (3E, E) matrix; ``self_attn``, ``linear1``, ``norm1``, ...),
so a PyTorch ``state_dict`` loads directly (after converting its tensors to arrays).

One deliberate difference: ``batch_first=True`` is the default here, because tinynet's
convention for sequences is (batch, time, features) throughout.
"""
from __future__ import annotations

import copy
import math

from ..backend.errors import ShapeError
from .. import functional as F
from ..backend import get_device
from ..functional._args import as_float, as_int
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


__all__ = ["MultiheadAttention", "TransformerDecoderBlock", "TransformerEncoder", "TransformerEncoderLayer"]


def _mha_mask(m, name, shape_ok, target, xp, dtype, label):
    """A PyTorch-MHA mask (bool True = *not* allowed; float = added) as an additive array."""
    data = m.array if isinstance(m, Tensor) else xp.asarray(m)
    if tuple(data.shape) not in shape_ok:
        raise ShapeError(
            f"{label}: {name} has shape {tuple(data.shape)}, expected one of {sorted(set(shape_ok))} "
            f"for attention scores of shape {target} (batch, heads, L queries, S keys)"
        )
    if data.dtype.kind == "b":
        return xp.where(data, dtype.type(-math.inf), dtype.type(0)).astype(dtype, copy=False)
    if data.dtype.kind != "f":
        raise TypeError(f"{label}: {name} must be bool (True = masked out) or float (added), got {data.dtype}")
    return data.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """Multi-head attention (PyTorch's ``nn.MultiheadAttention``; batch_first by default).

    Each of ``num_heads`` heads attends in its own ``embed_dim // num_heads``-dimensional
    subspace: ``head_i = softmax(Q_i K_i^T / sqrt(d)) V_i`` with ``Q = query W_q^T + b_q``
    etc. (the three projections packed as ``in_proj_weight``), and the heads, concatenated,
    go through ``out_proj``.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights or None)``.
    Masks follow PyTorch's MultiheadAttention (note: the *opposite* of
    ``F.scaled_dot_product_attention`` for bool masks): bool True = masked out, float =
    added to the scores. ``key_padding_mask`` is (N, S) (True marks padding keys);
    ``attn_mask`` is (L, S) or (N * num_heads, L, S); ``is_causal=True`` masks future keys.
    Returned weights are the probabilities before dropout, averaged over heads unless
    ``average_attn_weights=False`` (differentiable; pass ``need_weights=False`` when they
    are not needed, which skips computing them).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True, device=None, dtype=None):
        super().__init__()
        embed_dim = as_int(embed_dim, "embed_dim", "MultiheadAttention", minimum=1)
        num_heads = as_int(num_heads, "num_heads", "MultiheadAttention", minimum=1)
        dropout = _check_p(dropout, "MultiheadAttention")
        if embed_dim % num_heads:
            raise ShapeError(
                f"MultiheadAttention(embed_dim={embed_dim}, num_heads={num_heads}): embed_dim must be divisible "
                f"by num_heads (each head gets embed_dim // num_heads features); try num_heads in "
                f"{[h for h in range(1, embed_dim + 1) if embed_dim % h == 0][:8]}"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = float(dropout)
        self.batch_first = batch_first
        dev = get_device(device)
        dt = _dt.to_dtype(dtype) or _dt.get_default_dtype()
        self.in_proj_weight = Parameter(Tensor._make(dev.xp.empty((3 * embed_dim, embed_dim), dtype=dt), dev))
        if bias:
            self.in_proj_bias = Parameter(Tensor._make(dev.xp.zeros(3 * embed_dim, dtype=dt), dev))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's scheme: xavier-uniform packed projection, zero biases."""
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _label(self):
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _mask(self, key_padding_mask, attn_mask, n, L, S, xp, dtype):
        h = self.num_heads
        target = (n, h, L, S)
        mask = None
        if attn_mask is not None:
            m = _mha_mask(attn_mask, "attn_mask", {(L, S), (n * h, L, S)}, target, xp, dtype, self._label())
            mask = m.reshape(n, h, L, S) if m.ndim == 3 else m
        if key_padding_mask is not None:
            m = _mha_mask(key_padding_mask, "key_padding_mask", {(n, S)}, target, xp, dtype, self._label())
            m = m.reshape(n, 1, 1, S)
            mask = m if mask is None else mask + m
        return mask

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        label = self._label()
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor) or t.ndim != 3 or t.shape[-1] != self.embed_dim:
                got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                layout = "(batch, length, embed_dim)" if self.batch_first else "(length, batch, embed_dim)"
                raise ValueError(f"{label}: {name} must be a 3-D tensor {layout} with embed_dim={self.embed_dim}, got {got}")
        self_attn = query is key and key is value
        if not self.batch_first:
            query, key, value = (t.swapaxes(0, 1) for t in (query, key, value))
            if self_attn:
                key = value = query
        n, L, E = query.shape
        S = key.shape[1]
        if key.shape[0] != n or value.shape[0] != n or value.shape[1] != S:
            raise ShapeError(
                f"{label}: query {tuple(query.shape)}, key {tuple(key.shape)} and value {tuple(value.shape)} must "
                "share the batch size, and key and value the length"
            )
        xp = query.device.xp
        mask = self._mask(key_padding_mask, attn_mask, n, L, S, xp, query.dtype)
        p = self.dropout if self.training else 0.0
        h, d = self.num_heads, self.head_dim
        if self_attn:
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)
            res = F.packed_self_attention(qkv, h, attn_mask=mask, dropout_p=p, is_causal=is_causal,
                                          need_weights=need_weights)
        else:
            w, b = self.in_proj_weight, self.in_proj_bias
            parts = []
            for i, t in enumerate((query, key, value)):
                proj = F.linear(t, w[i * E:(i + 1) * E], None if b is None else b[i * E:(i + 1) * E])
                parts.append(proj.reshape(n, t.shape[1], h, d).permute(0, 2, 1, 3))
            res = F.scaled_dot_product_attention(*parts, attn_mask=mask, dropout_p=p, is_causal=is_causal,
                                                 need_weights=need_weights)
            if need_weights:
                res = (res[0].permute(0, 2, 1, 3).reshape(n, L, E), res[1])
            else:
                res = res.permute(0, 2, 1, 3).reshape(n, L, E)
        out, weights = res if need_weights else (res, None)
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.swapaxes(0, 1)
        if weights is not None and average_attn_weights:
            weights = weights.mean(axis=1)
        return out, weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, batch_first={self.batch_first}"


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


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward, each with a residual connection and LayerNorm.

    ``norm_first=False`` (post-norm, the original Transformer and BERT):
    ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``. ``norm_first=True`` (pre-norm, GPT-2
    and later; trains more stably when deep): ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``.
    ``ff(x) = linear2(dropout(activation(linear1(x))))``. Submodule names are PyTorch's.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = True,
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
        self.activation_name = activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")
        self.activation = _activation(activation, f"TransformerEncoderLayer(d_model={d_model}, nhead={nhead})")

    def _sa(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

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
        return f"norm_first={self.norm_first}, activation={self.activation_name!r}"


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then an optional ``norm``.

    As in PyTorch the copies are deep copies, so every layer starts with the same weights
    as the given one (they diverge in training).
    """

    def __init__(self, encoder_layer, num_layers: int, norm=None):
        super().__init__()
        num_layers = as_int(num_layers, "num_layers", "TransformerEncoder", minimum=1)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoderBlock(Module):
    """A GPT-style causal block (decoder-only; no cross-attention), pre-norm::

        x = x + dropout(attn(ln_1(x), causal))
        x = x + dropout(mlp(ln_2(x))),   mlp = Linear(d, 4d) -> GELU -> Linear(4d, d)

    Each position sees only itself and earlier positions, so the model can be trained on
    every next-token prediction of a sequence at once.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int | None = None, dropout: float = 0.0,
                 activation="gelu", layer_norm_eps: float = 1e-5, bias: bool = True, device=None, dtype=None):
        super().__init__()
        d_model = as_int(d_model, "d_model", "TransformerDecoderBlock", minimum=1)
        nhead = as_int(nhead, "nhead", "TransformerDecoderBlock", minimum=1)
        if dim_feedforward is not None:
            dim_feedforward = as_int(dim_feedforward, "dim_feedforward", "TransformerDecoderBlock", minimum=1)
        kw = dict(device=device, dtype=dtype)
        ff = dim_feedforward or 4 * d_model
        self.ln_1 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, **kw)
        self.ln_2 = LayerNorm(d_model, eps=layer_norm_eps, **kw)
        self.fc = Linear(d_model, ff, bias=bias, **kw)
        self.proj = Linear(ff, d_model, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.activation = _activation(activation, f"TransformerDecoderBlock(d_model={d_model}, nhead={nhead})")

    def forward(self, x, key_padding_mask=None):
        h = self.ln_1(x)
        a, _ = self.attn(h, h, h, key_padding_mask=key_padding_mask, need_weights=False, is_causal=True)
        x = x + self.dropout(a)
        x = x + self.dropout(self.proj(self.activation(self.fc(self.ln_2(x)))))
        return x
