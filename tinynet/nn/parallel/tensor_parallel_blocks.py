"""Tensor-parallel Transformer sub-blocks (Megatron-LM's layout) and the GPT-style decoder block.

Attention heads are independent of each other until the output projection mixes them,
and an MLP's hidden units are independent until its second linear sums them. Megatron-LM
splits both along that independent axis:

- **attention**: rank ``r`` of ``P`` owns heads ``r*H/P .. (r+1)*H/P``. The packed
  query/key/value projection is a :class:`ColumnParallelLinear` (``gather_output=False``)
  whose shard holds exactly those heads' rows of W_q, W_k and W_v; the rank runs scaled
  dot-product attention over its own heads only (no communication), and the output
  projection is a :class:`RowParallelLinear` (``input_is_parallel=True``) whose all-reduce
  adds the heads' contributions.
- **MLP**: ``ColumnParallelLinear(d, 4d, gather_output=False)`` -> activation (elementwise,
  so it applies to each rank's slice of hidden units alone) ->
  ``RowParallelLinear(4d, d, input_is_parallel=True)``.

Each sub-block therefore costs one all-reduce in forward (the row-split output) and one
in backward (the gradient of the column-split input), which is Megatron's *f*/*g* pair.

:func:`parallelize_tensor` swaps every ``nn.TransformerDecoderBlock`` of a model for a
:class:`TensorParallelDecoderBlock` holding this rank's shard (``GPTMini.parallelize_tensor()``
does it for GPT-mini); embeddings, final norm and head stay replicated.
"""
from __future__ import annotations

import copy

from ... import functional as F
from ...autograd.grad_mode import no_grad
from ...backend.errors import ArgumentError, ShapeError
from ...functional.attention import causal_mask
from ...tensor.tensor import Tensor
from ... import distributed as dist
from ..dropout import Dropout
from ..linear import Linear
from ..module import Module
from ..transformer import MultiheadAttention, TransformerDecoderBlock, _activation, _mha_mask
from .tensor_parallel import (ColumnParallelLinear, RowParallelLinear, _all_gather_last, keep_rng_state,
                              tensor_parallel_world)

__all__ = ["TensorParallelSelfAttention", "TensorParallelMLP", "TensorParallelDecoderBlock", "parallelize_tensor"]


def _check_divisible(owner: str, what: str, value: int, world: int):
    if value % world:
        raise ShapeError(
            f"{owner}: {what}={value} must divide by the tensor-parallel world size {world} (each rank holds "
            f"{what} / world size of them); use a multiple of {world} or a world size that divides {value}"
        )


