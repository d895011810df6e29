"""An Embedding-LSTM-Dense language model: the documents' LSTM text generator.

    token ids (N, T) -> Embedding -> LSTM (num_layers) -> Linear -> next-token logits (N, T, V)

Trained like GPT-mini on next-token prediction; :meth:`LSTMLanguageModel.generate`
carries the LSTM state forward, so each new token costs one step (no context window).
"""
from __future__ import annotations

import numpy as _np

from ..autograd.grad_mode import no_grad
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.rnn import LSTM
from ..tensor.tensor import Tensor
from .gpt import as_id_batch, sample_next
from .registry import register_model


class LSTMLanguageModel(Module):
    """``forward(idx, state=None, return_state=False)`` -> logits (N, T, vocab) [, (h_n, c_n)]."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 dropout: float = 0.0, device=None, dtype=None):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, hidden_size=hidden_size,
                           num_layers=num_layers, dropout=dropout)
        kw = dict(device=device, dtype=dtype)
        self.embedding = Embedding(vocab_size, embed_dim, **kw)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0, **kw)
        self.drop = Dropout(dropout)
        self.head = Linear(hidden_size, vocab_size, **kw)

    def forward(self, idx, state=None, return_state: bool = False):
        idx = as_id_batch(idx, self.embedding.weight.device)
        out, state = self.lstm(self.embedding(idx), state)
        logits = self.head(self.drop(out))
        return (logits, state) if return_state else logits

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k=None, seed=None):
        """Extend ``idx`` (N, T) by ``max_new_tokens`` sampled tokens (see GPTMini.generate)."""
        idx = as_id_batch(idx, self.embedding.weight.device)
        rng = _np.random.default_rng(seed)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                ids = idx.device.to_host(idx.array).astype(_np.int64)
                logits, state = self(idx, return_state=True)
                for _ in range(int(max_new_tokens)):
                    last = logits.device.to_host(logits.array[:, -1, :])
                    nxt = sample_next(last, temperature, top_k, rng)[:, None].astype(_np.int64)
                    ids = _np.concatenate([ids, nxt], axis=1)
                    logits, state = self(Tensor._make(idx.device.from_host(nxt), idx.device), state, return_state=True)
        finally:
            self.train(was_training)
        return Tensor._make(idx.device.from_host(ids), idx.device)


@register_model("lstm")
def build_lstm_lm(vocab_size, embed_dim=64, hidden_size=256, num_layers=1, dropout=0.0):
    return LSTMLanguageModel(vocab_size, embed_dim=embed_dim, hidden_size=hidden_size, num_layers=num_layers,
                             dropout=dropout)
