"""BERT (Devlin et al., 2019), small enough to pre-train and fine-tune on a laptop.

    [CLS] A ... [SEP] B ... [SEP] [PAD] ...
        -> token + learned position (+ segment) embeddings -> LayerNorm -> dropout
        -> TransformerEncoder (bidirectional self-attention; padding keys masked out)
        -> hidden states (N, T, D)

Two heads sit on the same body (:class:`BERTEncoder`):

* :class:`BERTClassifier`: the hidden state of ``[CLS]`` (position 0) -> pooler
  (Linear + tanh) -> Linear -> class logits. Because attention is bidirectional, that one
  vector can summarise the whole input. ``pooling="mean"`` instead averages the hidden
  states of the real (non-padding) tokens and feeds that straight to the Linear layer
  (as Sentence-BERT does): with little labelled data, or a frozen encoder (a linear
  probe), the average of every token's contextual vector is the richer feature, while
  ``[CLS]``'s vector was only trained for the sentence-pair objective.
* :class:`BERTForPreTraining`: the masked-language-model head (Linear + GELU + LayerNorm,
  then a decoder that *shares its weight with the token embedding*, ``logits = h E^T + b``,
  as in BERT) and the sentence-pair head on the pooled ``[CLS]`` vector (is segment B the
  continuation of A? -- BERT's next-sentence or ALBERT's sentence-order prediction).

Both use the same parameter names for the body (``tok_emb``, ``pos_emb``, ``seg_emb``,
``emb_norm``, ``encoder``, ``pooler``), so a pre-trained state dict loads into a classifier
with ``load_state_dict(state, strict=False)``: the classifier's ``classifier.*`` is
reported missing (a fresh head) and the pre-training heads ``mlm_*``/``sentence_head.*``
unexpected.

Padding: ``attention_mask`` is Hugging Face's (1 = real token, 0 = padding); without it,
positions holding ``pad_id`` are padding. Padding positions are masked as attention keys,
so they never influence the real tokens. ``token_type_ids`` (0 for segment A, 1 for B)
are used when the model has segment embeddings (``type_vocab_size > 0``); without them
every token is segment 0. ``norm_first`` picks post-norm (BERT's original) or pre-norm.
"""
from __future__ import annotations

from .. import functional as F
from ..backend.errors import ShapeError
from ..nn import init
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.layer_norm import LayerNorm
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..nn.transformer import TransformerEncoder, TransformerEncoderLayer
from ..tensor.creation import arange, zeros
from .gpt import as_id_batch
from .registry import register_model