class TensorParallelSelfAttention(Module):
    """Multi-head *self*-attention with the heads split across ranks (equal to
    ``nn.MultiheadAttention(embed_dim, num_heads, ...)`` called as ``mha(x, x, x)``).

    Rank ``r`` of ``P`` computes heads ``r*H/P .. (r+1)*H/P``:

    - ``qkv``: :class:`ColumnParallelLinear` (E -> 3E, ``gather_output=False``). Its shard is
      ``[W_q; W_k; W_v]`` restricted to this rank's heads (rows ``r*E/P .. (r+1)*E/P`` of each
      of the three (E, E) blocks of ``in_proj_weight``), so the local output is a packed
      (N, L, 3E/P) query|key|value of H/P heads -- the layout ``packed_self_attention`` takes.
    - attention over the local heads: ``softmax(q k^T / sqrt(d) + mask) v`` (no communication).
    - ``out_proj``: :class:`RowParallelLinear` (E -> E, ``input_is_parallel=True``): this
      rank's heads' columns of W_o; one all-reduce sums the ranks' partial outputs.

    ``forward(x, key_padding_mask=None, attn_mask=None, is_causal=False)`` returns the
    output only (each rank's attention weights cover only its heads, so none are returned).
    Inputs and masks follow ``nn.MultiheadAttention``: (L, N, E), or (N, L, E) with
    ``batch_first=True``, or unbatched (L, E); bool masks True = masked out, float masks
    added; ``key_padding_mask`` (N, L); ``attn_mask`` (L, L) or (N * num_heads, L, L)
    (this rank uses its heads' part); ``is_causal=True`` without ``attn_mask`` applies the
    causal mask. ``num_heads`` must divide by the world size.

    The constructor builds ``nn.MultiheadAttention`` (same draws, so the same values after the
    same seed) and shards it; :meth:`from_mha` shards an existing one.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        self._shard(MultiheadAttention(embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=batch_first,
                                       device=device, dtype=dtype))

    @classmethod
    def from_mha(cls, mha):
        """Shard an existing ``nn.MultiheadAttention`` (values copied; rank 0's on every rank).

        Only the packed self-attention form is supported: ``kdim == vdim == embed_dim`` and
        no ``add_bias_kv`` / ``add_zero_attn``."""
        if not isinstance(mha, MultiheadAttention):
            raise TypeError(f"TensorParallelSelfAttention.from_mha: expected an nn.MultiheadAttention, got "
                            f"{type(mha).__name__}")
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ArgumentError(
                f"TensorParallelSelfAttention.from_mha: {mha._label()} uses kdim/vdim different from embed_dim, "
                "add_bias_kv or add_zero_attn; only the packed self-attention form (in_proj_weight (3E, E)) "
                "can be split by heads here"
            )
        layer = cls.__new__(cls)
        Module.__init__(layer)
        layer._shard(mha)
        return layer

    def _shard(self, mha):
        E, H = mha.embed_dim, mha.num_heads
        owner = f"TensorParallelSelfAttention(embed_dim={E}, num_heads={H})"
        world, rank = tensor_parallel_world(owner)
        _check_divisible(owner, "num_heads", H, world)
        self.embed_dim, self.num_heads, self.head_dim = E, H, mha.head_dim
        self.world_size, self.rank = world, rank
        self.num_local_heads = H // world
        self.dropout = mha.dropout
        self.batch_first = mha.batch_first
        w, b = mha.in_proj_weight, mha.in_proj_bias
        xp = w.device.xp
        part = E // world  # this many rows of each of W_q, W_k, W_v per rank (its heads' rows)
        # Reorder the packed rows [q | k | v] into [q_0 k_0 v_0 | q_1 k_1 v_1 | ...] so that a
        # plain row split of the column-parallel layer hands rank r its heads' q, k and v.
        blocks = [(kind * E + r * part, kind * E + (r + 1) * part) for r in range(world) for kind in range(3)]
        w_full = Tensor._make(xp.concatenate([w.array[lo:hi] for lo, hi in blocks]), w.device)
        b_full = None if b is None else Tensor._make(xp.concatenate([b.array[lo:hi] for lo, hi in blocks]), b.device)
        self.qkv = ColumnParallelLinear._from_full(w_full, b_full, gather_output=False)
        self.out_proj = RowParallelLinear.from_linear(mha.out_proj, input_is_parallel=True)

    def _label(self):
        return (f"TensorParallelSelfAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"rank {self.rank} of {self.world_size})")

    def _mask(self, key_padding_mask, attn_mask, n, L, x):
        """One additive mask Tensor broadcasting to (n, local heads, L, L), or None."""
        h, label, xp = self.num_heads, self._label(), x.device.xp
        target = (n, h, L, L)
        mask = None
        if attn_mask is not None:
            m = MultiheadAttention._as_tensor(attn_mask, x.device)
            m = _mha_mask(m, "attn_mask", {(L, L), (n * h, L, L)}, target, xp, x.dtype, label)
            if m.ndim == 3:  # per (batch, head): keep this rank's heads
                lo = self.rank * self.num_local_heads
                m = m.reshape(n, h, L, L)[:, lo:lo + self.num_local_heads]
            mask = m
        if key_padding_mask is not None:
            m = MultiheadAttention._as_tensor(key_padding_mask, x.device)
            m = _mha_mask(m, "key_padding_mask", {(n, L)}, target, xp, x.dtype, label).reshape(n, 1, 1, L)
            mask = m if mask is None else mask + m
        return mask

    def forward(self, x, key_padding_mask=None, attn_mask=None, is_causal: bool = False):
        label = self._label()
        if not isinstance(x, Tensor) or x.ndim not in (2, 3) or x.shape[-1] != self.embed_dim:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            layout = "(batch, length, E)" if self.batch_first else "(length, batch, E)"
            raise ShapeError(f"{label}: x must be a 3-D tensor {layout} or an unbatched (length, E) one with "
                             f"E={self.embed_dim}, got {got}")
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = MultiheadAttention._as_tensor(key_padding_mask, x.device).unsqueeze(0)
        elif not self.batch_first:
            x = x.swapaxes(0, 1)
        n, L, _ = x.shape
        mask = self._mask(key_padding_mask, attn_mask, n, L, x)
        causal = bool(is_causal) and attn_mask is None  # with a mask, is_causal is only a hint (PyTorch)
        p = self.dropout if self.training else 0.0
        hl, d = self.num_local_heads, self.head_dim
        qkv = self.qkv(x)  # (n, L, 3 * hl * d): this rank's heads
        if mask is None or not mask._requires_grad:
            out = F.packed_self_attention(qkv, hl, attn_mask=None if mask is None else mask.array, dropout_p=p,
                                          is_causal=causal)
        else:  # a float mask that wants its gradient: the differentiable path
            heads = qkv.reshape(n, L, 3, hl, d).permute(2, 0, 3, 1, 4)
            if causal:
                mask = mask + Tensor._make(causal_mask(L, L, x.device.xp, x.array.dtype), x.device)
            out = F.scaled_dot_product_attention(heads[0], heads[1], heads[2], attn_mask=mask, dropout_p=p)
            out = out.permute(0, 2, 1, 3).reshape(n, L, hl * d)
        out = self.out_proj(out)
        if not batched:
            return out.squeeze(0)
        return out if self.batch_first else out.swapaxes(0, 1)

    def to_mha(self):
        """The unsplit ``nn.MultiheadAttention`` on every rank (shards all-gathered, the packed
        rows put back in [q | k | v] order), e.g. to save a checkpoint of the whole model."""
        w, b = self.qkv.weight, self.qkv.bias
        E, world, part = self.embed_dim, self.world_size, self.embed_dim // self.world_size
        with keep_rng_state():
            mha = MultiheadAttention(E, self.num_heads, dropout=self.dropout, bias=b is not None,
                                     batch_first=self.batch_first, device=w.device, dtype=w.array.dtype)
        xp = w.device.xp
        # gathered rows are [q_0 k_0 v_0 | q_1 k_1 v_1 | ...]; rank r's block `kind` sits at (3r + kind) * part
        order = [((3 * r + kind) * part, (3 * r + kind + 1) * part) for kind in range(3) for r in range(world)]
        with no_grad():
            gathered = _all_gather_last(w.detach().T, world).T.array
            mha.in_proj_weight.copy_(Tensor._make(xp.concatenate([gathered[lo:hi] for lo, hi in order]), w.device))
            if b is not None:
                gathered = _all_gather_last(b.detach(), world).array
                mha.in_proj_bias.copy_(Tensor._make(xp.concatenate([gathered[lo:hi] for lo, hi in order]), w.device))
        mha.out_proj = self.out_proj.to_linear()
        return mha

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, local_heads={self.num_local_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")


class TensorParallelMLP(Module):
    """``Linear(d, ff) -> activation -> Linear(ff, d)`` with the ``ff`` hidden units split across ranks.

    ``fc`` is a :class:`ColumnParallelLinear` (``gather_output=False``): rank ``r`` computes
    hidden units ``r*ff/P .. (r+1)*ff/P``; the activation (elementwise) runs on that slice;
    ``proj`` is a :class:`RowParallelLinear` (``input_is_parallel=True``) whose all-reduce
    sums the ranks' contributions. ``dim_feedforward`` (default ``4 * d_model``) must
    divide by the world size. :meth:`from_linears` shards two existing ``nn.Linear``.
    """

    def __init__(self, d_model: int, dim_feedforward: int | None = None, activation="gelu", bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        ff = dim_feedforward or 4 * d_model
        kw = dict(device=device, dtype=dtype)
        self._shard(Linear(d_model, ff, bias=bias, **kw), Linear(ff, d_model, bias=bias, **kw), activation)

    @classmethod
    def from_linears(cls, fc, proj, activation="gelu"):
        """Shard ``fc`` (d -> ff) and ``proj`` (ff -> d), two ``nn.Linear`` (values copied)."""
        for name, lin in (("fc", fc), ("proj", proj)):
            if not isinstance(lin, Linear):
                raise TypeError(f"TensorParallelMLP.from_linears: {name} must be an nn.Linear, got {type(lin).__name__}")
        if fc.out_features != proj.in_features or fc.in_features != proj.out_features:
            raise ShapeError(f"TensorParallelMLP.from_linears: fc is {fc._label()} and proj is {proj._label()}; "
                             "expected fc d -> ff and proj ff -> d")
        mlp = cls.__new__(cls)
        Module.__init__(mlp)
        mlp._shard(fc, proj, activation)
        return mlp

    def _shard(self, fc, proj, activation):
        d, ff = fc.in_features, fc.out_features
        owner = f"TensorParallelMLP(d_model={d}, dim_feedforward={ff})"
        world, _ = tensor_parallel_world(owner)
        _check_divisible(owner, "dim_feedforward", ff, world)
        self.d_model, self.dim_feedforward = d, ff
        self.activation = _activation(activation, owner)
        self.fc = ColumnParallelLinear.from_linear(fc, gather_output=False)
        self.proj = RowParallelLinear.from_linear(proj, input_is_parallel=True)

    def forward(self, x):
        return self.proj(self.activation(self.fc(x)))

    def to_linears(self):
        """The unsplit ``(fc, proj)`` pair of ``nn.Linear`` on every rank (shards all-gathered)."""
        return self.fc.to_linear(), self.proj.to_linear()

    def extra_repr(self):
        return f"d_model={self.d_model}, dim_feedforward={self.dim_feedforward}"


class TensorParallelDecoderBlock(Module):
    """``nn.TransformerDecoderBlock`` (GPT-style, pre-norm, causal) with attention heads and
    MLP hidden units split across ranks::

        x = x + dropout(attn(ln_1(x), causal))     # TensorParallelSelfAttention: 1 all-reduce
        x = x + dropout(mlp(ln_2(x)))              # TensorParallelMLP: 1 all-reduce

    Forward costs two all-reduces, backward two (the gradients of ``ln_1(x)`` and
    ``ln_2(x)``, each summed over the ranks' shards). ``ln_1``, ``ln_2`` and the residual
    stream are replicated: every rank holds the same ``x`` and the same layer-norm
    parameters, and gets the same (full) gradient for them.

    Dropout draws from each rank's own generator, so with ``dropout > 0`` seed every rank
    alike (``tn.manual_seed``): the replicated residual dropout then drops the same units on
    every rank, as it must. (The attention-probability dropout of different ranks' heads
    then follows the same pattern; Megatron-LM gives each rank its own generator there.)

    The constructor takes ``nn.TransformerDecoderBlock``'s arguments and builds one (same
    draws, same values after the same seed) to shard; :meth:`from_block` shards an existing
    block. ``nhead`` and ``dim_feedforward`` must divide by the world size.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int | None = None, dropout: float = 0.0,
                 activation="gelu", layer_norm_eps: float = 1e-5, bias: bool = True, batch_first: bool = False,
                 device=None, dtype=None):
        super().__init__()
        self._shard(TransformerDecoderBlock(d_model, nhead, dim_feedforward, dropout=dropout, activation=activation,
                                            layer_norm_eps=layer_norm_eps, bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype))

    @classmethod
    def from_block(cls, block):
        """Shard an existing ``nn.TransformerDecoderBlock``: q, k, v split by heads, the MLP by
        hidden units; layer norms copied. Every rank gets rank 0's values (a broadcast), so
        the ranks' shards always belong to one model. ``block`` itself is left unchanged."""
        if not isinstance(block, TransformerDecoderBlock):
            raise TypeError(f"TensorParallelDecoderBlock.from_block: expected an nn.TransformerDecoderBlock, got "
                            f"{type(block).__name__}")
        layer = cls.__new__(cls)
        Module.__init__(layer)
        layer._shard(block)
        return layer

    def _shard(self, block):
        d, h, ff = block.attn.embed_dim, block.attn.num_heads, block.fc.out_features
        owner = f"TensorParallelDecoderBlock(d_model={d}, nhead={h}, dim_feedforward={ff})"
        world, rank = tensor_parallel_world(owner)
        _check_divisible(owner, "nhead", h, world)
        _check_divisible(owner, "dim_feedforward", ff, world)
        self.d_model, self.nhead, self.dim_feedforward = d, h, ff
        self.world_size, self.rank = world, rank
        self.batch_first = block.batch_first
        self.ln_1 = _replicated(block.ln_1)
        self.attn = TensorParallelSelfAttention.from_mha(block.attn)
        self.ln_2 = _replicated(block.ln_2)
        self.mlp = TensorParallelMLP.from_linears(block.fc, block.proj, block.activation)
        self.dropout = Dropout(block.dropout.p)

    def forward(self, x, key_padding_mask=None):
        h = self.ln_1(x)
        x = x + self.dropout(self.attn(h, key_padding_mask=key_padding_mask, is_causal=True))
        x = x + self.dropout(self.mlp(self.ln_2(x)))
        return x

    def to_block(self):
        """The unsplit ``nn.TransformerDecoderBlock`` on every rank (shards all-gathered), e.g.
        to save a checkpoint that loads into the unsplit model; the generator is left as it was."""
        w = self.mlp.fc.weight
        with keep_rng_state():
            block = TransformerDecoderBlock(self.d_model, self.nhead, self.dim_feedforward, dropout=self.dropout.p,
                                            activation=self.mlp.activation, bias=self.mlp.fc.bias is not None,
                                            batch_first=self.batch_first, device=w.device, dtype=w.array.dtype)
        block.ln_1, block.ln_2 = copy.deepcopy(self.ln_1), copy.deepcopy(self.ln_2)
        block.attn = self.attn.to_mha()
        block.fc, block.proj = self.mlp.to_linears()
        return block

    def extra_repr(self):
        return f"world_size={self.world_size}, rank={self.rank}"


