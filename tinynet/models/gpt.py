"""GPT-mini: a small decoder-only Transformer language model (Radford et al., 2018/2019).

    tokens (N, T) -> token embedding + learned position embedding
                  -> n_layers x TransformerDecoderBlock (pre-LayerNorm, causal attention,
                     MLP 4x with GELU) -> final LayerNorm -> untied linear head -> logits (N, T, V)

Trained with cross-entropy on every next-token prediction at once (the causal mask
stops a position from seeing the token it must predict). :meth:`GPTMini.generate`
samples one token at a time, feeding each back in.

Tensor-parallel (Megatron-LM style) on several processes: ``model.parallelize_tensor()``
splits every block's attention heads and MLP hidden units across the ranks of the default
process group (embeddings, final norm and head stay replicated); see
:mod:`tinynet.nn.parallel.tensor_parallel_blocks`.
"""
from __future__ import annotations

import numpy as _np

from ..autograd.grad_mode import no_grad
from ..backend.errors import ShapeError
from ..nn import init
from ..nn.containers import ModuleList
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.layer_norm import LayerNorm
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.parallel.tensor_parallel import tensor_parallel_world
from ..nn.parallel.tensor_parallel_blocks import parallelize_tensor as _parallelize_tensor
from ..nn.transformer import TransformerDecoderBlock
from ..tensor.tensor import Tensor


