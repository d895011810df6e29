"""Sequence layers: shapes, masks, state handling, parameter names, generation."""
import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet.models import BERTClassifier, GPTMini, LSTMLanguageModel


def _np(t):
    return t.detach().numpy()


def test_embedding_padding_row_is_zero_and_gets_no_gradient():
    emb = nn.Embedding(6, 3, padding_idx=2)
    assert np.all(emb.weight.detach().numpy()[2] == 0)
    ids = tn.tensor([[2, 1, 1], [0, 2, 5]])
    emb(ids).sum().backward()
    g = emb.weight.grad.numpy()
    np.testing.assert_allclose(g[2], 0)
    np.testing.assert_allclose(g[1], 2.0)  # repeated ids accumulate
    np.testing.assert_allclose(g[[0, 5]], 1.0)
    np.testing.assert_allclose(g[[3, 4]], 0.0)


def test_embedding_init_is_standard_normal():
    w = nn.Embedding(2000, 16).weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1.0) < 0.02


def test_layer_norm_module_matches_formula(device):
    ln = nn.LayerNorm(5).to(device)
    x = tn.randn(3, 4, 5, device=device)
    y = _np(ln(x))
    xn = x.numpy()
    ref = (xn - xn.mean(-1, keepdims=True)) / np.sqrt(xn.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref, atol=1e-5)
    assert nn.LayerNorm(5, bias=False).bias is None
    assert nn.LayerNorm(5, elementwise_affine=False).weight is None


def test_layer_norm_create_graph_uses_differentiable_path():
    x = tn.randn(4, 6, dtype=tn.float64, requires_grad=True)
    w = tn.randn(6, dtype=tn.float64, requires_grad=True)
    y = F.layer_norm(x, 6, w, None)
    (gx,) = tn.autograd.grad((y * y * y).sum(), [x], create_graph=True)
    gx.sum().backward()
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()


def test_sdpa_bool_and_additive_masks_agree():
    q, k, v = (tn.randn(2, 3, 4, 5) for _ in range(3))
    allowed = tn.tensor(np.tril(np.ones((4, 4), dtype=bool)))
    additive = tn.tensor(np.where(np.tril(np.ones((4, 4))), 0.0, -np.inf).astype(np.float32))
    a = _np(F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))
    b = _np(F.scaled_dot_product_attention(q, k, v, attn_mask=additive))
    c = _np(F.scaled_dot_product_attention(q, k, v, is_causal=True))
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, c, atol=1e-6)


def test_sdpa_is_stable_for_huge_scores():
    q = tn.full((1, 2, 4), 1e4)
    k = tn.full((1, 3, 4), 1e4)
    v = tn.randn(1, 3, 2)
    out = _np(F.scaled_dot_product_attention(q, k, v))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0, 0], v.numpy()[0].mean(0), atol=1e-5)


def test_key_padding_mask_ignores_padded_keys():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = tn.randn(2, 5, 8)
    pad = np.zeros((2, 5), dtype=bool)
    pad[1, 3:] = True
    out, w = mha(x, x, x, key_padding_mask=tn.tensor(pad))
    assert w.shape == (2, 5, 5)
    np.testing.assert_allclose(_np(w)[1, :, 3:], 0.0)
    # changing padded positions' content does not change the real positions' output
    x2 = x.numpy().copy()
    x2[1, 3:] = 100.0
    out2, _ = mha(tn.tensor(x2), tn.tensor(x2), tn.tensor(x2), key_padding_mask=tn.tensor(pad))
    np.testing.assert_allclose(_np(out)[1, :3], _np(out2)[1, :3], atol=1e-5)


def test_mha_per_head_weights_and_cross_attention():
    mha = nn.MultiheadAttention(6, 3)  # batch_first=False is the default, as in PyTorch
    q, kv = tn.randn(4, 2, 6), tn.randn(7, 2, 6)
    out, w = mha(q, kv, kv, average_attn_weights=False)
    assert out.shape == (4, 2, 6) and w.shape == (2, 3, 4, 7)
    np.testing.assert_allclose(_np(w).sum(-1), 1.0, atol=1e-5)
    out, w = mha(q, kv, kv, need_weights=False)
    assert w is None
    names = dict(mha.named_parameters())
    assert names["in_proj_weight"].shape == (18, 6) and "out_proj.weight" in names


def test_causal_decoder_block_does_not_look_ahead():
    blk = nn.TransformerDecoderBlock(8, 2, batch_first=True)
    x = tn.randn(1, 6, 8)
    y1 = _np(blk(x))
    x2 = x.numpy().copy()
    x2[0, 4:] += 5.0
    y2 = _np(blk(tn.tensor(x2)))
    np.testing.assert_allclose(y1[0, :4], y2[0, :4], atol=1e-5)
    assert not np.allclose(y1[0, 4:], y2[0, 4:])


