"""Bad input to the sequence ops, layers and models gets clear errors."""
import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet.models import BERTClassifier, GPTMini


def test_token_id_outside_vocabulary():
    emb = nn.Embedding(10, 4)
    with pytest.raises(IndexError, match=r"token id 12 .*vocabulary of size 10"):
        emb(tn.tensor([[1, 12]]))
    with pytest.raises(IndexError, match=r"token id -1 .*vocabulary of size 10"):
        emb(tn.tensor([-1, 3]))
    with pytest.raises(TypeError, match="integer tensor"):
        emb(tn.tensor([1.0, 2.0]))
    with pytest.raises(IndexError, match="vocabulary of size 7"):
        GPTMini(7, context=8, d_model=8, n_heads=2, n_layers=1)(tn.tensor([[1, 7]]))


def test_sequence_longer_than_context():
    m = GPTMini(5, context=8, d_model=8, n_heads=2, n_layers=1)
    with pytest.raises(ValueError, match=r"12 tokens .* context is 8"):
        m(tn.tensor(np.zeros((1, 12), dtype=np.int64)))
    bert = BERTClassifier(5, 2, max_len=6, d_model=8, n_heads=2, n_layers=1)
    with pytest.raises(ValueError, match=r"7 tokens .* max_len is 6"):
        bert(tn.tensor(np.zeros((1, 7), dtype=np.int64)))


def test_mask_that_does_not_broadcast():
    q = tn.randn(2, 3, 4, 8)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(5, 5\).*scores of shape \(2, 3, 4, 4\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tn.tensor(np.ones((5, 5), dtype=bool)))
    with pytest.raises(TypeError, match="bool"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=tn.tensor(np.ones((4, 4), dtype=np.int64)))
    mha = nn.MultiheadAttention(8, 2)
    x = tn.randn(2, 4, 8)
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(2, 5\)"):
        mha(x, x, x, key_padding_mask=tn.tensor(np.zeros((2, 5), dtype=bool)))
    with pytest.raises(ValueError, match=r"attn_mask has shape \(3, 4\)"):
        mha(x, x, x, attn_mask=tn.tensor(np.zeros((3, 4), dtype=bool)))


def test_embed_dim_not_divisible_by_num_heads():
    with pytest.raises(ValueError, match=r"embed_dim=10, num_heads=3.*divisible"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(10, 4)
    with pytest.raises(ValueError, match="divisible"):
        GPTMini(5, d_model=30, n_heads=4)


def test_wrong_feature_sizes_and_states():
    mha = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"query must be a 3-D tensor .*embed_dim=8, got \(2, 4, 6\)"):
        mha(tn.randn(2, 4, 6), tn.randn(2, 4, 6), tn.randn(2, 4, 6))
    lstm = nn.LSTM(3, 4, batch_first=True)
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\).*input_size=3"):
        lstm(tn.randn(2, 5, 7))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 2, 4\)"):
        lstm(tn.randn(2, 5, 3), (tn.randn(2, 2, 4), tn.randn(1, 2, 4)))
    with pytest.raises(TypeError, match=r"tuple \(h0, c0\)"):
        lstm(tn.randn(2, 5, 3), tn.randn(1, 2, 4))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(5,\)\)"):
        nn.LayerNorm(5)(tn.randn(2, 4))
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(tn.randn(2, 4), (5,))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swishy")