def sample_next(logits, temperature: float, top_k, rng) -> _np.ndarray:
    """Draw one token id per row from (N, V) host logits (temperature 0 = greedy argmax)."""
    logits = _np.asarray(logits, dtype=_np.float64)
    if temperature <= 0:
        return logits.argmax(axis=-1)
    logits = logits / temperature
    if top_k is not None:
        k = min(int(top_k), logits.shape[-1])
        kth = _np.sort(logits, axis=-1)[:, -k][:, None]
        logits = _np.where(logits < kth, -_np.inf, logits)
    p = _np.exp(logits - logits.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return _np.array([rng.choice(p.shape[-1], p=row) for row in p])


def as_id_batch(idx, device) -> Tensor:
    """Token ids as an int64 (N, T) tensor on ``device`` (lists and 1-D inputs accepted)."""
    if not isinstance(idx, Tensor):
        idx = Tensor(_np.asarray(idx, dtype=_np.int64), device=device)
    if idx.ndim == 1:
        idx = idx.reshape(1, -1)
    return idx


class GPTMini(Module):
    """A small GPT. ``forward(idx)`` maps (N, T) token ids, T <= context, to (N, T, vocab) logits.

    ``activation`` is the MLP's: "gelu" (exact, erf) or "gelu_tanh" (GPT-2's approximation).
    """

    def __init__(self, vocab_size: int, context: int = 64, d_model: int = 128, n_heads: int = 4,
                 n_layers: int = 2, dropout: float = 0.0, activation: str = "gelu", device=None, dtype=None):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, context=context, d_model=d_model, n_heads=n_heads,
                           n_layers=n_layers, dropout=dropout, activation=activation)
        self.context = context
        kw = dict(device=device, dtype=dtype)
        self.tok_emb = Embedding(vocab_size, d_model, **kw)
        self.pos_emb = Embedding(context, d_model, **kw)
        self.drop = Dropout(dropout)
        self.blocks = ModuleList([TransformerDecoderBlock(d_model, n_heads, 4 * d_model, dropout=dropout,
                                                          activation=activation, batch_first=True, **kw)
                                  for _ in range(n_layers)])
        self.ln_f = LayerNorm(d_model, **kw)
        self.head = Linear(d_model, vocab_size, bias=False, **kw)
        self._init_weights(n_layers)

    def _init_weights(self, n_layers):
        """GPT-2's scheme: N(0, 0.02) weights, zero biases, residual projections scaled by 1/sqrt(2L)."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                init.zeros_(p)
            elif p.ndim == 2:
                std = 0.02 / (2 * n_layers) ** 0.5 if name.endswith(("out_proj.weight", "proj.weight")) else 0.02
                init.normal_(p, 0.0, std)

    def forward(self, idx):
        idx = as_id_batch(idx, self.tok_emb.weight.device)
        n, t = idx.shape
        if t > self.context:
            raise ValueError(
                f"GPTMini: the sequence has {t} tokens but the model's context is {self.context}; "
                f"crop it to the last {self.context} tokens (generate() does this) or build a model with a larger context"
            )
        dev = idx.device
        pos = Tensor._make(dev.xp.arange(t, dtype=idx.dtype), dev)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def parallelize_tensor(self):
        """Run this model tensor-parallel (Megatron-LM style) over the default process group; in place.

        Every ``TransformerDecoderBlock`` becomes a ``nn.parallel.TensorParallelDecoderBlock``:
        rank ``r`` of ``P`` keeps attention heads ``r*H/P .. (r+1)*H/P`` and MLP hidden units
        ``r*4d/P .. (r+1)*4d/P``, and each block costs two all-reduces in forward and two in
        backward. Token/position embeddings, ``ln_f`` and ``head`` stay replicated (every
        rank computes them alike and gets their full gradient), so the logits, the loss and
        every gradient equal the unsplit model's; ``forward``, ``generate`` and training
        code are unchanged. Every rank gets rank 0's values. Call it on every rank, after
        ``init_process_group`` and before creating the optimizer; returns ``self``::

            dist.init_process_group("mpi")
            model = GPTMini(vocab, n_heads=4, d_model=128).parallelize_tensor()
            opt = optim.AdamW(model.parameters(), lr=3e-4)

        ``n_heads`` and ``4 * d_model`` must divide by the world size. Afterwards
        ``state_dict()`` holds this rank's shards (keys ``blocks.i.attn.qkv.weight``, ...);
        ``block.to_block()`` gathers a block back into an unsplit ``TransformerDecoderBlock``.
        """
        world, _ = tensor_parallel_world("GPTMini.parallelize_tensor")
        d, h = self.config["d_model"], self.config["n_heads"]
        if h % world or (4 * d) % world:
            raise ShapeError(
                f"GPTMini.parallelize_tensor: n_heads={h} and the MLP width 4 * d_model={4 * d} must both divide "
                f"by the world size {world} (each rank keeps n_heads / {world} heads and 4 * d_model / {world} "
                f"hidden units); run on a world size dividing both, or build the model with other sizes"
            )
        if not any(isinstance(b, TransformerDecoderBlock) for b in self.blocks):
            raise RuntimeError("GPTMini.parallelize_tensor: the model is already tensor-parallel")
        _parallelize_tensor(self)
        return self

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k=None, seed=None):
        """Extend ``idx`` (N, T) by ``max_new_tokens`` sampled tokens; returns (N, T + new).

        Each step feeds the last ``context`` tokens, takes the last position's logits,
        divides by ``temperature`` (0 = greedy), keeps the ``top_k`` largest, and samples
        with a NumPy generator seeded by ``seed`` (reproducible).
        """
        return generate_tokens(self, idx, max_new_tokens, temperature, top_k, seed, self.context)


def generate_tokens(model, idx, max_new_tokens, temperature, top_k, seed, context):
    """Autoregressive sampling loop shared by the language models."""
    idx = as_id_batch(idx, next(iter(model.parameters())).device)
    rng = _np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            ids = idx.device.to_host(idx.array).astype(_np.int64)
            for _ in range(int(max_new_tokens)):
                window = ids[:, -context:] if context else ids
                logits = model(Tensor._make(idx.device.from_host(window), idx.device))
                last = logits.device.to_host(logits.array[:, -1, :])
                nxt = sample_next(last, temperature, top_k, rng)
                ids = _np.concatenate([ids, nxt[:, None].astype(_np.int64)], axis=1)
    finally:
        model.train(was_training)
    return Tensor._make(idx.device.from_host(ids), idx.device)


from .registry import register_model  # noqa: E402


@register_model("gpt")
def build_gpt(vocab_size, context=64, d_model=128, n_heads=4, n_layers=2, dropout=0.0, activation="gelu"):
    return GPTMini(vocab_size, context=context, d_model=d_model, n_heads=n_heads, n_layers=n_layers, dropout=dropout,
                   activation=activation)