def _replicated(module):
    """A copy of ``module`` whose parameters and buffers hold rank 0's values on every rank."""
    twin = copy.deepcopy(module)
    with no_grad():
        for t in list(twin.parameters()) + list(twin.buffers()):
            dist.broadcast(t, src=0)
    return twin


def parallelize_tensor(module):
    """Split every ``nn.TransformerDecoderBlock`` inside ``module`` across the ranks, in place.

    Each block is replaced by :meth:`TensorParallelDecoderBlock.from_block` of itself (heads
    and MLP hidden units split; see that class), at the same attribute / ``ModuleList``
    index, so ``forward`` and the parameter names of everything else are unchanged; other
    layers (embeddings, final norm, head) stay replicated. Returns ``module`` (or the new
    block when ``module`` is itself a ``TransformerDecoderBlock``).

    Call it on every rank, after building the model and before creating the optimizer
    (the split blocks have new parameters), like ``DistributedDataParallel``. Every rank
    ends with rank 0's values, so ranks need not start from the same initialisation.
    """
    if isinstance(module, TransformerDecoderBlock):
        return TensorParallelDecoderBlock.from_block(module)
    if not isinstance(module, Module):
        raise TypeError(f"parallelize_tensor: expected an nn.Module, got {type(module).__name__}")
    found = 0
    for _, parent in list(module.named_modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, TransformerDecoderBlock):
                parent._modules[name] = TensorParallelDecoderBlock.from_block(child)
                found += 1
    if not found:
        raise ArgumentError(
            f"parallelize_tensor: {type(module).__name__} contains no nn.TransformerDecoderBlock to split; "
            "build the Megatron-style layers yourself from ColumnParallelLinear / RowParallelLinear, "
            "TensorParallelSelfAttention and TensorParallelMLP"
        )
    return module