def test_transformer_encoder_copies_the_layer():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=True, batch_first=True)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(enc.layers) == 3
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    assert enc(tn.randn(2, 5, 8)).shape == (2, 5, 8)


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_recurrent_shapes_states_and_names(cls):
    m = cls(3, 4, num_layers=2, bidirectional=True, dropout=0.2, batch_first=True)
    x = tn.randn(5, 7, 3)
    out, state = m(x)
    assert out.shape == (5, 7, 8)
    h = state[0] if cls is nn.LSTM else state
    assert h.shape == (4, 5, 4)
    names = {n for n, _ in m.named_parameters()}
    assert {"weight_ih_l0", "weight_hh_l1_reverse", "bias_ih_l1", "bias_hh_l0_reverse"} <= names
    # unbatched input and the default batch_first=False (PyTorch's)
    out1, _ = m(x[0])
    assert out1.shape == (7, 8)
    tm = cls(3, 4)
    assert tm(tn.randn(7, 5, 3))[0].shape == (7, 5, 4)


def test_lstm_final_state_matches_last_output_and_cell_steps():
    lstm = nn.LSTM(3, 4, batch_first=True)
    cell = nn.LSTMCell(3, 4)
    cell.load_state_dict({"weight_ih": lstm.weight_ih_l0, "weight_hh": lstm.weight_hh_l0,
                          "bias_ih": lstm.bias_ih_l0, "bias_hh": lstm.bias_hh_l0})
    x = tn.randn(2, 5, 3)
    h0, c0 = tn.randn(1, 2, 4), tn.randn(1, 2, 4)
    out, (h, c) = lstm(x, (h0, c0))
    hc, cc = h0[0], c0[0]
    for t in range(5):
        hc, cc = cell(x[:, t], (hc, cc))
        np.testing.assert_allclose(_np(out)[:, t], _np(hc), atol=1e-5)
    np.testing.assert_allclose(_np(h)[0], _np(hc), atol=1e-5)
    np.testing.assert_allclose(_np(c)[0], _np(cc), atol=1e-5)


def test_gru_and_rnn_cells_step_like_the_layers():
    for layer, cell in ((nn.GRU(3, 4, batch_first=True), nn.GRUCell(3, 4)), (nn.RNN(3, 4, nonlinearity="relu", batch_first=True), nn.RNNCell(3, 4, nonlinearity="relu"))):
        cell.load_state_dict({"weight_ih": layer.weight_ih_l0, "weight_hh": layer.weight_hh_l0,
                              "bias_ih": layer.bias_ih_l0, "bias_hh": layer.bias_hh_l0})
        x = tn.randn(2, 4, 3)
        out, h = layer(x)
        hc = None
        for t in range(4):
            hc = cell(x[:, t], hc)
        np.testing.assert_allclose(_np(h)[0], _np(hc), atol=1e-5)


def test_lstm_runs_on_simulated_or_real_cuda(device):
    m = nn.LSTM(3, 4).to(device)
    out, (h, c) = m(tn.randn(2, 3, 3, device=device))
    out.sum().backward()
    assert m.weight_hh_l0.grad.shape == (16, 4)


def test_positional_encoding_values():
    pe = _np(F.sinusoidal_position_encoding(10, 6))
    assert pe.shape == (10, 6)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(pe[3, 2], np.sin(3 / 10000 ** (2 / 6)), rtol=1e-6)
    np.testing.assert_allclose(pe[3, 3], np.cos(3 / 10000 ** (2 / 6)), rtol=1e-6)


def test_gpt_generate_is_reproducible_and_respects_top_k():
    m = GPTMini(11, context=8, d_model=16, n_heads=2, n_layers=1)
    a = _np(m.generate([[1, 2, 3]], 12, seed=5))
    b = _np(m.generate([[1, 2, 3]], 12, seed=5))
    assert a.shape == (1, 15) and np.array_equal(a, b)  # longer than the context: cropped each step
    greedy = _np(m.generate([[1, 2, 3]], 4, temperature=0))
    top1 = _np(m.generate([[1, 2, 3]], 4, top_k=1, seed=9))
    assert np.array_equal(greedy, top1)
    assert m.training  # generate restores the mode


def test_lstm_lm_and_bert_shapes():
    lm = LSTMLanguageModel(9, embed_dim=8, hidden_size=12)
    assert lm(tn.tensor([[1, 2, 3]])).shape == (1, 3, 9)
    assert lm.generate([[1, 2]], 5, seed=0).shape == (1, 7)
    bert = BERTClassifier(6, 3, max_len=10, d_model=16, n_heads=2, n_layers=1, dropout=0.0)
    ids = tn.tensor([[2, 3, 4, 0, 0], [2, 5, 0, 0, 0]])
    assert bert(ids).shape == (2, 3)
    # padding does not change the prediction
    longer = tn.tensor([[2, 3, 4, 0, 0, 0, 0], [2, 5, 0, 0, 0, 0, 0]])
    bert.eval()
    np.testing.assert_allclose(_np(bert(ids)), _np(bert(longer)), atol=1e-5)
