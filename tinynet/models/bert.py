"""A BERT-style encoder classifier (Devlin et al., 2019), small enough to train from scratch.

    [<cls>, t1, ..., tn, <pad>, ...] -> token + learned position embeddings -> LayerNorm
        -> TransformerEncoder (bidirectional self-attention; padding keys masked out)
        -> hidden state of <cls> -> pooler (Linear + tanh) -> Linear -> class logits

The <cls> token sits at position 0 of every sequence; because attention is
bidirectional its final hidden state can summarise the whole input, and the classifier
reads only that vector. Padding positions are masked as keys, so they never influence
the real tokens. ``norm_first`` picks post-norm (BERT's original) or pre-norm layers.
"""
from __future__ import annotations

from ..nn import init
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.layer_norm import LayerNorm
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.transformer import TransformerEncoder, TransformerEncoderLayer
from ..tensor.tensor import Tensor
from .gpt import as_id_batch
from .registry import register_model


class BERTClassifier(Module):
    """``forward(ids)`` maps (N, T) token ids (``<cls>`` first, ``pad_id`` padding) to (N, num_classes)."""

    def __init__(self, vocab_size: int, num_classes: int, max_len: int = 128, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, dim_feedforward: int | None = None, dropout: float = 0.1,
                 norm_first: bool = False, pad_id: int = 0, device=None, dtype=None):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, num_classes=num_classes, max_len=max_len, d_model=d_model,
                           n_heads=n_heads, n_layers=n_layers, dim_feedforward=dim_feedforward, dropout=dropout,
                           norm_first=norm_first, pad_id=pad_id)
        kw = dict(device=device, dtype=dtype)
        self.max_len = max_len
        self.pad_id = pad_id
        self.tok_emb = Embedding(vocab_size, d_model, padding_idx=pad_id, **kw)
        self.pos_emb = Embedding(max_len, d_model, **kw)
        self.emb_norm = LayerNorm(d_model, **kw)
        self.drop = Dropout(dropout)
        layer = TransformerEncoderLayer(d_model, n_heads, dim_feedforward or 4 * d_model, dropout=dropout,
                                        activation="gelu", norm_first=norm_first, batch_first=True, **kw)
        self.encoder = TransformerEncoder(layer, n_layers, norm=LayerNorm(d_model, **kw) if norm_first else None)
        self.pooler = Linear(d_model, d_model, **kw)
        self.classifier = Linear(d_model, num_classes, **kw)
        for name, p in self.named_parameters():  # BERT's init: N(0, 0.02), zero biases
            if name.endswith("bias") and "norm" not in name:
                init.zeros_(p)
            elif p.ndim == 2:
                init.normal_(p, 0.0, 0.02)
        with_pad = self.tok_emb.weight.array
        with_pad[pad_id] = 0

    def forward(self, ids):
        ids = as_id_batch(ids, self.classifier.weight.device)
        n, t = ids.shape
        if t > self.max_len:
            raise ValueError(
                f"BERTClassifier: the sequence has {t} tokens but the model's max_len is {self.max_len}; "
                "truncate the input or build the model with a larger max_len"
            )
        dev = ids.device
        pad = Tensor._make(ids.array == self.pad_id, dev)  # True = padding key (ignored)
        pos = Tensor._make(dev.xp.arange(t, dtype=ids.dtype), dev)
        x = self.drop(self.emb_norm(self.tok_emb(ids) + self.pos_emb(pos)))
        h = self.encoder(x, src_key_padding_mask=pad)
        return self.classifier(self.pooler(h[:, 0]).tanh())


@register_model("bert")
def build_bert(vocab_size, num_classes, max_len=128, d_model=64, n_heads=4, n_layers=2, dim_feedforward=None,
               dropout=0.1, norm_first=False, pad_id=0):
    return BERTClassifier(vocab_size, num_classes, max_len=max_len, d_model=d_model, n_heads=n_heads,
                          n_layers=n_layers, dim_feedforward=dim_feedforward, dropout=dropout,
                          norm_first=norm_first, pad_id=pad_id)