class BERTEncoder(Module):
    """The body shared by every BERT head: embeddings, encoder layers, pooler.

    ``encode(ids, token_type_ids=None, attention_mask=None)`` returns the hidden states
    (N, T, d_model); ``pool(hidden)`` the pooled ``[CLS]`` vector ``tanh(W h_0 + b)``.
    """

    def __init__(self, vocab_size: int, max_len: int = 128, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, dim_feedforward: int | None = None, dropout: float = 0.1,
                 norm_first: bool = False, pad_id: int = 0, type_vocab_size: int = 0, with_pooler: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.max_len = max_len
        self.pad_id = pad_id
        self.type_vocab_size = type_vocab_size
        self.tok_emb = Embedding(vocab_size, d_model, padding_idx=pad_id, **kw)
        self.pos_emb = Embedding(max_len, d_model, **kw)
        self.seg_emb = Embedding(type_vocab_size, d_model, **kw) if type_vocab_size else None
        self.emb_norm = LayerNorm(d_model, **kw)
        self.drop = Dropout(dropout)
        layer = TransformerEncoderLayer(d_model, n_heads, dim_feedforward or 4 * d_model, dropout=dropout,
                                        activation="gelu", norm_first=norm_first, batch_first=True, **kw)
        self.encoder = TransformerEncoder(layer, n_layers, norm=LayerNorm(d_model, **kw) if norm_first else None)
        self.pooler = Linear(d_model, d_model, **kw) if with_pooler else None

    def _init_bert_weights(self):
        """BERT's initialisation: every matrix N(0, 0.02), biases zero, the padding row zero."""
        for name, p in self.named_parameters():
            if name.endswith("bias") and "norm" not in name:
                init.zeros_(p)
            elif p.ndim == 2:
                init.normal_(p, 0.0, 0.02)
        self.tok_emb.weight.array[self.pad_id] = 0

    def _check_ids(self, ids, token_type_ids, attention_mask):
        name = type(self).__name__
        n, t = ids.shape
        if t > self.max_len:
            raise ShapeError(
                f"{name}: the sequence has {t} tokens but the model's max_len is {self.max_len}; "
                "truncate the input or build the model with a larger max_len"
            )
        for what, other in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
            if other is not None and tuple(other.shape) != (n, t):
                raise ShapeError(f"{name}: {what} has shape {tuple(other.shape)} but the input ids have shape "
                                 f"{(n, t)}; give one value per token")
        if token_type_ids is not None and self.seg_emb is None:
            raise ValueError(f"{name}: token_type_ids were given but the model has no segment embeddings "
                             "(type_vocab_size=0); build it with type_vocab_size=2 for sentence pairs")

    def encode(self, ids, token_type_ids=None, attention_mask=None):
        """Hidden states (N, T, d_model) of (N, T) token ids."""
        dev = self.tok_emb.weight.device
        ids = as_id_batch(ids, dev)
        token_type_ids = None if token_type_ids is None else as_id_batch(token_type_ids, dev)
        attention_mask = None if attention_mask is None else as_id_batch(attention_mask, dev)
        self._check_ids(ids, token_type_ids, attention_mask)
        t = ids.shape[1]
        padding = (ids == self.pad_id) if attention_mask is None else (attention_mask == 0)  # True = ignored key
        x = self.tok_emb(ids) + self.pos_emb(arange(t, device=dev))
        if self.seg_emb is not None:
            x = x + (self.seg_emb(token_type_ids) if token_type_ids is not None else self.seg_emb.weight[0])
        x = self.drop(self.emb_norm(x))
        return self.encoder(x, src_key_padding_mask=padding)

    def pool(self, hidden):
        """The pooled ``[CLS]`` vector: tanh(pooler(hidden[:, 0]))."""
        return self.pooler(hidden[:, 0]).tanh()

    def mean_pool(self, hidden, ids, attention_mask=None):
        """The average of the hidden states (N, T, D) over the real tokens: (N, D)."""
        dev = hidden.device
        ids = as_id_batch(ids, dev)
        real = (ids != self.pad_id) if attention_mask is None else (as_id_batch(attention_mask, dev) != 0)
        weight = real.to(hidden.dtype).unsqueeze(-1)
        return (hidden * weight).sum(axis=1) / weight.sum(axis=1).clamp(min=1.0)


class BERTClassifier(BERTEncoder):
    """``forward(ids, token_type_ids=None, attention_mask=None)`` maps (N, T) token ids
    (``[CLS]`` first, ``pad_id`` padding) to (N, num_classes) logits.

    ``pooling``: "cls" (BERT: the pooled ``[CLS]`` vector) or "mean" (the average hidden
    state of the real tokens, no pooler layer)."""

    def __init__(self, vocab_size: int, num_classes: int, max_len: int = 128, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, dim_feedforward: int | None = None, dropout: float = 0.1,
                 norm_first: bool = False, pad_id: int = 0, type_vocab_size: int = 0, pooling: str = "cls",
                 device=None, dtype=None):
        if pooling not in ("cls", "mean"):
            raise ValueError(f"BERTClassifier: pooling must be 'cls' or 'mean', got {pooling!r}")
        super().__init__(vocab_size, max_len=max_len, d_model=d_model, n_heads=n_heads, n_layers=n_layers,
                         dim_feedforward=dim_feedforward, dropout=dropout, norm_first=norm_first, pad_id=pad_id,
                         type_vocab_size=type_vocab_size, with_pooler=pooling == "cls", device=device, dtype=dtype)
        self.config = dict(vocab_size=vocab_size, num_classes=num_classes, max_len=max_len, d_model=d_model,
                           n_heads=n_heads, n_layers=n_layers, dim_feedforward=dim_feedforward, dropout=dropout,
                           norm_first=norm_first, pad_id=pad_id, type_vocab_size=type_vocab_size, pooling=pooling)
        self.pooling = pooling
        self.classifier = Linear(d_model, num_classes, device=device, dtype=dtype)
        self._init_bert_weights()

    def forward(self, ids, token_type_ids=None, attention_mask=None):
        hidden = self.encode(ids, token_type_ids, attention_mask)
        if self.pooling == "mean":
            return self.classifier(self.mean_pool(hidden, ids, attention_mask))
        return self.classifier(self.pool(hidden))


class BERTForPreTraining(BERTEncoder):
    """BERT with its two pre-training heads.

    ``forward(ids, token_type_ids=None, attention_mask=None)`` returns
    ``(mlm_logits (N, T, vocab_size), sentence_logits (N, 2))``. Pre-training usually needs
    the vocabulary logits only at the masked positions: ``mlm_logits(hidden_rows)`` applies
    the head to any (..., d_model) rows (e.g. ``encode(...)[mask]``), which saves the
    (N*T, d_model) x (d_model, vocab_size) product over the 85 % of positions that carry no
    loss.

    The decoder has no weight of its own: ``logits = transform(h) @ tok_emb.weight^T + mlm_bias``
    (weight tying, as in BERT and GPT), so the input and output embeddings are one matrix
    and its gradient is the sum of both uses.
    """

    def __init__(self, vocab_size: int, max_len: int = 128, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, dim_feedforward: int | None = None, dropout: float = 0.1,
                 norm_first: bool = False, pad_id: int = 0, type_vocab_size: int = 2, device=None, dtype=None):
        super().__init__(vocab_size, max_len=max_len, d_model=d_model, n_heads=n_heads, n_layers=n_layers,
                         dim_feedforward=dim_feedforward, dropout=dropout, norm_first=norm_first, pad_id=pad_id,
                         type_vocab_size=type_vocab_size, device=device, dtype=dtype)
        self.config = dict(vocab_size=vocab_size, max_len=max_len, d_model=d_model, n_heads=n_heads,
                           n_layers=n_layers, dim_feedforward=dim_feedforward, dropout=dropout,
                           norm_first=norm_first, pad_id=pad_id, type_vocab_size=type_vocab_size)
        kw = dict(device=device, dtype=dtype)
        self.mlm_dense = Linear(d_model, d_model, **kw)
        self.mlm_norm = LayerNorm(d_model, **kw)
        self.mlm_bias = Parameter(zeros(vocab_size, **kw))
        self.sentence_head = Linear(d_model, 2, **kw)
        self._init_bert_weights()

    def mlm_logits(self, hidden):
        """Vocabulary logits of hidden rows (..., d_model): LayerNorm(GELU(W h + b)) E^T + bias."""
        h = self.mlm_norm(F.gelu(self.mlm_dense(hidden)))
        return F.linear(h, self.tok_emb.weight, self.mlm_bias)

    def sentence_logits(self, hidden):
        """(N, 2) logits of the sentence-pair objective from the pooled ``[CLS]`` vector."""
        return self.sentence_head(self.pool(hidden))

    def forward(self, ids, token_type_ids=None, attention_mask=None):
        hidden = self.encode(ids, token_type_ids, attention_mask)
        return self.mlm_logits(hidden), self.sentence_logits(hidden)


@register_model("bert")
def build_bert(vocab_size, num_classes, max_len=128, d_model=64, n_heads=4, n_layers=2, dim_feedforward=None,
               dropout=0.1, norm_first=False, pad_id=0, type_vocab_size=0, pooling="cls"):
    return BERTClassifier(vocab_size, num_classes, max_len=max_len, d_model=d_model, n_heads=n_heads,
                          n_layers=n_layers, dim_feedforward=dim_feedforward, dropout=dropout,
                          norm_first=norm_first, pad_id=pad_id, type_vocab_size=type_vocab_size, pooling=pooling)


@register_model("bert-pretraining")
def build_bert_pretraining(vocab_size, max_len=128, d_model=64, n_heads=4, n_layers=2, dim_feedforward=None,
                           dropout=0.1, norm_first=False, pad_id=0, type_vocab_size=2):
    return BERTForPreTraining(vocab_size, max_len=max_len, d_model=d_model, n_heads=n_heads, n_layers=n_layers,
                              dim_feedforward=dim_feedforward, dropout=dropout, norm_first=norm_first,
                              pad_id=pad_id, type_vocab_size=type_vocab_size)
